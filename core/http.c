/*
 * http.c - the shared HTTP client: libcurl with one policy for every plugin.
 *
 * A request's life is a struct http_xfer: xfer_init() resolves the defaults once,
 * xfer_setup() configures an easy handle for one attempt, xfer_attempt_end()
 * classifies the outcome and decides whether and when to retry, xfer_finish() fills
 * the caller's response. The single-request path (a per-thread easy handle) and the
 * concurrent path (a per-thread multi handle) share these four, so both follow the same
 * policy.
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
    CURLM *multi;              /* wp__http_perform_many() */
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

    /* scheduling (perform_many) */
    enum xfer_state state;
    int64_t ready_at;
    size_t host_slot;
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
 * Many requests at once
 * ------------------------------------------------------------------------------------- */

struct many {
    struct wp_ctx *ctx;
    struct http_thread *thread; /* owns the multi handle and the pool of easy handles */
    CURLM *multi;
    struct http_xfer *xs;
    size_t count;
    const char **hosts; /* distinct host keys; xs[i].host_slot indexes it */
    unsigned *host_running;
    size_t nhosts;
    size_t running;
    size_t done;
};

static CURL *many_take_handle(struct many *m)
{
    if (m->thread->pooled > 0)
        return m->thread->pool[--m->thread->pooled];
    return curl_easy_init();
}

static void many_put_handle(struct many *m, CURL *h)
{
    if (m->thread->pooled < HTTP_POOL_MAX)
        m->thread->pool[m->thread->pooled++] = h;
    else
        curl_easy_cleanup(h);
}

static void many_finish(struct many *m, struct http_xfer *x, CURL *h)
{
    xfer_finish(x, h);
    x->state = XFER_DONE;
    m->done++;
}

/*
 * The host keys stored here belong to the requests; they are only compared while the
 * requests are set up, before any of them can finish and free its key.
 */
static size_t many_host_slot(struct many *m, const char *host)
{
    for (size_t i = 0; i < m->nhosts; i++) {
        if (strcmp(m->hosts[i], host) == 0)
            return i;
    }
    m->hosts[m->nhosts] = host;
    return m->nhosts++;
}

/* Start every transfer whose time has come while the limits allow. */
static void many_start(struct many *m, unsigned concurrency, unsigned per_host)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < m->count && m->running < concurrency; i++) {
        struct http_xfer *x = &m->xs[i];
        if ((x->state != XFER_READY && x->state != XFER_WAITING) || x->ready_at > now ||
            m->host_running[x->host_slot] >= per_host)
            continue;
        CURL *h = many_take_handle(m);
        if (!h) {
            xfer_set_message(x, WP_E_NOMEM, "cannot create an HTTP handle");
            many_finish(m, x, NULL);
            continue;
        }
        if (xfer_setup(x, h) != WP_OK) {
            many_finish(m, x, NULL);
            many_put_handle(m, h);
            continue;
        }
        if (curl_multi_add_handle(m->multi, h) != CURLM_OK) {
            xfer_set_message(x, WP_E_NOMEM, "cannot start request to '%s'", x->log_url);
            many_finish(m, x, NULL);
            many_put_handle(m, h);
            continue;
        }
        x->handle = h;
        x->state = XFER_RUNNING;
        m->running++;
        m->host_running[x->host_slot]++;
    }
}

/* Collect finished transfers: each is done or scheduled for its next attempt. */
static void many_collect(struct many *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
        struct http_xfer *x = (struct http_xfer *)(void *)priv;
        curl_multi_remove_handle(m->multi, h);
        m->running--;
        m->host_running[x->host_slot]--;
        x->handle = NULL;
        long delay = xfer_attempt_end(x, h, rc);
        if (delay < 0) {
            many_finish(m, x, h);
        } else {
            x->state = XFER_WAITING;
            x->ready_at = now_ms() + delay;
        }
        many_put_handle(m, h);
    }
}

/* How long to sleep: until the next scheduled retry, curl's own timer, or 100 ms. */
static long many_wait_ms(struct many *m, unsigned concurrency, unsigned per_host)
{
    long wait = HTTP_CANCEL_POLL_MS;
    int64_t now = now_ms();
    for (size_t i = 0; i < m->count; i++) {
        struct http_xfer *x = &m->xs[i];
        if (x->state != XFER_READY && x->state != XFER_WAITING)
            continue;
        if (x->ready_at > now) {
            if (x->ready_at - now < wait)
                wait = (long)(x->ready_at - now);
        } else if (m->running < concurrency && m->host_running[x->host_slot] < per_host) {
            return 0;
        }
    }
    long curl_wait = -1;
    curl_multi_timeout(m->multi, &curl_wait);
    if (curl_wait >= 0 && curl_wait < wait)
        wait = curl_wait;
    return wait;
}

static void many_cancel(struct many *m)
{
    for (size_t i = 0; i < m->count; i++) {
        struct http_xfer *x = &m->xs[i];
        if (x->state == XFER_DONE)
            continue;
        CURL *h = x->handle;
        if (h) {
            curl_multi_remove_handle(m->multi, h);
            x->handle = NULL;
            m->running--;
        }
        xfer_cancel(x);
        many_finish(m, x, NULL);
        if (h)
            many_put_handle(m, h);
    }
}

/* The multi handle and the pooled easy handles stay with the thread for the next batch. */
static void many_release(struct many *m)
{
    wp_free(m->hosts);
    wp_free(m->host_running);
    wp_free(m->xs);
}

enum wp_status wp__http_perform_many(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                     struct wp_http_response *resps, size_t count,
                                     unsigned concurrency, unsigned per_host)
{
    if (count == 0)
        return WP_OK;
    if (!reqs || !resps)
        return WP_E_INVALID;
    if (concurrency == 0)
        concurrency = HTTP_MANY_CONCURRENCY;
    if (per_host == 0)
        per_host = HTTP_MANY_PER_HOST;

    struct many m;
    memset(&m, 0, sizeof(m));
    m.ctx = ctx;
    m.count = count;
    enum wp_status init = wp__http_global_init();
    if (init == WP_OK) {
        m.xs = wp_calloc(count, sizeof(*m.xs));
        m.hosts = wp_calloc(count, sizeof(*m.hosts));
        m.host_running = wp_calloc(count, sizeof(*m.host_running));
        m.multi = thread_multi();
        m.thread = thread_state();
        if (!m.xs || !m.hosts || !m.host_running || !m.multi || !m.thread)
            init = WP_E_NOMEM;
    }
    if (init != WP_OK) {
        for (size_t i = 0; i < count; i++) {
            memset(&resps[i], 0, sizeof(resps[i]));
            resps[i].code = init;
            snprintf(resps[i].error, sizeof(resps[i].error), "%s",
                     init == WP_E_NOMEM ? "out of memory" : "HTTP client failed to initialise");
        }
        many_release(&m);
        return init == WP_E_NOMEM ? WP_E_NOMEM : WP_OK;
    }

    for (size_t i = 0; i < count; i++) {
        struct http_xfer *x = &m.xs[i];
        if (xfer_init(x, ctx, &reqs[i], &resps[i]) != WP_OK || !xfer_admit(x)) {
            many_finish(&m, x, NULL);
            continue;
        }
        x->state = XFER_READY;
        x->ready_at = 0;
        x->host_slot = many_host_slot(&m, x->host_key);
    }

    enum wp_status result = WP_OK;
    while (m.done < m.count) {
        if (ctx_cancelled(ctx)) {
            many_cancel(&m);
            result = WP_E_CANCELLED;
            break;
        }
        many_start(&m, concurrency, per_host);
        int still = 0;
        curl_multi_perform(m.multi, &still);
        many_collect(&m);
        if (m.done == m.count)
            break;
        long wait = many_wait_ms(&m, concurrency, per_host);
        if (wait > 0)
            curl_multi_poll(m.multi, NULL, 0, (int)wait, NULL);
    }
    many_release(&m);
    return result;
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
