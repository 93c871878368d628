/*
 * test_langdetect.c - the langdetect stage through the mock host: the fixture sentences,
 * the "und" rules (short, mixed, empty, non-string), declared languages and config errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these three first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include <wirepipe/plugin.h>

#include <jansson.h>

#include "mock_host.h"

#define GERMAN_1                                                                                   \
    "Die Bundesregierung will den Ausbau der Stromnetze beschleunigen und dafür in den "          \
    "kommenden Jahren zusätzliche Milliarden bereitstellen."
#define GERMAN_2 "Nach dem schweren Unwetter blieben am Dienstag zahlreiche Straßen gesperrt."
#define GERMAN_3                                                                                   \
    "Der Wetterdienst warnte vor weiteren starken Regenfällen und rief die Bewohner dazu auf, "   \
    "sich von Flüssen fernzuhalten."
#define GERMAN_4                                                                                   \
    "In mehreren Gemeinden mussten Keller ausgepumpt werden, verletzt wurde nach Angaben der "     \
    "Polizei niemand."
#define ENGLISH_1                                                                                  \
    "The central bank left interest rates unchanged on Thursday, citing slowing inflation "        \
    "and weak demand for credit."
#define ENGLISH_2                                                                                  \
    "Rescue teams searched through the night for survivors after heavy flooding hit several "      \
    "villages in the north."

/* Run one item through a fresh stage made from @config; returns the outcome. */
static enum wp_outcome run_item(const char *config, json_t *item, json_t **metrics)
{
    struct wp_mock m;
    wp_mock_init(&m);
    enum wp_status st = wp_mock_create(&m, "langdetect", NULL, config);
    if (st != WP_OK) {
        fail_msg("create failed: %s (%s)", wp_status_name(st), m.fail_text);
    }
    enum wp_outcome out = wp_mock_process(&m, item);
    if (metrics != NULL) {
        *metrics = json_deep_copy(m.metrics);
    }
    wp_mock_release(&m);
    return out;
}

static const char *lang_of(const json_t *item)
{
    return json_string_value(json_object_get(item, "language"));
}

static double conf_of(const json_t *item)
{
    const json_t *c = json_object_get(item, "language_confidence");
    assert_true(json_is_number(c));
    return json_number_value(c);
}

/* Detect @body alone with the default config; returns the new item. */
static json_t *detect_body(const char *body)
{
    json_t *item = json_pack("{s:s,s:s}", "id", "t", "body", body);
    assert_int_equal(run_item(NULL, item, NULL), WP_OUTCOME_OK);
    return item;
}

static void test_fixture_sentences(void **state)
{
    (void)state;
    const char *dir = getenv("WP_TEST_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/langdetect/sentences.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);

    json_t *seen = json_object();
    char line[4096];
    int total = 0;
    int wrong = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        const char *expected = line;
        const char *text = tab + 1;
        json_t *item = detect_body(text);
        const char *got = lang_of(item);
        double conf = conf_of(item);
        if (got == NULL || strcmp(got, expected) != 0 || conf < 0.7 || conf > 1.0) {
            print_error("expected %s, got %s (%.3f) for: %s\n", expected, got ? got : "(none)",
                        conf, text);
            wrong++;
        }
        json_object_set_new(seen, expected, json_true());
        total++;
        json_decref(item);
    }
    fclose(f);
    assert_int_equal(wrong, 0);
    assert_true(total >= 30);
    assert_true(json_object_size(seen) >= 15);
    const char *required[] = {"fa", "ar", "ru", "tr", "ku", "uk", "de", "fr", "es", "zh"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (json_object_get(seen, required[i]) == NULL) {
            fail_msg("fixture has no '%s' sentence", required[i]);
        }
    }
    json_decref(seen);
}

static void test_headline_and_body_joined(void **state)
{
    (void)state;
    /* Neither field is long enough alone; together they are. */
    json_t *item = json_pack("{s:s,s:s}", "headline", "Unwetter im Süden", "body",
                             "Zahlreiche Straßen blieben am Dienstag gesperrt.");
    assert_int_equal(run_item("{\"min_chars\": 30}", item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "de");
    json_decref(item);
}

static void test_declared_language_kept(void **state)
{
    (void)state;
    json_t *metrics = NULL;
    json_t *item = json_pack("{s:s,s:s}", "language", "fr", "body", GERMAN_1);
    assert_int_equal(run_item(NULL, item, &metrics), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "fr");
    assert_null(json_object_get(item, "language_confidence"));
    assert_int_equal(json_integer_value(json_object_get(metrics, "kept")), 1);
    json_decref(metrics);
    json_decref(item);
}

static void test_declared_und_is_detected(void **state)
{
    (void)state;
    const char *unknown[] = {"und", "", "UND"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        json_t *item = json_pack("{s:s,s:s}", "language", unknown[i], "body", GERMAN_1);
        assert_int_equal(run_item(NULL, item, NULL), WP_OUTCOME_OK);
        assert_string_equal(lang_of(item), "de");
        json_decref(item);
    }
    /* A language that is not a string is treated as missing and replaced. */
    json_t *item = json_pack("{s:i,s:s}", "language", 7, "body", GERMAN_1);
    assert_int_equal(run_item(NULL, item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "de");
    json_decref(item);
}

static void test_override(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s,s:s}", "language", "fr", "body", GERMAN_1);
    assert_int_equal(run_item("{\"override\": true}", item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "de");
    assert_true(conf_of(item) >= 0.7);
    json_decref(item);

    /* An undetermined result never replaces the source's tag. */
    item = json_pack("{s:s,s:s}", "language", "fr", "body", "Hallo Welt");
    assert_int_equal(run_item("{\"override\": true}", item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "fr");
    assert_null(json_object_get(item, "language_confidence"));
    json_decref(item);
}

static void test_short_text_is_und(void **state)
{
    (void)state;
    /* CLD2 calls "Hello world" reliable English; 10 letters are too few to trust. */
    const char *shorts[] = {"Hello world", "Breaking news",        "Путин",
                            "北京",        "Merkel trifft Macron", "12345 67890 !!! ... ???"};
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
        json_t *item = detect_body(shorts[i]);
        assert_string_equal(lang_of(item), "und");
        double conf = conf_of(item);
        assert_true(conf >= 0.0 && conf <= 1.0);
        json_decref(item);
    }
    /* With both limits off, the same short text gets CLD2's answer. */
    json_t *item = json_pack("{s:s}", "body", "Hello world");
    assert_int_equal(run_item("{\"min_chars\": 0, \"min_confidence\": 0}", item, NULL),
                     WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "en");
    json_decref(item);
}

static void test_mixed_even_is_und(void **state)
{
    (void)state;
    /* Half English, half German: no language has the share min_confidence asks for. */
    json_t *item = detect_body(ENGLISH_1 " " ENGLISH_2 " " GERMAN_1 " " GERMAN_3);
    assert_string_equal(lang_of(item), "und");
    assert_true(conf_of(item) < 0.7);
    json_decref(item);

    item = detect_body(ENGLISH_1 " أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في العاصمة "
                                 "لتخفيف الضغط على المرافق الطبية.");
    assert_string_equal(lang_of(item), "und");
    json_decref(item);
}

static void test_mixed_dominant_lower_confidence(void **state)
{
    (void)state;
    json_t *pure = detect_body(GERMAN_1 " " GERMAN_2 " " GERMAN_3 " " GERMAN_4);
    assert_string_equal(lang_of(pure), "de");

    /* A German story quoting one English sentence stays German, with less confidence. */
    json_t *mixed =
        detect_body(GERMAN_1 " " GERMAN_2 " " GERMAN_3 " " GERMAN_4 " \"" ENGLISH_2 "\"");
    assert_string_equal(lang_of(mixed), "de");
    assert_true(conf_of(mixed) >= 0.7);
    assert_true(conf_of(mixed) < conf_of(pure));
    json_decref(pure);
    json_decref(mixed);
}

static void test_empty_and_missing_fields(void **state)
{
    (void)state;
    json_t *items[] = {
        json_object(),
        json_pack("{s:s,s:s}", "headline", "", "body", ""),
        json_pack("{s:n,s:n}", "headline", "body"),
        json_pack("{s:s}", "body", "   \n\n   "),
    };
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        assert_int_equal(run_item(NULL, items[i], NULL), WP_OUTCOME_OK);
        assert_string_equal(lang_of(items[i]), "und");
        assert_true(conf_of(items[i]) == 0.0);
        json_decref(items[i]);
    }
}

static void test_non_string_fields(void **state)
{
    (void)state;
    json_t *metrics = NULL;
    json_t *item = json_pack("{s:i,s:[s]}", "headline", 42, "body", GERMAN_1);
    assert_int_equal(run_item(NULL, item, &metrics), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "und");
    assert_int_equal(json_integer_value(json_object_get(metrics, "field_not_string")), 2);
    /* The fields themselves are left as they were. */
    assert_int_equal(json_integer_value(json_object_get(item, "headline")), 42);
    json_decref(metrics);
    json_decref(item);

    item = json_pack("{s:{s:s},s:s}", "headline", "de", GERMAN_1, "body", GERMAN_2);
    assert_int_equal(run_item(NULL, item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "de");
    json_decref(item);
}

static void test_fields_config(void **state)
{
    (void)state;
    json_t *item = json_pack("{s:s,s:s}", "summary", GERMAN_1, "body", ENGLISH_1);
    assert_int_equal(run_item("{\"fields\": [\"summary\"]}", item, NULL), WP_OUTCOME_OK);
    assert_string_equal(lang_of(item), "de");
    json_decref(item);
}

static void test_long_text_is_cut(void **state)
{
    (void)state;
    /* Over 64 KiB of German so the cut lands inside the text (and maybe inside a letter). */
    size_t unit = strlen(GERMAN_2 " ");
    size_t reps = 70 * 1024 / unit + 1;
    char *body = malloc(reps * unit + 1);
    assert_non_null(body);
    for (size_t i = 0; i < reps; i++) {
        memcpy(body + i * unit, GERMAN_2 " ", unit);
    }
    body[reps * unit] = '\0';
    json_t *item = detect_body(body);
    assert_string_equal(lang_of(item), "de");
    free(body);
    json_decref(item);
}

static void test_sorani_not_persian(void **state)
{
    (void)state;
    /* Persian shares the script with Sorani but not the letters the ckb rule looks for. */
    json_t *item = detect_body("وزیر امور خارجه ایران روز دوشنبه برای گفتگو درباره "
                               "همکاری‌های "
                               "اقتصادی به "
                               "ترکیه سفر کرد.");
    assert_string_equal(lang_of(item), "fa");
    json_decref(item);
    item = detect_body("حکومەتی هەرێمی کوردستان ڕایگەیاند کە مووچەی فەرمانبەران لە هەفتەی "
                       "داهاتوودا دابەش دەکرێت.");
    assert_string_equal(lang_of(item), "ckb");
    assert_true(conf_of(item) <= 0.9);
    json_decref(item);

    /* CLD2 alone calls this Sorani headline reliable Persian. */
    item = detect_body("سەرۆکی هەرێمی کوردستان ئەمڕۆ");
    assert_string_equal(lang_of(item), "ckb");
    json_decref(item);

    /* A Persian story naming a Kurdish city in Kurdish spelling stays Persian. */
    item = detect_body(
        "وزیر امور خارجه ایران روز دوشنبه برای گفتگو درباره "
        "همکاری‌های "
        "اقتصادی "
        "با مقام‌های اقلیم کردستان به هەولێر سفر کرد.");
    assert_string_equal(lang_of(item), "fa");
    json_decref(item);
}

static void test_not_an_object_rejected(void **state)
{
    (void)state;
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "langdetect", NULL, NULL), WP_OK);
    json_t *item = json_pack("[s]", "not an item");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_non_null(strstr(m.fail_text, "not a JSON object"));
    json_decref(item);
    wp_mock_release(&m);
}

static void test_config_errors(void **state)
{
    (void)state;
    const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"{\"fields\": []}", "fields:"},
        {"{\"fields\": [\"body\", \"\"]}", "fields[1]:"},
        {"{\"fields\": [\"body\", 3]}", "fields[1]:"},
        {"{\"min_chars\": -1}", "min_chars:"},
        {"{\"min_chars\": 1.5}", "min_chars:"},
        {"{\"min_confidence\": 1.5}", "min_confidence:"},
        {"{\"min_confidence\": \"high\"}", "min_confidence:"},
        {"{\"override\": 1}", "override:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wp_mock m;
        wp_mock_init(&m);
        assert_int_equal(wp_mock_create(&m, "langdetect", NULL, cases[i].config), WP_E_CONFIG);
        if (strstr(m.fail_text, cases[i].message) != m.fail_text) {
            fail_msg("config %s: message '%s' does not start with '%s'", cases[i].config,
                     m.fail_text, cases[i].message);
        }
        wp_mock_release(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_sentences),
        cmocka_unit_test(test_headline_and_body_joined),
        cmocka_unit_test(test_declared_language_kept),
        cmocka_unit_test(test_declared_und_is_detected),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_short_text_is_und),
        cmocka_unit_test(test_mixed_even_is_und),
        cmocka_unit_test(test_mixed_dominant_lower_confidence),
        cmocka_unit_test(test_empty_and_missing_fields),
        cmocka_unit_test(test_non_string_fields),
        cmocka_unit_test(test_fields_config),
        cmocka_unit_test(test_long_text_is_cut),
        cmocka_unit_test(test_sorani_not_persian),
        cmocka_unit_test(test_not_an_object_rejected),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
