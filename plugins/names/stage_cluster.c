/*
 * stage_cluster.c - the stage "names_cluster": hold {line, name} items and, at flush,
 * cluster every name of the input together and emit {line, input, canonical, cluster,
 * score} in input order. Items that arrive with an "error" pass through untouched.
 */
#include <stdio.h>
#include <string.h>

#include "names.h"

struct nm_cluster_stage {
    struct nm_engine *e;
    json_t *held; /* items in input order */
};

static enum wp_status nm_cluster_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct nm_cluster_stage *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->held = json_array();
    enum wp_status s = st->held ? nm_engine_new(ctx, config, &st->e) : WP_E_NOMEM;
    if (s != WP_OK) {
        json_decref(st->held);
        ctx->host->free(st);
        return s;
    }
    *instance = st;
    return WP_OK;
}

static enum wp_outcome nm_cluster_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct nm_cluster_stage *st = instance;
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "expected an object {line, name}");
        return WP_OUTCOME_REJECT;
    }
    if (!json_object_get(item, "error")) {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!name) {
            wp_fail(ctx, WP_E_INVALID, "item has neither a 'name' string nor an 'error'");
            return WP_OUTCOME_REJECT;
        }
        if (json_string_length(json_object_get(item, "name")) > NM_MAX_NAME) {
            /* absurdly long: passed through as a bad line, like the CLI's own checks */
            json_t *bad = json_deep_copy(item);
            if (!bad || json_object_set_new(bad, "error", json_string("name too long")) ||
                json_array_append_new(st->held, bad)) {
                wp_fail(ctx, WP_E_NOMEM, "out of memory");
                return WP_OUTCOME_FATAL;
            }
            return WP_OUTCOME_OK; /* held: WP_STAGE_EMIT_ONLY passes nothing on now */
        }
    }
    if (json_array_append(st->held, item)) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_OUTCOME_FATAL;
    }
    /* held back until flush, which emits every line in input order */
    return WP_OUTCOME_OK;
}

static enum wp_outcome nm_cluster_flush(void *instance, struct wp_ctx *ctx)
{
    struct nm_cluster_stage *st = instance;
    struct nm_engine *e = st->e;
    size_t n = json_array_size(st->held);
    struct nm_seen *res = n ? ctx->host->malloc(n * sizeof(*res)) : NULL;
    if (n && !res) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_OUTCOME_FATAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(st->held, i);
        res[i].cluster = UINT32_MAX;
        res[i].score = 0.0f;
        if (json_object_get(item, "error"))
            continue;
        json_t *name = json_object_get(item, "name");
        double score = 0.0;
        int64_t c =
            nm_assign(e, ctx, json_string_value(name), json_string_length(name), &score, true);
        if (e->oom) {
            ctx->host->free(res);
            wp_fail(ctx, WP_E_NOMEM, "out of memory clustering names");
            return WP_OUTCOME_FATAL;
        }
        if (c >= 0) {
            res[i].cluster = (uint32_t)c;
            res[i].score = (float)score;
        }
        if (ctx->host->cancelled(ctx))
            break;
    }
    uint32_t *fwd = e->ncl ? ctx->host->malloc(e->ncl * sizeof(*fwd)) : NULL;
    if ((e->ncl && !fwd) || (fwd && !nm_merge_small(e, fwd, e->ncl))) {
        ctx->host->free(fwd);
        ctx->host->free(res);
        wp_fail(ctx, WP_E_NOMEM, "out of memory clustering names");
        return WP_OUTCOME_FATAL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t c = res[i].cluster;
        while (c != UINT32_MAX && fwd[c] != c)
            c = fwd[c];
        res[i].cluster = c;
    }
    ctx->host->free(fwd);
    if (e->persist)
        nm_store_save(e, ctx);
    enum wp_outcome outcome = WP_OUTCOME_OK;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(st->held, i);
        json_t *out;
        /* Emitted items share nothing with st->held: another thread owns them at once. */
        if (json_object_get(item, "error")) {
            out = json_deep_copy(item);
        } else {
            json_t *name = json_object_get(item, "name");
            const char *canonical = json_string_value(name);
            char idbuf[NM_ID_MAX];
            const char *id;
            if (res[i].cluster != UINT32_MAX) {
                canonical = nm_canonical(e, res[i].cluster);
                id = e->cl[res[i].cluster].id;
            } else {
                /* nothing to compare (no letters): the line is its own cluster */
                nm_hash_id(canonical, strlen(canonical), idbuf);
                id = idbuf;
            }
            double score = (double)(long)(res[i].score * 1000.0 + 0.5) / 1000.0;
            out = json_pack("{s:I,s:s,s:s,s:s,s:f}", "line",
                            json_integer_value(json_object_get(item, "line")), "input",
                            json_string_value(name), "canonical", canonical, "cluster", id, "score",
                            score);
        }
        if (!out || ctx->host->emit(ctx, out) != WP_OK) {
            outcome = out ? WP_OUTCOME_OK : WP_OUTCOME_FATAL;
            if (!out)
                wp_fail(ctx, WP_E_NOMEM, "out of memory");
            break;
        }
    }
    ctx->host->free(res);
    json_array_clear(st->held);
    return outcome;
}

static void nm_cluster_destroy(void *instance)
{
    struct nm_cluster_stage *st = instance;
    if (!st)
        return;
    const struct wp_host_api *host = st->e->host;
    json_decref(st->held);
    nm_engine_free(st->e);
    host->free(st);
}

static const struct wp_config_key nm_cluster_config[] = {
    NM_COMMON_KEYS,
    {.name = "persist",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "learn clusters into the state store across runs"},
    {0},
};

const struct wp_stage_ops nm_cluster_ops = {
    .name = "names_cluster",
    .description = "cluster {line, name} items across scripts; emits them at flush",
    .flags = WP_STAGE_EMIT_ONLY,
    .config = nm_cluster_config,
    .create = nm_cluster_create,
    .process = nm_cluster_process,
    .flush = nm_cluster_flush,
    .destroy = nm_cluster_destroy,
};
