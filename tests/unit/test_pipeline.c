/* Unit tests of the pipeline definition: loading, ${VAR}, overrides, config checks. */
#include "wp_internal.h"

#include <stdbool.h>
#include <sys/stat.h>

#include "pipeline.h"
#include "wp_pipeline_test_util.h"

static enum wp_status load(struct pt_fixture *f, const char *text, struct wp_pipeline_def **def)
{
    pt_write(f, text);
    return wp__pipeline_def_load(f->path, NULL, 0, def, &f->diags);
}

/* Loads @text expecting a configuration error; the caller checks the messages. */
static void load_bad(struct pt_fixture *f, const char *text)
{
    struct wp_pipeline_def *def = NULL;
    enum wp_status st = load(f, text, &def);
    if (st != WP_E_CONFIG)
        pt_dump(f);
    assert_int_equal(st, WP_E_CONFIG);
    assert_null(def);
    assert_true(f->diags.count > 0);
}

static struct wp_pipeline_def *load_good(struct pt_fixture *f, const char *text)
{
    struct wp_pipeline_def *def = NULL;
    enum wp_status st = load(f, text, &def);
    if (st != WP_OK)
        pt_dump(f);
    assert_int_equal(st, WP_OK);
    assert_non_null(def);
    pt_expect_count(f, 0);
    return def;
}

/* ---- good files -------------------------------------------------------------------- */

static void test_minimal_defaults(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def = load_good(f, "{\"stages\": [{\"plugin\": \"fetch\"}]}");
    char want[PATH_MAX + 64];

    assert_string_equal(def->path, f->path);
    assert_string_equal(def->dir, f->dir);
    assert_string_equal(def->name, "pipeline");
    assert_null(def->description);
    snprintf(want, sizeof(want), "%s/.wirepipe", f->dir);
    assert_string_equal(def->state_dir, want);
    snprintf(want, sizeof(want), "%s/.wirepipe/dead-letter.jsonl", f->dir);
    assert_string_equal(def->dead_letter, want);
    assert_int_equal(def->queue_size, 256);
    assert_int_equal(def->stage_count, 1);
    struct wp_stage_def *s = &def->stages[0];
    assert_string_equal(s->id, "fetch");
    assert_string_equal(s->plugin, "fetch");
    assert_null(s->stage);
    assert_true(json_is_object(s->config));
    assert_int_equal(json_object_size(s->config), 0);
    assert_int_equal(s->on_error, WP_ON_ERROR_DEAD_LETTER);
    assert_int_equal(s->workers, 1);
    assert_int_equal(s->max_attempts, 3);
    wp__pipeline_def_free(def);
}

static void test_full_file(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def = load_good(
        f, "{\n"
           "  \"name\": \"sputnik\",\n"
           "  \"description\": \"a test\",\n"
           "  \"state_dir\": \"./state\",\n"
           "  \"dead_letter\": \"out/dl.jsonl\",\n"
           "  \"queue_size\": 65536,\n"
           "  \"stages\": [\n"
           "    {\"plugin\": \"fetch\", \"config\": {\"paths\": [\"a.txt\"]}},\n"
           "    {\"plugin\": \"libs/names.so\", \"on_error\": \"skip\", \"workers\": 64},\n"
           "    {\"plugin\": \"/opt/x/translate.so\", \"id\": \"tr.es-1\", \"stage\": \"batch\",\n"
           "     \"on_error\": \"fail\", \"max_attempts\": 100},\n"
           "    {\"plugin\": \"fetch\", \"id\": \"fetch2\", \"workers\": 1, \"max_attempts\": 1}\n"
           "  ]\n"
           "}\n");
    char want[PATH_MAX + 64];

    assert_string_equal(def->name, "sputnik");
    assert_string_equal(def->description, "a test");
    snprintf(want, sizeof(want), "%s/state", f->dir);
    assert_string_equal(def->state_dir, want);
    snprintf(want, sizeof(want), "%s/out/dl.jsonl", f->dir);
    assert_string_equal(def->dead_letter, want);
    assert_int_equal(def->queue_size, 65536);
    assert_int_equal(def->stage_count, 4);

    assert_string_equal(
        json_string_value(json_array_get(json_object_get(def->stages[0].config, "paths"), 0)),
        "a.txt");
    snprintf(want, sizeof(want), "%s/libs/names.so", f->dir);
    assert_string_equal(def->stages[1].plugin, want);
    assert_string_equal(def->stages[1].id, "names");
    assert_int_equal(def->stages[1].on_error, WP_ON_ERROR_SKIP);
    assert_int_equal(def->stages[1].workers, 64);
    assert_string_equal(def->stages[2].plugin, "/opt/x/translate.so");
    assert_string_equal(def->stages[2].id, "tr.es-1");
    assert_string_equal(def->stages[2].stage, "batch");
    assert_int_equal(def->stages[2].on_error, WP_ON_ERROR_FAIL);
    assert_int_equal(def->stages[2].max_attempts, 100);
    assert_string_equal(def->stages[3].id, "fetch2");
    assert_int_equal(def->stages[3].max_attempts, 1);
    wp__pipeline_def_free(def);
}

static void test_absolute_state_dir_and_relative_path(void **state)
{
    struct pt_fixture *f = *state;
    char sub[PATH_MAX + 16], rel[PATH_MAX + 64], cwd[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s/sub", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(rel, sizeof(rel), "%s/sub/my.pipe.json", f->dir);
    const char *text = "{\"state_dir\": \"/var/lib/wp\", \"stages\": [{\"plugin\": \"a\"}]}";
    pt_write_bytes(rel, text, strlen(text));

    /* Load through a relative path: dir must still come out absolute. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    struct wp_pipeline_def *def = NULL;
    enum wp_status st = wp__pipeline_def_load("sub/my.pipe.json", NULL, 0, &def, &f->diags);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, WP_OK);
    assert_string_equal(def->path, "sub/my.pipe.json");
    assert_string_equal(def->dir, sub);
    assert_string_equal(def->name, "my.pipe");
    assert_string_equal(def->state_dir, "/var/lib/wp");
    assert_string_equal(def->dead_letter, "/var/lib/wp/dead-letter.jsonl");
    wp__pipeline_def_free(def);
}

/* ---- reading and syntax ------------------------------------------------------------ */

static void test_missing_file(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def = NULL;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/nope.json", f->dir);
    assert_int_equal(wp__pipeline_def_load(path, NULL, 0, &def, &f->diags), WP_E_IO);
    assert_null(def);
    pt_expect(f, "cannot open pipeline '%s': No such file or directory", path);
}

static void test_directory(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->dir, NULL, 0, &def, &f->diags), WP_E_IO);
    pt_expect(f, "cannot read pipeline '%s': Is a directory", f->dir);
}

static void test_trailing_comma(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\n  \"stages\": [\n    {\"plugin\": \"fetch\"},\n  ]\n}\n");
    pt_expect_count(f, 1);
    pt_expect(f, "%s:4:", f->path);
}

static void test_duplicate_key(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"stages\": [{\"plugin\": \"a\", \"plugin\": \"b\"}]}");
    pt_expect(f, "%s:1:", f->path);
    pt_expect(f, "duplicate object key");
}

static void test_invalid_utf8(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"name\": \"caf\xC3\x28\", \"stages\": [{\"plugin\": \"a\"}]}");
    pt_expect(f, "%s:1:", f->path);
    pt_expect(f, ": invalid UTF-8");
    /* The message must not echo the broken bytes. */
    assert_null(strchr(f->diags.lines[0], '\xC3'));
}

static void test_nul_escape(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"name\": \"a\\u0000b\", \"stages\": [{\"plugin\": \"a\"}]}");
    pt_expect(f, "'\\u0000' is not allowed in a string");
}

static void test_raw_nul_byte(void **state)
{
    struct pt_fixture *f = *state;
    static const char text[] = "{\"stages\": [{\"plugin\": \"a\0\"}]}";
    struct wp_pipeline_def *def = NULL;
    pt_write_bytes(f->path, text, sizeof(text) - 1);
    assert_int_equal(wp__pipeline_def_load(f->path, NULL, 0, &def, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s:1:", f->path);
}

static char *nested(size_t depth)
{
    /* {"stages":[{"plugin":"a","config":{"x":[[[...]]]}}]} with @depth levels in total. */
    size_t inner = depth - 4;
    size_t size = 64 + 2 * inner;
    char *s = malloc(size);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, size, "{\"stages\":[{\"plugin\":\"a\",\"config\":{\"x\":");
    for (size_t i = 0; i < inner; i++)
        s[n++] = '[';
    for (size_t i = 0; i < inner; i++)
        s[n++] = ']';
    memcpy(s + n, "}}]}", 5);
    return s;
}

static void test_depth_limit(void **state)
{
    struct pt_fixture *f = *state;
    char *ok = nested(32);
    wp__pipeline_def_free(load_good(f, ok));
    free(ok);

    char *deep = nested(33);
    load_bad(f, deep);
    free(deep);
    pt_expect_count(f, 1);
    pt_expect(f, "%s: stages[0].config.x", f->path);
    pt_expect(f, "nesting is deeper than 32 levels");
}

static void test_depth_beyond_parser(void **state)
{
    struct pt_fixture *f = *state;
    char *deep = nested(5000);
    load_bad(f, deep);
    free(deep);
    pt_expect(f, "nesting is deeper than 32 levels");
}

static void test_too_large(void **state)
{
    struct pt_fixture *f = *state;
    size_t size = 1024 * 1024 + 1;
    char *big = malloc(size);
    assert_non_null(big);
    memset(big, ' ', size);
    memcpy(big, "{\"stages\": [{\"plugin\": \"a\"}]}", 29);
    pt_write_bytes(f->path, big, size);
    free(big);
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, NULL, 0, &def, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: file is too large (more than 1048576 bytes)", f->path);
}

static void test_exactly_one_mib_is_fine(void **state)
{
    struct pt_fixture *f = *state;
    size_t size = 1024 * 1024;
    char *big = malloc(size);
    assert_non_null(big);
    memset(big, ' ', size);
    memcpy(big, "{\"stages\": [{\"plugin\": \"a\"}]}", 29);
    pt_write_bytes(f->path, big, size);
    free(big);
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, NULL, 0, &def, &f->diags), WP_OK);
    wp__pipeline_def_free(def);
}

static void test_top_level_not_object(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "[{\"plugin\": \"a\"}]");
    pt_expect(f, "%s: expected an object at the top level, got array", f->path);
}

static void test_empty_file(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "");
    pt_expect(f, "%s", f->path);
}

/* ---- shape errors ------------------------------------------------------------------ */

static void test_unknown_top_key_suggestion(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"nmae\": \"x\", \"stages\": [{\"plugin\": \"a\"}]}");
    pt_expect_count(f, 1);
    pt_expect(f, "%s: unknown key 'nmae'; did you mean 'name'?", f->path);
}

static void test_unknown_top_key_list(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"zzzzzz\": 1, \"stages\": [{\"plugin\": \"a\"}]}");
    pt_expect(f,
              "%s: unknown key 'zzzzzz' (allowed: 'name', 'description', 'state_dir', "
              "'dead_letter', 'queue_size', 'grace_period_s', 'metrics', 'stages')",
              f->path);
}

static void test_unknown_stage_key(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"stages\": [{\"plugin\": \"a\"}, {\"plugin\": \"b\", \"workrs\": 2}]}");
    pt_expect_count(f, 1);
    pt_expect(f, "%s: stages[1]: unknown key 'workrs'; did you mean 'workers'?", f->path);
}

static void test_wrong_types(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f,
             "{\"name\": 5, \"description\": [], \"queue_size\": 0, \"state_dir\": \"\",\n"
             " \"dead_letter\": null, \"stages\": [\n"
             "  {\"plugin\": \"a\", \"workers\": \"2\"},\n"
             "  {\"plugin\": \"b\", \"workers\": 65, \"max_attempts\": 1.5},\n"
             "  {\"plugin\": \"c\", \"config\": [], \"stage\": 3, \"id\": true},\n"
             "  {\"plugin\": \"d\", \"max_attempts\": 0, \"on_error\": \"skp\"},\n"
             "  \"e\",\n"
             "  {\"plugin\": 7}, {\"plugin\": \"Bad-Name\"}, {\"id\": \"x\"},\n"
             "  {\"plugin\": \"f\", \"id\": \"bad id\"}, {\"plugin\": \"g\", \"workers\": true}\n"
             "]}");
    const char *F = f->path;
    pt_expect(f, "%s: name: expected non-empty string, got integer", F);
    pt_expect(f, "%s: description: expected string, got array", F);
    pt_expect(f, "%s: queue_size: expected integer 1..65536, got 0", F);
    pt_expect(f, "%s: state_dir: expected non-empty string, got an empty one", F);
    pt_expect(f, "%s: dead_letter: expected non-empty string, got null", F);
    pt_expect(f, "%s: stages[0].workers: expected integer 1..64, got string", F);
    pt_expect(f, "%s: stages[1].workers: expected integer 1..64, got 65", F);
    pt_expect(f, "%s: stages[1].max_attempts: expected integer 1..100, got real", F);
    pt_expect(f, "%s: stages[2].config: expected object, got array", F);
    pt_expect(f, "%s: stages[2].stage: expected non-empty string, got integer", F);
    pt_expect(f, "%s: stages[2].id: expected non-empty string, got boolean", F);
    pt_expect(f, "%s: stages[3].max_attempts: expected integer 1..100, got 0", F);
    pt_expect(f,
              "%s: stages[3].on_error: invalid value 'skp' (expected 'dead-letter', 'skip' or "
              "'fail'); did you mean 'skip'?",
              F);
    pt_expect(f, "%s: stages[4]: expected object, got string", F);
    pt_expect(f, "%s: stages[5].plugin: expected non-empty string, got integer", F);
    pt_expect(f, "%s: stages[6].plugin: invalid plugin name 'Bad-Name'", F);
    pt_expect(f, "%s: stages[7]: missing required key 'plugin'", F);
    pt_expect(f, "%s: stages[8].id: invalid stage id 'bad id'", F);
    pt_expect(f, "%s: stages[9].workers: expected integer 1..64, got boolean", F);
    pt_expect_count(f, 19);
}

static void test_stages_shape(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"name\": \"x\"}");
    pt_expect(f, "%s: missing required key 'stages'", f->path);
    wp__diags_release(&f->diags);
    load_bad(f, "{\"stages\": {\"plugin\": \"a\"}}");
    pt_expect(f, "%s: stages: expected array, got object", f->path);
}

static void test_duplicate_ids(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"stages\": [{\"plugin\": \"normalize\"}, {\"plugin\": \"normalize\"},\n"
                " {\"plugin\": \"x\", \"id\": \"n\"}, {\"plugin\": \"y\", \"id\": \"n\"}]}");
    pt_expect_count(f, 2);
    pt_expect(f,
              "%s: stages[1]: duplicate stage id 'normalize' (also used by stages[0]); give the "
              "stage an 'id'",
              f->path);
    pt_expect(f, "%s: stages[3].id: duplicate stage id 'n' (also used by stages[2])", f->path);
}

static void test_all_errors_reported(void **state)
{
    struct pt_fixture *f = *state;
    unsetenv("WP_TEST_SURELY_UNSET");
    load_bad(f, "{\"nmae\": \"x\", \"queue_size\": \"big\", \"stages\": [\n"
                "  {\"plugin\": \"a\", \"workers\": 0, \"confg\": {}},\n"
                "  {\"plugin\": \"a\", \"config\": {\"k\": \"${WP_TEST_SURELY_UNSET}\"}}]}");
    pt_expect(f, "unknown key 'nmae'");
    pt_expect(f, "queue_size: expected integer 1..65536, got string");
    pt_expect(f, "stages[0].workers: expected integer 1..64, got 0");
    pt_expect(f, "stages[0]: unknown key 'confg'; did you mean 'config'?");
    pt_expect(f, "stages[1].config.k: environment variable 'WP_TEST_SURELY_UNSET' is not set");
    pt_expect(f, "stages[1]: duplicate stage id 'a'");
    pt_expect_count(f, 6);
}

static void test_control_chars_in_keys_are_masked(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"a\\nb\": 1, \"stages\": [{\"plugin\": \"a\"}]}");
    pt_expect(f, "unknown key 'a?b'");
    assert_null(strchr(f->diags.lines[0], '\n'));
}

/* ---- ${VAR} ------------------------------------------------------------------------ */

static void test_env_forms(void **state)
{
    struct pt_fixture *f = *state;
    setenv("WP_T_HOST", "127.0.0.1", 1);
    setenv("WP_T_EMPTY", "", 1);
    unsetenv("WP_T_UNSET");
    struct wp_pipeline_def *def =
        load_good(f, "{\"name\": \"${WP_T_HOST}\", \"state_dir\": \"${WP_T_UNSET:-st}\",\n"
                     " \"stages\": [{\"plugin\": \"fetch\", \"config\": {\n"
                     "   \"url\": \"http://${WP_T_HOST}:${WP_T_UNSET:-80}/x\",\n"
                     "   \"e\": \"[${WP_T_EMPTY:-dflt}]\",\n"
                     "   \"lit\": \"$${WP_T_HOST} and $HOME and $\",\n"
                     "   \"deep\": {\"list\": [\"${WP_T_HOST}\", 1, {\"x\": \"${WP_T_HOST}\"}]},\n"
                     "   \"${WP_T_HOST}\": \"key kept\"}}]}");
    char want[PATH_MAX + 16];
    assert_string_equal(def->name, "127.0.0.1");
    snprintf(want, sizeof(want), "%s/st", f->dir);
    assert_string_equal(def->state_dir, want);
    json_t *c = def->stages[0].config;
    assert_string_equal(json_string_value(json_object_get(c, "url")), "http://127.0.0.1:80/x");
    assert_string_equal(json_string_value(json_object_get(c, "e")), "[dflt]");
    assert_string_equal(json_string_value(json_object_get(c, "lit")),
                        "${WP_T_HOST} and $HOME and $");
    json_t *list = json_object_get(json_object_get(c, "deep"), "list");
    assert_string_equal(json_string_value(json_array_get(list, 0)), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "x")),
                        "127.0.0.1");
    assert_non_null(json_object_get(c, "${WP_T_HOST}"));
    wp__pipeline_def_free(def);
}

static void test_env_errors(void **state)
{
    struct pt_fixture *f = *state;
    unsetenv("WP_T_UNSET");
    unsetenv("WP_T_KEY");
    load_bad(f, "{\"stages\": [{\"plugin\": \"translate\", \"config\": {\n"
                "  \"endpoint\": \"${WP_T_UNSET}\",\n"
                "  \"key\": \"${WP_T_KEY:?set WP_T_KEY to your API key}\",\n"
                "  \"list\": [\"ok\", \"${WP_T_UNSET}/${WP_T_KEY}\"],\n"
                "  \"open\": \"${WP_T_UNSET\",\n"
                "  \"bad\": \"${1X}\"}}]}");
    const char *F = f->path;
    pt_expect(f, "%s: stages[0].config.endpoint: environment variable 'WP_T_UNSET' is not set", F);
    pt_expect(f,
              "%s: stages[0].config.key: environment variable 'WP_T_KEY' is not set: set "
              "WP_T_KEY to your API key",
              F);
    pt_expect(f, "%s: stages[0].config.list[1]: environment variable 'WP_T_UNSET' is not set", F);
    pt_expect(f, "%s: stages[0].config.list[1]: environment variable 'WP_T_KEY' is not set", F);
    pt_expect(f, "%s: stages[0].config.open: unterminated '${'", F);
    pt_expect(f, "%s: stages[0].config.bad: invalid variable reference '${1X}'", F);
    pt_expect_count(f, 6);
}

static void test_env_value_is_not_reexpanded(void **state)
{
    struct pt_fixture *f = *state;
    setenv("WP_T_TRICK", "${WP_T_OTHER}", 1);
    unsetenv("WP_T_OTHER");
    struct wp_pipeline_def *def = load_good(f, "{\"name\": \"${WP_T_TRICK}\", "
                                               "\"stages\": [{\"plugin\": \"a\"}]}");
    assert_string_equal(def->name, "${WP_T_OTHER}");
    wp__pipeline_def_free(def);
}

static void test_env_secret_value_not_printed(void **state)
{
    struct pt_fixture *f = *state;
    setenv("WP_T_SECRET", "canary-\xFF-secret", 1);
    load_bad(f, "{\"stages\": [{\"plugin\": \"a\", \"config\": {\"k\": \"${WP_T_SECRET}\"}}]}");
    pt_expect(f, "stages[0].config.k: environment variable 'WP_T_SECRET' is not valid UTF-8");
    assert_false(pt_has(f, "canary"));
    unsetenv("WP_T_SECRET");
}

/* ---- --set overrides --------------------------------------------------------------- */

static void test_overrides(void **state)
{
    struct pt_fixture *f = *state;
    const struct wp_config_override ov[] = {
        {"fetch", "limit", "5"},
        {"fetch", "name", "plain text"},
        {"tr", "targets", "[\"es\", \"fr\"]"},
        {"tr", "flag", "true"},
        {"tr", "half", "[1, 2"},
        {"tr", "dup", "{\"a\": 1, \"a\": 2}"},
    };
    pt_write(f, "{\"stages\": [{\"plugin\": \"fetch\", \"config\": {\"limit\": 1}},\n"
                " {\"plugin\": \"translate\", \"id\": \"tr\"}]}");
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, ov, WP_ARRAY_SIZE(ov), &def, &f->diags), WP_OK);
    json_t *c0 = def->stages[0].config, *c1 = def->stages[1].config;
    assert_int_equal(json_integer_value(json_object_get(c0, "limit")), 5);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "plain text");
    assert_int_equal(json_array_size(json_object_get(c1, "targets")), 2);
    assert_true(json_is_true(json_object_get(c1, "flag")));
    assert_string_equal(json_string_value(json_object_get(c1, "half")), "[1, 2");
    assert_string_equal(json_string_value(json_object_get(c1, "dup")), "{\"a\": 1, \"a\": 2}");
    wp__pipeline_def_free(def);
}

static void test_override_errors(void **state)
{
    struct pt_fixture *f = *state;
    const struct wp_config_override ov[] = {
        {"fetc", "paths", "[]"},
        {"zzzzzz", "x", "secret-canary"},
        {"fetch", "", "1"},
        {"fetch", "k", "bad \xC3\x28 utf8"},
    };
    pt_write(f, "{\"stages\": [{\"plugin\": \"fetch\"}, {\"plugin\": \"publish\"}]}");
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, ov, WP_ARRAY_SIZE(ov), &def, &f->diags),
                     WP_E_CONFIG);
    assert_null(def);
    pt_expect(f, "%s: --set 'fetc.paths': no stage 'fetc'; did you mean 'fetch'?", f->path);
    pt_expect(f, "%s: --set 'zzzzzz.x': no stage 'zzzzzz'", f->path);
    pt_expect(f, "--set 'fetch.': missing config key");
    pt_expect(f, "--set 'fetch.k': value is not valid UTF-8");
    assert_false(pt_has(f, "canary"));
    pt_expect_count(f, 4);
}

static void test_override_depth(void **state)
{
    struct pt_fixture *f = *state;
    char ok[64] = "", deep[64] = "";
    /* The value sits at level 5 (root, stages, stage, config), so 28 levels fit. */
    for (int i = 0; i < 28; i++)
        ok[i] = '[';
    memset(ok + 28, ']', 28);
    memcpy(deep, ok, sizeof(deep));
    memmove(deep + 1, deep, 56);
    deep[57] = ']';
    const struct wp_config_override good[] = {{"fetch", "x", ok}};
    const struct wp_config_override bad[] = {{"fetch", "x", deep}};
    pt_write(f, "{\"stages\": [{\"plugin\": \"fetch\"}]}");
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, good, 1, &def, &f->diags), WP_OK);
    wp__pipeline_def_free(def);
    assert_int_equal(wp__pipeline_def_load(f->path, bad, 1, &def, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: stages[0].config.x", f->path);
    pt_expect(f, "nesting is deeper than 32 levels");
}

static void test_override_parse(void **state)
{
    (void)state;
    struct wp_config_override ov;
    char a1[] = "fetch.paths=[\"a=b\"]";
    assert_true(wp__config_override_parse(a1, &ov));
    assert_string_equal(ov.stage_id, "fetch");
    assert_string_equal(ov.key, "paths");
    assert_string_equal(ov.value, "[\"a=b\"]");
    char a2[] = "tr.es-1.target=";
    assert_true(wp__config_override_parse(a2, &ov));
    assert_string_equal(ov.stage_id, "tr.es-1");
    assert_string_equal(ov.key, "target");
    assert_string_equal(ov.value, "");
    /* No dot before the '=': a top-level key of the pipeline. */
    char a3[] = "state_dir=/var/lib/wirepipe/desk.a";
    assert_true(wp__config_override_parse(a3, &ov));
    assert_null(ov.stage_id);
    assert_string_equal(ov.key, "state_dir");
    assert_string_equal(ov.value, "/var/lib/wirepipe/desk.a");
    static const char *const bad[] = {"noequals", ".key=1", "stage.=1", "=x"};
    for (size_t i = 0; i < WP_ARRAY_SIZE(bad); i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%s", bad[i]);
        assert_false(wp__config_override_parse(buf, &ov));
        assert_string_equal(buf, bad[i]);
    }
}

static void test_plugin_path_ids(void **state)
{
    struct pt_fixture *f = *state;
    load_bad(f, "{\"stages\": [{\"plugin\": \"my plugin.so\"}, {\"plugin\": \"./p/a.so\"},\n"
                " {\"plugin\": \"/abs/a.so\"}]}");
    pt_expect(f, "%s: stages[0]: cannot use plugin file name 'my plugin' as stage id; set 'id'",
              f->path);
    pt_expect(f, "%s: stages[2]: duplicate stage id 'a' (also used by stages[1])", f->path);
    pt_expect_count(f, 2);
}

/* ---- config validation ------------------------------------------------------------- */

static const struct wp_config_key fake_keys[] = {
    {.name = "paths", .type = WP_CONFIG_PATHS, .doc = "files to read", .flags = WP_CONFIG_REQUIRED},
    {.name = "to",
     .type = WP_CONFIG_STRING,
     .default_json = "\"stdout\"",
     .doc = "where",
     .choices = "stdout|dir|file"},
    {.name = "out", .type = WP_CONFIG_PATH, .default_json = "\"out\"", .doc = "folder"},
    {.name = "timeout_ms", .type = WP_CONFIG_INT, .default_json = "5000", .doc = "ms"},
    {.name = "ratio", .type = WP_CONFIG_NUMBER, .default_json = "0.5", .doc = "r"},
    {.name = "verbose", .type = WP_CONFIG_BOOL, .default_json = "false", .doc = "v"},
    {.name = "targets", .type = WP_CONFIG_STRINGS, .default_json = "[]", .doc = "langs"},
    {.name = "headers", .type = WP_CONFIG_OBJECT, .default_json = "{}", .doc = "h"},
    {.name = "extra", .type = WP_CONFIG_ANY, .doc = "x"},
    {.name = "api_key",
     .type = WP_CONFIG_STRING,
     .doc = "key",
     .flags = WP_CONFIG_SECRET,
     .choices = "alpha|beta"},
    {0},
};

static struct wp_pipeline_def *load_config(struct pt_fixture *f, const char *config)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"stages\": [{\"plugin\": \"a\"}, {\"plugin\": \"fake\", "
             "\"config\": %s}]}",
             config);
    return load_good(f, text);
}

static void test_config_defaults_and_paths(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def = load_config(
        f, "{\"paths\": [\"in/a.txt\", \"/abs/b.txt\", \"http://h/c\", \"file:///d\", \"-\"],"
           " \"to\": \"dir\", \"timeout_ms\": 10, \"ratio\": 2, \"extra\": [null]}");
    assert_int_equal(wp__config_validate(def, 1, fake_keys, &f->diags), WP_OK);
    pt_expect_count(f, 0);
    json_t *c = def->stages[1].config;
    char want[PATH_MAX + 32];
    json_t *paths = json_object_get(c, "paths");
    snprintf(want, sizeof(want), "%s/in/a.txt", f->dir);
    assert_string_equal(json_string_value(json_array_get(paths, 0)), want);
    assert_string_equal(json_string_value(json_array_get(paths, 1)), "/abs/b.txt");
    assert_string_equal(json_string_value(json_array_get(paths, 2)), "http://h/c");
    assert_string_equal(json_string_value(json_array_get(paths, 3)), "file:///d");
    assert_string_equal(json_string_value(json_array_get(paths, 4)), "-");
    assert_string_equal(json_string_value(json_object_get(c, "to")), "dir");
    snprintf(want, sizeof(want), "%s/out", f->dir);
    assert_string_equal(json_string_value(json_object_get(c, "out")), want);
    assert_int_equal(json_integer_value(json_object_get(c, "timeout_ms")), 10);
    assert_true(json_is_integer(json_object_get(c, "ratio")));
    assert_true(json_is_false(json_object_get(c, "verbose")));
    assert_true(json_is_array(json_object_get(c, "targets")));
    assert_true(json_is_object(json_object_get(c, "headers")));
    assert_null(json_object_get(c, "api_key"));
    assert_true(json_is_array(json_object_get(c, "extra")));
    wp__pipeline_def_free(def);
}

static void test_config_errors(void **state)
{
    struct pt_fixture *f = *state;
    struct wp_pipeline_def *def =
        load_config(f, "{\"to\": \"fil\", \"out\": 3, \"timeout_ms\": 1.5, \"ratio\": \"x\","
                       " \"verbose\": \"yes\", \"targets\": [\"es\", 2], \"headers\": [],"
                       " \"timeuot_ms\": 1, \"qqqqqqq\": 2, \"api_key\": \"canary-secret\"}");
    assert_int_equal(wp__config_validate(def, 1, fake_keys, &f->diags), WP_E_CONFIG);
    const char *F = f->path;
    pt_expect(f, "%s: stages[1].config: missing required key 'paths'", F);
    pt_expect(f,
              "%s: stages[1].config.to: invalid value 'fil' (expected 'stdout', 'dir' or "
              "'file'); did you mean 'file'?",
              F);
    pt_expect(f, "%s: stages[1].config.out: expected path string, got integer", F);
    pt_expect(f, "%s: stages[1].config.timeout_ms: expected integer, got real", F);
    pt_expect(f, "%s: stages[1].config.ratio: expected number, got string", F);
    pt_expect(f, "%s: stages[1].config.verbose: expected boolean, got string", F);
    pt_expect(f, "%s: stages[1].config.targets[1]: expected string, got integer", F);
    pt_expect(f, "%s: stages[1].config.headers: expected object, got array", F);
    pt_expect(f, "%s: stages[1].config: unknown key 'timeuot_ms'; did you mean 'timeout_ms'?", F);
    pt_expect(f, "%s: stages[1].config: unknown key 'qqqqqqq' (allowed: 'paths', 'to', 'out'", F);
    pt_expect(f, "%s: stages[1].config.api_key: invalid value (expected 'alpha' or 'beta')", F);
    assert_false(pt_has(f, "canary"));
    pt_expect_count(f, 11);
    wp__pipeline_def_free(def);
}

static void test_config_no_keys(void **state)
{
    struct pt_fixture *f = *state;
    static const struct wp_config_key none[] = {{0}};
    struct wp_pipeline_def *def = load_config(f, "{\"x\": 1}");
    assert_int_equal(wp__config_validate(def, 1, none, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: stages[1].config: unknown key 'x' (stage 'fake' takes no config keys)",
              f->path);
    wp__diags_release(&f->diags);
    assert_int_equal(wp__config_validate(def, 0, NULL, &f->diags), WP_OK);
    assert_int_equal(wp__config_validate(def, 2, none, &f->diags), WP_E_INVALID);
    wp__pipeline_def_free(def);
}

static void test_config_bad_default(void **state)
{
    struct pt_fixture *f = *state;
    static const struct wp_config_key bad[] = {
        {.name = "n", .type = WP_CONFIG_INT, .default_json = "{oops", .doc = "n"},
        {0},
    };
    struct wp_pipeline_def *def = load_config(f, "{}");
    assert_int_equal(wp__config_validate(def, 1, bad, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: stages[1].config.n: the plugin's default is not valid JSON", f->path);
    wp__pipeline_def_free(def);
}

static void test_config_bounds(void **state)
{
    struct pt_fixture *f = *state;
    static const struct wp_config_key bounded[] = {
        {.name = "workers", .type = WP_CONFIG_INT, .default_json = "4", WP_CONFIG_RANGE(1, 64)},
        {.name = "ratio", .type = WP_CONFIG_NUMBER, .default_json = "0.5", WP_CONFIG_RANGE(0, 1)},
        {.name = "targets", .type = WP_CONFIG_STRINGS, .default_json = "[\"es\"]", .min_items = 1},
        {0},
    };
    struct wp_pipeline_def *def = load_config(f, "{\"workers\": 64, \"ratio\": 0}");
    assert_int_equal(wp__config_validate(def, 1, bounded, &f->diags), WP_OK);
    pt_expect_count(f, 0);
    wp__pipeline_def_free(def);

    def = load_config(f, "{\"workers\": 0, \"ratio\": 1.5, \"targets\": []}");
    assert_int_equal(wp__config_validate(def, 1, bounded, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: stages[1].config.workers: expected an integer from 1 to 64, got 0", f->path);
    pt_expect(f, "%s: stages[1].config.ratio: expected a number from 0 to 1, got 1.5", f->path);
    pt_expect(f, "%s: stages[1].config.targets: expected at least 1 entry, got 0", f->path);
    pt_expect_count(f, 3);
    wp__pipeline_def_free(def);
}

static void test_config_override_then_validate(void **state)
{
    struct pt_fixture *f = *state;
    const struct wp_config_override ov[] = {{"fake", "timeout_ms", "abc"},
                                            {"fake", "paths", "[\"x\"]"}};
    pt_write(f, "{\"stages\": [{\"plugin\": \"fake\"}]}");
    struct wp_pipeline_def *def = NULL;
    assert_int_equal(wp__pipeline_def_load(f->path, ov, 2, &def, &f->diags), WP_OK);
    assert_int_equal(wp__config_validate(def, 0, fake_keys, &f->diags), WP_E_CONFIG);
    pt_expect(f, "%s: stages[0].config.timeout_ms: expected integer, got string", f->path);
    pt_expect_count(f, 1);
    wp__pipeline_def_free(def);
}

/* ---- suggestions ------------------------------------------------------------------- */

static void test_suggest(void **state)
{
    (void)state;
    static const char *const keys[] = {"name",        "description", "state_dir",
                                       "dead_letter", "queue_size",  "stages"};
    size_t n = WP_ARRAY_SIZE(keys);
    assert_string_equal(wp__suggest("nmae", keys, n), "name");
    assert_string_equal(wp__suggest("Name", keys, n), "name");
    assert_string_equal(wp__suggest("stage", keys, n), "stages");
    assert_string_equal(wp__suggest("statedir", keys, n), "state_dir");
    assert_string_equal(wp__suggest("deadletter", keys, n), "dead_letter");
    assert_string_equal(wp__suggest("descripton", keys, n), "description");
    assert_string_equal(wp__suggest("queue-size", keys, n), "queue_size");
    assert_null(wp__suggest("zzzzzz", keys, n));
    assert_null(wp__suggest("x", keys, n));
    assert_null(wp__suggest("", keys, n));
    assert_null(wp__suggest("plugin", keys, n));
    assert_null(wp__suggest("name", keys, 0));
    static const char *const some_null[] = {NULL, "timeout"};
    assert_string_equal(wp__suggest("tiemout", some_null, 2), "timeout");
    char longword[200];
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    assert_null(wp__suggest(longword, keys, n));
}

#define T(name) cmocka_unit_test_setup_teardown(name, pt_setup, pt_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_minimal_defaults),
        T(test_full_file),
        T(test_absolute_state_dir_and_relative_path),
        T(test_missing_file),
        T(test_directory),
        T(test_trailing_comma),
        T(test_duplicate_key),
        T(test_invalid_utf8),
        T(test_nul_escape),
        T(test_raw_nul_byte),
        T(test_depth_limit),
        T(test_depth_beyond_parser),
        T(test_too_large),
        T(test_exactly_one_mib_is_fine),
        T(test_top_level_not_object),
        T(test_empty_file),
        T(test_unknown_top_key_suggestion),
        T(test_unknown_top_key_list),
        T(test_unknown_stage_key),
        T(test_wrong_types),
        T(test_stages_shape),
        T(test_duplicate_ids),
        T(test_all_errors_reported),
        T(test_control_chars_in_keys_are_masked),
        T(test_env_forms),
        T(test_env_errors),
        T(test_env_value_is_not_reexpanded),
        T(test_env_secret_value_not_printed),
        T(test_overrides),
        T(test_override_errors),
        T(test_override_depth),
        T(test_override_parse),
        T(test_plugin_path_ids),
        T(test_config_defaults_and_paths),
        T(test_config_errors),
        T(test_config_no_keys),
        T(test_config_bad_default),
        T(test_config_bounds),
        T(test_config_override_then_validate),
        T(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
