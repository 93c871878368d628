/*
 * runner.h - prepare a pipeline (load plugins, validate configs, create stage instances)
 * and run items through it.
 *
 * Threads: one input thread (reads --input/stdin, or calls the first stage's generate),
 * the workers of each stage (stage "workers", 1 by default), one output thread, and a
 * signal thread. Bounded queues between them give backpressure. Output order equals input
 * order whatever the worker counts, because each stage releases results in the order of
 * its input sequence numbers.
 */
#ifndef WP_RUNNER_H
#define WP_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "diag.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "stage.h"

struct wp_acker;
struct wp_state_lock;
struct wp_store;

/*
 * Where items come from when the first stage does not generate them (or --input was
 * given). next() returns WP_OK with a new *@item, WP_E_NOTFOUND at the end, or another
 * status for a bad record: then *@item may hold what can be kept of it (a string) and
 * @err says why; the record is dead-lettered and reading goes on. *@line is the record's
 * line number (0 when not line-based).
 */
struct wp_run_input {
    enum wp_status (*next)(void *arg, json_t **item, uint64_t *line, struct wp_error *err);
    /*
     * Or, instead of next(): one JSON text per call (a new wp_malloc'd *@text), which the
     * host parses on several threads. Returns WP_OK, WP_E_NOTFOUND at the end,
     * WP_E_CANCELLED when interrupted, or another status for a record to dead-letter.
     */
    enum wp_status (*next_text)(void *arg, char **text, size_t *len, uint64_t *line,
                                struct wp_error *err);
    void *arg;
    const char *name; /* "stdin", the file name: shown in messages */
    bool interactive; /* may stall between records (terminal, pipe): no batching */
};

/*
 * Where items leaving the last stage go (unless it is a sink). write() borrows @item; or,
 * instead, write_text() gets each item as one compact JSON line ending in a newline,
 * encoded by the host on several threads.
 */
struct wp_run_output {
    enum wp_status (*write)(void *arg, json_t *item);
    enum wp_status (*write_text)(void *arg, const char *text, size_t len);
    /* Optional: hand what was written to the kernel; called before written items are
     * acknowledged to their source, so a buffer lost with the process holds none of them. */
    enum wp_status (*flush)(void *arg);
    enum wp_status (*finish)(void *arg);
    void *arg;
};

struct wp_run_options {
    bool use_input; /* feed the first stage from @input even if it can generate */
    struct wp_run_input input;
    struct wp_run_output output;
    bool progress;     /* progress line on stderr */
    bool summary;      /* per-stage summary at the end */
    bool show_metrics; /* plugin metrics in the summary */
    bool handle_signals;
    /*
     * With @use_input: the input enters at stage @start_stage (0 = the first); the stages
     * before it are created but take nothing. `wirepipe replay` re-runs dead letters from
     * the stage that failed them this way.
     */
    size_t start_stage;
    /* When set: dead letters go to this file instead of the pipeline's "dead_letter". */
    const char *dead_letter_path;
    /* `--once`: a polling source (poll_every) runs one poll, then the run ends. */
    bool once;
    /*
     * SIGHUP: called on the signal thread; true when a valid new pipeline is ready, so
     * this run drains and returns for the owner to start it. NULL: SIGHUP is ignored.
     */
    bool (*on_reload)(void *arg);
    void *reload_arg;
};

/*
 * A run: its stages, queues, counters and shared files. Read by stage.c, host_api.c,
 * deadletter.c and summary.c; its threads belong to runner.c.
 */
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

    atomic_bool stopping;    /* stop taking input, drain */
    atomic_bool cancelling;  /* the grace period is over: give up what is in flight */
    atomic_bool failed;      /* exit 1 */
    atomic_bool state_busy;  /* another process holds the state folder: exit 75 */
    atomic_bool reader_gone; /* stdout was closed by its reader (| head): a quiet end */
    atomic_bool reloading;   /* SIGHUP accepted: the owner starts the new pipeline after */
    /* Tells a generating first stage with an ack() op which of its items are done. */
    struct wp_acker *acker;
    atomic_ullong n_read, n_written, n_dead;
    atomic_ullong n_lost; /* items after an output failure, never written */

    pthread_mutex_t dead_lock;
    FILE *dead_file;
    bool dead_open_failed;

    pthread_mutex_t store_lock;
    struct wp_state_lock *state_lock; /* held from first use of the state folder */
    struct wp_store *store;
    bool store_failed;

    pthread_t input_thread;
    bool input_thread_started;
    /* Held while the signal thread wakes the input thread, so it never signals a thread
     * that has finished (and may have been joined). */
    pthread_mutex_t input_lock;
    bool input_done;
};

/*
 * wp__run_prepare() - load each stage's plugin, validate its config, create its instance.
 * Returns: the run, or NULL with every problem in @diags (exit 78).
 * Ownership: @def and @loader are borrowed and must outlive the run.
 */
struct wp_run *wp__run_prepare(struct wp_pipeline_def *def, struct wp_loader *loader,
                               struct wp_diags *diags);

/*
 * wp__run_validate() - what wp__run_prepare() checks (plugins found, stage configs valid),
 * without creating stages or touching the state folder, for a reload while the old run
 * still holds it. Returns true, or false with every problem in @diags.
 */
bool wp__run_validate(struct wp_pipeline_def *def, struct wp_loader *loader,
                      struct wp_diags *diags);

/*
 * wp__run_execute() - run to the end of input.
 * Returns the exit status: 0 all items done, 1 some items dead-lettered, a stage failed
 * fatally or output failed.
 */
int wp__run_execute(struct wp_run *run, const struct wp_run_options *options);

/* wp__run_stop() - stop taking input and drain (a signal, a fatal stage). */
void wp__run_stop(struct wp_run *run);
/* wp__run_cancel() - stop, and give up the items in flight (they stay unacknowledged). */
void wp__run_cancel(struct wp_run *run);

/*
 * wp__run_lock_state() - make the state folder and take its lock, once per run (under
 * store_lock). False when it cannot be used; when another process holds it, the run is
 * cancelled and ends with exit status 75.
 */
bool wp__run_lock_state(struct wp_run *run);

/* wp__run_free() - destroy the stage instances and free the run. */
void wp__run_free(struct wp_run *run);

#endif /* WP_RUNNER_H */
