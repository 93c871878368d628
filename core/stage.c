/*
 * A stage of a running pipeline: binding it to its plugin, creating it, offering it items
 * (outcomes, retries, the item as it arrived, dead letters), flushing it, and pushing its
 * results downstream in input order.
 */
#include "wp_internal.h"

#include "stage.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "deadletter.h"
#include "host_api.h"
#include "item.h"
#include "log.h"
#include "runner.h"
#include "summary.h"

#define DEFAULT_RETRY_BASE_MS 200
#define DEFAULT_RETRY_CAP_MS  30000

void wp__stage_rt_init(struct wp_stage_rt *stage, struct wp_run *run, const char *name)
{
    stage->run = run;
    pthread_mutex_init(&stage->order_lock, NULL);
    pthread_cond_init(&stage->order_cond, NULL);
    pthread_mutex_init(&stage->metrics_lock, NULL);
    pthread_mutex_init(&stage->held_lock, NULL);
    snprintf(stage->source, sizeof(stage->source), "%s/%s", run->def->name, name);
}

void wp__stage_rt_release(struct wp_stage_rt *stage)
{
    if (!stage->run)
        return; /* never initialised */
    if (stage->created && stage->ops->destroy)
        stage->ops->destroy(stage->instance);
    pthread_mutex_destroy(&stage->order_lock);
    pthread_cond_destroy(&stage->order_cond);
    pthread_mutex_destroy(&stage->metrics_lock);
    wp__track_list_release(&stage->held);
    pthread_mutex_destroy(&stage->held_lock);
    wp__queue_free(stage->in);
    wp_free(stage->threads);
}

bool wp__stage_bind(struct wp_run *run, size_t index, struct wp_diags *diags)
{
    struct wp_stage_rt *stage = &run->stages[index];
    struct wp_stage_def *def = &run->def->stages[index];
    wp__stage_rt_init(stage, run, def->id);
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

bool wp__stage_create(struct wp_stage_rt *stage, struct wp_diags *diags)
{
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, stage, 0, WP_PHASE_CREATE);
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

void wp__ctx_init(struct wp_run_ctx *ctx, struct wp_stage_rt *stage, unsigned worker,
                  enum wp_call_phase phase)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->pub.host = &wp__host_api;
    ctx->stage = stage;
    ctx->worker = worker;
    ctx->phase = phase;
    ctx->thread = pthread_self();
    ctx->attempt = 1;
    if (stage->workers > 1)
        snprintf(ctx->source, sizeof(ctx->source), "%s[%u]", stage->source, worker);
    else
        snprintf(ctx->source, sizeof(ctx->source), "%s", stage->source);
}

void wp__ctx_reset(struct wp_run_ctx *ctx, struct wp_entry_vec *emits, unsigned attempt,
                   uint64_t line)
{
    ctx->emits = emits;
    ctx->attempt = attempt;
    ctx->line = line;
    ctx->failed = false;
    ctx->fail_code = WP_OK;
    ctx->fail_text[0] = '\0';
    ctx->retry_set = false;
    ctx->retry_ms = 0;
}

bool wp__stage_push_out(struct wp_stage_rt *stage, struct wp_entry_vec *vec)
{
    for (size_t i = 0; i < vec->count; i++)
        vec->v[i].seq = stage->out_seq++;
    atomic_fetch_add(&stage->n_out, vec->count);
    bool pushed = vec->count == 0 || wp__queue_push(stage->out, vec->v, vec->count);
    vec->count = 0; /* the queue owns the items now, or released them */
    return pushed;
}

/*
 * The item failed for good at this stage: apply the stage's on_error, and end its track
 * as skipped (dropped) or dead-lettered.
 */
static void item_failed(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, json_t *item,
                        struct wp_track *track, enum wp_status code, const char *message)
{
    switch (stage->def->on_error) {
        case WP_ON_ERROR_SKIP:
            atomic_fetch_add(&stage->n_skipped, 1);
            {
                char id[96];
                wp__item_log_id(item, id);
                json_t *fields = wp__item_log_fields(stage->def->id, item);
                wp__log_fields(WP_LOG_WARN, ctx->source, fields, "skipped item '%s': %s",
                               id[0] ? id : "(no id)", message);
                json_decref(fields);
            }
            wp__track_end(track, WP_TRACK_DROPPED);
            return;
        case WP_ON_ERROR_FAIL:
            wp__log(WP_LOG_ERROR, ctx->source, "stopping the pipeline (on_error: fail)");
            wp__run_stop(stage->run);
            break;
        case WP_ON_ERROR_DEAD_LETTER:
            break;
    }
    atomic_fetch_add(&stage->n_failed, 1);
    wp__dead_letter(stage->run, stage->def->id, stage->plugin->name, item, code, message,
                    ctx->attempt, ctx->line);
    wp__track_end(track, WP_TRACK_DEAD_LETTERED);
}

static bool run_cancelling(const struct wp_run *run)
{
    return atomic_load(&run->cancelling);
}

/*
 * The item is given up unfinished (the run was cancelled, or the stage failed fatally).
 * A tracked item is simply not acknowledged: its source still has it and the next run
 * delivers it. So is a cancelled one: the run was stopped on purpose (a signal past the
 * grace period, a closed output) and its input is where it was. Only an untracked item a
 * fatal stage can no longer take is dead-lettered, so that replay can finish it.
 */
static void item_given_up(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, json_t *item,
                          struct wp_track *track, const char *why)
{
    /* Cancelled is not failed: the user stopped the run, and the input is still there. */
    if (track || run_cancelling(stage->run)) {
        atomic_fetch_add(&stage->n_cancelled, 1);
        wp__track_end(track, WP_TRACK_UNFINISHED);
    } else {
        item_failed(stage, ctx, item, NULL, WP_E_CANCELLED, why);
    }
    json_decref(item);
}

/* Sleep @ms unless the run is cancelling; checked every 50 ms. */
static void pause_ms(struct wp_run *run, unsigned ms)
{
    while (ms > 0 && !run_cancelling(run)) {
        unsigned step = ms < 50 ? ms : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/*
 * A copy of the item as it arrived, kept across process() so a retry and a dead letter
 * see that, not what a failing stage left half-edited.
 */
static json_t *snapshot(const struct wp_stage_rt *stage, json_t *item)
{
    if (stage->ops->flags & WP_STAGE_NO_SNAPSHOT)
        return json_incref(item);
    json_t *copy = json_deep_copy(item);
    return copy ? copy : json_incref(item); /* out of memory: the edited item, not none */
}

/*
 * Tracks for what an emit-only stage emits: a group standing for everything it held so
 * far and @track, the item it was just given. @refs: the items emitted.
 */
static struct wp_track *adopt_held(struct wp_stage_rt *stage, struct wp_track *track, unsigned refs)
{
    pthread_mutex_lock(&stage->held_lock);
    wp__track_list_push(&stage->held, track);
    struct wp_track_list *h = &stage->held;
    struct wp_track *group = wp__track_group(h->v + h->first, h->count - h->first, refs);
    h->first = h->count = 0;
    pthread_mutex_unlock(&stage->held_lock);
    return group;
}

/* OK: pass on @item itself, or what the stage emitted for it, each carrying its track. */
static void pass_on(struct wp_stage_rt *stage, json_t *item, struct wp_track *track, uint64_t line,
                    struct wp_entry_vec *emits, struct wp_entry_vec *results)
{
    bool emit_only = stage->ops->flags & WP_STAGE_EMIT_ONLY;
    if (emits->count == 0 && !emit_only) {
        wp__entry_vec_push(results, (struct wp_entry){.item = item, .line = line, .track = track});
        return;
    }
    json_decref(item);
    if (emits->count == 0) {
        atomic_fetch_add(&stage->n_held, 1);
        if (track) {
            pthread_mutex_lock(&stage->held_lock);
            wp__track_list_push(&stage->held, track);
            pthread_mutex_unlock(&stage->held_lock);
        }
        return;
    }
    /* Fan-out: every emitted item stands for the one taken (or, batching, for all held). */
    if (emit_only)
        track = adopt_held(stage, track, (unsigned)emits->count);
    else
        wp__track_ref(track, (unsigned)emits->count - 1);
    for (size_t i = 0; i < emits->count; i++) {
        emits->v[i].track = track;
        wp__entry_vec_push(results, emits->v[i]);
    }
    emits->count = 0;
}

void wp__stage_process(struct wp_stage_rt *stage, struct wp_run_ctx *ctx, struct wp_entry *entry,
                       struct wp_entry_vec *emits, struct wp_entry_vec *results)
{
    json_t *item = entry->item;
    struct wp_track *track = entry->track;
    entry->item = NULL;
    entry->track = NULL;
    atomic_fetch_add(&stage->n_in, 1);

    if (atomic_load(&stage->fatal) || run_cancelling(stage->run)) {
        wp__ctx_reset(ctx, NULL, 1, entry->line);
        item_given_up(stage, ctx, item, track,
                      atomic_load(&stage->fatal)
                          ? "stage stopped after a fatal error; item not processed"
                          : "run cancelled after the grace period; item not processed");
        return;
    }

    for (unsigned attempt = 1;; attempt++) {
        wp__ctx_reset(ctx, emits, attempt, entry->line);
        json_t *arrived = snapshot(stage, item);
        uint64_t start = wp__now_ns();
        enum wp_outcome outcome = stage->ops->process(stage->instance, &ctx->pub, item);
        atomic_fetch_add(&stage->busy_ns, wp__now_ns() - start);
        const char *why = ctx->failed ? ctx->fail_text : "no reason given by the stage";
        enum wp_status code = ctx->failed ? ctx->fail_code : WP_E_INVALID;

        if (outcome != WP_OUTCOME_OK && outcome != WP_OUTCOME_DROP) {
            /* Every failure path goes on with the item as it arrived. */
            json_decref(item);
            item = json_incref(arrived);
        }
        json_decref(arrived);

        /* Past the grace period a failure is the cancellation, not the item's fault. */
        if (outcome != WP_OUTCOME_OK && outcome != WP_OUTCOME_DROP && outcome != WP_OUTCOME_FATAL &&
            run_cancelling(stage->run)) {
            wp__entry_vec_clear(emits);
            item_given_up(stage, ctx, item, track, "run cancelled after the grace period");
            return;
        }

        switch (outcome) {
            case WP_OUTCOME_OK:
                pass_on(stage, item, track, entry->line, emits, results);
                return;
            case WP_OUTCOME_DROP:
                atomic_fetch_add(&stage->n_dropped, 1);
                wp__track_end(track, WP_TRACK_DROPPED);
                break;
            case WP_OUTCOME_RETRY:
                wp__entry_vec_clear(emits);
                if (attempt < stage->def->max_attempts) {
                    atomic_fetch_add(&stage->n_retries, 1);
                    unsigned delay = ctx->retry_set ? ctx->retry_ms
                                                    : wp__backoff_ms(attempt, DEFAULT_RETRY_BASE_MS,
                                                                     DEFAULT_RETRY_CAP_MS);
                    pause_ms(stage->run, delay);
                    if (!run_cancelling(stage->run))
                        continue;
                    item_given_up(stage, ctx, item, track, "run cancelled while waiting to retry");
                    return;
                }
                {
                    char message[WP_ERROR_TEXT_MAX * 3];
                    snprintf(message, sizeof(message), "gave up after %u attempts: %s", attempt,
                             why);
                    item_failed(stage, ctx, item, track, ctx->failed ? code : WP_E_UNAVAILABLE,
                                message);
                }
                break;
            case WP_OUTCOME_REJECT:
                item_failed(stage, ctx, item, track, code, why);
                break;
            case WP_OUTCOME_FATAL:
                if (ctx->failed && code == WP_E_CANCELLED) {
                    /* The stage's own output was closed by its reader: a quiet end. */
                    atomic_store(&stage->run->reader_gone, true);
                    wp__run_cancel(stage->run);
                    item_given_up(stage, ctx, item, track, why);
                    return;
                }
                wp__log(WP_LOG_ERROR, ctx->source, "fatal: %s; stopping the pipeline", why);
                atomic_store(&stage->fatal, true);
                atomic_store(&stage->run->failed, true);
                wp__run_stop(stage->run);
                item_failed(stage, ctx, item, track, code, why);
                break;
            default:
                /* Host misuse: not one of the five outcomes. The item is not lost. */
                wp__log(WP_LOG_ERROR, ctx->source,
                        "plugin '%s' returned outcome %d, which is not a wp_outcome",
                        stage->plugin->name, (int)outcome);
                item_failed(stage, ctx, item, track, WP_E_INVALID,
                            "the stage returned an invalid outcome");
                break;
        }
        wp__entry_vec_clear(emits);
        json_decref(item);
        return;
    }
}

void wp__stage_finish(struct wp_stage_rt *stage)
{
    if (atomic_fetch_sub(&stage->workers_left, 1) != 1)
        return;
    if (stage->ops && stage->ops->flush && !atomic_load(&stage->fatal)) {
        struct wp_run_ctx ctx;
        wp__ctx_init(&ctx, stage, 0, WP_PHASE_FLUSH);
        enum wp_outcome outcome = stage->ops->flush(stage->instance, &ctx.pub);
        if (outcome == WP_OUTCOME_FATAL || outcome == WP_OUTCOME_REJECT) {
            wp__log(WP_LOG_ERROR, ctx.source, "flush failed: %s",
                    ctx.failed ? ctx.fail_text : "no reason given by the stage");
            atomic_store(&stage->run->failed, true);
        }
    }
    /* What is still held was never emitted: not done, not acknowledged. */
    pthread_mutex_lock(&stage->held_lock);
    wp__track_list_end(&stage->held, SIZE_MAX, WP_TRACK_UNFINISHED);
    pthread_mutex_unlock(&stage->held_lock);
    wp__queue_close(stage->out);
}

/* ---- polling sources ------------------------------------------------------------- */

/*
 * Between polls the input thread sleeps in steps this long, so a stop (a signal, a fatal
 * stage, a reload) ends the wait at once; the signal thread's wake-up (SIGUSR1) cuts a
 * step short too.
 */
#define POLL_STEP_MS 100
/* Jitter: each wait is the interval plus or minus up to this share of it. */
#define POLL_JITTER_DIV 10
/* A longer interval is taken as this (a week): no deadline arithmetic can overflow. */
#define POLL_MAX_MS (7ULL * 24 * 3600 * 1000)

/* splitmix64: enough to spread the polls of several processes; not for secrets. */
static uint64_t poll_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/*
 * The wait before the next poll: @interval_ms plus or minus up to 10%, so that processes
 * started together (several desks, a restart of them all) drift apart instead of calling
 * the same host in the same second.
 */
static uint64_t poll_delay_ms(uint64_t interval_ms, uint64_t *rng)
{
    uint64_t span = interval_ms / POLL_JITTER_DIV;
    if (span == 0)
        return interval_ms;
    uint64_t offset = poll_random(rng) % (2 * span + 1);
    return interval_ms - span + offset;
}

/* Sleep @ms unless the run stops taking input. Returns false when it did. */
static bool poll_wait(struct wp_run *run, uint64_t ms)
{
    uint64_t deadline = wp__now_ns() + ms * 1000000ULL;
    while (!atomic_load(&run->stopping)) {
        uint64_t now = wp__now_ns();
        if (now >= deadline)
            return true;
        uint64_t left_ms = (deadline - now + 999999) / 1000000;
        uint64_t step = left_ms < POLL_STEP_MS ? left_ms : POLL_STEP_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL); /* EINTR (the signal thread's wake-up) just checks again */
    }
    return false;
}

/*
 * A poll that answered RETRY (no source answered) is counted; failing_since_ns keeps when
 * the failures began, for /health, until a poll succeeds again.
 */
static void poll_count_failure(struct wp_stage_rt *stage)
{
    atomic_fetch_add(&stage->n_polls_failed, 1);
    unsigned long long expected = 0;
    atomic_compare_exchange_strong(&stage->failing_since_ns, &expected, wp__now_ns());
}

/*
 * Run a generating first stage on the input thread: once, or, for a polling source
 * (poll_every) without --once, again after each return until the run stops taking input.
 * generate() is only ever called from this one thread, so a source never has two polls
 * running at once, and the run with its downstream threads and acknowledgements goes on
 * between polls. What ends the loop: a stop (signal, fatal stage, reload), or an outcome
 * other than OK and RETRY.
 */
void wp__stage_generate(struct wp_stage_rt *stage)
{
    struct wp_run *run = stage->run;
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, stage, 0, WP_PHASE_GENERATE);
    bool polling = stage->poll_interval_ms > 0 && !run->options->once;
    uint64_t interval_ms = stage->poll_interval_ms;
    if (interval_ms > POLL_MAX_MS) {
        wp__log(WP_LOG_WARN, ctx.source, "poll interval of %llu ms capped at one week",
                (unsigned long long)interval_ms);
        interval_ms = POLL_MAX_MS;
    }
    /* Seeded from the clock and the process: processes started together differ. */
    uint64_t rng = wp__now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)stage;

    for (;;) {
        wp__ctx_reset(&ctx, NULL, 1, 0);
        uint64_t start = wp__now_ns();
        enum wp_outcome outcome = stage->ops->generate(stage->instance, &ctx.pub);
        uint64_t took = wp__now_ns() - start;
        atomic_fetch_add(&stage->busy_ns, took);
        atomic_store(&run->n_read, atomic_load(&stage->n_out));
        unsigned long long poll = atomic_fetch_add(&stage->n_polls, 1) + 1;
        uint64_t next_ms = polling ? poll_delay_ms(interval_ms, &rng) : 0;

        if (outcome == WP_OUTCOME_RETRY)
            poll_count_failure(stage);
        else if (outcome == WP_OUTCOME_OK)
            atomic_store(&stage->failing_since_ns, 0);

        if (outcome == WP_OUTCOME_RETRY && polling) {
            /* The next poll is the retry: the run goes on. */
            wp__log(WP_LOG_WARN, ctx.source, "poll %llu failed: %s; polling again in %.1f s", poll,
                    ctx.failed ? ctx.fail_text : "no source answered", (double)next_ms / 1000.0);
        } else if (outcome != WP_OUTCOME_OK) {
            wp__log(WP_LOG_ERROR, ctx.source, "input failed: %s",
                    ctx.failed ? ctx.fail_text : wp_outcome_name(outcome));
            atomic_store(&run->failed, true);
            break;
        }
        if (!polling)
            break;
        wp__summary_poll(run, poll, (double)took / 1e9);
        if (!poll_wait(run, next_ms))
            break;
    }
    /* The stage's own workers were not started: close what they would have. */
    wp__queue_close(stage->out);
}
