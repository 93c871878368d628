/*
 * wirepipe/testing.h - run one stage of a plugin outside a pipeline, for plugin unit tests
 * (libwirepipe_testing: CMake target wirepipe::testing, pkg-config module wirepipe-testing).
 *
 * The mock host loads the plugin's .so with the host's own loader, so the plugin is refused
 * exactly as wirepipe would refuse it (ABI, name, descriptor checks). It then validates the
 * stage's config with the host's own validation (unknown keys, types, choices, bounds,
 * required keys; defaults filled in, path keys made absolute against the current folder),
 * and hands the stage a host table whose emit, fail, dead_letter, log, metric_add and
 * item_add_error calls are recorded in JSON the test can inspect. Memory, HTTP and the state
 * store are the host's real ones (the store in a fresh temporary folder). The mock never
 * acknowledges anything: a test of a source's ack() calls m.ops->ack(m.instance, &m.ctx,
 * id, outcome) itself, for the items it deems done, and wp_mock_restart() to see what the
 * next run makes of it.
 *
 *     struct wp_mock m;
 *     wp_mock_init(&m);
 *     if (wp_mock_create(&m, "upper", NULL, "{\"mode\":\"all\"}") != WP_OK)
 *         fail("create: %s", m.fail_text);
 *     json_t *item = json_pack("{s:s}", "headline", "hi");
 *     check(wp_mock_process(&m, item) == WP_OUTCOME_OK);
 *     ... inspect item, m.emitted, m.dead_letters, m.logs, m.metrics ...
 *     json_decref(item);
 *     wp_mock_release(&m);
 *
 * Invariants
 *  - Plugins are found as wirepipe finds them: a name is looked up as <dir>/<name>.so in
 *    each folder of $WIREPIPE_PLUGIN_PATH (colon-separated; "." when unset); a string
 *    with a '/' or ending in ".so" is a path.
 *  - One struct wp_mock is one stage instance. Several may exist at once. The wp_mock_*
 *    calls are made from one thread, but the host calls the stage makes may come from
 *    several (ack() from another thread while generate() runs): the records are kept
 *    under a lock. Read them once the calls have returned.
 *  - Plugins are never unloaded (as in wirepipe), so leak reports keep their frames.
 *  - The struct is part of this library's ABI, which changes with wirepipe's minor version
 *    (the soname is libwirepipe_testing.so.<major>.<minor>): rebuild tests on upgrade.
 *
 * Only this header and the public SDK headers are needed; the test links wirepipe::testing
 * (or `pkg-config --libs wirepipe-testing`) and jansson.
 */
#ifndef WIREPIPE_TESTING_H
#define WIREPIPE_TESTING_H

#include <stdbool.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wp_store;
struct wp_loader;

struct wp_mock {
    struct wp_ctx ctx; /* first: the plugin sees &m.ctx */
    struct wp_host_api api;
    const struct wp_stage_ops *ops; /* the created stage (the host's copy); NULL before */
    void *instance;
    json_t *emitted;      /* array of items emitted (owned) */
    json_t *dead_letters; /* array of {item, code, message} */
    json_t *logs;         /* array of {level, message} */
    json_t *metrics;      /* object name -> integer */
    enum wp_status fail_code;
    char fail_text[512]; /* the last wp_fail(), or why wp_mock_create() failed */
    unsigned retry_ms;   /* the last retry_in() */
    unsigned attempt;    /* what attempt() answers; 1 after wp_mock_init() */
    bool cancelled;      /* what cancelled() answers */
    char state_dir[256];
    char pipeline_dir[256];            /* what pipeline_dir() answers: the current folder */
    const struct wp_plugin_desc *desc; /* the loaded plugin's descriptor (the host's copy) */
    struct wp_store *store;
    struct wp_loader *loader;
    json_t *config; /* the validated config create() was given (owned), for a restart */
};

/*
 * wp_mock_init() - set up @m with empty records, attempt 1, a fresh state folder under
 * /tmp and the current folder as the pipeline folder.
 *
 * Ownership: @m is the caller's; release it with wp_mock_release().
 */
WP_EXPORT void wp_mock_init(struct wp_mock *m);

/*
 * wp_mock_create() - load plugin @plugin (a name or a .so path, see above), pick its stage
 * @stage (NULL: the first), parse @config_json (NULL: "{}"), validate it against the
 * stage's declared keys as wirepipe does, and call the stage's create() with the result.
 *
 * Returns: create()'s status; WP_E_NOTFOUND when the plugin is missing or refused, or has
 *          no such stage; WP_E_CONFIG when @config_json is not a JSON object or fails
 *          validation. On failure m->fail_text says why (the loader's or validation's
 *          lines, which also go to stderr, or the stage's wp_fail() text), m->ops is NULL,
 *          and the other wp_mock_* calls but wp_mock_release() must not be made.
 * Ownership: @config_json is borrowed; the config create() gets is valid only during it.
 */
WP_EXPORT enum wp_status wp_mock_create(struct wp_mock *m, const char *plugin, const char *stage,
                                        const char *config_json);

/*
 * wp_mock_process() - call process() on @item with attempt m->attempt.
 * Ownership: @item is borrowed (the stage may change it in place); emitted items are
 * appended to m->emitted.
 */
WP_EXPORT enum wp_outcome wp_mock_process(struct wp_mock *m, json_t *item);

/* wp_mock_generate() / wp_mock_flush() - call the optional slots (OK when absent). */
WP_EXPORT enum wp_outcome wp_mock_generate(struct wp_mock *m);
WP_EXPORT enum wp_outcome wp_mock_flush(struct wp_mock *m);

/*
 * wp_mock_restart() - end the stage instance as a run ends (destroy(), the store closed)
 * and create a new one with the same config on the same state folder: the next run of the
 * pipeline. What was recorded (emitted, dead_letters, logs, metrics) is kept and goes on
 * growing.
 *
 * Returns: create()'s status (on failure m->ops is NULL, as after wp_mock_create()), or
 *          WP_E_INVALID when no stage was created.
 */
WP_EXPORT enum wp_status wp_mock_restart(struct wp_mock *m);

/*
 * wp_mock_release() - destroy the stage instance (if created), free what was recorded and
 * remove the state folder. @m may be reused after wp_mock_init().
 */
WP_EXPORT void wp_mock_release(struct wp_mock *m);

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_TESTING_H */
