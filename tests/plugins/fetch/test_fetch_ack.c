/*
 * test_fetch_ack.c - acknowledged delivery in the fetch stage, through the mock host,
 * which never acknowledges: the tests call ops->ack themselves for what they deem done,
 * and wp_mock_restart() for the next run on the same state folder.
 *
 * Seen ids are recorded only by ack() (every outcome counts), never at emit; a feed's
 * validators only once every entry it gave is done; nothing for what was not acknowledged
 * when the run ended; an id in flight is not emitted a second time; process() records
 * nothing.
 */
#include <pthread.h>

#include "fetch_test.h"
#include "test_server.h"

/* Whether the store has @key in namespace @ns. */
static bool stored(struct wp_mock *m, const char *ns, const char *key)
{
    char *value = NULL;
    size_t len = 0;
    enum wp_status st = m->api.store_get(&m->ctx, ns, key, strlen(key), &value, &len);
    if (st == WP_OK)
        m->api.free(value);
    return st == WP_OK;
}

static const char *emitted_id(const struct wp_mock *m, size_t i)
{
    return item_str(json_array_get(m->emitted, i), "id");
}

/* The If-None-Match header of request @nth to the server, or NULL. */
static const char *if_none_match(json_t *log, size_t nth)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_array_get(log, nth), "headers"), key, v)
    {
        if (strcasecmp(key, "If-None-Match") == 0)
            return json_string_value(v);
    }
    return NULL;
}

/* A feed of @n entries (guid g<i>, link /story/<i>) with an ETag, as routes JSON. */
static void feed_routes(char *out, size_t size, int n, const char *more_routes)
{
    char items[8192] = "";
    size_t used = 0;
    for (int i = 1; i <= n; i++)
        used += (size_t)snprintf(items + used, sizeof(items) - used,
                                 "<item><title>Story %d</title><link>/story/%d</link>"
                                 "<guid>g%d</guid></item>",
                                 i, i, i);
    snprintf(out, size,
             "{\"/feed\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\","
             " \"ETag\": \"\\\"f1\\\"\"}, \"body\": \"<rss version='2.0'><channel>"
             "<title>t</title>%s</channel></rss>\", \"times\": 2},"
             " {\"status\": 304, \"headers\": {\"ETag\": \"\\\"f1\\\"\"}}]%s%s}",
             items, more_routes ? "," : "", more_routes ? more_routes : "");
}

/* Seen is recorded only on ack, whatever the outcome; unacknowledged items come back. */
static void test_seen_only_after_ack(void **state)
{
    (void)state;
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s]}", "paths", fixture("feeds/atom.xml")));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    /* emitted, not acknowledged: nothing recorded */
    assert_false(stored(&m, "fetch.seen", emitted_id(&m, 0)));
    assert_false(stored(&m, "fetch.seen", emitted_id(&m, 1)));

    /* the run ends (killed, say): the next one emits both again */
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_int_equal(metric(&m, "duplicates"), 0);

    /* one is dead-lettered downstream: that is done too */
    char first[ID_MAX];
    snprintf(first, sizeof(first), "%s", emitted_id(&m, 2));
    m.ops->ack(m.instance, &m.ctx, first, WP_ACK_DEAD_LETTERED);
    assert_true(stored(&m, "fetch.seen", first));
    assert_false(stored(&m, "fetch.seen", emitted_id(&m, 3)));
    /* an acknowledgement for an id that is not in flight changes nothing */
    m.ops->ack(m.instance, &m.ctx, "sha256:unknown", WP_ACK_DELIVERED);
    m.ops->ack(m.instance, &m.ctx, "", WP_ACK_DELIVERED);

    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 5);
    assert_string_not_equal(emitted_id(&m, 4), first);
    assert_int_equal(metric(&m, "duplicates"), 1);
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 4), WP_ACK_DROPPED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 5);
    assert_int_equal(metric(&m, "duplicates"), 3);
    wp_mock_release(&m);
}

/*
 * A feed's validators are stored only when every entry it gave is done: entries skipped as
 * seen count as done, and until then the next run gets a 200 and not a 304.
 */
static void test_validators_after_every_entry(void **state)
{
    (void)state;
    static char routes[4096];
    feed_routes(routes, sizeof(routes), 3, NULL);
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s]}", "urls", url));

    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 0), WP_ACK_DELIVERED);
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 1), WP_ACK_DELIVERED);
    /* two of three done: no validators */
    assert_false(stored(&m, "fetch.http", url));

    /* the next run asks without them, skips the two delivered and emits the third again */
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_string_equal(emitted_id(&m, 3), emitted_id(&m, 2));
    assert_int_equal(metric(&m, "duplicates"), 2);
    assert_false(stored(&m, "fetch.http", url));
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 3), WP_ACK_DELIVERED);
    assert_true(stored(&m, "fetch.http", url));

    /* now the feed is done: the next run sends its ETag and the 304 yields nothing */
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_int_equal(metric(&m, "not_modified"), 1);
    json_t *log = wp_test_server_requests(&srv);
    assert_int_equal(json_array_size(log), 3);
    assert_null(if_none_match(log, 0));
    assert_null(if_none_match(log, 1));
    assert_non_null(if_none_match(log, 2));
    assert_string_equal(if_none_match(log, 2), "\"f1\"");
    json_decref(log);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/*
 * With follow, entries fetch dead-letters itself (a 404 page, a refused link) count as
 * done; the one left unacknowledged keeps the feed's validators out of the store.
 */
static void test_follow_dead_letters_count_as_done(void **state)
{
    (void)state;
    static char routes[4096];
    feed_routes(routes, sizeof(routes), 3,
                "\"/story/1\": [{\"body\": \"<p>one</p>\"}],"
                " \"/story/3\": [{\"body\": \"<p>three</p>\"}]");
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m,
                      json_pack("{s:[s],s:b,s:i}", "urls", url, "follow", 1, "max_attempts", 1));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "http 404");
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 0), WP_ACK_DELIVERED);
    assert_false(stored(&m, "fetch.http", url));
    m.ops->ack(m.instance, &m.ctx, emitted_id(&m, 1), WP_ACK_DELIVERED);
    assert_true(stored(&m, "fetch.http", url));
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* Two feeds listing one story: it goes out once, and its page is fetched once. */
static void test_in_flight_story_not_emitted_twice(void **state)
{
    (void)state;
    struct wp_mock m;
    char feed_a[1024];
    snprintf(feed_a, sizeof(feed_a), "%s", fixture("feeds/overlap-a.xml"));
    fetch_create_with(&m, json_pack("{s:[s,s]}", "paths", feed_a, fixture("feeds/overlap-b.xml")));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    assert_int_equal(metric(&m, "in_flight_duplicates"), 1);
    size_t shared = 0;
    for (size_t i = 0; i < 3; i++)
        shared += strcmp(item_str(json_array_get(m.emitted, i), "headline"), "In both feeds") == 0;
    assert_int_equal(shared, 1);
    wp_mock_release(&m);

    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(
                         &srv,
                         "{\"/a\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
                         " \"body\": \"<rss version='2.0'><channel><title>a</title>"
                         "<item><title>A</title><link>/s/a</link><guid>a</guid></item>"
                         "<item><title>S</title><link>/s/shared</link><guid>shared</guid></item>"
                         "</channel></rss>\"}],"
                         " \"/b\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
                         " \"body\": \"<rss version='2.0'><channel><title>b</title>"
                         "<item><title>S</title><link>/s/shared</link><guid>shared</guid></item>"
                         "<item><title>B</title><link>/s/b</link><guid>b</guid></item>"
                         "</channel></rss>\"}],"
                         " \"/s/a\": [{\"body\": \"a\"}], \"/s/b\": [{\"body\": \"b\"}],"
                         " \"/s/shared\": [{\"body\": \"shared\"}]}"),
                     0);
    char a[256], b[256];
    wp_test_server_url(&srv, "/a", a, sizeof(a));
    wp_test_server_url(&srv, "/b", b, sizeof(b));
    fetch_create_with(&m, json_pack("{s:[s,s],s:b}", "urls", a, b, "follow", 1));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    assert_int_equal(wp_test_server_count(&srv, "/s/shared"), 1);
    /* once acknowledged it is seen, so a later listing is an ordinary duplicate */
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 3);
    assert_int_equal(metric(&m, "duplicates"), 4);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/*
 * ack() arriving while generate() is still emitting (the host calls it from another
 * thread; here from inside emit itself, which deadlocks if fetch held its lock there).
 */
static enum wp_status (*mock_emit_fn)(struct wp_ctx *ctx, json_t *item);

static enum wp_status emit_and_ack(struct wp_ctx *ctx, json_t *item)
{
    struct wp_mock *m = (struct wp_mock *)(void *)ctx;
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", item_str(item, "id") ? item_str(item, "id") : "");
    enum wp_status st = mock_emit_fn(ctx, item);
    m->ops->ack(m->instance, ctx, id, WP_ACK_DELIVERED);
    return st;
}

static void test_ack_while_generating(void **state)
{
    (void)state;
    static char routes[4096];
    feed_routes(
        routes, sizeof(routes), 4,
        "\"*\": [{\"headers\": {\"Content-Type\": \"text/html\"}, \"body\": \"<p>x</p>\"}]");
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s],s:b}", "urls", url, "follow", 1));
    mock_emit_fn = m.api.emit;
    m.api.emit = emit_and_ack;
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_int_equal(metric(&m, "acknowledged"), 4);
    /* every entry was done before the feed was fully read: stored when it was */
    assert_true(stored(&m, "fetch.http", url));
    for (size_t i = 0; i < 4; i++)
        assert_true(stored(&m, "fetch.seen", emitted_id(&m, i)));
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* The same with the acknowledgements coming from another thread, as in wirepipe. */
struct acker {
    pthread_mutex_t lock;
    pthread_cond_t more;
    char ids[64][ID_MAX];
    size_t head, tail;
    bool done;
    struct wp_mock *m;
    size_t acked;
};

static struct acker acker;

static enum wp_status emit_to_acker(struct wp_ctx *ctx, json_t *item)
{
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", item_str(item, "id") ? item_str(item, "id") : "");
    enum wp_status st = mock_emit_fn(ctx, item);
    pthread_mutex_lock(&acker.lock);
    while (acker.tail - acker.head == 64)
        pthread_cond_wait(&acker.more, &acker.lock);
    snprintf(acker.ids[acker.tail++ % 64], ID_MAX, "%s", id);
    pthread_cond_broadcast(&acker.more);
    pthread_mutex_unlock(&acker.lock);
    return st;
}

static void *acker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&acker.lock);
    for (;;) {
        while (acker.head == acker.tail && !acker.done)
            pthread_cond_wait(&acker.more, &acker.lock);
        if (acker.head == acker.tail)
            break;
        char id[ID_MAX];
        snprintf(id, sizeof(id), "%s", acker.ids[acker.head++ % 64]);
        pthread_cond_broadcast(&acker.more);
        pthread_mutex_unlock(&acker.lock);
        acker.m->ops->ack(acker.m->instance, &acker.m->ctx, id, WP_ACK_DELIVERED);
        pthread_mutex_lock(&acker.lock);
        acker.acked++;
    }
    pthread_mutex_unlock(&acker.lock);
    return NULL;
}

static void test_ack_from_another_thread(void **state)
{
    (void)state;
    static char routes[8192];
    feed_routes(
        routes, sizeof(routes), 40,
        "\"*\": [{\"headers\": {\"Content-Type\": \"text/html\"}, \"body\": \"<p>x</p>\"}]");
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s],s:b}", "urls", url, "follow", 1));
    memset(&acker, 0, sizeof(acker));
    pthread_mutex_init(&acker.lock, NULL);
    pthread_cond_init(&acker.more, NULL);
    acker.m = &m;
    mock_emit_fn = m.api.emit;
    m.api.emit = emit_to_acker;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, acker_main, NULL), 0);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    pthread_mutex_lock(&acker.lock);
    acker.done = true;
    pthread_cond_broadcast(&acker.more);
    pthread_mutex_unlock(&acker.lock);
    pthread_join(th, NULL);
    assert_int_equal(acker.acked, 40);
    assert_int_equal(json_array_size(m.emitted), 40);
    assert_int_equal(metric(&m, "acknowledged"), 40);
    assert_true(stored(&m, "fetch.http", url));
    for (size_t i = 0; i < 40; i++)
        assert_true(stored(&m, "fetch.seen", emitted_id(&m, i)));
    pthread_cond_destroy(&acker.more);
    pthread_mutex_destroy(&acker.lock);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* process() (fetch fed by --input) has no acknowledgements: it records and skips nothing. */
static void test_process_records_nothing(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/p\": [{\"headers\": {\"ETag\": \"\\\"p1\\\"\","
                                                " \"Content-Type\": \"text/plain\"},"
                                                " \"body\": \"the story\"}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/p", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_object());
    for (int run = 0; run < 2; run++) {
        json_t *item = json_pack("{s:s}", "uri", url);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_false(stored(&m, "fetch.seen", emitted_id(&m, 0)));
    assert_false(stored(&m, "fetch.http", url));
    json_t *log = wp_test_server_requests(&srv);
    assert_null(if_none_match(log, 1));
    json_decref(log);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_only_after_ack),
        cmocka_unit_test(test_validators_after_every_entry),
        cmocka_unit_test(test_follow_dead_letters_count_as_done),
        cmocka_unit_test(test_in_flight_story_not_emitted_twice),
        cmocka_unit_test(test_ack_while_generating),
        cmocka_unit_test(test_ack_from_another_thread),
        cmocka_unit_test(test_process_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
