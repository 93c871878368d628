/*
 * publish_deliver.c - one delivery round of the webhook outbox: read the head entries (one
 * document, or a batch of batch_size), POST them with the configured headers and their
 * Idempotency-Key through the host's HTTP client and circuit breaker, and act on the
 * answer: 2xx removes them, a permanent refusal dead-letters their items with the reason
 * and removes them, anything else keeps them and schedules the next round with the host's
 * shared backoff (or the server's Retry-After, or the circuit's cooldown, when longer).
 *
 * Which worker runs a round, and when, is publish_http.c's business: a round runs with the
 * deliverer's turn held, never with publish.lock held across the POST.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wirepipe/buf.h>

#include "publish.h"

/* Waits between delivery rounds (each round is one POST with the client's own retries). */
#define OUTBOX_RETRY_BASE_MS 500u
#define OUTBOX_RETRY_CAP_MS  5000u
/* A circuit or Retry-After wait is honoured up to this; a server cannot park us longer. */
#define OUTBOX_HINT_CAP_MS 300000L
/* Reply bytes kept for the dead-letter reason. */
#define REASON_MAX 160

enum pub_post { POST_OK, POST_TRANSIENT, POST_REFUSED, POST_CANCELLED };

long long pub_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Up to REASON_MAX bytes of a reply, printable ASCII with runs of white space as one. */
static void pub_reason(const char *body, size_t len, char *out, size_t size)
{
    size_t n = 0;
    /* Up to a NUL only: that is as far as pub_scrub_secrets() looked. */
    for (size_t i = 0; i < len && body[i] && n + 1 < size && n < REASON_MAX; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c <= 0x20 || c >= 0x7f) {
            if (n > 0 && out[n - 1] != ' ')
                out[n++] = c >= 0x80 ? '?' : ' ';
            continue;
        }
        out[n++] = (char)c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static bool pub_status_permanent(long status)
{
    /* 409: a request with the same Idempotency-Key is still in progress; 425: too early. */
    return status >= 400 && status <= 499 && status != 408 && status != 409 && status != 425 &&
           status != 429;
}

/*
 * POST @body with Idempotency-Key @key and the configured headers, and say what became of
 * it, with the reason in @why and the server's or the circuit's wait in *@retry_after_ms.
 */
static enum pub_post pub_post(struct publish *p, struct wp_ctx *ctx, const char *body,
                              size_t body_len, const char *key, char *why, size_t why_len,
                              long *retry_after_ms)
{
    char key_header[128];
    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key);
    const char *headers[PUB_HEADERS_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < p->headers.count; i++)
        headers[n++] = p->headers.lines[i];
    headers[n++] = key_header;
    headers[n] = NULL;
    struct wp_http_request req = {
        .method = "POST",
        .url = p->url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->timeout_ms,
        .max_attempts = p->max_attempts,
        .max_body = 1 << 20,
        .flags = WP_HTTP_BREAKER,
    };
    struct wp_http_response resp;
    memset(&resp, 0, sizeof(resp));
    enum wp_status st = p->host->http_perform(ctx, &req, &resp);
    enum pub_post result = POST_TRANSIENT;
    why[0] = '\0';
    if (st == WP_OK && resp.status >= 200 && resp.status <= 299) {
        result = POST_OK;
    } else if (st == WP_OK) {
        char reason[REASON_MAX + 1] = "";
        /* Before the cut, so no part of a secret the reply echoes can survive it. */
        if (resp.body) {
            pub_scrub_secrets(p, resp.body);
            pub_reason(resp.body, resp.body_len, reason, sizeof(reason));
        }
        result = pub_status_permanent(resp.status) ? POST_REFUSED : POST_TRANSIENT;
        if (snprintf(why, why_len, "webhook answered http %ld after %u attempt(s)%s%s", resp.status,
                     resp.attempts, reason[0] ? ": " : "", reason) < 0)
            why[0] = '\0';
    } else if (st == WP_E_CANCELLED) {
        result = POST_CANCELLED;
        snprintf(why, why_len, "cancelled");
    } else {
        /* A long client message may be cut; the status name alone is never lost. */
        if (snprintf(why, why_len, "webhook: %s",
                     resp.error[0] ? resp.error : p->host->status_name(st)) < 0)
            why[0] = '\0';
    }
    /* A webhook that echoes the request must not put a token in a log or dead letter. */
    pub_scrub_secrets(p, why);
    *retry_after_ms = resp.retry_after_ms;
    p->host->http_response_release(&resp);
    return result;
}

/* A round failed for a while: schedule the next one (p->lock not held). */
static enum pub_round pub_round_failed(struct publish *p, struct wp_ctx *ctx, const char *why,
                                       long retry_after_ms)
{
    pthread_mutex_lock(&p->lock);
    struct pub_delivery *d = &p->delivery;
    d->failures++;
    long long delay = p->host->backoff_ms(d->failures < 31 ? d->failures : 31, OUTBOX_RETRY_BASE_MS,
                                          OUTBOX_RETRY_CAP_MS);
    if (retry_after_ms > delay)
        delay = retry_after_ms < OUTBOX_HINT_CAP_MS ? retry_after_ms : OUTBOX_HINT_CAP_MS;
    d->next_try_ms = pub_now_ms() + delay;
    unsigned long long waiting = pub_outbox_count(p);
    bool first = !d->down_logged;
    d->down_logged = true;
    pthread_mutex_unlock(&p->lock);
    if (first)
        wp_log_warn(ctx, "%s; %llu document(s) wait in the outbox and are sent when it answers",
                    why, waiting);
    else
        wp_log_debug(ctx, "%s; next try in %lld ms (%llu waiting)", why, delay, waiting);
    return ROUND_TRANSIENT;
}

/* Delivered or refused: the @count oldest entries (@bytes) are done with. */
static void pub_round_done(struct publish *p, struct wp_ctx *ctx, size_t count, size_t bytes,
                           bool delivered)
{
    pthread_mutex_lock(&p->lock);
    pub_outbox_pop(p, ctx, count, bytes);
    struct pub_delivery *d = &p->delivery;
    bool recovered = delivered && d->down_logged;
    unsigned failures = d->failures;
    if (delivered) {
        d->failures = 0;
        d->down_logged = false;
        d->next_try_ms = 0;
    }
    unsigned long long waiting = pub_outbox_count(p);
    pthread_mutex_unlock(&p->lock);
    if (recovered)
        wp_log_info(ctx, "webhook answers again after %u failed round(s); %llu document(s) wait",
                    failures, waiting);
}

/* The entries of one round, read from the head. */
struct pub_round_docs {
    json_t *entries; /* parsed entries; JSON null for one that is gone or damaged */
    size_t bytes;
    size_t valid;
};

/* Read @count entries from @head. False on a store error (reason in @why). */
static bool pub_round_read(struct publish *p, struct wp_ctx *ctx, unsigned long long head,
                           size_t count, struct pub_round_docs *r, char *why, size_t why_len)
{
    for (size_t i = 0; i < count; i++) {
        char *text = NULL;
        size_t len = 0;
        enum wp_status st = pub_outbox_get(p, ctx, head + i, &text, &len);
        if (st == WP_E_NOTFOUND) {
            json_array_append_new(r->entries, json_null());
            continue;
        }
        if (st != WP_OK) {
            snprintf(why, why_len, "cannot read the outbox: %s", p->host->status_name(st));
            return false;
        }
        r->bytes += len;
        json_t *e = json_loadb(text, len, 0, NULL);
        p->host->free(text);
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "key")) ||
            !json_object_get(e, "doc")) {
            /* Only a damaged store gets here: keep what can be kept, and go on. */
            json_t *stub =
                json_pack("{s:s,s:I}", "outbox", p->outbox.ns, "entry", (json_int_t)(head + i));
            if (stub)
                p->host->dead_letter(ctx, stub, WP_E_INVALID, "damaged outbox entry");
            json_decref(stub);
            json_decref(e);
            json_array_append_new(r->entries, json_null());
            continue;
        }
        json_array_append_new(r->entries, e);
        r->valid++;
    }
    return true;
}

/* The body and Idempotency-Key of a round: one document, or a batch as a JSON array. */
static char *pub_round_body(struct publish *p, const struct pub_round_docs *r, char key[100])
{
    size_t i;
    json_t *e;
    if (p->batch_size <= 1) {
        json_array_foreach(r->entries, i, e)
        {
            if (json_is_object(e)) {
                snprintf(key, 100, "%s", json_string_value(json_object_get(e, "key")));
                return json_dumps(json_object_get(e, "doc"), JSON_COMPACT | JSON_ENCODE_ANY);
            }
        }
        return NULL;
    }
    /* A batch's key is "batch-" + SHA-256 of its documents' keys, one per line. */
    json_t *docs = json_array();
    struct wp_buf keys;
    wp_buf_init(&keys, p->host);
    json_array_foreach(r->entries, i, e)
    {
        if (!json_is_object(e))
            continue;
        json_array_append(docs, json_object_get(e, "doc"));
        wp_buf_adds(&keys, json_string_value(json_object_get(e, "key")));
        wp_buf_addch(&keys, '\n');
    }
    char hex[65] = "";
    if (keys.failed || p->host->sha256_hex(keys.data, keys.len, hex) != WP_OK)
        hex[0] = '\0';
    wp_buf_release(&keys);
    snprintf(key, 100, "batch-%s", hex);
    char *body = json_dumps(docs, JSON_COMPACT);
    json_decref(docs);
    return body;
}

/* Dead-letter the items of a refused round, each item once. */
static void pub_round_refused(struct publish *p, struct wp_ctx *ctx, const struct pub_round_docs *r,
                              const char *key, const char *why)
{
    wp_log_error(ctx, "%s: %zu document(s) dead-lettered", why, r->valid);
    const char *last = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(r->entries, i, e)
    {
        if (!json_is_object(e))
            continue;
        const char *id = json_string_value(json_object_get(e, "id"));
        /* The documents of one item are neighbours: its translations follow it. */
        if (last && id && strcmp(id, last) == 0)
            continue;
        last = id;
        const json_t *item = json_object_get(e, "item");
        if (!item)
            item = json_object_get(e, "doc");
        if (p->batch_size <= 1)
            p->host->dead_letter(ctx, item, WP_E_HTTP, "document '%s' refused: %s", key, why);
        else
            p->host->dead_letter(ctx, item, WP_E_HTTP, "batch of %zu document(s) refused: %s",
                                 r->valid, why);
    }
    p->host->metric_add(ctx, "refused", (long long)r->valid);
}

/* pub_round() - see publish.h. */
enum pub_round pub_round(struct publish *p, struct wp_ctx *ctx, bool partial)
{
    pthread_mutex_lock(&p->lock);
    unsigned long long head = p->outbox.head;
    unsigned long long waiting = pub_outbox_count(p);
    pthread_mutex_unlock(&p->lock);
    size_t count = p->batch_size <= 1 ? 1 : p->batch_size;
    if (waiting == 0 || (waiting < count && !partial))
        return ROUND_IDLE;
    if (waiting < count)
        count = (size_t)waiting;

    char why[WP_ERROR_TEXT_MAX] = "";
    struct pub_round_docs r = {.entries = json_array()};
    if (!r.entries || !pub_round_read(p, ctx, head, count, &r, why, sizeof(why))) {
        json_decref(r.entries);
        return pub_round_failed(p, ctx, why[0] ? why : "out of memory", 0);
    }
    if (r.valid == 0) {
        /* Nothing left to send in these entries (gone, or damaged and dead-lettered). */
        json_decref(r.entries);
        pub_round_done(p, ctx, count, r.bytes, false);
        return ROUND_DONE;
    }
    char key[100];
    char *body = pub_round_body(p, &r, key);
    if (!body) {
        json_decref(r.entries);
        return pub_round_failed(p, ctx, "out of memory", 0);
    }
    long retry_after_ms = 0;
    enum pub_post post =
        pub_post(p, ctx, body, strlen(body), key, why, sizeof(why), &retry_after_ms);
    pub_json_free(body);
    enum pub_round result = ROUND_DONE;
    switch (post) {
        case POST_OK:
            p->host->metric_add(ctx, "posted", (long long)r.valid);
            pub_round_done(p, ctx, count, r.bytes, true);
            break;
        case POST_REFUSED:
            pub_round_refused(p, ctx, &r, key, why);
            pub_round_done(p, ctx, count, r.bytes, false);
            break;
        case POST_CANCELLED:
            result = ROUND_CANCELLED;
            break;
        case POST_TRANSIENT:
            result = pub_round_failed(p, ctx, why, retry_after_ms);
            break;
    }
    json_decref(r.entries);
    return result;
}
