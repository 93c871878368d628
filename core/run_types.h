/*
 * run_types.h - the structures of a running pipeline, shared by runner.c (threads and
 * queues), host_api.c (what plugins call) and deadletter.c. Not for plugins.
 */
#ifndef WP_RUN_TYPES_H
#define WP_RUN_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <wirepipe/plugin.h>

#include "pipeline.h"
#include "plugin_loader.h"
#include "queue.h"
#include "runner.h"

struct wp_store;

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
    atomic_ullong n_discarded; /* held items an emit-only stage says it will never emit */
    atomic_ullong busy_ns;

    pthread_mutex_t metrics_lock;
    struct wp_stage_metric metrics[WP_STAGE_METRICS_MAX];
    size_t metric_count;
};

/* The per-call context behind struct wp_ctx. */
struct wp_run_ctx {
    struct wp_ctx pub; /* first: plugins get &ctx->pub */
    struct wp_stage_rt *stage;
    unsigned worker;
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

struct wp_run {
    struct wp_pipeline_def *def;
    struct wp_loader *loader;
    struct wp_stage_rt *stages;
    size_t stage_count;
    struct wp_queue *output;   /* after the last stage */
    struct wp_stage_rt decode; /* input text -> items, when the input gives text */
    struct wp_stage_rt encode; /* items -> output text, when the output takes text */
    /* Every hop in order: decode?, the stages, encode? */
    struct wp_stage_rt **chain;
    size_t chain_length;
    const struct wp_run_options *options;

    atomic_bool stopping; /* stop taking input, drain */
    atomic_bool failed;   /* exit 1 */
    atomic_ullong n_read, n_written, n_dead;
    atomic_ullong n_lost; /* items after an output failure, never written */

    pthread_mutex_t dead_lock;
    FILE *dead_file;
    bool dead_open_failed;

    pthread_mutex_t store_lock;
    struct wp_store *store;
    bool store_failed;
    bool state_dir_made;

    pthread_t input_thread;
    bool input_thread_started;
    /* Held while the signal thread wakes the input thread, so it never signals a thread
     * that has finished (and may have been joined). */
    pthread_mutex_t input_lock;
    bool input_done;
};

/* host_api.c */
extern const struct wp_host_api wp__host_api;
void wp__ctx_init(struct wp_run_ctx *ctx, struct wp_stage_rt *stage, unsigned worker);
/* Forget the previous call's emits, failure and retry request. */
void wp__ctx_reset(struct wp_run_ctx *ctx, struct wp_entry_vec *emits, unsigned attempt,
                   uint64_t line);
/* Push @vec downstream of @stage in release order; empties @vec. */
bool wp__stage_push_out(struct wp_stage_rt *stage, struct wp_entry_vec *vec);

/* deadletter.c */
void wp__dead_letter(struct wp_run *run, const char *stage_id, const char *plugin,
                     const json_t *item, enum wp_status code, const char *message,
                     unsigned attempts, uint64_t line);
void wp__dead_letter_close(struct wp_run *run);

#endif /* WP_RUN_TYPES_H */
