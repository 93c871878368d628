/*
 * test_translate_apy.c - the translate stage against a real Apertium APy (eng->spa) on
 * 127.0.0.1, at WP_APY_URL. run_apy_test.sh starts and stops APy around it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off: cmocka needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include "mock_host.h"

static struct wp_mock mock;

static int setup(void **state)
{
    (void)state;
    const char *url = getenv("WP_APY_URL");
    if (!url)
        url = "http://127.0.0.1:2737";
    char config[512];
    snprintf(config, sizeof(config),
             "{\"provider\":\"apertium\",\"endpoint\":\"%s\",\"targets\":[\"es\"],"
             "\"protect\":[\"Rose Black\",\"Green Party\",\"Reading\"]}",
             url);
    wp_mock_init(&mock);
    if (wp_mock_create(&mock, "translate", NULL, config) != WP_OK) {
        fprintf(stderr, "create failed: %s\n", mock.fail_text);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wp_mock_release(&mock);
    return 0;
}

static const char *es(json_t *item, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(item, "translations"), "es"), field));
}

static long long requests(void)
{
    return (long long)json_integer_value(json_object_get(mock.metrics, "requests"));
}

static void test_sentence(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s,s:s}", "language", "en", "headline",
                             "Police in Berlin arrested two men on Saturday.");
    assert_int_equal(wp_mock_process(&mock, item), WP_OUTCOME_OK);
    assert_null(json_object_get(item, "errors"));
    assert_string_equal(es(item, "headline"),
                        "La policía en Berlín arrestó dos hombres el sábado.");
    json_decref(item);
}

static void test_names_protected(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s,s:s}", "language", "en", "body",
                             "Green Party leader Rose Black met voters in Reading on Tuesday.");
    assert_int_equal(wp_mock_process(&mock, item), WP_OUTCOME_OK);
    assert_null(json_object_get(item, "errors"));
    const char *body = es(item, "body");
    assert_non_null(body);
    assert_non_null(strstr(body, "Rose Black"));
    assert_non_null(strstr(body, "Green Party"));
    assert_non_null(strstr(body, "Reading"));
    assert_null(strstr(body, "ZXN"));
    json_decref(item);
}

static void test_long_body_complete_and_cached(void **state)
{
    (void)state;
    /* 3,000+ characters: paragraphs over 1,000 characters are split on sentences. */
    char body[8192] = "";
    size_t len = 0;
    for (int p = 0; p < 4; p++) {
        if (p)
            len += (size_t)snprintf(body + len, sizeof(body) - len, "\n\n");
        for (int s = 0; s < (p == 1 ? 14 : 3); s++)
            len += (size_t)snprintf(body + len, sizeof(body) - len,
                                    "%sThe central bank kept interest rates unchanged on "
                                    "Thursday, number %d.",
                                    s ? " " : "", p * 100 + s);
    }
    json_t *item = json_pack("{s:s,s:s}", "language", "en", "body", body);
    long long before = requests();
    assert_int_equal(wp_mock_process(&mock, item), WP_OUTCOME_OK);
    assert_null(json_object_get(item, "errors"));
    const char *out = es(item, "body");
    assert_non_null(out);
    /* Same paragraph structure, every sentence there, no separator or sentinel left. */
    size_t paras = 1;
    for (const char *p = strstr(out, "\n\n"); p; p = strstr(p + 2, "\n\n"))
        paras++;
    assert_int_equal(paras, 4);
    assert_null(strstr(out, "ZXQ7SEP"));
    assert_null(strstr(out, "ZQENDZQ"));
    for (int p = 0; p < 4; p++)
        for (int s = 0; s < (p == 1 ? 14 : 3); s++) {
            char num[16];
            snprintf(num, sizeof(num), "%d.", p * 100 + s);
            assert_non_null(strstr(out, num));
        }
    long long sent = requests() - before;
    assert_true(sent >= 2);
    char *first = strdup(out);
    json_decref(item);

    /* The rerun is answered from the cache. */
    item = json_pack("{s:s,s:s}", "language", "en", "body", body);
    before = requests();
    assert_int_equal(wp_mock_process(&mock, item), WP_OUTCOME_OK);
    assert_int_equal(requests(), before);
    assert_string_equal(es(item, "body"), first);
    free(first);
    json_decref(item);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_names_protected),
        cmocka_unit_test(test_long_body_complete_and_cached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
