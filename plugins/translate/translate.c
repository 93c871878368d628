/*
 * translate.c - the translate stage: headline and body into translations[lang] through one
 * remote machine-translation provider.
 *
 * Per item: protect names with placeholders, cut each field into segments (paragraphs, then
 * sentences, within the provider's size limit), answer what the cache knows, pack the rest
 * into as few requests as the provider allows, send them all at once through the host's
 * HTTP client (which owns retries, backoff and the circuit breaker), check every reply
 * (segment count, sentinel, every placeholder back exactly once), retry a garbled packed
 * request once segment by segment, then put the fields back together around the original
 * whitespace. A target that fails leaves the item's text alone and records the error.
 */
#include "translate.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wirepipe/lang.h>
#include <wirepipe/plugin.h>

#include <jansson.h>

#define CACHE_NS "translate.cache"

/* The largest max_chars of any provider (DeepL); each provider's own is checked in create(). */
#define TR_MAX_CHARS_ANY 30000

struct translate {
    struct tr_config conf;
    char **targets;
    size_t target_count;
    char *source; /* forced source language, or NULL */
    char **fields;
    size_t field_count;
    json_t *protect; /* array of strings */
    bool use_entities;
    bool cache;
    long long cache_ttl_s;
    bool pack;
    bool breaker;
    bool reject_on_failure;
    unsigned concurrency;
    atomic_bool quota_exhausted; /* a quota error pauses the provider for the rest of the run */
};

static const struct translate_provider *const providers[] = {
    &tr_provider_apertium, &tr_provider_libretranslate, &tr_provider_deepl,
    &tr_provider_google,   &tr_provider_azure,          NULL,
};

static const struct wp_config_key translate_config[] = {
    {.name = "provider",
     .type = WP_CONFIG_STRING,
     .default_json = "\"apertium\"",
     .doc = "MT provider protocol",
     .choices = "apertium|libretranslate|deepl|google|azure"},
    {.name = "endpoint",
     .type = WP_CONFIG_STRING,
     .doc = "base URL of the provider (default: the provider's public or local address)"},
    {.name = "targets",
     .type = WP_CONFIG_STRINGS,
     .doc = "target language codes (BCP 47), one or more",
     .flags = WP_CONFIG_REQUIRED,
     .min_items = 1},
    {.name = "source",
     .type = WP_CONFIG_STRING,
     .doc = "source language; default: the item's language, else the provider's detection"},
    {.name = "fields",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[\"headline\",\"body\"]",
     .doc = "item text fields to translate"},
    {.name = "protect",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[]",
     .doc = "strings never to translate (names, brands)"},
    {.name = "use_entities",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "protect the item's entity mentions too"},
    {.name = "api_key_env",
     .type = WP_CONFIG_STRING,
     .doc = "environment variable holding the API key (default per provider)"},
    {.name = "region_env",
     .type = WP_CONFIG_STRING,
     .default_json = "\"AZURE_TRANSLATOR_REGION\"",
     .doc = "environment variable holding the Azure resource region"},
    {.name = "formality",
     .type = WP_CONFIG_STRING,
     .doc = "DeepL formality (default, more, less, prefer_more...)"},
    {.name = "concurrency",
     .type = WP_CONFIG_INT,
     .default_json = "0",
     .doc = "requests in flight at once per item; 0 = the provider's default (APy 1, others 4)",
     WP_CONFIG_RANGE(0, 64)},
    {.name = "timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "20000",
     .doc = "timeout of one request attempt",
     WP_CONFIG_RANGE(1, INT_MAX)},
    {.name = "max_attempts",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "attempts per request, retries included",
     WP_CONFIG_RANGE(1, 20)},
    {.name = "retry_cap_ms",
     .type = WP_CONFIG_INT,
     .default_json = "30000",
     .doc = "longest wait between attempts (caps Retry-After)",
     WP_CONFIG_RANGE(0, UINT_MAX)},
    {.name = "max_chars",
     .type = WP_CONFIG_INT,
     .default_json = "0",
     .doc = "characters per request; 0 = the provider's limit (APy 1000)",
     WP_CONFIG_RANGE(0, TR_MAX_CHARS_ANY)},
    {.name = "max_segments",
     .type = WP_CONFIG_INT,
     .default_json = "0",
     .doc = "segments per request; 0 = the provider's limit",
     WP_CONFIG_RANGE(0, INT_MAX)},
    {.name = "pack",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "pack several segments into one request"},
    {.name = "cache",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "reuse segment translations from the state store"},
    {.name = "cache_ttl_s",
     .type = WP_CONFIG_INT,
     .default_json = "0",
     .doc = "cache entry lifetime in seconds; 0 = forever"},
    {.name = "breaker",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "pause a provider host that keeps failing"},
    {.name = "on_failure",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "when a translation fails: keep the item with the error recorded, or reject it",
     .choices = "keep|reject"},
    {0},
};

/* ---- configuration ----------------------------------------------------------------- */

static char *dup_str(const struct wp_host_api *host, const char *s)
{
    return s ? host->strndup(s, strlen(s)) : NULL;
}

static char **dup_strings(const struct wp_host_api *host, const json_t *arr, size_t *count)
{
    size_t n = json_array_size(arr);
    char **out = host->calloc(n + 1, sizeof(*out));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = dup_str(host, json_string_value(json_array_get(arr, i)));
        if (!out[i])
            return out; /* caller frees; count stays short */
    }
    *count = n;
    return out;
}

static void free_strings(const struct wp_host_api *host, char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        host->free(list[i]);
    host->free(list);
}

static void translate_destroy(void *instance)
{
    struct translate *t = instance;
    if (!t)
        return;
    const struct wp_host_api *host = t->conf.host;
    free_strings(host, t->targets);
    free_strings(host, t->fields);
    host->free(t->source);
    host->free(t->conf.endpoint);
    if (t->conf.api_key) {
        /* Do not leave the key in freed memory. */
        volatile char *p = t->conf.api_key;
        while (*p)
            *p++ = '\0';
        host->free(t->conf.api_key);
    }
    host->free(t->conf.region);
    host->free(t->conf.formality);
    json_decref(t->protect);
    host->free(t);
}

static long long int_key(const json_t *config, const char *name, long long fallback)
{
    json_t *v = json_object_get(config, name);
    return json_is_integer(v) ? (long long)json_integer_value(v) : fallback;
}

static bool bool_key(const json_t *config, const char *name, bool fallback)
{
    json_t *v = json_object_get(config, name);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}

static enum wp_status translate_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    const struct wp_host_api *host = ctx->host;
    struct translate *t = host->calloc(1, sizeof(*t));
    if (!t)
        return WP_E_NOMEM;
    t->conf.host = host;
    atomic_init(&t->quota_exhausted, false);

    const char *pname = json_string_value(json_object_get(config, "provider"));
    for (size_t i = 0; providers[i]; i++)
        if (pname && strcmp(providers[i]->name, pname) == 0)
            t->conf.provider = providers[i];
    if (!t->conf.provider) {
        wp_fail(ctx, WP_E_CONFIG, "config.provider: unknown provider '%s'",
                pname ? pname : "(none)");
        goto out_config;
    }
    const struct translate_provider *p = t->conf.provider;

    const json_t *targets = json_object_get(config, "targets");
    if (!json_is_array(targets) || json_array_size(targets) == 0) {
        wp_fail(ctx, WP_E_CONFIG, "config.targets: expected array of language codes");
        goto out_config;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(targets, i, v)
    {
        if (!json_is_string(v) || !wp_lang_tag_valid(json_string_value(v))) {
            wp_fail(ctx, WP_E_CONFIG, "config.targets[%zu]: expected a language code", i);
            goto out_config;
        }
    }
    t->targets = dup_strings(host, targets, &t->target_count);
    if (!t->targets || t->target_count != json_array_size(targets))
        goto out_nomem;

    const char *source = json_string_value(json_object_get(config, "source"));
    if (source && !wp_lang_tag_valid(source)) {
        wp_fail(ctx, WP_E_CONFIG, "config.source: expected a language code");
        goto out_config;
    }
    if (source && !(t->source = dup_str(host, source)))
        goto out_nomem;

    const json_t *fields = json_object_get(config, "fields");
    if (!json_is_array(fields))
        fields = NULL;
    json_array_foreach(fields, i, v)
    {
        if (!json_is_string(v)) {
            wp_fail(ctx, WP_E_CONFIG, "config.fields[%zu]: expected a field name", i);
            goto out_config;
        }
    }
    if (fields) {
        t->fields = dup_strings(host, fields, &t->field_count);
    } else {
        json_t *def = json_pack("[ss]", WP_ITEM_HEADLINE, WP_ITEM_BODY);
        t->fields = def ? dup_strings(host, def, &t->field_count) : NULL;
        json_decref(def);
    }
    if (!t->fields)
        goto out_nomem;

    const json_t *protect = json_object_get(config, "protect");
    t->protect = json_is_array(protect) ? json_deep_copy(protect) : json_array();
    if (!t->protect)
        goto out_nomem;

    const char *endpoint = json_string_value(json_object_get(config, "endpoint"));
    const char *key_env = json_string_value(json_object_get(config, "api_key_env"));
    if (!key_env)
        key_env = p->default_key_env;
    const char *key = key_env ? getenv(key_env) : NULL;
    if (key && *key && !(t->conf.api_key = dup_str(host, key)))
        goto out_nomem;
    if (p->key_required && !t->conf.api_key) {
        wp_fail(ctx, WP_E_CONFIG,
                "provider '%s' needs an API key: environment variable '%s' is "
                "not set",
                p->name, key_env ? key_env : "?");
        goto out_config;
    }
    if (!endpoint) {
        endpoint = p->default_endpoint;
        /* DeepL Free keys end in ":fx" and only work on the free host. */
        if (p == &tr_provider_deepl && key && strlen(key) > 3 &&
            strcmp(key + strlen(key) - 3, ":fx") == 0)
            endpoint = "https://api-free.deepl.com";
    }
    if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
        wp_fail(ctx, WP_E_CONFIG, "config.endpoint: expected an http or https URL");
        goto out_config;
    }
    if (!(t->conf.endpoint = dup_str(host, endpoint)))
        goto out_nomem;
    size_t elen = strlen(t->conf.endpoint);
    while (elen > 8 && t->conf.endpoint[elen - 1] == '/')
        t->conf.endpoint[--elen] = '\0';

    const char *region_env = json_string_value(json_object_get(config, "region_env"));
    const char *region = region_env ? getenv(region_env) : NULL;
    if (region && *region && !(t->conf.region = dup_str(host, region)))
        goto out_nomem;
    const char *formality = json_string_value(json_object_get(config, "formality"));
    if (formality && !(t->conf.formality = dup_str(host, formality)))
        goto out_nomem;

    long long concurrency = int_key(config, "concurrency", 0);
    if (concurrency == 0)
        concurrency = (long long)p->concurrency;
    long long timeout_ms = int_key(config, "timeout_ms", 20000);
    long long attempts = int_key(config, "max_attempts", 4);
    long long cap = int_key(config, "retry_cap_ms", 30000);
    long long max_chars = int_key(config, "max_chars", 0);
    long long max_segments = int_key(config, "max_segments", 0);
    if (concurrency < 1 || concurrency > 64) {
        wp_fail(ctx, WP_E_CONFIG, "config.concurrency: expected 1 to 64");
        goto out_config;
    }
    if (timeout_ms < 1 || attempts < 1 || attempts > 20 || cap < 0 || max_chars < 0 ||
        max_segments < 0) {
        wp_fail(ctx, WP_E_CONFIG,
                "config: timeout_ms, max_attempts (1-20), retry_cap_ms, "
                "max_chars and max_segments must be positive");
        goto out_config;
    }
    if (max_chars && (size_t)max_chars > p->max_chars) {
        wp_fail(ctx, WP_E_CONFIG, "config.max_chars: provider '%s' takes at most %zu", p->name,
                p->max_chars);
        goto out_config;
    }
    if (max_chars && max_chars < 100) {
        wp_fail(ctx, WP_E_CONFIG, "config.max_chars: expected at least 100");
        goto out_config;
    }
    t->concurrency = (unsigned)concurrency;
    t->conf.timeout_ms = (long)timeout_ms;
    t->conf.max_attempts = (unsigned)attempts;
    t->conf.retry_cap_ms = (unsigned)cap;
    t->conf.max_chars = max_chars ? (size_t)max_chars : p->max_chars;
    t->conf.max_segments = max_segments ? (size_t)max_segments : p->max_segments;
    t->use_entities = bool_key(config, "use_entities", true);
    t->cache = bool_key(config, "cache", true);
    t->cache_ttl_s = int_key(config, "cache_ttl_s", 0);
    t->pack = bool_key(config, "pack", true);
    t->breaker = bool_key(config, "breaker", true);
    const char *on_failure = json_string_value(json_object_get(config, "on_failure"));
    t->reject_on_failure = on_failure && strcmp(on_failure, "reject") == 0;
    if (!t->pack)
        t->conf.max_segments = 1;
    *instance = t;
    return WP_OK;

out_nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory");
    translate_destroy(t);
    return WP_E_NOMEM;
out_config:
    translate_destroy(t);
    return WP_E_CONFIG;
}

/* ---- one item ---------------------------------------------------------------------- */

enum unit_state { UNIT_PENDING, UNIT_CACHED, UNIT_DONE, UNIT_FAILED };

/* One segment of one field for one target. */
struct unit {
    size_t target;
    size_t field;
    size_t seg;
    enum unit_state state;
    char *result; /* plugin form (placeholders), new */
    bool retry_alone;
};

struct field_job {
    const char *name;
    bool present;
    char *text; /* protected text, new */
    size_t len;
    struct tr_names names;
    struct tr_segments segs;
};

struct target_job {
    const char *tag; /* as configured */
    char lang[16];   /* primary subtag sent to the provider */
    bool skip;
    enum wp_status error;
    char message[WP_ERROR_TEXT_MAX];
    size_t characters;
    size_t sent;
};

struct job {
    struct translate *t;
    struct wp_ctx *ctx;
    const char *source; /* primary subtag, or NULL to detect */
    struct field_job *fields;
    struct target_job *targets;
    struct unit *units;
    size_t unit_count;
};

/* One request: units[first .. first+count) of the job's units in @idx. */
struct request {
    size_t *idx;
    size_t count;
    bool markup;
    size_t target;
    struct tr_batch batch;
    char **wire;
    size_t *wire_lens;
    struct tr_http http;
};

static const char *seg_text(const struct job *job, const struct unit *u, size_t *len)
{
    const struct field_job *f = &job->fields[u->field];
    const struct tr_segment *s = &f->segs.items[u->seg];
    *len = s->end - s->start;
    return f->text + s->start;
}

/* Replace every copy of the API key in @msg by "***", in place. */
static void scrub_key(const struct translate *t, char *msg)
{
    const char *key = t->conf.api_key;
    size_t klen = key ? strlen(key) : 0;
    if (klen < 4)
        return;
    char *hit;
    while ((hit = strstr(msg, key))) {
        memcpy(hit, "***", 3);
        memmove(hit + 3, hit + klen, strlen(hit + klen) + 1);
    }
}

static void target_fail(struct job *job, size_t target, enum wp_status code, const char *msg)
{
    struct target_job *tj = &job->targets[target];
    if (tj->error != WP_OK)
        return; /* keep the first reason */
    tj->error = code;
    snprintf(tj->message, sizeof(tj->message), "%s", msg);
    scrub_key(job->t, tj->message);
}

static enum wp_status cache_key(const struct job *job, const struct unit *u, struct wp_buf *key)
{
    const struct translate *t = job->t;
    wp_buf_adds(key, t->conf.provider->name);
    wp_buf_addch(key, '\0');
    wp_buf_adds(key, job->source ? job->source : "auto");
    wp_buf_addch(key, '\0');
    wp_buf_adds(key, job->targets[u->target].lang);
    wp_buf_addch(key, '\0');
    size_t len;
    const char *text = seg_text(job, u, &len);
    wp_buf_add(key, text, len);
    /* Engines that see the names themselves may inflect around them: key on them too. */
    if (t->conf.provider->protect != TR_PROTECT_PLACEHOLDER) {
        const struct tr_names *names = &job->fields[u->field].names;
        for (size_t i = 0; i < names->count; i++) {
            char tok[24];
            int n = snprintf(tok, sizeof(tok), "%s%zu", names->prefix, i);
            if (n > 0 && memmem(text, len, tok, (size_t)n)) {
                wp_buf_addch(key, '\0');
                wp_buf_adds(key, names->originals[i]);
            }
        }
    }
    return key->failed ? WP_E_NOMEM : WP_OK;
}

static void cache_lookup(struct job *job)
{
    const struct wp_host_api *host = job->ctx->host;
    for (size_t i = 0; i < job->unit_count; i++) {
        struct unit *u = &job->units[i];
        struct wp_buf key;
        wp_buf_init(&key, host);
        if (cache_key(job, u, &key) == WP_OK) {
            char *value = NULL;
            size_t value_len = 0;
            if (host->store_get(job->ctx, CACHE_NS, key.data, key.len, &value, &value_len) ==
                WP_OK) {
                u->result = value;
                u->state = UNIT_CACHED;
                host->metric_add(job->ctx, "cache_hits", 1);
            }
        }
        wp_buf_release(&key);
    }
}

static void cache_store(struct job *job)
{
    const struct wp_host_api *host = job->ctx->host;
    for (size_t i = 0; i < job->unit_count; i++) {
        struct unit *u = &job->units[i];
        if (u->state != UNIT_DONE || job->targets[u->target].error != WP_OK)
            continue;
        struct wp_buf key;
        wp_buf_init(&key, host);
        if (cache_key(job, u, &key) == WP_OK)
            host->store_put(job->ctx, CACHE_NS, key.data, key.len, u->result, strlen(u->result),
                            job->t->cache_ttl_s);
        wp_buf_release(&key);
    }
}

static void request_release(const struct wp_host_api *host, struct request *r)
{
    for (size_t i = 0; r->wire && i < r->count; i++)
        host->free(r->wire[i]);
    host->free(r->wire);
    host->free(r->wire_lens);
    host->free(r->idx);
    host->free(r->http.url);
    host->free(r->http.body);
    for (size_t i = 0; i < sizeof(r->http.headers) / sizeof(r->http.headers[0]); i++)
        host->free(r->http.headers[i]);
    memset(r, 0, sizeof(*r));
}

/*
 * Pack the pending units (or, with @alone, those marked retry_alone) into requests: same
 * target, same markup mode, within the provider's character and segment limits.
 */
static enum wp_status plan_requests(struct job *job, bool alone, struct request **out,
                                    size_t *out_count)
{
    const struct wp_host_api *host = job->ctx->host;
    const struct tr_config *conf = &job->t->conf;
    struct request *reqs = NULL;
    size_t count = 0, cap = 0;
    /* Room for APy's separators and sentinel. */
    const size_t overhead = 16;
    for (size_t pass = 0; pass < 2; pass++) {
        bool markup = pass == 1;
        for (size_t ti = 0; ti < job->t->target_count; ti++) {
            struct request *cur = NULL;
            size_t cur_chars = 0;
            for (size_t i = 0; i < job->unit_count; i++) {
                struct unit *u = &job->units[i];
                if (u->target != ti || u->state != UNIT_PENDING || (alone && !u->retry_alone))
                    continue;
                if (job->targets[ti].error != WP_OK)
                    continue;
                size_t len;
                const char *text = seg_text(job, u, &len);
                bool needs_markup = conf->provider->protect != TR_PROTECT_PLACEHOLDER &&
                                    tr_has_placeholder(&job->fields[u->field].names, text, len);
                if (needs_markup != markup)
                    continue;
                size_t chars = wp_utf8_count(text, len) + overhead;
                if (!cur || alone || cur->count >= conf->max_segments ||
                    cur_chars + chars > conf->max_chars) {
                    if (count == cap) {
                        size_t ncap = cap ? cap * 2 : 8;
                        struct request *n = host->realloc(reqs, ncap * sizeof(*n));
                        if (!n)
                            goto out_nomem;
                        reqs = n;
                        cap = ncap;
                    }
                    cur = &reqs[count++];
                    memset(cur, 0, sizeof(*cur));
                    cur->idx = host->calloc(conf->max_segments, sizeof(*cur->idx));
                    if (!cur->idx)
                        goto out_nomem;
                    cur->markup = markup;
                    cur->target = ti;
                    cur_chars = overhead;
                }
                cur->idx[cur->count++] = i;
                cur_chars += chars;
            }
        }
    }
    *out = reqs;
    *out_count = count;
    return WP_OK;
out_nomem:
    for (size_t i = 0; i < count; i++)
        request_release(host, &reqs[i]);
    host->free(reqs);
    return WP_E_NOMEM;
}

static enum wp_status build_request(struct job *job, struct request *r)
{
    const struct wp_host_api *host = job->ctx->host;
    const struct tr_config *conf = &job->t->conf;
    r->wire = host->calloc(r->count, sizeof(*r->wire));
    r->wire_lens = host->calloc(r->count, sizeof(*r->wire_lens));
    if (!r->wire || !r->wire_lens)
        return WP_E_NOMEM;
    for (size_t k = 0; k < r->count; k++) {
        struct unit *u = &job->units[r->idx[k]];
        size_t len;
        const char *text = seg_text(job, u, &len);
        struct wp_buf wire;
        wp_buf_init(&wire, host);
        tr_to_wire(&job->fields[u->field].names, conf->provider->protect, r->markup, text, len,
                   &wire);
        r->wire[k] = wp_buf_detach(&wire, &r->wire_lens[k]);
        if (!r->wire[k])
            return WP_E_NOMEM;
    }
    r->batch = (struct tr_batch){
        .source = job->source,
        .target = job->targets[r->target].lang,
        .markup = r->markup,
        .texts = r->wire,
        .lens = r->wire_lens,
        .count = r->count,
    };
    return conf->provider->build(conf, &r->batch, &r->http);
}

/* Handle one reply; marks units done, or the target failed, or units to retry alone. */
static enum wp_status take_reply(struct job *job, struct request *r,
                                 const struct wp_http_response *resp, bool last_round)
{
    const struct wp_host_api *host = job->ctx->host;
    const struct tr_config *conf = &job->t->conf;
    struct wp_buf err;
    wp_buf_init(&err, host);
    enum wp_status code = WP_OK;
    char **out = NULL;

    if (resp->code != WP_OK) {
        code = resp->code == WP_E_TIMEOUT ? WP_E_TIMEOUT : WP_E_UNAVAILABLE;
        wp_buf_addf(&err, "%s request failed after %u attempts: %s", conf->provider->name,
                    resp->attempts, resp->error[0] ? resp->error : host->status_name(resp->code));
        goto out;
    }
    if (resp->status < 200 || resp->status > 299) {
        code = conf->provider->classify(resp->status, resp->body, resp->body_len, &err);
        if (resp->attempts > 1)
            wp_buf_addf(&err, " after %u attempts", resp->attempts);
        if (code == WP_E_QUOTA)
            atomic_store(&job->t->quota_exhausted, true);
        goto out;
    }
    out = host->calloc(r->count, sizeof(*out));
    if (!out) {
        code = WP_E_NOMEM;
        goto out;
    }
    char detected[16] = "";
    code = conf->provider->parse(conf, &r->batch, resp->body, resp->body_len, out, detected,
                                 sizeof(detected), &err);
    for (size_t k = 0; code == WP_OK && k < r->count; k++) {
        struct unit *u = &job->units[r->idx[k]];
        const struct tr_names *names = &job->fields[u->field].names;
        struct wp_buf plain, check;
        wp_buf_init(&plain, host);
        wp_buf_init(&check, host);
        code =
            tr_from_wire(names, conf->provider->protect, r->markup, out[k], strlen(out[k]), &plain);
        size_t slen;
        const char *src = seg_text(job, u, &slen);
        if (code == WP_OK)
            code = tr_restore(names, plain.data ? plain.data : "", plain.len, src, slen, &check);
        wp_buf_release(&check);
        if (code == WP_E_PROTOCOL)
            wp_buf_adds(&err, "a protected name did not come back intact");
        if (code == WP_OK) {
            u->result = wp_buf_detach(&plain, NULL);
            if (!u->result)
                code = WP_E_NOMEM;
        }
        wp_buf_release(&plain);
    }
    if (code == WP_OK) {
        for (size_t k = 0; k < r->count; k++) {
            struct unit *u = &job->units[r->idx[k]];
            u->state = UNIT_DONE;
            size_t len;
            seg_text(job, u, &len);
            job->targets[r->target].characters += wp_utf8_count(seg_text(job, u, &len), len);
        }
    } else {
        for (size_t k = 0; k < r->count; k++) {
            struct unit *u = &job->units[r->idx[k]];
            host->free(u->result);
            u->result = NULL;
        }
    }
out:
    if (out) {
        for (size_t k = 0; k < r->count; k++)
            host->free(out[k]);
        host->free(out);
    }
    if (code == WP_E_PROTOCOL && r->count > 1 && !last_round) {
        /* A garbled or cut packed reply: try its segments one by one before giving up. */
        wp_log_debug(job->ctx, "%s: retrying %zu segments one by one: %s", conf->provider->name,
                     r->count, err.data ? err.data : "");
        for (size_t k = 0; k < r->count; k++)
            job->units[r->idx[k]].retry_alone = true;
        code = WP_OK;
    } else if (code != WP_OK) {
        target_fail(job, r->target, code, err.data ? err.data : host->status_name(code));
    }
    wp_buf_release(&err);
    return code == WP_E_NOMEM ? WP_E_NOMEM : WP_OK;
}

static enum wp_status run_round(struct job *job, bool alone)
{
    const struct wp_host_api *host = job->ctx->host;
    const struct tr_config *conf = &job->t->conf;
    struct request *reqs = NULL;
    size_t count = 0;
    enum wp_status st = plan_requests(job, alone, &reqs, &count);
    if (st != WP_OK || count == 0)
        return st;
    struct wp_http_request *http = host->calloc(count, sizeof(*http));
    struct wp_http_response *resps = host->calloc(count, sizeof(*resps));
    if (!http || !resps) {
        st = WP_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        st = build_request(job, &reqs[i]);
        if (st != WP_OK)
            goto out;
        http[i] = (struct wp_http_request){
            .method = "POST",
            .url = reqs[i].http.url,
            .headers = (const char *const *)reqs[i].http.headers,
            .body = reqs[i].http.body,
            .body_len = reqs[i].http.body_len,
            .timeout_ms = conf->timeout_ms,
            .max_attempts = conf->max_attempts,
            .retry_cap_ms = conf->retry_cap_ms,
            /* No redirects: a key in a header or the body must never follow one. */
            .flags = WP_HTTP_NO_REDIRECT | (job->t->breaker ? WP_HTTP_BREAKER : 0),
        };
        job->targets[reqs[i].target].sent++;
    }
    host->metric_add(job->ctx, "requests", (long long)count);
    if (count == 1 || job->t->concurrency == 1) {
        /* One at a time: the worker's own handle keeps the connection alive across items. */
        st = WP_OK;
        for (size_t i = 0; i < count && st == WP_OK; i++) {
            if (host->cancelled(job->ctx))
                st = WP_E_CANCELLED;
            else
                host->http_perform(job->ctx, &http[i], &resps[i]);
        }
    } else {
        st = host->http_perform_many(job->ctx, http, resps, count, job->t->concurrency,
                                     job->t->concurrency);
    }
    if (st != WP_OK) {
        for (size_t i = 0; i < count; i++)
            host->http_response_release(&resps[i]);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (st == WP_OK)
            st = take_reply(job, &reqs[i], &resps[i], alone);
        host->http_response_release(&resps[i]);
    }
out:
    for (size_t i = 0; i < count; i++)
        request_release(host, &reqs[i]);
    host->free(reqs);
    host->free(http);
    host->free(resps);
    return st;
}

/* Rebuild @f for target @ti: the source text with each segment replaced by its result. */
static enum wp_status assemble(struct job *job, size_t fi, size_t ti, struct wp_buf *out)
{
    const struct wp_host_api *host = job->ctx->host;
    struct field_job *f = &job->fields[fi];
    struct wp_buf protected_text;
    wp_buf_init(&protected_text, host);
    size_t pos = 0;
    for (size_t i = 0; i < job->unit_count; i++) {
        struct unit *u = &job->units[i];
        if (u->field != fi || u->target != ti)
            continue;
        const struct tr_segment *s = &f->segs.items[u->seg];
        wp_buf_add(&protected_text, f->text + pos, s->start - pos);
        wp_buf_adds(&protected_text, u->result);
        pos = s->end;
    }
    wp_buf_add(&protected_text, f->text + pos, f->len - pos);
    if (protected_text.failed) {
        wp_buf_release(&protected_text);
        return WP_E_NOMEM;
    }
    enum wp_status st =
        tr_restore(&f->names, protected_text.data, protected_text.len, f->text, f->len, out);
    wp_buf_release(&protected_text);
    return st;
}

static enum wp_status finish_target(struct job *job, json_t *item, size_t ti)
{
    const struct wp_host_api *host = job->ctx->host;
    struct target_job *tj = &job->targets[ti];
    json_t *result = json_object();
    if (!result)
        return WP_E_NOMEM;
    bool cached = true;
    for (size_t i = 0; i < job->unit_count; i++)
        if (job->units[i].target == ti && job->units[i].state != UNIT_CACHED)
            cached = false;
    for (size_t fi = 0; fi < job->t->field_count; fi++) {
        if (!job->fields[fi].present)
            continue;
        struct wp_buf text;
        wp_buf_init(&text, host);
        enum wp_status st = assemble(job, fi, ti, &text);
        if (st == WP_OK) {
            json_t *s = json_stringn(text.data ? text.data : "", text.len);
            st = s ? WP_OK : WP_E_UNICODE;
            if (s)
                json_object_set_new(result, job->fields[fi].name, s);
        }
        wp_buf_release(&text);
        if (st != WP_OK) {
            json_decref(result);
            if (st == WP_E_NOMEM)
                return st;
            target_fail(job, ti, st == WP_E_PROTOCOL ? WP_E_PROTOCOL : st,
                        "the translation does not reassemble into valid text");
            return WP_OK;
        }
    }
    json_object_set_new(result, "provider", json_string(job->t->conf.provider->name));
    json_object_set_new(result, "characters", json_integer((json_int_t)tj->characters));
    json_object_set_new(result, "cached", json_boolean(cached));
    json_t *all = json_object_get(item, WP_ITEM_TRANSLATIONS);
    if (!json_is_object(all)) {
        all = json_object();
        if (!all || json_object_set_new(item, WP_ITEM_TRANSLATIONS, all) != 0) {
            json_decref(result);
            return WP_E_NOMEM;
        }
    }
    json_object_set_new(all, tj->tag, result);
    return WP_OK;
}

static void job_release(struct job *job)
{
    const struct wp_host_api *host = job->ctx->host;
    for (size_t i = 0; job->units && i < job->unit_count; i++)
        host->free(job->units[i].result);
    host->free(job->units);
    for (size_t fi = 0; job->fields && fi < job->t->field_count; fi++) {
        host->free(job->fields[fi].text);
        tr_names_release(host, &job->fields[fi].names);
        tr_segments_release(host, &job->fields[fi].segs);
    }
    host->free(job->fields);
    host->free(job->targets);
}

/* Prepare fields (protect, segment) and the unit list. */
static enum wp_status job_prepare(struct job *job, json_t *item)
{
    const struct wp_host_api *host = job->ctx->host;
    struct translate *t = job->t;
    const json_t *entities = t->use_entities ? json_object_get(item, WP_ITEM_ENTITIES) : NULL;
    if (!json_is_array(entities))
        entities = NULL;
    size_t seg_max = t->conf.max_chars > 64 ? t->conf.max_chars - 32 : t->conf.max_chars;
    size_t segments = 0;
    for (size_t fi = 0; fi < t->field_count; fi++) {
        struct field_job *f = &job->fields[fi];
        f->name = t->fields[fi];
        json_t *value = json_object_get(item, f->name);
        if (!json_is_string(value))
            continue;
        f->present = true;
        struct wp_buf prot;
        wp_buf_init(&prot, host);
        enum wp_status st =
            tr_protect(host, f->name, json_string_value(value), json_string_length(value), entities,
                       t->protect, &f->names, &prot);
        if (st != WP_OK) {
            wp_buf_release(&prot);
            return st;
        }
        f->text = wp_buf_detach(&prot, &f->len);
        if (!f->text)
            return WP_E_NOMEM;
        st = tr_segment_text(host, f->text, f->len, seg_max, &f->segs);
        if (st != WP_OK)
            return st;
        segments += f->segs.count;
    }
    size_t active = 0;
    for (size_t ti = 0; ti < t->target_count; ti++)
        if (!job->targets[ti].skip)
            active++;
    job->units = host->calloc(segments * active + 1, sizeof(*job->units));
    if (!job->units)
        return WP_E_NOMEM;
    for (size_t ti = 0; ti < t->target_count; ti++) {
        if (job->targets[ti].skip)
            continue;
        for (size_t fi = 0; fi < t->field_count; fi++)
            for (size_t si = 0; si < job->fields[fi].segs.count; si++)
                job->units[job->unit_count++] =
                    (struct unit){.target = ti, .field = fi, .seg = si, .state = UNIT_PENDING};
    }
    return WP_OK;
}

static enum wp_outcome translate_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct translate *t = instance;
    const struct wp_host_api *host = ctx->host;
    struct job job = {.t = t, .ctx = ctx};
    enum wp_outcome outcome = WP_OUTCOME_OK;
    char source[16] = "";

    if (t->source) {
        wp_lang_primary(t->source, source, sizeof(source));
    } else {
        const char *lang = json_string_value(json_object_get(item, WP_ITEM_LANGUAGE));
        if (lang && wp_lang_tag_valid(lang) && strcmp(lang, "und") != 0)
            wp_lang_primary(lang, source, sizeof(source));
    }
    job.source = source[0] ? source : NULL;

    job.fields = host->calloc(t->field_count, sizeof(*job.fields));
    job.targets = host->calloc(t->target_count, sizeof(*job.targets));
    if (!job.fields || !job.targets)
        goto out_nomem;
    size_t active = 0;
    for (size_t ti = 0; ti < t->target_count; ti++) {
        struct target_job *tj = &job.targets[ti];
        tj->tag = t->targets[ti];
        wp_lang_primary(tj->tag, tj->lang, sizeof(tj->lang));
        /* A regional target ("en-US") is still a translation from another region's text. */
        tj->skip = job.source && strcmp(tj->lang, job.source) == 0 && !strchr(tj->tag, '-');
        if (!tj->skip)
            active++;
    }
    if (active == 0)
        goto out;

    if (!job.source && !t->conf.provider->can_detect) {
        for (size_t ti = 0; ti < t->target_count; ti++)
            if (!job.targets[ti].skip)
                target_fail(&job, ti, WP_E_INVALID,
                            "the item has no language and the provider cannot detect one; "
                            "set config.source");
    } else if (atomic_load(&t->quota_exhausted)) {
        for (size_t ti = 0; ti < t->target_count; ti++)
            if (!job.targets[ti].skip)
                target_fail(&job, ti, WP_E_QUOTA,
                            "provider quota exhausted earlier in this run; not sent");
    } else {
        enum wp_status st = job_prepare(&job, item);
        if (st == WP_E_NOMEM)
            goto out_nomem;
        if (st != WP_OK) {
            for (size_t ti = 0; ti < t->target_count; ti++)
                if (!job.targets[ti].skip)
                    target_fail(&job, ti, st, "the text cannot be segmented");
        } else {
            if (t->cache)
                cache_lookup(&job);
            st = run_round(&job, false);
            if (st == WP_OK)
                st = run_round(&job, true);
            if (st == WP_E_CANCELLED) {
                host->retry_in(ctx, 1000);
                outcome = WP_OUTCOME_RETRY;
                goto out;
            }
            if (st != WP_OK)
                goto out_nomem;
            if (t->cache)
                cache_store(&job);
        }
    }

    for (size_t ti = 0; ti < t->target_count; ti++) {
        struct target_job *tj = &job.targets[ti];
        if (tj->skip)
            continue;
        if (tj->error == WP_OK) {
            for (size_t i = 0; i < job.unit_count; i++)
                if (job.units[i].target == ti && job.units[i].state != UNIT_DONE &&
                    job.units[i].state != UNIT_CACHED)
                    target_fail(&job, ti, WP_E_PROTOCOL, "a segment got no translation");
        }
        if (tj->error == WP_OK && finish_target(&job, item, ti) != WP_OK)
            goto out_nomem;
        if (tj->error != WP_OK) {
            host->metric_add(ctx, "failed", 1);
            wp_log_warn(ctx, "translation to '%s' failed (%s): %s", tj->tag,
                        host->status_name(tj->error), tj->message);
            host->item_add_error(ctx, item, tj->error, "translation to '%s' failed: %s", tj->tag,
                                 tj->message);
            if (t->reject_on_failure && outcome == WP_OUTCOME_OK) {
                wp_fail(ctx, tj->error, "translation to '%s' failed: %s", tj->tag, tj->message);
                outcome = WP_OUTCOME_REJECT;
            }
        } else {
            host->metric_add(ctx, "translated", 1);
        }
    }
    goto out;

out_nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory while translating");
    host->retry_in(ctx, 1000);
    outcome = WP_OUTCOME_RETRY;
out:
    job_release(&job);
    return outcome;
}

static const struct wp_stage_ops translate_ops = {
    .name = "translate",
    .description = "Translate headline and body through a machine-translation API",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = translate_config,
    .create = translate_create,
    .process = translate_process,
    .destroy = translate_destroy,
};

static const struct wp_stage_ops *const translate_stages[] = {&translate_ops, NULL};

WP_PLUGIN_DEFINE(translate, "0.1.0", "Translate items through remote machine-translation APIs",
                 "MIT", translate_stages)
