/*
 * test_translate_text.c - segmentation, reassembly and name protection of the translate
 * plugin, tested on its private functions (text.c is compiled into this test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* clang-format off: cmocka needs the headers above first */
#include <cmocka.h>
/* clang-format on */

#include "mock_host.h"
#include "translate.h"

static struct wp_mock mock;
static const struct wp_host_api *host;

static int setup(void **state)
{
    (void)state;
    wp_mock_init(&mock);
    host = &mock.api;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wp_mock_release(&mock);
    return 0;
}

/* Replace every segment by a marked copy of itself and check the rest is untouched. */
static char *rebuild(const char *text, const struct tr_segments *segs, const char *mark)
{
    struct wp_buf out;
    wp_buf_init(&out, host);
    size_t pos = 0;
    for (size_t i = 0; i < segs->count; i++) {
        wp_buf_add(&out, text + pos, segs->items[i].start - pos);
        wp_buf_adds(&out, mark);
        wp_buf_add(&out, text + segs->items[i].start, segs->items[i].end - segs->items[i].start);
        wp_buf_adds(&out, mark);
        pos = segs->items[i].end;
    }
    wp_buf_adds(&out, text + pos);
    return wp_buf_detach(&out, NULL);
}

static void test_paragraphs_whitespace_kept(void **state)
{
    (void)state;
    const char *text = "  First paragraph.  \n\nSecond one\nwith a line break.\n\n\n\n"
                       "\tThird.\n\n   \n\nLast";
    struct tr_segments segs;
    assert_int_equal(tr_segment_text(host, text, strlen(text), 1000, &segs), WP_OK);
    assert_int_equal(segs.count, 4);
    char *rebuilt = rebuild(text, &segs, "|");
    assert_string_equal(rebuilt, "  |First paragraph.|  \n\n|Second one\nwith a line break.|"
                                 "\n\n\n\n\t|Third.|\n\n   \n\n|Last|");
    assert_int_equal(segs.items[0].para, 0);
    assert_int_equal(segs.items[1].para, 1);
    assert_int_equal(segs.items[3].para, 5);
    host->free(rebuilt);
    tr_segments_release(host, &segs);
}

static void test_long_paragraph_split_on_sentences(void **state)
{
    (void)state;
    /* 12 sentences of ~50 characters: at most 120 per segment gives 2 sentences each. */
    struct wp_buf text;
    wp_buf_init(&text, host);
    for (int i = 0; i < 12; i++)
        wp_buf_addf(&text, "Sentence number %02d says that the U.S. economy grew. ", i);
    struct tr_segments segs;
    assert_int_equal(tr_segment_text(host, text.data, text.len, 120, &segs), WP_OK);
    assert_true(segs.count >= 6);
    for (size_t i = 0; i < segs.count; i++) {
        const char *s = text.data + segs.items[i].start;
        size_t n = segs.items[i].end - segs.items[i].start;
        assert_true(wp_utf8_count(s, n) <= 120);
        /* Cut on sentence ends, not inside "U.S.". */
        assert_memory_equal(s, "Sentence", 8);
        assert_int_equal(s[n - 1], '.');
        assert_memory_not_equal(s + n - 4, "U.S.", 4);
    }
    char *rebuilt = rebuild(text.data, &segs, "");
    assert_string_equal(rebuilt, text.data);
    host->free(rebuilt);
    tr_segments_release(host, &segs);
    wp_buf_release(&text);
}

static void test_huge_word_cut_on_code_points(void **state)
{
    (void)state;
    struct wp_buf text;
    wp_buf_init(&text, host);
    for (int i = 0; i < 300; i++)
        wp_buf_adds(&text, "\xC3\xA9"); /* é, no boundary anywhere */
    struct tr_segments segs;
    assert_int_equal(tr_segment_text(host, text.data, text.len, 100, &segs), WP_OK);
    assert_int_equal(segs.count, 3);
    for (size_t i = 0; i < segs.count; i++)
        assert_int_equal(
            wp_utf8_count(text.data + segs.items[i].start, segs.items[i].end - segs.items[i].start),
            100);
    tr_segments_release(host, &segs);
    wp_buf_release(&text);
}

static void test_invalid_utf8_refused(void **state)
{
    (void)state;
    char text[300];
    memset(text, 'a', sizeof(text));
    text[150] = (char)0xFF;
    struct tr_segments segs;
    assert_int_equal(tr_segment_text(host, text, sizeof(text), 100, &segs), WP_E_UNICODE);
}

static void test_protect_and_restore(void **state)
{
    (void)state;
    const char *text = "Rose Black of the Green Party met Christine Lagarde in Reading. "
                       "Spreading news, Lagarde said.";
    /* Entity offsets are code points; the second one is stale and falls back to a search. */
    json_t *entities = json_loads("[{\"field\":\"body\",\"mention\":\"Rose Black\",\"start\":0,"
                                  "\"end\":10},"
                                  "{\"field\":\"body\",\"mention\":\"Christine Lagarde\","
                                  "\"start\":3,\"end\":5},"
                                  "{\"field\":\"headline\",\"mention\":\"Spreading\"}]",
                                  0, NULL);
    json_t *protect = json_pack("[sss]", "Green Party", "Reading", "Lagarde");
    struct tr_names names;
    struct wp_buf out;
    wp_buf_init(&out, host);
    assert_int_equal(tr_protect(host, "body", text, strlen(text), entities, protect, &names, &out),
                     WP_OK);
    assert_string_equal(out.data, "ZXNE0 of the ZXNE1 met ZXNE2 in ZXNE3. Spreading news, "
                                  "ZXNE4 said.");
    assert_string_equal(names.originals[2], "Christine Lagarde");

    /* A translation that moved the names around restores exactly. */
    const char *tr = "ZXNE0 del ZXNE1 encontró ZXNE2 en ZXNE3. Difundiendo, dijo ZXNE4.";
    struct wp_buf back;
    wp_buf_init(&back, host);
    assert_int_equal(tr_restore(&names, tr, strlen(tr), out.data, out.len, &back), WP_OK);
    assert_string_equal(back.data, "Rose Black del Green Party encontró Christine Lagarde en "
                                   "Reading. Difundiendo, dijo Lagarde.");
    wp_buf_release(&back);

    /* Lost, doubled or invented placeholders are errors. */
    const char *bad[] = {"ZXNE0 ZXNE1 ZXNE2 ZXNE3", "ZXNE0 ZXNE0 ZXNE1 ZXNE2 ZXNE3 ZXNE4",
                         "ZXNE0 ZXNE1 ZXNE2 ZXNE3 ZXNE4 ZXNE9"};
    for (size_t i = 0; i < 3; i++) {
        wp_buf_init(&back, host);
        assert_int_equal(tr_restore(&names, bad[i], strlen(bad[i]), out.data, out.len, &back),
                         WP_E_PROTOCOL);
        wp_buf_release(&back);
    }
    tr_names_release(host, &names);
    wp_buf_release(&out);
    json_decref(entities);
    json_decref(protect);
}

static void test_placeholder_prefix_avoids_text(void **state)
{
    (void)state;
    const char *text = "The code ZXNE0 names Paris.";
    json_t *protect = json_pack("[s]", "Paris");
    struct tr_names names;
    struct wp_buf out;
    wp_buf_init(&out, host);
    assert_int_equal(tr_protect(host, "body", text, strlen(text), NULL, protect, &names, &out),
                     WP_OK);
    assert_string_equal(out.data, "The code ZXNE0 names ZXNF0.");
    tr_names_release(host, &names);
    wp_buf_release(&out);
    json_decref(protect);
}

static void test_wire_markup_round_trip(void **state)
{
    (void)state;
    const char *text = "AT&T <says> Rose & Black";
    json_t *protect = json_pack("[s]", "Rose & Black");
    struct tr_names names;
    struct wp_buf prot;
    wp_buf_init(&prot, host);
    assert_int_equal(tr_protect(host, "body", text, strlen(text), NULL, protect, &names, &prot),
                     WP_OK);
    struct wp_buf wire;
    wp_buf_init(&wire, host);
    tr_to_wire(&names, TR_PROTECT_XML_TAG, true, prot.data, prot.len, &wire);
    assert_string_equal(wire.data, "AT&amp;T &lt;says&gt; <x id=\"0\">Rose &amp; Black</x>");
    struct wp_buf back;
    wp_buf_init(&back, host);
    assert_int_equal(tr_from_wire(&names, TR_PROTECT_XML_TAG, true, wire.data, wire.len, &back),
                     WP_OK);
    assert_string_equal(back.data, prot.data);
    wp_buf_release(&wire);
    wp_buf_release(&back);

    wp_buf_init(&wire, host);
    tr_to_wire(&names, TR_PROTECT_HTML_SPAN, true, prot.data, prot.len, &wire);
    assert_string_equal(wire.data,
                        "AT&amp;T &lt;says&gt; <span translate=\"no\" id=\"wp0\">Rose &amp; "
                        "Black</span>");
    /* Engines answer with their own escaping: numeric references are decoded too. */
    const char *reply = "AT&#38;T &#x3C;dice&gt; &quot;ok&#39; <span translate=\"no\" "
                        "id=\"wp0\">Rose &amp; Black</span>";
    wp_buf_init(&back, host);
    assert_int_equal(tr_from_wire(&names, TR_PROTECT_HTML_SPAN, true, reply, strlen(reply), &back),
                     WP_OK);
    assert_string_equal(back.data, "AT&T <dice> \"ok' ZXNE0");
    wp_buf_release(&back);
    /* A span that lost its end is a protocol error. */
    const char *cut = "AT&T <span translate=\"no\" id=\"wp0\">Rose";
    wp_buf_init(&back, host);
    assert_int_equal(tr_from_wire(&names, TR_PROTECT_HTML_SPAN, true, cut, strlen(cut), &back),
                     WP_E_PROTOCOL);
    wp_buf_release(&back);
    wp_buf_release(&wire);
    tr_names_release(host, &names);
    wp_buf_release(&prot);
    json_decref(protect);
}

static void test_control_characters_left_out(void **state)
{
    (void)state;
    struct tr_names names = {.prefix = "ZXNE"};
    const char text[] = "a\x01"
                        "b\tc\nd\x00"
                        "e<f";
    struct wp_buf wire;
    wp_buf_init(&wire, host);
    tr_to_wire(&names, TR_PROTECT_PLACEHOLDER, false, text, sizeof(text) - 1, &wire);
    assert_int_equal(wire.len, 9);
    assert_memory_equal(wire.data, "ab\tc\nde<f", 9);
    wp_buf_release(&wire);
    wp_buf_init(&wire, host);
    tr_to_wire(&names, TR_PROTECT_HTML_SPAN, true, text, sizeof(text) - 1, &wire);
    assert_string_equal(wire.data, "ab\tc\nde&lt;f");
    wp_buf_release(&wire);
}

static void test_json_and_form_escaping(void **state)
{
    (void)state;
    struct wp_buf b;
    wp_buf_init(&b, host);
    tr_add_json(&b, "a\"b\\c\nd\x01", 8);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
    wp_buf_release(&b);
    wp_buf_init(&b, host);
    tr_add_form(&b, "a b&c=d|\xC3\xA9", 10);
    assert_string_equal(b.data, "a%20b%26c%3Dd%7C%C3%A9");
    wp_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paragraphs_whitespace_kept),
        cmocka_unit_test(test_long_paragraph_split_on_sentences),
        cmocka_unit_test(test_huge_word_cut_on_code_points),
        cmocka_unit_test(test_invalid_utf8_refused),
        cmocka_unit_test(test_protect_and_restore),
        cmocka_unit_test(test_placeholder_prefix_avoids_text),
        cmocka_unit_test(test_wire_markup_round_trip),
        cmocka_unit_test(test_control_characters_left_out),
        cmocka_unit_test(test_json_and_form_escaping),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
