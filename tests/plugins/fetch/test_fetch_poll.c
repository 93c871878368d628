/*
 * test_fetch_poll.c - fetch as a polling source, through the mock host: the "every" key
 * (parsed, checked, handed to poll_every()), what a poll answers (RETRY when no source
 * answered), and the in-flight table and validators across polls of one run, which the
 * mock shows by calling generate() again on the same instance without acknowledging.
 */
#include "fetch_test.h"
#include "test_server.h"

/* What the mock's poll_every() was given (the mock host has none of its own). */
static unsigned long long poll_every_ms;
static unsigned poll_every_calls;

static void record_poll_every(struct wp_ctx *ctx, unsigned long long interval_ms)
{
    (void)ctx;
    poll_every_ms = interval_ms;
    poll_every_calls++;
}

/* Create fetch with @config (stolen) on a host that offers poll_every(); the status. */
static enum wp_status create_polling(struct wp_mock *m, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    wp_mock_init(m);
    m->api.poll_every = record_poll_every;
    poll_every_ms = 0;
    poll_every_calls = 0;
    enum wp_status st = wp_mock_create(m, "fetch", NULL, text);
    free(text);
    return st;
}

static void expect_every(json_t *value, unsigned long long ms)
{
    struct wp_mock m;
    json_t *config = json_pack("{s:[s],s:O}", "paths", fixture("feeds/rss2.xml"), "every", value);
    enum wp_status st = create_polling(&m, config);
    if (st != WP_OK)
        fprintf(stderr, "create failed: %s\n", m.fail_text);
    assert_int_equal(st, WP_OK);
    assert_int_equal(poll_every_calls, 1);
    assert_int_equal(poll_every_ms, ms);
    wp_mock_release(&m);
    json_decref(value);
}

static void expect_every_refused(json_t *value, const char *message)
{
    struct wp_mock m;
    json_t *config = json_pack("{s:[s],s:O}", "paths", fixture("feeds/rss2.xml"), "every", value);
    assert_int_equal(create_polling(&m, config), WP_E_CONFIG);
    assert_contains(m.fail_text, "every: ");
    assert_contains(m.fail_text, message);
    assert_int_equal(poll_every_calls, 0);
    wp_mock_release(&m);
    json_decref(value);
}

static void test_every_durations(void **state)
{
    (void)state;
    expect_every(json_string("30s"), 30000);
    expect_every(json_string("5m"), 300000);
    expect_every(json_string("1h"), 3600000);
    expect_every(json_string("1500ms"), 1500);
    expect_every(json_string("1s"), 1000);
    expect_every(json_string("24h"), 86400000);
    expect_every(json_string("45"), 45000);
    expect_every(json_integer(60), 60000);
    expect_every(json_integer(1), 1000);

    expect_every_refused(json_string("500ms"), "'500ms' is shorter than the minimum of 1s");
    expect_every_refused(json_integer(0), "'0' is shorter than the minimum of 1s");
    expect_every_refused(json_string("25h"), "'25h' is longer than the maximum of 24h");
    expect_every_refused(json_string("99999999999999999999999h"), "longer than the maximum");
    expect_every_refused(json_integer(-5), "'-5' is not a duration");
    expect_every_refused(json_string("1.5m"), "'1.5m' is not a duration");
    expect_every_refused(json_string("1m30s"), "'1m30s' is not a duration");
    expect_every_refused(json_string("30 s"), "'30 s' is not a duration");
    expect_every_refused(json_string("soon"), "'soon' is not a duration");
    expect_every_refused(json_string(""), "'' is not a duration");
    /* long values are cut in the message, never inside a character */
    expect_every_refused(json_string("1234567890123456789012345678901234567\xc3\xa9\xc3\xa9s"),
                         "'1234567890123456789012345678901234567\xc3\xa9...' is not a duration");
    expect_every_refused(json_real(1.5), "expected a duration");
    expect_every_refused(json_true(), "expected a duration");
}

/* Without "every", or with null, the stage reads once: poll_every() is not called. */
static void test_every_unset_reads_once(void **state)
{
    (void)state;
    struct wp_mock m;
    assert_int_equal(create_polling(&m, json_pack("{s:[s]}", "paths", fixture("feeds/rss2.xml"))),
                     WP_OK);
    assert_int_equal(poll_every_calls, 0);
    wp_mock_release(&m);
    assert_int_equal(
        create_polling(&m, json_pack("{s:[s],s:n}", "paths", fixture("feeds/rss2.xml"), "every")),
        WP_OK);
    assert_int_equal(poll_every_calls, 0);
    wp_mock_release(&m);
}

/* A host without poll_every() (ABI 2.1): a warning, and the stage reads once. */
static void test_every_on_an_older_host(void **state)
{
    (void)state;
    struct wp_mock m;
    fetch_create_with(&m,
                      json_pack("{s:[s],s:s}", "paths", fixture("feeds/rss2.xml"), "every", "30s"));
    size_t i, warned = 0;
    json_t *l;
    json_array_foreach(m.logs, i, l)
    {
        const char *msg = json_string_value(json_object_get(l, "message"));
        warned += msg && strstr(msg, "cannot poll") != NULL;
    }
    assert_int_equal(warned, 1);
    wp_mock_release(&m);
}

/* Whether the store has @key in namespace @ns, and its value in @out (when not NULL). */
static bool stored(struct wp_mock *m, const char *ns, const char *key, char *out, size_t size)
{
    char *value = NULL;
    size_t len = 0;
    enum wp_status st = m->api.store_get(&m->ctx, ns, key, strlen(key), &value, &len);
    if (st != WP_OK)
        return false;
    if (out)
        snprintf(out, size, "%.*s", (int)len, value);
    m->api.free(value);
    return true;
}

/* A poll in which no source answered is RETRY; one that answers, even 304, is OK. */
static void test_poll_outcomes(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/down\": [{\"status\": 503}],"
                                                " \"/same\": [{\"status\": 304}]}"),
                     0);
    char down[256], same[256];
    wp_test_server_url(&srv, "/down", down, sizeof(down));
    wp_test_server_url(&srv, "/same", same, sizeof(same));
    struct wp_mock m;

    /* polling: the failed source is logged and read again next poll, not dead-lettered */
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:[s],s:s,s:i}", "urls", down, "paths",
                                                  "/nonexistent/wirepipe-feed.xml", "every", "1s",
                                                  "max_attempts", 1)),
                     WP_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY);
    assert_contains(m.fail_text, "none of the 2 source(s) answered");
    assert_int_equal(json_array_size(m.dead_letters), 0);
    assert_int_equal(metric(&m, "failed"), 2);
    /* the next poll tries again, and fails again */
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY);
    assert_int_equal(wp_test_server_count(&srv, "/down"), 2);
    wp_mock_release(&m);

    /* one source answering (a 304) is enough */
    assert_int_equal(create_polling(&m, json_pack("{s:[s,s],s:s,s:i}", "urls", down, same, "every",
                                                  "1s", "max_attempts", 1)),
                     WP_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(metric(&m, "not_modified"), 1);
    wp_mock_release(&m);

    /* a stop during the poll is no failure */
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:s}", "urls", down, "every", "1s")),
                     WP_OK);
    m.cancelled = true;
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    wp_mock_release(&m);

    /* not polling: the source is dead-lettered as before, and the run told it failed */
    fetch_create_with(&m, json_pack("{s:[s],s:i}", "urls", down, "max_attempts", 1));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    wp_mock_release(&m);

    /* an empty folder answered */
    char dir[] = "/tmp/wp-fetch-poll.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:s}", "paths", dir, "every", "1s")),
                     WP_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    wp_mock_release(&m);
    rmdir(dir);
    wp_test_server_stop(&srv);
}

/* An RSS reply with ETag @etag listing guids g<i> for each i in @ids (0-terminated). */
static size_t feed_reply(char *out, size_t size, const char *etag, const int *ids)
{
    char items[4096] = "";
    size_t used = 0;
    for (const int *i = ids; *i; i++)
        used += (size_t)snprintf(items + used, sizeof(items) - used,
                                 "<item><title>Story %d</title><link>/story/%d</link>"
                                 "<guid>g%d</guid></item>",
                                 *i, *i, *i);
    return (size_t)snprintf(out, size,
                            "{\"headers\": {\"Content-Type\": \"application/rss+xml\","
                            " \"ETag\": \"\\\"%s\\\"\"}, \"body\": \"<rss version='2.0'>"
                            "<channel><title>t</title>%s</channel></rss>\"}",
                            etag, items);
}

/* The id of guid g<n> as fetch makes it. */
static void guid_id(struct wp_mock *m, int n, char out[ID_MAX])
{
    char guid[16];
    snprintf(guid, sizeof(guid), "g%d", n);
    memcpy(out, "sha256:", 7);
    assert_int_equal(m->api.sha256_hex(guid, strlen(guid), out + 7), WP_OK);
}

static void ack_guid(struct wp_mock *m, int n)
{
    char id[ID_MAX];
    guid_id(m, n, id);
    m->ops->ack(m->instance, &m->ctx, id, WP_ACK_DELIVERED);
}

/*
 * The next poll starts while the first poll's stories are still in flight: they are not
 * emitted again, only the new one is, and the second read's validators wait for the
 * stories it shares with the first.
 */
static void test_in_flight_across_polls(void **state)
{
    (void)state;
    static char routes[16384];
    char r1[4096], r2[4096];
    feed_reply(r1, sizeof(r1), "f1", (const int[]){1, 2, 3, 0});
    feed_reply(r2, sizeof(r2), "f2", (const int[]){1, 2, 3, 4, 0});
    snprintf(routes, sizeof(routes), "{\"/feed\": [%s, %s, {\"status\": 304}]}", r1, r2);
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:s}", "urls", url, "every", "1s")),
                     WP_OK);

    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    /* poll 2, nothing acknowledged yet: only story 4 is new */
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_string_equal(item_str(json_array_get(m.emitted, 3), "headline"), "Story 4");
    assert_int_equal(metric(&m, "in_flight_duplicates"), 3);

    /* story 4 done: the second read still waits for 1-3 */
    ack_guid(&m, 4);
    assert_false(stored(&m, "fetch.http", url, NULL, 0));
    ack_guid(&m, 1);
    ack_guid(&m, 2);
    assert_false(stored(&m, "fetch.http", url, NULL, 0));
    /* the last one finishes both reads at once: the newer validators are the ones kept */
    ack_guid(&m, 3);
    char v[256];
    assert_true(stored(&m, "fetch.http", url, v, sizeof(v)));
    assert_contains(v, "f2");
    assert_int_equal(metric(&m, "acknowledged"), 4);

    /* poll 3 sends them and gets its 304 */
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_int_equal(metric(&m, "not_modified"), 1);
    json_t *log = wp_test_server_requests(&srv);
    assert_int_equal(json_array_size(log), 3);
    const char *inm = json_string_value(
        json_object_get(json_object_get(json_array_get(log, 2), "headers"), "If-None-Match"));
    assert_non_null(inm);
    assert_string_equal(inm, "\"f2\"");
    json_decref(log);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/*
 * A story the feed dropped keeps the first read open after the second is done: the first
 * read's older validators must not replace the second's when it finishes last.
 */
static void test_older_read_finishing_last(void **state)
{
    (void)state;
    static char routes[16384];
    char r1[4096], r2[4096];
    feed_reply(r1, sizeof(r1), "f1", (const int[]){1, 2, 0});
    feed_reply(r2, sizeof(r2), "f2", (const int[]){2, 3, 0});
    snprintf(routes, sizeof(routes), "{\"/feed\": [%s, %s]}", r1, r2);
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:s}", "urls", url, "every", "1s")),
                     WP_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    ack_guid(&m, 2);
    ack_guid(&m, 3);
    char v[256];
    assert_true(stored(&m, "fetch.http", url, v, sizeof(v)));
    assert_contains(v, "f2");
    ack_guid(&m, 1); /* the first read is done now, after the second */
    assert_true(stored(&m, "fetch.http", url, v, sizeof(v)));
    assert_contains(v, "f2");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* An Atom reply with ETag @etag: one entry "e1" updated at @updated. */
static void atom_reply(char *out, size_t size, const char *etag, const char *updated)
{
    snprintf(out, size,
             "{\"headers\": {\"Content-Type\": \"application/atom+xml\","
             " \"ETag\": \"\\\"%s\\\"\"}, \"body\": \"<feed xmlns='http://www.w3.org/2005/Atom'>"
             "<title>t</title><id>urn:t</id><updated>%s</updated>"
             "<entry><id>urn:e1</id><title>Story</title><link href='http://example.com/e1'/>"
             "<updated>%s</updated><summary>text %s</summary></entry></feed>\"}",
             etag, updated, updated, updated);
}

/*
 * The second poll brings a new revision of a story whose first revision is still in
 * flight: it cannot go out yet, so the second read's validators are never stored and a
 * later poll reads the feed in full and passes the correction on.
 */
static void test_new_revision_while_in_flight(void **state)
{
    (void)state;
    static char routes[16384];
    char r1[2048], r2[2048];
    atom_reply(r1, sizeof(r1), "a1", "2026-12-04T10:00:00Z");
    atom_reply(r2, sizeof(r2), "a2", "2026-12-04T11:00:00Z");
    /* requests: 1 r1; 2 r2 (in flight: skipped); 3 sent "a1" -> r2 again (an update) */
    snprintf(routes, sizeof(routes), "{\"/atom\": [%s, %s, %s]}", r1, r2, r2);
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/atom", url, sizeof(url));
    struct wp_mock m;
    assert_int_equal(create_polling(&m, json_pack("{s:[s],s:s}", "urls", url, "every", "1s")),
                     WP_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_int_equal(metric(&m, "in_flight_duplicates"), 1);
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    char v[256];
    assert_true(stored(&m, "fetch.http", url, v, sizeof(v)));
    assert_contains(v, "a1"); /* not a2: that read held a revision that did not go out */
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_int_equal(metric(&m, "updates"), 1);
    assert_contains(item_str(json_array_get(m.emitted, 1), "content"), "text 2026-12-04T11");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_durations),
        cmocka_unit_test(test_every_unset_reads_once),
        cmocka_unit_test(test_every_on_an_older_host),
        cmocka_unit_test(test_poll_outcomes),
        cmocka_unit_test(test_in_flight_across_polls),
        cmocka_unit_test(test_older_read_finishing_last),
        cmocka_unit_test(test_new_revision_while_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
