/*
 * publish_outbox.c - the durable outbox of to=http: an ordered queue of documents in the
 * host's state store, so a story the webhook has not taken survives an outage, a restart
 * and kill -9.
 *
 * Layout, in the namespace "publish.outbox:<stage id>":
 *   "meta"            {"head": H, "tail": T, "bytes": B}: entries H .. T-1 wait
 *   "d<20 digits>"    one entry per document: {"id", "suffix", "key", "doc"[, "item"]}
 *
 * The store has no transactions across keys, so the order of writes is what keeps a crash
 * harmless:
 *  - append writes the entries first and the meta last. A crash in between leaves entries
 *    past the tail, which nothing reads and the next append overwrites; the item was not
 *    acknowledged, so its source offers it again.
 *  - pop deletes the entries first and the meta last. A crash in between leaves a head
 *    naming deleted entries, which the next run skips (pub_outbox_get says NOTFOUND).
 *    B may then count a few bytes too many; it is reset whenever the outbox runs empty.
 * An entry sent but not yet popped when the process dies is sent again by the next run,
 * with the same Idempotency-Key: delivery is at least once.
 */
#define _POSIX_C_SOURCE 200809L /* CLOCK_MONOTONIC, pthread_condattr_setclock */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wirepipe/buf.h>

#include <jansson.h>

#include "publish.h"

#define OUTBOX_META "meta"

static int pub_entry_key(unsigned long long seq, char out[32])
{
    /* Zero-padded, so the keys also sort in delivery order for anyone reading the store. */
    return snprintf(out, 32, "d%020llu", seq);
}

/* Save head, tail and bytes. */
static enum wp_status pub_outbox_save(struct publish *p, struct wp_ctx *ctx)
{
    char meta[128];
    int n = snprintf(meta, sizeof(meta), "{\"head\":%llu,\"tail\":%llu,\"bytes\":%llu}",
                     p->outbox.head, p->outbox.tail, p->outbox.bytes);
    if (n < 0 || (size_t)n >= sizeof(meta))
        return WP_E_INVALID;
    return p->host->store_put(ctx, p->outbox.ns, OUTBOX_META, strlen(OUTBOX_META), meta, (size_t)n,
                              0);
}

static bool pub_meta_number(const json_t *meta, const char *key, unsigned long long *out)
{
    const json_t *v = json_object_get(meta, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (unsigned long long)json_integer_value(v);
    return true;
}

/* pub_outbox_open() - see publish.h. */
enum wp_status pub_outbox_open(struct publish *p, struct wp_ctx *ctx)
{
    struct pub_outbox *o = &p->outbox;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    /* Waits are measured on the monotonic clock, like every deadline here. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&o->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        wp_fail(ctx, WP_E_NOMEM, "cannot create a condition variable");
        return WP_E_NOMEM;
    }
    o->cond_ready = true;

    const char *stage = p->host->stage_id(ctx);
    struct wp_buf b;
    wp_buf_init(&b, p->host);
    wp_buf_addf(&b, "publish.outbox:%s", stage ? stage : "publish");
    o->ns = b.failed ? NULL : wp_buf_detach(&b, NULL);
    wp_buf_release(&b);
    if (!o->ns) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }

    char *text = NULL;
    size_t len = 0;
    enum wp_status st =
        p->host->store_get(ctx, o->ns, OUTBOX_META, strlen(OUTBOX_META), &text, &len);
    if (st == WP_E_NOTFOUND)
        return WP_OK; /* a new outbox */
    if (st != WP_OK) {
        wp_fail(ctx, st, "cannot read the outbox '%s' from the state store: %s", o->ns,
                p->host->status_name(st));
        return st;
    }
    json_t *meta = json_loadb(text, len, 0, NULL);
    p->host->free(text);
    bool ok = meta && pub_meta_number(meta, "head", &o->head) &&
              pub_meta_number(meta, "tail", &o->tail) &&
              pub_meta_number(meta, "bytes", &o->bytes) && o->head <= o->tail;
    json_decref(meta);
    if (!ok) {
        /*
         * Guessing would either resend everything or overwrite waiting documents; an
         * operator who sees this decides (the entries are still in the store).
         */
        wp_fail(ctx, WP_E_INVALID,
                "the outbox '%s' in the state store is damaged (its 'meta' entry is not "
                "{head, tail, bytes}); delete that entry to start a new outbox",
                o->ns);
        return WP_E_INVALID;
    }
    if (o->head == o->tail)
        o->bytes = 0;
    else
        wp_log_info(ctx,
                    "%llu document(s) from an earlier run wait in the outbox; they are "
                    "sent first",
                    o->tail - o->head);
    /* A gauge for /metrics (wirepipe_plugin_gauge{name="outbox_depth"}): what waits. */
    p->host->metric_add(ctx, "outbox_depth", (long long)(o->tail - o->head));
    return WP_OK;
}

void pub_outbox_close(struct publish *p)
{
    if (p->outbox.cond_ready)
        pthread_cond_destroy(&p->outbox.changed);
    p->outbox.cond_ready = false;
    if (p->outbox.ns)
        p->host->free(p->outbox.ns);
    p->outbox.ns = NULL;
}

unsigned long long pub_outbox_count(const struct publish *p)
{
    return p->outbox.tail - p->outbox.head;
}

bool pub_outbox_fits(const struct publish *p, size_t count, size_t bytes)
{
    const struct pub_outbox *o = &p->outbox;
    unsigned long long n = pub_outbox_count(p);
    if (n == 0)
        return true;
    return n + count <= o->max_docs && o->bytes + bytes <= o->max_bytes;
}

/* pub_outbox_append() - see publish.h. */
enum wp_status pub_outbox_append(struct publish *p, struct wp_ctx *ctx, char *const *texts,
                                 const size_t *lens, size_t count)
{
    struct pub_outbox *o = &p->outbox;
    unsigned long long seq = o->tail;
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        char key[32];
        int n = pub_entry_key(seq + i, key);
        enum wp_status st = p->host->store_put(ctx, o->ns, key, (size_t)n, texts[i], lens[i], 0);
        if (st != WP_OK)
            return st;
        bytes += lens[i];
    }
    o->tail += count;
    o->bytes += bytes;
    enum wp_status st = pub_outbox_save(p, ctx);
    if (st != WP_OK) {
        /* Not durable without the tail: the entries written are past it, and unread. */
        o->tail -= count;
        o->bytes -= bytes;
    } else {
        p->host->metric_add(ctx, "outbox_depth", (long long)count);
    }
    return st;
}

/* pub_outbox_get() - see publish.h. */
enum wp_status pub_outbox_get(struct publish *p, struct wp_ctx *ctx, unsigned long long seq,
                              char **text, size_t *len)
{
    char key[32];
    int n = pub_entry_key(seq, key);
    return p->host->store_get(ctx, p->outbox.ns, key, (size_t)n, text, len);
}

/* pub_outbox_pop() - see publish.h. */
void pub_outbox_pop(struct publish *p, struct wp_ctx *ctx, size_t count, size_t bytes)
{
    struct pub_outbox *o = &p->outbox;
    unsigned long long head = o->head;
    for (size_t i = 0; i < count && o->head < o->tail; i++) {
        char key[32];
        int n = pub_entry_key(o->head, key);
        enum wp_status st = p->host->store_delete(ctx, o->ns, key, (size_t)n);
        if (st != WP_OK && st != WP_E_NOTFOUND)
            wp_log_warn(ctx, "cannot delete a delivered entry of the outbox: %s",
                        p->host->status_name(st));
        o->head++;
    }
    o->bytes = o->head == o->tail || bytes > o->bytes ? 0 : o->bytes - bytes;
    p->host->metric_add(ctx, "outbox_depth", -(long long)(o->head - head));
    enum wp_status st = pub_outbox_save(p, ctx);
    if (st != WP_OK) {
        /* The entries are gone; the next save (or the next run skipping them) catches up. */
        wp_log_warn(ctx, "cannot save the outbox head: %s", p->host->status_name(st));
    }
}
