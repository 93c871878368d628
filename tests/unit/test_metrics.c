/*
 * test_metrics.c - the parts of /metrics that need no running pipeline: the latency
 * histogram's buckets, the HTTP request table (host labels, the cap on hosts, statuses),
 * label escaping of hostile text, and the Prometheus text of an empty endpoint.
 */
#include "wp_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <wirepipe/buf.h>

#include "histogram.h"
#include "host_api.h"
#include "http_stats.h"
#include "metrics_text.h"
#include "wp_cmocka.h"

static void test_histogram_buckets(void **state)
{
    (void)state;
    struct wp_histogram h;
    memset(&h, 0, sizeof(h));
    wp__histogram_observe(&h, 5000000);        /* 5 ms: on the first bound, inside it */
    wp__histogram_observe(&h, 5000001);        /* just above: the 10 ms bucket */
    wp__histogram_observe(&h, 0);              /* the first bucket */
    wp__histogram_observe(&h, 3600000000000u); /* an hour: +Inf only */
    struct wp_histogram_snapshot s;
    wp__histogram_read(&h, &s);
    assert_int_equal(s.cumulative[0], 2);
    assert_int_equal(s.cumulative[1], 3);
    assert_int_equal(s.cumulative[WP_HISTOGRAM_BUCKETS - 1], 3);
    assert_int_equal(s.cumulative[WP_HISTOGRAM_BUCKETS], 4);
    assert_true(s.sum_seconds > 3600.0 && s.sum_seconds < 3600.1);
    for (size_t i = 1; i < WP_HISTOGRAM_BUCKETS; i++)
        assert_true(wp__histogram_bound(i) > wp__histogram_bound(i - 1));
    assert_true(wp__histogram_bound(WP_HISTOGRAM_BUCKETS - 1) == 300.0);
}

static struct wp_histogram shared;

static void *observer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        wp__histogram_observe(&shared, (uint64_t)i * 1000000u);
    return NULL;
}

static void test_histogram_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct wp_histogram_snapshot s;
    wp__histogram_read(&shared, &s);
    assert_int_equal(s.cumulative[WP_HISTOGRAM_BUCKETS], 40000);
}

/* The count of (@host, @status label) in the table, 0 when absent. */
static unsigned long long stat_of(const char *host, const char *status)
{
    struct wp_http_stat rows[WP_HTTP_STATS_ROWS + 1];
    size_t n = wp__http_stats_read(rows, WP_ARRAY_SIZE(rows));
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        if (strcmp(rows[i].host, host) == 0 &&
            strcmp(wp__http_stats_status_label(rows[i].status, buf, sizeof(buf)), status) == 0)
            return rows[i].count;
    }
    return 0;
}

/* One process-wide table: the cases run in this order, each on hosts of its own. */
static void test_http_stats(void **state)
{
    (void)state;
    wp__http_stats_count("https://a.example:443", WP_OK, 200);
    wp__http_stats_count("https://a.example:443", WP_OK, 200);
    wp__http_stats_count("http://a.example:80", WP_OK, 304);
    wp__http_stats_count("http://127.0.0.1:8080", WP_OK, 503);
    wp__http_stats_count("https://[::1]:8443", WP_E_TIMEOUT, 0);
    wp__http_stats_count("https://a.example:443", WP_E_HTTP, 0);
    wp__http_stats_count("http://odd.example:80", WP_OK, 0); /* no status: not an answer */
    assert_int_equal(stat_of("a.example", "200"), 2);
    assert_int_equal(stat_of("a.example", "304"), 1);
    assert_int_equal(stat_of("127.0.0.1:8080", "503"), 1);
    assert_int_equal(stat_of("[::1]:8443", "timeout"), 1);
    assert_int_equal(stat_of("a.example", "http"), 1);
    assert_int_equal(stat_of("odd.example", "protocol"), 1);

    /* Past WP_HTTP_STATS_HOSTS distinct hosts, new ones count as "other". */
    for (int i = 0; i < 3 * WP_HTTP_STATS_HOSTS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "https://h%d.example:443", i);
        wp__http_stats_count(key, WP_OK, 200);
    }
    assert_int_equal(stat_of("h0.example", "200"), 1);
    assert_int_equal(stat_of("h90.example", "200"), 0);
    unsigned long long other = stat_of("other", "200");
    assert_true(other >= 2 * WP_HTTP_STATS_HOSTS);
    /* A host that has its row keeps it. */
    wp__http_stats_count("https://a.example:443", WP_OK, 200);
    assert_int_equal(stat_of("a.example", "200"), 3);

    /* Statuses of known hosts fill the table; then they too fold, and nothing is lost. */
    unsigned long long before = 0;
    struct wp_http_stat rows[WP_HTTP_STATS_ROWS + 1];
    size_t n = wp__http_stats_read(rows, WP_ARRAY_SIZE(rows));
    for (size_t i = 0; i < n; i++)
        before += rows[i].count;
    for (long st = 100; st < 600; st++)
        wp__http_stats_count("https://a.example:443", WP_OK, st);
    unsigned long long after = 0;
    n = wp__http_stats_read(rows, WP_ARRAY_SIZE(rows));
    assert_true(n <= WP_HTTP_STATS_ROWS + 1);
    for (size_t i = 0; i < n; i++)
        after += rows[i].count;
    assert_int_equal(after, before + 500);

    /* A host key longer than a label is cut, not overrun. */
    char longkey[300];
    memset(longkey, 'x', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    wp__http_stats_count(longkey, WP_OK, 200);
    wp__http_stats_count(NULL, WP_OK, 200);
}

static void escaped(const char *value, const char *want)
{
    struct wp_buf b;
    wp_buf_init(&b, &wp__host_api);
    wp__metrics_label_escape(&b, value);
    assert_string_equal(b.data ? b.data : "", want);
    wp_buf_release(&b);
}

static void test_label_escape(void **state)
{
    (void)state;
    escaped("plain-id.1", "plain-id.1");
    escaped("a\"b\\c\nd", "a\\\"b\\\\c\\nd");
    escaped("caf\xc3\xa9", "caf\xc3\xa9");
    /* A name cut in the middle of a character, a stray byte, an overlong form. */
    escaped("caf\xc3", "caf\xef\xbf\xbd");
    escaped("\xff!", "\xef\xbf\xbd!");
    escaped("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
    escaped("", "");
}

static void test_empty_endpoint_text(void **state)
{
    (void)state;
    struct wp_series s;
    memset(&s, 0, sizeof(s));
    struct wp_buf b;
    wp_buf_init(&b, &wp__host_api);
    assert_true(wp__metrics_text(&s, &b));
    assert_non_null(strstr(b.data, "# TYPE wirepipe_stage_items_total counter\n"));
    assert_non_null(strstr(b.data, "# TYPE wirepipe_ack_latency_seconds histogram\n"));
    assert_non_null(strstr(b.data, "wirepipe_ack_latency_seconds_bucket{le=\"+Inf\"} "));
    assert_non_null(strstr(b.data, "wirepipe_running 0\n"));
    assert_non_null(
        strstr(b.data, "wirepipe_http_requests_total{host=\"a.example\",status=\"200\"}"));
    /* Every line is a comment or a sample; the text ends with a newline. */
    assert_int_equal(b.data[b.len - 1], '\n');
    wp_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets),   cmocka_unit_test(test_histogram_threads),
        cmocka_unit_test(test_http_stats),          cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_empty_endpoint_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
