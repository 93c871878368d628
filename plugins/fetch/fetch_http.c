/*
 * fetch_http.c - http(s) sources through the host's shared client, which owns retries,
 * backoff, Retry-After, redirect and protocol limits, the body limit and gzip. This file
 * adds the request headers (Accept, and the validators of the last fetch for a
 * conditional GET), the reading of replies (a 304 yields nothing; failures are reported
 * with the client's reason) and follow, which fetches the page each feed entry links to.
 *
 * Both batches, the configured URLs and the followed links, go through the streaming
 * client (http_perform_each): each reply is turned into items and emitted as soon as it
 * arrives, and freed right after, so one slow page holds back nothing else and memory
 * follows the concurrency and the queue downstream, not the number of URLs.
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
    char text[WP_ERROR_TEXT_MAX];
    enum wp_status code;
    if (resp->code != WP_OK) {
        code = resp->code;
        if (resp->error[0])
            snprintf(text, sizeof(text), "%s", resp->error);
        else
            snprintf(text, sizeof(text), "%s: %s after %u attempt(s)", url,
                     run->f->host->status_name(resp->code), resp->attempts);
    } else if (resp->status < 200 || resp->status > 299) {
        code = resp->status == 429 ? WP_E_QUOTA : WP_E_HTTP;
        snprintf(text, sizeof(text), "%s: http %ld after %u attempt(s)", url, resp->status,
                 resp->attempts);
    } else {
        return false;
    }
    /* Without @partial it is the source itself (a configured URL) that did not answer. */
    if (partial)
        fetch_failure(run, url, partial, code, "%s", text);
    else
        fetch_source_failure(run, url, code, "%s", text);
    return true;
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
    /* The validators wait until every item of the document is done. */
    struct fetch_group *group = fetch_group_open(run, key, resp);
    run->group = group;
    bool ok = fetch_handle_doc(run, &doc);
    run->group = NULL;
    fetch_group_close(run, group, ok && !run->stopped);
    if (host_name)
        f->host->free(host_name);
    return ok;
}

/* The configured URLs of one generate() call, for the streaming callback. */
struct fetch_batch {
    struct fetch_run *run;
    const char *const *urls;
    char **keys;
};

static bool fetch_url_reply(void *arg, size_t index, const struct wp_http_response *resp)
{
    struct fetch_batch *b = arg;
    /* The source answered, whatever its document turns out to be. */
    if (resp->code == WP_OK &&
        (resp->status == 304 || (resp->status >= 200 && resp->status <= 299)))
        b->run->answered++;
    fetch_handle_response(b->run, b->urls[index], b->keys[index], resp);
    return !b->run->stopped;
}

/* fetch_urls() - see fetch.h. */
void fetch_urls(struct fetch_run *run, const char *const *urls, size_t n)
{
    struct fetch *f = run->f;
    if (n == 0)
        return;
    run->sources += n;
    struct wp_http_request *reqs = f->host->calloc(n, sizeof(*reqs));
    struct fetch_headers *hdrs = f->host->calloc(n, sizeof(*hdrs));
    char **keys = f->host->calloc(n, sizeof(*keys));
    if (!reqs || !hdrs || !keys) {
        for (size_t i = 0; i < n; i++)
            fetch_failure(run, urls[i], NULL, WP_E_NOMEM, "%s: out of memory", urls[i]);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = fetch_canonical_url(f->host, urls[i]);
        fetch_prepare(run, urls[i], keys[i], &reqs[i], &hdrs[i]);
    }
    struct fetch_batch batch = {.run = run, .urls = urls, .keys = keys};
    /* Linked pages wait for the end of this batch: one streaming batch at a time. */
    run->defer_links = true;
    enum wp_status st = f->host->http_perform_each(run->ctx, reqs, n, f->concurrency, f->per_host,
                                                   fetch_url_reply, &batch);
    run->defer_links = false;
    if (st == WP_E_CANCELLED) {
        /* The run is stopping: nothing was lost, what was not read is read next run. */
        wp_log_info(run->ctx, "run stopping: not every URL was read");
    } else if (st != WP_OK) {
        /* Nothing recorded: the next run reads them all again. */
        wp_log_error(run->ctx, "%zu URL(s) not fetched (%s)", n, f->host->status_name(st));
    }
    for (size_t i = 0; i < n; i++) {
        fetch_headers_release(f->host, &hdrs[i]);
        if (keys[i])
            f->host->free(keys[i]);
    }
    fetch_follow_links(run);
out:
    if (reqs)
        f->host->free(reqs);
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

/* fetch_queue_link() - see fetch.h. */
bool fetch_queue_link(struct fetch_run *run, json_t *item, const char *url)
{
    const struct wp_host_api *host = run->f->host;
    if (run->n_links == run->cap_links) {
        size_t cap = run->cap_links ? run->cap_links * 2 : 16;
        struct fetch_link *grown = host->realloc(run->links, cap * sizeof(*grown));
        if (!grown) {
            json_decref(item);
            return false;
        }
        run->links = grown;
        run->cap_links = cap;
    }
    char *copy = host->strndup(url, strlen(url));
    if (!copy) {
        json_decref(item);
        return false;
    }
    run->links[run->n_links++] = (struct fetch_link){.item = item, .url = copy};
    return true;
}

/* Put the page fetched for @item (@resp to @link) into its content and source. */
static bool fetch_followed_page(struct fetch_run *run, json_t *item, const char *link,
                                const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    struct fetch_text text;
    enum wp_status st = fetch_decode(f->host, resp->body ? resp->body : "",
                                     resp->body ? resp->body_len : 0, resp->content_type, &text);
    if (st != WP_OK) {
        fetch_failure(run, link, item, st, "%s: cannot decode the text (%s)", link,
                      f->host->status_name(st));
        return false;
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
    return true;
}

/* One linked page arrived: the entry gets it and goes on at once. */
static bool fetch_link_reply(void *arg, size_t index, const struct wp_http_response *resp)
{
    struct fetch_run *run = arg;
    struct fetch_link *l = &run->links[index];
    json_t *item = l->item;
    l->item = NULL;
    if (fetch_reply_failed(run, l->url, item, resp) ||
        !fetch_followed_page(run, item, l->url, resp)) {
        fetch_unclaim(run, item, true); /* dead-lettered: done */
        json_decref(item);
    } else {
        fetch_emit_claimed(run, item);
    }
    return !run->stopped;
}

/* fetch_follow_links() - see fetch.h. */
void fetch_follow_links(struct fetch_run *run)
{
    struct fetch *f = run->f;
    size_t n = run->n_links;
    if (n == 0)
        return;
    struct wp_http_request *reqs = run->stopped ? NULL : f->host->calloc(n, sizeof(*reqs));
    enum wp_status st = run->stopped ? WP_E_CANCELLED : WP_E_NOMEM;
    if (reqs) {
        for (size_t k = 0; k < n; k++)
            reqs[k] = fetch_request(f, run->links[k].url, NULL);
        st = f->host->http_perform_each(run->ctx, reqs, n, f->concurrency, f->per_host,
                                        fetch_link_reply, run);
        f->host->free(reqs);
    }
    size_t unread = 0;
    for (size_t k = 0; k < n; k++) {
        struct fetch_link *l = &run->links[k];
        if (l->item) {
            /*
             * Not read: stopped, or no memory. In generate() that leaves its feed's
             * validators unstored, so the next run reads it; process() rejects its input.
             */
            unread++;
            if (run->input && st != WP_E_CANCELLED)
                fetch_failure(run, l->url, NULL, st, "%s: not fetched (%s)", l->url,
                              f->host->status_name(st));
            fetch_unclaim(run, l->item, false);
            json_decref(l->item);
        }
        f->host->free(l->url);
    }
    if (unread)
        wp_log_info(run->ctx, "%zu linked page(s) not read this time (%s)", unread,
                    f->host->status_name(st));
    f->host->free(run->links);
    run->links = NULL;
    run->n_links = run->cap_links = 0;
}
