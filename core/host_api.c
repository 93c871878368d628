/*
 * The host API table handed to plugins: every service a stage may use, implemented on
 * top of the run it belongs to (struct wp_run_ctx behind each struct wp_ctx).
 */
#include "wp_internal.h"

#include "host_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "deadletter.h"
#include "digest.h"
#include "fsutil.h"
#include "http.h"
#include "http_abi.h"
#include "item.h"
#include "log.h"
#include "runner.h"
#include "stage.h"
#include "store.h"

static struct wp_run_ctx *impl(struct wp_ctx *ctx)
{
    return (struct wp_run_ctx *)ctx;
}

static void host_log(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...)
    WP_PRINTF(3, 4);
static void host_log(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wp__log_v(level, impl(ctx)->source, fmt, ap);
    va_end(ap);
}

static bool host_log_enabled(struct wp_ctx *ctx, enum wp_log_level level)
{
    (void)ctx;
    return wp__log_enabled(level);
}

/*
 * emit() is legal in process(), generate() and flush(), on the thread the host called
 * them on: anywhere else there is no queue to take the item, or a racing one.
 */
static bool emit_allowed(struct wp_run_ctx *c)
{
    const char *why = NULL;
    if (c->phase == WP_PHASE_CREATE)
        why = "inside create()";
    else if (c->phase == WP_PHASE_ACK)
        why = "inside ack()";
    else if (!pthread_equal(c->thread, pthread_self()))
        why = "from a thread the host did not call the stage on";
    if (!why)
        return true;
    wp__log(WP_LOG_ERROR, c->source, "plugin '%s' called emit() %s; the item is discarded",
            c->stage->plugin ? c->stage->plugin->name : "?", why);
    return false;
}

/*
 * The track of an item emitted outside process(): a new root when a source generates it
 * (the run acknowledges it to the source); in flush(), the oldest item the stage holds,
 * as the held count goes: one emitted for one held. A stage that merges held items into
 * fewer says so with discard_held().
 */
static struct wp_track *emit_track(struct wp_run_ctx *c, const json_t *item)
{
    if (c->phase == WP_PHASE_GENERATE) {
        struct wp_acker *acker = c->stage->run->acker;
        return acker ? wp__track_root(acker, json_string_value(json_object_get(item, WP_ITEM_ID)))
                     : NULL;
    }
    struct wp_stage_rt *stage = c->stage;
    pthread_mutex_lock(&stage->held_lock);
    struct wp_track *track = wp__track_list_take(&stage->held);
    pthread_mutex_unlock(&stage->held_lock);
    return track;
}

static enum wp_status host_emit(struct wp_ctx *ctx, json_t *item)
{
    struct wp_run_ctx *c = impl(ctx);
    if (!emit_allowed(c)) {
        json_decref(item);
        return WP_E_INVALID;
    }
    if (!json_is_object(item)) {
        json_decref(item);
        wp__log(WP_LOG_ERROR, c->source, "emitted something that is not a JSON object");
        return WP_E_INVALID;
    }
    if (c->emits)
        return wp__entry_vec_push(c->emits, (struct wp_entry){.item = item, .line = c->line})
                   ? WP_OK
                   : WP_E_NOMEM;

    /* Generating or flushing: straight downstream, one at a time, in call order. An
     * emit-only stage is handing on what it held. */
    if (c->stage->ops->flags & WP_STAGE_EMIT_ONLY && atomic_load(&c->stage->n_held) > 0)
        atomic_fetch_sub(&c->stage->n_held, 1);
    struct wp_track *track = emit_track(c, item);
    struct wp_entry_vec one = {0};
    if (!wp__entry_vec_push(&one, (struct wp_entry){.item = item, .line = c->line, .track = track}))
        return WP_E_NOMEM;
    bool pushed = wp__stage_push_out(c->stage, &one);
    wp__entry_vec_release(&one);
    return pushed ? WP_OK : WP_E_CANCELLED;
}

static void host_fail(struct wp_ctx *ctx, enum wp_status code, const char *fmt, ...)
    WP_PRINTF(3, 4);
static void host_fail(struct wp_ctx *ctx, enum wp_status code, const char *fmt, ...)
{
    struct wp_run_ctx *c = impl(ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_text, sizeof(c->fail_text), fmt, ap);
    va_end(ap);
    c->fail_code = code;
    c->failed = true;
}

static void host_retry_in(struct wp_ctx *ctx, unsigned delay_ms)
{
    impl(ctx)->retry_ms = delay_ms;
    impl(ctx)->retry_set = true;
}

static unsigned host_attempt(struct wp_ctx *ctx)
{
    return impl(ctx)->attempt;
}

static enum wp_status host_dead_letter(struct wp_ctx *ctx, const json_t *item, enum wp_status code,
                                       const char *fmt, ...) WP_PRINTF(4, 5);
static enum wp_status host_dead_letter(struct wp_ctx *ctx, const json_t *item, enum wp_status code,
                                       const char *fmt, ...)
{
    struct wp_run_ctx *c = impl(ctx);
    char message[WP_ERROR_TEXT_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    atomic_fetch_add(&c->stage->n_failed, 1);
    wp__dead_letter(c->stage->run, c->stage->def->id, c->stage->plugin->name, item, code, message,
                    c->attempt, c->line);
    return WP_OK;
}

static enum wp_status host_item_add_error(struct wp_ctx *ctx, json_t *item, enum wp_status code,
                                          const char *fmt, ...) WP_PRINTF(4, 5);
static enum wp_status host_item_add_error(struct wp_ctx *ctx, json_t *item, enum wp_status code,
                                          const char *fmt, ...)
{
    struct wp_run_ctx *c = impl(ctx);
    char message[WP_ERROR_TEXT_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return wp__item_append_error(item, c->stage->def->id, code, message, c->attempt);
}

static void host_metric_add(struct wp_ctx *ctx, const char *name, long long delta)
{
    struct wp_stage_rt *stage = impl(ctx)->stage;
    pthread_mutex_lock(&stage->metrics_lock);
    size_t i = 0;
    while (i < stage->metric_count && strcmp(stage->metrics[i].name, name) != 0)
        i++;
    if (i == stage->metric_count && i < WP_STAGE_METRICS_MAX) {
        snprintf(stage->metrics[i].name, sizeof(stage->metrics[i].name), "%s", name);
        stage->metrics[i].value = 0;
        stage->metric_count++;
    }
    if (i < stage->metric_count)
        stage->metrics[i].value += delta;
    pthread_mutex_unlock(&stage->metrics_lock);
}

/*
 * A source stops producing as soon as the run stops taking input; every other callback
 * may finish the item in hand until the grace period is over.
 */
static bool host_cancelled(struct wp_ctx *ctx)
{
    struct wp_run *run = impl(ctx)->stage->run;
    return impl(ctx)->phase == WP_PHASE_GENERATE ? atomic_load(&run->stopping)
                                                 : atomic_load(&run->cancelling);
}

static const char *host_stage_id(struct wp_ctx *ctx)
{
    return impl(ctx)->stage->def->id;
}

static const char *host_pipeline_dir(struct wp_ctx *ctx)
{
    return impl(ctx)->stage->run->def->dir;
}

static const char *host_state_dir(struct wp_ctx *ctx)
{
    struct wp_run *run = impl(ctx)->stage->run;
    pthread_mutex_lock(&run->store_lock);
    wp__run_lock_state(run);
    pthread_mutex_unlock(&run->store_lock);
    return run->def->state_dir;
}

/* The state store opens on first use, so pipelines that keep no state create no file. */
static struct wp_store *run_store(struct wp_ctx *ctx)
{
    struct wp_run *run = impl(ctx)->stage->run;
    pthread_mutex_lock(&run->store_lock);
    if (!run->store && !run->store_failed && !wp__run_lock_state(run))
        run->store_failed = true;
    if (!run->store && !run->store_failed) {
        struct wp_error err = {0};
        if (wp__store_open(run->def->state_dir, &run->store, &err) != WP_OK) {
            wp__log(WP_LOG_ERROR, impl(ctx)->source, "%s", err.text);
            run->store_failed = true;
        }
    }
    struct wp_store *store = run->store;
    pthread_mutex_unlock(&run->store_lock);
    return store;
}

static enum wp_status host_store_get(struct wp_ctx *ctx, const char *ns, const char *key,
                                     size_t key_len, char **value, size_t *value_len)
{
    struct wp_store *store = run_store(ctx);
    return store ? wp__store_get(store, ns, key, key_len, value, value_len) : WP_E_IO;
}

static enum wp_status host_store_put(struct wp_ctx *ctx, const char *ns, const char *key,
                                     size_t key_len, const char *value, size_t value_len,
                                     long long ttl_s)
{
    struct wp_store *store = run_store(ctx);
    return store ? wp__store_put(store, ns, key, key_len, value, value_len, ttl_s) : WP_E_IO;
}

static enum wp_status host_store_delete(struct wp_ctx *ctx, const char *ns, const char *key,
                                        size_t key_len)
{
    struct wp_store *store = run_store(ctx);
    return store ? wp__store_delete(store, ns, key, key_len) : WP_E_IO;
}

static void host_discard_held(struct wp_ctx *ctx, size_t count)
{
    struct wp_stage_rt *stage = impl(ctx)->stage;
    long long held = atomic_load(&stage->n_held);
    long long n = (long long)count < held ? (long long)count : held;
    if (n <= 0)
        return;
    atomic_fetch_sub(&stage->n_held, n);
    atomic_fetch_add(&stage->n_dropped, (unsigned long long)n);
    /* The oldest held items are the ones a batching stage gives up first. */
    pthread_mutex_lock(&stage->held_lock);
    wp__track_list_end(&stage->held, (size_t)n, WP_TRACK_DROPPED);
    pthread_mutex_unlock(&stage->held_lock);
}

/* The plugin's struct sizes, for the HTTP calls that read and fill its structs. */
static struct wp_http_abi plugin_http_abi(struct wp_ctx *ctx)
{
    return wp__http_abi_of(impl(ctx)->stage->plugin->desc);
}

static enum wp_status host_http_perform(struct wp_ctx *ctx, const struct wp_http_request *req,
                                        struct wp_http_response *resp)
{
    return wp__http_perform_abi(ctx, plugin_http_abi(ctx), req, resp);
}

static enum wp_status host_http_perform_many(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                             struct wp_http_response *resps, size_t count,
                                             unsigned concurrency, unsigned per_host)
{
    return wp__http_perform_many_abi(ctx, plugin_http_abi(ctx), reqs, resps, count, concurrency,
                                     per_host);
}

static enum wp_status host_http_perform_each(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                             size_t count, unsigned concurrency, unsigned per_host,
                                             bool (*on_reply)(void *arg, size_t index,
                                                              const struct wp_http_response *resp),
                                             void *arg)
{
    return wp__http_perform_each_abi(ctx, plugin_http_abi(ctx), reqs, count, concurrency, per_host,
                                     on_reply, arg);
}

static void host_poll_every(struct wp_ctx *ctx, unsigned long long interval_ms)
{
    struct wp_run_ctx *c = impl(ctx);
    if (c->phase != WP_PHASE_CREATE || !c->stage->ops->generate) {
        wp__log(WP_LOG_ERROR, c->source,
                "plugin '%s' called poll_every() outside create() of a source; ignored",
                c->stage->plugin ? c->stage->plugin->name : "?");
        return;
    }
    c->stage->poll_interval_ms = interval_ms;
}

const struct wp_host_api wp__host_api = {
    .abi_major = WP_ABI_MAJOR,
    .abi_minor = WP_ABI_MINOR,
    .struct_size = sizeof(struct wp_host_api),
    .malloc = wp_malloc,
    .calloc = wp_calloc,
    .realloc = wp_realloc,
    .free = wp_free,
    .strndup = wp_strndup,
    .log = host_log,
    .log_enabled = host_log_enabled,
    .emit = host_emit,
    .fail = host_fail,
    .retry_in = host_retry_in,
    .attempt = host_attempt,
    .dead_letter = host_dead_letter,
    .item_add_error = host_item_add_error,
    .metric_add = host_metric_add,
    .cancelled = host_cancelled,
    .stage_id = host_stage_id,
    .pipeline_dir = host_pipeline_dir,
    .state_dir = host_state_dir,
    .status_name = wp_status_name,
    .backoff_ms = wp__backoff_ms,
    .http_perform = host_http_perform,
    .http_perform_many = host_http_perform_many,
    .http_response_release = wp__http_response_release,
    .store_get = host_store_get,
    .store_put = host_store_put,
    .store_delete = host_store_delete,
    .sha256_hex = wp__sha256_hex,
    .discard_held = host_discard_held,
    .http_perform_each = host_http_perform_each,
    .poll_every = host_poll_every,
};
