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
 *
 * A polling stage reads a URL again while items of its earlier read may still be in flight.
 * Such an item is not emitted again, but the new read's group must not be done before it
 * is: the group waits on the entry (a waiter), so its validators, which would turn the next
 * read into a 304, are stored only once that item too is done. And since the groups of
 * two reads of one URL can then finish in either order, validators are stored newest
 * first wins: an older group never overwrites what a newer one stored.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"

#define PENDING_MIN_BUCKETS 64u

/* An http document waiting for its items. */
struct fetch_group {
    struct fetch_group *prev, *next; /* fetch_pending.groups; once done, the done list */
    unsigned long long seq;          /* fetch_pending.group_seq when it was opened */
    size_t outstanding;              /* claimed items not done yet */
    bool open;                       /* the document is still being read */
    bool failed;                     /* something was not read: never store the validators */
    char *key;                       /* canonical URL */
    char *validators;                /* JSON text for "fetch.http" */
};

/* A later read's group that waits for an entry claimed by an earlier one. */
struct fetch_waiter {
    struct fetch_waiter *next;
    struct fetch_group *group;
};

/* The newest group whose validators were stored for one URL (see fetch_pending.stored). */
struct fetch_stored {
    char *key;
    unsigned long long seq;
};

/* One claimed id. */
struct fetch_entry {
    struct fetch_entry *next; /* in its bucket */
    uint64_t hash;
    struct fetch_group *group; /* or NULL */
    struct fetch_waiter *waiters;
    const char *mark; /* points into @id's buffer, after the id */
    char id[];        /* the id, NUL, the seen mark, NUL */
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
    if (pthread_mutex_init(&p->store_lock, NULL) != 0)
        return WP_E_NOMEM;
    p->store_lock_ok = true;
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

static void entry_free(struct fetch *f, struct fetch_entry *e)
{
    while (e->waiters) {
        struct fetch_waiter *w = e->waiters;
        e->waiters = w->next;
        f->host->free(w);
    }
    f->host->free(e);
}

void fetch_pending_release(struct fetch *f)
{
    struct fetch_pending *p = &f->pending;
    for (size_t i = 0; p->buckets && i < p->n_buckets; i++) {
        while (p->buckets[i]) {
            struct fetch_entry *e = p->buckets[i];
            p->buckets[i] = e->next;
            entry_free(f, e);
        }
    }
    for (size_t i = 0; i < p->n_stored; i++)
        f->host->free(p->stored[i].key);
    if (p->stored)
        f->host->free(p->stored);
    if (p->store_lock_ok)
        pthread_mutex_destroy(&p->store_lock);
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

/*
 * Whether @g is the newest group of its URL to store validators; if so it is noted as
 * such. Called with store_lock held. Out of memory: stored anyway (a later, older group
 * may then overwrite it, which costs a full read, not an item).
 */
static bool newest_for_key(struct fetch *f, const struct fetch_group *g)
{
    struct fetch_pending *p = &f->pending;
    for (size_t i = 0; i < p->n_stored; i++) {
        if (strcmp(p->stored[i].key, g->key) == 0) {
            if (p->stored[i].seq > g->seq)
                return false;
            p->stored[i].seq = g->seq;
            return true;
        }
    }
    struct fetch_stored *grown =
        f->host->realloc(p->stored, (p->n_stored + 1) * sizeof(*p->stored));
    if (!grown)
        return true;
    p->stored = grown;
    char *key = f->host->strndup(g->key, strlen(g->key));
    if (!key)
        return true;
    p->stored[p->n_stored++] = (struct fetch_stored){.key = key, .seq = g->seq};
    return true;
}

/* A done group: store its validators unless something of it was not read. */
static void group_finish(struct fetch *f, struct wp_ctx *ctx, struct fetch_group *g)
{
    if (g->failed) {
        wp_log_debug(ctx, "'%s': not everything was read, validators not stored", g->key);
    } else {
        struct fetch_pending *p = &f->pending;
        pthread_mutex_lock(&p->store_lock);
        if (newest_for_key(f, g))
            fetch_store_validators(f, ctx, g->key, g->validators);
        else
            wp_log_debug(ctx, "'%s': a later read stored its validators already", g->key);
        pthread_mutex_unlock(&p->store_lock);
    }
    group_free(f, g);
}

/* Finish every group of @done, a list made by pending_remove(). */
static void groups_finish(struct fetch *f, struct wp_ctx *ctx, struct fetch_group *done)
{
    while (done) {
        struct fetch_group *next = done->next;
        group_finish(f, ctx, done);
        done = next;
    }
}

/* One item of @g is done (@failed: it was not read after all). Lock held. */
static void group_item_done_locked(struct fetch_pending *p, struct fetch_group *g, bool failed,
                                   struct fetch_group **done)
{
    g->outstanding--;
    g->failed = g->failed || failed;
    if (group_done_locked(p, g)) {
        g->next = *done;
        *done = g;
    }
}

/*
 * Take @id out of the table. Returns the groups this finished (its own and those waiting
 * on it), linked through ->next, for groups_finish(); or NULL.
 */
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
        if (e->group)
            group_item_done_locked(p, e->group, failed, &done);
        for (struct fetch_waiter *w = e->waiters; w; w = w->next)
            group_item_done_locked(p, w->group, failed, &done);
    }
    pthread_mutex_unlock(&p->lock);
    if (e)
        entry_free(f, e);
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
    g->seq = ++p->group_seq;
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

/*
 * Whether seen mark @mark names another revision than @earlier's. Marks without a
 * revision hold the time of the claim, which differs without meaning anything.
 */
static bool revision_changed(const char *mark, const char *earlier)
{
    bool revised = strncmp(mark, "rev:", 4) == 0 || strncmp(earlier, "rev:", 4) == 0;
    return revised && strcmp(mark, earlier) != 0;
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
    e->waiters = NULL;

    /* Allocated before taking the lock: the id may be in flight already (see below). */
    struct fetch_waiter *w = run->group ? f->host->malloc(sizeof(*w)) : NULL;

    struct fetch_pending *p = &f->pending;
    pthread_mutex_lock(&p->lock);
    struct fetch_entry **slot = pending_slot(p, id, e->hash);
    struct fetch_entry *earlier = *slot;
    bool in_flight = earlier != NULL;
    if (!in_flight) {
        e->next = NULL;
        *slot = e;
        p->count++;
        if (e->group)
            e->group->outstanding++;
        if (p->count > p->n_buckets / 4 * 3)
            pending_grow(f);
    } else if (run->group && earlier->group != run->group) {
        /*
         * Emitted by an earlier read (another feed, or this URL's previous poll) and not
         * done: this document is not done before it is. A new revision of the story is
         * emitted only after the old one is done, by a later read, so this document's
         * validators must never turn that read into a 304.
         */
        if (revision_changed(mark, earlier->mark) || !w) {
            run->group->failed = true;
        } else {
            w->group = run->group;
            w->next = earlier->waiters;
            earlier->waiters = w;
            run->group->outstanding++;
            w = NULL;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (w)
        f->host->free(w);
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
    groups_finish(run->f, run->ctx, pending_remove(run->f, id, !done));
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
        if (tracked)
            groups_finish(f, run->ctx, pending_remove(f, id, true));
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
    groups_finish(f, ctx, pending_remove(f, id, false));
}
