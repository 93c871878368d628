/*
 * stage_names.c - the stage "names": find person mentions in headline and body, resolve
 * each to a cluster and write "entities" and ninjs "people" (optionally rewriting the
 * mentions to their canonical spelling).
 */
#include <stdio.h>
#include <string.h>

#include <wirepipe/buf.h>
#include <wirepipe/utf8.h>

#include "names.h"

/* Replace mentions in field @f of @item by canonical spellings and fix the offsets. */
static bool nm_rewrite_field(struct nm_item_stage *st, json_t *item, const char *key, int f,
                             const char *text, size_t len)
{
    struct nm_engine *e = st->e;
    struct wp_buf out;
    wp_buf_init(&out, e->host);
    int32_t pos = 0;
    int32_t shift = 0; /* code points gained so far */
    for (size_t i = 0; i < st->nments; i++) {
        struct nm_mention *m = &st->ments[i];
        if (m->field != f)
            continue;
        const char *canon = nm_canonical(e, (uint32_t)m->cluster);
        size_t clen = strlen(canon);
        wp_buf_add(&out, text + pos, (size_t)(m->b0 - pos));
        wp_buf_add(&out, canon, clen);
        pos = m->b1;
        int32_t ccp = (int32_t)wp_utf8_count(canon, clen);
        m->c0 += shift;
        shift += ccp - (m->c1 - (m->c0 - shift));
        m->c1 = m->c0 + ccp;
    }
    wp_buf_add(&out, text + pos, len - (size_t)pos);
    json_t *s = out.failed ? NULL : json_stringn(out.data ? out.data : "", out.len);
    if (out.failed)
        e->oom = true;
    wp_buf_release(&out);
    return s && json_object_set_new(item, key, s) == 0;
}

static enum wp_status nm_item_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct nm_item_stage *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    memset(st, 0, sizeof(*st));
    st->rewrite = json_is_true(json_object_get(config, "rewrite"));
    enum wp_status s = nm_engine_new(ctx, config, &st->e);
    if (s != WP_OK) {
        ctx->host->free(st);
        return s;
    }
    *instance = st;
    return WP_OK;
}

static enum wp_outcome nm_item_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct nm_item_stage *st = instance;
    struct nm_engine *e = st->e;
    static const char *const keys[2] = {WP_ITEM_HEADLINE, WP_ITEM_BODY};
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "item is not an object");
        return WP_OUTCOME_REJECT;
    }
    const char *texts[2] = {"", ""};
    size_t lens[2] = {0, 0};
    /* rewriting replaces the strings: the originals stay alive for "mention" */
    json_t *hold[2] = {NULL, NULL};
    st->nments = 0;
    for (int f = 0; f < 2; f++) {
        json_t *v = json_object_get(item, keys[f]);
        if (!json_is_string(v))
            continue;
        hold[f] = json_incref(v);
        texts[f] = json_string_value(v);
        lens[f] = json_string_length(v);
        if (!nm_scan_field(st, f, texts[f], lens[f]))
            goto out_nomem;
    }
    if (!nm_resolve(st, ctx, texts))
        goto out_nomem;
    if (st->rewrite) {
        for (int f = 0; f < 2; f++) {
            if (hold[f] && !nm_rewrite_field(st, item, keys[f], f, texts[f], lens[f]))
                goto out_nomem;
        }
    }
    json_t *entities = json_array();
    json_t *people = json_array();
    json_t *old = json_object_get(item, WP_ITEM_ENTITIES);
    size_t idx;
    json_t *ent;
    json_array_foreach(old, idx, ent)
    {
        /* entities of other types (and other stages) stay */
        const char *type = json_string_value(json_object_get(ent, "type"));
        if (entities && (!type || strcmp(type, "person") != 0))
            json_array_append(entities, ent);
    }
    for (size_t i = 0; i < st->nments && entities && people; i++) {
        const struct nm_mention *m = &st->ments[i];
        const struct nm_cluster *c = &e->cl[m->cluster];
        const char *canonical = nm_canonical(e, (uint32_t)m->cluster);
        const char *qid = c->id && c->id[0] == 'Q' ? c->id : NULL;
        double score = (double)(long)(m->score * 1000.0 + 0.5) / 1000.0;
        json_t *mention = json_stringn(texts[m->field] + m->b0, (size_t)(m->b1 - m->b0));
        json_array_append_new(entities,
                              json_pack("{s:s,s:s,s:o,s:i,s:i,s:s,s:s?,s:s,s:f}", "type", "person",
                                        "field", keys[m->field], "mention", mention, "start",
                                        (json_int_t)m->c0, "end", (json_int_t)m->c1, "canonical",
                                        canonical, "id", qid, "key", m->key, "score", score));
        if (!qid)
            json_object_set_new(json_array_get(entities, json_array_size(entities) - 1), "id",
                                json_null());
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = st->ments[j].cluster == m->cluster;
        if (!dup) {
            json_t *p = json_pack("{s:s,s:s}", "name", canonical, "rel", "mentioned");
            if (p && qid) {
                char uri[64];
                snprintf(uri, sizeof(uri), "http://www.wikidata.org/entity/%s", qid);
                json_object_set_new(p, "uri", json_string(uri));
            }
            json_array_append_new(people, p);
        }
    }
    if (!entities || !people || json_object_set_new(item, WP_ITEM_ENTITIES, entities) ||
        json_object_set_new(item, "people", people))
        goto out_nomem;
    if (e->persist)
        nm_store_save(e, ctx);
    ctx->host->metric_add(ctx, "mentions", (long long)st->nments);
    json_decref(hold[0]);
    json_decref(hold[1]);
    return WP_OUTCOME_OK;

out_nomem:
    json_decref(hold[0]);
    json_decref(hold[1]);
    wp_fail(ctx, WP_E_NOMEM, "out of memory finding names");
    return WP_OUTCOME_FATAL;
}

static void nm_item_destroy(void *instance)
{
    struct nm_item_stage *st = instance;
    if (!st)
        return;
    const struct wp_host_api *host = st->e->host;
    nm_free(st->e, st->words);
    nm_free(st->e, st->ments);
    nm_engine_free(st->e);
    host->free(st);
}

static const struct wp_config_key nm_names_config[] = {
    NM_COMMON_KEYS,
    {.name = "rewrite",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "rewrite mentions in headline and body to the canonical spelling"},
    {.name = "persist",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "learn clusters into the state store across runs"},
    {0},
};

const struct wp_stage_ops nm_names_ops = {
    .name = "names",
    .description = "find person names in headline and body and canonicalise them",
    .flags = 0,
    .config = nm_names_config,
    .create = nm_item_create,
    .process = nm_item_process,
    .destroy = nm_item_destroy,
};
