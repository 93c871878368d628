/*
 * mock_host.h - run one stage of a plugin outside a pipeline, for plugin tests.
 *
 * The mock loads the plugin's .so from WIREPIPE_PLUGIN_PATH, fills the stage's config
 * defaults, and hands the stage a host table whose emit, fail, dead_letter, log and
 * item_add_error calls are recorded in JSON arrays the test can inspect. HTTP and the
 * state store are the core's real ones (the state store in a fresh temporary folder).
 *
 *     struct wp_mock m;
 *     wp_mock_init(&m);
 *     assert_int_equal(wp_mock_create(&m, "upper", NULL, "{\"mode\":\"all\"}"), WP_OK);
 *     json_t *item = json_pack("{s:s}", "headline", "hi");
 *     assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
 *     ... inspect item, m.emitted, m.dead_letters, m.logs ...
 *     json_decref(item);
 *     wp_mock_release(&m);
 */
#ifndef WP_MOCK_HOST_H
#define WP_MOCK_HOST_H

#include <stdbool.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

struct wp_store;

struct wp_mock {
    struct wp_ctx ctx; /* first: the plugin sees &m.ctx */
    struct wp_host_api api;
    const struct wp_stage_ops *ops;
    void *instance;
    json_t *emitted;      /* array of items emitted (owned) */
    json_t *dead_letters; /* array of {item, code, message} */
    json_t *logs;         /* array of {level, message} */
    json_t *metrics;      /* object name -> integer */
    enum wp_status fail_code;
    char fail_text[512];
    unsigned retry_ms;
    unsigned attempt;
    bool cancelled;
    char state_dir[256];
    char pipeline_dir[256];
    struct wp_store *store;
};

void wp_mock_init(struct wp_mock *m);

/*
 * wp_mock_create() - load plugin @plugin, pick stage @stage (NULL: the first), parse
 * @config_json (NULL: "{}"), fill declared defaults, and call create().
 * Returns create()'s status; the reason is in m->fail_text.
 */
enum wp_status wp_mock_create(struct wp_mock *m, const char *plugin, const char *stage,
                              const char *config_json);

/* wp_mock_process() - call process() on @item (borrowed) with attempt 1 (or m->attempt). */
enum wp_outcome wp_mock_process(struct wp_mock *m, json_t *item);

/* wp_mock_generate() / wp_mock_flush() - call the optional slots (OK when absent). */
enum wp_outcome wp_mock_generate(struct wp_mock *m);
enum wp_outcome wp_mock_flush(struct wp_mock *m);

/* wp_mock_release() - destroy the instance and free what was recorded. */
void wp_mock_release(struct wp_mock *m);

#endif /* WP_MOCK_HOST_H */
