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

static void test_reads_runs_of_lines(void **state)
{
    (void)state;
    FILE *f = memory_file("{\"a\":1}\n\n   \n{\"b\":2}\nnot json");
    struct wp_jsonl_reader r;
    wp__jsonl_reader_init(&r, fileno(f));
    char *text = NULL;
    size_t len = 0;
    uint64_t line = 0;
    struct wp_error err = {0};
    /* Whole lines come first, numbered from the run's first line... */
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 1);
    assert_int_equal(len, strlen("{\"a\":1}\n\n   \n{\"b\":2}\n"));
    wp_free(text);
    /* ...then the last line, which has no newline. */
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 5);
    assert_int_equal(len, strlen("not json"));
    wp_free(text);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_E_NOTFOUND);
    wp__jsonl_reader_release(&r);
    fclose(f);
}

/* Runs stay near WP_JSONL_CHUNK, and numbering carries across runs. */
static void test_runs_split_on_size(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    char line[1001];
    memset(line, 'x', 999);
    line[999] = '\n';
    line[1000] = '\0';
    size_t lines = 3 * WP_JSONL_CHUNK / 1000;
    for (size_t i = 0; i < lines; i++)
        fputs(line, f);
    rewind(f);
    struct wp_jsonl_reader r;
    wp__jsonl_reader_init(&r, fileno(f));
    char *text = NULL;
    size_t len = 0, total = 0;
    uint64_t first = 0, expected_first = 1;
    struct wp_error err = {0};
    while (wp__jsonl_next_text(&r, &text, &len, &first, &err) == WP_OK) {
        assert_true(len <= 2 * WP_JSONL_CHUNK);
        assert_int_equal(len % 1000, 0); /* whole lines only */
        assert_int_equal(first, expected_first);
        expected_first += len / 1000;
        total += len;
        wp_free(text);
    }
    assert_int_equal(total, lines * 1000);
    wp__jsonl_reader_release(&r);
    fclose(f);
}

/* An over-long line is skipped without being held in memory; the lines around it stay. */
static void test_overlong_line_skipped(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    fputs("{\"a\":1}\n", f);
    for (size_t i = 0; i < WP_JSONL_MAX_LINE / 4096 + 2; i++) {
        char block[4096];
        memset(block, 'y', sizeof(block));
        fwrite(block, 1, sizeof(block), f);
    }
    fputs("\n{\"b\":2}\n", f);
    rewind(f);
    struct wp_jsonl_reader r;
    wp__jsonl_reader_init(&r, fileno(f));
    char *text = NULL;
    size_t len = 0;
    uint64_t line = 0;
    struct wp_error err = {0};
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 1);
    wp_free(text);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_E_LIMIT);
    assert_int_equal(line, 2);
    assert_true(r.cap <= WP_JSONL_MAX_LINE + 2 * WP_JSONL_CHUNK);
    assert_int_equal(wp__jsonl_next_text(&r, &text, &len, &line, &err), WP_OK);
    assert_int_equal(line, 3);
    assert_memory_equal(text, "{\"b\":2}\n", len);
    wp_free(text);
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
        cmocka_unit_test(test_reads_runs_of_lines),
        cmocka_unit_test(test_runs_split_on_size),
        cmocka_unit_test(test_overlong_line_skipped),
        cmocka_unit_test(test_writes_and_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
