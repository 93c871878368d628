/*
 * Tests of the extract plugin through the mock host: hand-written pages for each rule,
 * the Sputnik plain-text sample, one benchmark page, and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off: cmocka needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "mock_host.h"

static char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("WP_TEST_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/extract/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture '%s'", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* An item as fetch hands it over. */
static json_t *page_item(const char *content, size_t len, const char *content_type, const char *url)
{
    json_t *item = json_object();
    json_object_set_new(item, "content", json_stringn(content, len));
    json_t *source = json_object();
    if (content_type)
        json_object_set_new(source, "content_type", json_string(content_type));
    if (url)
        json_object_set_new(source, "url", json_string(url));
    json_object_set_new(item, "source", source);
    return item;
}

static json_t *fixture_item(const char *name, const char *content_type, const char *url)
{
    size_t len;
    char *text = read_fixture(name, &len);
    json_t *item = page_item(text, len, content_type, url);
    free(text);
    return item;
}

static const char *str(const json_t *item, const char *key)
{
    const char *s = json_string_value(json_object_get(item, key));
    if (!s)
        fail_msg("item has no string '%s'", key);
    return s;
}

/* Compare a JSON array of strings with @expected (NULL-terminated). */
static void assert_strings(const json_t *arr, const char *const *expected)
{
    size_t n = 0;
    while (expected[n])
        n++;
    if (!json_is_array(arr) || json_array_size(arr) != n) {
        char *dump = json_dumps(arr, JSON_ENCODE_ANY);
        fail_msg("expected %zu strings, got %s", n, dump ? dump : "(null)");
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(arr, i)), expected[i]);
}

/* Split a body on "\n\n" and compare the paragraphs one by one. */
static void assert_paragraphs(const char *body, const char *const *expected)
{
    size_t i = 0;
    const char *p = body;
    for (; expected[i]; i++) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n != strlen(expected[i]) || strncmp(p, expected[i], n) != 0)
            fail_msg("paragraph %zu:\n  got      '%.*s'\n  expected '%s'", i, (int)n, p,
                     expected[i]);
        if (!end) {
            i++;
            break;
        }
        p = end + 2;
    }
    if (expected[i] || strstr(p, "\n\n") || (p != body && *p && !expected[i - 1]))
        fail_msg("paragraph count differs; body:\n%s", body);
    const char *last = body;
    size_t count = 1;
    for (const char *q = strstr(body, "\n\n"); q; q = strstr(q + 2, "\n\n")) {
        count++;
        last = q + 2;
    }
    (void)last;
    assert_int_equal(count, i);
}

static void setup_mock(struct wp_mock *m, const char *config)
{
    wp_mock_init(m);
    assert_int_equal(wp_mock_create(m, "extract", NULL, config), WP_OK);
}

static size_t error_count(const json_t *item)
{
    return json_array_size(json_object_get(item, "errors"));
}

static const char *error_message(const json_t *item, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(item, "errors"), i), "message"));
}

/* ---- HTML ---------------------------------------------------------------------------- */

static void test_html_article(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("article.html", "text/html; charset=utf-8",
                                "https://coastal.example/news/x?utm=1");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);

    assert_string_equal(str(item, "headline"), "Storm closes harbour for two days");
    assert_string_equal(str(item, "language"), "en-GB");
    assert_string_equal(str(item, "published"), "2026-03-04T08:15:00Z");
    assert_string_equal(str(item, "uri"),
                        "https://coastal.example/news/2026/03/storm-closes-harbour");
    static const char *const authors[] = {"Jane Doe", "Omar Haddad", NULL};
    assert_strings(json_object_get(item, "authors"), authors);
    static const char *const keywords[] = {"weather", "harbour", "storms", "Port Elin", NULL};
    assert_strings(json_object_get(item, "keywords"), keywords);
    static const char *const body[] = {
        "The harbour at Port Elin will stay closed until Thursday after a storm tore two "
        "fishing boats from their moorings, the harbour master said on Tuesday.",
        "Waves of up to six metres battered the breakwater overnight, and the coastguard "
        "rescued three crew members from a trawler that had lost power, according to a "
        "statement from the coastguard.",
        "Damage to the quay",
        "Engineers inspected the north quay on Tuesday morning and found cracks in the "
        "concrete, which they said would need weeks of repair before heavy lorries could use "
        "it again.",
        "\xE2\x80\x9CWe have not seen a storm like this in twenty years,\xE2\x80\x9D said the "
        "harbour master, Ana Lind.",
        "Ferries to the islands, which carry about 1,200 passengers a day, will sail from the "
        "neighbouring port of Vesby instead, the operator said.",
        NULL};
    assert_paragraphs(str(item, "body"), body);
    assert_null(json_object_get(item, "content"));
    assert_int_equal(error_count(item), 0);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_html_boilerplate_removed(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("article.html", "text/html", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    const char *body = str(item, "body");
    static const char *const absent[] = {
        "Share on",  "Harbour fees",  "Related",  "terrible", "Glad everyone",
        "Copyright", "Advertisement", "tracking", "Sport",    "Privacy",
        "By Jane",   "4 March 2026",  NULL};
    for (size_t i = 0; absent[i]; i++) {
        if (strstr(body, absent[i]))
            fail_msg("boilerplate '%s' left in the body:\n%s", absent[i], body);
    }
    json_decref(item);
    wp_mock_release(&m);
}

static void test_json_ld_body(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("jsonld.html", "text/html", "https://valley.example/x");
    json_object_set_new(item, "headline", json_string("Feed headline"));
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"), "Council approves new bridge over the Alder river");
    assert_string_equal(str(item, "language"), "en-US");
    assert_string_equal(str(item, "published"), "2026-02-10T18:30:00Z");
    assert_string_equal(str(item, "uri"), "https://valley.example/news/bridge");
    static const char *const authors[] = {"Lena Park", "Tom Reyes", NULL};
    assert_strings(json_object_get(item, "authors"), authors);
    static const char *const keywords[] = {"bridge", "council", "Alder river", NULL};
    assert_strings(json_object_get(item, "keywords"), keywords);
    static const char *const body[] = {
        "The town council voted eight to three on Monday to build a new footbridge over the "
        "Alder river, ending a debate that has run for more than a decade.",
        "Construction is due to start in the spring and should take about eighteen months, the "
        "council's planning office said in a report published before the vote.",
        "Opponents had argued that the money, about 4 million euros, would be better spent on "
        "repairing the town's existing roads and the old stone bridge in the centre.",
        NULL};
    assert_paragraphs(str(item, "body"), body);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_json_ld_body_off(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, "{\"json_ld_body\": false}");
    json_t *item = fixture_item("jsonld.html", "text/html", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    static const char *const body[] = {
        "The town council voted eight to three on Monday to build a new footbridge.", NULL};
    assert_paragraphs(str(item, "body"), body);
    json_decref(item);
    wp_mock_release(&m);
}

/* The expected body's first and last sentences are found and little else is added. */
static void test_benchmark_page(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("benchmark-polygraph.html", "text/html; charset=utf-8",
                                "https://www.polygraph.info/a/fact-check-russia-us-al-tanf-"
                                "rukban/30279001.html");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    size_t len;
    char *expected = read_fixture("benchmark-polygraph.expected.txt", &len);
    const char *body = str(item, "body");
    char head[120], tail[120];
    snprintf(head, sizeof(head), "%.100s", expected);
    snprintf(tail, sizeof(tail), "%s", expected + len - 100);
    if (!strstr(body, head) || !strstr(body, tail))
        fail_msg("benchmark body lacks the expected start or end:\n%s", body);
    assert_true(strlen(body) < len * 5 / 4);
    assert_true(strlen(body) > len * 9 / 10);
    assert_string_equal(str(item, "headline"),
                        "Russia and Syria: U.S.-backed Syrian Forces Blocking Refugee Return");
    free(expected);
    json_decref(item);
    wp_mock_release(&m);
}

/* ---- plain text ---------------------------------------------------------------------- */

static void test_sputnik_text(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("sputnik-turkey-iran.txt", "text/plain; charset=utf-8",
                                "file:///samples/sputnik-turkey-iran.txt");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"),
                        "Turkey and Iran have agreed to boost military ties following the "
                        "referendum in the Iraqi Kurdistan where more than 90 percent of voters "
                        "supported the idea of independence from Iraq.");
    assert_string_equal(str(item, "published"), "2021-06-22T23:35:00Z");
    static const char *const keywords[] = {
        "military cooperation", "Hossein Baqeri", "Iran", "Turkey", "Myanmar", NULL};
    assert_strings(json_object_get(item, "keywords"), keywords);
    static const char *const body[] = {
        "Turkey and Iran have agreed to boost military ties following the referendum in the "
        "Iraqi Kurdistan where more than 90 percent of voters supported the idea of "
        "independence from Iraq.",
        "MOSCOW (Sputnik) \xE2\x80\x94 Turkish and Iranian chiefs of staff of the armed "
        "forces "
        "held a meeting on Monday in Tehran and agreed to expand military cooperation between "
        "the two countries, local media reported.",
        "According to Tasnim News Agency, the sides agreed to expand the cooperation in "
        "training, holding war games and the exchange of experience.",
        "Ankara and Tehran also discussed possibilities of military cooperation to assist "
        "Muslims in Myanmar and other countries, the media outlet said citing Iranian Maj. Gen. "
        "Mohammad Hossein Baqeri.",
        "\"We held talks on the common threats to the two countries (Iran and Turkey), and also "
        "on the (independence) referendum in the Iraqi Kurdistan Region with an emphasis on the "
        "maintenance of Iraq\xE2\x80\x99s integrity and rejection of the referendum,\" Baqeri "
        "said.",
        "Turkish Chief of Staff Gen. Hulusi Akar, on his part, said that Ankara and Tehran had "
        "reached agreements on the fight against terrorism and border security and noted the "
        "friendly character of bilateral relations.",
        "The talks of the chiefs of staff took place a few days before Turkish President Recep "
        "Tayyip Erdogan\xE2\x80\x99s planned visit to Iran, where a joint response to the "
        "recent independence referendum in Iraqi Kurdistan will be discussed. On October 4, "
        "Erdogan is expected to hold talks with Iranian President Hassan Rouhani and supreme "
        "leader Ayatollah Khamenei.",
        NULL};
    assert_paragraphs(str(item, "body"), body);
    assert_null(json_object_get(item, "language"));
    assert_null(json_object_get(item, "content"));
    json_decref(item);
    wp_mock_release(&m);
}

/* General line rules on a second, hand-written page: headline line, subheading, wrapped lines. */
static void test_plain_text_rules(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("wire-text.txt", "text/plain", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"),
                        "Flood barriers hold as river peaks in the old town");
    assert_string_equal(str(item, "published"), "2026-02-03T14:02:00Z");
    static const char *const body[] = {
        "Temporary flood barriers held overnight as the river reached its highest level in "
        "forty years, city officials said on Tuesday morning.",
        "More than two hundred volunteers filled sandbags through the night, and the fire "
        "brigade pumped water from cellars in the lower streets.",
        "Schools reopen",
        "Schools in the old town will reopen on Thursday, the education office said, once the "
        "water has gone down and the buildings have been checked.",
        NULL};
    assert_paragraphs(str(item, "body"), body);
    static const char *const authors[] = {"Staff Reporter", NULL};
    assert_strings(json_object_get(item, "authors"), authors);
    static const char *const keywords[] = {"flood", "river", "old town", "volunteers", NULL};
    assert_strings(json_object_get(item, "keywords"), keywords);
    json_decref(item);
    wp_mock_release(&m);
}

/* A subheading that holds a date is text, not the date line. */
static void test_plain_text_date_in_title(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    const char *page = "Tuesday, 3 February 2026 09:00 GMT\n\n"
                       "The first paragraph of the story is a full sentence of some length.\n\n"
                       "Top 10 books of March 2020\n\n"
                       "The second paragraph of the story is also a full sentence, and long.\n";
    json_t *item = page_item(page, strlen(page), "text/plain", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "published"), "2026-02-03T09:00:00Z");
    static const char *const body[] = {
        "The first paragraph of the story is a full sentence of some length.",
        "Top 10 books of March 2020",
        "The second paragraph of the story is also a full sentence, and long.", NULL};
    assert_paragraphs(str(item, "body"), body);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_text_plain_that_is_html(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("html-as-text.txt", "text/plain", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"), "Quarterly results beat forecasts");
    const char *body = str(item, "body");
    assert_non_null(strstr(body, "Shares in the company rose"));
    assert_null(strstr(body, "<p>"));
    assert_int_equal(error_count(item), 1);
    assert_non_null(strstr(error_message(item, 0), "is HTML"));
    json_decref(item);
    wp_mock_release(&m);
}

static void test_html_that_is_text(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = fixture_item("text-as-html.html", "text/html; charset=utf-8", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"), "Quarterly results beat forecasts");
    static const char *const body[] = {
        "Shares in the company rose by nine percent in early trading after it reported "
        "quarterly results that beat analysts' forecasts by a wide margin.",
        "The chief executive said demand for its new products had been strong in every region, "
        "and that the company expected the trend to continue into next year.",
        NULL};
    assert_paragraphs(str(item, "body"), body);
    assert_int_equal(error_count(item), 1);
    assert_non_null(strstr(error_message(item, 0), "no HTML markup"));
    json_decref(item);
    wp_mock_release(&m);
}

static void test_mode_text_forced(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, "{\"mode\": \"text\", \"keep_content\": true}");
    json_t *item = fixture_item("text-as-html.html", "text/html", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_non_null(json_object_get(item, "content"));
    assert_int_equal(error_count(item), 0);
    json_decref(item);
    wp_mock_release(&m);
}

/* ---- passing through, rejecting ------------------------------------------------------ */

static void test_body_without_content_passes(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = json_pack("{s:s, s:s}", "headline", "H", "body", "Already extracted.");
    json_t *copy = json_deep_copy(item);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_true(json_equal(item, copy));
    json_decref(copy);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_feed_headline_kept(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    const char *page = "<html><body><div><p>A single paragraph of article text that is long "
                       "enough, with a comma, to be picked as the body of this page.</p></div>"
                       "</body></html>";
    json_t *item = page_item(page, strlen(page), "text/html", NULL);
    json_object_set_new(item, "headline", json_string("Headline from the feed"));
    json_object_set_new(item, "published", json_string("2026-01-01T00:00:00Z"));
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "headline"), "Headline from the feed");
    assert_string_equal(str(item, "published"), "2026-01-01T00:00:00Z");
    assert_null(json_object_get(item, "language"));
    assert_null(json_object_get(item, "authors"));
    json_decref(item);
    wp_mock_release(&m);
}

static void expect_reject(const char *content, size_t len, const char *type, const char *why)
{
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = page_item(content, len, type, NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    if (!strstr(m.fail_text, why))
        fail_msg("reason '%s' does not mention '%s'", m.fail_text, why);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_empty_pages_rejected(void **state)
{
    (void)state;
    expect_reject("", 0, "text/html", "page is empty (0 bytes");
    expect_reject(" \n\n \n", 5, "text/plain", "page is empty");
    const char *shell = "<html><head><title>Site</title></head><body></body></html>";
    expect_reject(shell, strlen(shell), "text/html", "no article text found in HTML content");
    const char *nav = "<html><body><nav><a href=/>Home</a></nav><footer>(c) Site</footer>"
                      "</body></html>";
    expect_reject(nav, strlen(nav), "text/html", "no article text found in HTML content");
    const char *chrome = "Listen Live\nGet short URL\n0 0 0\nCommunity standards\n";
    expect_reject(chrome, strlen(chrome), "text/plain", "no article text");
}

static void test_bad_items_rejected(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    json_t *item = json_pack("{s:s}", "headline", "only a headline");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "neither 'content' nor 'body'"));
    json_decref(item);
    item = json_pack("{s:i}", "content", 42);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "'content' is not a string"));
    json_decref(item);
    wp_mock_release(&m);

    const char *png = "PNG IHDR bytes that came back as text";
    expect_reject(png, strlen(png), "image/png", "content type 'image/png'");
}

static void test_size_limit(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, "{\"max_content_bytes\": 100}");
    char page[300];
    memset(page, 'a', sizeof(page));
    json_t *item = page_item(page, sizeof(page), "text/plain", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "over max_content_bytes"));
    json_decref(item);
    wp_mock_release(&m);
}

static void test_bad_config(void **state)
{
    (void)state;
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "extract", NULL, "{\"mode\": \"pdf\"}"), WP_E_CONFIG);
    assert_non_null(strstr(m.fail_text, "mode"));
    wp_mock_release(&m);
    /* Out of range: refused by the host's bounds, or by create() on a host without them. */
    static const char *const out_of_range[][2] = {
        {"{\"max_link_density\": 0}", "max_link_density"},
        {"{\"max_link_density\": 1.5}", "max_link_density"},
        {"{\"min_paragraph_chars\": 0}", "min_paragraph_chars"},
        {"{\"min_paragraph_chars\": 10001}", "min_paragraph_chars"},
        {"{\"min_body_chars\": -1}", "min_body_chars"},
        {"{\"max_content_bytes\": 0}", "max_content_bytes"},
        {"{\"max_content_bytes\": 2147483648}", "max_content_bytes"},
        {"{\"json_ld_min_ratio\": -0.5}", "json_ld_min_ratio"},
        {"{\"json_ld_min_ratio\": 11}", "json_ld_min_ratio"},
    };
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
        wp_mock_init(&m);
        if (wp_mock_create(&m, "extract", NULL, out_of_range[i][0]) != WP_E_CONFIG)
            fail_msg("config %s was accepted", out_of_range[i][0]);
        if (!strstr(m.fail_text, out_of_range[i][1]))
            fail_msg("config %s: reason '%s' does not name the key", out_of_range[i][0],
                     m.fail_text);
        wp_mock_release(&m);
    }
    /* The ends of each range are accepted. */
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "extract", NULL,
                                    "{\"max_link_density\": 1, \"min_paragraph_chars\": 10000, "
                                    "\"min_body_chars\": 0, \"max_content_bytes\": 2147483647, "
                                    "\"json_ld_min_ratio\": 0}"),
                     WP_OK);
    wp_mock_release(&m);
}

/* Every integer and number key declares its range, so the host can check it and show it. */
static void test_config_bounds_declared(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    size_t numeric = 0;
    for (const struct wp_config_key *k = m.ops->config; k->name; k++) {
        if (k->type != WP_CONFIG_INT && k->type != WP_CONFIG_NUMBER)
            continue;
        numeric++;
        if (!k->bounded || k->min > k->max)
            fail_msg("config key '%s' has no range", k->name);
    }
    assert_int_equal(numeric, 5);
    wp_mock_release(&m);
}

/* ---- hostile input ------------------------------------------------------------------- */

static enum wp_outcome run_nested(struct wp_mock *m, size_t depth, json_t **out)
{
    const char *para = "<p>Deep inside ten thousand divs, this sentence is still the article, "
                       "and it is long enough to count.</p>";
    size_t cap = depth * 11 + strlen(para) + 64;
    char *page = malloc(cap);
    assert_non_null(page);
    size_t n = 0;
    n += (size_t)snprintf(page + n, cap - n, "<html><body>");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(page + n, cap - n, "<div>");
    n += (size_t)snprintf(page + n, cap - n, "%s", para);
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(page + n, cap - n, "</div>");
    *out = page_item(page, n, "text/html", NULL);
    free(page);
    return wp_mock_process(m, *out);
}

static void test_deeply_nested_html(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    /* Within libxml2's depth limit: extracted as usual. */
    json_t *item;
    assert_int_equal(run_nested(&m, 200, &item), WP_OUTCOME_OK);
    assert_non_null(strstr(str(item, "body"), "Deep inside ten thousand divs"));
    assert_int_equal(error_count(item), 0);
    json_decref(item);
    /* Beyond it the parser cuts the tree: a precise reason, no crash, no stack overflow. */
    assert_int_equal(run_nested(&m, 10000, &item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "nested deeper than 256"));
    assert_int_equal(error_count(item), 1);
    assert_non_null(strstr(error_message(item, 0), "text below depth 256 is lost"));
    json_decref(item);
    wp_mock_release(&m);
}

static void test_invalid_utf8_and_broken_markup(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    /* jansson never makes such a string from JSON; a buggy upstream stage could. */
    const char page[] = "<html><body><div <<p>><p>Broken \xC3\x28 markup \xFF\xFE and bytes, yet "
                        "this paragraph, with commas, should come out as clean text.</a></b></p>"
                        "<p>Second <b><i>unclosed paragraph with enough words to count here.</p>"
                        "<table><tr><td>cell<div></table></span></html></html>";
    json_t *item = json_object();
    json_object_set_new(item, "content", json_stringn_nocheck(page, sizeof(page) - 1));
    json_object_set_new(item, "source", json_pack("{s:s}", "content_type", "text/html"));
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    const char *body = str(item, "body");
    assert_non_null(strstr(body, "should come out as clean text."));
    /* Whatever came out is valid UTF-8: jansson can dump and re-read it. */
    char *dump = json_dumps(item, 0);
    assert_non_null(dump);
    json_error_t err;
    json_t *back = json_loads(dump, 0, &err);
    assert_non_null(back);
    json_decref(back);
    free(dump);
    json_decref(item);
    wp_mock_release(&m);
}

static void test_nul_byte(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    const char page[] = "A first paragraph that is a full sentence and long enough to keep.\n\n"
                        "\0hidden";
    json_t *item = page_item(page, sizeof(page) - 1, "text/plain", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(error_count(item), 1);
    assert_non_null(strstr(error_message(item, 0), "NUL byte at offset"));
    json_decref(item);
    wp_mock_release(&m);
}

/* Publication dates as pages write them, normalised to RFC 3339 UTC. */
static void test_date_formats(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2019-11-19T10:20:30.123-05:00", "2019-11-19T15:20:30Z"},
        {"2019-11-19T23:30:00+0100", "2019-11-19T22:30:00Z"},
        {"2019-11-19 10:20", "2019-11-19T10:20:00Z"},
        {"2019-11-19", "2019-11-19T00:00:00Z"},
        {"2020-02-29T00:30:00+01:00", "2020-02-28T23:30:00Z"},
        {"Tue, 19 Nov 2019 10:20:00 GMT", "2019-11-19T10:20:00Z"},
        {"Tue, 19 Nov 2019 10:20:00 +0200", "2019-11-19T08:20:00Z"},
        {"November 19, 2019 10:20 PM EST", "2019-11-20T03:20:00Z"},
        {"19 June 2021", "2021-06-19T00:00:00Z"},
    };
    struct wp_mock m;
    setup_mock(&m, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char page[512];
        snprintf(page, sizeof(page),
                 "<html><head><meta property=\"article:published_time\" content=\"%s\"></head>"
                 "<body><p>Article text long enough to be the body, with a comma, yes.</p>"
                 "</body></html>",
                 cases[i][0]);
        json_t *item = page_item(page, strlen(page), "text/html", NULL);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        const char *got = json_string_value(json_object_get(item, "published"));
        if (!got || strcmp(got, cases[i][1]) != 0)
            fail_msg("'%s' gave '%s', expected '%s'", cases[i][0], got ? got : "(none)",
                     cases[i][1]);
        json_decref(item);
    }
    wp_mock_release(&m);
}

/* Language from each place a page may declare it, in BCP 47 case. */
static void test_language_sources(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"<html lang=\"zh-hant-tw\"><head>", "zh-Hant-TW"},
        {"<html><head><meta property=\"og:locale\" content=\"pt_BR\">", "pt-BR"},
        {"<html><head><meta http-equiv=\"Content-Language\" content=\"de-de, en\">", "de-DE"},
        {"<html lang=\"TR\"><head>", "tr"},
        /* Not well-formed tags: the next source is used. */
        {"<html lang=\"en-\"><head><meta property=\"og:locale\" content=\"fr_FR\">", "fr-FR"},
        {"<html lang=\"english\"><head><meta property=\"og:locale\" content=\"it\">", "it"},
    };
    struct wp_mock m;
    setup_mock(&m, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char page[512];
        snprintf(page, sizeof(page),
                 "%s</head><body><p>Article text long enough to be the body, with a comma.</p>"
                 "</body></html>",
                 cases[i][0]);
        json_t *item = page_item(page, strlen(page), "text/html", NULL);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        assert_string_equal(str(item, "language"), cases[i][1]);
        json_decref(item);
    }
    wp_mock_release(&m);
}

/* fetch has already decoded the page to UTF-8: a stale charset declaration must not win. */
static void test_meta_charset_ignored(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    const char *page = "<html><head><meta charset=\"iso-8859-1\"></head><body><p>Le caf\xC3\xA9 "
                       "de la gare, \xC3\xA0 Lyon, rouvre apr\xC3\xA8s trois mois de "
                       "travaux.</p></body></html>";
    json_t *item = page_item(page, strlen(page), "text/html; charset=utf-8", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_string_equal(str(item, "body"), "Le caf\xC3\xA9 de la gare, \xC3\xA0 Lyon, rouvre "
                                           "apr\xC3\xA8s trois mois de travaux.");
    json_decref(item);
    wp_mock_release(&m);
}

static void test_bad_json_ld_ignored(void **state)
{
    (void)state;
    struct wp_mock m;
    setup_mock(&m, NULL);
    const char *page =
        "<html lang=\"!!\"><head><script type=\"application/ld+json\">{\"@type\": \"NewsArticle\","
        " \"articleBody\": [[[[[[[[[[[[[[[[[[[[[[[[[</script>"
        "<script type=\"application/ld+json\">[[[[[[[[[[[[[[[[[[[[{\"@graph\":[[[[[[[[[[[[[[[[[["
        "]]]]]]]]]]]]]]]]]]}]]]]]]]]]]]]]]]]]]]]</script>"
        "<meta property=\"article:published_time\" content=\"yesterday\"></head><body>"
        "<p>Plain article text, long enough, with commas, to be the body of this page.</p>"
        "</body></html>";
    json_t *item = page_item(page, strlen(page), "text/html", NULL);
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_null(json_object_get(item, "language"));
    assert_null(json_object_get(item, "published"));
    assert_int_equal(error_count(item), 1);
    assert_non_null(strstr(error_message(item, 0), "publication date"));
    json_decref(item);
    wp_mock_release(&m);
}

int main(void)
{
    /* The host initialises libxml2 once; the mock host does not, so the test does. */
    xmlInitParser();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_article),
        cmocka_unit_test(test_html_boilerplate_removed),
        cmocka_unit_test(test_json_ld_body),
        cmocka_unit_test(test_json_ld_body_off),
        cmocka_unit_test(test_benchmark_page),
        cmocka_unit_test(test_sputnik_text),
        cmocka_unit_test(test_plain_text_rules),
        cmocka_unit_test(test_plain_text_date_in_title),
        cmocka_unit_test(test_text_plain_that_is_html),
        cmocka_unit_test(test_html_that_is_text),
        cmocka_unit_test(test_mode_text_forced),
        cmocka_unit_test(test_body_without_content_passes),
        cmocka_unit_test(test_feed_headline_kept),
        cmocka_unit_test(test_empty_pages_rejected),
        cmocka_unit_test(test_bad_items_rejected),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_deeply_nested_html),
        cmocka_unit_test(test_invalid_utf8_and_broken_markup),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_date_formats),
        cmocka_unit_test(test_language_sources),
        cmocka_unit_test(test_config_bounds_declared),
        cmocka_unit_test(test_meta_charset_ignored),
        cmocka_unit_test(test_bad_json_ld_ignored),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return failed;
}
