/*
 * test_outbox.c - the webhook's durable outbox: documents wait through an outage and go
 * out in order, permanent refusals are dead-lettered with the webhook's reason, a full
 * outbox holds process() back (and lets go when the run is cancelled), configured headers
 * and the bearer token are sent but never shown, and bad header configs are refused.
 *
 * Restarts and the 30 s outage run through the real binary: webhook_outbox.sh and
 * webhook_outage.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* cmocka needs the headers above first. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>

#include "mock_host.h"
#include "test_server.h"

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) {
        fprintf(stderr, "expected to find '%s' in '%s'\n", needle, hay ? hay : "(null)");
        fail();
    }
}

static void create_publish(struct wp_mock *m, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    wp_mock_init(m);
    enum wp_status st = wp_mock_create(m, "publish", NULL, text);
    if (st != WP_OK)
        fprintf(stderr, "create failed: %s\n", m->fail_text);
    assert_int_equal(st, WP_OK);
    free(text);
}

static json_t *story(const char *id)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "id", id, "headline", "Ankara ve Tahran anlaştı", "body",
                     "Paragraf bir.", "language", "tr");
}

static const char *header(const json_t *request, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(request, "headers"), key, v)
    {
        if (strcasecmp(key, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

/* True when some log line of @m holds @needle. */
static bool logged(const struct wp_mock *m, const char *needle)
{
    size_t i;
    json_t *entry;
    json_array_foreach(m->logs, i, entry)
    {
        const char *text = json_string_value(json_object_get(entry, "message"));
        if (text && strstr(text, needle))
            return true;
    }
    return false;
}

/* The Idempotency-Keys of the requests the server answered with route entry >= @from. */
static void keys_from(const struct wp_test_server *srv, long from, char *out, size_t size)
{
    json_t *reqs = wp_test_server_requests(srv);
    out[0] = '\0';
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        if (json_integer_value(json_object_get(r, "index")) < from)
            continue;
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", len ? " " : "", header(r, "Idempotency-Key"));
    }
    json_decref(reqs);
}

static long long metric(const struct wp_mock *m, const char *name)
{
    return json_integer_value(json_object_get(m->metrics, name));
}

/* Down for three requests, then back: nothing is lost, everything goes once, in order. */
static void test_outage_then_delivery_in_order(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 503, \"times\": 3,"
                                                " \"headers\": {\"Retry-After\": \"1\"}},"
                                                " {\"status\": 200}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i}", "to", "http", "url", url, "max_attempts", 1));
    const char *ids[] = {"o1", "o2", "o3", "o4", "o5"};
    for (int i = 0; i < 5; i++) {
        json_t *item = story(ids[i]);
        /* Stored, so taken: the outage does not make the item fail. */
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    assert_true(logged(&m, "wait in the outbox and are sent when it answers"));
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    assert_int_equal(metric(&m, "posted"), 5);
    assert_int_equal(metric(&m, "queued"), 5);
    assert_true(logged(&m, "webhook answers again"));
    char keys[256];
    keys_from(&srv, 3, keys, sizeof(keys));
    assert_string_equal(keys, "o1 o2 o3 o4 o5");
    /* Every refused attempt was for the head. */
    keys_from(&srv, 0, keys, sizeof(keys));
    assert_string_equal(keys, "o1 o1 o1 o1 o2 o3 o4 o5");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* A 4xx is a refusal of the document: dead-lettered with the reason, the rest goes on. */
static void test_permanent_refusal_dead_letters(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv,
                                          "{\"/hook\": [{\"status\": 422, \"body\":"
                                          " \"{\\\"error\\\": \\\"headline\\n missing\\\"}\"},"
                                          " {\"status\": 201}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s}", "to", "http", "url", url));
    json_t *bad = story("bad-1"), *good = story("good-1");
    assert_int_equal(wp_mock_process(&m, bad), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_process(&m, good), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    const json_t *dl = json_array_get(m.dead_letters, 0);
    assert_true(json_equal(json_object_get(dl, "item"), bad));
    const char *why = json_string_value(json_object_get(dl, "message"));
    assert_contains(why, "document 'bad-1' refused");
    assert_contains(why, "http 422");
    assert_contains(why, "headline missing");
    assert_int_equal(metric(&m, "posted"), 1);
    assert_int_equal(metric(&m, "refused"), 1);
    /* A 422 is not retried. */
    assert_int_equal(wp_test_server_count(&srv, "/hook"), 2);
    json_decref(bad);
    json_decref(good);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* 408 and 429 are "later", not "never": nothing is dead-lettered. */
static void test_408_429_are_transient(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 408},"
                                                " {\"status\": 429, \"headers\": {\"Retry-After\":"
                                                " \"1\"}}, {\"status\": 200}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i}", "to", "http", "url", url, "max_attempts", 1));
    json_t *item = story("later-1");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    assert_int_equal(metric(&m, "posted"), 1);
    assert_int_equal(wp_test_server_count(&srv, "/hook"), 3);
    json_decref(item);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* A full outbox makes process() wait until the head is delivered: backpressure. */
static void test_full_outbox_holds_process_back(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 503, \"times\": 2,"
                                                " \"headers\": {\"Retry-After\": \"1\"}},"
                                                " {\"status\": 200}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:i}", "to", "http", "url", url, "max_attempts", 1,
                                 "max_outbox", 2));
    const char *ids[] = {"f1", "f2", "f3", "f4"};
    for (int i = 0; i < 4; i++) {
        json_t *item = story(ids[i]);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    /* f3 could only join once f1 had gone: process() waited for it. */
    assert_true(logged(&m, "outbox full (2 document(s)"));
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(metric(&m, "posted"), 4);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    char keys[256];
    keys_from(&srv, 2, keys, sizeof(keys));
    assert_string_equal(keys, "f1 f2 f3 f4");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* A full outbox and a cancelled run: the item is not taken (RETRY), nothing dead-lettered. */
static void test_full_outbox_cancelled_is_retry(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 503, \"headers\":"
                                                " {\"Retry-After\": \"1\"}}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:i,s:i}", "to", "http", "url", url, "max_attempts",
                                 1, "max_outbox", 1, "drain_timeout_s", 1));
    json_t *a = story("c1"), *b = story("c2");
    assert_int_equal(wp_mock_process(&m, a), WP_OUTCOME_OK);
    m.cancelled = true;
    assert_int_equal(wp_mock_process(&m, b), WP_OUTCOME_RETRY);
    assert_contains(m.fail_text, "the outbox is full");
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_true(logged(&m, "1 document(s) wait in the outbox (the run is stopping)"));
    assert_int_equal(json_array_size(m.dead_letters), 0);
    json_decref(a);
    json_decref(b);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* flush() gives up after drain_timeout_s and says what waits; nothing is dead-lettered. */
static void test_drain_timeout(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 200, \"delay_ms\":"
                                                " 20000}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:i,s:i}", "to", "http", "url", url, "timeout_ms",
                                 300, "max_attempts", 1, "drain_timeout_s", 1));
    json_t *item = story("slow-1");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_true(logged(&m, "timed out"));
    assert_true(logged(&m, "1 document(s) wait in the outbox (drain_timeout_s passed); the next "
                           "run sends them first"));
    assert_int_equal(json_array_size(m.dead_letters), 0);
    assert_int_equal(metric(&m, "posted"), 0);
    json_decref(item);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* True when @needle appears in any log line, dead letter or failure text of @m. */
static bool shown(const struct wp_mock *m, const char *needle)
{
    char *dump = json_dumps(m->dead_letters, 0);
    bool found = logged(m, needle) || strstr(dump, needle) || strstr(m->fail_text, needle);
    free(dump);
    return found;
}

static void test_headers_and_bearer_sent_never_shown(void **state)
{
    (void)state;
    /* The webhook echoes the secrets back; they must not reach a log or a dead letter. */
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv,
                                          "{\"/hook\": [{\"status\": 500, \"body\": \"saw "
                                          "tok-secret-123 and hdr-secret-456\", \"headers\":"
                                          " {\"Retry-After\": \"1\"}}, {\"status\": 400, \"body\":"
                                          " \"bad tok-secret-123\"}, {\"status\": 200}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    setenv("WP_TEST_BEARER", "tok-secret-123", 1);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:s,s:{s:s,s:s}}", "to", "http", "url", url,
                                 "max_attempts", 1, "bearer_token_env", "WP_TEST_BEARER", "headers",
                                 "X-Api-Key", "hdr-secret-456", "Content-Type",
                                 "application/vnd.wire+json"));
    json_t *a = story("h1"), *b = story("h2");
    assert_int_equal(wp_mock_process(&m, a), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_process(&m, b), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(
        json_string_value(json_object_get(json_array_get(m.dead_letters, 0), "message")),
        "bad ***");
    assert_false(shown(&m, "tok-secret-123"));
    assert_false(shown(&m, "hdr-secret-456"));
    json_t *reqs = wp_test_server_requests(&srv);
    assert_int_equal(json_array_size(reqs), 3);
    const json_t *r = json_array_get(reqs, 2);
    assert_string_equal(header(r, "Authorization"), "Bearer tok-secret-123");
    assert_string_equal(header(r, "X-Api-Key"), "hdr-secret-456");
    /* A configured Content-Type replaces the default rather than joining it. */
    assert_string_equal(header(r, "Content-Type"), "application/vnd.wire+json");
    assert_string_equal(header(r, "Idempotency-Key"), "h2");
    json_decref(reqs);
    json_decref(a);
    json_decref(b);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
    unsetenv("WP_TEST_BEARER");
}

/* create() with @config_json fails with WP_E_CONFIG and a message holding @expected. */
static void expect_config_error(const char *config_json, const char *expected, const char *secret)
{
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "publish", NULL, config_json), WP_E_CONFIG);
    assert_contains(m.fail_text, expected);
    if (secret && strstr(m.fail_text, secret)) {
        fprintf(stderr, "'%s' shows a secret: '%s'\n", m.fail_text, secret);
        fail();
    }
    wp_mock_release(&m);
}

static void test_header_config_errors(void **state)
{
    (void)state;
#define HOOK "\"to\": \"http\", \"url\": \"http://127.0.0.1:9/hook\""
    expect_config_error("{" HOOK ", \"headers\": {\"X-A\": \"v1\\r\\nX-Injected: v2\"}}",
                        "headers: 'X-A' must not contain CR, LF", "X-Injected");
    expect_config_error("{" HOOK ", \"headers\": {\"X-A\": \"v1\\nv2\"}}",
                        "headers: 'X-A' must not contain CR, LF", "v1");
    expect_config_error("{" HOOK ", \"headers\": {\"Bad Name\": \"v\"}}",
                        "headers: a header name is not a valid HTTP field name", NULL);
    expect_config_error("{" HOOK ", \"headers\": {\"X-B\\r\\nEvil\": \"v\"}}",
                        "not a valid HTTP field name", "Evil");
    expect_config_error("{" HOOK ", \"headers\": {\"X-C\": 5}}",
                        "headers: 'X-C': expected a string", NULL);
    expect_config_error("{" HOOK ", \"headers\": {\"X-D\": \"\"}}", "headers: 'X-D' is empty",
                        NULL);
    expect_config_error("{" HOOK ", \"headers\": {\"idempotency-key\": \"k\"}}",
                        "'idempotency-key' is set by publish itself", NULL);
    expect_config_error("{" HOOK ", \"headers\": [\"X-E: v\"]}", "headers: expected object", NULL);
    unsetenv("WP_NOPE_TOKEN");
    expect_config_error("{" HOOK ", \"bearer_token_env\": \"WP_NOPE_TOKEN\"}",
                        "bearer_token_env: environment variable 'WP_NOPE_TOKEN' is not set", NULL);
    setenv("WP_EMPTY_TOKEN", "", 1);
    expect_config_error("{" HOOK ", \"bearer_token_env\": \"WP_EMPTY_TOKEN\"}",
                        "environment variable 'WP_EMPTY_TOKEN' is empty", NULL);
    setenv("WP_CRLF_TOKEN", "tok-abc\r\nX-Evil: 1", 1);
    expect_config_error("{" HOOK ", \"bearer_token_env\": \"WP_CRLF_TOKEN\"}",
                        "the value of 'WP_CRLF_TOKEN' holds CR, LF", "tok-abc");
    setenv("WP_OK_TOKEN", "tok-abc", 1);
    expect_config_error("{" HOOK ", \"bearer_token_env\": \"WP_OK_TOKEN\","
                        " \"headers\": {\"Authorization\": \"Basic eA==\"}}",
                        "'Authorization' cannot be set together with bearer_token_env", "eA==");
    expect_config_error("{" HOOK ", \"bearer_token_env\": \"NOT A NAME\"}",
                        "bearer_token_env: expected the name of an environment variable", NULL);
#undef HOOK
    unsetenv("WP_EMPTY_TOKEN");
    unsetenv("WP_CRLF_TOKEN");
    unsetenv("WP_OK_TOKEN");
}

/* ninjs documents keep their item, so a dead letter holds what a replay needs. */
static void test_ninjs_refusal_dead_letters_the_item(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 403}]}"), 0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:s}", "to", "http", "url", url, "format", "ninjs"));
    json_t *item = story("n1");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_true(json_equal(json_object_get(json_array_get(m.dead_letters, 0), "item"), item));
    json_decref(item);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outage_then_delivery_in_order),
        cmocka_unit_test(test_permanent_refusal_dead_letters),
        cmocka_unit_test(test_408_429_are_transient),
        cmocka_unit_test(test_full_outbox_holds_process_back),
        cmocka_unit_test(test_full_outbox_cancelled_is_retry),
        cmocka_unit_test(test_drain_timeout),
        cmocka_unit_test(test_headers_and_bearer_sent_never_shown),
        cmocka_unit_test(test_header_config_errors),
        cmocka_unit_test(test_ninjs_refusal_dead_letters_the_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
