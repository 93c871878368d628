/*
 * publish_http.c - to=http: a webhook that never loses a story.
 *
 * process() stores the item's documents in the durable outbox (publish_outbox.c) and
 * answers OK once they are there: from then on the story is the outbox's to deliver, and
 * the host may acknowledge it to its source. Delivery runs from the outbox's head, in
 * order, one POST at a time (or a batch of batch_size documents as a JSON array), through
 * the host's HTTP client with its retries and its circuit breaker per host:
 *  - 2xx removes the documents;
 *  - a permanent refusal (a 4xx other than 408, 409, 425 and 429) dead-letters their
 *    items with the status and what the webhook said, and removes them;
 *  - anything else (connect errors, timeouts, 408, 429, 5xx, an open circuit) keeps them,
 *    and the next round waits for the host's shared backoff or the server's Retry-After.
 * Whichever worker finds nobody delivering takes the turn, after storing its own
 * documents, so a slow or absent webhook never makes process() wait, unless the outbox is
 * full (max_outbox, max_outbox_bytes): then process() delivers or waits until there is
 * room, and answers RETRY if the run is cancelled meanwhile. flush() keeps delivering
 * until the outbox is empty, drain_timeout_s passes or the run is cancelled; what is left
 * is sent first by the next run.
 *
 * Every document carries an Idempotency-Key (publish_name.c), the same on every resend,
 * so a document sent again after a crash or a lost reply is harmless to a webhook that
 * honours it. This file is the target and who delivers when; one delivery round, the POST
 * and what its answer means, is publish_deliver.c.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthread_cond_timedwait */

#include <string.h>
#include <strings.h>
#include <time.h>

#include "publish.h"

/* How often waits look at cancelled() and at the other workers. */
#define OUTBOX_POLL_MS 100

enum pub_goal {
    GOAL_SOME,  /* process(): deliver while it goes well; never wait */
    GOAL_ROOM,  /* a full outbox: until the new documents fit */
    GOAL_EMPTY, /* flush(): until nothing waits */
};

/* Wait at most @ms for another worker to move the head (p->lock held). */
static void pub_wait_changed(struct publish *p, long long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->outbox.changed, &p->lock, &ts);
}

static long long config_number(const json_t *config, const char *key, long long fallback)
{
    const json_t *v = json_object_get(config, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

static enum wp_status http_open(struct publish *p, struct wp_ctx *ctx, const json_t *config)
{
    const char *url = json_string_value(json_object_get(config, "url"));
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
        wp_fail(ctx, WP_E_CONFIG, "url: an http or https URL is required when to is 'http'");
        return WP_E_CONFIG;
    }
    p->url = p->host->strndup(url, strlen(url));
    if (!p->url) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    p->delivery.drain_timeout_ms = config_number(config, "drain_timeout_s", 60) * 1000;
    p->outbox.max_docs = (unsigned long long)config_number(config, "max_outbox", 10000);
    p->outbox.max_bytes =
        (unsigned long long)config_number(config, "max_outbox_bytes", 64LL * 1024 * 1024);
    enum wp_status st = pub_headers_open(p, ctx, config);
    if (st != WP_OK)
        return st;
    return pub_outbox_open(p, ctx);
}

static void http_close(struct publish *p)
{
    pub_headers_release(p);
    pub_outbox_close(p);
}

/* Is there a round to send now (p->lock held)? */
static bool pub_has_round(const struct publish *p, bool partial)
{
    unsigned long long waiting = pub_outbox_count(p);
    return waiting > 0 && (partial || p->batch_size <= 1 || waiting >= p->batch_size);
}

/*
 * pub_deliver() - deliver from the head towards @goal (see enum pub_goal), with p->lock
 * held; it is released around every POST and wait. For GOAL_ROOM, @count entries of
 * @bytes must fit. Stops when cancelled() or, after the first round, at @deadline_ms
 * (0: none). Returns true when the goal was reached.
 */
static bool pub_deliver(struct publish *p, struct wp_ctx *ctx, enum pub_goal goal, size_t count,
                        size_t bytes, long long deadline_ms)
{
    struct pub_delivery *d = &p->delivery;
    bool partial = goal != GOAL_SOME;
    unsigned rounds = 0;
    for (;;) {
        if (goal == GOAL_ROOM ? pub_outbox_fits(p, count, bytes) : !pub_has_round(p, partial))
            return true;
        if (p->host->cancelled(ctx))
            return false;
        long long now = pub_now_ms();
        if (deadline_ms && now >= deadline_ms && rounds > 0)
            return false;
        if (d->delivering || now < d->next_try_ms) {
            /* Another worker has the turn, or the backoff is not over: not in process(). */
            if (goal == GOAL_SOME)
                return false;
            long long wait = d->delivering ? OUTBOX_POLL_MS : d->next_try_ms - now;
            if (deadline_ms && deadline_ms - now < wait)
                wait = deadline_ms - now;
            if (wait > OUTBOX_POLL_MS)
                wait = OUTBOX_POLL_MS;
            if (wait <= 0 && deadline_ms && now >= deadline_ms)
                return false;
            pub_wait_changed(p, wait > 0 ? wait : 1);
            continue;
        }
        d->delivering = true;
        pthread_mutex_unlock(&p->lock);
        enum pub_round r = pub_round(p, ctx, partial);
        pthread_mutex_lock(&p->lock);
        d->delivering = false;
        pthread_cond_broadcast(&p->outbox.changed);
        rounds++;
        if (r == ROUND_CANCELLED)
            return false;
        if (r == ROUND_TRANSIENT && goal == GOAL_SOME)
            return false;
    }
}

/* The outbox entries of one item's documents: new strings from jansson (pub_json_free). */
static bool pub_entries(struct publish *p, struct wp_ctx *ctx, const json_t *item, const char *id,
                        const json_t *docs, char **texts, size_t *lens, size_t *bytes)
{
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *suffix = json_string_value(json_object_get(d, "suffix"));
        char key[100];
        pub_idempotency_key(p->host, id, suffix ? suffix : "", key);
        json_t *entry = json_pack("{s:s,s:s,s:s,s:O}", "id", id, "suffix", suffix ? suffix : "",
                                  "key", key, "doc", json_object_get(d, "doc"));
        /* ninjs documents are not the item: keep it for a dead letter a replay can use. */
        if (entry && p->format != FMT_WIREPIPE &&
            json_object_set_new(entry, "item", json_deep_copy(item)) != 0) {
            json_decref(entry);
            entry = NULL;
        }
        texts[i] = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
        json_decref(entry);
        if (!texts[i]) {
            wp_fail(ctx, WP_E_NOMEM, "cannot serialise the document");
            return false;
        }
        lens[i] = strlen(texts[i]);
        *bytes += lens[i];
    }
    return true;
}

/* Store the entries, first waiting for room when the outbox is full (p->lock not held). */
static enum wp_outcome pub_enqueue(struct publish *p, struct wp_ctx *ctx, char *const *texts,
                                   const size_t *lens, size_t count, size_t bytes)
{
    pthread_mutex_lock(&p->lock);
    if (!pub_outbox_fits(p, count, bytes)) {
        if (!p->delivery.full_logged)
            wp_log_warn(ctx,
                        "outbox full (%llu document(s), %llu bytes): waiting for the webhook "
                        "before taking more",
                        pub_outbox_count(p), p->outbox.bytes);
        p->delivery.full_logged = true;
        if (!pub_deliver(p, ctx, GOAL_ROOM, count, bytes, 0)) {
            unsigned long long waiting = pub_outbox_count(p);
            pthread_mutex_unlock(&p->lock);
            wp_fail(ctx, WP_E_CANCELLED,
                    "the outbox is full (%llu document(s)) and the run is stopping: the item "
                    "is not taken",
                    waiting);
            return WP_OUTCOME_RETRY;
        }
    }
    p->delivery.full_logged = false;
    enum wp_status st = pub_outbox_append(p, ctx, texts, lens, count);
    pthread_mutex_unlock(&p->lock);
    if (st != WP_OK) {
        /* Not durable, so not taken: the host offers the item again or dead-letters it. */
        wp_fail(ctx, st, "cannot store the document in the outbox: %s", p->host->status_name(st));
        return WP_OUTCOME_RETRY;
    }
    p->host->metric_add(ctx, "queued", (long long)count);
    return WP_OUTCOME_OK;
}

static enum wp_outcome http_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                  const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!id) {
        wp_fail(ctx, WP_E_INVALID, "item has no 'id' for the Idempotency-Key");
        return WP_OUTCOME_REJECT;
    }
    size_t count = json_array_size(docs);
    if (count == 0)
        return WP_OUTCOME_OK;
    char **texts = p->host->calloc(count, sizeof(*texts));
    size_t *lens = p->host->calloc(count, sizeof(*lens));
    size_t bytes = 0;
    enum wp_outcome o = WP_OUTCOME_REJECT;
    if (!texts || !lens)
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
    else if (pub_entries(p, ctx, item, id, docs, texts, lens, &bytes))
        o = pub_enqueue(p, ctx, texts, lens, count, bytes);
    for (size_t i = 0; texts && i < count; i++)
        pub_json_free(texts[i]);
    p->host->free(texts);
    p->host->free(lens);
    if (o != WP_OUTCOME_OK)
        return o;
    /* Stored: the story is safe. Now send what waits, this item's documents included. */
    pthread_mutex_lock(&p->lock);
    pub_deliver(p, ctx, GOAL_SOME, 0, 0, 0);
    pthread_mutex_unlock(&p->lock);
    return WP_OUTCOME_OK;
}

/* End of input: deliver what waits, within drain_timeout_s. */
static enum wp_outcome http_flush(struct publish *p, struct wp_ctx *ctx)
{
    long long deadline = pub_now_ms() + p->delivery.drain_timeout_ms;
    pthread_mutex_lock(&p->lock);
    bool empty = pub_deliver(p, ctx, GOAL_EMPTY, 0, 0, deadline);
    unsigned long long waiting = pub_outbox_count(p);
    pthread_mutex_unlock(&p->lock);
    if (!empty && waiting > 0)
        wp_log_warn(ctx, "%llu document(s) wait in the outbox (%s); the next run sends them first",
                    waiting,
                    p->host->cancelled(ctx) ? "the run is stopping" : "drain_timeout_s passed");
    return WP_OUTCOME_OK;
}

const struct pub_target pub_target_http = {
    .name = "http",
    .open = http_open,
    .write = http_write,
    .flush = http_flush,
    .close = http_close,
};
