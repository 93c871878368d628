/* JSON Lines input and output: blank lines, line numbers, over-long lines, writing. */
#include "wp_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonl.h"
#include "wp_cmocka.h"

static FILE *memory_file(const char *text)
{
    FILE *f = tmpfile();
    fputs(text, f);
    rewind(f);
    return f;
}

static void test_reads_lines_with_numbers(void **state)
{
    (void)state;
    FILE *f = memory_file("{\"a\":1}\n\n   \n{\"b\":2}\nnot json");
    struct wp_jsonl_reader r;
    wp__jsonl_reader_init(&r, f);
    char *text = NULL;
    size_t len = 0;
    uint64_t line = 0;
    struct wp_error err = {0};
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 1);
    assert_string_equal(text, "{\"a\":1}\n");
    wp_free(text);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 4); /* blank lines skipped but counted */
    wp_free(text);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 5);
    assert_int_equal(len, 8); /* the last line has no newline */
    wp_free(text);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_E_NOTFOUND);
    wp__jsonl_reader_release(&r);
    fclose(f);
}

static void test_writes_and_flushes(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_int_equal(wp__jsonl_write_text(f, "{}\n", 3), WP_OK);
    assert_int_equal(wp__jsonl_finish(f), WP_OK);
    rewind(f);
    char buf[16] = {0};
    assert_non_null(fgets(buf, sizeof(buf), f));
    assert_string_equal(buf, "{}\n");
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_lines_with_numbers),
        cmocka_unit_test(test_writes_and_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
