/*
 * test_fetch_files.c - the fetch stage on local files: text, charsets, feeds, ninjs,
 * folders and globs, de-duplication, and bad input. No network.
 */
#include <unistd.h>

#include "fetch_test.h"

static json_t *paths_config(const char *path)
{
    return json_pack("{s:[s]}", "paths", path);
}

/* Run generate() over one fixture and return the mock (caller releases). */
static void run_one(struct wp_mock *m, const char *rel)
{
    fetch_create_with(m, paths_config(fixture(rel)));
    assert_int_equal(wp_mock_generate(m), WP_OUTCOME_OK);
}

static void test_plain_text_file(void **state)
{
    (void)state;
    struct wp_mock m;
    char path[1024];
    snprintf(path, sizeof(path), "%s/../../pipelines/samples/sputnik-turkey-iran.txt", fixtures());
    fetch_create_with(&m, paths_config(path));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *item = json_array_get(m.emitted, 0);
    const char *id = item_str(item, "id");
    assert_non_null(id);
    assert_int_equal(strlen(id), 7 + 64);
    assert_memory_equal(id, "sha256:", 7);
    assert_contains(item_str(item, "uri"), "file://");
    assert_contains(item_str(item, "uri"), "sputnik-turkey-iran.txt");
    assert_string_equal(source_str(item, "name"), "sputnik-turkey-iran.txt");
    assert_string_equal(source_str(item, "content_type"), "text/plain");
    assert_string_equal(source_str(item, "charset"), "utf-8");
    assert_int_equal(source_int(item, "replacement_chars"), 0);
    assert_non_null(source_str(item, "fetched_at"));
    assert_contains(item_str(item, "content"), "Turkish and Iranian chiefs");
    assert_int_equal(json_array_size(m.dead_letters), 0);
    wp_mock_release(&m);
}

struct charset_case {
    const char *file;
    const char *charset;
};

static void test_charsets(void **state)
{
    (void)state;
    static const struct charset_case cases[] = {
        {"ar-windows-1256.html", "windows-1256"},
        {"fa-windows-1256.html", "windows-1256"},
        {"tr-iso-8859-9.html", "windows-1254"},
        {"ru-koi8-r.html", "koi8-r"},
        {"ru-windows-1251-undeclared.txt", "windows-1251"},
        {"ru-koi8-r-undeclared.txt", "koi8-r"},
        {"tr-utf16le-bom.txt", "utf-16le"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rel[256], exp[256];
        snprintf(rel, sizeof(rel), "charsets/%s", cases[i].file);
        snprintf(exp, sizeof(exp), "charsets/%.*s.expected",
                 (int)(strrchr(cases[i].file, '.') - cases[i].file), cases[i].file);
        char *expected = slurp(fixture(exp));
        assert_non_null(expected);
        struct wp_mock m;
        run_one(&m, rel);
        assert_int_equal(json_array_size(m.emitted), 1);
        json_t *item = json_array_get(m.emitted, 0);
        if (!strstr(item_str(item, "content"), expected))
            fprintf(stderr, "case %s: charset %s\n", cases[i].file, source_str(item, "charset"));
        assert_contains(item_str(item, "content"), expected);
        assert_string_equal(source_str(item, "charset"), cases[i].charset);
        assert_int_equal(source_int(item, "replacement_chars"), 0);
        free(expected);
        wp_mock_release(&m);
    }
}

static void test_invalid_utf8_is_repaired_and_counted(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "charsets/invalid-utf8.txt");
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *item = json_array_get(m.emitted, 0);
    char *expected = slurp(fixture("charsets/invalid-utf8.expected"));
    assert_contains(item_str(item, "content"), expected);
    assert_contains(item_str(item, "content"), "Valid start.");
    assert_contains(item_str(item, "content"), "\xEF\xBF\xBD middle \xEF\xBF\xBD and ");
    assert_string_equal(source_str(item, "charset"), "utf-8");
    /* 0x80; E2 82 (truncated); C0 and AF (C0 can never start a sequence) */
    assert_int_equal(source_int(item, "replacement_chars"), 4);
    free(expected);
    wp_mock_release(&m);
}

static void test_rss2(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "feeds/rss2.xml");
    assert_int_equal(json_array_size(m.emitted), 3);
    json_t *a = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(a, "headline"), "Ministers meet in Ankara & agree on trade");
    assert_string_equal(item_str(a, "uri"), "http://wire.example/news/1");
    assert_string_equal(item_str(a, "published"), "2021-06-22T21:35:00Z");
    assert_string_equal(source_str(a, "guid"), "wire-0001");
    assert_string_equal(source_str(a, "content_type"), "text/html");
    assert_string_equal(item_str(a, "content"),
                        "<p>The ministers met on <b>Monday</b>.</p><p>They agreed.</p>");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "authors"), 0)),
                        "Ayşe Yılmaz");
    assert_int_equal(json_array_size(json_object_get(a, "keywords")), 2);
    /* The id is the hash of the GUID as written, so it never changes. */
    assert_string_equal(item_str(a, "id"),
                        "sha256:" /* printf wire-0001 | sha256sum */
                        "4f88a779337b4263fbf61136b0c03f02ff16c16afcf054a97993ed3386306ae3");
    json_t *b = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(b, "uri"), "http://wire.example/news/2?ref=rss");
    assert_string_equal(item_str(b, "content"), "<p>Escaped <i>HTML</i> description.</p>");
    assert_string_equal(item_str(b, "published"), "2021-06-23T08:00:00Z");
    json_t *c = json_array_get(m.emitted, 2);
    assert_null(json_object_get(c, "published"));
    assert_contains(json_string_value(json_object_get(
                        json_array_get(json_object_get(c, "errors"), 0), "message")),
                    "unreadable entry date");
    /* The fourth entry has nothing to identify it. */
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "entry 4 has no title, link or id");
    wp_mock_release(&m);
}

static void test_atom(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "feeds/atom.xml");
    assert_int_equal(json_array_size(m.emitted), 2);
    json_t *a = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(a, "headline"), "Тегеран и Анкара договорились");
    assert_string_equal(item_str(a, "uri"), "http://atom.example/2021/06/22/story");
    assert_string_equal(item_str(a, "published"), "2021-06-22T17:30:02Z");
    assert_string_equal(item_str(a, "content"), "<p>Full <em>story</em>.</p>");
    assert_string_equal(source_str(a, "content_type"), "text/html");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "authors"), 0)),
                        "Иван Петров");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "keywords"), 0)),
                        "Politics");
    json_t *b = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(b, "content"), "Plain text content.");
    assert_string_equal(source_str(b, "content_type"), "text/plain");
    assert_string_equal(item_str(b, "published"), "2021-06-23T11:00:00Z");
    wp_mock_release(&m);
}

static void test_feed_in_windows_1251(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "charsets/ru-windows-1251-feed.xml");
    assert_int_equal(json_array_size(m.emitted), 1);
    json_t *a = json_array_get(m.emitted, 0);
    char *expected = slurp(fixture("charsets/ru-windows-1251-feed.expected"));
    assert_string_equal(item_str(a, "headline"), "Новые переговоры");
    assert_contains(item_str(a, "content"), expected);
    assert_string_equal(source_str(a, "charset"), "windows-1251");
    free(expected);
    wp_mock_release(&m);
}

static void test_bad_feeds(void **state)
{
    (void)state;
    struct wp_mock m;
    json_t *config = json_pack("{s:[s,s,s]}", "paths", fixture("feeds/broken.xml"), "", "");
    json_array_set_new(json_object_get(config, "paths"), 1,
                       json_string(fixture("feeds/not-a-feed.xml")));
    json_array_set_new(json_object_get(config, "paths"), 2, json_string(fixture("feeds/xxe.xml")));
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    /* broken.xml: dead-lettered with the line; not-a-feed.xml: a page; xxe.xml: read, no entity */
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "broken feed: line");
    assert_contains(dead_message(&m, 0), "broken.xml");
    assert_int_equal(json_array_size(m.emitted), 2);
    json_t *page = json_array_get(m.emitted, 0);
    assert_contains(item_str(page, "content"), "<catalog>");
    json_t *xxe = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(xxe, "uri"), "http://x.example/xxe");
    char *hostname = slurp("/etc/hostname");
    const char *headline = item_str(xxe, "headline");
    if (hostname && hostname[0] && headline)
        assert_null(strstr(headline, hostname));
    free(hostname);
    wp_mock_release(&m);
}

/* Nested internal entities ("billion laughs"): refused by the parser, quickly. */
static void test_entity_expansion_bomb(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "feeds/laughs.xml");
    assert_int_equal(json_array_size(m.emitted), 0);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "broken feed: line");
    wp_mock_release(&m);
}

static void test_ninjs_agency_examples(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "ninjs/*.json");
    /* Sorted: dpa, ninjsExSimpleText_2, ntb, tt. */
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_int_equal(json_array_size(m.dead_letters), 0);

    json_t *dpa = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(dpa, "uri"), "urn:newsml:dpa.com:20090101:190510-99-167362");
    assert_string_equal(item_str(dpa, "headline"),
                        "Faktencheck Derby-Elfmeter: Hat Schiedsrichter Zwayer recht?");
    assert_string_equal(item_str(dpa, "language"), "de");
    assert_string_equal(item_str(dpa, "published"), "2019-05-10T14:02:28Z");
    assert_contains(item_str(dpa, "content"), "<p>Für Lucien Favre war es «der größte Skandal");
    assert_null(json_object_get(dpa, "body"));
    assert_string_equal(source_str(dpa, "content_type"), "text/html");
    assert_string_equal(json_string_value(json_array_get(json_object_get(dpa, "authors"), 0)),
                        "Von Christian Hollmann, dpa");
    assert_string_equal(item_str(json_object_get(dpa, "ninjs"), "copyrightholder"), "dpa");

    json_t *iptc = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(iptc, "headline"),
                        "Captain of wrecked cruise ship on trial in Italy");
    assert_contains(item_str(iptc, "body"), "GROSSETO, Italy (AP)");
    assert_null(json_object_get(iptc, "language"));

    json_t *ntb = json_array_get(m.emitted, 2);
    assert_string_equal(item_str(ntb, "language"), "nb-NO");
    assert_contains(item_str(ntb, "body"), "IT-giganten Google har kjøpt en tomt");
    assert_int_equal(json_array_size(json_object_get(ntb, "keywords")), 4);
    assert_string_equal(item_str(ntb, "published"), "2019-08-09T09:46:53Z");

    json_t *tt = json_array_get(m.emitted, 3);
    assert_string_equal(item_str(tt, "headline"), "Militärövning i jätteformat hålls 2023");
    assert_string_equal(item_str(tt, "language"), "sv");
    const char *body = item_str(tt, "body");
    assert_contains(body, "Militärövning i jätteformat hålls 2023\n\nFörsvar TT\n\nPandemin");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tt, "keywords"), 0)),
                        "Krig, konflikter och oroligheter");
    /* Ids differ and are the hash of the ninjs uri. */
    assert_string_not_equal(item_str(dpa, "id"), item_str(tt, "id"));
    wp_mock_release(&m);
}

static void test_ninjs_array_and_lines(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "json/array.json");
    assert_int_equal(json_array_size(m.emitted), 2);
    json_t *a = json_array_get(m.emitted, 0);
    assert_string_equal(item_str(a, "body"), "Line one.\n\nLine two.");
    json_t *b = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(b, "headline"), "Eski ninjs 1.x başlığı");
    assert_string_equal(item_str(b, "body"), "Gövde metni.");
    assert_string_equal(item_str(b, "published"), "2021-06-22T12:00:00Z");
    wp_mock_release(&m);

    /* JSON Lines with a broken second line: two items and one dead letter naming line 2. */
    run_one(&m, "json/lines.jsonl");
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "lines.jsonl:2: invalid JSON");
    wp_mock_release(&m);
}

static void test_json_that_is_not_ninjs(void **state)
{
    (void)state;
    struct wp_mock m;
    json_t *config = json_pack("{s:[s,s]}", "paths", "", "");
    json_array_set_new(json_object_get(config, "paths"), 0,
                       json_string(fixture("json/not-ninjs.json")));
    json_array_set_new(json_object_get(config, "paths"), 1,
                       json_string(fixture("json/invalid.json")));
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 0);
    assert_int_equal(json_array_size(m.dead_letters), 2);
    assert_contains(dead_message(&m, 0), "not a ninjs object: no 'uri' string");
    assert_contains(dead_message(&m, 1), "invalid JSON at line 1");
    wp_mock_release(&m);
}

static void test_glob_and_missing_file(void **state)
{
    (void)state;
    struct wp_mock m;
    char pattern[1024];
    snprintf(pattern, sizeof(pattern), "%s/fetch/charsets/ru-*-undeclared.txt", fixtures());
    json_t *config = json_pack("{s:[s,s]}", "paths", "/nonexistent/wirepipe/file.txt", pattern);
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    /* The missing file is dead-lettered; the glob's two files follow in sorted order. */
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "cannot open '/nonexistent/wirepipe/file.txt'");
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_contains(source_str(json_array_get(m.emitted, 0), "url"), "ru-koi8-r-undeclared.txt");
    assert_contains(source_str(json_array_get(m.emitted, 1), "url"),
                    "ru-windows-1251-undeclared.txt");
    wp_mock_release(&m);
}

static void test_file_over_max_body(void **state)
{
    (void)state;
    struct wp_mock m;
    json_t *config = json_pack("{s:[s],s:i}", "paths", fixture("feeds/rss2.xml"), "max_body", 100);
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_RETRY); /* its only source failed */
    assert_int_equal(json_array_size(m.emitted), 0);
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "larger than max_body (100)");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(m.dead_letters, 0), "code")), "limit");
    wp_mock_release(&m);
}

static void test_dedup_across_runs(void **state)
{
    (void)state;
    struct wp_mock m;
    run_one(&m, "feeds/atom.xml");
    assert_int_equal(json_array_size(m.emitted), 2);
    /* Delivered, then a second run with the same state store: nothing new. */
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_int_equal(metric(&m, "duplicates"), 2);
    wp_mock_release(&m);

    json_t *config = json_pack("{s:[s],s:b}", "paths", fixture("feeds/atom.xml"), "dedup", 0);
    fetch_create_with(&m, config);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 4);
    assert_string_equal(item_str(json_array_get(m.emitted, 0), "id"),
                        item_str(json_array_get(m.emitted, 2), "id"));
    wp_mock_release(&m);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A new version of a ninjs story (same uri) comes out again; the same version does not. */
static void test_dedup_lets_new_versions_through(void **state)
{
    (void)state;
    char dir[] = "/tmp/wp-fetch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/story.json", dir);
    write_text(path, "{\"uri\": \"urn:test:story\", \"version\": \"1\", \"headline\": \"v1\"}");
    struct wp_mock m;
    fetch_create_with(&m, paths_config(path));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    ack_emitted(&m, 0, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_int_equal(metric(&m, "duplicates"), 1);
    write_text(path, "{\"uri\": \"urn:test:story\", \"version\": \"2\", \"headline\": \"v2\"}");
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    assert_int_equal(metric(&m, "updates"), 1);
    json_t *second = json_array_get(m.emitted, 1);
    assert_string_equal(item_str(second, "headline"), "v2");
    assert_string_equal(item_str(second, "id"), item_str(json_array_get(m.emitted, 0), "id"));
    assert_null(json_object_get(second, "x_fetch_revision"));
    ack_emitted(&m, 1, WP_ACK_DELIVERED);
    restart(&m);
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 2);
    wp_mock_release(&m);
    unlink(path);
    rmdir(dir);
}

static void test_process_passes_and_refuses(void **state)
{
    (void)state;
    struct wp_mock m;
    fetch_create_with(&m, json_object());
    json_t *has_body = json_pack("{s:s,s:s}", "uri", "http://127.0.0.1:9/x", "body", "text");
    assert_int_equal(wp_mock_process(&m, has_body), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.emitted), 0);
    json_decref(has_body);
    json_t *file_uri = json_pack("{s:s}", "uri", "file:///etc/passwd");
    assert_int_equal(wp_mock_process(&m, file_uri), WP_OUTCOME_REJECT);
    assert_contains(m.fail_text, "only name http or https");
    json_decref(file_uri);
    wp_mock_release(&m);
}

static void test_empty_and_bracketed_text(void **state)
{
    (void)state;
    struct wp_mock m;
    char pattern[1024];
    snprintf(pattern, sizeof(pattern), "%s/fetch/misc/*", fixtures());
    fetch_create_with(&m, paths_config(pattern));
    assert_int_equal(wp_mock_generate(&m), WP_OUTCOME_OK);
    /* bracketed.txt looks like JSON at first sight but is a wire text. */
    assert_int_equal(json_array_size(m.emitted), 1);
    assert_contains(item_str(json_array_get(m.emitted, 0), "content"), "[Reuters] ANKARA");
    assert_int_equal(json_array_size(m.dead_letters), 1);
    assert_contains(dead_message(&m, 0), "empty.txt: empty document");
    wp_mock_release(&m);
}

static void test_config_errors(void **state)
{
    (void)state;
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "fetch", NULL, "{\"urls\":[\"gopher://x/\"]}"),
                     WP_E_CONFIG);
    assert_contains(m.fail_text, "urls[0]: 'gopher://x/' is not an http, https or file URL");
    wp_mock_release(&m);
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "fetch", NULL, "{\"concurrency\":0}"), WP_E_CONFIG);
    assert_contains(m.fail_text, "concurrency: expected an integer from 1 to 256");
    wp_mock_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_file),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_invalid_utf8_is_repaired_and_counted),
        cmocka_unit_test(test_rss2),
        cmocka_unit_test(test_atom),
        cmocka_unit_test(test_feed_in_windows_1251),
        cmocka_unit_test(test_bad_feeds),
        cmocka_unit_test(test_entity_expansion_bomb),
        cmocka_unit_test(test_ninjs_agency_examples),
        cmocka_unit_test(test_ninjs_array_and_lines),
        cmocka_unit_test(test_json_that_is_not_ninjs),
        cmocka_unit_test(test_glob_and_missing_file),
        cmocka_unit_test(test_file_over_max_body),
        cmocka_unit_test(test_dedup_across_runs),
        cmocka_unit_test(test_dedup_lets_new_versions_through),
        cmocka_unit_test(test_process_passes_and_refuses),
        cmocka_unit_test(test_empty_and_bracketed_text),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
