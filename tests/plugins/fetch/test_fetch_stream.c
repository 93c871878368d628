/*
 * test_fetch_stream.c - the fetch stage streams: each document and each followed page is
 * emitted as soon as it arrives, so one slow page holds back nothing else, and fetch's
 * memory follows the concurrency, not the number of pages (2,000 pages of 200 KB).
 *
 * The emit of the mock host is wrapped to note when each item came out (and, for the
 * memory test, to let it go at once, as a pipeline's queue would). The only wall-clock
 * assertion: an item whose page arrives at once comes out at least 1 s before generate()
 * ends, when another page of the same feed takes the server 2 s.
 */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch_test.h"
#include "test_server.h"

static enum wp_status (*mock_emit_fn)(struct wp_ctx *ctx, json_t *item);
static double first_emit_at;
static size_t n_emitted;
static bool keep_items;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Notes the time; keeps the item in m->emitted, or acknowledges and drops it. */
static enum wp_status timed_emit(struct wp_ctx *ctx, json_t *item)
{
    struct wp_mock *m = (struct wp_mock *)(void *)ctx;
    if (n_emitted++ == 0)
        first_emit_at = mono_s();
    if (keep_items)
        return mock_emit_fn(ctx, item);
    char id[ID_MAX];
    snprintf(id, sizeof(id), "%s", item_str(item, "id") ? item_str(item, "id") : "");
    json_decref(item);
    m->ops->ack(m->instance, ctx, id, WP_ACK_DELIVERED);
    return WP_OK;
}

static void wrap_emit(struct wp_mock *m, bool keep)
{
    mock_emit_fn = m->api.emit;
    m->api.emit = timed_emit;
    first_emit_at = 0;
    n_emitted = 0;
    keep_items = keep;
}

/* A slow page first in the feed does not hold back the entry after it. */
static void test_first_story_before_slow_page(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(
                         &srv,
                         "{\"/feed\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
                         " \"body\": \"<rss version='2.0'><channel><title>t</title>"
                         "<item><title>Slow</title><link>/slow</link><guid>slow</guid></item>"
                         "<item><title>Fast</title><link>/fast</link><guid>fast</guid></item>"
                         "</channel></rss>\"}],"
                         " \"/slow\": [{\"body\": \"<p>slow page</p>\", \"delay_ms\": 2000}],"
                         " \"/fast\": [{\"body\": \"<p>fast page</p>\"}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s],s:b}", "urls", url, "follow", 1));
    wrap_emit(&m, true);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    double end = mono_s();
    assert_int_equal(json_array_size(m.emitted), 2);
    /* completion order: the fast page's entry first, and well before the slow page came */
    assert_string_equal(item_str(json_array_get(m.emitted, 0), "headline"), "Fast");
    assert_string_equal(item_str(json_array_get(m.emitted, 1), "headline"), "Slow");
    assert_true(end - first_emit_at >= 1.0);
    wp_mock_release(&m);

    /* the same across documents: a slow page does not hold back one listed after it */
    char slow[256], fast[256];
    wp_test_server_url(&srv, "/slow", slow, sizeof(slow));
    wp_test_server_url(&srv, "/fast", fast, sizeof(fast));
    fetch_create_with(&m, json_pack("{s:[s,s]}", "urls", slow, fast));
    wrap_emit(&m, true);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    end = mono_s();
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_string_equal(source_str(json_array_get(m.emitted, 0), "url"), fast);
    assert_true(end - first_emit_at >= 1.0);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

/* Peak resident memory of this process, in KiB (VmHWM), or -1. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kib;
}

/*
 * 2,000 entries, each linking a 200 KB page: the pages are fetched, emitted and freed one
 * by one, so memory stays far below what holding them all (400 MB) would take.
 */
static void test_memory_bounded_by_concurrency(void **state)
{
    (void)state;
    enum { ENTRIES = 2000 };
    char dir[] = "/tmp/wp-fetch-stream-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char feed_path[128], routes[1024];
    snprintf(feed_path, sizeof(feed_path), "%s/feed.xml", dir);
    FILE *feed = fopen(feed_path, "w");
    assert_non_null(feed);
    fputs("<rss version='2.0'><channel><title>big</title>", feed);
    for (int i = 0; i < ENTRIES; i++)
        fprintf(feed, "<item><title>Story %d</title><link>/p/%d</link><guid>big-%d</guid></item>\n",
                i, i, i);
    fputs("</channel></rss>\n", feed);
    fclose(feed);
    /* 27 bytes x 7585: 200 KiB per page */
    snprintf(routes, sizeof(routes),
             "{\"/feed\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
             " \"body_file\": \"%s\"}],"
             " \"*\": [{\"headers\": {\"Content-Type\": \"text/html; charset=utf-8\"},"
             " \"body\": \"<p>wire text, wire text</p>\", \"repeat_body\": 7585}]}",
             feed_path);
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, routes), 0);
    char url[256];
    wp_test_server_url(&srv, "/feed", url, sizeof(url));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s],s:b}", "urls", url, "follow", 1));
    wrap_emit(&m, false);
    long before = peak_rss_kib();
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    long after = peak_rss_kib();
    assert_int_equal(n_emitted, ENTRIES);
    assert_int_equal(metric(&m, "acknowledged"), ENTRIES);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    fprintf(stderr, "peak RSS: %ld KiB before, %ld KiB after %d pages\n", before, after, ENTRIES);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers keep freed memory in quarantine or shadow: RSS says nothing then. */
#else
    assert_true(after > 0 && after < 64 * 1024);
#endif
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
    unlink(feed_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_story_before_slow_page),
        cmocka_unit_test(test_memory_bounded_by_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
