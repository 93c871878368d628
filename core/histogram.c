/*
 * Fixed-bucket latency histogram (see histogram.h).
 */
#include "wp_internal.h"

#include "histogram.h"

/*
 * Upper bounds in seconds: a story is acknowledged in milliseconds when all is well, and
 * in minutes when a slow webhook or translation holds it back.
 */
static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                2.5,   5,    10,    30,   60,  120,  300};
_Static_assert(WP_ARRAY_SIZE(bounds) == WP_HISTOGRAM_BUCKETS, "one bound per bucket");

double wp__histogram_bound(size_t i)
{
    return i < WP_HISTOGRAM_BUCKETS ? bounds[i] : 0.0;
}

void wp__histogram_observe(struct wp_histogram *h, uint64_t ns)
{
    size_t i = 0;
    double seconds = (double)ns / 1e9;
    while (i < WP_HISTOGRAM_BUCKETS && seconds > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void wp__histogram_read(struct wp_histogram *h, struct wp_histogram_snapshot *out)
{
    unsigned long long total = 0;
    for (size_t i = 0; i <= WP_HISTOGRAM_BUCKETS; i++) {
        total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->cumulative[i] = total;
    }
    out->sum_seconds = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
}
