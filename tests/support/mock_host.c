#include "mock_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "backoff.h"
#include "digest.h"
#include "http.h"
#include "item.h"
#include "store.h"

static struct wp_mock *mock_of(struct wp_ctx *ctx)
{
    return (struct wp_mock *)ctx; /* ctx is the first member */
}

static char *mock_vformat(const char *fmt, va_list ap)
{
    static char buf[4096];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    return buf;
}

static void mock_log(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = mock_vformat(fmt, ap);
    va_end(ap);
    json_array_append_new(mock_of(ctx)->logs,
                          json_pack("{s:i,s:s}", "level", (int)level, "message", text));
    if (getenv("WP_MOCK_VERBOSE"))
        fprintf(stderr, "mock log[%d]: %s\n", (int)level, text);
}

static bool mock_log_enabled(struct wp_ctx *ctx, enum wp_log_level level)
{
    (void)ctx;
    (void)level;
    return true;
}

static enum wp_status mock_emit(struct wp_ctx *ctx, json_t *item)
{
    json_array_append_new(mock_of(ctx)->emitted, item);
    return WP_OK;
}

static void mock_fail(struct wp_ctx *ctx, enum wp_status code, const char *fmt, ...)
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

static enum wp_status mock_dead_letter(struct wp_ctx *ctx, const json_t *item, enum wp_status code,
                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = mock_vformat(fmt, ap);
    va_end(ap);
    json_array_append_new(
        mock_of(ctx)->dead_letters,
        json_pack("{s:O,s:s,s:s}", "item", item, "code", wp_status_name(code), "message", text));
    return WP_OK;
}

static enum wp_status mock_item_add_error(struct wp_ctx *ctx, json_t *item, enum wp_status code,
                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = mock_vformat(fmt, ap);
    va_end(ap);
    return wp__item_append_error(item, mock_of(ctx)->ops ? mock_of(ctx)->ops->name : "?", code,
                                 text, mock_of(ctx)->attempt);
}

static void mock_metric_add(struct wp_ctx *ctx, const char *name, long long delta)
{
    json_t *metrics = mock_of(ctx)->metrics;
    json_int_t old = json_integer_value(json_object_get(metrics, name));
    json_object_set_new(metrics, name, json_integer(old + delta));
}

static bool mock_cancelled(struct wp_ctx *ctx)
{
    return mock_of(ctx)->cancelled;
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
    if (!m->store) {
        struct wp_error err = {0};
        if (wp__store_open(m->state_dir, &m->store, &err) != WP_OK) {
            fprintf(stderr, "mock: cannot open state store: %s\n", err.text);
            return NULL;
        }
    }
    return m->store;
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
        .http_perform = wp__http_perform,
        .http_perform_many = wp__http_perform_many,
        .http_response_release = wp__http_response_release,
        .store_get = mock_store_get,
        .store_put = mock_store_put,
        .store_delete = mock_store_delete,
        .sha256_hex = wp__sha256_hex,
        .discard_held = mock_discard_held,
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

/* Find @plugin.so on WIREPIPE_PLUGIN_PATH and return its descriptor. */
static const struct wp_plugin_desc *mock_load(const char *plugin)
{
    const char *paths = getenv("WIREPIPE_PLUGIN_PATH");
    char path[1024];
    char symbol[128];
    snprintf(symbol, sizeof(symbol), "wp_plugin_%s", plugin);
    const char *p = paths ? paths : ".";
    while (*p) {
        size_t len = strcspn(p, ":");
        snprintf(path, sizeof(path), "%.*s/%s.so", (int)len, p, plugin);
        void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (handle) {
            const struct wp_plugin_desc *(*entry)(void);
            *(void **)&entry = dlsym(handle, symbol);
            if (entry)
                return entry();
        }
        p += len;
        if (*p == ':')
            p++;
    }
    fprintf(stderr, "mock: cannot load plugin '%s' from '%s'\n", plugin, paths ? paths : ".");
    return NULL;
}

enum wp_status wp_mock_create(struct wp_mock *m, const char *plugin, const char *stage,
                              const char *config_json)
{
    const struct wp_plugin_desc *desc = mock_load(plugin);
    if (!desc)
        return WP_E_NOTFOUND;
    for (size_t i = 0; desc->stages[i]; i++) {
        if (!stage || strcmp(desc->stages[i]->name, stage) == 0) {
            m->ops = desc->stages[i];
            break;
        }
    }
    if (!m->ops)
        return WP_E_NOTFOUND;
    json_error_t jerr;
    json_t *config = json_loads(config_json ? config_json : "{}", 0, &jerr);
    if (!config) {
        fprintf(stderr, "mock: bad config json: %s\n", jerr.text);
        return WP_E_CONFIG;
    }
    for (const struct wp_config_key *key = m->ops->config; key && key->name; key++) {
        if (key->default_json && !json_object_get(config, key->name))
            json_object_set_new(config, key->name,
                                json_loads(key->default_json, JSON_DECODE_ANY, &jerr));
    }
    enum wp_status status = m->ops->create(&m->ctx, config, &m->instance);
    json_decref(config);
    if (status != WP_OK)
        m->ops = NULL;
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

void wp_mock_release(struct wp_mock *m)
{
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->instance);
    if (m->store)
        wp__store_close(m->store);
    json_decref(m->emitted);
    json_decref(m->dead_letters);
    json_decref(m->logs);
    json_decref(m->metrics);
    if (m->state_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->state_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "mock: could not remove %s\n", m->state_dir);
    }
    memset(m, 0, sizeof(*m));
}
