/*
 * engine.c - the names engine's memory, its hash map and its life cycle.
 */
#include <stdio.h>
#include <string.h>

#include <unicode/utrans.h>

#include "names.h"

/* ---------------------------------------------------------------------------------------
 * Memory: every block comes from the host; a failure sets e->oom for the caller to test.
 * ------------------------------------------------------------------------------------- */

void *nm_alloc(struct nm_engine *e, size_t size)
{
    void *p = e->host->malloc(size ? size : 1);
    if (!p)
        e->oom = true;
    return p;
}

void nm_free(struct nm_engine *e, void *p)
{
    if (p)
        e->host->free(p);
}

char *nm_strndup(struct nm_engine *e, const char *s, size_t len)
{
    char *p = nm_alloc(e, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

bool nm_grow(struct nm_engine *e, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = e->host->realloc(*arr, ncap * elem);
    if (!p) {
        e->oom = true;
        return false;
    }
    *arr = p;
    *cap = ncap;
    return true;
}

/* ---------------------------------------------------------------------------------------
 * A string-keyed open-addressing hash table mapping to uint32 values.
 * ------------------------------------------------------------------------------------- */

uint64_t nm_hash64(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void nm_hash_id(const char *s, size_t len, char out[NM_ID_MAX])
{
    snprintf(out, NM_ID_MAX, "wp:%016llx", (unsigned long long)nm_hash64(s, len));
}

struct nm_slot *nm_map_find(const struct nm_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    uint32_t h = (uint32_t)nm_hash64(key, len);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct nm_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

struct nm_slot *nm_map_put(struct nm_engine *e, struct nm_map *m, const char *key, size_t len,
                           uint32_t val, bool *created)
{
    if (created)
        *created = false;
    if ((m->len + 1) * 4 >= m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        struct nm_slot *ns = nm_alloc(e, ncap * sizeof(*ns));
        if (!ns)
            return NULL;
        memset(ns, 0, ncap * sizeof(*ns));
        for (size_t i = 0; i < m->cap; i++) {
            struct nm_slot *s = &m->slots[i];
            if (!s->key)
                continue;
            size_t j = s->hash & (ncap - 1);
            while (ns[j].key)
                j = (j + 1) & (ncap - 1);
            ns[j] = *s;
        }
        nm_free(e, m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    uint32_t h = (uint32_t)nm_hash64(key, len);
    size_t i = h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        struct nm_slot *s = &m->slots[i];
        if (!s->key)
            break;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
    char *copy = nm_alloc(e, len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->slots[i] = (struct nm_slot){.key = copy, .len = (uint32_t)len, .hash = h, .val = val};
    m->len++;
    if (created)
        *created = true;
    return &m->slots[i];
}

void nm_map_clear(struct nm_engine *e, struct nm_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        nm_free(e, m->slots[i].key);
    nm_free(e, m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------------------------
 * Engine life cycle
 * ------------------------------------------------------------------------------------- */

void nm_engine_free(struct nm_engine *e)
{
    if (!e)
        return;
    if (e->trans)
        utrans_close(e->trans);
    for (size_t i = 0; i < e->ntoks; i++)
        nm_free(e, e->toks[i].rom);
    nm_free(e, e->toks);
    for (size_t i = 0; i < e->nlex; i++) {
        for (int j = 0; j < 3; j++)
            nm_free(e, e->lex[i].alt[j]);
    }
    nm_free(e, e->lex);
    for (size_t i = 0; i < e->nlists; i++)
        nm_free(e, e->lists[i].v);
    nm_free(e, e->lists);
    for (size_t i = 0; i < e->ncl; i++) {
        struct nm_cluster *c = &e->cl[i];
        nm_free(e, c->id);
        nm_free(e, c->canonical);
        nm_free(e, c->reps);
        for (size_t s = 0; s < c->nspell; s++)
            nm_free(e, c->spell[s].text);
        nm_free(e, c->spell);
    }
    nm_free(e, e->cl);
    nm_free(e, e->seen);
    nm_free(e, e->cand_mark);
    nm_map_clear(e, &e->tokmap);
    nm_map_clear(e, &e->lexmap);
    nm_map_clear(e, &e->keymap);
    nm_map_clear(e, &e->gazmap);
    nm_map_clear(e, &e->givenmap);
    nm_map_clear(e, &e->namemap);
    nm_map_clear(e, &e->exactmap);
    nm_map_clear(e, &e->loaded);
    e->host->free(e);
}

enum wp_status nm_engine_new(struct wp_ctx *ctx, const json_t *config, struct nm_engine **out)
{
    struct nm_engine *e = ctx->host->malloc(sizeof(*e));
    if (!e) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    memset(e, 0, sizeof(*e));
    e->host = ctx->host;
    e->threshold = 0.8;
    e->exclude = -1;
    nm_score_init();
    /*
     * The host checks "threshold" against [0, 1] (WP_CONFIG_RANGE); 0 itself is refused
     * here, and so is anything out of range in case the host does not check bounds.
     */
    json_t *th = json_object_get(config, "threshold");
    if (json_is_number(th))
        e->threshold = json_number_value(th);
    if (e->threshold <= 0.0 || e->threshold > 1.0) {
        wp_fail(ctx, WP_E_CONFIG, "threshold: expected a number in (0, 1], got %g", e->threshold);
        nm_engine_free(e);
        return WP_E_CONFIG;
    }
    e->persist = json_is_true(json_object_get(config, "persist"));

    enum wp_status st = nm_trans_open(e, ctx);
    if (st == WP_OK)
        st = nm_gazetteer_load(e, ctx, config);
    if (st != WP_OK) {
        nm_engine_free(e);
        return st;
    }
    *out = e;
    return WP_OK;
}
