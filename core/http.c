/*
 * http.c - the shared HTTP client: libcurl with one policy for every plugin.
 *
 * A request's life is a struct http_xfer: xfer_init() resolves the defaults once,
 * xfer_setup() configures an easy handle for one attempt, xfer_attempt_end()
 * classifies the outcome and decides whether and when to retry, xfer_finish() fills
 * the caller's response. The single-request path (a per-thread easy handle) and the
 * concurrent path (a per-thread multi handle, one loop for perform_many and
 * perform_each) share these four, so both follow the same policy.
 *
 * Bodies are decoded here with zlib rather than by libcurl: libcurl 7.88 accepts a gzip
 * stream that ends early as complete, and a cut-off feed must not pass for a whole one.
 */
#include "wp_internal.h"

#include "http.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include <wirepipe/buf.h>

#include <curl/curl.h>

#include "backoff.h"
#include "host_api.h"
#include "http_stats.h"

#define HTTP_DEFAULT_CONNECT_MS 10000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_BODY   ((size_t)10 << 20)
#define HTTP_DEFAULT_ATTEMPTS   4u
#define HTTP_DEFAULT_BASE_MS    500u
#define HTTP_DEFAULT_CAP_MS     30000u
#define HTTP_MAX_REDIRECTS      5L
#define HTTP_CANCEL_POLL_MS     100L
#define HTTP_HEADER_MAX         4096 /* longest header value we keep */

#define HTTP_MANY_CONCURRENCY 8u
#define HTTP_MANY_PER_HOST    4u

/* Circuit breaker: open after this many failed requests in a row, for the cooldown. */
#define BREAKER_THRESHOLD          5u
#define BREAKER_COOLDOWN_MS        30000L
#define BREAKER_MAX_RETRY_AFTER_MS 300000u

/* ---------------------------------------------------------------------------------------
 * Process-wide state
 * ------------------------------------------------------------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static enum wp_status http_init_status = WP_OK;
static pthread_key_t http_thread_key;
static bool http_thread_key_ok;

/*
 * What a thread keeps between requests. Connections live in the handles' caches (the easy
 * handle's for single requests, the multi handle's for batches), so keeping the handles
 * keeps connections to a host alive from one request or batch to the next.
 */
#define HTTP_POOL_MAX 16

struct http_thread {
    CURL *easy;                /* wp__http_perform() */
    CURLM *multi;              /* wp__http_perform_many() and _each() */
    CURL *pool[HTTP_POOL_MAX]; /* idle easy handles for the multi handle */
    size_t pooled;
};

static void thread_state_destroy(void *arg)
{
    struct http_thread *t = arg;
    for (size_t i = 0; i < t->pooled; i++)
        curl_easy_cleanup(t->pool[i]);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    if (t->easy)
        curl_easy_cleanup(t->easy);
    wp_free(t);
}

static void http_init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        http_init_status = WP_E_HTTP;
        return;
    }
    http_thread_key_ok = pthread_key_create(&http_thread_key, thread_state_destroy) == 0;
}

enum wp_status wp__http_global_init(void)
{
    pthread_once(&http_once, http_init_once);
    return http_init_status;
}

static void breakers_free(void);

void wp__http_global_cleanup(void)
{
    if (http_thread_key_ok) {
        struct http_thread *t = pthread_getspecific(http_thread_key);
        if (t) {
            pthread_setspecific(http_thread_key, NULL);
            thread_state_destroy(t);
        }
    }
    breakers_free();
    if (http_init_status == WP_OK)
        curl_global_cleanup();
}

/* The calling thread's handles, made on first use; NULL when out of memory. */
static struct http_thread *thread_state(void)
{
    if (!http_thread_key_ok)
        return NULL;
    struct http_thread *t = pthread_getspecific(http_thread_key);
    if (!t) {
        t = wp_calloc(1, sizeof(*t));
        if (t && pthread_setspecific(http_thread_key, t) != 0) {
            wp_free(t);
            t = NULL;
        }
    }
    return t;
}

static CURL *thread_handle(void)
{
    struct http_thread *t = thread_state();
    if (t && !t->easy)
        t->easy = curl_easy_init();
    return t ? t->easy : NULL;
}

static CURLM *thread_multi(void)
{
    struct http_thread *t = thread_state();
    if (t && !t->multi) {
        t->multi = curl_multi_init();
        /* a fixed cache size: libcurl's default shrinks with the handles attached */
        if (t->multi)
            curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, 32L);
    }
    return t ? t->multi : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool ctx_cancelled(struct wp_ctx *ctx)
{
    return ctx && ctx->host && ctx->host->cancelled && ctx->host->cancelled(ctx);
}

static bool ctx_debug(struct wp_ctx *ctx)
{
    return ctx && ctx->host && ctx->host->log &&
           (!ctx->host->log_enabled || ctx->host->log_enabled(ctx, WP_LOG_DEBUG));
}

/* ---------------------------------------------------------------------------------------
 * Circuit breaker, per scheme://host:port
 * ------------------------------------------------------------------------------------- */

/* An entry exists only while its host is failing, so the list stays short. */
struct breaker {
    struct breaker *next;
    unsigned failures;
    int64_t open_until; /* monotonic ms; 0 while closed */
    bool probing;       /* half-open: one request is testing the host */
    char host[];
};

static pthread_mutex_t breaker_lock = PTHREAD_MUTEX_INITIALIZER;
static struct breaker *breakers;

static void breakers_free(void)
{
    pthread_mutex_lock(&breaker_lock);
    while (breakers) {
        struct breaker *next = breakers->next;
        wp_free(breakers);
        breakers = next;
    }
    pthread_mutex_unlock(&breaker_lock);
}

static struct breaker **breaker_find(const char *host)
{
    struct breaker **p = &breakers;
    while (*p && strcmp((*p)->host, host) != 0)
        p = &(*p)->next;
    return p;
}

enum breaker_outcome { BREAKER_SUCCESS, BREAKER_FAILURE, BREAKER_NEUTRAL };

/*
 * breaker_admit() - may a request to @host go out now? When not, *@wait_ms says how long
 * the circuit stays open (-1 while a half-open probe is in flight). Sets *@probe when this
 * request is the half-open probe.
 */
static bool breaker_admit(const char *host, long *wait_ms, unsigned *failures, bool *probe)
{
    bool allowed = true;
    *probe = false;
    pthread_mutex_lock(&breaker_lock);
    struct breaker *b = *breaker_find(host);
    if (b && b->open_until != 0) {
        int64_t now = now_ms();
        *failures = b->failures;
        if (now < b->open_until) {
            allowed = false;
            *wait_ms = (long)(b->open_until - now);
        } else if (b->probing) {
            allowed = false;
            *wait_ms = -1;
        } else {
            b->probing = true;
            *probe = true;
        }
    }
    pthread_mutex_unlock(&breaker_lock);
    return allowed;
}

static void breaker_record(const char *host, enum breaker_outcome outcome, bool probe,
                           long cooldown_ms)
{
    pthread_mutex_lock(&breaker_lock);
    struct breaker **p = breaker_find(host);
    struct breaker *b = *p;
    if (outcome == BREAKER_SUCCESS) {
        if (b) {
            *p = b->next;
            wp_free(b);
        }
    } else if (outcome == BREAKER_NEUTRAL) {
        if (b && probe)
            b->probing = false;
    } else {
        if (!b) {
            size_t len = strlen(host);
            b = wp_calloc(1, sizeof(*b) + len + 1);
            if (b) {
                memcpy(b->host, host, len + 1);
                b->next = breakers;
                breakers = b;
            }
        }
        if (b) {
            b->failures++;
            if (probe)
                b->probing = false;
            if (probe || b->failures >= BREAKER_THRESHOLD)
                b->open_until = now_ms() + cooldown_ms;
        }
    }
    pthread_mutex_unlock(&breaker_lock);
}

/* ---------------------------------------------------------------------------------------
 * One request across its attempts
 * ------------------------------------------------------------------------------------- */

enum xfer_state { XFER_READY, XFER_RUNNING, XFER_WAITING, XFER_DONE };
enum decode_kind { DECODE_NONE, DECODE_GZIP, DECODE_DEFLATE };

struct http_xfer {
    struct wp_ctx *ctx;
    const struct wp_http_request *req;
    struct wp_http_response *resp;

    /* the request with defaults filled in */
    const char *method;
    long connect_ms;
    long timeout_ms;
    size_t max_body;
    unsigned max_attempts;
    unsigned base_ms;
    unsigned cap_ms;
    const char *user_agent;
    struct curl_slist *headers;
    char *log_url;  /* without credentials or query: safe for logs and messages */
    char *host_key; /* scheme://host:port */
    bool breaker_probe;

    /* scheduling (perform_many, perform_each) */
    enum xfer_state state;
    int64_t ready_at;
    CURL *handle;

    int64_t started;
    unsigned attempt;

    /* what the current attempt received */
    struct wp_buf body;
    char *content_type;
    char *etag;
    char *last_modified;
    char *retry_after;
    char *content_encoding;
    bool decode_decided;
    enum decode_kind decode;
    bool z_live;
    bool z_done;
    bool z_raw_tried;
    size_t z_fed; /* compressed bytes given to the decoder so far */
    z_stream z;
    enum wp_status abort_code; /* why a callback stopped the transfer */
    char errbuf[CURL_ERROR_SIZE];

    /* outcome of the latest attempt */
    enum wp_status code;
    long status;
    char message[WP_ERROR_TEXT_MAX];
    bool retryable_failure;
};

static void xfer_attempt_reset(struct http_xfer *x)
{
    wp_buf_release(&x->body);
    wp_free(x->content_type);
    wp_free(x->etag);
    wp_free(x->last_modified);
    wp_free(x->retry_after);
    wp_free(x->content_encoding);
    x->content_type = x->etag = x->last_modified = NULL;
    x->retry_after = x->content_encoding = NULL;
    if (x->z_live)
        inflateEnd(&x->z);
    x->z_live = x->z_done = x->z_raw_tried = false;
    x->z_fed = 0;
    x->decode_decided = false;
    x->decode = DECODE_NONE;
    x->abort_code = WP_OK;
    x->errbuf[0] = '\0';
    x->status = 0;
    x->message[0] = '\0';
    x->retryable_failure = false;
}

static void xfer_release(struct http_xfer *x)
{
    xfer_attempt_reset(x);
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    wp_free(x->log_url);
    wp_free(x->host_key);
    x->log_url = x->host_key = NULL;
}

/*
 * The URL as it may appear in logs and errors: no user:password, no query (API keys are
 * sometimes passed there), no fragment.
 */
static char *url_for_log(CURLU *u)
{
    CURLU *copy = curl_url_dup(u);
    if (!copy)
        return NULL;
    char *query = NULL;
    bool had_query = curl_url_get(copy, CURLUPART_QUERY, &query, 0) == CURLUE_OK;
    curl_free(query);
    curl_url_set(copy, CURLUPART_USER, NULL, 0);
    curl_url_set(copy, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(copy, CURLUPART_QUERY, NULL, 0);
    curl_url_set(copy, CURLUPART_FRAGMENT, NULL, 0);
    char *text = NULL;
    char *out = NULL;
    if (curl_url_get(copy, CURLUPART_URL, &text, 0) == CURLUE_OK)
        out = wp_asprintf("%s%s", text, had_query ? "?..." : "");
    curl_free(text);
    curl_url_cleanup(copy);
    return out;
}

static void xfer_set_message(struct http_xfer *x, enum wp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void xfer_set_message(struct http_xfer *x, enum wp_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->message, sizeof(x->message), fmt, ap);
    va_end(ap);
    x->code = code;
}

/* Parse the URL once: refuse what is not http(s), derive the log form and the host key. */
static enum wp_status xfer_parse_url(struct http_xfer *x)
{
    CURLU *u = curl_url();
    if (!u)
        return WP_E_NOMEM;
    enum wp_status st = WP_OK;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, x->req->url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        xfer_set_message(x, WP_E_INVALID, "invalid URL: %s", curl_url_strerror(uc));
        st = WP_E_INVALID;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        xfer_set_message(x, WP_E_INVALID, "URL scheme '%s' refused: only http and https",
                         scheme ? scheme : "");
        st = WP_E_INVALID;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        xfer_set_message(x, WP_E_INVALID, "invalid URL: no host");
        st = WP_E_INVALID;
        goto out;
    }
    x->host_key = wp_asprintf("%s://%s:%s", scheme, host, port);
    x->log_url = url_for_log(u);
    if (!x->host_key || !x->log_url) {
        xfer_set_message(x, WP_E_NOMEM, "out of memory");
        st = WP_E_NOMEM;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return st;
}

/*
 * xfer_init() - resolve the request's defaults. On failure the response is already filled
 * (code and error) and the transfer must only be finished.
 */
static enum wp_status xfer_init(struct http_xfer *x, struct wp_ctx *ctx,
                                const struct wp_http_request *req, struct wp_http_response *resp)
{
    memset(x, 0, sizeof(*x));
    wp_buf_init(&x->body, &wp__host_api);
    memset(resp, 0, sizeof(*resp));
    x->ctx = ctx;
    x->req = req;
    x->resp = resp;
    x->started = now_ms();
    x->code = WP_OK;
    if (!req || !req->url || !*req->url) {
        xfer_set_message(x, WP_E_INVALID, "http request without a URL");
        return WP_E_INVALID;
    }
    x->method = req->method ? req->method : req->body ? "POST" : "GET";
    x->connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS;
    x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    x->max_body = req->max_body > 0 ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    x->max_attempts = req->max_attempts > 0 ? req->max_attempts : HTTP_DEFAULT_ATTEMPTS;
    x->base_ms = req->retry_base_ms > 0 ? req->retry_base_ms : HTTP_DEFAULT_BASE_MS;
    x->cap_ms = req->retry_cap_ms > 0 ? req->retry_cap_ms : HTTP_DEFAULT_CAP_MS;
    x->user_agent = req->user_agent ? req->user_agent : "wirepipe/" WP_VERSION_STRING;

    enum wp_status st = xfer_parse_url(x);
    if (st != WP_OK)
        return st;
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *next = curl_slist_append(x->headers, *h);
        if (!next) {
            xfer_set_message(x, WP_E_NOMEM, "out of memory");
            return WP_E_NOMEM;
        }
        x->headers = next;
    }
    if (req->body) {
        /* no 100-continue round trip: APIs answer small JSON posts at once */
        struct curl_slist *next = curl_slist_append(x->headers, "Expect:");
        if (!next) {
            xfer_set_message(x, WP_E_NOMEM, "out of memory");
            return WP_E_NOMEM;
        }
        x->headers = next;
    }
    return WP_OK;
}

/* Admit the request through its host's circuit breaker, if it asked for one. */
static bool xfer_admit(struct http_xfer *x)
{
    if (!(x->req->flags & WP_HTTP_BREAKER))
        return true;
    long wait_ms = 0;
    unsigned failures = 0;
    if (breaker_admit(x->host_key, &wait_ms, &failures, &x->breaker_probe))
        return true;
    if (wait_ms >= 0) {
        xfer_set_message(x, WP_E_UNAVAILABLE,
                         "circuit open for '%s' after %u failed requests; next try in %ld ms",
                         x->host_key, failures, wait_ms);
        x->resp->retry_after_ms = wait_ms;
    } else {
        xfer_set_message(x, WP_E_UNAVAILABLE,
                         "circuit half-open for '%s': another request is probing it", x->host_key);
        x->resp->retry_after_ms = HTTP_CANCEL_POLL_MS * 10;
    }
    return false;
}

/* --- callbacks -------------------------------------------------------------------------- */

static bool body_append(struct http_xfer *x, const char *data, size_t len)
{
    if (len > x->max_body - x->body.len) {
        x->abort_code = WP_E_LIMIT;
        return false;
    }
    if (!wp_buf_add(&x->body, data, len)) {
        x->abort_code = WP_E_NOMEM;
        return false;
    }
    return true;
}

static bool decode_start(struct http_xfer *x, int window_bits)
{
    memset(&x->z, 0, sizeof(x->z));
    if (inflateInit2(&x->z, window_bits) != Z_OK) {
        x->abort_code = WP_E_NOMEM;
        return false;
    }
    x->z_live = true;
    return true;
}

static void decode_choose(struct http_xfer *x)
{
    x->decode_decided = true;
    x->decode = DECODE_NONE;
    const char *enc = x->content_encoding;
    if (!enc || !*enc || strcasecmp(enc, "identity") == 0)
        return;
    if (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0) {
        if (decode_start(x, 15 + 16))
            x->decode = DECODE_GZIP;
    } else if (strcasecmp(enc, "deflate") == 0) {
        if (decode_start(x, 15))
            x->decode = DECODE_DEFLATE;
    } else {
        x->abort_code = WP_E_HTTP;
        xfer_set_message(x, WP_E_HTTP, "unsupported Content-Encoding '%.40s' from '%s'", enc,
                         x->log_url);
    }
}

/* Inflate @len bytes into the body; false stops the transfer (abort_code says why). */
static bool decode_feed(struct http_xfer *x, const char *data, size_t len)
{
    unsigned char out[16384];
    bool first_call = x->z_fed == 0;
    x->z_fed += len;
    x->z.next_in = (Bytef *)(uintptr_t)data;
    x->z.avail_in = (uInt)len;
    bool output_pending = false;
    for (;;) {
        if (x->z_done) {
            /* another gzip member may follow; anything else after the end is ignored */
            if (x->decode != DECODE_GZIP || x->z.avail_in < 2 || x->z.next_in[0] != 0x1f ||
                x->z.next_in[1] != 0x8b)
                return true;
            inflateReset(&x->z);
            x->z_done = false;
        }
        /* a full output buffer may leave output inside zlib after the input is used up */
        if (x->z.avail_in == 0 && !output_pending)
            return true;
        x->z.next_out = out;
        x->z.avail_out = sizeof(out);
        int zrc = inflate(&x->z, Z_NO_FLUSH);
        size_t produced = sizeof(out) - x->z.avail_out;
        output_pending = x->z.avail_out == 0;
        if (zrc == Z_DATA_ERROR && x->decode == DECODE_DEFLATE && !x->z_raw_tried && first_call &&
            x->z.total_out == 0) {
            /* some servers send raw deflate without the zlib wrapper */
            inflateEnd(&x->z);
            x->z_live = false;
            x->z_raw_tried = true;
            if (!decode_start(x, -15))
                return false;
            x->z.next_in = (Bytef *)(uintptr_t)data;
            x->z.avail_in = (uInt)len;
            output_pending = false;
            continue;
        }
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
            x->abort_code = WP_E_HTTP;
            xfer_set_message(x, WP_E_HTTP, "cannot decode %s body from '%s': %s",
                             x->decode == DECODE_GZIP ? "gzip" : "deflate", x->log_url,
                             x->z.msg ? x->z.msg : "corrupt data");
            return false;
        }
        if (produced && !body_append(x, (const char *)out, produced))
            return false;
        if (zrc == Z_STREAM_END)
            x->z_done = true;
        else if (zrc == Z_BUF_ERROR)
            return true; /* no progress possible until more input arrives */
    }
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_xfer *x = userdata;
    size_t len = size * nmemb;
    if (!x->decode_decided)
        decode_choose(x);
    if (x->abort_code != WP_OK)
        return 0;
    bool ok = x->decode == DECODE_NONE ? body_append(x, data, len) : decode_feed(x, data, len);
    return ok ? len : 0;
}

static bool header_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    struct http_xfer *x = userdata;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100-continue): forget the previous headers */
        wp_free(x->content_type);
        wp_free(x->etag);
        wp_free(x->last_modified);
        wp_free(x->retry_after);
        wp_free(x->content_encoding);
        x->content_type = x->etag = x->last_modified = x->retry_after = NULL;
        x->content_encoding = NULL;
        return len;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return len;
    size_t name_len = (size_t)(colon - line);
    char **slot = NULL;
    if (header_is(line, name_len, "Content-Type"))
        slot = &x->content_type;
    else if (header_is(line, name_len, "ETag"))
        slot = &x->etag;
    else if (header_is(line, name_len, "Last-Modified"))
        slot = &x->last_modified;
    else if (header_is(line, name_len, "Retry-After"))
        slot = &x->retry_after;
    else if (header_is(line, name_len, "Content-Encoding"))
        slot = &x->content_encoding;
    if (!slot)
        return len;
    const char *value = colon + 1;
    const char *end = line + len;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - value);
    if (vlen > HTTP_HEADER_MAX)
        vlen = HTTP_HEADER_MAX;
    char *copy = wp_strndup(value, vlen);
    if (!copy) {
        x->abort_code = WP_E_NOMEM;
        return 0;
    }
    wp_free(*slot);
    *slot = copy;
    return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct http_xfer *x = userdata;
    if (ctx_cancelled(x->ctx)) {
        x->abort_code = WP_E_CANCELLED;
        return 1;
    }
    return 0;
}

/* --- attempts --------------------------------------------------------------------------- */

/* xfer_setup() - configure @h for the next attempt. The one place options are set. */
static enum wp_status xfer_setup(struct http_xfer *x, CURL *h)
{
    const struct wp_http_request *req = x->req;
    xfer_attempt_reset(x);
    x->attempt++;
    curl_easy_reset(h);

    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, req->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK && !(req->flags & WP_HTTP_NO_REDIRECT)) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        rc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
    }
    if (rc == CURLE_OK) {
        /* advertise gzip and deflate, and decode them ourselves (see the top of the file) */
        rc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    }
    if (rc == CURLE_OK) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, x->connect_ms);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, x->timeout_ms);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
        rc = curl_easy_setopt(h, CURLOPT_USERAGENT, x->user_agent);
    }
    if (rc == CURLE_OK && x->headers)
        rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    if (rc == CURLE_OK) {
        if (strcmp(x->method, "HEAD") == 0) {
            rc = curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (req->body || strcmp(x->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(req->body ? req->body_len : 0));
            rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            if (rc == CURLE_OK && strcmp(x->method, "POST") != 0)
                rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
        } else if (strcmp(x->method, "GET") != 0) {
            rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
        }
    }
    if (rc == CURLE_OK) {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
        rc = curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)x);
    }
    if (rc != CURLE_OK) {
        xfer_set_message(x, rc == CURLE_OUT_OF_MEMORY ? WP_E_NOMEM : WP_E_INVALID,
                         "cannot set up request to '%s': %s", x->log_url, curl_easy_strerror(rc));
        return x->code;
    }
    x->code = WP_OK;
    return WP_OK;
}

static bool status_retryable(long status)
{
    switch (status) {
        case 408:
        case 429:
        case 500:
        case 502:
        case 503:
        case 504:
        case 529:
            return true;
        default:
            return false;
    }
}

/* Failures that say nothing about the request itself: the next attempt may work. */
static bool curl_retryable(CURLcode rc)
{
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

static bool curl_is_tls(CURLcode rc)
{
    switch (rc) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED:
            return true;
        default:
            return false;
    }
}

/* Turn a transfer's CURLcode into the attempt's code and message. */
static void xfer_classify_curl(struct http_xfer *x, CURLcode rc)
{
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    if (x->abort_code == WP_E_LIMIT || rc == CURLE_FILESIZE_EXCEEDED) {
        xfer_set_message(x, WP_E_LIMIT, "body larger than %zu bytes from '%s'", x->max_body,
                         x->log_url);
    } else if (x->abort_code == WP_E_CANCELLED || rc == CURLE_ABORTED_BY_CALLBACK) {
        xfer_set_message(x, WP_E_CANCELLED, "cancelled while fetching '%s'", x->log_url);
    } else if (x->abort_code == WP_E_NOMEM || rc == CURLE_OUT_OF_MEMORY) {
        xfer_set_message(x, WP_E_NOMEM, "out of memory while fetching '%s'", x->log_url);
    } else if (x->abort_code != WP_OK && x->message[0]) {
        x->code = x->abort_code; /* the decoder said what went wrong */
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        xfer_set_message(x, WP_E_TIMEOUT, "timed out fetching '%s': %s", x->log_url, why);
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        xfer_set_message(x, WP_E_HTTP, "more than %ld redirects from '%s'", HTTP_MAX_REDIRECTS,
                         x->log_url);
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        xfer_set_message(x, WP_E_HTTP, "redirect to a refused protocol from '%s': %s", x->log_url,
                         why);
    } else if (curl_is_tls(rc)) {
        xfer_set_message(x, WP_E_HTTP, "TLS error with '%s': %s", x->log_url, why);
    } else {
        xfer_set_message(x, WP_E_HTTP, "cannot fetch '%s': %s", x->log_url, why);
    }
    x->retryable_failure = x->abort_code == WP_OK && curl_retryable(rc);
}

/*
 * xfer_attempt_end() - classify the attempt that ran on @h with result @rc.
 * Returns the wait in ms before the next attempt, or -1 when the request is finished.
 */
static long xfer_attempt_end(struct http_xfer *x, CURL *h, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    x->status = status;
    if (rc == CURLE_OK && x->z_live && !x->z_done) {
        xfer_set_message(x, WP_E_HTTP, "%s body from '%s' is truncated",
                         x->decode == DECODE_GZIP ? "gzip" : "deflate", x->log_url);
        x->abort_code = WP_E_HTTP;
        rc = CURLE_WRITE_ERROR;
    }
    if (rc == CURLE_OK) {
        x->code = WP_OK;
        x->retryable_failure = status_retryable(status);
    } else {
        xfer_classify_curl(x, rc);
    }
    if (ctx_debug(x->ctx)) {
        if (rc == CURLE_OK)
            x->ctx->host->log(x->ctx, WP_LOG_DEBUG, "http %s '%s' -> %ld (attempt %u/%u)",
                              x->method, x->log_url, status, x->attempt, x->max_attempts);
        else
            x->ctx->host->log(x->ctx, WP_LOG_DEBUG, "http %s '%s' failed: %s (attempt %u/%u)",
                              x->method, x->log_url, x->message, x->attempt, x->max_attempts);
    }
    if (!x->retryable_failure || x->attempt >= x->max_attempts)
        return -1;

    long delay = (long)wp__backoff_ms(x->attempt, x->base_ms, x->cap_ms);
    long hinted;
    if (rc == CURLE_OK && x->retry_after &&
        wp__retry_after_parse(x->retry_after, (long long)time(NULL), x->cap_ms, &hinted))
        delay = hinted;
    if (ctx_debug(x->ctx))
        x->ctx->host->log(x->ctx, WP_LOG_DEBUG, "http %s '%s': retry in %ld ms", x->method,
                          x->log_url, delay);
    return delay;
}

static void xfer_cancel(struct http_xfer *x)
{
    xfer_set_message(x, WP_E_CANCELLED, "cancelled while fetching '%s'",
                     x->log_url ? x->log_url : "");
    x->retryable_failure = false;
}

/* xfer_finish() - hand the outcome to the caller's response and release the rest. */
static void xfer_finish(struct http_xfer *x, CURL *h)
{
    struct wp_http_response *resp = x->resp;
    /* Requests that went out (not those refused before: bad URL, open circuit). */
    if (x->attempt > 0 && x->host_key)
        wp__http_stats_count(x->host_key, x->code, x->status);
    resp->code = x->code;
    resp->status = x->status;
    resp->attempts = x->attempt;
    resp->elapsed_ms = (double)(now_ms() - x->started);

    if (x->retry_after) {
        long ms = 0;
        if (wp__retry_after_parse(x->retry_after, (long long)time(NULL), x->cap_ms, &ms))
            resp->retry_after_ms = ms;
    }
    if (x->code == WP_OK) {
        size_t body_len = 0;
        char *body = wp_buf_detach(&x->body, &body_len);
        char *url = NULL;
        if (h)
            curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
        resp->effective_url = wp_strdup(url ? url : x->req->url);
        if (!body || !resp->effective_url) {
            wp_free(body);
            wp_free(resp->effective_url);
            resp->effective_url = NULL;
            resp->code = WP_E_NOMEM;
            snprintf(resp->error, sizeof(resp->error), "out of memory while fetching '%s'",
                     x->log_url);
        } else {
            resp->body = body;
            resp->body_len = body_len;
            resp->content_type = x->content_type;
            resp->etag = x->etag;
            resp->last_modified = x->last_modified;
            x->content_type = x->etag = x->last_modified = NULL;
            if ((x->status < 200 || x->status > 299) && x->status != 304)
                snprintf(resp->error, sizeof(resp->error), "http %ld from '%s' after %u %s",
                         x->status, x->log_url, x->attempt,
                         x->attempt == 1 ? "attempt" : "attempts");
        }
    } else if (x->attempt > 1) {
        /* keep the count visible when the message is long */
        snprintf(resp->error, sizeof(resp->error), "%.*s (after %u attempts)",
                 (int)sizeof(resp->error) - 32, x->message, x->attempt);
    } else {
        snprintf(resp->error, sizeof(resp->error), "%s", x->message);
    }

    if ((x->req && (x->req->flags & WP_HTTP_BREAKER)) && x->host_key &&
        x->code != WP_E_UNAVAILABLE) {
        enum breaker_outcome outcome = BREAKER_NEUTRAL;
        if (x->code == WP_OK && !status_retryable(x->status))
            outcome = BREAKER_SUCCESS;
        else if ((x->code == WP_OK) || x->code == WP_E_HTTP || x->code == WP_E_TIMEOUT)
            outcome = BREAKER_FAILURE;
        long cooldown = BREAKER_COOLDOWN_MS;
        long hinted;
        if (x->retry_after &&
            wp__retry_after_parse(x->retry_after, (long long)time(NULL), BREAKER_MAX_RETRY_AFTER_MS,
                                  &hinted) &&
            hinted > 0)
            cooldown = hinted;
        breaker_record(x->host_key, outcome, x->breaker_probe, cooldown);
    }
    xfer_release(x);
}

/* Sleep @ms, waking every 100 ms to look at cancellation. False when cancelled. */
static bool wait_cancellable(struct wp_ctx *ctx, long ms)
{
    int64_t until = now_ms() + ms;
    for (;;) {
        if (ctx_cancelled(ctx))
            return false;
        int64_t left = until - now_ms();
        if (left <= 0)
            return true;
        if (left > HTTP_CANCEL_POLL_MS)
            left = HTTP_CANCEL_POLL_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

enum wp_status wp__http_perform(struct wp_ctx *ctx, const struct wp_http_request *req,
                                struct wp_http_response *resp)
{
    struct http_xfer x;
    if (!resp)
        return WP_E_INVALID;
    if (wp__http_global_init() != WP_OK) {
        memset(resp, 0, sizeof(*resp));
        resp->code = WP_E_HTTP;
        snprintf(resp->error, sizeof(resp->error), "HTTP client failed to initialise");
        return resp->code;
    }
    if (xfer_init(&x, ctx, req, resp) != WP_OK || !xfer_admit(&x)) {
        xfer_finish(&x, NULL);
        return resp->code;
    }
    CURL *h = thread_handle();
    if (!h) {
        xfer_set_message(&x, WP_E_NOMEM, "cannot create an HTTP handle");
        xfer_finish(&x, NULL);
        return resp->code;
    }
    for (;;) {
        if (ctx_cancelled(ctx)) {
            xfer_cancel(&x);
            break;
        }
        if (xfer_setup(&x, h) != WP_OK)
            break;
        CURLcode rc = curl_easy_perform(h);
        long delay = xfer_attempt_end(&x, h, rc);
        if (delay < 0)
            break;
        if (!wait_cancellable(ctx, delay)) {
            xfer_cancel(&x);
            break;
        }
    }
    xfer_finish(&x, h);
    return resp->code;
}

/* ---------------------------------------------------------------------------------------
 * Many requests at once, each reply handed over as it completes
 *
 * One loop serves http_perform_many() and http_perform_each(). Requests are set up in
 * order and only as far ahead as a window of slots: the transfers running, those waiting
 * for a retry, and those the per-host limit holds back. So a batch costs memory in
 * proportion to its concurrency, not to its length, and every reply is handed to the
 * caller (and freed) as soon as it is complete; perform_many() is the caller that stores
 * each one in its array.
 *
 * The caller's callback runs on this thread, between two turns of the loop, so while it
 * works (an emit() waiting for room downstream) no transfer moves and libcurl's clocks
 * keep running. A transport failure (a timeout, a reset) of an attempt during which the
 * callback held the loop for a good part of its time is therefore not counted against the
 * request: it is retried at once, up to HTTP_EXCUSED_MAX times.
 * ------------------------------------------------------------------------------------- */

/* Requests set up ahead of the running transfers: this many per unit of concurrency. */
#define HTTP_EACH_WINDOW_FACTOR 4u
#define HTTP_EACH_WINDOW_MIN    16u
/* Attempts a request may get back because the caller held the loop (see above). */
#define HTTP_EXCUSED_MAX 3u

/* A host with requests in the window; the list holds only those, so it stays short. */
struct each_host {
    struct each_host *next;
    unsigned running;
    unsigned users; /* requests in the window for this host */
    char key[];
};

/* One request in the window. */
struct each_slot {
    struct each_slot *prev, *next; /* the window in request order; @next links free slots */
    size_t index;                  /* in the caller's array */
    struct each_host *host;
    struct wp_http_request req; /* the caller's request at the host's size */
    struct http_xfer x;
    struct wp_http_response resp;
    int64_t attempt_started; /* now_ms() when the current attempt was started */
    int64_t held_mark;       /* each.held_ms then */
    unsigned excused;
};

/*
 * What the loop does with a complete reply: true to go on, false to stop the batch. The
 * callee may take what @resp owns (zeroing it); the loop releases what is left.
 */
typedef bool each_deliver_fn(void *arg, size_t index, struct wp_http_response *resp);

struct each {
    struct wp_ctx *ctx;
    const char *reqs; /* the caller's array ... */
    size_t req_size;  /* ... and its stride */
    size_t count;
    size_t next; /* the first request not set up yet */
    unsigned concurrency;
    unsigned per_host;
    each_deliver_fn *deliver;
    void *arg;
    bool hand_cancelled; /* perform_many: every request gets a response, cancelled or not */

    struct http_thread *thread; /* owns the pool of easy handles */
    CURLM *multi;               /* the thread's, lent to this loop */
    struct each_slot *slots;
    struct each_slot *free;
    struct each_slot *head, *tail;
    size_t running;
    struct each_host *hosts;
    int64_t held_ms;       /* time spent in the caller's callback so far */
    enum wp_status result; /* WP_OK while going on; WP_E_CANCELLED once stopped */
};

static CURL *each_take_handle(struct each *e)
{
    if (e->thread->pooled > 0)
        return e->thread->pool[--e->thread->pooled];
    return curl_easy_init();
}

static void each_put_handle(struct each *e, CURL *h)
{
    if (e->thread->pooled < HTTP_POOL_MAX)
        e->thread->pool[e->thread->pooled++] = h;
    else
        curl_easy_cleanup(h);
}

static struct each_host *each_host_get(struct each *e, const char *key)
{
    for (struct each_host *h = e->hosts; h; h = h->next) {
        if (strcmp(h->key, key) == 0) {
            h->users++;
            return h;
        }
    }
    size_t len = strlen(key);
    struct each_host *h = wp_calloc(1, sizeof(*h) + len + 1);
    if (!h)
        return NULL;
    memcpy(h->key, key, len + 1);
    h->users = 1;
    h->next = e->hosts;
    e->hosts = h;
    return h;
}

static void each_host_put(struct each *e, struct each_host *host)
{
    if (!host || --host->users > 0)
        return;
    struct each_host **p = &e->hosts;
    while (*p && *p != host)
        p = &(*p)->next;
    if (*p)
        *p = host->next;
    wp_free(host);
}

/*
 * The request is finished: fill its response, take it out of the window and hand the
 * response over, unless the batch has stopped. A cancelled reply is never handed to
 * perform_each()'s caller: it stops the batch instead.
 */
static void each_done(struct each *e, struct each_slot *s, CURL *h)
{
    xfer_finish(&s->x, h);
    s->x.state = XFER_DONE;
    if (s->prev)
        s->prev->next = s->next;
    else
        e->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        e->tail = s->prev;
    each_host_put(e, s->host);
    s->host = NULL;

    if (e->hand_cancelled || (e->result == WP_OK && s->resp.code != WP_E_CANCELLED)) {
        int64_t t0 = now_ms();
        bool go_on = e->deliver(e->arg, s->index, &s->resp);
        e->held_ms += now_ms() - t0;
        if (!go_on)
            e->result = WP_E_CANCELLED;
    } else if (s->resp.code == WP_E_CANCELLED) {
        e->result = WP_E_CANCELLED;
    }
    wp__http_response_release(&s->resp);
    s->prev = NULL;
    s->next = e->free;
    e->free = s;
}

/* Take a free slot for the next request, its request copied in at the caller's size. */
static struct each_slot *each_take_slot(struct each *e)
{
    struct each_slot *s = e->free;
    e->free = s->next;
    s->index = e->next++;
    memset(&s->req, 0, sizeof(s->req));
    memcpy(&s->req, e->reqs + s->index * e->req_size,
           e->req_size < sizeof(s->req) ? e->req_size : sizeof(s->req));
    s->host = NULL;
    s->excused = 0;
    s->prev = s->next = NULL;
    return s;
}

/* Set up the next request in a free slot. Returns it, or NULL when it finished at once. */
static struct each_slot *each_setup_next(struct each *e)
{
    struct each_slot *s = each_take_slot(e);
    s->prev = e->tail;
    if (e->tail)
        e->tail->next = s;
    else
        e->head = s;
    e->tail = s;
    if (xfer_init(&s->x, e->ctx, &s->req, &s->resp) != WP_OK || !xfer_admit(&s->x)) {
        each_done(e, s, NULL);
        return NULL;
    }
    s->host = each_host_get(e, s->x.host_key);
    if (!s->host) {
        xfer_set_message(&s->x, WP_E_NOMEM, "out of memory");
        each_done(e, s, NULL);
        return NULL;
    }
    s->x.state = XFER_READY;
    s->x.ready_at = 0;
    return s;
}

static bool each_may_start(const struct each *e, const struct each_slot *s, int64_t now)
{
    return (s->x.state == XFER_READY || s->x.state == XFER_WAITING) && s->x.ready_at <= now &&
           e->running < e->concurrency && s->host->running < e->per_host;
}

/* Start the next attempt of @s. */
static void each_launch(struct each *e, struct each_slot *s, int64_t now)
{
    CURL *h = each_take_handle(e);
    if (!h) {
        xfer_set_message(&s->x, WP_E_NOMEM, "cannot create an HTTP handle");
        each_done(e, s, NULL);
        return;
    }
    if (xfer_setup(&s->x, h) != WP_OK) {
        each_put_handle(e, h);
        each_done(e, s, NULL);
        return;
    }
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)s);
    if (curl_multi_add_handle(e->multi, h) != CURLM_OK) {
        xfer_set_message(&s->x, WP_E_NOMEM, "cannot start request to '%s'", s->x.log_url);
        each_put_handle(e, h);
        each_done(e, s, NULL);
        return;
    }
    s->x.handle = h;
    s->x.state = XFER_RUNNING;
    s->attempt_started = now;
    s->held_mark = e->held_ms;
    e->running++;
    s->host->running++;
}

/* Start what may start, in request order, setting up more requests while there is room. */
static void each_start(struct each *e)
{
    int64_t now = now_ms();
    struct each_slot *next;
    for (struct each_slot *s = e->head; s && e->running < e->concurrency && e->result == WP_OK;
         s = next) {
        next = s->next;
        if (each_may_start(e, s, now))
            each_launch(e, s, now);
    }
    while (e->running < e->concurrency && e->next < e->count && e->free && e->result == WP_OK) {
        struct each_slot *s = each_setup_next(e);
        if (s && each_may_start(e, s, now))
            each_launch(e, s, now);
    }
}

/* An attempt that failed in transport while the caller held the loop does not count. */
static long each_excuse(struct each *e, struct each_slot *s, CURLcode rc, long delay)
{
    if (rc == CURLE_OK || !s->x.retryable_failure || s->excused >= HTTP_EXCUSED_MAX)
        return delay;
    int64_t held = e->held_ms - s->held_mark;
    int64_t spent = now_ms() - s->attempt_started;
    if (held <= 0 || held * 4 < spent)
        return delay;
    s->excused++;
    s->x.max_attempts++;
    if (ctx_debug(e->ctx))
        e->ctx->host->log(e->ctx, WP_LOG_DEBUG,
                          "http %s '%s': attempt not counted, the caller held the loop for "
                          "%lld of its %lld ms",
                          s->x.method, s->x.log_url, (long long)held, (long long)spent);
    return 0;
}

/* Collect finished attempts: each request is done or waits for its next attempt. */
static void each_collect(struct each *e)
{
    CURLMsg *msg;
    int left;
    while (e->result == WP_OK && (msg = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
        struct each_slot *s = (struct each_slot *)(void *)priv;
        curl_multi_remove_handle(e->multi, h);
        e->running--;
        s->host->running--;
        s->x.handle = NULL;
        long delay = each_excuse(e, s, rc, xfer_attempt_end(&s->x, h, rc));
        if (delay < 0) {
            each_done(e, s, h);
        } else {
            s->x.state = XFER_WAITING;
            s->x.ready_at = now_ms() + delay;
        }
        each_put_handle(e, h);
    }
}

/* How long to sleep: until the next scheduled retry, curl's own timer, or 100 ms. */
static long each_wait_ms(struct each *e)
{
    if (e->running < e->concurrency && e->next < e->count && e->free)
        return 0;
    long wait = HTTP_CANCEL_POLL_MS;
    int64_t now = now_ms();
    for (struct each_slot *s = e->head; s; s = s->next) {
        if (s->x.state != XFER_READY && s->x.state != XFER_WAITING)
            continue;
        if (s->x.ready_at > now) {
            if (s->x.ready_at - now < wait)
                wait = (long)(s->x.ready_at - now);
        } else if (e->running < e->concurrency && s->host->running < e->per_host) {
            return 0;
        }
    }
    long curl_wait = -1;
    curl_multi_timeout(e->multi, &curl_wait);
    if (curl_wait >= 0 && curl_wait < wait)
        wait = curl_wait;
    return wait;
}

/*
 * The batch stopped: cancel what is in the window. perform_many() gets a cancelled
 * response for those and for every request not set up yet; perform_each() gets nothing.
 */
static void each_cancel_rest(struct each *e)
{
    while (e->head) {
        struct each_slot *s = e->head;
        CURL *h = s->x.handle;
        if (h) {
            curl_multi_remove_handle(e->multi, h);
            s->x.handle = NULL;
            e->running--;
            s->host->running--;
        }
        xfer_cancel(&s->x);
        each_done(e, s, NULL);
        if (h)
            each_put_handle(e, h);
    }
    while (e->hand_cancelled && e->next < e->count) {
        struct each_slot *s = each_take_slot(e);
        e->head = e->tail = s;
        if (xfer_init(&s->x, e->ctx, &s->req, &s->resp) == WP_OK)
            xfer_cancel(&s->x);
        each_done(e, s, NULL);
    }
}

/* Fill @e and borrow the thread's multi handle. False when out of memory. */
static bool each_open(struct each *e)
{
    size_t window = (size_t)e->concurrency * HTTP_EACH_WINDOW_FACTOR;
    if (window < HTTP_EACH_WINDOW_MIN)
        window = HTTP_EACH_WINDOW_MIN;
    if (window > e->count)
        window = e->count;
    e->slots = wp_calloc(window, sizeof(*e->slots));
    e->thread = thread_state();
    if (!e->slots || !e->thread)
        return false;
    e->multi = thread_multi();
    if (!e->multi)
        return false;
    /* Lent to this loop: a callback that starts a batch of its own gets another one. */
    e->thread->multi = NULL;
    for (size_t i = window; i-- > 0;) {
        e->slots[i].next = e->free;
        e->free = &e->slots[i];
    }
    return true;
}

/* Give the multi handle back to the thread, for the connections it keeps. */
static void each_close(struct each *e)
{
    if (e->multi) {
        if (e->thread->multi)
            curl_multi_cleanup(e->thread->multi);
        e->thread->multi = e->multi;
    }
    while (e->hosts) {
        struct each_host *next = e->hosts->next;
        wp_free(e->hosts);
        e->hosts = next;
    }
    wp_free(e->slots);
}

/*
 * The one loop. Returns WP_OK when every request was handed over, WP_E_CANCELLED when
 * stopped, WP_E_NOMEM when the loop could not be set up (nothing was handed over), or
 * WP_E_HTTP when the client failed to initialise.
 */
static enum wp_status each_run(struct each *e)
{
    enum wp_status init = wp__http_global_init();
    if (init != WP_OK)
        return WP_E_HTTP;
    if (!each_open(e)) {
        each_close(e);
        return WP_E_NOMEM;
    }
    while (e->result == WP_OK && (e->next < e->count || e->head)) {
        if (ctx_cancelled(e->ctx)) {
            e->result = WP_E_CANCELLED;
            break;
        }
        each_start(e);
        int still = 0;
        curl_multi_perform(e->multi, &still);
        each_collect(e);
        if (e->result != WP_OK || (e->next >= e->count && !e->head))
            break;
        long wait = each_wait_ms(e);
        if (wait > 0)
            curl_multi_poll(e->multi, NULL, 0, (int)wait, NULL);
    }
    if (e->result != WP_OK)
        each_cancel_rest(e);
    each_close(e);
    return e->result;
}

static void each_init(struct each *e, struct wp_ctx *ctx, const void *reqs, size_t req_size,
                      size_t count, unsigned concurrency, unsigned per_host)
{
    memset(e, 0, sizeof(*e));
    e->ctx = ctx;
    e->reqs = reqs;
    e->req_size = req_size;
    e->count = count;
    e->concurrency = concurrency ? concurrency : HTTP_MANY_CONCURRENCY;
    e->per_host = per_host ? per_host : HTTP_MANY_PER_HOST;
    if (e->concurrency > count)
        e->concurrency = (unsigned)count;
    e->result = WP_OK;
}

/* perform_many(): each response goes to its place in the caller's array. */
static bool many_store(void *arg, size_t index, struct wp_http_response *resp)
{
    struct wp_http_response *resps = arg;
    resps[index] = *resp;
    memset(resp, 0, sizeof(*resp));
    return true;
}

enum wp_status wp__http_perform_many(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                     struct wp_http_response *resps, size_t count,
                                     unsigned concurrency, unsigned per_host)
{
    if (count == 0)
        return WP_OK;
    if (!reqs || !resps)
        return WP_E_INVALID;
    struct each e;
    each_init(&e, ctx, reqs, sizeof(*reqs), count, concurrency, per_host);
    e.deliver = many_store;
    e.arg = resps;
    e.hand_cancelled = true;
    enum wp_status st = each_run(&e);
    if (st == WP_E_NOMEM || st == WP_E_HTTP) {
        for (size_t i = 0; i < count; i++) {
            memset(&resps[i], 0, sizeof(resps[i]));
            resps[i].code = st;
            snprintf(resps[i].error, sizeof(resps[i].error), "%s",
                     st == WP_E_NOMEM ? "out of memory" : "HTTP client failed to initialise");
        }
        return st == WP_E_NOMEM ? WP_E_NOMEM : WP_OK;
    }
    return st;
}

/* perform_each(): the caller's callback sees each response; the loop releases it. */
struct each_user {
    wp__http_reply_fn *on_reply;
    void *arg;
};

static bool each_hand_to_user(void *arg, size_t index, struct wp_http_response *resp)
{
    struct each_user *u = arg;
    return u->on_reply(u->arg, index, resp);
}

enum wp_status wp__http_perform_each(struct wp_ctx *ctx, const void *reqs, size_t req_size,
                                     size_t count, unsigned concurrency, unsigned per_host,
                                     wp__http_reply_fn *on_reply, void *arg)
{
    if (count == 0)
        return WP_OK;
    if (!reqs || !on_reply || req_size == 0)
        return WP_E_INVALID;
    struct each_user u = {.on_reply = on_reply, .arg = arg};
    struct each e;
    each_init(&e, ctx, reqs, req_size, count, concurrency, per_host);
    e.deliver = each_hand_to_user;
    e.arg = &u;
    enum wp_status st = each_run(&e);
    if (st != WP_E_HTTP)
        return st;
    /* As perform_many() does: every request gets the reason. */
    for (size_t i = 0; i < count; i++) {
        struct wp_http_response resp;
        memset(&resp, 0, sizeof(resp));
        resp.code = WP_E_HTTP;
        snprintf(resp.error, sizeof(resp.error), "HTTP client failed to initialise");
        if (!on_reply(arg, i, &resp))
            return WP_E_CANCELLED;
    }
    return WP_OK;
}

void wp__http_response_release(struct wp_http_response *resp)
{
    if (!resp)
        return;
    wp_free(resp->body);
    wp_free(resp->content_type);
    wp_free(resp->etag);
    wp_free(resp->last_modified);
    wp_free(resp->effective_url);
    memset(resp, 0, sizeof(*resp));
}
