/*
 * The runner: threads, queues, ordering, retries, dead letters, flush and shutdown.
 */
#include "wp_internal.h"

#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"
#include "run_types.h"
#include "store.h"
#include "utf8.h"

/* Entries moved per queue operation: big enough to amortise locking, small enough that a
 * slow stage does not hoard work other workers could do. */
#define BATCH_SINGLE_WORKER   64
#define DEFAULT_RETRY_BASE_MS 200
#define DEFAULT_RETRY_CAP_MS  30000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------ */
/* Preparation                                                                           */
/* ------------------------------------------------------------------------------------ */

/* What every hop needs, plugin stage or builtin: its run, locks and log prefix. */
static void stage_rt_init(struct wp_stage_rt *stage, struct wp_run *run, const char *name)
{
    stage->run = run;
    pthread_mutex_init(&stage->order_lock, NULL);
    pthread_cond_init(&stage->order_cond, NULL);
    pthread_mutex_init(&stage->metrics_lock, NULL);
    snprintf(stage->source, sizeof(stage->source), "%s/%s", run->def->name, name);
}

static void stage_rt_release(struct wp_stage_rt *stage)
{
    if (!stage->run)
        return; /* never initialised */
    if (stage->created && stage->ops->destroy)
        stage->ops->destroy(stage->instance);
    pthread_mutex_destroy(&stage->order_lock);
    pthread_cond_destroy(&stage->order_cond);
    pthread_mutex_destroy(&stage->metrics_lock);
    wp__queue_free(stage->in);
    wp_free(stage->threads);
}

static bool stage_init(struct wp_run *run, size_t index, struct wp_diags *diags)
{
    struct wp_stage_rt *stage = &run->stages[index];
    struct wp_stage_def *def = &run->def->stages[index];
    stage_rt_init(stage, run, def->id);
    stage->index = index;
    stage->def = def;

    char place[256];
    snprintf(place, sizeof(place), "%s: stages[%zu].plugin", run->def->path, index);
    stage->plugin = wp__loader_get(run->loader, def->plugin, place, diags);
    if (!stage->plugin)
        return false;
    stage->ops = wp__loader_find_stage(stage->plugin, def->stage);
    if (!stage->ops) {
        wp__diags_add(diags, "%s: stages[%zu].stage: plugin '%s' has no stage '%s'", run->def->path,
                      index, stage->plugin->name, def->stage);
        return false;
    }
    if (def->workers > 1 && !(stage->ops->flags & WP_STAGE_THREAD_SAFE)) {
        wp__diags_add(diags,
                      "%s: stages[%zu].workers: stage '%s' is not thread-safe; workers must "
                      "be 1",
                      run->def->path, index, stage->ops->name);
        return false;
    }
    stage->workers = def->workers;
    return wp__config_validate(run->def, index, stage->ops->config, diags) == WP_OK;
}

static bool stage_create(struct wp_stage_rt *stage, struct wp_diags *diags)
{
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, stage, 0);
    wp__ctx_reset(&ctx, NULL, 1, 0);
    enum wp_status status = stage->ops->create(&ctx.pub, stage->def->config, &stage->instance);
    if (status != WP_OK) {
        wp__diags_add(diags, "%s: stages[%zu] '%s': cannot create stage: %s", stage->run->def->path,
                      stage->index, stage->def->id,
                      ctx.failed ? ctx.fail_text : wp_status_str(status));
        return false;
    }
    stage->created = true;
    return true;
}

struct wp_run *wp__run_prepare(struct wp_pipeline_def *def, struct wp_loader *loader,
                               struct wp_diags *diags)
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

    /* Check every stage before creating any, so all config errors show at once. */
    bool ok = true;
    for (size_t i = 0; i < def->stage_count; i++)
        ok = stage_init(run, i, diags) && ok;
    for (size_t i = 0; ok && i < def->stage_count; i++)
        ok = stage_create(&run->stages[i], diags);
    if (!ok) {
        wp__run_free(run);
        return NULL;
    }
    return run;
}

void wp__run_free(struct wp_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->stage_count; i++)
        stage_rt_release(&run->stages[i]);
    stage_rt_release(&run->decode);
    stage_rt_release(&run->encode);
    wp_free(run->chain);
    wp__queue_free(run->output);
    wp__dead_letter_close(run);
    if (run->store)
        wp__store_close(run->store);
    pthread_mutex_destroy(&run->dead_lock);
    pthread_mutex_destroy(&run->store_lock);
    pthread_mutex_destroy(&run->input_lock);
    wp_free(run->stages);
    wp_free(run);
}

/* ------------------------------------------------------------------------------------ */
/* Moving items                                                                          */
/* ------------------------------------------------------------------------------------ */

bool wp__stage_push_out(struct wp_stage_rt *stage, struct wp_entry_vec *vec)
{
    for (size_t i = 0; i < vec->count; i++)
        vec->v[i].seq = stage->out_seq++;
    atomic_fetch_add(&stage->n_out, vec->count);
    bool pushed = vec->count == 0 || wp__queue_push(stage->out, vec->v, vec->count);
    vec->count = 0; /* the queue owns the items now, or released them */
    return pushed;
}

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

static void run_stop(struct wp_run *run)
{
    atomic_store(&run->stopping, true);
}

/* The item failed for good at this stage: apply the stage's on_error. */
static void stage_item_failed(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, json_t *item,
                              enum wp_status code, const char *message)
{
    switch (stage->def->on_error) {
        case WP_ON_ERROR_SKIP:
            atomic_fetch_add(&stage->n_skipped, 1);
            wp__log(WP_LOG_WARN, ctx->source, "skipped an item: %s", message);
            return;
        case WP_ON_ERROR_FAIL:
            wp__log(WP_LOG_ERROR, ctx->source, "stopping the pipeline (on_error: fail)");
            run_stop(stage->run);
            break;
        case WP_ON_ERROR_DEAD_LETTER:
            break;
    }
    atomic_fetch_add(&stage->n_failed, 1);
    wp__dead_letter(stage->run, stage->def->id, stage->plugin->name, item, code, message,
                    ctx->attempt, ctx->line);
}

/* Sleep @ms unless the run is stopping; checked every 50 ms. */
static void pause_ms(struct wp_run *run, unsigned ms)
{
    while (ms > 0 && !atomic_load(&run->stopping)) {
        unsigned step = ms < 50 ? ms : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Offer one item to the stage until it is done with it; results go to @results. */
static void process_entry(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, struct wp_entry *entry,
                          struct wp_entry_vec *emits, struct wp_entry_vec *results)
{
    json_t *item = entry->item;
    atomic_fetch_add(&stage->n_in, 1);

    if (atomic_load(&stage->fatal)) {
        wp__ctx_reset(ctx, NULL, 1, entry->line);
        stage_item_failed(stage, ctx, item, WP_E_CANCELLED,
                          "stage stopped after a fatal error; item not processed");
        json_decref(item);
        return;
    }

    for (unsigned attempt = 1;; attempt++) {
        wp__ctx_reset(ctx, emits, attempt, entry->line);
        uint64_t start = now_ns();
        enum wp_outcome outcome = stage->ops->process(stage->instance, &ctx->pub, item);
        atomic_fetch_add(&stage->busy_ns, now_ns() - start);
        const char *why = ctx->failed ? ctx->fail_text : "no reason given by the stage";
        enum wp_status code = ctx->failed ? ctx->fail_code : WP_E_INVALID;

        switch (outcome) {
            case WP_OUTCOME_OK:
                if (emits->count == 0 && !(stage->ops->flags & WP_STAGE_EMIT_ONLY)) {
                    wp__entry_vec_push(results,
                                       (struct wp_entry){.item = item, .line = entry->line});
                    return;
                }
                for (size_t i = 0; i < emits->count; i++)
                    wp__entry_vec_push(results, emits->v[i]);
                emits->count = 0;
                json_decref(item);
                return;
            case WP_OUTCOME_DROP:
                atomic_fetch_add(&stage->n_dropped, 1);
                break;
            case WP_OUTCOME_RETRY:
                wp__entry_vec_clear(emits);
                if (attempt < stage->def->max_attempts && !atomic_load(&stage->run->stopping)) {
                    atomic_fetch_add(&stage->n_retries, 1);
                    unsigned delay = ctx->retry_set ? ctx->retry_ms
                                                    : wp__backoff_ms(attempt, DEFAULT_RETRY_BASE_MS,
                                                                     DEFAULT_RETRY_CAP_MS);
                    pause_ms(stage->run, delay);
                    continue;
                }
                {
                    char message[WP_ERROR_TEXT_MAX * 3];
                    snprintf(message, sizeof(message), "gave up after %u attempts: %s", attempt,
                             why);
                    stage_item_failed(stage, ctx, item, ctx->failed ? code : WP_E_UNAVAILABLE,
                                      message);
                }
                break;
            case WP_OUTCOME_REJECT:
                stage_item_failed(stage, ctx, item, code, why);
                break;
            case WP_OUTCOME_FATAL:
            default:
                wp__log(WP_LOG_ERROR, ctx->source, "fatal: %s; stopping the pipeline", why);
                atomic_store(&stage->fatal, true);
                atomic_store(&stage->run->failed, true);
                run_stop(stage->run);
                stage_item_failed(stage, ctx, item, code, why);
                break;
        }
        wp__entry_vec_clear(emits);
        json_decref(item);
        return;
    }
}

/* End of this stage's input: the last worker out flushes and closes the next queue. */
static void stage_finish(struct wp_stage_rt *stage)
{
    if (atomic_fetch_sub(&stage->workers_left, 1) != 1)
        return;
    if (stage->ops && stage->ops->flush && !atomic_load(&stage->fatal)) {
        struct wp_run_ctx ctx;
        wp__ctx_init(&ctx, stage, 0);
        wp__ctx_reset(&ctx, NULL, 1, 0);
        enum wp_outcome outcome = stage->ops->flush(stage->instance, &ctx.pub);
        if (outcome == WP_OUTCOME_FATAL || outcome == WP_OUTCOME_REJECT) {
            wp__log(WP_LOG_ERROR, ctx.source, "flush failed: %s",
                    ctx.failed ? ctx.fail_text : "no reason given by the stage");
            atomic_store(&stage->run->failed, true);
        }
    }
    wp__queue_close(stage->out);
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
    wp__ctx_init(&ctx, stage, wa->worker);
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
                process_entry(stage, &ctx, &batch[i], &emits, &results);
        }
        if (!release_in_order(stage, batch[0].seq, n, &results))
            break;
    }
    wp__entry_vec_release(&emits);
    wp__entry_vec_release(&results);
    stage_finish(stage);
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* The host's own hops: JSON text in and out, parsed and printed on several threads      */
/* ------------------------------------------------------------------------------------ */

/* One line of input that is not a JSON object: dead-letter it, keeping what we can. */
static void decode_failed(struct wp_run *run, const char *text, size_t len, uint64_t line,
                          json_t *value, const json_error_t *jerr)
{
    char message[WP_ERROR_TEXT_MAX + 64];
    if (!value)
        snprintf(message, sizeof(message), "%s:%llu:%d: invalid JSON: %s", run->options->input.name,
                 (unsigned long long)line, jerr->column, jerr->text);
    else
        snprintf(message, sizeof(message), "%s:%llu: expected a JSON object, got %s",
                 run->options->input.name, (unsigned long long)line,
                 json_is_array(value) ? "an array" : "a scalar");
    /* Keep the record in the dead letter: as JSON when it parsed, else as text. */
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    json_t *kept = value ? json_incref(value) : wp__json_string_lossy(text, len);
    wp__dead_letter(run, "input", NULL, kept, WP_E_INVALID, message, 1, line);
    json_decref(kept);
}

static bool blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

/* Builtin hop: split each text entry into lines and parse each into an item. */
static void decode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                         struct wp_entry_vec *results)
{
    struct wp_run *run = stage->run;
    for (size_t i = 0; i < count; i++) {
        const char *p = batch[i].text;
        const char *end = p + batch[i].text_len;
        uint64_t line = batch[i].line;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            if (!blank_line(p, len)) {
                atomic_fetch_add(&run->n_read, 1);
                json_error_t jerr;
                json_t *value = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
                if (json_is_object(value))
                    wp__entry_vec_push(results, (struct wp_entry){.item = value, .line = line});
                else {
                    decode_failed(run, p, len, line, value, &jerr);
                    json_decref(value);
                }
            }
            p += len;
            line++;
        }
        wp__entry_release(&batch[i]);
    }
}

/* Builtin hop: print a batch of items as one run of JSON Lines. */
static void encode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                         struct wp_entry_vec *results)
{
    size_t cap = 2048 * count, used = 0, items = 0;
    char *text = wp_malloc(cap);
    for (size_t i = 0; i < count; i++) {
        size_t need = text ? json_dumpb(batch[i].item, text + used, cap - used,
                                        JSON_COMPACT | JSON_REAL_PRECISION(10))
                           : 0;
        if (text && need + 1 > cap - used) {
            size_t grown_cap = (used + need + 1) * 2;
            char *grown = wp_realloc(text, grown_cap);
            if (grown) {
                text = grown;
                cap = grown_cap;
                need = json_dumpb(batch[i].item, text + used, cap - used,
                                  JSON_COMPACT | JSON_REAL_PRECISION(10));
            }
        }
        if (!text || need == 0 || need + 1 > cap - used) {
            wp__dead_letter(stage->run, "output", NULL, batch[i].item, WP_E_NOMEM,
                            "cannot encode the item as JSON", 1, batch[i].line);
        } else {
            used += need;
            text[used++] = '\n';
            items++;
        }
        wp__entry_release(&batch[i]);
    }
    if (items)
        wp__entry_vec_push(results, (struct wp_entry){.text = text,
                                                      .text_len = used,
                                                      .text_items = items,
                                                      .line = batch[0].line});
    else
        wp_free(text);
}

static void builtin_init(struct wp_run *run, struct wp_stage_rt *stage, const char *name,
                         void (*fn)(struct wp_stage_rt *, struct wp_entry *, size_t,
                                    struct wp_entry_vec *))
{
    stage_rt_init(stage, run, name);
    stage->builtin = fn;
    /* Parsing and printing JSON are the costly parts of a light pipeline: use both cores. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    stage->workers = cpus > 1 ? (cpus > 4 ? 4 : (unsigned)cpus) : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Input and output threads                                                              */
/* ------------------------------------------------------------------------------------ */

static void *generate_input(struct wp_run *run, struct wp_stage_rt *first)
{
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, first, 0);
    wp__ctx_reset(&ctx, NULL, 1, 0);
    uint64_t start = now_ns();
    enum wp_outcome outcome = first->ops->generate(first->instance, &ctx.pub);
    atomic_fetch_add(&first->busy_ns, now_ns() - start);
    atomic_store(&run->n_read, atomic_load(&first->n_out));
    if (outcome != WP_OUTCOME_OK) {
        wp__log(WP_LOG_ERROR, ctx.source, "input failed: %s",
                ctx.failed ? ctx.fail_text : wp_outcome_name(outcome));
        atomic_store(&run->failed, true);
    }
    /* The first stage's own workers were not started: close what they would have. */
    wp__queue_close(first->out);
    return NULL;
}

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
    if (run->stage_count && !opt->use_input && run->stages[0].ops->generate)
        return generate_input(run, &run->stages[0]);

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

static void *output_thread(void *arg)
{
    struct wp_run *run = arg;
    const struct wp_run_output *out = &run->options->output;
    bool sink = run->stage_count && (run->stages[run->stage_count - 1].ops->flags & WP_STAGE_SINK);
    struct wp_entry batch[BATCH_SINGLE_WORKER];
    bool output_ok = true;
    size_t n;
    while ((n = wp__queue_pop(run->output, batch, WP_ARRAY_SIZE(batch))) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (!sink && output_ok) {
                enum wp_status status =
                    batch[i].text ? out->write_text(out->arg, batch[i].text, batch[i].text_len)
                                  : out->write(out->arg, batch[i].item);
                if (status != WP_OK) {
                    wp__log(WP_LOG_ERROR, run->def->name, "cannot write output: %s",
                            strerror(errno));
                    output_ok = false;
                    atomic_store(&run->failed, true);
                    run_stop(run);
                }
            }
            /* Once output fails, what is left is counted as lost and reported. */
            atomic_fetch_add(output_ok ? &run->n_written : &run->n_lost,
                             batch[i].text ? batch[i].text_items : 1);
            wp__entry_release(&batch[i]);
        }
    }
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

static void *signal_thread(void *arg)
{
    struct signal_state *ss = arg;
    unsigned received = 0;
    for (;;) {
        /* Wake the input thread again every 100 ms after the first signal: a wake-up
         * that lands just before it blocks in read() would otherwise be lost. */
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000L};
        int sig = sigtimedwait(&ss->set, NULL, &tick);
        if (sig < 0) {
            if (received)
                wake_input(ss->run);
            continue;
        }
        if (sig == SIGUSR2)
            return NULL; /* the run is over */
        received++;
        if (received == 1) {
            wp__log(WP_LOG_WARN, ss->run->def->name,
                    "%s: finishing items in flight; signal again to exit at once",
                    sig == SIGINT ? "interrupted" : "terminated");
            run_stop(ss->run);
            wake_input(ss->run);
        } else {
            wp__log(WP_LOG_ERROR, ss->run->def->name, "second signal: exiting now");
            _exit(130);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Summary and progress                                                                  */
/* ------------------------------------------------------------------------------------ */

static void print_summary(struct wp_run *run, double seconds)
{
    wp__log(WP_LOG_INFO, run->def->name, "%-16s %10s %10s %8s %8s %8s %8s %9s", "stage", "in",
            "out", "dropped", "failed", "skipped", "retries", "busy");
    for (size_t i = 0; i < run->stage_count; i++) {
        struct wp_stage_rt *s = &run->stages[i];
        wp__log(WP_LOG_INFO, run->def->name, "%-16s %10llu %10llu %8llu %8llu %8llu %8llu %8.2fs",
                s->def->id, atomic_load(&s->n_in), atomic_load(&s->n_out),
                atomic_load(&s->n_dropped), atomic_load(&s->n_failed), atomic_load(&s->n_skipped),
                atomic_load(&s->n_retries), (double)atomic_load(&s->busy_ns) / 1e9);
        if (run->options->show_metrics) {
            pthread_mutex_lock(&s->metrics_lock);
            for (size_t m = 0; m < s->metric_count; m++)
                wp__log(WP_LOG_INFO, run->def->name, "  %s.%s = %lld", s->def->id,
                        s->metrics[m].name, s->metrics[m].value);
            pthread_mutex_unlock(&s->metrics_lock);
        }
    }
    unsigned long long lost = atomic_load(&run->n_lost);
    if (lost)
        wp__log(WP_LOG_ERROR, run->def->name, "%llu items not written: the output failed", lost);
    unsigned long long dead = atomic_load(&run->n_dead);
    wp__log(WP_LOG_INFO, run->def->name,
            "%llu items in, %llu out, %llu dead-lettered%s%s%s in %.2fs", atomic_load(&run->n_read),
            atomic_load(&run->n_written), dead, dead ? " to '" : "",
            dead ? run->def->dead_letter : "", dead ? "'" : "", seconds);
}

struct progress_state {
    struct wp_run *run;
    atomic_bool done;
};

static void *progress_thread(void *arg)
{
    struct progress_state *ps = arg;
    unsigned ticks = 0;
    while (!atomic_load(&ps->done)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
        nanosleep(&ts, NULL);
        if (++ticks % 5)
            continue;
        char line[160];
        snprintf(line, sizeof(line), "%s: %llu in, %llu out, %llu dead-lettered",
                 ps->run->def->name, atomic_load(&ps->run->n_read),
                 atomic_load(&ps->run->n_written), atomic_load(&ps->run->n_dead));
        wp__log_progress(line);
    }
    wp__log_progress_end();
    return NULL;
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
    run->chain = wp_calloc(run->stage_count + 2, sizeof(*run->chain));
    if (!run->chain)
        return false;
    size_t n = 0;
    if (opt->input.next_text && !generating) {
        builtin_init(run, &run->decode, "decode", decode_batch);
        run->chain[n++] = &run->decode;
    }
    for (size_t i = 0; i < run->stage_count; i++)
        run->chain[n++] = &run->stages[i];
    if (opt->output.write_text && !sink) {
        builtin_init(run, &run->encode, "encode", encode_batch);
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
    bool generating = run->stage_count && !options->use_input && run->stages[0].ops->generate;
    if (!make_chain(run, generating)) {
        wp__log(WP_LOG_ERROR, run->def->name, "out of memory");
        return 1;
    }
    uint64_t started = now_ns();

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
        sigaddset(&ss.set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &ss.set, &old_mask);
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
    bool prog_started =
        ok && options->progress && pthread_create(&prog_thread, NULL, progress_thread, &ps) == 0;

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
        print_summary(run, (double)(now_ns() - started) / 1e9);
    return atomic_load(&run->failed) ? 1 : 0;
}
