/*
 * metrics_series.h - what /metrics reports, kept across runs: every stage id seen since the
 * endpoint started, each with the counters of the runs that have ended ("done") and, while
 * a run is attached, that run's live stage. A counter's value is done + live, so it stays
 * monotonic across reloads; gauges (queue depth, held items, plugin "...depth" metrics)
 * come from the live run only.
 *
 * Thread safety: none of its own; the endpoint calls everything under its lock. Live
 * stages are read through their atomics and metrics_lock.
 */
#ifndef WP_METRICS_SERIES_H
#define WP_METRICS_SERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "stage.h"

struct wp_run;

/* Plugin metric names kept per stage id across runs; later names are not exported. */
#define WP_SERIES_PLUGIN_MAX (2 * WP_STAGE_METRICS_MAX)

struct wp_stage_counts {
    unsigned long long in, out, dropped, failed, skipped, retried, cancelled;
    unsigned long long busy_ns, polls, poll_failures;
};

struct wp_run_counts {
    unsigned long long read, written, dead, lost;
};

/* A plugin metric as exported: counters summed over runs, gauges from the live run. */
struct wp_series_metric {
    char name[sizeof(((struct wp_stage_metric *)0)->name)];
    long long value;
    bool gauge;
};

struct wp_series_stage {
    char *id;
    bool source;              /* a generating first stage, in some run */
    struct wp_stage_rt *live; /* in the attached run, or NULL */
    struct wp_stage_counts done;
    struct wp_stage_metric plugin[WP_SERIES_PLUGIN_MAX]; /* counters of ended runs */
    size_t plugin_count;
};

struct wp_series {
    struct wp_series_stage *stages; /* in the order first seen */
    size_t count, alloc;
    struct wp_run_counts done;
    struct wp_run *run; /* attached, or NULL */
    unsigned long long runs;
};

/* wp__series_attach() - read @run's stages from now on (adding ids not seen before). */
void wp__series_attach(struct wp_series *s, struct wp_run *run);
/* wp__series_detach() - the attached run has ended: add its counters to done, forget it. */
void wp__series_detach(struct wp_series *s);
void wp__series_release(struct wp_series *s);

/* Done + live counters of one stage id, and of the runs. */
void wp__series_stage_counts(const struct wp_series_stage *st, struct wp_stage_counts *out);
void wp__series_run_counts(const struct wp_series *s, struct wp_run_counts *out);

/*
 * wp__series_plugin_metrics() - @st's plugin metrics, done + live merged by name, into
 * @out (room for WP_SERIES_PLUGIN_MAX + WP_STAGE_METRICS_MAX). Returns how many.
 */
size_t wp__series_plugin_metrics(const struct wp_series_stage *st, struct wp_series_metric *out);

/* A plugin metric exported as a gauge: its name ends in "depth" (an outbox, a backlog). */
bool wp__series_metric_is_gauge(const char *name);

/*
 * wp__series_queue_depth() - entries waiting in front of live stage @stage. The queue is
 * made when the run starts, after attach, so it is read only once the stage has taken
 * an item (n_in is written by its workers, which start after the queue is made): 0
 * before that.
 */
unsigned long long wp__series_queue_depth(struct wp_stage_rt *stage);

#endif /* WP_METRICS_SERIES_H */
