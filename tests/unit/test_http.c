/*
 * test_http.c - the shared HTTP client against tests/servers/scripted_http.py on 127.0.0.1:
 * headers, the retry policy (what is retried, how often, Retry-After), redirects and their
 * protocol limits, decoding, body limits, timeouts, the circuit breaker, concurrent
 * requests, the streaming client (replies in completion order, stopped by the callback or
 * by cancellation, at the plugin's struct size), cancellation, and that secrets never
 * reach messages or logs.
 *
 * Nothing here asserts on wall-clock time except through the server's request log, where
 * a Retry-After of 1 s must show as a gap of about a second between two requests, and in
 * the streaming tests, where a reply delayed 1.5 s by the server must be handed over well
 * after one that is not delayed.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

#include "http.h"
#include "http_abi.h"
#include "test_server.h"
#include "wp_cmocka.h"

#define CANARY "CANARY-7f3a9c-SECRET"

/* Every route of the shared server; each test uses its own paths. */
static const char routes[] =
    "{"
    "\"/ok\": [{\"status\": 200, \"body\": \"hello\", \"headers\": {"
    "  \"Content-Type\": \"text/plain; charset=utf-8\", \"ETag\": \"\\\"abc\\\"\","
    "  \"Last-Modified\": \"Sun, 06 Nov 1994 08:49:37 GMT\"}}],"
    "\"/nf\": [{\"status\": 404, \"body\": \"no such thing\"}],"
    "\"/busy\": [{\"status\": 429, \"headers\": {\"Retry-After\": \"1\"}}, {\"status\": 200,"
    "  \"body\": \"finally\"}],"
    "\"/down\": [{\"status\": 503, \"body\": \"down\"}],"
    "\"/loop\": [{\"status\": 302, \"headers\": {\"Location\": \"/loop\"}}],"
    "\"/tofile\": [{\"status\": 302, \"headers\": {\"Location\": \"file:///etc/passwd\"}}],"
    "\"/togopher\": [{\"status\": 301, \"headers\": {\"Location\": \"gopher://127.0.0.1/\"}}],"
    "\"/hop\": [{\"status\": 307, \"headers\": {\"Location\": \"/ok\"}}],"
    "\"/gz\": [{\"body\": \"gzipped words \", \"repeat_body\": 1000, \"gzip\": true}],"
    "\"/gzbig\": [{\"body\": \"abcdefgh\", \"repeat_body\": 125000, \"gzip\": true}],"
    "\"/gzchunked\": [{\"body\": \"chunky \", \"repeat_body\": 3000, \"gzip\": true,"
    "  \"chunked\": true}],"
    "\"/deflate\": [{\"body_b64\": \"eJxLSU3LSSxJTVEoSa0o0VGoyslMUigvSiwoSC0CAI5eCj0=\","
    "  \"headers\": {\"Content-Encoding\": \"deflate\"}}],"
    "\"/rawdeflate\": [{\"body_b64\": \"S0lNy0ksSU1RKEmtKNFRKEosBwA=\","
    "  \"headers\": {\"Content-Encoding\": \"deflate\"}}],"
    "\"/tgz\": [{\"body\": \"some text that will be cut \", \"repeat_body\": 2000,"
    "  \"truncate_gzip\": true}],"
    "\"/badgz\": [{\"body\": \"this is not gzip at all\","
    "  \"headers\": {\"Content-Encoding\": \"gzip\"}}],"
    "\"/big\": [{\"body\": \"0123456789\", \"repeat_body\": 100000}],"
    "\"/bigchunked\": [{\"body\": \"0123456789\", \"repeat_body\": 100000, \"chunked\": true}],"
    "\"/bomb\": [{\"body\": \"0\", \"repeat_body\": 2000000, \"gzip\": true}],"
    "\"/drip\": [{\"body\": \"0123456789012345678901234567890123456789\","
    "  \"drip_bytes_per_s\": 1}],"
    "\"/echo\": [{\"echo\": true}],"
    "\"/auth\": [{\"status\": 401, \"body\": \"bad key\"}],"
    "\"/slowdown\": [{\"status\": 503, \"headers\": {\"Retry-After\": \"30\"}}],"
    "\"/absurd\": [{\"status\": 503, \"headers\": {\"Retry-After\":"
    "  \"Wed, 21 Oct 2037 07:28:00 GMT\"}}],"
    "\"/negative\": [{\"status\": 429, \"headers\": {\"Retry-After\": \"-1\"}},"
    "  {\"status\": 200, \"body\": \"ok\"}],"
    "\"/junk\": [{\"status\": 429, \"headers\": {\"Retry-After\": \"soon, maybe\"}},"
    "  {\"status\": 200, \"body\": \"ok\"}],"
    "\"/m/ok\": [{\"status\": 200, \"body\": \"many\"}],"
    "\"/m/nf\": [{\"status\": 404}],"
    "\"/m/flaky\": [{\"status\": 502}, {\"status\": 200, \"body\": \"recovered\"}],"
    "\"/m/down\": [{\"status\": 500}],"
    "\"/m/slow\": [{\"status\": 200, \"body\": \"slow\", \"delay_ms\": 200}],"
    "\"/m/limit\": [{\"status\": 200, \"body\": \"limited\", \"delay_ms\": 200}],"
    "\"/e/fast\": [{\"status\": 200, \"body\": \"fast\"}],"
    "\"/e/slow\": [{\"status\": 200, \"body\": \"slow\", \"delay_ms\": 1500}],"
    "\"/e/late\": [{\"status\": 200, \"body\": \"late\", \"delay_ms\": 300}],"
    "\"/e/hang\": [{\"status\": 200, \"body\": \"hang\", \"delay_ms\": 8000}],"
    "\"/e/stop\": [{\"status\": 200, \"body\": \"stop\"}],"
    "\"/e/abi\": [{\"status\": 200, \"body\": \"abi\", \"headers\": {\"ETag\": \"\\\"e1\\\"\"}}]"
    "}";

static struct wp_test_server srv;

/* A host table with just what the client uses: log capture and cancellation. */
struct test_ctx {
    struct wp_ctx ctx; /* first: the client sees &t->ctx */
    struct wp_host_api api;
    char logs[65536];
    size_t used;
    atomic_bool cancel;
};

static struct test_ctx *test_of(struct wp_ctx *ctx)
{
    return (struct test_ctx *)(void *)ctx;
}

__attribute__((format(printf, 3, 4))) static void
capture_log(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...)
{
    (void)level;
    struct test_ctx *t = test_of(ctx);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->logs + t->used, sizeof(t->logs) - t->used - 1, fmt, ap);
    va_end(ap);
    if (n > 0) {
        t->used +=
            (size_t)n < sizeof(t->logs) - t->used - 2 ? (size_t)n : sizeof(t->logs) - t->used - 2;
        t->logs[t->used++] = '\n';
        t->logs[t->used] = '\0';
    }
}

static bool always_enabled(struct wp_ctx *ctx, enum wp_log_level level)
{
    (void)ctx, (void)level;
    return true;
}

static bool is_cancelled(struct wp_ctx *ctx)
{
    return atomic_load(&test_of(ctx)->cancel);
}

static void test_ctx_init(struct test_ctx *t)
{
    memset(t, 0, sizeof(*t));
    t->ctx.host = &t->api;
    t->api.abi_major = WP_ABI_MAJOR;
    t->api.abi_minor = WP_ABI_MINOR;
    t->api.struct_size = sizeof(t->api);
    t->api.log = capture_log;
    t->api.log_enabled = always_enabled;
    t->api.cancelled = is_cancelled;
    atomic_init(&t->cancel, false);
}

static void url_of(const char *path, char *buf, size_t size)
{
    wp_test_server_url(&srv, path, buf, size);
}

/* Fast retries so the suite stays short; tests that look at waits set their own. */
static struct wp_http_request quick(const char *url)
{
    return (struct wp_http_request){
        .url = url, .retry_base_ms = 10, .retry_cap_ms = 50, .timeout_ms = 10000};
}

static int group_setup(void **state)
{
    (void)state;
    if (wp__http_global_init() != WP_OK)
        return -1;
    return wp_test_server_start(&srv, routes);
}

static int group_teardown(void **state)
{
    (void)state;
    wp_test_server_stop(&srv);
    wp__http_global_cleanup();
    return 0;
}

static void test_get_with_headers(void **state)
{
    (void)state;
    char url[256];
    url_of("/ok", url, sizeof(url));
    struct wp_http_request req = {.url = url};
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.code, WP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(resp.body_len, 5);
    assert_string_equal(resp.body, "hello");
    assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
    assert_string_equal(resp.etag, "\"abc\"");
    assert_string_equal(resp.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_string_equal(resp.effective_url, url);
    assert_int_equal(resp.retry_after_ms, 0);
    assert_string_equal(resp.error, "");
    wp__http_response_release(&resp);
    assert_null(resp.body);
    assert_int_equal(resp.status, 0);

    /* HEAD: same headers, no body */
    req.method = "HEAD";
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 0);
    assert_non_null(resp.body);
    assert_string_equal(resp.etag, "\"abc\"");
    wp__http_response_release(&resp);
}

static void test_not_found_is_not_retried(void **state)
{
    (void)state;
    char url[256];
    url_of("/nf", url, sizeof(url));
    struct wp_http_request req = quick(url);
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.attempts, 1);
    assert_string_equal(resp.body, "no such thing");
    char want[300];
    snprintf(want, sizeof(want), "http 404 from '%s' after 1 attempt", url);
    assert_string_equal(resp.error, want);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/nf"), 1);

    /* 401 is not retried either */
    url_of("/auth", url, sizeof(url));
    req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 401);
    assert_int_equal(resp.attempts, 1);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/auth"), 1);
}

static double request_time(json_t *log, const char *path, size_t nth)
{
    size_t i, seen = 0;
    json_t *entry;
    json_array_foreach(log, i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "path")), path) == 0 && seen++ == nth)
            return json_number_value(json_object_get(entry, "time"));
    }
    fail_msg("request %zu to %s not in the log", nth, path);
    return 0;
}

static void test_retry_after_honoured(void **state)
{
    (void)state;
    char url[256];
    url_of("/busy", url, sizeof(url));
    /* the backoff alone would wait at most 10 ms: only Retry-After explains a 1 s gap */
    struct wp_http_request req = {.url = url, .retry_base_ms = 10, .retry_cap_ms = 5000};
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 2);
    assert_string_equal(resp.body, "finally");
    wp__http_response_release(&resp);

    json_t *log = wp_test_server_requests(&srv);
    assert_int_equal(wp_test_server_count(&srv, "/busy"), 2);
    double gap = request_time(log, "/busy", 1) - request_time(log, "/busy", 0);
    json_decref(log);
    assert_true(gap >= 0.9);
}

static void test_retries_exhausted(void **state)
{
    (void)state;
    char url[256];
    url_of("/down", url, sizeof(url));
    struct wp_http_request req = quick(url);
    req.max_attempts = 3;
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.code, WP_OK); /* a reply arrived; its status says the rest */
    assert_int_equal(resp.status, 503);
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(resp.body, "down");
    char want[300];
    snprintf(want, sizeof(want), "http 503 from '%s' after 3 attempts", url);
    assert_string_equal(resp.error, want);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/down"), 3);

    /* the default is 4 attempts */
    req.max_attempts = 0;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.attempts, 4);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/down"), 7);
}

static void test_hostile_retry_after(void **state)
{
    (void)state;
    char url[256];
    struct wp_http_response resp;

    /* a date in 2037 is clamped to the cap: reported as such, and the retry still comes */
    url_of("/absurd", url, sizeof(url));
    struct wp_http_request req = {.url = url, .retry_base_ms = 10, .retry_cap_ms = 300};
    req.max_attempts = 1;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 503);
    assert_int_equal(resp.retry_after_ms, 300);
    wp__http_response_release(&resp);
    req.max_attempts = 2;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(resp.retry_after_ms, 300);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/absurd"), 3);

    /* "-1" and junk are ignored: the backoff decides, and the request succeeds */
    const char *paths[] = {"/negative", "/junk"};
    for (int i = 0; i < 2; i++) {
        url_of(paths[i], url, sizeof(url));
        req = quick(url);
        assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.attempts, 2);
        assert_int_equal(resp.retry_after_ms, 0);
        wp__http_response_release(&resp);
    }
}

static void test_reset_is_retried(void **state)
{
    (void)state;
    /*
     * Its own server, so the first request opens a fresh connection: libcurl itself
     * re-sends once when a reused connection turns out dead, which would hide our retry.
     */
    struct wp_test_server own;
    assert_int_equal(wp_test_server_start(&own, "{\"/reset\": [{\"close\": true},"
                                                " {\"status\": 200, \"body\": \"after reset\"}]}"),
                     0);
    char url[256];
    wp_test_server_url(&own, "/reset", url, sizeof(url));
    struct wp_http_request req = quick(url);
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 2);
    assert_string_equal(resp.body, "after reset");
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&own, "/reset"), 2);
    wp_test_server_stop(&own);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* port 1 on loopback: nothing listens there */
    struct wp_http_request req = quick("http://127.0.0.1:1/x");
    req.max_attempts = 2;
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_int_equal(resp.status, 0);
    assert_int_equal(resp.attempts, 2);
    assert_null(resp.body);
    assert_non_null(strstr(resp.error, "cannot fetch 'http://127.0.0.1:1/x'"));
    assert_non_null(strstr(resp.error, "(after 2 attempts)"));
    wp__http_response_release(&resp);
}

static void test_redirects(void **state)
{
    (void)state;
    char url[256];
    struct wp_http_response resp;

    url_of("/hop", url, sizeof(url));
    struct wp_http_request req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "hello");
    char ok_url[256];
    url_of("/ok", ok_url, sizeof(ok_url));
    assert_string_equal(resp.effective_url, ok_url);
    wp__http_response_release(&resp);

    /* a loop stops after 5 redirects: the first request and 5 followed, not retried */
    url_of("/loop", url, sizeof(url));
    req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_int_equal(resp.attempts, 1);
    assert_non_null(strstr(resp.error, "more than 5 redirects"));
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/loop"), 6);

    /* WP_HTTP_NO_REDIRECT hands the 302 back */
    req.flags = WP_HTTP_NO_REDIRECT;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 302);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&srv, "/loop"), 7);

    /* never to another protocol */
    url_of("/tofile", url, sizeof(url));
    req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_int_equal(resp.attempts, 1);
    assert_non_null(strstr(resp.error, "refused protocol"));
    assert_null(strstr(resp.error, "root:"));
    wp__http_response_release(&resp);

    url_of("/togopher", url, sizeof(url));
    req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_non_null(strstr(resp.error, "refused protocol"));
    wp__http_response_release(&resp);
}

static void test_refused_urls(void **state)
{
    (void)state;
    struct wp_http_response resp;
    struct wp_http_request req = quick("file:///etc/passwd");
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_INVALID);
    assert_non_null(strstr(resp.error, "scheme 'file' refused"));
    assert_int_equal(resp.attempts, 0);
    wp__http_response_release(&resp);

    req = quick("not a url");
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_INVALID);
    wp__http_response_release(&resp);

    req = quick(NULL);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_INVALID);
    wp__http_response_release(&resp);
}

static void expect_body(const char *path, const char *unit, size_t repeat)
{
    char url[256];
    url_of(path, url, sizeof(url));
    struct wp_http_request req = quick(url);
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    size_t unit_len = strlen(unit);
    assert_int_equal(resp.body_len, unit_len * repeat);
    for (size_t i = 0; i < repeat; i++)
        assert_memory_equal(resp.body + i * unit_len, unit, unit_len);
    wp__http_response_release(&resp);
}

static void test_decoding(void **state)
{
    (void)state;
    expect_body("/gz", "gzipped words ", 1000);
    expect_body("/gzchunked", "chunky ", 3000);
    /* 1 MB from 2 kB: many output rounds per input chunk */
    expect_body("/gzbig", "abcdefgh", 125000);
    expect_body("/deflate", "deflated text, zlib wrapper", 1);
    expect_body("/rawdeflate", "deflated text, raw", 1);

    /* the server saw an Accept-Encoding offer */
    json_t *log = wp_test_server_requests(&srv);
    size_t i;
    json_t *entry;
    bool offered = false;
    json_array_foreach(log, i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "path")), "/gz") == 0) {
            json_t *headers = json_object_get(entry, "headers");
            const char *ae = json_string_value(json_object_get(headers, "Accept-Encoding"));
            offered = ae && strstr(ae, "gzip");
        }
    }
    json_decref(log);
    assert_true(offered);
}

static void test_broken_encoding(void **state)
{
    (void)state;
    char url[256];
    struct wp_http_response resp;

    url_of("/tgz", url, sizeof(url));
    struct wp_http_request req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_non_null(strstr(resp.error, "truncated"));
    assert_int_equal(resp.attempts, 1);
    assert_null(resp.body);
    wp__http_response_release(&resp);

    url_of("/badgz", url, sizeof(url));
    req = quick(url);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_non_null(strstr(resp.error, "cannot decode gzip body"));
    wp__http_response_release(&resp);
}

static void test_body_limit(void **state)
{
    (void)state;
    const char *paths[] = {"/big", "/bigchunked", "/bomb"};
    for (size_t i = 0; i < 3; i++) {
        char url[256];
        url_of(paths[i], url, sizeof(url));
        struct wp_http_request req = quick(url);
        req.max_body = 65536;
        struct wp_http_response resp;
        assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_LIMIT);
        assert_non_null(strstr(resp.error, "body larger than 65536 bytes"));
        assert_int_equal(resp.attempts, 1);
        assert_null(resp.body);
        wp__http_response_release(&resp);
    }
    /* the default limit (10 MiB) lets 1 MB through */
    expect_body("/big", "0123456789", 100000);
}

static void test_drip_times_out(void **state)
{
    (void)state;
    char url[256];
    url_of("/drip", url, sizeof(url));
    struct wp_http_request req = quick(url);
    req.timeout_ms = 1500;
    req.max_attempts = 1;
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_TIMEOUT);
    assert_non_null(strstr(resp.error, "timed out fetching"));
    assert_int_equal(resp.attempts, 1);
    wp__http_response_release(&resp);
}

static void test_post_echo(void **state)
{
    (void)state;
    char url[256];
    url_of("/echo", url, sizeof(url));
    const char *headers[] = {"Content-Type: application/json", "X-Trace: 42", NULL};
    const char body[] = "{\"q\": \"Berlin police arrested two men\"}";
    struct wp_http_request req = quick(url);
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    json_t *echo = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_non_null(echo);
    assert_string_equal(json_string_value(json_object_get(echo, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(echo, "body")), body);
    json_t *sent = json_object_get(echo, "headers");
    assert_string_equal(json_string_value(json_object_get(sent, "Content-Type")),
                        "application/json");
    assert_string_equal(json_string_value(json_object_get(sent, "X-Trace")), "42");
    assert_string_equal(json_string_value(json_object_get(sent, "User-Agent")),
                        "wirepipe/" WP_VERSION_STRING);
    assert_null(json_object_get(sent, "Expect"));
    json_decref(echo);
    wp__http_response_release(&resp);

    /* another method with a body, and a custom user agent */
    req.method = "PUT";
    req.user_agent = "tester/1";
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    echo = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(echo, "method")), "PUT");
    assert_string_equal(json_string_value(json_object_get(echo, "body")), body);
    sent = json_object_get(echo, "headers");
    assert_string_equal(json_string_value(json_object_get(sent, "User-Agent")), "tester/1");
    json_decref(echo);
    wp__http_response_release(&resp);
}

static void test_canary_never_leaks(void **state)
{
    (void)state;
    struct test_ctx t;
    test_ctx_init(&t);
    const char *headers[] = {"Authorization: DeepL-Auth-Key " CANARY, "X-Api-Key: " CANARY, NULL};
    const char *paths[] = {"/auth", "/down", "/loop", "/tofile", "/tgz", "/drip", "/echo"};
    struct wp_http_response resp;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char url[256];
        url_of(paths[i], url, sizeof(url));
        struct wp_http_request req = quick(url);
        req.headers = headers;
        req.max_attempts = 2;
        req.timeout_ms = 1200;
        req.body = "text=" CANARY;
        req.body_len = strlen(req.body);
        wp__http_perform(&t.ctx, &req, &resp);
        assert_null(strstr(resp.error, CANARY));
        wp__http_response_release(&resp);
    }
    /* secrets in the URL (credentials, query) stay out of messages and logs too */
    char url[300];
    snprintf(url, sizeof(url), "http://user:%s@127.0.0.1:%d/down?auth_key=%s", CANARY, srv.port,
             CANARY);
    struct wp_http_request req = quick(url);
    req.max_attempts = 2;
    wp__http_perform(&t.ctx, &req, &resp);
    assert_int_equal(resp.status, 503);
    assert_null(strstr(resp.error, CANARY));
    assert_non_null(strstr(resp.error, "/down?..."));
    wp__http_response_release(&resp);
    snprintf(url, sizeof(url), "http://user:%s@127.0.0.1:1/x?auth_key=%s", CANARY, CANARY);
    req = quick(url);
    req.max_attempts = 2;
    wp__http_perform(&t.ctx, &req, &resp);
    assert_int_equal(resp.code, WP_E_HTTP);
    assert_null(strstr(resp.error, CANARY));
    wp__http_response_release(&resp);

    /* debug logging was on and did say something, just nothing secret */
    assert_true(t.used > 0);
    assert_non_null(strstr(t.logs, "/down"));
    assert_null(strstr(t.logs, CANARY));
    /* the server did receive the key: it was sent, only never shown */
    json_t *log = wp_test_server_requests(&srv);
    char *dump = json_dumps(log, 0);
    assert_non_null(strstr(dump, CANARY));
    free(dump);
    json_decref(log);
}

/* R12: a certificate nobody vouches for is refused, and that is not retried. */
static void test_tls_fails_closed(void **state)
{
    (void)state;
    char dir[] = "/tmp/wp-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert[64], key[64], cmd[512];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        rmdir(dir);
        /* Not a skip: a skipped cmocka test passes in ctest, and scripts/setup installs it. */
        fail_msg("cannot make a test certificate with the openssl command");
    }
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    struct wp_test_server tls;
    assert_int_equal(wp_test_server_start_args(&tls, "{\"/ok\": [{\"body\": \"secret\"}]}", args),
                     0);
    char url[256];
    wp_test_server_url(&tls, "/ok", url, sizeof(url));
    assert_memory_equal(url, "https://", 8);
    struct wp_http_request req = quick(url);
    struct wp_http_response resp;
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_HTTP);
    assert_int_equal(resp.attempts, 1);
    assert_null(resp.body);
    assert_non_null(strstr(resp.error, "TLS error with '"));
    wp__http_response_release(&resp);
    /* no HTTP request got through the handshake */
    assert_int_equal(wp_test_server_count(&tls, NULL), 0);
    wp_test_server_stop(&tls);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void test_breaker(void **state)
{
    (void)state;
    struct wp_test_server own;
    assert_int_equal(wp_test_server_start(&own, "{\"/fail\": [{\"status\": 500, \"times\": 5,"
                                                " \"headers\": {\"Retry-After\": \"1\"}},"
                                                " {\"status\": 200, \"body\": \"back\"}],"
                                                " \"/other\": [{\"status\": 200}]}"),
                     0);
    char url[256], other[256];
    wp_test_server_url(&own, "/fail", url, sizeof(url));
    wp_test_server_url(&own, "/other", other, sizeof(other));
    struct wp_http_request req = quick(url);
    req.max_attempts = 1;
    req.flags = WP_HTTP_BREAKER;
    struct wp_http_response resp;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
        assert_int_equal(resp.status, 500);
        wp__http_response_release(&resp);
    }
    /* open: the host is not asked, for any path */
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_E_UNAVAILABLE);
    assert_int_equal(resp.attempts, 0);
    assert_true(resp.retry_after_ms > 0 && resp.retry_after_ms <= 1000);
    assert_non_null(strstr(resp.error, "circuit open"));
    wp__http_response_release(&resp);
    struct wp_http_request req2 = quick(other);
    req2.flags = WP_HTTP_BREAKER;
    assert_int_equal(wp__http_perform(NULL, &req2, &resp), WP_E_UNAVAILABLE);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&own, NULL), 5);
    /* requests without the flag are not affected */
    req2.flags = 0;
    assert_int_equal(wp__http_perform(NULL, &req2, &resp), WP_OK);
    wp__http_response_release(&resp);

    /* after the cooldown (the Retry-After, 1 s) one probe goes through and closes it */
    struct timespec ts = {1, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "back");
    wp__http_response_release(&resp);
    assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
    wp__http_response_release(&resp);
    assert_int_equal(wp_test_server_count(&own, "/fail"), 7);
    wp_test_server_stop(&own);
}

static void test_perform_many(void **state)
{
    (void)state;
    enum { N = 20 };
    static const char *const plan[N] = {
        "/m/ok",   "/m/nf",    "/m/ok", "/m/slow", "/m/ok",   "/m/down", "/m/ok",
        "/m/ok",   "/m/flaky", "/m/ok", "/m/nf",   "/m/slow", "/m/ok",   "/m/ok",
        "/m/down", "/m/ok",    "/m/ok", "/m/slow", "REFUSED", "/m/ok",
    };
    char urls[N][256];
    struct wp_http_request reqs[N];
    struct wp_http_response resps[N];
    for (int i = 0; i < N; i++) {
        if (strcmp(plan[i], "REFUSED") == 0)
            snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:1/refused");
        else
            url_of(plan[i], urls[i], sizeof(urls[i]));
        reqs[i] = quick(urls[i]);
        reqs[i].max_attempts = 3;
    }
    struct test_ctx t;
    test_ctx_init(&t);
    assert_int_equal(wp__http_perform_many(&t.ctx, reqs, resps, N, 4, 2), WP_OK);
    for (int i = 0; i < N; i++) {
        const char *p = plan[i];
        if (strcmp(p, "REFUSED") == 0) {
            assert_int_equal(resps[i].code, WP_E_HTTP);
            assert_int_equal(resps[i].attempts, 3);
        } else if (strcmp(p, "/m/nf") == 0) {
            assert_int_equal(resps[i].code, WP_OK);
            assert_int_equal(resps[i].status, 404);
            assert_int_equal(resps[i].attempts, 1);
        } else if (strcmp(p, "/m/down") == 0) {
            assert_int_equal(resps[i].status, 500);
            assert_int_equal(resps[i].attempts, 3);
            assert_non_null(strstr(resps[i].error, "http 500 from"));
        } else if (strcmp(p, "/m/flaky") == 0) {
            assert_int_equal(resps[i].status, 200);
            assert_int_equal(resps[i].attempts, 2);
            assert_string_equal(resps[i].body, "recovered");
        } else {
            assert_int_equal(resps[i].code, WP_OK);
            assert_int_equal(resps[i].status, 200);
            assert_int_equal(resps[i].attempts, 1);
            assert_string_equal(resps[i].body, strcmp(p, "/m/slow") == 0 ? "slow" : "many");
            assert_string_equal(resps[i].effective_url, urls[i]);
        }
        wp__http_response_release(&resps[i]);
    }
    assert_int_equal(wp_test_server_count(&srv, "/m/ok"), 11);
    assert_int_equal(wp_test_server_count(&srv, "/m/nf"), 2);
    assert_int_equal(wp_test_server_count(&srv, "/m/down"), 6);
    assert_int_equal(wp_test_server_count(&srv, "/m/flaky"), 2);
    assert_int_equal(wp_test_server_count(&srv, "/m/slow"), 3);

    /* an empty batch and the defaults */
    assert_int_equal(wp__http_perform_many(NULL, reqs, resps, 0, 0, 0), WP_OK);
    assert_int_equal(wp__http_perform_many(NULL, reqs, resps, 2, 0, 0), WP_OK);
    assert_int_equal(resps[0].status, 200);
    wp__http_response_release(&resps[0]);
    wp__http_response_release(&resps[1]);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_many_per_host_limit(void **state)
{
    (void)state;
    enum { N = 8 };
    char url[256];
    url_of("/m/limit", url, sizeof(url));
    struct wp_http_request reqs[N];
    struct wp_http_response resps[N];
    for (int i = 0; i < N; i++)
        reqs[i] = quick(url);
    assert_int_equal(wp__http_perform_many(NULL, reqs, resps, N, 8, 2), WP_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(resps[i].status, 200);
        wp__http_response_release(&resps[i]);
    }
    /*
     * Each reply takes 200 ms, so with at most 2 requests to the host at once, request
     * i + 2 cannot reach the server before request i has been answered.
     */
    json_t *log = wp_test_server_requests(&srv);
    double times[N];
    for (int i = 0; i < N; i++)
        times[i] = request_time(log, "/m/limit", (size_t)i);
    json_decref(log);
    qsort(times, N, sizeof(times[0]), compare_double);
    for (int i = 0; i + 2 < N; i++)
        assert_true(times[i + 2] - times[i] >= 0.15);
}

static size_t distinct_ports(const struct wp_test_server *server)
{
    json_t *log = wp_test_server_requests(server);
    json_int_t seen[64];
    size_t n = 0, i;
    json_t *entry;
    json_array_foreach(log, i, entry)
    {
        json_int_t port = json_integer_value(json_object_get(entry, "client_port"));
        size_t j = 0;
        while (j < n && seen[j] != port)
            j++;
        if (j == n && n < 64)
            seen[n++] = port;
    }
    json_decref(log);
    return n;
}

/* Connections stay open between requests and between batches of the same thread. */
static void test_keep_alive(void **state)
{
    (void)state;
    struct wp_test_server own;
    assert_int_equal(wp_test_server_start(&own, "{\"/k\": [{\"body\": \"kept\"}]}"), 0);
    char url[256];
    wp_test_server_url(&own, "/k", url, sizeof(url));
    struct wp_http_request req = quick(url);
    struct wp_http_response resp;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(wp__http_perform(NULL, &req, &resp), WP_OK);
        wp__http_response_release(&resp);
    }
    assert_int_equal(wp_test_server_count(&own, "/k"), 3);
    assert_int_equal(distinct_ports(&own), 1);
    wp_test_server_stop(&own);

    assert_int_equal(wp_test_server_start(&own, "{\"/k\": [{\"body\": \"kept\"}]}"), 0);
    wp_test_server_url(&own, "/k", url, sizeof(url));
    struct wp_http_request reqs[3] = {quick(url), quick(url), quick(url)};
    struct wp_http_response resps[3];
    for (int batch = 0; batch < 2; batch++) {
        assert_int_equal(wp__http_perform_many(NULL, reqs, resps, 3, 1, 1), WP_OK);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(resps[i].status, 200);
            wp__http_response_release(&resps[i]);
        }
    }
    assert_int_equal(wp_test_server_count(&own, "/k"), 6);
    assert_int_equal(distinct_ports(&own), 1);
    wp_test_server_stop(&own);
}

static void *cancel_soon(void *arg)
{
    struct test_ctx *t = arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&t->cancel, true);
    return NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    struct test_ctx t;
    test_ctx_init(&t);
    char url[256];
    struct wp_http_response resp;

    /* already cancelled: nothing is sent */
    atomic_store(&t.cancel, true);
    url_of("/ok", url, sizeof(url));
    struct wp_http_request req = quick(url);
    assert_int_equal(wp__http_perform(&t.ctx, &req, &resp), WP_E_CANCELLED);
    assert_int_equal(resp.attempts, 0);
    wp__http_response_release(&resp);

    /* cancelled while waiting 30 s for a Retry-After */
    atomic_store(&t.cancel, false);
    url_of("/slowdown", url, sizeof(url));
    req = (struct wp_http_request){.url = url, .retry_cap_ms = 30000};
    pthread_t th;
    pthread_create(&th, NULL, cancel_soon, &t);
    assert_int_equal(wp__http_perform(&t.ctx, &req, &resp), WP_E_CANCELLED);
    assert_int_equal(resp.attempts, 1);
    wp__http_response_release(&resp);
    pthread_join(th, NULL);

    /* cancelled in the middle of a slow body */
    atomic_store(&t.cancel, false);
    url_of("/drip", url, sizeof(url));
    req = (struct wp_http_request){.url = url};
    pthread_create(&th, NULL, cancel_soon, &t);
    assert_int_equal(wp__http_perform(&t.ctx, &req, &resp), WP_E_CANCELLED);
    wp__http_response_release(&resp);
    pthread_join(th, NULL);

    /* and in perform_many */
    atomic_store(&t.cancel, false);
    struct wp_http_request reqs[3];
    struct wp_http_response resps[3];
    char ok_url[256];
    url_of("/ok", ok_url, sizeof(ok_url));
    reqs[0] = (struct wp_http_request){.url = url};
    reqs[1] = (struct wp_http_request){.url = ok_url};
    url_of("/slowdown", url, sizeof(url));
    reqs[2] = (struct wp_http_request){.url = url, .retry_cap_ms = 30000};
    pthread_create(&th, NULL, cancel_soon, &t);
    assert_int_equal(wp__http_perform_many(&t.ctx, reqs, resps, 3, 0, 0), WP_E_CANCELLED);
    pthread_join(th, NULL);
    assert_int_equal(resps[0].code, WP_E_CANCELLED);
    assert_int_equal(resps[1].code, WP_OK);
    assert_int_equal(resps[2].code, WP_E_CANCELLED);
    for (int i = 0; i < 3; i++)
        wp__http_response_release(&resps[i]);
}

/* ---- the streaming client ------------------------------------------------------------ */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the callback saw, in the order it saw it. */
struct each_log {
    size_t order[64];
    double at[64];
    long status[64];
    enum wp_status code[64];
    char body[64][16];
    size_t n;
    size_t stop_after; /* return false after this many replies (0: never) */
    unsigned hold_ms;  /* sleep this long in the first callback */
    struct test_ctx *cancel_in_callback;
};

static bool record_reply(void *arg, size_t index, const struct wp_http_response *resp)
{
    struct each_log *log = arg;
    if (log->n < 64) {
        log->order[log->n] = index;
        log->at[log->n] = mono_s();
        log->status[log->n] = resp->status;
        log->code[log->n] = resp->code;
        snprintf(log->body[log->n], sizeof(log->body[0]), "%s", resp->body ? resp->body : "");
    }
    log->n++;
    if (log->n == 1 && log->hold_ms) {
        struct timespec ts = {log->hold_ms / 1000, (long)(log->hold_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (log->cancel_in_callback)
        atomic_store(&log->cancel_in_callback->cancel, true);
    return !(log->stop_after && log->n >= log->stop_after);
}

static size_t position_of(const struct each_log *log, size_t index)
{
    for (size_t i = 0; i < log->n && i < 64; i++) {
        if (log->order[i] == index)
            return i;
    }
    return (size_t)-1;
}

/* Each reply is handed over when it completes: a slow one does not hold back the rest. */
static void test_each_completion_order(void **state)
{
    (void)state;
    char slow[256], fast[256];
    url_of("/e/slow", slow, sizeof(slow));
    url_of("/e/fast", fast, sizeof(fast));
    struct wp_http_request reqs[4] = {quick(slow), quick(fast), quick(fast), quick(fast)};
    struct each_log log = {0};
    struct test_ctx t;
    test_ctx_init(&t);
    assert_int_equal(
        wp__http_perform_each(&t.ctx, reqs, sizeof(reqs[0]), 4, 4, 4, record_reply, &log), WP_OK);
    assert_int_equal(log.n, 4);
    /* the slow request is first in the array and handed over last */
    assert_int_equal(position_of(&log, 0), 3);
    for (size_t i = 1; i < 4; i++) {
        size_t at = position_of(&log, i);
        assert_true(at < 3);
        assert_int_equal(log.status[at], 200);
        assert_string_equal(log.body[at], "fast");
    }
    assert_string_equal(log.body[3], "slow");
    /* and the fast replies did not wait for it: the server held it back 1.5 s */
    assert_true(log.at[3] - log.at[0] >= 0.7);

    /* an empty batch, and a NULL callback */
    assert_int_equal(
        wp__http_perform_each(NULL, reqs, sizeof(reqs[0]), 0, 0, 0, record_reply, &log), WP_OK);
    assert_int_equal(wp__http_perform_each(NULL, reqs, sizeof(reqs[0]), 1, 0, 0, NULL, NULL),
                     WP_E_INVALID);
}

/* Many more requests than the concurrency: each handed over once, with the limits kept. */
static void test_each_long_batch(void **state)
{
    (void)state;
    enum { N = 60 };
    char fast[256], nf[256];
    url_of("/e/fast", fast, sizeof(fast));
    url_of("/m/nf", nf, sizeof(nf));
    static struct wp_http_request reqs[N];
    for (int i = 0; i < N; i++)
        reqs[i] = quick(i % 10 == 3 ? nf : fast);
    size_t before = wp_test_server_count(&srv, "/e/fast");
    struct each_log log = {0};
    assert_int_equal(
        wp__http_perform_each(NULL, reqs, sizeof(reqs[0]), N, 3, 2, record_reply, &log), WP_OK);
    assert_int_equal(log.n, N);
    bool seen[N] = {false};
    for (size_t i = 0; i < N; i++) {
        assert_false(seen[log.order[i]]);
        seen[log.order[i]] = true;
        assert_int_equal(log.status[i], log.order[i] % 10 == 3 ? 404 : 200);
    }
    assert_int_equal(wp_test_server_count(&srv, "/e/fast") - before, N - 6);
}

/* Returning false stops the batch: what is in flight is cancelled, the rest never sent. */
static void test_each_stop_from_callback(void **state)
{
    (void)state;
    enum { N = 40 };
    char stop[256], hang[256];
    url_of("/e/stop", stop, sizeof(stop));
    url_of("/e/hang", hang, sizeof(hang));
    static struct wp_http_request reqs[N];
    reqs[0] = quick(hang);
    for (int i = 1; i < N; i++)
        reqs[i] = quick(stop);
    struct each_log log = {.stop_after = 1};
    double t0 = mono_s();
    assert_int_equal(
        wp__http_perform_each(NULL, reqs, sizeof(reqs[0]), N, 2, 2, record_reply, &log),
        WP_E_CANCELLED);
    /* the hanging request was abandoned, not waited for (the server holds it 8 s) */
    assert_true(mono_s() - t0 < 6.0);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.order[0], 1);
    /* with two in flight at once, no more than a few of the 39 were ever sent */
    assert_true(wp_test_server_count(&srv, "/e/stop") <= 3);
}

/* cancelled() stops the batch too; a cancelled reply is never handed over. */
static void test_each_cancelled(void **state)
{
    (void)state;
    char hang[256], fast[256];
    url_of("/e/hang", hang, sizeof(hang));
    url_of("/e/fast", fast, sizeof(fast));
    struct wp_http_request reqs[3] = {quick(hang), quick(fast), quick(hang)};
    struct test_ctx t;
    test_ctx_init(&t);

    /* from another thread, while the hanging requests are in flight */
    struct each_log log = {0};
    pthread_t th;
    pthread_create(&th, NULL, cancel_soon, &t);
    double t0 = mono_s();
    assert_int_equal(
        wp__http_perform_each(&t.ctx, reqs, sizeof(reqs[0]), 3, 0, 0, record_reply, &log),
        WP_E_CANCELLED);
    pthread_join(th, NULL);
    assert_true(mono_s() - t0 < 6.0);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.order[0], 1);
    assert_int_equal(log.code[0], WP_OK);

    /* from the callback itself */
    struct wp_http_request two[3] = {quick(fast), quick(hang), quick(fast)};
    struct each_log log2 = {0};
    atomic_store(&t.cancel, false);
    log2.cancel_in_callback = &t;
    assert_int_equal(
        wp__http_perform_each(&t.ctx, two, sizeof(two[0]), 3, 1, 1, record_reply, &log2),
        WP_E_CANCELLED);
    assert_int_equal(log2.n, 1);
    assert_int_equal(log2.order[0], 0);

    /* already cancelled: nothing is sent, nothing handed over */
    struct each_log log3 = {0};
    size_t before = wp_test_server_count(&srv, "/e/fast");
    assert_int_equal(
        wp__http_perform_each(&t.ctx, two, sizeof(two[0]), 3, 0, 0, record_reply, &log3),
        WP_E_CANCELLED);
    assert_int_equal(log3.n, 0);
    assert_int_equal(wp_test_server_count(&srv, "/e/fast"), before);
}

/*
 * A callback that holds the loop longer than another request's timeout does not cost that
 * request an attempt: its timeout is the caller's doing, so it is tried again.
 */
static void test_each_slow_callback_not_counted(void **state)
{
    (void)state;
    char fast[256], late[256];
    url_of("/e/fast", fast, sizeof(fast));
    url_of("/e/late", late, sizeof(late));
    struct wp_http_request reqs[2] = {quick(fast), quick(late)};
    reqs[1].timeout_ms = 1000;
    reqs[1].max_attempts = 1;
    struct each_log log = {.hold_ms = 1500};
    struct test_ctx t;
    test_ctx_init(&t);
    assert_int_equal(
        wp__http_perform_each(&t.ctx, reqs, sizeof(reqs[0]), 2, 2, 2, record_reply, &log), WP_OK);
    assert_non_null(strstr(t.logs, "attempt not counted"));
    assert_int_equal(log.n, 2);
    assert_int_equal(log.order[1], 1);
    assert_int_equal(log.code[1], WP_OK);
    assert_int_equal(log.status[1], 200);
    assert_string_equal(log.body[1], "late");
}

/* Through the ABI wrapper: requests at the plugin's stride, replies at its size. */
struct abi_check {
    size_t size;
    size_t calls;
    bool tail_zero;
    bool fields_ok;
};

static bool check_abi_reply(void *arg, size_t index, const struct wp_http_response *resp)
{
    (void)index;
    struct abi_check *c = arg;
    c->calls++;
    const unsigned char *bytes = (const unsigned char *)resp;
    c->fields_ok = resp->code == WP_OK && resp->status == 200 && resp->body &&
                   strcmp(resp->body, "abi") == 0 && resp->etag &&
                   strcmp(resp->etag, "\"e1\"") == 0;
    c->tail_zero = true;
    for (size_t i = sizeof(*resp); i < c->size; i++)
        c->tail_zero = c->tail_zero && bytes[i] == 0;
    return true;
}

static void test_each_abi(void **state)
{
    (void)state;
    char url[256];
    url_of("/e/abi", url, sizeof(url));
    /* a plugin from the future: larger request and response structs */
    struct future_req {
        struct wp_http_request req;
        char newer[40];
    } reqs[2];
    memset(reqs, 0x5a, sizeof(reqs));
    reqs[0].req = quick(url);
    reqs[1].req = quick(url);
    struct abi_check c = {.size = sizeof(struct wp_http_response) + 48};
    struct wp_http_abi abi = {.request_size = sizeof(reqs[0]),
                              .response_size = sizeof(struct wp_http_response) + 48};
    assert_int_equal(
        wp__http_perform_each_abi(NULL, abi, &reqs[0].req, 2, 0, 0, check_abi_reply, &c), WP_OK);
    assert_int_equal(c.calls, 2);
    assert_true(c.fields_ok);
    assert_true(c.tail_zero);

    /* a 2.0 plugin: the smallest structs the loader accepts */
    struct abi_check c20 = {.size = WP_HTTP_RESPONSE_MIN_SIZE};
    struct wp_http_request one = quick(url);
    abi = (struct wp_http_abi){.request_size = WP_HTTP_REQUEST_MIN_SIZE,
                               .response_size = WP_HTTP_RESPONSE_MIN_SIZE};
    assert_int_equal(wp__http_perform_each_abi(NULL, abi, &one, 1, 0, 0, check_abi_reply, &c20),
                     WP_OK);
    assert_int_equal(c20.calls, 1);
    assert_true(c20.fields_ok);

    /* sizes below 2.0, or no callback, are refused */
    abi.response_size = WP_HTTP_RESPONSE_MIN_SIZE - 1;
    assert_int_equal(wp__http_perform_each_abi(NULL, abi, &one, 1, 0, 0, check_abi_reply, &c20),
                     WP_E_INVALID);
    abi.response_size = WP_HTTP_RESPONSE_MIN_SIZE;
    assert_int_equal(wp__http_perform_each_abi(NULL, abi, &one, 1, 0, 0, NULL, NULL), WP_E_INVALID);
}

struct thread_job {
    char url[256];
    int failures;
};

static void *fetch_in_thread(void *arg)
{
    struct thread_job *job = arg;
    for (int i = 0; i < 20; i++) {
        struct wp_http_request req = quick(job->url);
        struct wp_http_response resp;
        if (wp__http_perform(NULL, &req, &resp) != WP_OK || resp.status != 200 ||
            strcmp(resp.body, "hello") != 0)
            job->failures++;
        wp__http_response_release(&resp);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    struct thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        url_of("/ok", jobs[i].url, sizeof(jobs[i].url));
        assert_int_equal(pthread_create(&t[i], NULL, fetch_in_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_headers),
        cmocka_unit_test(test_not_found_is_not_retried),
        cmocka_unit_test(test_retry_after_honoured),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_hostile_retry_after),
        cmocka_unit_test(test_reset_is_retried),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_refused_urls),
        cmocka_unit_test(test_decoding),
        cmocka_unit_test(test_broken_encoding),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_drip_times_out),
        cmocka_unit_test(test_post_echo),
        cmocka_unit_test(test_canary_never_leaks),
        cmocka_unit_test(test_tls_fails_closed),
        cmocka_unit_test(test_breaker),
        cmocka_unit_test(test_perform_many),
        cmocka_unit_test(test_many_per_host_limit),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_each_completion_order),
        cmocka_unit_test(test_each_long_batch),
        cmocka_unit_test(test_each_stop_from_callback),
        cmocka_unit_test(test_each_cancelled),
        cmocka_unit_test(test_each_slow_callback_not_counted),
        cmocka_unit_test(test_each_abi),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
