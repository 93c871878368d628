/* Unit tests of ${VAR} substitution and the UTF-8 check it uses. */
#include "wp_internal.h"

#include <stdlib.h>
#include <string.h>

#include "envsubst.h"
#include "utf8.h"
#include "wp_pipeline_test_util.h"

struct subst {
    struct wp_diags diags;
    char *out;
    enum wp_status st;
};

static void run(struct subst *s, const char *text)
{
    wp__diags_init(&s->diags);
    s->out = NULL;
    s->st = wp__envsubst(text, "f.json: k", &s->diags, &s->out);
}

static void done(struct subst *s)
{
    wp_free(s->out);
    wp__diags_release(&s->diags);
}

static void expect_ok(const char *text, const char *want)
{
    struct subst s;
    run(&s, text);
    if (s.st != WP_OK && s.diags.count)
        print_message("%s\n", s.diags.lines[0]);
    assert_int_equal(s.st, WP_OK);
    assert_int_equal(s.diags.count, 0);
    assert_string_equal(s.out, want);
    done(&s);
}

static void expect_error(const char *text, const char *want)
{
    struct subst s;
    run(&s, text);
    assert_int_equal(s.st, WP_E_CONFIG);
    assert_null(s.out);
    assert_int_equal(s.diags.count, 1);
    assert_string_equal(s.diags.lines[0], want);
    done(&s);
}

static void test_plain(void **state)
{
    (void)state;
    expect_ok("", "");
    expect_ok("no variables", "no variables");
    expect_ok("$ $$ $x $HOME {} $}", "$ $$ $x $HOME {} $}");
    expect_ok("$${X}", "${X}");
    /* Read left to right: a lone "$", then the escape "$${". */
    expect_ok("$$${WP_E_A:-z}", "$${WP_E_A:-z}");
    expect_ok("a$", "a$");
}

static void test_set_variables(void **state)
{
    (void)state;
    setenv("WP_E_A", "alpha", 1);
    setenv("WP_E_B", "", 1);
    setenv("WP_E_U", "\xC3\xA9t\xC3\xA9", 1);
    expect_ok("${WP_E_A}", "alpha");
    expect_ok("<${WP_E_A}|${WP_E_A}>", "<alpha|alpha>");
    expect_ok("${WP_E_B}", "");
    expect_ok("${WP_E_A:-d}", "alpha");
    expect_ok("${WP_E_A:?m}", "alpha");
    expect_ok("${WP_E_U}", "\xC3\xA9t\xC3\xA9");
    /* ":-" and ":?" treat an empty value like an unset one, as sh does. */
    expect_ok("${WP_E_B:-d}", "d");
    unsetenv("WP_E_NONE");
    expect_ok("${WP_E_NONE:-}", "");
    expect_ok("${WP_E_NONE:-a b:c-d}", "a b:c-d");
    expect_ok("${WP_E_NONE:-${WP_E_A}", "${WP_E_A");
}

static void test_errors(void **state)
{
    (void)state;
    unsetenv("WP_E_NONE");
    setenv("WP_E_B", "", 1);
    expect_error("${WP_E_NONE}", "f.json: k: environment variable 'WP_E_NONE' is not set");
    expect_error("x${WP_E_NONE:?please set it}y",
                 "f.json: k: environment variable 'WP_E_NONE' is not set: please set it");
    expect_error("${WP_E_B:?}", "f.json: k: environment variable 'WP_E_B' is not set");
    expect_error("${WP_E_NONE", "f.json: k: unterminated '${' (write '$${' for a literal '${')");
    expect_error("${}", "f.json: k: invalid variable reference '${}'");
    expect_error("${9A}", "f.json: k: invalid variable reference '${9A}'");
    expect_error("${A-B}", "f.json: k: invalid variable reference '${A-B}'");
    expect_error("${A:}", "f.json: k: invalid variable reference '${A:}'");
    expect_error("${A:+x}", "f.json: k: invalid variable reference '${A:+x}'");
    expect_error("${A B}", "f.json: k: invalid variable reference '${A B}'");
}

static void test_every_error_reported(void **state)
{
    (void)state;
    unsetenv("WP_E_NONE");
    unsetenv("WP_E_NONE2");
    struct subst s;
    run(&s, "${WP_E_NONE}/${WP_E_NONE2}/${bad-name}");
    assert_int_equal(s.st, WP_E_CONFIG);
    assert_int_equal(s.diags.count, 3);
    done(&s);
}

static void test_value_not_utf8(void **state)
{
    (void)state;
    setenv("WP_E_BIN", "secret\xFFvalue", 1);
    expect_error("${WP_E_BIN}", "f.json: k: environment variable 'WP_E_BIN' is not valid UTF-8");
    unsetenv("WP_E_BIN");
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(wp__utf8_valid("", 0));
    assert_true(wp__utf8_valid("abc", 3));
    assert_true(wp__utf8_valid("\xC3\xA9", 2));
    assert_true(wp__utf8_valid("\xE2\x82\xAC", 3));
    assert_true(wp__utf8_valid("\xF0\x9F\x98\x80", 4));
    assert_true(wp__utf8_valid("\xF4\x8F\xBF\xBF", 4));
    assert_false(wp__utf8_valid("a\0b", 3));
    assert_false(wp__utf8_valid("\xC3", 1));
    assert_false(wp__utf8_valid("\xC3\x28", 2));
    assert_false(wp__utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
    assert_false(wp__utf8_valid("\xE0\x80\xAF", 3));     /* overlong */
    assert_false(wp__utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    assert_false(wp__utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(wp__utf8_valid("\xFF", 1));
    assert_false(wp__utf8_valid("\x80", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),          cmocka_unit_test(test_set_variables),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_every_error_reported),
        cmocka_unit_test(test_value_not_utf8), cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
