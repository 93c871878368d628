/*
 * publish_http.c - to=http: POST each document (or, with batch_size > 1, a batch of them
 * as a JSON array) through the host's HTTP client and its retry policy, with an
 * Idempotency-Key so a replay is harmless. A document the webhook does not take rejects
 * its item; a batch that fails dead-letters every item in it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/buf.h>

#include "publish.h"

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
    return WP_OK;
}

/*
 * POST @body with Idempotency-Key @key. Returns WP_OK when the webhook answered 2xx, else
 * the failure with its reason in @why.
 */
static enum wp_status pub_post(struct publish *p, struct wp_ctx *ctx, const char *body,
                               const char *key, char *why, size_t why_len)
{
    char key_header[128];
    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key);
    const char *headers[] = {"Content-Type: application/json", key_header, NULL};
    struct wp_http_request req = {
        .method = "POST",
        .url = p->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->timeout_ms,
        .max_attempts = p->max_attempts,
        .max_body = 1 << 20,
    };
    struct wp_http_response resp;
    memset(&resp, 0, sizeof(resp));
    enum wp_status st = p->host->http_perform(ctx, &req, &resp);
    if (st == WP_OK && (resp.status < 200 || resp.status > 299)) {
        st = resp.status == 429 ? WP_E_QUOTA : WP_E_HTTP;
        snprintf(why, why_len, "webhook answered http %ld after %u attempt(s)", resp.status,
                 resp.attempts);
    } else if (st != WP_OK) {
        /* A long curl message may be cut; the status name alone is never lost. */
        if (snprintf(why, why_len, "webhook: %s",
                     resp.error[0] ? resp.error : p->host->status_name(st)) < 0)
            why[0] = '\0';
    }
    p->host->http_response_release(&resp);
    return st;
}

static enum wp_outcome pub_send_each(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                     const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!id) {
        wp_fail(ctx, WP_E_INVALID, "item has no 'id' for the Idempotency-Key");
        return WP_OUTCOME_REJECT;
    }
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        char *body = json_dumps(json_object_get(d, "doc"), JSON_COMPACT);
        if (!body) {
            wp_fail(ctx, WP_E_NOMEM, "cannot serialise the item");
            return WP_OUTCOME_REJECT;
        }
        char key[100], why[WP_ERROR_TEXT_MAX];
        pub_idempotency_key(p->host, id, json_string_value(json_object_get(d, "suffix")), key);
        enum wp_status st = pub_post(p, ctx, body, key, why, sizeof(why));
        pub_json_free(body);
        if (st != WP_OK) {
            /* The shared client has already retried what was worth retrying. */
            wp_fail(ctx, st, "%s", why);
            return WP_OUTCOME_REJECT;
        }
        p->host->metric_add(ctx, "posted", 1);
    }
    return WP_OUTCOME_OK;
}

/*
 * Send the batch @batch ([{item, doc}]) as one JSON array. Its Idempotency-Key is
 * "batch-" + SHA-256 of the documents' keys, one per line, so the same batch replayed gets
 * the same key. On failure every item of the batch is dead-lettered.
 */
static void pub_send_batch(struct publish *p, struct wp_ctx *ctx, json_t *batch)
{
    if (json_array_size(batch) == 0)
        return;
    json_t *docs = json_array();
    struct wp_buf keys;
    wp_buf_init(&keys, p->host);
    size_t i;
    json_t *e;
    json_array_foreach(batch, i, e)
    {
        json_array_append(docs, json_object_get(e, "doc"));
        char key[100];
        pub_idempotency_key(p->host, json_string_value(json_object_get(e, "id")),
                            json_string_value(json_object_get(e, "suffix")), key);
        wp_buf_adds(&keys, key);
        wp_buf_addch(&keys, '\n');
    }
    char hex[65] = "", key[80];
    if (keys.failed || p->host->sha256_hex(keys.data, keys.len, hex) != WP_OK)
        hex[0] = '\0';
    snprintf(key, sizeof(key), "batch-%s", hex);
    wp_buf_release(&keys);
    char *body = json_dumps(docs, JSON_COMPACT);
    json_decref(docs);
    char why[WP_ERROR_TEXT_MAX] = "cannot serialise the batch";
    enum wp_status st = body ? pub_post(p, ctx, body, key, why, sizeof(why)) : WP_E_NOMEM;
    pub_json_free(body);
    if (st == WP_OK) {
        p->host->metric_add(ctx, "posted", (long long)json_array_size(batch));
        return;
    }
    wp_log_error(ctx, "%s: %zu document(s) dead-lettered", why, json_array_size(batch));
    /* One item may appear once per language: dead-letter each item once. */
    const json_t *last = NULL;
    json_array_foreach(batch, i, e)
    {
        const json_t *item = json_object_get(e, "item");
        if (item == last)
            continue;
        last = item;
        p->host->dead_letter(ctx, item, st, "%s", why);
    }
}

static enum wp_outcome http_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                  const json_t *docs)
{
    if (p->batch_size <= 1)
        return pub_send_each(p, ctx, item, docs);
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!id) {
        wp_fail(ctx, WP_E_INVALID, "item has no 'id' for the Idempotency-Key");
        return WP_OUTCOME_REJECT;
    }
    json_t *full = NULL;
    json_t *copy = json_deep_copy(item); /* the host keeps @item only for this call */
    pthread_mutex_lock(&p->lock);
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        json_array_append_new(p->batch, json_pack("{s:O,s:O,s:s,s:O}", "item", copy, "doc",
                                                  json_object_get(d, "doc"), "id", id, "suffix",
                                                  json_object_get(d, "suffix")));
    }
    if (json_array_size(p->batch) >= p->batch_size) {
        full = p->batch;
        p->batch = json_array();
    }
    pthread_mutex_unlock(&p->lock);
    json_decref(copy);
    if (full) {
        pub_send_batch(p, ctx, full);
        json_decref(full);
    }
    return WP_OUTCOME_OK;
}

/* End of input: send what is left of the batch. */
static enum wp_outcome http_flush(struct publish *p, struct wp_ctx *ctx)
{
    pthread_mutex_lock(&p->lock);
    json_t *rest = p->batch;
    p->batch = json_array();
    pthread_mutex_unlock(&p->lock);
    pub_send_batch(p, ctx, rest);
    json_decref(rest);
    return WP_OUTCOME_OK;
}

const struct pub_target pub_target_http = {
    .name = "http",
    .open = http_open,
    .write = http_write,
    .flush = http_flush,
};
