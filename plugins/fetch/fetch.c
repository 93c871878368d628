/*
 * fetch.c - the fetch stage: pages, feeds and ninjs from http(s) URLs and local files.
 *
 * generate() reads everything configured (http(s) urls, then file: urls, then paths) and
 * emits one item per page, feed entry or ninjs object. http documents and followed pages
 * stream: each is emitted as soon as it arrives, so their items come out in completion
 * order; files come out in configuration order, then document order. process() takes
 * items given with --input: one with a "uri" and neither "content" nor "body" is fetched
 * the same way; any other item passes on untouched.
 *
 * All HTTP goes through the host's shared client (retries, backoff, Retry-After, redirect
 * and protocol limits, body limit, gzip). This file adds what is specific to fetching news:
 *  - acknowledged delivery: what generate() emits is recorded only when the host
 *    acknowledges it (ack()), so a rerun after a crash delivers what was not done;
 *  - conditional GET: ETag / Last-Modified per canonical URL in the store namespace
 *    "fetch.http", stored once every item of the document is done; a 304 yields nothing;
 *  - de-duplication: ids delivered in an earlier run are remembered in "fetch.seen" and
 *    skipped, and an id already in flight in this run is not emitted twice;
 *  - decoding to UTF-8, feeds (RSS and Atom), ninjs;
 *  - file: sources only from the pipeline's own configuration, never from a redirect, a
 *    feed link or an --input item.
 *
 * The parts are described in fetch.h.
 */

/* http_perform_each() and ack() are 2.1: an older host would never acknowledge anything. */
#define WP_PLUGIN_MIN_HOST_MINOR 1

#include "fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/uri.h>

static const struct wp_config_key fetch_config[] = {
    {.name = "urls",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[]",
     .doc = "http(s) URLs of pages, RSS/Atom feeds or ninjs documents"},
    {.name = "paths",
     .type = WP_CONFIG_PATHS,
     .default_json = "[]",
     .doc = "local files, folders (their files, one level, sorted) or glob patterns"},
    {.name = "follow",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "also fetch the page each feed entry links to"},
    {.name = "concurrency",
     .type = WP_CONFIG_INT,
     .default_json = "8",
     .doc = "requests in flight at once",
     WP_CONFIG_RANGE(1, 256)},
    {.name = "per_host",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "requests in flight to one host",
     WP_CONFIG_RANGE(1, 256)},
    {.name = "timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "30000",
     .doc = "whole-transfer timeout of one request",
     WP_CONFIG_RANGE(1, 3600000)},
    {.name = "connect_timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "10000",
     .doc = "connect timeout of one request",
     WP_CONFIG_RANGE(1, 600000)},
    {.name = "max_body",
     .type = WP_CONFIG_INT,
     .default_json = "10485760",
     .doc = "largest page or file read, in bytes",
     WP_CONFIG_RANGE(1, 1 << 30)},
    {.name = "max_attempts",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "attempts per URL (429, 5xx, timeouts, resets)",
     WP_CONFIG_RANGE(1, 20)},
    {.name = "dedup",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "skip items whose id an earlier run delivered (generate only)"},
    {.name = "conditional",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "send If-None-Match/If-Modified-Since from the last fetch; a 304 yields nothing"},
    {.name = "source_name",
     .type = WP_CONFIG_STRING,
     .doc = "source.name of every item (default: the URL's host or the file name)"},
    {.name = "user_agent",
     .type = WP_CONFIG_STRING,
     .doc = "User-Agent header (default: the host's wirepipe/VERSION)"},
    {.name = "every",
     .type = WP_CONFIG_ANY,
     .doc = "poll the sources again at this interval (\"30s\", \"5m\", \"1h\"; 1s-24h) until "
            "SIGTERM; unset: read once"},
    {0},
};

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

static void fetch_destroy(void *instance)
{
    struct fetch *f = instance;
    if (!f)
        return;
    /* What was never acknowledged is not recorded: the next run reads it again. */
    fetch_pending_release(f);
    for (size_t i = 0; i < f->n_urls; i++)
        f->host->free(f->urls[i]);
    for (size_t i = 0; i < f->n_paths; i++)
        f->host->free(f->paths[i]);
    if (f->urls)
        f->host->free(f->urls);
    if (f->paths)
        f->host->free(f->paths);
    if (f->source_name)
        f->host->free(f->source_name);
    if (f->user_agent)
        f->host->free(f->user_agent);
    f->host->free(f);
}

/* An integer key: the host has filled in its default and checked its bounds. */
static long long config_int(const json_t *config, const char *key)
{
    return json_integer_value(json_object_get(config, key));
}

static bool fetch_config_strings(struct wp_ctx *ctx, struct fetch *f, const json_t *config,
                                 const char *key, char ***out, size_t *n)
{
    const json_t *v = json_object_get(config, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        wp_fail(ctx, WP_E_CONFIG, "%s: expected an array of strings", key);
        return false;
    }
    size_t count = json_array_size(v);
    if (count == 0)
        return true;
    *out = f->host->calloc(count, sizeof(char *));
    if (!*out) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            wp_fail(ctx, WP_E_CONFIG, "%s[%zu]: expected a non-empty string", key, i);
            return false;
        }
        (*out)[i] = f->host->strndup(json_string_value(s), json_string_length(s));
        if (!(*out)[i]) {
            wp_fail(ctx, WP_E_NOMEM, "out of memory");
            return false;
        }
        (*n)++;
    }
    return true;
}

static enum wp_status fetch_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct fetch *f = ctx->host->calloc(1, sizeof(*f));
    if (!f) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    f->host = ctx->host;
    f->dedup = true;
    f->conditional = true;
    if (fetch_pending_init(f) != WP_OK) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        fetch_destroy(f);
        return WP_E_NOMEM;
    }
    long long concurrency = 0, per_host = 0, max_attempts = 0, timeout_ms = 0;
    long long connect_timeout_ms = 0, max_body = 0;
    if (!fetch_config_strings(ctx, f, config, "urls", &f->urls, &f->n_urls) ||
        !fetch_config_strings(ctx, f, config, "paths", &f->paths, &f->n_paths))
        goto fail;
    for (size_t i = 0; i < f->n_urls; i++) {
        const char *u = f->urls[i];
        if (!fetch_is_http_url(u) && strncasecmp(u, "file://", 7) != 0) {
            wp_fail(ctx, WP_E_CONFIG, "urls[%zu]: '%s' is not an http, https or file URL", i, u);
            goto fail;
        }
    }
    concurrency = config_int(config, "concurrency");
    per_host = config_int(config, "per_host");
    max_attempts = config_int(config, "max_attempts");
    timeout_ms = config_int(config, "timeout_ms");
    connect_timeout_ms = config_int(config, "connect_timeout_ms");
    max_body = config_int(config, "max_body");
    f->concurrency = (unsigned)concurrency;
    f->per_host = (unsigned)per_host;
    f->max_attempts = (unsigned)max_attempts;
    f->timeout_ms = (long)timeout_ms;
    f->connect_timeout_ms = (long)connect_timeout_ms;
    f->max_body = (size_t)max_body;
    const json_t *b;
    if ((b = json_object_get(config, "follow")))
        f->follow = json_is_true(b);
    if ((b = json_object_get(config, "dedup")))
        f->dedup = json_is_true(b);
    if ((b = json_object_get(config, "conditional")))
        f->conditional = json_is_true(b);
    const char *s;
    if ((s = json_string_value(json_object_get(config, "source_name"))) && *s &&
        !(f->source_name = f->host->strndup(s, strlen(s))))
        goto nomem;
    if ((s = json_string_value(json_object_get(config, "user_agent"))) && *s) {
        if (strpbrk(s, "\r\n")) {
            wp_fail(ctx, WP_E_CONFIG, "user_agent: must be one line");
            goto fail;
        }
        if (!(f->user_agent = f->host->strndup(s, strlen(s))))
            goto nomem;
    }
    if (!fetch_parse_every(ctx, json_object_get(config, "every"), &f->every_ms))
        goto fail;
    if (f->every_ms && WP_HOST_HAS(f->host, poll_every)) {
        f->host->poll_every(ctx, f->every_ms);
    } else if (f->every_ms) {
        /* A 2.1 host calls generate() once: say so rather than pretend to poll. */
        wp_log_warn(ctx, "every: this wirepipe cannot poll (it has no poll_every, ABI 2.2); "
                         "reading once");
        f->every_ms = 0;
    }
    *instance = f;
    return WP_OK;
nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory");
fail:
    fetch_destroy(f);
    return WP_E_CONFIG;
}

/*
 * One read of everything configured: the whole run, or one poll of a polling stage (the
 * host calls it again after "every", never while a call is running, so two polls of one
 * URL never overlap). Items still in flight from an earlier poll are not emitted again
 * (fetch_claim()), and a URL's validators from one poll never hide the items of another
 * (fetch_pending.c).
 * Returns RETRY, for the host to count a failed poll, when no configured source answered.
 */
static enum wp_outcome fetch_generate(void *instance, struct wp_ctx *ctx)
{
    struct fetch *f = instance;
    struct fetch_run run = {.f = f, .ctx = ctx};
    const char **http = NULL;
    size_t n_http = 0;
    if (f->n_urls) {
        http = f->host->calloc(f->n_urls, sizeof(*http));
        if (!http) {
            wp_fail(ctx, WP_E_NOMEM, "out of memory");
            return WP_OUTCOME_FATAL;
        }
    }
    for (size_t i = 0; i < f->n_urls; i++) {
        if (fetch_is_http_url(f->urls[i]))
            http[n_http++] = f->urls[i];
    }
    fetch_urls(&run, http, n_http);
    if (http)
        f->host->free(http);
    /* file:// URLs from the pipeline are read like paths, after the http ones. */
    for (size_t i = 0; i < f->n_urls && !f->host->cancelled(ctx); i++) {
        if (strncasecmp(f->urls[i], "file://", 7) != 0)
            continue;
        run.sources++;
        xmlChar *path = (xmlChar *)xmlURIUnescapeString(f->urls[i] + 7, 0, NULL);
        if (path) {
            run.answered += fetch_file(&run, (const char *)path);
            xmlFree(path);
        }
    }
    for (size_t i = 0; i < f->n_paths && !f->host->cancelled(ctx); i++) {
        run.sources++;
        run.answered += fetch_path(&run, f->paths[i]);
    }
    wp_log_debug(ctx, "emitted %zu item(s)", run.emitted);
    /* A stop cut the read short: not a failure, what was not read is read next time. */
    if (run.sources > 0 && run.answered == 0 && !run.stopped && !f->host->cancelled(ctx)) {
        wp_fail(ctx, WP_E_UNAVAILABLE, "none of the %zu source(s) answered", run.sources);
        return WP_OUTCOME_RETRY;
    }
    return WP_OUTCOME_OK;
}

static enum wp_outcome fetch_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct fetch *f = instance;
    const char *uri = json_string_value(json_object_get(item, WP_ITEM_URI));
    if (!uri || json_object_get(item, WP_ITEM_CONTENT) || json_object_get(item, WP_ITEM_BODY))
        return WP_OUTCOME_OK; /* already has its text, or nothing to fetch: pass it on */
    if (!fetch_is_http_url(uri)) {
        wp_fail(ctx, WP_E_INVALID,
                "refusing to fetch '%.80s': input items may only name http or https URLs", uri);
        return WP_OUTCOME_REJECT;
    }
    struct fetch_run run = {.f = f, .ctx = ctx, .input = item};
    fetch_url(&run, uri);
    /* Stopping: give the item up without a dead letter; its source reads it again. */
    if (run.fail_code == WP_E_CANCELLED || run.stopped || f->host->cancelled(ctx))
        return WP_OUTCOME_RETRY;
    if (run.fail_code != WP_OK) {
        wp_fail(ctx, run.fail_code, "%s", run.fail_text);
        /* A transient failure the shared client already retried stays a rejection. */
        return WP_OUTCOME_REJECT;
    }
    return run.emitted ? WP_OUTCOME_OK : WP_OUTCOME_DROP;
}

/*
 * ack() - an item generate() emitted is done (delivered, dropped or dead-lettered): only
 * now is its id recorded as seen, and its document's validators once all its items are.
 */
static void fetch_ack(void *instance, struct wp_ctx *ctx, const char *item_id,
                      enum wp_ack_outcome outcome)
{
    (void)outcome; /* every outcome is final: a dead letter is replayed, not refetched */
    fetch_pending_ack(instance, ctx, item_id);
}

static const struct wp_stage_ops fetch_ops = {
    .name = "fetch",
    .description = "Fetch pages, RSS/Atom feeds and ninjs from http(s) URLs and local files",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = fetch_config,
    .create = fetch_create,
    .process = fetch_process,
    .generate = fetch_generate,
    .destroy = fetch_destroy,
    .ack = fetch_ack,
};

static const struct wp_stage_ops *const fetch_stages[] = {&fetch_ops, NULL};

WP_PLUGIN_DEFINE(fetch, "0.1.0", "Fetch pages, feeds and ninjs documents", "MIT", fetch_stages)
