/*
 * fetch_http.c - http(s) sources through the host's shared client, which owns retries,
 * backoff, Retry-After, redirect and protocol limits, the body limit and gzip. This file
 * adds the request headers (Accept, and the validators of the last fetch for a
 * conditional GET), the reading of replies (a 304 yields nothing; failures are reported
 * with the client's reason) and follow, which fetches the page each feed entry links to.
 */
#include <stdio.h>
#include <string.h>

#include <wirepipe/buf.h>

#include <jansson.h>

#include "fetch.h"

/* Header lines of one request, owned here. */
struct fetch_headers {
    char *lines[4];
    const char *list[5];
    size_t n;
};

static void fetch_headers_release(const struct wp_host_api *host, struct fetch_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        host->free(h->lines[i]);
    h->n = 0;
}

static void fetch_headers_add(const struct wp_host_api *host, struct fetch_headers *h,
                              const char *name, const char *value)
{
    /* A validator with a line break would smuggle a header: never send it. */
    if (h->n >= 4 || strpbrk(value, "\r\n"))
        return;
    struct wp_buf b;
    wp_buf_init(&b, host);
    wp_buf_addf(&b, "%s: %s", name, value);
    char *line = wp_buf_detach(&b, NULL);
    if (!line)
        return;
    h->lines[h->n] = line;
    h->list[h->n] = line;
    h->n++;
    h->list[h->n] = NULL;
}

/* A GET of @url with the stage's limits; @headers may be NULL. */
static struct wp_http_request fetch_request(const struct fetch *f, const char *url,
                                            const char *const *headers)
{
    return (struct wp_http_request){
        .url = url,
        .headers = headers,
        .connect_timeout_ms = f->connect_timeout_ms,
        .timeout_ms = f->timeout_ms,
        .max_body = f->max_body,
        .max_attempts = f->max_attempts,
        .user_agent = f->user_agent,
    };
}

/* The request for source @url (canonical @key): Accept and the stored validators. */
static void fetch_prepare(struct fetch_run *run, const char *url, const char *key,
                          struct wp_http_request *req, struct fetch_headers *h)
{
    struct fetch *f = run->f;
    memset(h, 0, sizeof(*h));
    fetch_headers_add(f->host, h, "Accept",
                      "text/html, application/xhtml+xml, application/rss+xml, "
                      "application/atom+xml, application/json, text/plain;q=0.9, */*;q=0.5");
    json_t *v = fetch_load_validators(run, key);
    const char *etag = json_string_value(json_object_get(v, "etag"));
    const char *lm = json_string_value(json_object_get(v, "last_modified"));
    if (etag)
        fetch_headers_add(f->host, h, "If-None-Match", etag);
    if (lm)
        fetch_headers_add(f->host, h, "If-Modified-Since", lm);
    json_decref(v);
    *req = fetch_request(f, url, h->list);
}

/*
 * Report @resp for @url as a failure unless it is a 2xx reply: the client's reason when
 * no reply came, else the status (429 as WP_E_QUOTA). @partial as for fetch_failure().
 * Returns true when it was a failure.
 */
static bool fetch_reply_failed(struct fetch_run *run, const char *url, const json_t *partial,
                               const struct wp_http_response *resp)
{
    if (resp->code != WP_OK) {
        if (resp->error[0])
            fetch_failure(run, url, partial, resp->code, "%s", resp->error);
        else
            fetch_failure(run, url, partial, resp->code, "%s: %s after %u attempt(s)", url,
                          run->f->host->status_name(resp->code), resp->attempts);
        return true;
    }
    if (resp->status < 200 || resp->status > 299) {
        fetch_failure(run, url, partial, resp->status == 429 ? WP_E_QUOTA : WP_E_HTTP,
                      "%s: http %ld after %u attempt(s)", url, resp->status, resp->attempts);
        return true;
    }
    return false;
}

/* Handle the reply for @url (canonical @key). Returns true when items may have come. */
static bool fetch_handle_response(struct fetch_run *run, const char *url, const char *key,
                                  const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    if (resp->code == WP_OK && resp->status == 304) {
        wp_log_info(run->ctx, "%s: not modified since the last fetch", url);
        f->host->metric_add(run->ctx, "not_modified", 1);
        return true;
    }
    if (fetch_reply_failed(run, url, NULL, resp))
        return false;
    f->host->metric_add(run->ctx, "fetched", 1);
    const char *final = resp->effective_url ? resp->effective_url : url;
    char *host_name = fetch_url_host(f->host, final);
    struct fetch_doc doc = {
        .url = final,
        .content_type = resp->content_type,
        .http_status = resp->status,
        .data = resp->body ? resp->body : "",
        .len = resp->body ? resp->body_len : 0,
        .fallback_name = host_name,
    };
    bool ok = fetch_handle_doc(run, &doc);
    if (host_name)
        f->host->free(host_name);
    if (ok)
        fetch_remember_validators(run, key, resp);
    return ok;
}

/* fetch_urls() - see fetch.h. */
void fetch_urls(struct fetch_run *run, const char *const *urls, size_t n)
{
    struct fetch *f = run->f;
    if (n == 0)
        return;
    struct wp_http_request *reqs = f->host->calloc(n, sizeof(*reqs));
    struct wp_http_response *resps = f->host->calloc(n, sizeof(*resps));
    struct fetch_headers *hdrs = f->host->calloc(n, sizeof(*hdrs));
    char **keys = f->host->calloc(n, sizeof(*keys));
    if (!reqs || !resps || !hdrs || !keys) {
        for (size_t i = 0; i < n; i++)
            fetch_failure(run, urls[i], NULL, WP_E_NOMEM, "%s: out of memory", urls[i]);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = fetch_canonical_url(f->host, urls[i]);
        fetch_prepare(run, urls[i], keys[i], &reqs[i], &hdrs[i]);
    }
    enum wp_status st =
        f->host->http_perform_many(run->ctx, reqs, resps, n, f->concurrency, f->per_host);
    if (st == WP_E_CANCELLED) {
        /* The run is stopping: nothing was lost, the URLs are simply not read this time. */
        wp_log_info(run->ctx, "run cancelled: %zu URL(s) not fetched", n);
    } else if (st != WP_OK) {
        for (size_t i = 0; i < n; i++)
            fetch_failure(run, urls[i], NULL, st, "%s: not fetched (%s)", urls[i],
                          f->host->status_name(st));
    } else {
        for (size_t i = 0; i < n; i++)
            fetch_handle_response(run, urls[i], keys[i], &resps[i]);
    }
    for (size_t i = 0; i < n; i++) {
        f->host->http_response_release(&resps[i]);
        fetch_headers_release(f->host, &hdrs[i]);
        if (keys[i])
            f->host->free(keys[i]);
    }
out:
    if (reqs)
        f->host->free(reqs);
    if (resps)
        f->host->free(resps);
    if (hdrs)
        f->host->free(hdrs);
    if (keys)
        f->host->free(keys);
}

/* fetch_url() - see fetch.h. */
void fetch_url(struct fetch_run *run, const char *url)
{
    struct fetch *f = run->f;
    char *key = fetch_canonical_url(f->host, url);
    struct wp_http_request req;
    struct fetch_headers h;
    struct wp_http_response resp;
    memset(&resp, 0, sizeof(resp));
    fetch_prepare(run, url, key, &req, &h);
    f->host->http_perform(run->ctx, &req, &resp);
    fetch_handle_response(run, url, key, &resp);
    f->host->http_response_release(&resp);
    fetch_headers_release(f->host, &h);
    if (key)
        f->host->free(key);
}

/* Put the page fetched for @item (@resp to @link) into its content and source. */
static void fetch_followed_page(struct fetch_run *run, json_t *items, size_t i, const char *link,
                                const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    json_t *item = json_array_get(items, i);
    struct fetch_text text;
    enum wp_status st = fetch_decode(f->host, resp->body ? resp->body : "",
                                     resp->body ? resp->body_len : 0, resp->content_type, &text);
    if (st != WP_OK) {
        fetch_failure(run, link, item, st, "%s: cannot decode the text (%s)", link,
                      f->host->status_name(st));
        json_array_set_new(items, i, json_null());
        return;
    }
    fetch_set_strn(item, WP_ITEM_CONTENT, text.data, text.len);
    json_t *source = json_object_get(item, WP_ITEM_SOURCE);
    const char *final = resp->effective_url ? resp->effective_url : link;
    fetch_set_str(source, "url", final);
    char media[96] = "text/html";
    if (resp->content_type)
        fetch_media_type(resp->content_type, media);
    fetch_set_str(source, "content_type", media);
    json_object_set_new(source, "http_status", json_integer(resp->status));
    fetch_source_set_text(source, &text);
    f->host->free(text.data);
}

/* fetch_follow_links() - see fetch.h. */
void fetch_follow_links(struct fetch_run *run, json_t *items)
{
    struct fetch *f = run->f;
    size_t n = json_array_size(items);
    if (n == 0)
        return;
    struct wp_http_request *reqs = f->host->calloc(n, sizeof(*reqs));
    struct wp_http_response *resps = f->host->calloc(n, sizeof(*resps));
    size_t *index = f->host->calloc(n, sizeof(*index));
    if (!reqs || !resps || !index)
        goto out;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(items, i);
        const char *link = json_string_value(json_object_get(item, FETCH_LINK));
        if (!link)
            continue; /* nothing to follow: the entry stands as it is */
        if (!fetch_is_http_url(link)) {
            const char *colon = NULL;
            int scheme_len = fetch_has_scheme(link, &colon) ? (int)(colon - link) : 0;
            fetch_failure(run, link, item, WP_E_INVALID,
                          "refusing to follow '%.*s:' link '%.80s' from feed entry: only http "
                          "and https",
                          scheme_len, link, link);
            json_array_set_new(items, i, json_null());
            continue;
        }
        reqs[count] = fetch_request(f, link, NULL);
        index[count++] = i;
    }
    if (count == 0)
        goto out;
    enum wp_status st =
        f->host->http_perform_many(run->ctx, reqs, resps, count, f->concurrency, f->per_host);
    for (size_t k = 0; k < count; k++) {
        json_t *item = json_array_get(items, index[k]);
        const char *link = reqs[k].url;
        if (st != WP_OK) {
            fetch_failure(run, link, item, st, "%s: %s after %u attempt(s)", link,
                          f->host->status_name(st), resps[k].attempts);
            json_array_set_new(items, index[k], json_null());
        } else if (fetch_reply_failed(run, link, item, &resps[k])) {
            json_array_set_new(items, index[k], json_null());
        } else {
            fetch_followed_page(run, items, index[k], link, &resps[k]);
        }
    }
    for (size_t k = 0; k < count; k++)
        f->host->http_response_release(&resps[k]);
out:
    if (reqs)
        f->host->free(reqs);
    if (resps)
        f->host->free(resps);
    if (index)
        f->host->free(index);
}
