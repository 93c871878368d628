/*
 * publish.c - the publish stage (a sink): items out to stdout, a file, a folder or a
 * webhook, as wirepipe items or IPTC ninjs 2.1.
 *
 * This file is the stage: its configuration, rendering each item as the documents to
 * write, and handing them to the target chosen by "to". The targets, the ninjs mapping
 * and the names made from ids are files of their own (see publish.h).
 */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>

#include <jansson.h>

static const struct pub_target *const pub_targets[] = {
    &pub_target_stdout, &pub_target_file, &pub_target_dir, &pub_target_http, NULL,
};

static const struct wp_config_key publish_config[] = {
    {.name = "to",
     .type = WP_CONFIG_STRING,
     .default_json = "\"stdout\"",
     .doc = "where items go",
     .choices = "stdout|file|dir|http"},
    {.name = "path", .type = WP_CONFIG_PATH, .doc = "the output file (to=file) or folder (to=dir)"},
    {.name = "format",
     .type = WP_CONFIG_STRING,
     .default_json = "\"wirepipe\"",
     .doc = "wirepipe (the item as is) or ninjs (IPTC ninjs 2.1, one object per language)",
     .choices = "wirepipe|ninjs"},
    {.name = "fsync",
     .type = WP_CONFIG_STRING,
     .default_json = "\"batch\"",
     .doc = "file/dir: fsync after every item (always), at the end of input (batch) or never",
     .choices = "never|always|batch"},
    {.name = "url", .type = WP_CONFIG_STRING, .doc = "webhook URL (to=http)"},
    {.name = "batch_size",
     .type = WP_CONFIG_INT,
     .default_json = "1",
     .doc = "http: documents per POST (more than 1 sends an array)",
     WP_CONFIG_RANGE(1, 10000)},
    {.name = "headers",
     .type = WP_CONFIG_OBJECT,
     .doc = "http: extra request headers, name -> string (values may use ${ENV}; never logged)",
     .flags = WP_CONFIG_SECRET},
    {.name = "bearer_token_env",
     .type = WP_CONFIG_STRING,
     .doc = "http: environment variable whose value is sent as 'Authorization: Bearer ...'"},
    {.name = "max_outbox",
     .type = WP_CONFIG_INT,
     .default_json = "10000",
     .doc = "http: documents the outbox holds before process() waits for the webhook",
     WP_CONFIG_RANGE(1, 100000000)},
    {.name = "max_outbox_bytes",
     .type = WP_CONFIG_INT,
     .default_json = "67108864",
     .doc = "http: stored bytes the outbox holds before process() waits for the webhook",
     WP_CONFIG_RANGE(1024, 1099511627776.0)},
    {.name = "drain_timeout_s",
     .type = WP_CONFIG_INT,
     .default_json = "60",
     .doc = "http: how long the end of input keeps delivering the outbox (the rest waits for "
            "the next run)",
     WP_CONFIG_RANGE(0, 86400)},
    {.name = "timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "30000",
     .doc = "http: whole-request timeout",
     WP_CONFIG_RANGE(1, 3600000)},
    {.name = "connect_timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "10000",
     .doc = "http: connect timeout",
     WP_CONFIG_RANGE(1, 600000)},
    {.name = "max_attempts",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "http: attempts per POST within one delivery round (429, 5xx, timeouts)",
     WP_CONFIG_RANGE(1, 20)},
    {0},
};

/* An integer key: the host has filled in its default and checked its bounds. */
static long long config_int(const json_t *config, const char *key)
{
    return json_integer_value(json_object_get(config, key));
}

/* pub_config_path() - see publish.h. */
enum wp_status pub_config_path(struct publish *p, struct wp_ctx *ctx, const json_t *config)
{
    const char *path = json_string_value(json_object_get(config, "path"));
    if (!path || !*path) {
        wp_fail(ctx, WP_E_CONFIG, "path: required when to is '%s'", p->to->name);
        return WP_E_CONFIG;
    }
    const char *base = p->host->pipeline_dir(ctx);
    struct wp_buf b;
    wp_buf_init(&b, p->host);
    if (path[0] != '/' && base && *base)
        wp_buf_addf(&b, "%s/%s", base, path);
    else
        wp_buf_adds(&b, path);
    p->path = wp_buf_detach(&b, NULL);
    if (!p->path) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    return WP_OK;
}

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

static json_t *pub_render(struct publish *p, const json_t *item, char *err, size_t errlen)
{
    if (p->format == FMT_NINJS)
        return pub_ninjs(item, err, errlen);
    json_t *docs = json_pack("[{s:s,s:O}]", "suffix", "", "doc", item);
    if (!docs)
        snprintf(err, errlen, "out of memory");
    return docs;
}

static enum wp_outcome publish_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct publish *p = instance;
    char err[WP_ERROR_TEXT_MAX];
    json_t *docs = pub_render(p, item, err, sizeof(err));
    if (!docs) {
        wp_fail(ctx, WP_E_INVALID, "%s", err);
        return WP_OUTCOME_REJECT;
    }
    enum wp_outcome o = p->to->write(p, ctx, item, docs);
    if (o == WP_OUTCOME_OK)
        p->host->metric_add(ctx, "published", 1);
    json_decref(docs);
    return o;
}

static enum wp_outcome publish_flush(void *instance, struct wp_ctx *ctx)
{
    struct publish *p = instance;
    return p->to->flush ? p->to->flush(p, ctx) : WP_OUTCOME_OK;
}

static void publish_destroy(void *instance)
{
    struct publish *p = instance;
    if (!p)
        return;
    if (p->fd >= 0) {
        if (p->dirty && p->fsync != FSYNC_NEVER)
            fsync(p->fd);
        close(p->fd);
    }
    if (p->to && p->to->close)
        p->to->close(p);
    pthread_mutex_destroy(&p->lock);
    if (p->written_ns)
        p->host->free(p->written_ns);
    if (p->path)
        p->host->free(p->path);
    if (p->url)
        p->host->free(p->url);
    p->host->free(p);
}

static enum wp_status publish_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    const struct wp_host_api *host = ctx->host;
    struct publish *p = host->calloc(1, sizeof(*p));
    if (!p) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    p->host = host;
    p->fd = -1;
    p->fsync = FSYNC_BATCH;
    pthread_mutex_init(&p->lock, NULL);
    enum wp_status status = WP_E_CONFIG;

    const char *to = json_string_value(json_object_get(config, "to"));
    p->to = &pub_target_stdout;
    if (to) {
        size_t i = 0;
        while (pub_targets[i] && strcmp(pub_targets[i]->name, to) != 0)
            i++;
        p->to = pub_targets[i];
    }
    if (!p->to) {
        wp_fail(ctx, WP_E_CONFIG, "to: expected stdout, file, dir or http, not '%s'", to);
        goto fail;
    }
    const char *format = json_string_value(json_object_get(config, "format"));
    if (!format || strcmp(format, "wirepipe") == 0)
        p->format = FMT_WIREPIPE;
    else if (strcmp(format, "ninjs") == 0)
        p->format = FMT_NINJS;
    else {
        wp_fail(ctx, WP_E_CONFIG, "format: expected wirepipe or ninjs, not '%s'", format);
        goto fail;
    }
    const char *fs = json_string_value(json_object_get(config, "fsync"));
    if (fs && strcmp(fs, "never") == 0)
        p->fsync = FSYNC_NEVER;
    else if (fs && strcmp(fs, "always") == 0)
        p->fsync = FSYNC_ALWAYS;
    else if (fs && strcmp(fs, "batch") != 0) {
        wp_fail(ctx, WP_E_CONFIG, "fsync: expected never, always or batch, not '%s'", fs);
        goto fail;
    }
    long long batch_size = 0, timeout_ms = 0, connect_timeout_ms = 0, max_attempts = 0;
    batch_size = config_int(config, "batch_size");
    timeout_ms = config_int(config, "timeout_ms");
    connect_timeout_ms = config_int(config, "connect_timeout_ms");
    max_attempts = config_int(config, "max_attempts");
    p->batch_size = (unsigned)batch_size;
    p->timeout_ms = (long)timeout_ms;
    p->connect_timeout_ms = (long)connect_timeout_ms;
    p->max_attempts = (unsigned)max_attempts;

    if (p->to->open) {
        status = p->to->open(p, ctx, config);
        if (status != WP_OK)
            goto fail;
    }
    *instance = p;
    return WP_OK;
fail:
    publish_destroy(p);
    return status;
}

static const struct wp_stage_ops publish_ops = {
    .name = "publish",
    .description = "Publish items to stdout, a file, a folder or a webhook, as items or ninjs",
    .flags = WP_STAGE_SINK | WP_STAGE_THREAD_SAFE,
    .config = publish_config,
    .create = publish_create,
    .process = publish_process,
    .flush = publish_flush,
    .destroy = publish_destroy,
};

static const struct wp_stage_ops *const publish_stages[] = {&publish_ops, NULL};

WP_PLUGIN_DEFINE(publish, "0.1.0", "Publish items as JSON Lines, files or ninjs, or to a webhook",
                 "MIT", publish_stages)
