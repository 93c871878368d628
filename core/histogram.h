/*
 * histogram.h - a latency histogram with fixed buckets that many threads observe into and
 * one reads, with atomics only (no lock per observation).
 *
 * Buckets are kept as plain per-bucket counts; a reader adds them up into Prometheus's
 * cumulative form, so the +Inf bucket always equals the count it reports even while
 * observations go on. The sum may be a few observations ahead of the buckets.
 */
#ifndef WP_HISTOGRAM_H
#define WP_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Buckets: 5 ms to 5 min (histogram.c lists the bounds). */
#define WP_HISTOGRAM_BUCKETS 15

struct wp_histogram {
    atomic_ullong counts[WP_HISTOGRAM_BUCKETS + 1]; /* the last: above every bound */
    atomic_ullong sum_ns;
};

/* What a reader sees: cumulative counts, as exported. */
struct wp_histogram_snapshot {
    unsigned long long cumulative[WP_HISTOGRAM_BUCKETS + 1]; /* [BUCKETS] is +Inf = count */
    double sum_seconds;
};

/* The upper bound of bucket @i (< WP_HISTOGRAM_BUCKETS), in seconds. */
double wp__histogram_bound(size_t i);

/* wp__histogram_observe() - count one duration of @ns nanoseconds. Thread-safe. */
void wp__histogram_observe(struct wp_histogram *h, uint64_t ns);

/* wp__histogram_read() - the cumulative counts and sum of @h into @out. Thread-safe. */
void wp__histogram_read(struct wp_histogram *h, struct wp_histogram_snapshot *out);

#endif /* WP_HISTOGRAM_H */
