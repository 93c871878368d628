/*
 * test_translate.c - the translate stage through the mock host, against fake_mt.py speaking
 * each provider's protocol: happy paths, retries, quota, broken replies, packing, cache,
 * name protection and secrecy of the API key.
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

#include "fake_mt_client.h"
#include "mock_host.h"

#define CANARY "canary-key-7f3a9c"

struct fixture {
    struct fake_mt server;
    struct wp_mock mock;
    bool created;
};

static struct fixture *start(const char *script, const char *key)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(fake_mt_start(&fx->server, script, key), 0);
    wp_mock_init(&fx->mock);
    return fx;
}

static void create_targets(struct fixture *fx, const char *provider, const char *targets,
                           const char *extra)
{
    char config[2048];
    snprintf(config, sizeof(config),
             "{\"provider\":\"%s\",\"endpoint\":\"%s\",\"targets\":%s,"
             "\"retry_cap_ms\":2000%s%s}",
             provider, fx->server.url, targets, extra ? "," : "", extra ? extra : "");
    enum wp_status st = wp_mock_create(&fx->mock, "translate", NULL, config);
    if (st != WP_OK)
        fail_msg("create failed: %s", fx->mock.fail_text);
    fx->created = true;
}

static void create(struct fixture *fx, const char *provider, const char *extra)
{
    create_targets(fx, provider, "[\"es\",\"en\"]", extra);
}

static void finish(struct fixture *fx)
{
    /* Whatever happened, the key never reaches a log line. */
    char *logs = json_dumps(fx->mock.logs, 0);
    assert_null(strstr(logs, CANARY));
    free(logs);
    wp_mock_release(&fx->mock);
    fake_mt_stop(&fx->server);
    free(fx);
}

static json_t *story(void)
{
    json_t *item = json_loads(
        "{\"id\":\"s1\",\"language\":\"en\",\"headline\":\"Police in Berlin arrest two men\","
        "\"body\":\"Rose Black met Olaf Scholz in Berlin on Friday.\\n\\n"
        "Officials said nothing.\\n\\n\\n  Trailing paragraph, indented.  \","
        "\"entities\":[{\"type\":\"person\",\"field\":\"body\",\"mention\":\"Rose Black\","
        "\"start\":0,\"end\":10}]}",
        0, NULL);
    assert_non_null(item);
    return item;
}

static const char *translated(json_t *item, const char *lang, const char *field)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(item, "translations"), lang), field));
}

static void assert_no_secret(json_t *item)
{
    char *dump = json_dumps(item, 0);
    assert_null(strstr(dump, CANARY));
    free(dump);
}

static void assert_error(json_t *item, const char *code)
{
    json_t *errors = json_object_get(item, "errors");
    assert_true(json_array_size(errors) >= 1);
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    }
    /* The original text is kept, and no translation is pretended. */
    assert_null(json_object_get(json_object_get(item, "translations"), "es"));
    assert_no_secret(item);
}

static void happy_path(const char *provider, const char *key_env, const char *protect_hint)
{
    setenv(key_env, CANARY, 1);
    struct fixture *fx = start(NULL, CANARY);
    create(fx, provider, "\"protect\":[\"Olaf Scholz\",\"Berlin\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN Berlin ARREST TWO MEN");
    assert_string_equal(translated(item, "es", "body"),
                        "Rose Black MET Olaf Scholz IN Berlin ON FRIDAY.\n\n"
                        "OFFICIALS SAID NOTHING.\n\n\n  TRAILING PARAGRAPH, INDENTED.  ");
    json_t *es = json_object_get(json_object_get(item, "translations"), "es");
    assert_string_equal(json_string_value(json_object_get(es, "provider")), provider);
    assert_true(json_is_false(json_object_get(es, "cached")));
    assert_true(json_integer_value(json_object_get(es, "characters")) > 50);
    /* The source language is skipped, and the source text is untouched. */
    assert_null(json_object_get(json_object_get(item, "translations"), "en"));
    assert_string_equal(json_string_value(json_object_get(item, "headline")),
                        "Police in Berlin arrest two men");
    assert_null(json_object_get(item, "errors"));

    json_t *reqs = fake_mt_requests(&fx->server);
    assert_true(json_array_size(reqs) >= 1);
    size_t i;
    json_t *r;
    bool markup_seen = false;
    json_array_foreach(reqs, i, r)
    {
        assert_true(json_is_true(json_object_get(r, "key_ok")));
        char *dump = json_dumps(r, 0);
        if (protect_hint && strstr(dump, protect_hint))
            markup_seen = true;
        free(dump);
    }
    if (protect_hint)
        assert_true(markup_seen);
    json_decref(reqs);
    assert_no_secret(item);
    json_decref(item);
    finish(fx);
    unsetenv(key_env);
}

static void test_deepl_happy(void **state)
{
    (void)state;
    happy_path("deepl", "DEEPL_API_KEY", "\"tag_handling\": \"xml\"");
}

static void test_google_happy(void **state)
{
    (void)state;
    happy_path("google", "GOOGLE_API_KEY", "\"format\": \"html\"");
}

static void test_azure_happy(void **state)
{
    (void)state;
    happy_path("azure", "AZURE_TRANSLATOR_KEY", "\"textType\": [\"html\"]");
}

static void test_libretranslate_happy(void **state)
{
    (void)state;
    happy_path("libretranslate", "LIBRETRANSLATE_API_KEY", "\"format\": \"html\"");
}

static void test_apertium_packs_segments(void **state)
{
    (void)state;
    struct fixture *fx = start(NULL, NULL);
    create(fx, "apertium", "\"protect\":[\"Berlin\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "body"),
                        "Rose Black MET OLAF SCHOLZ IN Berlin ON FRIDAY.\n\n"
                        "OFFICIALS SAID NOTHING.\n\n\n  TRAILING PARAGRAPH, INDENTED.  ");
    /* Headline and three paragraphs travel in one request. */
    json_t *reqs = fake_mt_requests(&fx->server);
    assert_int_equal(json_array_size(reqs), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0), "segments")), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "langpair")),
                        "en|es");
    json_decref(reqs);
    json_decref(item);
    finish(fx);
}

static void test_apertium_cut_reply_retried_unpacked(void **state)
{
    (void)state;
    struct fixture *fx = start("cut", NULL);
    create(fx, "apertium", NULL);
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_null(json_object_get(item, "errors"));
    /* One packed request lost its sentinel; the four segments went again one by one. */
    assert_int_equal(fake_mt_count(&fx->server), 5);
    json_decref(item);
    finish(fx);
}

static void test_apertium_cut_single_segment_fails(void **state)
{
    (void)state;
    struct fixture *fx = start("cut", NULL);
    create(fx, "apertium", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "protocol");
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(item, "errors"), 0), "message"));
    assert_non_null(strstr(msg, "sentinel"));
    assert_int_equal(fake_mt_count(&fx->server), 1);
    json_decref(item);
    finish(fx);
}

static void test_retry_after_429_then_success(void **state)
{
    (void)state;
    setenv("DEEPL_API_KEY", CANARY, 1);
    struct fixture *fx = start("429:1", CANARY);
    create(fx, "deepl", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_int_equal(fake_mt_count(&fx->server), 2);
    json_decref(item);
    finish(fx);
    unsetenv("DEEPL_API_KEY");
}

static void test_503_retried(void **state)
{
    (void)state;
    setenv("GOOGLE_API_KEY", CANARY, 1);
    struct fixture *fx = start("503,503", CANARY);
    create(fx, "google", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_int_equal(fake_mt_count(&fx->server), 3);
    json_decref(item);
    finish(fx);
    unsetenv("GOOGLE_API_KEY");
}

static void test_503_exhausted_keeps_original(void **state)
{
    (void)state;
    struct fixture *fx = start("503,503,503", NULL);
    create(fx, "libretranslate", "\"fields\":[\"headline\"],\"max_attempts\":2");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "unavailable");
    assert_int_equal(fake_mt_count(&fx->server), 2);
    json_decref(item);
    finish(fx);
}

static void test_deepl_456_not_retried_and_pauses(void **state)
{
    (void)state;
    setenv("DEEPL_API_KEY", CANARY, 1);
    struct fixture *fx = start("456", CANARY);
    create(fx, "deepl", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "quota");
    assert_int_equal(fake_mt_count(&fx->server), 1);
    /* The provider stays paused: the next item sends nothing. */
    json_t *second = story();
    assert_int_equal(wp_mock_process(&fx->mock, second), WP_OUTCOME_OK);
    assert_error(second, "quota");
    assert_int_equal(fake_mt_count(&fx->server), 1);
    json_decref(second);
    json_decref(item);
    finish(fx);
    unsetenv("DEEPL_API_KEY");
}

static void test_google_403_quota_not_retried(void **state)
{
    (void)state;
    setenv("GOOGLE_API_KEY", CANARY, 1);
    struct fixture *fx = start("403quota", CANARY);
    create(fx, "google", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "quota");
    assert_int_equal(fake_mt_count(&fx->server), 1);
    json_decref(item);
    finish(fx);
    unsetenv("GOOGLE_API_KEY");
}

static void test_azure_403001_quota(void **state)
{
    (void)state;
    setenv("AZURE_TRANSLATOR_KEY", CANARY, 1);
    setenv("AZURE_TRANSLATOR_REGION", "westeurope", 1);
    struct fixture *fx = start("403quota", CANARY);
    create(fx, "azure", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "quota");
    json_t *reqs = fake_mt_requests(&fx->server);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "region")),
                        "westeurope");
    json_decref(reqs);
    json_decref(item);
    finish(fx);
    unsetenv("AZURE_TRANSLATOR_KEY");
    unsetenv("AZURE_TRANSLATOR_REGION");
}

static void test_bad_key_reported_without_key(void **state)
{
    (void)state;
    setenv("DEEPL_API_KEY", CANARY, 1);
    struct fixture *fx = start(NULL, "the-right-key");
    create(fx, "deepl", "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "config");
    json_decref(item);
    finish(fx);
    unsetenv("DEEPL_API_KEY");
}

static void broken_reply(const char *script, const char *provider, const char *key_env)
{
    if (key_env)
        setenv(key_env, CANARY, 1);
    struct fixture *fx = start(script, key_env ? CANARY : NULL);
    create(fx, provider, "\"fields\":[\"headline\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "protocol");
    assert_string_equal(json_string_value(json_object_get(item, "headline")),
                        "Police in Berlin arrest two men");
    json_decref(item);
    finish(fx);
    if (key_env)
        unsetenv(key_env);
}

static void test_invalid_json(void **state)
{
    (void)state;
    broken_reply("invalid", "azure", "AZURE_TRANSLATOR_KEY");
    broken_reply("invalid", "apertium", NULL);
}

static void test_truncated_json(void **state)
{
    (void)state;
    broken_reply("truncate", "libretranslate", NULL);
    broken_reply("truncate", "google", "GOOGLE_API_KEY");
}

static void test_short_reply(void **state)
{
    (void)state;
    broken_reply("short", "deepl", "DEEPL_API_KEY");
}

static void test_lost_name_is_error(void **state)
{
    (void)state;
    setenv("DEEPL_API_KEY", CANARY, 1);
    struct fixture *fx = start("drop-name", CANARY);
    create(fx, "deepl", "\"fields\":[\"headline\"],\"protect\":[\"Berlin\"]");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "protocol");
    json_decref(item);
    finish(fx);
    unsetenv("DEEPL_API_KEY");
}

static void test_slow_reply_times_out(void **state)
{
    (void)state;
    struct fixture *fx = start("slow:3", NULL);
    create(fx, "libretranslate", "\"fields\":[\"headline\"],\"timeout_ms\":300,\"max_attempts\":1");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    json_t *errors = json_object_get(item, "errors");
    assert_int_equal(json_array_size(errors), 1);
    assert_null(json_object_get(item, "translations"));
    json_decref(item);
    finish(fx);
}

static void test_cache_second_run_sends_nothing(void **state)
{
    (void)state;
    struct fixture *fx = start(NULL, NULL);
    create(fx, "apertium", NULL);
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    size_t first = fake_mt_count(&fx->server);
    assert_true(first >= 1);
    char *first_body = strdup(translated(item, "es", "body"));
    json_decref(item);

    item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_int_equal(fake_mt_count(&fx->server), first);
    assert_string_equal(translated(item, "es", "body"), first_body);
    json_t *es = json_object_get(json_object_get(item, "translations"), "es");
    assert_true(json_is_true(json_object_get(es, "cached")));
    assert_int_equal(json_integer_value(json_object_get(es, "characters")), 0);
    free(first_body);
    json_decref(item);
    finish(fx);
}

static void test_on_failure_reject(void **state)
{
    (void)state;
    struct fixture *fx = start("invalid", NULL);
    create(fx, "apertium", "\"fields\":[\"headline\"],\"on_failure\":\"reject\"");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(fx->mock.fail_text, "translation to 'es' failed"));
    json_decref(item);
    finish(fx);
}

static void test_no_language_without_detection(void **state)
{
    (void)state;
    struct fixture *fx = start(NULL, NULL);
    create(fx, "apertium", NULL);
    json_t *item = story();
    json_object_del(item, "language");
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_error(item, "invalid");
    assert_int_equal(fake_mt_count(&fx->server), 0);
    json_decref(item);
    finish(fx);
}

static void test_detection_when_language_unknown(void **state)
{
    (void)state;
    struct fixture *fx = start(NULL, NULL);
    create(fx, "libretranslate", "\"fields\":[\"headline\"]");
    json_t *item = story();
    json_object_set_new(item, "language", json_string("und"));
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    /* Without a source language the "en" target is translated too. */
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_non_null(translated(item, "en", "headline"));
    json_decref(item);
    finish(fx);
}

static void test_several_targets_concurrently(void **state)
{
    (void)state;
    setenv("AZURE_TRANSLATOR_KEY", CANARY, 1);
    struct fixture *fx = start(NULL, CANARY);
    create_targets(fx, "azure", "[\"es\",\"de\",\"fr-CA\"]", "\"concurrency\":3");
    json_t *item = story();
    assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
    assert_string_equal(translated(item, "es", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_string_equal(translated(item, "de", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    assert_string_equal(translated(item, "fr-CA", "headline"), "POLICE IN BERLIN ARREST TWO MEN");
    /* Per target one plain request and one HTML one (the body names Rose Black). */
    json_t *reqs = fake_mt_requests(&fx->server);
    assert_int_equal(json_array_size(reqs), 6);
    size_t i;
    json_t *r;
    int seen_fr = 0;
    json_array_foreach(reqs, i, r)
    {
        const char *to = json_string_value(json_array_get(json_object_get(r, "to"), 0));
        if (to && strcmp(to, "fr") == 0)
            seen_fr++;
    }
    assert_int_equal(seen_fr, 2);
    json_decref(reqs);
    json_decref(item);
    finish(fx);
    unsetenv("AZURE_TRANSLATOR_KEY");
}

static void test_circuit_breaker_stops_requests(void **state)
{
    (void)state;
    struct fixture *fx = start("503,503,503,503,503,503,503,503,503,503", NULL);
    create(fx, "libretranslate", "\"fields\":[\"headline\"],\"max_attempts\":1");
    for (int i = 0; i < 8; i++) {
        json_t *item = story();
        assert_int_equal(wp_mock_process(&fx->mock, item), WP_OUTCOME_OK);
        assert_error(item, "unavailable");
        if (i == 7) {
            const char *msg = json_string_value(
                json_object_get(json_array_get(json_object_get(item, "errors"), 0), "message"));
            assert_non_null(strstr(msg, "circuit"));
        }
        json_decref(item);
    }
    /* The breaker opened after five failures: later items failed fast, sending nothing. */
    assert_int_equal(fake_mt_count(&fx->server), 5);
    finish(fx);
}

static void test_missing_key_refused_at_create(void **state)
{
    (void)state;
    unsetenv("DEEPL_API_KEY");
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(
        wp_mock_create(&m, "translate", NULL, "{\"provider\":\"deepl\",\"targets\":[\"de\"]}"),
        WP_E_CONFIG);
    assert_non_null(strstr(m.fail_text, "DEEPL_API_KEY"));
    wp_mock_release(&m);
    wp_mock_init(&m);
    assert_int_equal(
        wp_mock_create(&m, "translate", NULL, "{\"provider\":\"apertium\",\"targets\":[\"e s\"]}"),
        WP_E_CONFIG);
    wp_mock_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepl_happy),
        cmocka_unit_test(test_google_happy),
        cmocka_unit_test(test_azure_happy),
        cmocka_unit_test(test_libretranslate_happy),
        cmocka_unit_test(test_apertium_packs_segments),
        cmocka_unit_test(test_apertium_cut_reply_retried_unpacked),
        cmocka_unit_test(test_apertium_cut_single_segment_fails),
        cmocka_unit_test(test_retry_after_429_then_success),
        cmocka_unit_test(test_503_retried),
        cmocka_unit_test(test_503_exhausted_keeps_original),
        cmocka_unit_test(test_deepl_456_not_retried_and_pauses),
        cmocka_unit_test(test_google_403_quota_not_retried),
        cmocka_unit_test(test_azure_403001_quota),
        cmocka_unit_test(test_bad_key_reported_without_key),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_short_reply),
        cmocka_unit_test(test_lost_name_is_error),
        cmocka_unit_test(test_slow_reply_times_out),
        cmocka_unit_test(test_cache_second_run_sends_nothing),
        cmocka_unit_test(test_on_failure_reject),
        cmocka_unit_test(test_no_language_without_detection),
        cmocka_unit_test(test_detection_when_language_unknown),
        cmocka_unit_test(test_several_targets_concurrently),
        cmocka_unit_test(test_circuit_breaker_stops_requests),
        cmocka_unit_test(test_missing_key_refused_at_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
