/* Unit tests of the diagnostics list. */
#include "wp_internal.h"

#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "wp_pipeline_test_util.h"

static void test_add_and_print(void **state)
{
    (void)state;
    struct wp_diags d;
    wp__diags_init(&d);
    assert_int_equal(d.count, 0);
    for (int i = 0; i < 100; i++)
        wp__diags_add(&d, "%s:%d: problem '%s'", "f.json", i, "x");
    assert_int_equal(d.count, 100);
    assert_string_equal(d.lines[0], "f.json:0: problem 'x'");
    assert_string_equal(d.lines[99], "f.json:99: problem 'x'");

    char buf[8192] = "";
    FILE *fp = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(fp);
    wp__diags_print(&d, fp);
    assert_int_equal(fclose(fp), 0);
    assert_non_null(strstr(buf, "f.json:0: problem 'x'\nf.json:1: problem 'x'\n"));
    assert_int_equal(buf[strlen(buf) - 1], '\n');

    wp__diags_release(&d);
    assert_int_equal(d.count, 0);
    assert_null(d.lines);
    wp__diags_release(&d);
}

static void test_lost_line_is_printed(void **state)
{
    (void)state;
    struct wp_diags d;
    wp__diags_init(&d);
    wp__diags_add(&d, "first");
    /* What an allocation failure leaves behind: a counted line with no text. */
    wp_free(d.lines[0]);
    d.lines[0] = NULL;
    char buf[256] = "";
    FILE *fp = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(fp);
    wp__diags_print(&d, fp);
    assert_int_equal(fclose(fp), 0);
    assert_string_equal(buf, "error: a message was lost (out of memory)\n");
    wp__diags_release(&d);
}

static void test_long_line(void **state)
{
    (void)state;
    struct wp_diags d;
    wp__diags_init(&d);
    char big[5000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wp__diags_add(&d, "%s", big);
    assert_int_equal(strlen(d.lines[0]), sizeof(big) - 1);
    wp__diags_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_print),
        cmocka_unit_test(test_lost_line_is_printed),
        cmocka_unit_test(test_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
