/*
 * summary.h - the per-stage summary printed at the end of a run, and the progress line
 * shown on a terminal while it runs.
 *
 * For every stage the columns add up: in = (passed on) + dropped + failed + skipped +
 * held, where "held" counts items an emit-only stage took and neither emitted later nor
 * discarded with discard_held(); "out" also counts what a stage emitted beyond its input
 * (fan-out, flush).
 */
#ifndef WP_SUMMARY_H
#define WP_SUMMARY_H

#include <stdatomic.h>

struct wp_run;

struct progress_state {
    struct wp_run *run;
    atomic_bool done;
};

void wp__summary_print(struct wp_run *run, double seconds);

/*
 * wp__summary_poll() - after poll @poll of a polling source: one line (one JSON object
 * with --log-format json) with what the poll brought, and the counters so far.
 */
void wp__summary_poll(struct wp_run *run, unsigned long long poll, double seconds);

/* Thread body: a progress line every half second until @arg's done is set. */
void *wp__progress_thread(void *arg);

#endif /* WP_SUMMARY_H */
