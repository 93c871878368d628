/*
 * test_normalize.c - the normalize stage against the mock host: every display operation,
 * the per-language fixes, the match key, change counts, odd items, and the ftfy and
 * NormalizationTest fixtures (tests/fixtures/normalize/).
 */
/* cmocka.h needs these first; keep the order. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_host.h"

/* Config that runs the mojibake repair alone, as scripts/eval-mojibake does. */
#define REPAIR_ONLY "{\"cleanup\":false,\"entities\":false,\"match_key\":false}"

/* Run one item (borrowed) through a fresh stage made from @config. */
static enum wp_outcome run_item(const char *config, json_t *item)
{
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, config), WP_OK);
    enum wp_outcome out = wp_mock_process(&m, item);
    wp_mock_release(&m);
    return out;
}

/* Normalize @text as the body of an item in @lang (NULL: none); returns a new string. */
static char *norm_lang(const char *config, const char *lang, const char *text)
{
    json_t *item = json_pack("{s:s}", "body", text);
    if (lang)
        json_object_set_new(item, "language", json_string(lang));
    assert_int_equal(run_item(config, item), WP_OUTCOME_OK);
    char *out = strdup(json_string_value(json_object_get(item, "body")));
    json_decref(item);
    return out;
}

#define assert_norm(config, lang, in, want)                                                        \
    do {                                                                                           \
        char *got_ = norm_lang((config), (lang), (in));                                            \
        assert_string_equal(got_, (want));                                                         \
        free(got_);                                                                                \
    } while (0)

/* Count recorded for @op in item.changes.normalize, 0 when absent. */
static long change_count(const json_t *item, const char *op)
{
    const json_t *rec = json_object_get(json_object_get(item, "changes"), "normalize");
    return (long)json_integer_value(json_object_get(rec, op));
}

static char *match_key(const char *lang, const char *headline, const char *body)
{
    json_t *item = json_pack("{s:s,s:s}", "headline", headline, "body", body);
    if (lang)
        json_object_set_new(item, "language", json_string(lang));
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    const char *key = json_string_value(json_object_get(item, "match_key"));
    assert_non_null(key);
    char *out = strdup(key);
    json_decref(item);
    return out;
}

#define assert_key(lang, in, want)                                                                 \
    do {                                                                                           \
        char *got_ = match_key((lang), (in), "");                                                  \
        assert_string_equal(got_, (want));                                                         \
        free(got_);                                                                                \
    } while (0)

/* ---- configuration ---- */

static void test_config(void **state)
{
    (void)state;
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, "{\"fields\":[\"body\",\"\"]}"),
                     WP_E_CONFIG);
    assert_non_null(strstr(m.fail_text, "fields[1]"));
    wp_mock_release(&m);

    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, NULL), WP_OK);
    assert_true(m.ops->flags & WP_STAGE_THREAD_SAFE);
    assert_string_equal(m.ops->name, "normalize");
    size_t keys = 0;
    for (const struct wp_config_key *k = m.ops->config; k->name; k++)
        keys++;
    assert_int_equal(keys, 10);
    wp_mock_release(&m);
}

/* ---- whitespace ---- */

static void test_space_kinds(void **state)
{
    (void)state;
    /* Every breaking space kind becomes U+0020 and runs collapse to one. */
    static const char *const spaces[] = {
        "\t",     "\v",     "\f",     "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
        "\u2004", "\u2005", "\u2006", "\u2008", "\u2009", "\u200a", "\u205f", "\u3000",
    };
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        char in[64];
        snprintf(in, sizeof(in), "a%sb %s c", spaces[i], spaces[i]);
        assert_norm(NULL, NULL, in, "a b c");
    }
    assert_norm(NULL, NULL, "  lead and trail  ", "lead and trail");
    assert_norm(NULL, NULL, "one  two\u2003 \u3000three", "one two three");

    json_t *item = json_pack("{s:s}", "body", "a \u2003b");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "spaces"), 1);
    json_decref(item);
}

static void test_nbsp_policy(void **state)
{
    (void)state;
    /* keep (default): a run of only no-break spaces keeps its first one. */
    assert_norm(NULL, NULL, "10\u00a0000 km", "10\u00a0000 km");
    assert_norm(NULL, NULL, "prix\u202f: 5\u2007€", "prix\u202f: 5\u2007€");
    assert_norm(NULL, NULL, "a\u00a0\u00a0b", "a\u00a0b");
    /* a run with a breaking space in it is breaking */
    assert_norm(NULL, NULL, "a \u00a0b", "a b");
    assert_norm(NULL, NULL, "a\u00a0 b", "a b");
    /* leading and trailing no-break spaces go like any space */
    assert_norm(NULL, NULL, "\u00a0x\u00a0", "x");

    assert_norm("{\"nbsp\":\"space\"}", NULL, "10\u00a0000 and 5\u202f%", "10 000 and 5 %");
    json_t *item = json_pack("{s:s}", "body", "10\u00a0000");
    assert_int_equal(run_item("{\"nbsp\":\"space\"}", item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")), "10 000");
    assert_int_equal(change_count(item, "nbsp"), 1);
    json_decref(item);
}

static void test_paragraphs(void **state)
{
    (void)state;
    assert_norm(NULL, NULL, "First para.\n\nSecond para.", "First para.\n\nSecond para.");
    assert_norm(NULL, NULL, "line one\nline two", "line one\nline two");
    assert_norm(NULL, NULL, "a\r\n\r\nb\rc", "a\n\nb\nc");
    assert_norm(NULL, NULL, "a\n\n\n\n b  \n\nc", "a\n\nb\n\nc");
    assert_norm(NULL, NULL, "a \n \n b", "a\n\nb");
    assert_norm(NULL, NULL, "a\u2028b\u2029c", "a\nb\n\nc");
    assert_norm(NULL, NULL, "\n\n  start\n\n", "start");
    /* NEL is a line break when mojibake repair is off; with it on, it is windows-1252 … */
    assert_norm("{\"mojibake\":false}", NULL,
                "a\xc2\x85"
                "b",
                "a\nb");
}

/* ---- invisible characters ---- */

static void test_zero_width(void **state)
{
    (void)state;
    assert_norm(NULL, NULL, "foo\u200bbar\u2060baz\ufeff", "foobarbaz");
    assert_norm(NULL, NULL, "\ufeffBOM first", "BOM first");
    /* ZWSP marks word breaks in Thai: kept there */
    assert_norm(NULL, NULL, "\u0e20\u0e32\u0e29\u0e32\u200b\u0e44\u0e17\u0e22",
                "\u0e20\u0e32\u0e29\u0e32\u200b\u0e44\u0e17\u0e22");
    /* ZWNJ: kept inside Persian words (with or without a language tag), removed elsewhere */
    const char *persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645";
    assert_norm(NULL, "fa", persian, persian);
    assert_norm(NULL, NULL, persian, persian);
    assert_norm(NULL, NULL, "foo\u200cbar", "foobar");
    /* runs collapse; next to a space it is dropped */
    assert_norm(NULL, "fa", "\u0645\u06cc\u200c\u200c\u062e", "\u0645\u06cc\u200c\u062e");
    assert_norm(NULL, "fa", "\u0645\u06cc\u200c \u062e", "\u0645\u06cc \u062e");
    assert_norm(NULL, "fa", "\u0645\u06cc \u200c\u062e", "\u0645\u06cc \u062e");
    /* ZWJ: kept in emoji sequences, removed between letters */
    const char *family = "\U0001F468\u200d\U0001F469\u200d\U0001F467";
    assert_norm(NULL, NULL, family, family);
    const char *rainbow = "\U0001F3F3\ufe0f\u200d\U0001F308";
    assert_norm(NULL, NULL, rainbow, rainbow);
    assert_norm(NULL, NULL, "a\u200db", "ab");

    json_t *item = json_pack("{s:s}", "body", "x\u200by\u200cz");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "zero_width"), 2);
    json_decref(item);
}

static void test_bidi_controls(void **state)
{
    (void)state;
    assert_norm(NULL, NULL,
                "a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j\u200ek\u200fl"
                "\u061cm",
                "abcdefghijklm");
    json_t *item = json_pack("{s:s}", "body", "if (x\u202e) {\u2066}");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")), "if (x) {}");
    assert_int_equal(change_count(item, "bidi_controls"), 2);
    json_decref(item);
}

static void test_soft_hyphen(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s}", "body", "Bundes\u00adregierung und Ver\u00adtrag");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")),
                        "Bundesregierung und Vertrag");
    assert_int_equal(change_count(item, "soft_hyphens"), 2);
    json_decref(item);
}

static void test_controls(void **state)
{
    (void)state;
    assert_norm(NULL, NULL, "bell\x07 esc\x1b[0m del\x7f nul", "bell esc[0m del nul");
    assert_norm(NULL, NULL, "tab\tbetween", "tab between");
    assert_norm(NULL, NULL, "object\ufffc here\ufff9", "object here");
    /* C1: undefined in windows-1252 -> removed; with repair on, defined ones -> cp1252 */
    assert_norm(NULL, NULL, "x\xc2\x81y", "xy");
    assert_norm(NULL, NULL, "\xc2\x93quoted\xc2\x94", "\u201cquoted\u201d");
    assert_norm("{\"mojibake\":false}", NULL, "\xc2\x93quoted\xc2\x94", "quoted");

    json_t *item = json_pack("{s:s}", "body",
                             "a\x01"
                             "b\x02"
                             "c");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "controls"), 2);
    json_decref(item);
}

/* ---- entities and quotes ---- */

static void test_entities(void **state)
{
    (void)state;
    assert_norm(NULL, NULL, "Fish &amp; chips &lt;b&gt;", "Fish & chips <b>");
    assert_norm(NULL, NULL, "it&rsquo;s &#8217; &#x2019; &#X2019;",
                "it\u2019s \u2019 \u2019 \u2019");
    assert_norm(NULL, NULL, "double &amp;#8217; &amp;eacute;", "double \u2019 \u00e9");
    assert_norm(NULL, NULL, "caf&eacute; &Eacute;", "caf\u00e9 \u00c9");
    assert_norm(NULL, NULL, "10&nbsp;000", "10\u00a0000");
    /* HTML5 reads C1 numbers as windows-1252 */
    assert_norm(NULL, NULL, "2010&#150;2012", "2010\u20132012");
    /* not entities: left alone */
    assert_norm(NULL, NULL, "AT&T &foo; &#0; &#xD800; & ; &#;", "AT&T &foo; &#0; &#xD800; & ; &#;");
    assert_norm("{\"entities\":false}", NULL, "Fish &amp; chips", "Fish &amp; chips");

    json_t *item = json_pack("{s:s}", "body", "a&amp;b&#233;");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "entities"), 2);
    json_decref(item);
}

static void test_quotes(void **state)
{
    (void)state;
    const char *curly = "\u201cIt\u2019s fine,\u201d she said. \u201eGut\u201c \u2018x\u2019";
    assert_norm(NULL, NULL, curly, curly);
    assert_norm("{\"quotes\":\"ascii\"}", NULL, curly, "\"It's fine,\" she said. \"Gut\" 'x'");
    /* guillemets are not curly quotes */
    assert_norm("{\"quotes\":\"ascii\"}", NULL, "\u00abnon\u00bb", "\u00abnon\u00bb");
}

/* ---- NFC ---- */

static size_t parse_cps(const char *field, char *out, size_t cap)
{
    /* "0044 0307" -> UTF-8 */
    size_t len = 0;
    const char *p = field;
    while (*p && *p != ';') {
        char *end;
        unsigned long c = strtoul(p, &end, 16);
        if (end == p)
            break;
        p = end;
        while (*p == ' ')
            p++;
        if (len + 4 >= cap)
            break;
        if (c < 0x80) {
            out[len++] = (char)c;
        } else if (c < 0x800) {
            out[len++] = (char)(0xC0 | (c >> 6));
            out[len++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[len++] = (char)(0xE0 | (c >> 12));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[len++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[len++] = (char)(0xF0 | (c >> 18));
            out[len++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[len++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[len] = '\0';
    return len;
}

static void test_nfc_conformance(void **state)
{
    (void)state;
    const char *dir = getenv("WP_TEST_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/normalize/NormalizationTest-excerpt.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL,
                                    "{\"mojibake\":false,\"entities\":false,\"match_key\":false}"),
                     WP_OK);
    char line[1024];
    int tested = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '@' || line[0] == '\n')
            continue;
        char col[5][128];
        const char *p = line;
        for (int c = 0; c < 5; c++) {
            parse_cps(p, col[c], sizeof(col[c]));
            p = strchr(p, ';');
            assert_non_null(p);
            p++;
        }
        /* NFC(c1) = NFC(c3) = c2 and NFC(c5) = c4 */
        const int from[3] = {0, 2, 4}, want[3] = {1, 1, 3};
        for (int k = 0; k < 3; k++) {
            json_t *item = json_pack("{s:s}", "body", col[from[k]]);
            assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
            const char *got = json_string_value(json_object_get(item, "body"));
            if (strcmp(got, col[want[k]]) != 0)
                fail_msg("NFC mismatch on line: %s", line);
            json_decref(item);
        }
        tested++;
    }
    fclose(f);
    wp_mock_release(&m);
    assert_true(tested >= 50);

    json_t *item = json_pack("{s:s}", "body", "Vie\u0323\u0302t Nam e\u0301");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")), "Vi\u1ec7t Nam \u00e9");
    assert_int_equal(change_count(item, "nfc"), 1);
    json_decref(item);
}

/* ---- languages ---- */

static void test_persian(void **state)
{
    (void)state;
    /* Arabic yeh, alef maksura and kaf -> Persian forms; tatweel removed; digits -> Persian */
    assert_norm(
        NULL, "fa",
        "\u0643\u062a\u0627\u0628 \u064a\u0643\u0649 \u062f\u0646\u06cc\u0640\u0640\u0627 "
        "\u0663\u0664",
        "\u06a9\u062a\u0627\u0628 \u06cc\u06a9\u06cc \u062f\u0646\u06cc\u0627 \u06f3\u06f4");
    assert_norm(NULL, "fa-IR", "\u064a", "\u06cc");
    /* yeh + hamza above (NFD of U+0626) stays for NFC to compose */
    assert_norm(NULL, "fa", "\u064a\u0654", "\u0626");
    /* other languages are not touched */
    assert_norm(NULL, "en", "\u0643\u064a", "\u0643\u064a");
    assert_norm("{\"arabic_letters\":\"off\"}", "fa", "\u0643\u0640\u064a", "\u0643\u0640\u064a");

    json_t *item = json_pack("{s:s,s:s}", "language", "fa", "body", "\u064a\u0643\u0640\u0661");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "arabic_letters"), 2);
    assert_int_equal(change_count(item, "tatweel"), 1);
    assert_int_equal(change_count(item, "digits"), 1);
    json_decref(item);
}

static void test_arabic(void **state)
{
    (void)state;
    assert_norm(NULL, "ar", "\u06a9\u062a\u0627\u0628 \u06cc \u06f1\u06f2 \u0643\u0640\u0640\u0628",
                "\u0643\u062a\u0627\u0628 \u064a \u0661\u0662 \u0643\u0628");
    /* tatweel only for other Arabic-script languages */
    assert_norm(NULL, "ur", "\u06a9\u0640\u06cc", "\u06a9\u06cc");
}

static void test_harakat(void **state)
{
    (void)state;
    /* in canonical order: fatha (U+064E, ccc 30) before shadda (U+0651, ccc 33) */
    const char *vocalized = "\u0634\u064e\u062f\u064e\u0651\u062f\u064e "
                            "\u0627\u0644\u0631\u064e\u0651\u0626\u0650\u064a\u0633\u064f";
    assert_norm(NULL, "ar", vocalized, vocalized);
    assert_norm("{\"harakat\":\"strip\"}", "ar", vocalized,
                "\u0634\u062f\u062f \u0627\u0644\u0631\u0626\u064a\u0633");
    assert_norm("{\"harakat\":\"strip\"}", "fa",
                "\u0645\u064f\u062d\u064e\u0645\u0651\u064e\u062f \u0670",
                "\u0645\u062d\u0645\u062f");
}

static void test_digits(void **state)
{
    (void)state;
    assert_norm("{\"digits\":\"ascii\"}", "fa", "\u06f1\u06f4\u06f0\u06f3 \u0661\u0662\u066b\u0665",
                "1403 12.5");
    assert_norm("{\"digits\":\"ascii\"}", NULL, "\u0663\u066c\u0660\u0660\u0660", "3,000");
    assert_norm(NULL, NULL, "\u06f1\u0661", "\u06f1\u0661");
}

static void test_romanian(void **state)
{
    (void)state;
    assert_norm(NULL, "ro", "\u015ftiin\u0163\u0103 \u015e \u0162",
                "\u0219tiin\u021b\u0103 \u0218 \u021a");
    /* decomposed s/t + cedilla */
    assert_norm(NULL, "ro", "s\u0327i t\u0327 S\u0327", "\u0219i \u021b \u0218");
    /* Turkish ş is not Romanian */
    assert_norm(NULL, "tr", "\u015fehir", "\u015fehir");

    json_t *item = json_pack("{s:s,s:s}", "language", "ro-RO", "body", "\u015f\u0163");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(change_count(item, "romanian_comma"), 2);
    json_decref(item);
}

/* ---- match key ---- */

static void test_match_key_turkish(void **state)
{
    (void)state;
    assert_key("tr", "\u0130stanbul", "istanbul");
    assert_key("tr", "\u0130STANBUL", "istanbul");
    assert_key("tr", "ISTANBUL", "\u0131stanbul");
    assert_key("tr", "\u0131i", "\u0131i");
    assert_key("az", "I\u015eIK", "\u0131s\u0131k");
    /* root casing elsewhere: I -> i, and the dot of U+0130 is a mark, stripped */
    assert_key("en", "\u0130stanbul", "istanbul");
    assert_key(NULL, "ISTANBUL", "istanbul");
    assert_key("de", "\u0131i", "\u0131i");
}

static void test_match_key(void **state)
{
    (void)state;
    assert_key(NULL, "Caf\u00e9 Cr\u00e8me", "cafe creme");
    /* supplementary characters: math letters fold (NFKC), emoji stay */
    assert_key(NULL, "\U0001D400\U0001D401 \U0001F600 OK", "ab \U0001F600 ok");
    assert_key(NULL, "\u00bd \u2460 \u0130\u0307", "1\u20442 1 i");
    assert_key(NULL, "Stra\u00dfe \ufb01n \uff21\uff22\uff10", "strasse fin ab0");
    assert_key(NULL, "\u201cQuoted\u201d \u2014 it\u2019s", "\"quoted\" - it's");
    assert_key(NULL, "Vi\u1ec7t  Nam\n\nnext", "viet nam next");
    assert_key("ar", "\u0627\u0644\u0631\u0651\u064e\u0626\u0650\u064a\u0633\u064f \u0661\u0662",
               "\u0627\u0644\u0631\u06cc\u06cc\u0633 12"); /* hamza is a mark: stripped */
    assert_key("fa", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
               "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645");
    assert_key(NULL, "\u041f\u0420\u0418\u0412\u0415\u0422 \u0451\u0436",
               "\u043f\u0440\u0438\u0432\u0435\u0442 \u0435\u0436");

    /* headline and body are both in the key; display text keeps its accents */
    json_t *item = json_pack("{s:s,s:s}", "headline", "R\u00e9sum\u00e9", "body", "Body text.");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "match_key")), "resume body text.");
    assert_string_equal(json_string_value(json_object_get(item, "headline")), "R\u00e9sum\u00e9");
    json_decref(item);

    item = json_pack("{s:s}", "body", "x");
    assert_int_equal(run_item("{\"match_key\":false}", item), WP_OUTCOME_OK);
    assert_null(json_object_get(item, "match_key"));
    json_decref(item);
}

/* ---- bookkeeping and odd items ---- */

static void test_changes_recorded(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s,s:s,s:{s:{s:i}}}", "headline", " Head\u00adline ", "body",
                             "clean", "changes", "extract", "x", 1);
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    const json_t *changes = json_object_get(item, "changes");
    assert_non_null(json_object_get(changes, "extract")); /* other stages' records stay */
    const json_t *rec = json_object_get(changes, "normalize");
    assert_true(json_is_object(rec));
    assert_int_equal(change_count(item, "soft_hyphens"), 1);
    assert_int_equal(change_count(item, "spaces"), 2);
    assert_null(json_object_get(rec, "nfc")); /* zero counts are left out */
    json_decref(item);

    /* a clean item gets an empty record */
    item = json_pack("{s:s}", "body", "Nothing to do.");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_int_equal(
        json_object_size(json_object_get(json_object_get(item, "changes"), "normalize")), 0);
    json_decref(item);

    /* "changes" that is not an object is replaced */
    item = json_pack("{s:s,s:i}", "body", "x", "changes", 5);
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_true(json_is_object(json_object_get(item, "changes")));
    json_decref(item);
}

static void test_missing_and_odd_fields(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:i,s:[s,i,n,s]}", "body", 42, "keywords", " a  b ", 7, "c\u200b");
    assert_int_equal(run_item("{\"fields\":[\"headline\",\"body\",\"keywords\"]}", item),
                     WP_OUTCOME_OK);
    assert_int_equal(json_integer_value(json_object_get(item, "body")), 42);
    const json_t *kw = json_object_get(item, "keywords");
    assert_string_equal(json_string_value(json_array_get(kw, 0)), "a b");
    assert_int_equal(json_integer_value(json_array_get(kw, 1)), 7);
    assert_string_equal(json_string_value(json_array_get(kw, 3)), "c");
    assert_int_equal(change_count(item, "skipped_fields"), 2);
    assert_null(json_object_get(item, "match_key"));
    json_decref(item);

    /* keywords are not touched unless configured */
    item = json_pack("{s:s,s:[s]}", "body", "x", "keywords", " a  b ");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_array_get(json_object_get(item, "keywords"), 0)),
                        " a  b ");
    json_decref(item);

    /* empty strings, a language that is not a string, an empty item */
    item = json_pack("{s:s,s:s,s:i}", "headline", "", "body", "   ", "language", 3);
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")), "");
    assert_string_equal(json_string_value(json_object_get(item, "match_key")), "");
    json_decref(item);
    item = json_object();
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    json_decref(item);

    /* NUL bytes inside a jansson string are controls */
    item = json_object();
    json_object_set_new(item, "body", json_stringn("a\0b", 3));
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")), "ab");
    json_decref(item);

    /* not an object: rejected with a reason */
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, NULL), WP_OK);
    json_t *arr = json_array();
    assert_int_equal(wp_mock_process(&m, arr), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "not a JSON object"));
    json_decref(arr);
    wp_mock_release(&m);
}

/* ---- mojibake ---- */

static void check_ftfy_file(const char *name, bool negative)
{
    const char *dir = getenv("WP_TEST_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/normalize/ftfy/%s", dir, name);
    json_error_t jerr;
    json_t *cases = json_load_file(path, 0, &jerr);
    if (!cases)
        fail_msg("cannot load %s: %s", path, jerr.text);
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, REPAIR_ONLY), WP_OK);
    size_t idx, tested = 0;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        const char *expect = json_string_value(json_object_get(c, "expect"));
        if (!negative && (!expect || strcmp(expect, "pass") != 0))
            continue;
        const json_t *want = json_object_get(c, "fixed-encoding");
        if (!want)
            want = json_object_get(c, "fixed");
        json_t *item = json_pack("{s:O}", "body", json_object_get(c, "original"));
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        const char *got = json_string_value(json_object_get(item, "body"));
        if (strcmp(got, json_string_value(want)) != 0)
            fail_msg("%s: '%s': got '%s', want '%s'", name,
                     json_string_value(json_object_get(c, "label")), got, json_string_value(want));
        json_decref(item);
        tested++;
    }
    wp_mock_release(&m);
    json_decref(cases);
    assert_true(tested >= 25);
}

static void test_mojibake_in_the_wild(void **state)
{
    (void)state;
    check_ftfy_file("in-the-wild.json", false);
}

static void test_mojibake_synthetic(void **state)
{
    (void)state;
    check_ftfy_file("synthetic.json", false);
}

static void test_mojibake_negative(void **state)
{
    (void)state;
    check_ftfy_file("negative.json", true);
}

static void test_mojibake_default_profile(void **state)
{
    (void)state;
    /* Repaired per line, counted, and the rest of the cleanup applies afterwards. */
    json_t *item = json_pack("{s:s}", "body",
                             "HÃ´tel de Police\n\nclean line \u2014 caf\u00e9\n"
                             "Ð´Ð¾Ñ€Ð¾Ð³Ðµ");
    assert_int_equal(run_item(NULL, item), WP_OUTCOME_OK);
    assert_string_equal(json_string_value(json_object_get(item, "body")),
                        "H\u00f4tel de Police\n\nclean line \u2014 caf\u00e9\n"
                        "\u0434\u043e\u0440\u043e\u0433\u0435");
    assert_int_equal(change_count(item, "mojibake"), 2);
    json_decref(item);

    /* Clean text in many languages is left alone by the repair. */
    static const char *const clean[] = {
        "Le pr\u00e9sident a d\u00e9clar\u00e9 \u00ab\u00a0non\u00a0\u00bb \u00e0 la presse.",
        "\u0130stanbul\u2019da d\u00fczenlenen zirvede \u015fiddetli ya\u011f\u0131\u015f.",
        "Die Stra\u00dfe f\u00fchrt \u00fcber die Br\u00fccke \u2013 \u201eendlich\u201c.",
        "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144. P\u0159\u00edli\u0161 "
        "\u017elu\u0165ou\u010dk\u00fd k\u016f\u0148.",
        "\u0426\u0435\u043d\u0442\u0440\u0430\u043b\u044c\u043d\u044b\u0439 "
        "\u0431\u0430\u043d\u043a"
        " \u00ab\u0420\u043e\u0441\u0441\u0438\u0438\u00bb \u2014 16\u00a0%.",
        "\u039f \u03c0\u03c1\u03c9\u03b8\u03c5\u03c0\u03bf\u03c5\u03c1\u03b3\u03cc\u03c2 "
        "\u03b4\u03ae\u03bb\u03c9\u03c3\u03b5.",
        "Vi\u1ec7t Nam, S\u00e3o Paulo, \u00c5ngstr\u00f6m, \u00a9 2024 Reuters\u00ae, "
        "5\u00d73\u00b2.",
    };
    for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
        json_t *it = json_pack("{s:s}", "body", clean[i]);
        assert_int_equal(run_item(REPAIR_ONLY, it), WP_OUTCOME_OK);
        assert_string_equal(json_string_value(json_object_get(it, "body")), clean[i]);
        assert_int_equal(change_count(it, "mojibake"), 0);
        json_decref(it);
    }
}

/* ---- one instance, several workers ---- */

struct worker {
    const struct wp_mock *shared;
    json_t *items; /* this worker's own copies */
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    /* Each worker has its own ctx (as the host gives each worker one), same instance. */
    struct wp_mock tm = *w->shared;
    tm.ctx.host = &tm.api;
    tm.logs = json_array();
    tm.metrics = json_object();
    tm.emitted = json_array();
    tm.dead_letters = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(w->items, i, item)
    {
        if (tm.ops->process(tm.instance, &tm.ctx, item) != WP_OUTCOME_OK)
            return item;
    }
    json_decref(tm.logs);
    json_decref(tm.metrics);
    json_decref(tm.emitted);
    json_decref(tm.dead_letters);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "  \u201cIt\u2019s\u201d  fine\u00ad\u200b. &amp; \u0130stanbul",
        "\u0643\u062a\u0627\u0628 \u064a\u0643\u0640\u06cc \u0661\u0662 "
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Vie\u0323\u0302t Nam\r\n\r\n\r\ns\u0327i t\u0327",
        "\u0420\u043e\u0441\u0441\u0438\u044f \u00ab\u0442\u0435\u043a\u0441\u0442\u00bb \u2014 "
        "10\u00a0000",
    };
    static const char *const langs[] = {"tr", "fa", "ro", "ru"};
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "normalize", NULL, NULL), WP_OK);
    json_t *want = json_array();
    for (size_t t = 0; t < 4; t++) {
        json_t *it = json_pack("{s:s,s:s,s:s}", "headline", texts[t], "body", texts[t], "language",
                               langs[t]);
        assert_int_equal(wp_mock_process(&m, it), WP_OUTCOME_OK);
        json_array_append_new(want, it);
    }
    struct worker workers[4];
    pthread_t tids[4];
    for (size_t w = 0; w < 4; w++) {
        workers[w].shared = &m;
        workers[w].items = json_array();
        for (int k = 0; k < 200; k++) {
            size_t t = (w + (size_t)k) % 4;
            json_array_append_new(workers[w].items,
                                  json_pack("{s:s,s:s,s:s}", "headline", texts[t], "body", texts[t],
                                            "language", langs[t]));
        }
        assert_int_equal(pthread_create(&tids[w], NULL, worker_run, &workers[w]), 0);
    }
    for (size_t w = 0; w < 4; w++) {
        void *failed = NULL;
        assert_int_equal(pthread_join(tids[w], &failed), 0);
        assert_null(failed);
        size_t k;
        json_t *it;
        json_array_foreach(workers[w].items, k, it)
        {
            assert_true(json_equal(it, json_array_get(want, (w + k) % 4)));
        }
        json_decref(workers[w].items);
    }
    json_decref(want);
    wp_mock_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_space_kinds),
        cmocka_unit_test(test_nbsp_policy),
        cmocka_unit_test(test_paragraphs),
        cmocka_unit_test(test_zero_width),
        cmocka_unit_test(test_bidi_controls),
        cmocka_unit_test(test_soft_hyphen),
        cmocka_unit_test(test_controls),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_nfc_conformance),
        cmocka_unit_test(test_persian),
        cmocka_unit_test(test_arabic),
        cmocka_unit_test(test_harakat),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_romanian),
        cmocka_unit_test(test_match_key_turkish),
        cmocka_unit_test(test_match_key),
        cmocka_unit_test(test_changes_recorded),
        cmocka_unit_test(test_missing_and_odd_fields),
        cmocka_unit_test(test_mojibake_in_the_wild),
        cmocka_unit_test(test_mojibake_synthetic),
        cmocka_unit_test(test_mojibake_negative),
        cmocka_unit_test(test_mojibake_default_profile),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
