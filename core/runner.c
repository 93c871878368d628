/*
 * The runner: threads, queues, ordering, retries, dead letters, flush and shutdown.
 */
#include "wp_internal.h"

#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deadletter.h"
#include "fsutil.h"
#include "json_hops.h"
#include "log.h"
#include "stage.h"
#include "state_lock.h"
#include "store.h"
#include "summary.h"
#include "track.h"
#include "utf8.h"

/* Entries moved per queue operation: big enough to amortise locking, small enough that a
 * slow stage does not hoard work other workers could do. */
#define BATCH_SINGLE_WORKER 64

/* ------------------------------------------------------------------------------------ */
/* Preparation                                                                           */
/* ------------------------------------------------------------------------------------ */

/* An empty run of @def: its locks and its stage slots, nothing bound yet. */
static struct wp_run *run_new(struct wp_pipeline_def *def, struct wp_loader *loader)
{
    struct wp_run *run = wp_calloc(1, sizeof(*run));
    if (!run)
        return NULL;
    run->def = def;
    run->loader = loader;
    pthread_mutex_init(&run->dead_lock, NULL);
    pthread_mutex_init(&run->store_lock, NULL);
    pthread_mutex_init(&run->input_lock, NULL);
    run->stages = wp_calloc(def->stage_count ? def->stage_count : 1, sizeof(*run->stages));
    if (!run->stages) {
        wp__run_free(run);
        return NULL;
    }
    run->stage_count = def->stage_count;
    return run;
}

struct wp_run *wp__run_prepare(struct wp_pipeline_def *def, struct wp_loader *loader,
                               struct wp_diags *diags)
{
    struct wp_run *run = run_new(def, loader);
    if (!run)
        return NULL;

    /*
     * A state folder that exists is locked before any stage is created, so a second run
     * stops before it reads anything (exit 75). A new one is locked on first use.
     */
    struct stat st;
    if (stat(def->state_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        pthread_mutex_lock(&run->store_lock);
        bool usable = wp__run_lock_state(run) || !atomic_load(&run->state_busy);
        pthread_mutex_unlock(&run->store_lock);
        if (!usable) {
            diags->tempfail = true; /* the reason is logged already */
            wp__run_free(run);
            return NULL;
        }
    }

    /* Check every stage before creating any, so all config errors show at once. */
    bool ok = true;
    for (size_t i = 0; i < def->stage_count; i++)
        ok = wp__stage_bind(run, i, diags) && ok;
    for (size_t i = 0; ok && i < def->stage_count; i++)
        ok = wp__stage_create(&run->stages[i], diags);
    if (!ok) {
        wp__run_free(run);
        return NULL;
    }
    return run;
}

bool wp__run_validate(struct wp_pipeline_def *def, struct wp_loader *loader, struct wp_diags *diags)
{
    struct wp_run *run = run_new(def, loader);
    if (!run) {
        wp__diags_add(diags, "%s: out of memory", def->path);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < def->stage_count; i++)
        ok = wp__stage_bind(run, i, diags) && ok;
    wp__run_free(run);
    return ok;
}

void wp__run_free(struct wp_run *run)
{
    if (!run)
        return;
    /* Entries still queued end unfinished: the acker outlives the queues and the stage
     * instances outlive the acker, whose thread calls them. */
    wp__queue_free(run->output);
    run->output = NULL;
    for (size_t i = 0; run->stages && i < run->stage_count; i++) {
        wp__queue_free(run->stages[i].in);
        run->stages[i].in = NULL;
    }
    wp__acker_free(run->acker);
    for (size_t i = 0; run->stages && i < run->stage_count; i++)
        wp__stage_rt_release(&run->stages[i]);
    wp__stage_rt_release(&run->decode);
    wp__stage_rt_release(&run->encode);
    wp_free(run->chain);
    wp__dead_letter_close(run);
    if (run->store)
        wp__store_close(run->store);
    wp__state_unlock(run->state_lock);
    pthread_mutex_destroy(&run->dead_lock);
    pthread_mutex_destroy(&run->store_lock);
    pthread_mutex_destroy(&run->input_lock);
    wp_free(run->stages);
    wp_free(run);
}

/* ------------------------------------------------------------------------------------ */
/* Moving items                                                                          */
/* ------------------------------------------------------------------------------------ */

/* Push a worker's results once every earlier input of this stage has been released. */
static bool release_in_order(struct wp_stage_rt *stage, uint64_t first_seq, size_t n_inputs,
                             struct wp_entry_vec *results)
{
    pthread_mutex_lock(&stage->order_lock);
    while (stage->next_release != first_seq)
        pthread_cond_wait(&stage->order_cond, &stage->order_lock);
    bool pushed = wp__stage_push_out(stage, results);
    stage->next_release += n_inputs;
    pthread_cond_broadcast(&stage->order_cond);
    pthread_mutex_unlock(&stage->order_lock);
    return pushed;
}

void wp__run_stop(struct wp_run *run)
{
    atomic_store(&run->stopping, true);
}

void wp__run_cancel(struct wp_run *run)
{
    atomic_store(&run->stopping, true);
    atomic_store(&run->cancelling, true);
}

bool wp__run_lock_state(struct wp_run *run)
{
    if (run->state_lock)
        return true;
    if (atomic_load(&run->state_busy))
        return false;
    const char *dir = run->def->state_dir;
    if (wp__mkdir_p(dir, 0700) != 0) {
        wp__log(WP_LOG_ERROR, run->def->name, "cannot create state folder '%s': %s", dir,
                strerror(errno));
        return false;
    }
    struct wp_error err = {0};
    pid_t holder = 0;
    enum wp_status status = wp__state_lock(dir, &run->state_lock, &holder, &err);
    if (status == WP_OK)
        return true;
    if (status != WP_E_UNAVAILABLE) {
        /* A folder we cannot lock (a read-only mount) is still used: the lock is a guard
         * against a second run, not a condition for the first. */
        wp__log(WP_LOG_WARN, run->def->name, "state folder not locked: %s", err.text);
        return true;
    }
    if (holder)
        wp__log(WP_LOG_ERROR, run->def->name,
                "state folder '%s' is in use by process %ld (another wirepipe run); exiting "
                "with status 75, try again when it has finished",
                dir, (long)holder);
    else
        wp__log(WP_LOG_ERROR, run->def->name,
                "state folder '%s' is in use by another wirepipe run; exiting with status 75, "
                "try again when it has finished",
                dir);
    atomic_store(&run->state_busy, true);
    wp__run_cancel(run);
    return false;
}

struct worker_arg {
    struct wp_stage_rt *stage;
    unsigned worker;
};

static void *stage_worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct wp_stage_rt *stage = wa->stage;
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, stage, wa->worker, WP_PHASE_PROCESS);
    wp_free(wa);

    /* Builtin hops are cheap per entry: batches keep their workers busy, in order. */
    size_t batch_max = stage->workers == 1 || stage->builtin ? BATCH_SINGLE_WORKER : 1;
    struct wp_entry batch[BATCH_SINGLE_WORKER];
    struct wp_entry_vec emits = {0};
    struct wp_entry_vec results = {0};
    size_t n;
    while ((n = wp__queue_pop(stage->in, batch, batch_max)) > 0) {
        if (stage->builtin) {
            stage->builtin(stage, batch, n, &results);
        } else {
            for (size_t i = 0; i < n; i++)
                wp__stage_process(stage, &ctx, &batch[i], &emits, &results);
        }
        if (!release_in_order(stage, batch[0].seq, n, &results))
            break;
    }
    wp__entry_vec_release(&emits);
    wp__entry_vec_release(&results);
    wp__stage_finish(stage);
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* The host's own hops (json_hops.c) on several threads                                  */
/* ------------------------------------------------------------------------------------ */

static void builtin_init(struct wp_run *run, struct wp_stage_rt *stage, const char *name,
                         void (*fn)(struct wp_stage_rt *, struct wp_entry *, size_t,
                                    struct wp_entry_vec *))
{
    wp__stage_rt_init(stage, run, name);
    stage->builtin = fn;
    /* Parsing and printing JSON are the costly parts of a light pipeline: use both cores. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    stage->workers = cpus > 1 ? (cpus > 4 ? 4 : (unsigned)cpus) : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Input and output threads                                                              */
/* ------------------------------------------------------------------------------------ */

/* One record from the configured input, as an entry; false at the end. */
static bool read_entry(struct wp_run *run, struct wp_entry *entry)
{
    const struct wp_run_input *in = &run->options->input;
    for (;;) {
        struct wp_error err = {0};
        json_t *item = NULL;
        char *text = NULL;
        size_t len = 0;
        uint64_t line = 0;
        enum wp_status status = in->next_text ? in->next_text(in->arg, &text, &len, &line, &err)
                                              : in->next(in->arg, &item, &line, &err);
        if (status == WP_OK) {
            *entry = (struct wp_entry){.item = item, .text = text, .text_len = len, .line = line};
            return true;
        }
        if (status == WP_E_NOTFOUND || status == WP_E_CANCELLED || atomic_load(&run->stopping))
            return false;
        char message[WP_ERROR_TEXT_MAX + 64];
        snprintf(message, sizeof(message), "%s:%llu: %s", in->name, (unsigned long long)line,
                 err.text);
        wp__dead_letter(run, "input", NULL, item, status, message, 1, line);
        json_decref(item);
        wp_free(text);
    }
}

static void *read_input(struct wp_run *run);

static void *input_thread(void *arg)
{
    struct wp_run *run = arg;
    void *result = read_input(run);
    pthread_mutex_lock(&run->input_lock);
    run->input_done = true;
    pthread_mutex_unlock(&run->input_lock);
    return result;
}

static void *read_input(struct wp_run *run)
{
    const struct wp_run_options *opt = run->options;
    if (run->stage_count && !opt->use_input && run->stages[0].ops->generate) {
        wp__stage_generate(&run->stages[0]);
        return NULL;
    }

    struct wp_queue *dest = run->chain_length ? run->chain[0]->in : run->output;
    struct wp_entry batch[BATCH_SINGLE_WORKER];
    size_t n = 0;
    uint64_t seq = 0;
    while (!atomic_load(&run->stopping) && read_entry(run, &batch[n])) {
        if (batch[n].item)
            atomic_fetch_add(&run->n_read, 1); /* text is counted line by line as decoded */
        batch[n++].seq = seq++;
        /* Input that may stall (a terminal, a pipe) is handed over record by record, so
         * an item never waits in a half-full batch for the next one to arrive. */
        if (n == BATCH_SINGLE_WORKER || opt->input.interactive) {
            bool pushed = wp__queue_push(dest, batch, n);
            n = 0;
            if (!pushed)
                break;
        }
    }
    if (n > 0)
        wp__queue_push(dest, batch, n);
    wp__queue_close(dest);
    return NULL;
}

/*
 * Writing the output failed. A reader that went away (`wirepipe ... | head`) is a normal
 * end: stop quietly, exit 0, and acknowledge nothing that was not written. Any other
 * error fails the run. Returns true for the closed pipe.
 */
static bool output_failed(struct wp_run *run, bool *output_ok)
{
    int err = errno;
    *output_ok = false;
    if (err == EPIPE) {
        atomic_store(&run->reader_gone, true);
        wp__run_cancel(run);
        return true;
    }
    wp__log(WP_LOG_ERROR, run->def->name, "cannot write output: %s", strerror(err));
    atomic_store(&run->failed, true);
    wp__run_stop(run);
    return false;
}

/*
 * Written items wait here until the output has been flushed: delivered means handed to
 * the kernel, not sitting in our stdio buffer. Flushing every batch would cost a write(2)
 * per few items, so the output is flushed, and what was written acknowledged, at most
 * every ACK_FLUSH_MS (or ACK_FLUSH_ITEMS items), and whenever the output goes idle.
 */
#define ACK_FLUSH_MS    20
#define ACK_FLUSH_ITEMS 4096

struct written {
    struct wp_track_list tracks;
    size_t items;
    uint64_t since_ns; /* when the oldest was written */
};

/* Flush the output and end the tracks of what was written with the result. */
static void written_settle(struct wp_run *run, struct written *w, bool *output_ok,
                           bool *reader_gone)
{
    const struct wp_run_output *out = &run->options->output;
    if (w->tracks.count == w->tracks.first)
        return;
    if (*output_ok && out->flush && out->flush(out->arg) != WP_OK)
        *reader_gone = output_failed(run, output_ok);
    wp__track_list_end(&w->tracks, SIZE_MAX, *output_ok ? WP_TRACK_DELIVERED : WP_TRACK_UNFINISHED);
    w->items = 0;
}

static void *output_thread(void *arg)
{
    struct wp_run *run = arg;
    const struct wp_run_output *out = &run->options->output;
    bool sink = run->stage_count && (run->stages[run->stage_count - 1].ops->flags & WP_STAGE_SINK);
    struct wp_entry batch[BATCH_SINGLE_WORKER];
    bool output_ok = true;
    bool reader_gone = false;
    struct written w = {0};
    for (;;) {
        bool waiting = w.tracks.count > w.tracks.first;
        long wait_ms = -1;
        if (waiting) {
            uint64_t age_ms = (wp__now_ns() - w.since_ns) / 1000000;
            wait_ms = age_ms >= ACK_FLUSH_MS ? 0 : (long)(ACK_FLUSH_MS - age_ms);
        }
        bool idle = false;
        size_t n = wp__queue_pop_wait(run->output, batch, WP_ARRAY_SIZE(batch), wait_ms, &idle);
        if (n == 0 && !idle)
            break; /* closed and drained */
        for (size_t i = 0; i < n; i++) {
            size_t items = batch[i].text ? batch[i].text_items : 1;
            if (!sink && output_ok) {
                enum wp_status status =
                    batch[i].text ? out->write_text(out->arg, batch[i].text, batch[i].text_len)
                                  : out->write(out->arg, batch[i].item);
                if (status != WP_OK)
                    reader_gone = output_failed(run, &output_ok);
            }
            /* Once output fails, what is left is counted as lost and never acknowledged. */
            atomic_fetch_add(output_ok ? &run->n_written : &run->n_lost, items);
            if (output_ok && batch[i].track && sink) {
                wp__track_end(batch[i].track, WP_TRACK_DELIVERED); /* the sink has it */
            } else if (output_ok && batch[i].track) {
                if (w.tracks.count == w.tracks.first)
                    w.since_ns = wp__now_ns();
                wp__track_list_push(&w.tracks, batch[i].track);
                w.items += items;
            } else {
                wp__track_end(batch[i].track, WP_TRACK_UNFINISHED);
            }
            batch[i].track = NULL;
            wp__entry_release(&batch[i]);
        }
        if (idle || w.items >= ACK_FLUSH_ITEMS ||
            (w.items && wp__now_ns() - w.since_ns >= ACK_FLUSH_MS * 1000000ULL))
            written_settle(run, &w, &output_ok, &reader_gone);
    }
    written_settle(run, &w, &output_ok, &reader_gone);
    wp__track_list_release(&w.tracks);
    if (reader_gone)
        return NULL; /* nothing more can reach a closed pipe */
    if (out->finish && out->finish(out->arg) != WP_OK && output_ok) {
        wp__log(WP_LOG_ERROR, run->def->name,
                "cannot write output: %s; items counted as out may not have been written",
                strerror(errno));
        atomic_store(&run->failed, true);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Signals                                                                               */
/* ------------------------------------------------------------------------------------ */

static void on_wakeup(int sig)
{
    (void)sig; /* only interrupts a blocking read */
}

struct signal_state {
    struct wp_run *run;
    sigset_t set;
};

/* Interrupt a blocking read of the input thread, unless it has already finished. */
static void wake_input(struct wp_run *run)
{
    pthread_mutex_lock(&run->input_lock);
    if (run->input_thread_started && !run->input_done)
        pthread_kill(run->input_thread, SIGUSR1);
    pthread_mutex_unlock(&run->input_lock);
}

/* The grace period after the first signal is over: give up what is still in flight. */
static void grace_over(struct wp_run *run)
{
    if (atomic_exchange(&run->cancelling, true))
        return;
    wp__log(WP_LOG_WARN, run->def->name,
            "grace period of %u s over: giving up the items still in flight (not acknowledged; "
            "the next run delivers them)",
            run->def->grace_period_s);
}

/*
 * SIGHUP: ask the owner whether the pipeline file changed into something valid; if so,
 * this run drains as after SIGTERM and the owner starts the new one.
 */
static bool reload_accepted(struct wp_run *run)
{
    const struct wp_run_options *opt = run->options;
    if (!opt->on_reload) {
        wp__log(WP_LOG_WARN, run->def->name, "SIGHUP ignored: this run has no file to reload");
        return false;
    }
    if (!opt->on_reload(opt->reload_arg))
        return false; /* the reason is logged; the run goes on as it is */
    wp__log(WP_LOG_WARN, run->def->name,
            "reloading: finishing items in flight (up to %u s), then starting the new pipeline",
            run->def->grace_period_s);
    atomic_store(&run->reloading, true);
    return true;
}

static void *signal_thread(void *arg)
{
    struct signal_state *ss = arg;
    struct wp_run *run = ss->run;
    unsigned received = 0;
    uint64_t grace_end = 0;
    for (;;) {
        /* Wake the input thread again every 100 ms after the first signal: a wake-up
         * that lands just before it blocks in read() would otherwise be lost. */
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000L};
        int sig = sigtimedwait(&ss->set, NULL, &tick);
        if (sig < 0) {
            if (received) {
                wake_input(run);
                if (wp__now_ns() >= grace_end)
                    grace_over(run);
            }
            continue;
        }
        if (sig == SIGUSR2)
            return NULL; /* the run is over */
        if (sig == SIGHUP) {
            if (!received && reload_accepted(run)) {
                received = 1;
                grace_end = wp__now_ns() + (uint64_t)run->def->grace_period_s * 1000000000ULL;
                wp__run_stop(run);
                wake_input(run);
            }
            continue;
        }
        if (received == 1 && atomic_exchange(&run->reloading, false)) {
            /* A stop during a reload's drain: finish the drain, then exit, no reload. */
            wp__log(WP_LOG_WARN, run->def->name, "%s during the reload: stopping instead",
                    sig == SIGINT ? "interrupted" : "terminated");
            continue;
        }
        received++;
        if (received == 1) {
            wp__log(WP_LOG_WARN, run->def->name,
                    "%s: finishing items in flight (up to %u s); signal again to exit at once",
                    sig == SIGINT ? "interrupted" : "terminated", run->def->grace_period_s);
            grace_end = wp__now_ns() + (uint64_t)run->def->grace_period_s * 1000000000ULL;
            wp__run_stop(run);
            wake_input(run);
        } else {
            wp__log(WP_LOG_ERROR, run->def->name, "second signal: exiting now");
            _exit(130);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Execute                                                                               */
/* ------------------------------------------------------------------------------------ */

/*
 * Line up the hops (decode?, stages, encode?) and give each its input queue; a generating
 * first stage has none. Each hop's output is the next hop's input, the last one's the
 * output queue.
 */
static bool make_chain(struct wp_run *run, bool generating)
{
    const struct wp_run_options *opt = run->options;
    bool sink = run->stage_count && (run->stages[run->stage_count - 1].ops->flags & WP_STAGE_SINK);
    /* An array of pointers to hops. */
    run->chain =
        wp_calloc(run->stage_count + 2, sizeof(*run->chain)); // NOLINT(bugprone-sizeof-expression)
    if (!run->chain)
        return false;
    size_t n = 0;
    if (opt->input.next_text && !generating) {
        builtin_init(run, &run->decode, "decode", wp__decode_batch);
        run->chain[n++] = &run->decode;
    }
    for (size_t i = generating ? 0 : opt->start_stage; i < run->stage_count; i++)
        run->chain[n++] = &run->stages[i];
    if (opt->output.write_text && !sink) {
        builtin_init(run, &run->encode, "encode", wp__encode_batch);
        run->chain[n++] = &run->encode;
    }
    run->chain_length = n;

    /* Text entries hold many items each, so their queues hold few entries. */
    size_t cap = run->def->queue_size;
    size_t text_cap = cap / 32 > 4 ? cap / 32 : 4;
    for (size_t i = 0; i < n; i++) {
        if (generating && run->chain[i] == &run->stages[0])
            continue;
        run->chain[i]->in = wp__queue_new(run->chain[i] == &run->decode ? text_cap : cap);
        if (!run->chain[i]->in)
            return false;
    }
    run->output = wp__queue_new(run->encode.builtin ? text_cap : cap);
    if (!run->output)
        return false;
    for (size_t i = 0; i < n; i++)
        run->chain[i]->out = i + 1 < n ? run->chain[i + 1]->in : run->output;
    return true;
}

static bool start_workers(struct wp_stage_rt *stage)
{
    stage->threads = wp_calloc(stage->workers, sizeof(*stage->threads));
    if (!stage->threads)
        return false;
    atomic_store(&stage->workers_left, stage->workers);
    for (unsigned w = 0; w < stage->workers; w++) {
        struct worker_arg *wa = wp_malloc(sizeof(*wa));
        if (!wa)
            return false;
        wa->stage = stage;
        wa->worker = w;
        if (pthread_create(&stage->threads[w], NULL, stage_worker, wa) != 0) {
            wp_free(wa);
            return false;
        }
    }
    return true;
}

int wp__run_execute(struct wp_run *run, const struct wp_run_options *options)
{
    run->options = options;
    if (options->start_stage > 0 &&
        (!options->use_input || options->start_stage >= run->stage_count)) {
        wp__log(WP_LOG_ERROR, run->def->name, "cannot start at stage %zu", options->start_stage);
        return 1;
    }
    bool generating = run->stage_count && !options->use_input && run->stages[0].ops->generate;
    if (!make_chain(run, generating)) {
        wp__log(WP_LOG_ERROR, run->def->name, "out of memory");
        return 1;
    }
    uint64_t started = wp__now_ns();

    /* Signals are taken by one thread; every other thread blocks them. */
    struct signal_state ss = {.run = run};
    pthread_t sig_thread;
    bool sig_started = false;
    sigset_t old_mask;
    if (options->handle_signals) {
        struct sigaction sa = {.sa_handler = on_wakeup};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: a blocked read returns EINTR */
        sigemptyset(&ss.set);
        sigaddset(&ss.set, SIGINT);
        sigaddset(&ss.set, SIGTERM);
        sigaddset(&ss.set, SIGHUP);
        sigaddset(&ss.set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &ss.set, &old_mask);
    }

    /* After the signal mask is set: every thread but the signal thread blocks them.
     * A source that wants to know when its items are done gets them acknowledged. */
    if (generating && run->stages[0].ops->ack) {
        run->acker = wp__acker_start(&run->stages[0]);
        if (!run->acker)
            wp__log(WP_LOG_WARN, run->stages[0].source,
                    "cannot start acknowledgements: nothing this run emits is acknowledged");
    }
    pthread_t out_thread;
    bool ok = pthread_create(&out_thread, NULL, output_thread, run) == 0;
    for (size_t i = 0; ok && i < run->chain_length; i++) {
        if (generating && run->chain[i] == &run->stages[0])
            continue;
        ok = start_workers(run->chain[i]);
    }
    if (ok) {
        ok = pthread_create(&run->input_thread, NULL, input_thread, run) == 0;
        run->input_thread_started = ok;
    }
    /* Last, so it sees every thread it may have to wake; a signal that comes earlier
     * waits, blocked, until sigwait() takes it. */
    if (ok && options->handle_signals)
        sig_started = pthread_create(&sig_thread, NULL, signal_thread, &ss) == 0;

    struct progress_state ps = {.run = run};
    pthread_t prog_thread;
    bool prog_started = ok && options->progress &&
                        pthread_create(&prog_thread, NULL, wp__progress_thread, &ps) == 0;

    if (!ok) {
        wp__log(WP_LOG_ERROR, run->def->name, "cannot start threads");
        _exit(1); /* threads already running hold queues we cannot unwind safely */
    }

    pthread_join(run->input_thread, NULL);
    for (size_t i = 0; i < run->chain_length; i++) {
        for (unsigned w = 0; run->chain[i]->threads && w < run->chain[i]->workers; w++)
            pthread_join(run->chain[i]->threads[w], NULL);
    }
    pthread_join(out_thread, NULL);
    wp__acker_stop(run->acker);
    if (prog_started) {
        atomic_store(&ps.done, true);
        pthread_join(prog_thread, NULL);
    }
    if (sig_started) {
        pthread_kill(sig_thread, SIGUSR2);
        pthread_join(sig_thread, NULL);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }

    if (options->summary)
        wp__summary_print(run, (double)(wp__now_ns() - started) / 1e9);
    if (atomic_load(&run->state_busy))
        return 75; /* EX_TEMPFAIL: nothing was taken in, try again later */
    return atomic_load(&run->failed) ? 1 : 0;
}
