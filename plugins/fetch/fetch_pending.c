/*
 * fetch_pending.c - acknowledged delivery: what generate() has emitted and the host has not
 * acknowledged yet, and the http documents whose validators wait for it.
 *
 * An id is recorded as seen in ack() only, never at emit, so an item lost to a crash, a
 * kill or a dead letter further on is fetched again by the next run. A document's
 * ETag/Last-Modified are stored only when every item it gave is done: stored earlier, the
 * next run would get a 304 and never see the items that were lost.
 *
 * generate() and ack() run on different threads. Both take the one lock, briefly, and
 * never across emit() (which may wait for these very acknowledgements) or the state store.
 * The table is a chained hash on the id, doubled when it fills, so claim, ack and lookup
 * cost O(1) amortised whatever the number of items in flight.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"

#define PENDING_MIN_BUCKETS 64u

/* An http document waiting for its items. */
struct fetch_group {
    struct fetch_group *prev, *next; /* fetch_pending.groups */
    size_t outstanding;              /* claimed items not done yet */
    bool open;                       /* the document is still being read */
    bool failed;                     /* something was not read: never store the validators */
    char *key;                       /* canonical URL */
    char *validators;                /* JSON text for "fetch.http" */
};

/* One claimed id. */
struct fetch_entry {
    struct fetch_entry *next; /* in its bucket */
    uint64_t hash;
    struct fetch_group *group; /* or NULL */
    const char *mark;          /* points into @id's buffer, after the id */
    char id[];                 /* the id, NUL, the seen mark, NUL */
};

/* FNV-1a: ids are hex digests already, so any cheap mix spreads them well. */
static uint64_t pending_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

enum wp_status fetch_pending_init(struct fetch *f)
{
    struct fetch_pending *p = &f->pending;
    memset(p, 0, sizeof(*p));
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return WP_E_NOMEM;
    p->lock_ok = true;
    p->buckets = f->host->calloc(PENDING_MIN_BUCKETS, sizeof(*p->buckets));
    if (!p->buckets)
        return WP_E_NOMEM;
    p->n_buckets = PENDING_MIN_BUCKETS;
    return WP_OK;
}

static void group_free(struct fetch *f, struct fetch_group *g)
{
    if (g->key)
        f->host->free(g->key);
    if (g->validators)
        f->host->free(g->validators);
    f->host->free(g);
}

void fetch_pending_release(struct fetch *f)
{
    struct fetch_pending *p = &f->pending;
    for (size_t i = 0; p->buckets && i < p->n_buckets; i++) {
        while (p->buckets[i]) {
            struct fetch_entry *e = p->buckets[i];
            p->buckets[i] = e->next;
            f->host->free(e);
        }
    }
    if (p->buckets)
        f->host->free(p->buckets);
    while (p->groups) {
        struct fetch_group *g = p->groups;
        p->groups = g->next;
        group_free(f, g);
    }
    if (p->lock_ok)
        pthread_mutex_destroy(&p->lock);
    memset(p, 0, sizeof(*p));
}

/* ---- the table (callers hold the lock) ----------------------------------------------- */

static struct fetch_entry **pending_slot(struct fetch_pending *p, const char *id, uint64_t hash)
{
    struct fetch_entry **e = &p->buckets[hash % p->n_buckets];
    while (*e && ((*e)->hash != hash || strcmp((*e)->id, id) != 0))
        e = &(*e)->next;
    return e;
}

/* Double the buckets; on failure keep the old ones (longer chains, still correct). */
static void pending_grow(struct fetch *f)
{
    struct fetch_pending *p = &f->pending;
    size_t n = p->n_buckets * 2;
    struct fetch_entry **b = f->host->calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < p->n_buckets; i++) {
        while (p->buckets[i]) {
            struct fetch_entry *e = p->buckets[i];
            p->buckets[i] = e->next;
            e->next = b[e->hash % n];
            b[e->hash % n] = e;
        }
    }
    f->host->free(p->buckets);
    p->buckets = b;
    p->n_buckets = n;
}

/* Whether a group is done; if so it is unlinked and the caller finishes it unlocked. */
static bool group_done_locked(struct fetch_pending *p, struct fetch_group *g)
{
    if (!g || g->open || g->outstanding > 0)
        return false;
    if (g->prev)
        g->prev->next = g->next;
    else
        p->groups = g->next;
    if (g->next)
        g->next->prev = g->prev;
    return true;
}

/* A done group: store its validators unless something of it was not read. */
static void group_finish(struct fetch *f, struct wp_ctx *ctx, struct fetch_group *g)
{
    if (!g->failed)
        fetch_store_validators(f, ctx, g->key, g->validators);
    else
        wp_log_debug(ctx, "'%s': not everything was read, validators not stored", g->key);
    group_free(f, g);
}

/* Take @id out of the table. Returns the group to finish, or NULL. */
static struct fetch_group *pending_remove(struct fetch *f, const char *id, bool failed)
{
    struct fetch_pending *p = &f->pending;
    uint64_t hash = pending_hash(id);
    struct fetch_group *done = NULL;
    pthread_mutex_lock(&p->lock);
    struct fetch_entry **slot = pending_slot(p, id, hash);
    struct fetch_entry *e = *slot;
    if (e) {
        *slot = e->next;
        p->count--;
        struct fetch_group *g = e->group;
        if (g) {
            g->outstanding--;
            g->failed = g->failed || failed;
            if (group_done_locked(p, g))
                done = g;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (e)
        f->host->free(e);
    return done;
}

/* ---- groups -------------------------------------------------------------------------- */

/* fetch_group_open() - see fetch.h. */
struct fetch_group *fetch_group_open(struct fetch_run *run, const char *key,
                                     const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    if (run->input || !f->conditional || !key || (!resp->etag && !resp->last_modified))
        return NULL;
    struct fetch_group *g = f->host->calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->open = true;
    g->key = f->host->strndup(key, strlen(key));
    g->validators = fetch_validators_text(f, resp);
    if (!g->key || !g->validators) {
        group_free(f, g);
        return NULL;
    }
    struct fetch_pending *p = &f->pending;
    pthread_mutex_lock(&p->lock);
    g->next = p->groups;
    if (p->groups)
        p->groups->prev = g;
    p->groups = g;
    pthread_mutex_unlock(&p->lock);
    return g;
}

/* fetch_group_close() - see fetch.h. */
void fetch_group_close(struct fetch_run *run, struct fetch_group *g, bool ok)
{
    if (!g)
        return;
    struct fetch_pending *p = &run->f->pending;
    pthread_mutex_lock(&p->lock);
    g->open = false;
    g->failed = g->failed || !ok;
    bool done = group_done_locked(p, g);
    pthread_mutex_unlock(&p->lock);
    if (done)
        group_finish(run->f, run->ctx, g);
}

/* ---- claims -------------------------------------------------------------------------- */

static const char *item_id(const json_t *item)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    return id && *id ? id : NULL;
}

/* fetch_claim() - see fetch.h. */
bool fetch_claim(struct fetch_run *run, json_t *item)
{
    struct fetch *f = run->f;
    const char *id = item_id(item);
    if (run->input || !id)
        return true; /* nothing to acknowledge: process(), or an item without an id */
    bool update = false;
    if (fetch_seen(run, item, &update)) {
        f->host->metric_add(run->ctx, "duplicates", 1);
        wp_log_debug(run->ctx, "skipping '%s': delivered in an earlier run", id);
        return false;
    }
    char mark[300];
    fetch_seen_mark(item, mark, sizeof(mark));
    size_t id_len = strlen(id), mark_len = strlen(mark);
    struct fetch_entry *e = f->host->malloc(sizeof(*e) + id_len + mark_len + 2);
    if (!e) {
        /* Emitted untracked: its document's validators must not hide it from a rerun. */
        wp_log_warn(run->ctx, "out of memory: '%s' is emitted without being tracked", id);
        if (run->group) {
            pthread_mutex_lock(&f->pending.lock);
            run->group->failed = true;
            pthread_mutex_unlock(&f->pending.lock);
        }
        return true;
    }
    memcpy(e->id, id, id_len + 1);
    memcpy(e->id + id_len + 1, mark, mark_len + 1);
    e->mark = e->id + id_len + 1;
    e->hash = pending_hash(id);
    e->group = run->group;

    struct fetch_pending *p = &f->pending;
    pthread_mutex_lock(&p->lock);
    struct fetch_entry **slot = pending_slot(p, id, e->hash);
    bool in_flight = *slot != NULL;
    if (!in_flight) {
        e->next = NULL;
        *slot = e;
        p->count++;
        if (e->group)
            e->group->outstanding++;
        if (p->count > p->n_buckets / 4 * 3)
            pending_grow(f);
    }
    pthread_mutex_unlock(&p->lock);
    if (in_flight) {
        f->host->free(e);
        f->host->metric_add(run->ctx, "in_flight_duplicates", 1);
        wp_log_debug(run->ctx, "skipping '%s': already in flight in this run", id);
        return false;
    }
    if (update) {
        f->host->metric_add(run->ctx, "updates", 1);
        wp_log_info(run->ctx, "'%s' is a new version of a story seen before", id);
    }
    return true;
}

/* fetch_unclaim() - see fetch.h. */
void fetch_unclaim(struct fetch_run *run, const json_t *item, bool done)
{
    const char *id = item_id(item);
    if (run->input || !id)
        return;
    struct fetch_group *g = pending_remove(run->f, id, !done);
    if (g)
        group_finish(run->f, run->ctx, g);
}

/* fetch_emit_claimed() - see fetch.h. */
void fetch_emit_claimed(struct fetch_run *run, json_t *item)
{
    struct fetch *f = run->f;
    json_object_del(item, FETCH_REVISION);
    json_object_del(item, FETCH_LINK);
    /* The id is needed if emit fails, when @item is gone. */
    char id[FETCH_ID_LEN + 8] = "";
    const char *id_value = item_id(item);
    bool tracked = !run->input && id_value && strlen(id_value) < sizeof(id);
    if (tracked)
        memcpy(id, id_value, strlen(id_value) + 1);
    enum wp_status st = wp_emit(run->ctx, item);
    if (st != WP_OK) {
        /* Not taken: it will not be acknowledged, so its document is not done. */
        if (st == WP_E_CANCELLED)
            run->stopped = true;
        if (tracked) {
            struct fetch_group *g = pending_remove(f, id, true);
            if (g)
                group_finish(f, run->ctx, g);
        }
        return;
    }
    run->emitted++;
    f->host->metric_add(run->ctx, "items", 1);
}

/* fetch_emit() - see fetch.h. */
void fetch_emit(struct fetch_run *run, json_t *item)
{
    if (run->stopped || !fetch_claim(run, item)) {
        json_decref(item);
        return;
    }
    fetch_emit_claimed(run, item);
}

/* fetch_pending_ack() - see fetch.h. */
void fetch_pending_ack(struct fetch *f, struct wp_ctx *ctx, const char *id)
{
    if (!id || !*id)
        return;
    struct fetch_pending *p = &f->pending;
    uint64_t hash = pending_hash(id);
    char mark[300];
    bool known = false;
    pthread_mutex_lock(&p->lock);
    struct fetch_entry *e = *pending_slot(p, id, hash);
    if (e) {
        known = true;
        snprintf(mark, sizeof(mark), "%s", e->mark);
    }
    pthread_mutex_unlock(&p->lock);
    if (!known) {
        wp_log_debug(ctx, "acknowledgement for '%.80s', which is not in flight", id);
        return;
    }
    /*
     * Seen first, then out of the table: generate() meeting the id again in between finds
     * it in flight, never unrecorded.
     */
    fetch_record_seen(f, ctx, id, mark);
    f->host->metric_add(ctx, "acknowledged", 1);
    struct fetch_group *g = pending_remove(f, id, false);
    if (g)
        group_finish(f, ctx, g);
}
