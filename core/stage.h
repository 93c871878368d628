/*
 * stage.h - one stage of a running pipeline: its plugin instance, the per-call contexts
 * its callbacks get, how an item is offered to it (outcomes, retries, snapshots, dead
 * letters) and how its results are pushed downstream in input order.
 *
 * Used by runner.c (which owns the threads and queues) and host_api.c (what plugins call
 * back into); neither calls the other.
 */
#ifndef WP_STAGE_H
#define WP_STAGE_H

#include <pthread.h>
#include <stdatomic.h>

#include <wirepipe/plugin.h>

#include "pipeline.h"
#include "plugin_loader.h"
#include "queue.h"
#include "track.h"

struct wp_run;

#define WP_STAGE_METRICS_MAX 32

struct wp_stage_metric {
    char name[48];
    long long value;
};

struct wp_stage_rt {
    struct wp_run *run;
    /*
     * Set for the host's own hops (decoding input text, encoding output text): called
     * with a batch instead of a plugin. It consumes the @count entries and appends what
     * goes on to @results.
     */
    void (*builtin)(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                    struct wp_entry_vec *results);
    size_t index;
    struct wp_stage_def *def;
    const struct wp_plugin *plugin;
    const struct wp_stage_ops *ops;
    void *instance;
    bool created;
    char source[96]; /* log prefix "pipeline/stage" */

    struct wp_queue *in;  /* NULL for a generating first stage */
    struct wp_queue *out; /* the next stage's input, or the output queue */
    pthread_t *threads;
    unsigned workers;
    atomic_uint workers_left; /* the last worker to finish flushes and closes @out */

    /* Results leave in input order: a worker holding input seq s waits for next_release. */
    pthread_mutex_t order_lock;
    pthread_cond_t order_cond;
    uint64_t next_release;
    uint64_t out_seq;

    atomic_bool fatal;

    /* Counters for the summary. */
    atomic_ullong n_in, n_out, n_dropped, n_failed, n_skipped, n_retries;
    /* Items an emit-only stage took without emitting, less those it emitted later or
     * discarded with discard_held(): what it still holds. */
    atomic_llong n_held;
    atomic_ullong busy_ns;
    /* Items given up unfinished: cancelled after the grace period, or after a fatal error. */
    atomic_ullong n_cancelled;

    /* A polling source (poll_every): its interval, 0 when it runs once. */
    unsigned long long poll_interval_ms;
    atomic_ullong n_polls, n_polls_failed;
    /* wp__now_ns() when its polls started failing (generate() answered RETRY), 0 while
     * they succeed: /health reports a source failing for too long. */
    atomic_ullong failing_since_ns;

    /* The tracks of what an emit-only stage holds, oldest first (discard_held ends them). */
    pthread_mutex_t held_lock;
    struct wp_track_list held;

    pthread_mutex_t metrics_lock;
    struct wp_stage_metric metrics[WP_STAGE_METRICS_MAX];
    size_t metric_count;
};

/* Which callback a context was made for: host calls check it to refuse misuse. */
enum wp_call_phase {
    WP_PHASE_CREATE = 1,
    WP_PHASE_PROCESS,
    WP_PHASE_GENERATE,
    WP_PHASE_FLUSH,
    WP_PHASE_ACK,
};

/* The per-call context behind struct wp_ctx. */
struct wp_run_ctx {
    struct wp_ctx pub; /* first: plugins get &ctx->pub */
    struct wp_stage_rt *stage;
    unsigned worker;
    enum wp_call_phase phase;
    pthread_t thread; /* the thread the callback runs on: emit() is legal only there */
    /* NULL while generating or flushing: then emit pushes downstream at once. */
    struct wp_entry_vec *emits;
    uint64_t line; /* input line of the item being processed, for dead letters */
    unsigned attempt;
    enum wp_status fail_code;
    char fail_text[WP_ERROR_TEXT_MAX * 2];
    bool failed;
    unsigned retry_ms;
    bool retry_set;
    char source[112]; /* "pipeline/stage[worker]" */
};

/* What every hop needs, plugin stage or builtin: its run, locks and log prefix. */
void wp__stage_rt_init(struct wp_stage_rt *stage, struct wp_run *run, const char *name);
/* Destroy the plugin instance (if created) and free what the hop holds. */
void wp__stage_rt_release(struct wp_stage_rt *stage);

/*
 * wp__stage_bind() - find stage @index's plugin and stage ops and validate its config.
 * Returns false with the reasons in @diags.
 */
bool wp__stage_bind(struct wp_run *run, size_t index, struct wp_diags *diags);
/* wp__stage_create() - call the plugin's create(); false with the reason in @diags. */
bool wp__stage_create(struct wp_stage_rt *stage, struct wp_diags *diags);

void wp__ctx_init(struct wp_run_ctx *ctx, struct wp_stage_rt *stage, unsigned worker,
                  enum wp_call_phase phase);
/* Forget the previous call's emits, failure and retry request. */
void wp__ctx_reset(struct wp_run_ctx *ctx, struct wp_entry_vec *emits, unsigned attempt,
                   uint64_t line);

/* Push @vec downstream of @stage, numbering it in release order; empties @vec. */
bool wp__stage_push_out(struct wp_stage_rt *stage, struct wp_entry_vec *vec);

/*
 * wp__stage_process() - offer @entry's item to the stage until it is done with it
 * (retrying as asked); what goes on is appended to @results. Steals the entry's item.
 */
void wp__stage_process(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, struct wp_entry *entry,
                       struct wp_entry_vec *emits, struct wp_entry_vec *results);

/* wp__stage_finish() - one worker is done: the last flushes the stage and closes @out. */
void wp__stage_finish(struct wp_stage_rt *stage);

/*
 * wp__stage_generate() - run a generating first stage to its end on the calling thread: one
 * generate(), or, for a source that called poll_every() (and without --once), one per
 * interval until the run stops.
 */
void wp__stage_generate(struct wp_stage_rt *stage);

#endif /* WP_STAGE_H */
