/* UTF-8 checks and the lossy JSON string used for messages and dead letters. */
#include "wp_internal.h"

#include <string.h>

#include "utf8.h"
#include "wp_cmocka.h"

static void test_sequences(void **state)
{
    (void)state;
    assert_int_equal(wp__utf8_sequence("a", 1), 1);
    assert_int_equal(wp__utf8_sequence("\xC3\xA9", 2), 2);         /* é */
    assert_int_equal(wp__utf8_sequence("\xD8\xA8", 2), 2);         /* ب */
    assert_int_equal(wp__utf8_sequence("\xF0\x9F\x98\x80", 4), 4); /* emoji */
    assert_int_equal(wp__utf8_sequence("\xC3", 1), 0);             /* cut */
    assert_int_equal(wp__utf8_sequence("\xC0\xAF", 2), 0);         /* overlong */
    assert_int_equal(wp__utf8_sequence("\xED\xA0\x80", 3), 0);     /* surrogate */
    assert_int_equal(wp__utf8_sequence("\x80", 1), 0);             /* stray continuation */
    assert_int_equal(wp__utf8_sequence("", 0), 0);
    assert_true(wp__utf8_valid("Baqeri \xD8\xA8\xD8\xA7", 11));
    assert_false(wp__utf8_valid("a\0b", 3));
}

static void test_lossy_string_repairs(void **state)
{
    (void)state;
    /* A message cut in the middle of "é": the cut byte becomes U+FFFD, nothing is lost. */
    json_t *s = wp__json_string_lossy("caf\xC3", 4);
    assert_non_null(s);
    assert_string_equal(json_string_value(s), "caf\xEF\xBF\xBD");
    json_decref(s);
    s = wp__json_string_lossy("ok", 2);
    assert_string_equal(json_string_value(s), "ok");
    json_decref(s);
    s = wp__json_string_lossy("\xFF\xFE", 2);
    assert_string_equal(json_string_value(s), "\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_lossy_string_repairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
