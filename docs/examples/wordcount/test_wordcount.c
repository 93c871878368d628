/*
 * test_wordcount - unit tests of the wordcount stage, run alone through the mock host of
 * <wirepipe/testing.h> (libwirepipe_testing): it loads wordcount.so with wirepipe's own
 * loader, validates the config as wirepipe does, and records what the stage emits, logs,
 * counts and dead-letters.
 *
 * The mock finds wordcount.so on $WIREPIPE_PLUGIN_PATH (ctest and `make check` set it).
 * Prints one TAP line per check; exits 1 when one fails.
 */
#include <stdio.h>
#include <string.h>

#include <wirepipe/testing.h>

#include <jansson.h>

static int checks, failures;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok)
        failures++;
    printf("%sok %d - %s\n", ok ? "" : "not ", checks, what);
}

/* A stage made with @config, or NULL (after a failed check) when create() refuses it. */
static struct wp_mock *make(struct wp_mock *m, const char *config)
{
    wp_mock_init(m);
    enum wp_status status = wp_mock_create(m, "wordcount", NULL, config);
    if (status != WP_OK) {
        printf("# create(%s): %s\n", config, m->fail_text);
        check(0, "create");
        wp_mock_release(m);
        return NULL;
    }
    return m;
}

static void test_counts_and_drops(void)
{
    struct wp_mock m;
    if (!make(&m, "{\"min_words\": 3}"))
        return;
    json_t *item = json_pack("{s:s,s:s}", "id", "a", "body", "one two  three\tfour");
    check(wp_mock_process(&m, item) == WP_OUTCOME_OK, "a long story goes on");
    check(json_integer_value(json_object_get(item, "x_wordcount")) == 4, "its words are counted");
    json_decref(item);

    item = json_pack("{s:s,s:s}", "id", "b", "body", "too short");
    check(wp_mock_process(&m, item) == WP_OUTCOME_DROP, "a short story is dropped");
    check(json_integer_value(json_object_get(m.metrics, "short_stories")) == 1,
          "and counted in the short_stories metric");
    json_decref(item);
    wp_mock_release(&m);
}

static void test_rejects_item_without_body(void)
{
    struct wp_mock m;
    if (!make(&m, NULL))
        return;
    json_t *item = json_pack("{s:s}", "id", "c");
    check(wp_mock_process(&m, item) == WP_OUTCOME_REJECT, "an item without a body is rejected");
    check(m.fail_code == WP_E_INVALID && strstr(m.fail_text, "no text body") != NULL,
          "with a reason");
    json_decref(item);
    wp_mock_release(&m);
}

/* Config errors are the host's (validation) or the stage's own (create()). */
static void test_config_errors(void)
{
    static const struct {
        const char *config;
        const char *message;
    } cases[] = {
        {"{\"min_word\": 3}", "did you mean 'min_words'"},
        {"{\"min_words\": \"ten\"}", "min_words: expected integer"},
        {"{\"min_words\": -1}", "min_words must not be negative"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wp_mock m;
        wp_mock_init(&m);
        enum wp_status status = wp_mock_create(&m, "wordcount", NULL, cases[i].config);
        int ok = status == WP_E_CONFIG && strstr(m.fail_text, cases[i].message) != NULL;
        if (!ok)
            printf("# %s: status %d, '%s'\n", cases[i].config, (int)status, m.fail_text);
        check(ok, cases[i].message);
        wp_mock_release(&m);
    }
}

int main(void)
{
    test_counts_and_drops();
    test_rejects_item_without_body();
    test_config_errors();
    printf("1..%d\n", checks);
    return failures ? 1 : 0;
}
