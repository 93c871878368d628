/*
 * persist.c - learnt clusters in the host's state store, so that they carry over to
 * later runs. The store holds, in namespace "names.cluster":
 *   "#<id>"       -> {"canonical", "id", "variants": {spelling: count}}  one cluster
 *   "<match key>" -> "<id>"                                             a full name
 *   "~<skeleton>" -> ["<id>", ...]                                      a name token
 * so a later "Bāqerī" (key "bgr") finds yesterday's "Mohammad Bagheri" through its token.
 * The first store error turns persistence off for the engine, with one warning.
 */
#include <stdio.h>
#include <string.h>

#include "names.h"

static void nm_store_warn(struct nm_engine *e, struct wp_ctx *ctx, enum wp_status st)
{
    if (!e->store_warned && ctx)
        wp_log_warn(ctx, "state store unavailable (%s): name clusters are not persisted",
                    e->host->status_name(st));
    e->store_warned = true;
    e->persist = false;
}

/* "#<id>" or "~<skeleton>" (@kind and @s) into @out; its length, or 0 when it does not fit. */
static size_t nm_store_key(char *out, size_t cap, char kind, const char *s)
{
    int n = snprintf(out, cap, "%c%s", kind, s);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool nm_store_get_json(struct nm_engine *e, struct wp_ctx *ctx, const char *key, size_t len,
                              json_t **out)
{
    *out = NULL;
    if (!e->persist)
        return false;
    char *value = NULL;
    size_t vlen = 0;
    enum wp_status st = e->host->store_get(ctx, NM_STORE_NS, key, len, &value, &vlen);
    if (st == WP_E_NOTFOUND)
        return false;
    if (st != WP_OK) {
        nm_store_warn(e, ctx, st);
        return false;
    }
    json_error_t jerr;
    *out = json_loadb(value, vlen, JSON_DECODE_ANY, &jerr);
    nm_free(e, value);
    if (!*out)
        wp_log_warn(ctx, "ignoring a malformed stored value for key '%.*s'", (int)len, key);
    return *out != NULL;
}

/* Load stored cluster @id into memory (once). */
static void nm_store_load_id(struct nm_engine *e, struct wp_ctx *ctx, const char *id)
{
    char key[300];
    size_t klen = nm_store_key(key, sizeof(key), '#', id);
    bool created;
    if (!klen || !nm_map_put(e, &e->loaded, key, klen, 0, &created) || !created)
        return;
    json_t *rec;
    if (!nm_store_get_json(e, ctx, key, klen, &rec))
        return;
    json_t *variants = json_object_get(rec, "variants");
    if (!json_is_object(variants)) {
        json_decref(rec);
        return;
    }
    int64_t c = -1;
    struct nm_slot *g = nm_map_find(&e->gazmap, id, strlen(id));
    if (g)
        c = g->val;
    for (size_t i = 0; c < 0 && i < e->ncl; i++) {
        if (e->cl[i].id && strcmp(e->cl[i].id, id) == 0)
            c = (int64_t)i;
    }
    if (c < 0)
        c = nm_cluster_new(e, id, NULL, false);
    const char *spelling;
    json_t *count;
    json_object_foreach(variants, spelling, count)
    {
        struct nm_name nm;
        char k[NM_KEY_MAX];
        size_t slen = strlen(spelling);
        if (c < 0 || !json_is_integer(count) || !nm_parse(e, spelling, slen, &nm) || !nm.n)
            continue;
        size_t kl = nm_name_key(e, &nm, k, sizeof(k));
        json_int_t n = json_integer_value(count);
        nm_cluster_add_name(e, (uint32_t)c, &nm, k, kl);
        nm_cluster_add_spelling(e, (uint32_t)c, spelling, slen,
                                n > 0 && n < 1000000 ? (uint32_t)n : 1);
    }
    if (c >= 0)
        e->cl[c].dirty = false;
    json_decref(rec);
}

/* Through its full-name key and its token keys. */
void nm_store_load(struct nm_engine *e, struct wp_ctx *ctx, const struct nm_name *nm,
                   const char *key, size_t len)
{
    bool created;
    if (!e->persist || !nm_map_put(e, &e->loaded, key, len, 0, &created) || !created)
        return;
    json_t *v;
    if (nm_store_get_json(e, ctx, key, len, &v)) {
        if (json_is_string(v))
            nm_store_load_id(e, ctx, json_string_value(v));
        json_decref(v);
    }
    for (uint8_t i = 0; i < nm->n && e->persist; i++) {
        const struct nm_tok *t = &e->toks[nm->tok[i]];
        char tk[NM_MAX_TOKLEN + 2];
        size_t tl = nm_store_key(tk, sizeof(tk), '~', t->forms[0].skel);
        if (t->initial || !tl || !nm_map_put(e, &e->loaded, tk, tl, 0, &created) || !created)
            continue;
        if (!nm_store_get_json(e, ctx, tk, tl, &v))
            continue;
        size_t idx;
        json_t *id;
        json_array_foreach(v, idx, id)
        {
            if (json_is_string(id))
                nm_store_load_id(e, ctx, json_string_value(id));
        }
        json_decref(v);
    }
}

static void nm_store_put_value(struct nm_engine *e, struct wp_ctx *ctx, const char *key,
                               size_t klen, json_t *value)
{
    size_t vlen = value ? json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) : 0;
    char *buf = vlen ? nm_alloc(e, vlen) : NULL;
    if (buf && json_dumpb(value, buf, vlen, JSON_COMPACT | JSON_ENCODE_ANY) == vlen) {
        enum wp_status st = e->host->store_put(ctx, NM_STORE_NS, key, klen, buf, vlen, 0);
        if (st != WP_OK)
            nm_store_warn(e, ctx, st);
    } else {
        e->oom = true;
    }
    nm_free(e, buf);
}

void nm_store_save(struct nm_engine *e, struct wp_ctx *ctx)
{
    for (size_t i = 0; i < e->ncl && e->persist && !e->oom; i++) {
        struct nm_cluster *c = &e->cl[i];
        if (!c->dirty || !c->nspell || !c->id)
            continue;
        json_t *variants = json_object();
        for (size_t s = 0; s < c->nspell && s < 32; s++)
            json_object_set_new(variants, c->spell[s].text, json_integer(c->spell[s].count));
        json_t *rec = json_pack("{s:s,s:s,s:o}", "canonical", nm_canonical(e, (uint32_t)i), "id",
                                c->id, "variants", variants);
        /* 300 bytes: full-name keys stored here may be longer than nm_assign()'s (256) */
        char key[300];
        size_t kl = nm_store_key(key, sizeof(key), '#', c->id);
        if (kl)
            nm_store_put_value(e, ctx, key, kl, rec);
        json_decref(rec);
        json_t *idv = json_string(c->id);
        for (size_t s = 0; s < c->nspell && e->persist; s++) {
            struct nm_name nm;
            if (!nm_parse(e, c->spell[s].text, strlen(c->spell[s].text), &nm) || !nm.n)
                continue;
            size_t klen = nm_name_key(e, &nm, key, sizeof(key));
            nm_store_put_value(e, ctx, key, klen, idv);
            for (uint8_t t = 0; t < nm.n && e->persist; t++) {
                const struct nm_tok *tok = &e->toks[nm.tok[t]];
                char tk[NM_MAX_TOKLEN + 2];
                size_t tl = nm_store_key(tk, sizeof(tk), '~', tok->forms[0].skel);
                if (tok->initial || !tl)
                    continue;
                json_t *ids;
                if (!nm_store_get_json(e, ctx, tk, tl, &ids) || !json_is_array(ids)) {
                    json_decref(ids);
                    ids = json_array();
                }
                bool have = false;
                size_t idx;
                json_t *id;
                json_array_foreach(ids, idx, id) have = have || json_equal(id, idv);
                if (!have && json_array_size(ids) < 32) {
                    json_array_append(ids, idv);
                    nm_store_put_value(e, ctx, tk, tl, ids);
                }
                json_decref(ids);
            }
        }
        json_decref(idv);
        c->dirty = false;
    }
}
