/*
 * test_backoff.c - the retry policy: full-jitter bounds, distribution sanity, overflow,
 * thread use, and every Retry-After form (RFC 9110 10.2.3) including hostile ones.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "backoff.h"
#include "wp_cmocka.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110 */
#define RFC_EXAMPLE_TIME 784111777LL

static void test_bounds(void **state)
{
    (void)state;
    for (unsigned attempt = 1; attempt <= 40; attempt++) {
        unsigned long long ceiling = 500ULL << (attempt < 40 ? attempt - 1 : 39);
        if (ceiling > 30000)
            ceiling = 30000;
        for (int i = 0; i < 500; i++) {
            unsigned ms = wp__backoff_ms(attempt, 500, 30000);
            assert_true(ms <= ceiling);
        }
    }
}

static void test_edges(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(wp__backoff_ms(1, 0, 30000), 0);
        assert_int_equal(wp__backoff_ms(5, 500, 0), 0);
        /* attempt 0 is read as the first retry */
        assert_true(wp__backoff_ms(0, 100, 30000) <= 100);
        /* no overflow: huge attempt numbers and bases stay under the cap */
        assert_true(wp__backoff_ms(UINT_MAX, UINT_MAX, 1234) <= 1234);
        assert_true(wp__backoff_ms(33, 3, 40000) <= 40000);
        assert_true(wp__backoff_ms(64, 1, 7) <= 7);
        (void)wp__backoff_ms(UINT_MAX, UINT_MAX, UINT_MAX); /* any value is in range */
    }
}

static void test_distribution(void **state)
{
    (void)state;
    enum { N = 20000 };
    unsigned buckets[10] = {0};
    double sum = 0;
    unsigned lo = UINT_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        unsigned ms = wp__backoff_ms(3, 250, 30000); /* ceiling 1000 */
        assert_true(ms <= 1000);
        sum += ms;
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
        buckets[ms >= 1000 ? 9 : ms / 100]++;
    }
    double mean = sum / N;
    assert_true(mean > 450 && mean < 550);
    assert_true(lo < 20);
    assert_true(hi > 980);
    /* uniform: every tenth of the range gets roughly a tenth of the draws */
    for (int b = 0; b < 10; b++)
        assert_true(buckets[b] > N / 10 / 2 && buckets[b] < N / 10 * 2);
}

static void *draw_many(void *arg)
{
    unsigned *out = arg;
    for (int i = 0; i < 1000; i++)
        out[i] = wp__backoff_ms(4, 100, 800);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    static unsigned draws[4][1000];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw_many, draws[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 1000; j++)
            assert_true(draws[i][j] <= 800);
    }
    /* each thread has its own seed: two threads do not draw the same sequence */
    assert_true(memcmp(draws[0], draws[1], sizeof(draws[0])) != 0);
}

static long parse_ok(const char *value, long long now, unsigned cap)
{
    long ms = -12345;
    assert_true(wp__retry_after_parse(value, now, cap, &ms));
    assert_true(ms >= 0 && ms <= (long)cap);
    return ms;
}

static void parse_bad(const char *value)
{
    long ms = -12345;
    assert_false(wp__retry_after_parse(value, RFC_EXAMPLE_TIME, 30000, &ms));
    assert_int_equal(ms, -12345);
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1", 0, 30000), 1000);
    assert_int_equal(parse_ok("0", 0, 30000), 0);
    assert_int_equal(parse_ok(" 5 ", 0, 30000), 5000);
    assert_int_equal(parse_ok("120", 0, 30000), 30000);
    assert_int_equal(parse_ok("99999999999999999999999999", 0, 30000), 30000);
    assert_int_equal(parse_ok("4294967296", 0, 30000), 30000);
    assert_int_equal(parse_ok("29", 0, 30000), 29000);
}

static void test_retry_after_dates(void **state)
{
    (void)state;
    long long now = RFC_EXAMPLE_TIME - 20;
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT", now, 60000), 20000);
    assert_int_equal(parse_ok("Sunday, 06-Nov-94 08:49:37 GMT", now, 60000), 20000);
    assert_int_equal(parse_ok("Sun Nov  6 08:49:37 1994", now, 60000), 20000);
    /* a date in the past means "now" */
    assert_int_equal(parse_ok("Sun, 06 Nov 1994 08:49:37 GMT", now + 3600, 60000), 0);
    /* an absurd date is clamped to the cap (the libcurl figure would be 343,829,783 s) */
    assert_int_equal(parse_ok("Wed, 21 Oct 2037 07:28:00 GMT", RFC_EXAMPLE_TIME, 30000), 30000);
    assert_int_equal(parse_ok("Fri, 31 Dec 9999 23:59:59 GMT", RFC_EXAMPLE_TIME, 30000), 30000);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    parse_bad("-1");
    parse_bad("-0");
    parse_bad("");
    parse_bad("   ");
    parse_bad("garbage");
    parse_bad("1.5");
    parse_bad("+3");
    parse_bad("5s");
    parse_bad("0x10");
    parse_bad("Sun, 06 Nov 1994 08:49:37");     /* no GMT */
    parse_bad("Sun, 06 Foo 1994 08:49:37 GMT"); /* no such month */
    parse_bad("Sun, 32 Nov 1994 08:49:37 GMT");
    parse_bad("Sun, 06 Nov 1994 25:49:37 GMT");
    parse_bad("Sun, 06 Nov 1994 08:49:37 GMT trailing");
    parse_bad("tomorrow");
    parse_bad("1\n2");
    long ms = 0;
    assert_false(wp__retry_after_parse(NULL, 0, 1000, &ms));
    assert_false(wp__retry_after_parse("1", 0, 1000, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_dates),
        cmocka_unit_test(test_retry_after_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
