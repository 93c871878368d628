/*
 * test_fetch_http.c - the fetch stage against tests/servers/scripted_http.py on 127.0.0.1:
 * statuses, conditional GET, retries, redirects, limits, gzip, charsets from the header,
 * feeds with follow, ninjs, and a Content-Type that lies.
 */
#include "fetch_test.h"
#include "test_server.h"

static char routes_buf[16384];

/* Start the server with routes JSON where "@F@" stands for the fetch fixtures folder. */
static void start(struct wp_test_server *srv, const char *routes)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/fetch", fixtures());
    size_t o = 0;
    for (const char *p = routes; *p && o < sizeof(routes_buf) - 1;) {
        if (strncmp(p, "@F@", 3) == 0) {
            o += (size_t)snprintf(routes_buf + o, sizeof(routes_buf) - o, "%s", dir);
            p += 3;
        } else {
            routes_buf[o++] = *p++;
        }
    }
    routes_buf[o] = '\0';
    assert_int_equal(wp_test_server_start(srv, routes_buf), 0);
}

static json_t *urls_config(const struct wp_test_server *srv, const char *path)
{
    char url[256];
    wp_test_server_url(srv, path, url, sizeof(url));
    return json_pack("{s:[s],s:i,s:i}", "urls", url, "max_attempts", 3, "timeout_ms", 5000);
}

static const char *dead_code(const struct wp_mock *m, size_t i)
{
    return json_string_value(json_object_get(json_array_get(m->dead_letters, i), "code"));
}

static void test_200_and_conditional_get(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/page\": [{\"status\": 200, \"headers\": {\"Content-Type\": \"text/html; "
                "charset=utf-8\", \"ETag\": \"\\\"v1\\\"\", \"Last-Modified\": \"Tue, 22 Jun 2021 "
                "10:00:00 GMT\"}, \"body\": \"<html><body><p>Hello wire</p></body></html>\"},"
                "{\"status\": 304, \"headers\": {\"ETag\": \"\\\"v1\\\"\"}}]}");
    struct wp_mock m;
    fetch_create_with(&m, urls_config(&srv, "/page"));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *item = json_array_get(m.emitted, 0);
    char url[256];
    wp_test_server_url(&srv, "/page", url, sizeof(url));
    assert_string_equal(item_str(item, "uri"), url);
    assert_string_equal(source_str(item, "name"), "127.0.0.1");
    assert_int_equal(source_int(item, "http_status"), 200);
    assert_string_equal(source_str(item, "content_type"), "text/html");
    assert_string_equal(source_str(item, "charset"), "utf-8");
    assert_contains(item_str(item, "content"), "<p>Hello wire</p>");

    /* Delivered; the next run sends the validators back and the 304 yields nothing. */
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_int_equal(metric(&m, "not_modified"), 1);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    json_t *reqs = wp_test_server_requests(&srv);
    assert_int_equal(json_array_size(reqs), 2);
    json_t *headers = json_object_get(json_array_get(reqs, 1), "headers");
    const char *inm = NULL, *ims = NULL, *ua = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(headers, key, v)
    {
        if (strcasecmp(key, "If-None-Match") == 0)
            inm = json_string_value(v);
        if (strcasecmp(key, "If-Modified-Since") == 0)
            ims = json_string_value(v);
        if (strcasecmp(key, "User-Agent") == 0)
            ua = json_string_value(v);
    }
    assert_non_null(inm);
    assert_string_equal(inm, "\"v1\"");
    assert_non_null(ims);
    assert_contains(ua, "wirepipe");
    json_decref(reqs);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_404_is_dead_lettered_once(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/ok\": [{\"body\": \"fine\"}]}");
    char missing[256], ok[256];
    wp_test_server_url(&srv, "/missing", missing, sizeof(missing));
    wp_test_server_url(&srv, "/ok", ok, sizeof(ok));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s]}", "urls", missing, ok));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "http 404");
    assert_string_equal(dead_code(&m, 0), "http");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(m.dead_letters, 0), "item"), "uri")),
                        missing);
    assert_int_equal(wp_test_server_count(&srv, "/missing"), 1);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_429_retry_after_then_200(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/busy\": [{\"status\": 429, \"headers\": {\"Retry-After\": \"1\"}},"
                "{\"status\": 200, \"body\": \"served after waiting\"}]}");
    struct wp_mock m;
    fetch_create_with(&m, urls_config(&srv, "/busy"));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_int_equal(wp_test_server_count(&srv, "/busy"), 2);
    assert_contains(item_str(json_array_get(m.emitted, 0), "content"), "served after waiting");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_503_until_the_last_attempt(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/down\": [{\"status\": 503, \"headers\": {\"Retry-After\": \"0\"}}]}");
    struct wp_mock m;
    fetch_create_with(&m, urls_config(&srv, "/down"));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY); /* no source answered */
    assert_int_equal(json_array_size(m.emitted), 0);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "503");
    assert_int_equal(wp_test_server_count(&srv, "/down"), 3);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_redirects_refused(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/loop\": [{\"status\": 302, \"headers\": {\"Location\": \"/loop\"}}],"
                "\"/tofile\": [{\"status\": 302, \"headers\": {\"Location\": "
                "\"file:///etc/passwd\"}}],"
                "\"/hop\": [{\"status\": 301, \"headers\": {\"Location\": \"/final\"}}],"
                "\"/final\": [{\"body\": \"landed\"}]}");
    char loop[256], tofile[256], hop[256], final[256];
    wp_test_server_url(&srv, "/loop", loop, sizeof(loop));
    wp_test_server_url(&srv, "/tofile", tofile, sizeof(tofile));
    wp_test_server_url(&srv, "/hop", hop, sizeof(hop));
    wp_test_server_url(&srv, "/final", final, sizeof(final));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s,s]}", "urls", loop, tofile, hop));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    /* Replies are handled in the order they complete. */
    assert_int_equal(json_array_size(m.dead_letters), 2);
    assert_int_equal(dead_with(&m, loop), 1);
    assert_int_equal(dead_with(&m, tofile), 1);
    assert_true(wp_test_server_count(&srv, "/loop") <= 6);
    /* A redirect within http(s) is followed and the item names where it landed. */
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_string_equal(source_str(json_array_get(m.emitted, 0), "url"), final);
    assert_contains(item_str(json_array_get(m.emitted, 0), "content"), "landed");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_slow_and_oversized_bodies(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/slow\": [{\"body\": \"0123456789012345678901234567890123456789\","
                " \"drip_bytes_per_s\": 2}],"
                "\"/big\": [{\"body\": \"0123456789abcdef\", \"repeat_body\": 8192}],"
                "\"/bigchunked\": [{\"body\": \"0123456789abcdef\", \"repeat_body\": 8192,"
                " \"chunked\": true}]}");
    char slow[256], big[256], bigc[256];
    wp_test_server_url(&srv, "/slow", slow, sizeof(slow));
    wp_test_server_url(&srv, "/big", big, sizeof(big));
    wp_test_server_url(&srv, "/bigchunked", bigc, sizeof(bigc));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s,s],s:i,s:i,s:i}", "urls", slow, big, bigc,
                                    "timeout_ms", 1000, "max_body", 65536, "max_attempts", 1));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY); /* no source answered */
    assert_int_equal(json_array_size(m.emitted), 0);
    assert_int_equal(json_array_size(m.dead_letters), 3);
    /* in completion order: the limits at once, the timeout after a second */
    assert_string_equal(dead_code(&m, 2), "timeout");
    assert_int_equal(dead_with_code(&m, "limit"), 2);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_gzip_and_truncated_gzip(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/gz\": [{\"body\": \"compressed wire text\", \"gzip\": true,"
                " \"repeat_body\": 50}],"
                "\"/cut\": [{\"body\": \"compressed wire text\", \"repeat_body\": 500,"
                " \"truncate_gzip\": true}]}");
    char gz[256], cut[256];
    wp_test_server_url(&srv, "/gz", gz, sizeof(gz));
    wp_test_server_url(&srv, "/cut", cut, sizeof(cut));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s],s:i}", "urls", gz, cut, "max_attempts", 1));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_contains(item_str(json_array_get(m.emitted, 0), "content"),
                    "compressed wire textcompressed wire text");
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), cut);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_charset_from_header(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/ar\": [{\"headers\": {\"Content-Type\": \"text/html; charset=windows-1256\"},"
                " \"body_file\": \"@F@/charsets/ar-windows-1256-bare.html\"}],"
                "\"/ru\": [{\"headers\": {\"Content-Type\": \"text/html;charset=\\\"KOI8-R\\\"\"},"
                " \"body_file\": \"@F@/charsets/ru-koi8-r-bare.html\"}],"
                "\"/tr\": [{\"headers\": {\"Content-Type\": \"text/html; charset=ISO-8859-9\"},"
                " \"body_file\": \"@F@/charsets/tr-iso-8859-9-bare.html\"}],"
                "\"/bad\": [{\"headers\": {\"Content-Type\": \"text/plain; charset=utf-8\"},"
                " \"body_file\": \"@F@/charsets/invalid-utf8.txt\"}]}");
    char ar[256], ru[256], tr[256], bad[256];
    wp_test_server_url(&srv, "/ar", ar, sizeof(ar));
    wp_test_server_url(&srv, "/ru", ru, sizeof(ru));
    wp_test_server_url(&srv, "/tr", tr, sizeof(tr));
    wp_test_server_url(&srv, "/bad", bad, sizeof(bad));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s,s,s]}", "urls", ar, ru, tr, bad));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    static const char *const expected[] = {"ar-windows-1256-bare", "ru-koi8-r-bare",
                                           "tr-iso-8859-9-bare", "invalid-utf8"};
    static const char *const charsets[] = {"windows-1256", "koi8-r", "windows-1254", "utf-8"};
    const char *const urls[] = {ar, ru, tr, bad};
    for (size_t i = 0; i < 4; i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "charsets/%s.expected", expected[i]);
        char *text = slurp(fixture(rel));
        json_t *item = emitted_from(&m, urls[i]); /* items come in completion order */
        assert_non_null(item);
        assert_contains(item_str(item, "content"), text);
        assert_string_equal(source_str(item, "charset"), charsets[i]);
        free(text);
    }
    assert_int_equal(source_int(emitted_from(&m, bad), "replacement_chars"), 4);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_rss_follow(void **state)
{
    (void)state;
    struct wp_test_server srv;
    /* The feed links to a page on this server, to file: and to a 404. */
    start(&srv, "{\"/feed\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
                " \"body\": \"<rss version='2.0'><channel><title>t</title>"
                "<item><title>One</title><link>/story/1</link><guid>g1</guid></item>"
                "<item><title>Two</title><link>file:///etc/passwd</link><guid>g2</guid></item>"
                "<item><title>Three</title><link>/story/404</link><guid>g3</guid></item>"
                "</channel></rss>\"}],"
                "\"/story/1\": [{\"headers\": {\"Content-Type\": \"text/html; "
                "charset=windows-1256\"}, \"body_file\": "
                "\"@F@/charsets/ar-windows-1256-bare.html\"}]}");
    json_t *config = urls_config(&srv, "/feed");
    json_object_set_new(config, "follow", json_true());
    struct wp_mock m;
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *item = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(item, "headline"), "One");
    char *expected = slurp(fixture("charsets/ar-windows-1256-bare.expected"));
    assert_contains(item_str(item, "content"), expected);
    free(expected);
    char story[256];
    wp_test_server_url(&srv, "/story/1", story, sizeof(story));
    assert_string_equal(source_str(item, "url"), story);
    assert_string_equal(source_str(item, "charset"), "windows-1256");
    assert_int_equal(json_array_size(m.dead_letters), 2);
    assert_contains(dead_message(&m, 0), "refusing to follow 'file:' link");
    assert_contains(dead_message(&m, 1), "http 404");
    /* The dead-lettered entries keep what the feed said about them. */
    json_t *dead = json_object_get(json_array_get(m.dead_letters, 0), "item");
    assert_string_equal(item_str(dead, "headline"), "Two");
    assert_int_equal(wp_test_server_count(&srv, "/story/1"), 1);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_ninjs_and_lying_content_type(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/ninjs\": [{\"headers\": {\"Content-Type\": \"application/json\"},"
                " \"body_file\": \"@F@/ninjs/ntb_text.json\"}],"
                "\"/notrss\": [{\"headers\": {\"Content-Type\": \"application/rss+xml\"},"
                " \"body\": \"<html><body>Sorry, the feed moved</body></html>\"}],"
                "\"/htmljson\": [{\"headers\": {\"Content-Type\": \"text/html\"},"
                " \"body_file\": \"@F@/json/array.json\"}]}");
    char ninjs[256], notrss[256], htmljson[256];
    wp_test_server_url(&srv, "/ninjs", ninjs, sizeof(ninjs));
    wp_test_server_url(&srv, "/notrss", notrss, sizeof(notrss));
    wp_test_server_url(&srv, "/htmljson", htmljson, sizeof(htmljson));
    struct wp_mock m;
    fetch_create_with(&m, json_pack("{s:[s,s,s]}", "urls", ninjs, notrss, htmljson));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    /* ntb: one item; notrss: dead-lettered; htmljson: read as the ninjs it is (2 items). */
    assert_int_equal(json_array_size(m.emitted), 3);
    assert_non_null(emitted_from(&m, ninjs));
    assert_string_equal(item_str(emitted_from(&m, ninjs), "uri"),
                        "urn:8d19cf88-b3ab-4972-8fec-1207599f2872");
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0),
                    "Content-Type 'application/rss+xml' but the content is html");
    assert_string_equal(dead_code(&m, 0), "protocol");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_process_fetches_input_items(void **state)
{
    (void)state;
    struct wp_test_server srv;
    start(&srv, "{\"/p\": [{\"headers\": {\"Content-Type\": \"text/plain\"}, \"body\": \"text "
                "of the story\"}], \"/gone\": [{\"status\": 410}]}");
    struct wp_mock m;
    fetch_create_with(&m, json_object());
    char url[256];
    wp_test_server_url(&srv, "/p", url, sizeof(url));
    json_t *item = json_pack("{s:s,s:s}", "uri", url, "headline", "given by the input");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *out = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(out, "headline"), "given by the input");
    assert_string_equal(item_str(out, "content"), "text of the story");
    json_decref(item);
    wp_test_server_url(&srv, "/gone", url, sizeof(url));
    item = json_pack("{s:s}", "uri", url);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_contains(m.fail_text, "http 410");
    json_decref(item);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_200_and_conditional_get),
        cmocka_unit_test(test_404_is_dead_lettered_once),
        cmocka_unit_test(test_429_retry_after_then_200),
        cmocka_unit_test(test_503_until_the_last_attempt),
        cmocka_unit_test(test_redirects_refused),
        cmocka_unit_test(test_slow_and_oversized_bodies),
        cmocka_unit_test(test_gzip_and_truncated_gzip),
        cmocka_unit_test(test_charset_from_header),
        cmocka_unit_test(test_rss_follow),
        cmocka_unit_test(test_ninjs_and_lying_content_type),
        cmocka_unit_test(test_process_fetches_input_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
