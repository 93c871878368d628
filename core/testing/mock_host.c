/*
 * The mock host of <wirepipe/testing.h>: one stage outside a pipeline, loaded by the
 * host's loader and configured through the host's validation, with a host table that
 * records what the stage does.
 */
#include "wp_internal.h"

#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wirepipe/testing.h>

#include "backoff.h"
#include "diag.h"
#include "digest.h"
#include "http.h"
#include "http_abi.h"
#include "item.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "store.h"

static struct wp_mock *mock_of(struct wp_ctx *ctx)
{
    return (struct wp_mock *)ctx; /* ctx is the first member */
}

/*
 * The records are shared by every thread the stage calls the host from: ack() runs on a
 * thread of its own while generate() may still run, as in wirepipe.
 */
static pthread_mutex_t mock_lock = PTHREAD_MUTEX_INITIALIZER;

#define MOCK_TEXT_MAX 4096

WP_PRINTF(3, 4)
static void mock_log(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...)
{
    char text[MOCK_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mock_lock);
    json_array_append_new(mock_of(ctx)->logs,
                          json_pack("{s:i,s:s}", "level", (int)level, "message", text));
    pthread_mutex_unlock(&mock_lock);
    if (getenv("WP_MOCK_VERBOSE"))
        wp__log(WP_LOG_INFO, "mock", "log[%d]: %s", (int)level, text);
}

static bool mock_log_enabled(struct wp_ctx *ctx, enum wp_log_level level)
{
    (void)ctx;
    (void)level;
    return true;
}

static enum wp_status mock_emit(struct wp_ctx *ctx, json_t *item)
{
    pthread_mutex_lock(&mock_lock);
    json_array_append_new(mock_of(ctx)->emitted, item);
    pthread_mutex_unlock(&mock_lock);
    return WP_OK;
}

WP_PRINTF(3, 4) static void mock_fail(struct wp_ctx *ctx, enum wp_status code, const char *fmt, ...)
{
    struct wp_mock *m = mock_of(ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->fail_text, sizeof(m->fail_text), fmt, ap);
    va_end(ap);
    m->fail_code = code;
}

static void mock_retry_in(struct wp_ctx *ctx, unsigned delay_ms)
{
    mock_of(ctx)->retry_ms = delay_ms;
}

static unsigned mock_attempt(struct wp_ctx *ctx)
{
    return mock_of(ctx)->attempt;
}

WP_PRINTF(4, 5)
static enum wp_status mock_dead_letter(struct wp_ctx *ctx, const json_t *item, enum wp_status code,
                                       const char *fmt, ...)
{
    char text[MOCK_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mock_lock);
    json_array_append_new(
        mock_of(ctx)->dead_letters,
        json_pack("{s:O,s:s,s:s}", "item", item, "code", wp_status_name(code), "message", text));
    pthread_mutex_unlock(&mock_lock);
    return WP_OK;
}

WP_PRINTF(4, 5)
static enum wp_status mock_item_add_error(struct wp_ctx *ctx, json_t *item, enum wp_status code,
                                          const char *fmt, ...)
{
    char text[MOCK_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return wp__item_append_error(item, mock_of(ctx)->ops ? mock_of(ctx)->ops->name : "?", code,
                                 text, mock_of(ctx)->attempt);
}

static void mock_metric_add(struct wp_ctx *ctx, const char *name, long long delta)
{
    json_t *metrics = mock_of(ctx)->metrics;
    pthread_mutex_lock(&mock_lock);
    json_int_t old = json_integer_value(json_object_get(metrics, name));
    json_object_set_new(metrics, name, json_integer(old + delta));
    pthread_mutex_unlock(&mock_lock);
}

static bool mock_cancelled(struct wp_ctx *ctx)
{
    return __atomic_load_n(&mock_of(ctx)->cancelled, __ATOMIC_RELAXED);
}

static const char *mock_stage_id(struct wp_ctx *ctx)
{
    return mock_of(ctx)->ops ? mock_of(ctx)->ops->name : "mock";
}

static const char *mock_pipeline_dir(struct wp_ctx *ctx)
{
    return mock_of(ctx)->pipeline_dir;
}

static const char *mock_state_dir(struct wp_ctx *ctx)
{
    return mock_of(ctx)->state_dir;
}

static struct wp_store *mock_store(struct wp_mock *m)
{
    pthread_mutex_lock(&mock_lock);
    if (!m->store) {
        struct wp_error err = {0};
        if (wp__store_open(m->state_dir, &m->store, &err) != WP_OK) {
            wp__log(WP_LOG_ERROR, "mock", "cannot open state store: %s", err.text);
            m->store = NULL;
        }
    }
    struct wp_store *store = m->store;
    pthread_mutex_unlock(&mock_lock);
    return store;
}

static enum wp_status mock_store_get(struct wp_ctx *ctx, const char *ns, const char *key,
                                     size_t key_len, char **value, size_t *value_len)
{
    struct wp_store *store = mock_store(mock_of(ctx));
    return store ? wp__store_get(store, ns, key, key_len, value, value_len) : WP_E_IO;
}

static enum wp_status mock_store_put(struct wp_ctx *ctx, const char *ns, const char *key,
                                     size_t key_len, const char *value, size_t value_len,
                                     long long ttl_s)
{
    struct wp_store *store = mock_store(mock_of(ctx));
    return store ? wp__store_put(store, ns, key, key_len, value, value_len, ttl_s) : WP_E_IO;
}

static enum wp_status mock_store_delete(struct wp_ctx *ctx, const char *ns, const char *key,
                                        size_t key_len)
{
    struct wp_store *store = mock_store(mock_of(ctx));
    return store ? wp__store_delete(store, ns, key, key_len) : WP_E_IO;
}

/* The plugin's struct sizes, for the HTTP calls that read and fill its structs. */
static struct wp_http_abi mock_http_abi(struct wp_ctx *ctx)
{
    return wp__http_abi_of(mock_of(ctx)->desc);
}

static enum wp_status mock_http_perform(struct wp_ctx *ctx, const struct wp_http_request *req,
                                        struct wp_http_response *resp)
{
    return wp__http_perform_abi(ctx, mock_http_abi(ctx), req, resp);
}

static enum wp_status mock_http_perform_many(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                             struct wp_http_response *resps, size_t count,
                                             unsigned concurrency, unsigned per_host)
{
    return wp__http_perform_many_abi(ctx, mock_http_abi(ctx), reqs, resps, count, concurrency,
                                     per_host);
}

static enum wp_status mock_http_perform_each(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                             size_t count, unsigned concurrency, unsigned per_host,
                                             bool (*on_reply)(void *arg, size_t index,
                                                              const struct wp_http_response *resp),
                                             void *arg)
{
    return wp__http_perform_each_abi(ctx, mock_http_abi(ctx), reqs, count, concurrency, per_host,
                                     on_reply, arg);
}

static void mock_discard_held(struct wp_ctx *ctx, size_t count)
{
    mock_metric_add(ctx, "discarded_held", (long long)count);
}

void wp_mock_init(struct wp_mock *m)
{
    memset(m, 0, sizeof(*m));
    m->ctx.host = &m->api;
    m->api = (struct wp_host_api){
        .abi_major = WP_ABI_MAJOR,
        .abi_minor = WP_ABI_MINOR,
        .struct_size = sizeof(struct wp_host_api),
        .malloc = wp_malloc,
        .calloc = wp_calloc,
        .realloc = wp_realloc,
        .free = wp_free,
        .strndup = wp_strndup,
        .log = mock_log,
        .log_enabled = mock_log_enabled,
        .emit = mock_emit,
        .fail = mock_fail,
        .retry_in = mock_retry_in,
        .attempt = mock_attempt,
        .dead_letter = mock_dead_letter,
        .item_add_error = mock_item_add_error,
        .metric_add = mock_metric_add,
        .cancelled = mock_cancelled,
        .stage_id = mock_stage_id,
        .pipeline_dir = mock_pipeline_dir,
        .state_dir = mock_state_dir,
        .status_name = wp_status_name,
        .backoff_ms = wp__backoff_ms,
        .http_perform = mock_http_perform,
        .http_perform_many = mock_http_perform_many,
        .http_response_release = wp__http_response_release,
        .store_get = mock_store_get,
        .store_put = mock_store_put,
        .store_delete = mock_store_delete,
        .sha256_hex = wp__sha256_hex,
        .discard_held = mock_discard_held,
        .http_perform_each = mock_http_perform_each,
    };
    m->emitted = json_array();
    m->dead_letters = json_array();
    m->logs = json_array();
    m->metrics = json_object();
    m->attempt = 1;
    snprintf(m->state_dir, sizeof(m->state_dir), "/tmp/wp-mock-XXXXXX");
    if (!mkdtemp(m->state_dir))
        m->state_dir[0] = '\0';
    if (!getcwd(m->pipeline_dir, sizeof(m->pipeline_dir)))
        m->pipeline_dir[0] = '\0';
    static bool http_ready;
    if (!http_ready) {
        wp__http_global_init();
        http_ready = true;
    }
}

/* Like the host: a name is a plugin name unless it has a '/' or ends in ".so". */
static bool is_path(const char *s)
{
    size_t len = strlen(s);
    return strchr(s, '/') || (len > 3 && strcmp(s + len - 3, ".so") == 0);
}

/*
 * A diagnostic as the test sees it: without the place the host would print ("mock: ",
 * "mock: stages[0].config."), so a config problem starts with the key ("fields[1]: ...")
 * or the problem ("unknown key 'x'; ...").
 */
static const char *strip_place(const char *line)
{
    static const char *const prefixes[] = {"mock: stages[0].config: ", "mock: stages[0].config.",
                                           "mock: "};
    for (size_t i = 0; i < WP_ARRAY_SIZE(prefixes); i++) {
        size_t len = strlen(prefixes[i]);
        if (strncmp(line, prefixes[i], len) == 0)
            return line + len;
    }
    return line;
}

/* Set m->fail_text to the lines of @diags, one per line, and print them to stderr. */
static void fail_with_diags(struct wp_mock *m, enum wp_status code, const struct wp_diags *diags)
{
    size_t used = 0;
    m->fail_text[0] = '\0';
    for (size_t i = 0; i < diags->count && used < sizeof(m->fail_text); i++) {
        const char *line = i < diags->alloc && diags->lines[i] ? diags->lines[i] : "out of memory";
        int n = snprintf(m->fail_text + used, sizeof(m->fail_text) - used, "%s%s", i ? "\n" : "",
                         strip_place(line));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    m->fail_code = code;
    if (getenv("WP_MOCK_VERBOSE") || code != WP_E_CONFIG)
        wp__log(WP_LOG_ERROR, "mock", "%s", m->fail_text);
}

/*
 * The path of plugin @plugin: itself when it is a path, else the first <dir>/<plugin>.so
 * that exists on WIREPIPE_PLUGIN_PATH ("." when unset). False with m->fail_text set.
 */
static bool mock_find(struct wp_mock *m, const char *plugin, char *path, size_t size)
{
    if (is_path(plugin)) {
        snprintf(path, size, "%s", plugin);
        return true;
    }
    const char *paths = getenv("WIREPIPE_PLUGIN_PATH");
    if (!paths || !*paths)
        paths = ".";
    for (const char *p = paths; *p;) {
        size_t len = strcspn(p, ":");
        struct stat st;
        if (len > 0) {
            snprintf(path, size, "%.*s/%s.so", (int)len, p, plugin);
            if (stat(path, &st) == 0)
                return true;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    snprintf(m->fail_text, sizeof(m->fail_text),
             "no plugin '%s' (searched WIREPIPE_PLUGIN_PATH: %s)", plugin, paths);
    m->fail_code = WP_E_NOTFOUND;
    wp__log(WP_LOG_ERROR, "mock", "%s", m->fail_text);
    return false;
}

/*
 * A one-stage pipeline definition around @config (stolen), so the stage's config goes
 * through the host's own validation. NULL when out of memory.
 */
static struct wp_pipeline_def *mock_def_new(struct wp_mock *m, const char *plugin,
                                            const char *stage, json_t *config)
{
    struct wp_pipeline_def *def = wp_calloc(1, sizeof(*def));
    struct wp_stage_def *sd = wp_calloc(1, sizeof(*sd));
    if (!def || !sd) {
        wp_free(def);
        wp_free(sd);
        json_decref(config);
        return NULL;
    }
    def->stages = sd;
    def->stage_count = 1;
    sd->config = config;
    sd->workers = 1;
    sd->max_attempts = 1;
    def->path = wp_strdup("mock");
    def->dir = wp_strdup(m->pipeline_dir[0] ? m->pipeline_dir : ".");
    def->name = wp_strdup("mock");
    def->state_dir = wp_strdup(m->state_dir);
    sd->id = wp_strdup(plugin);
    sd->plugin = wp_strdup(plugin);
    sd->stage = stage ? wp_strdup(stage) : NULL;
    if (!def->path || !def->dir || !def->name || !def->state_dir || !sd->id || !sd->plugin ||
        (stage && !sd->stage)) {
        wp__pipeline_def_free(def);
        return NULL;
    }
    return def;
}

enum wp_status wp_mock_create(struct wp_mock *m, const char *plugin, const char *stage,
                              const char *config_json)
{
    char path[4096];
    if (!mock_find(m, plugin, path, sizeof(path)))
        return WP_E_NOTFOUND;
    if (!m->loader)
        m->loader = wp__loader_new(NULL, 0);
    if (!m->loader) {
        snprintf(m->fail_text, sizeof(m->fail_text), "out of memory");
        m->fail_code = WP_E_NOMEM;
        return WP_E_NOMEM;
    }
    struct wp_diags diags;
    wp__diags_init(&diags);
    enum wp_status status = WP_E_NOTFOUND;
    const struct wp_plugin *loaded = wp__loader_get(m->loader, path, "mock", &diags);
    if (!loaded)
        goto out_fail;
    const struct wp_stage_ops *ops = wp__loader_find_stage(loaded, stage);
    if (!ops) {
        wp__diags_add(&diags, "mock: plugin '%s' has no stage '%s'", loaded->name,
                      stage ? stage : "(first)");
        goto out_fail;
    }

    json_error_t jerr;
    json_t *config = json_loads(config_json ? config_json : "{}", 0, &jerr);
    status = WP_E_CONFIG;
    if (!config || !json_is_object(config)) {
        wp__diags_add(&diags, "mock: config: %s", config ? "not a JSON object" : jerr.text);
        json_decref(config);
        goto out_fail;
    }
    struct wp_pipeline_def *def = mock_def_new(m, loaded->name, stage, config);
    status = WP_E_NOMEM;
    if (!def) {
        wp__diags_add(&diags, "mock: out of memory");
        goto out_fail;
    }
    status = wp__config_validate(def, 0, ops->config, &diags);
    if (status != WP_OK) {
        wp__pipeline_def_free(def);
        goto out_fail;
    }
    wp__diags_release(&diags);

    m->desc = loaded->desc;
    m->ops = ops;
    json_decref(m->config);
    m->config = json_incref(def->stages[0].config);
    status = ops->create(&m->ctx, def->stages[0].config, &m->instance);
    wp__pipeline_def_free(def);
    if (status != WP_OK) {
        m->ops = NULL;
        m->instance = NULL;
        if (!m->fail_text[0])
            snprintf(m->fail_text, sizeof(m->fail_text), "create: %s", wp_status_str(status));
    }
    return status;

out_fail:
    fail_with_diags(m, status, &diags);
    wp__diags_release(&diags);
    return status;
}

enum wp_status wp_mock_restart(struct wp_mock *m)
{
    if (!m->ops || !m->config)
        return WP_E_INVALID;
    if (m->ops->destroy)
        m->ops->destroy(m->instance);
    m->instance = NULL;
    /* A run ends with its store closed; the next opens it again on first use. */
    if (m->store) {
        wp__store_close(m->store);
        m->store = NULL;
    }
    m->fail_text[0] = '\0';
    m->fail_code = WP_OK;
    enum wp_status status = m->ops->create(&m->ctx, m->config, &m->instance);
    if (status != WP_OK) {
        m->ops = NULL;
        m->instance = NULL;
        if (!m->fail_text[0])
            snprintf(m->fail_text, sizeof(m->fail_text), "create: %s", wp_status_str(status));
    }
    return status;
}

enum wp_outcome wp_mock_process(struct wp_mock *m, json_t *item)
{
    return m->ops->process(m->instance, &m->ctx, item);
}

enum wp_outcome wp_mock_generate(struct wp_mock *m)
{
    return m->ops->generate ? m->ops->generate(m->instance, &m->ctx) : WP_OUTCOME_OK;
}

enum wp_outcome wp_mock_flush(struct wp_mock *m)
{
    return m->ops->flush ? m->ops->flush(m->instance, &m->ctx) : WP_OUTCOME_OK;
}

/* nftw() callback: remove one entry of the state folder, children first. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

void wp_mock_release(struct wp_mock *m)
{
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->instance);
    if (m->store)
        wp__store_close(m->store);
    wp__loader_free(m->loader); /* the plugins stay loaded */
    json_decref(m->emitted);
    json_decref(m->dead_letters);
    json_decref(m->logs);
    json_decref(m->metrics);
    json_decref(m->config);
    if (m->state_dir[0] && nftw(m->state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        wp__log(WP_LOG_WARN, "mock", "could not remove '%s'", m->state_dir);
    memset(m, 0, sizeof(*m));
}
