/*
 * pipeline.h - the pipeline definition: read a pipeline JSON file, substitute ${VAR},
 * check its shape, and (once the plugins are loaded) check each stage's config against
 * the keys the stage declares.
 *
 * Every problem found is added to a struct wp_diags; a caller prints them all and exits
 * with status 78.
 */
#ifndef WP_PIPELINE_H
#define WP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

#include "diag.h"

enum wp_on_error {
    WP_ON_ERROR_DEAD_LETTER = 0, /* write the item to the dead-letter file, go on */
    WP_ON_ERROR_SKIP,            /* count it and log it, go on */
    WP_ON_ERROR_FAIL,            /* stop the pipeline (exit 1) */
};

struct wp_stage_def {
    char *id;       /* unique within the pipeline; defaults to the plugin name */
    char *plugin;   /* plugin name, or a path to a .so (made absolute) */
    char *stage;    /* stage name inside the plugin, or NULL for its first stage */
    json_t *config; /* the stage's "config" object (never NULL); new reference */
    enum wp_on_error on_error;
    unsigned workers;      /* >= 1 */
    unsigned max_attempts; /* >= 1: offers of one item before a RETRY becomes a dead letter */
};

struct wp_pipeline_def {
    char *path;        /* the file as given */
    char *dir;         /* absolute folder of the file */
    char *name;        /* "name", default: file name without .json */
    char *description; /* may be NULL */
    char *state_dir;   /* absolute; default "<dir>/.wirepipe" */
    char *dead_letter; /* absolute; default "<state_dir>/dead-letter.jsonl" */
    size_t queue_size; /* items per queue between stages, default 256 */
    /* After SIGTERM/SIGINT, how long items in flight may take to finish, default 30 s. */
    unsigned grace_period_s;
    /* "metrics": where /metrics and /health listen ("ADDRESS:PORT"), or NULL for none; a
     * source failing for longer than @unhealthy_after_s makes /health 503 (0: never). */
    char *metrics_listen;
    unsigned unhealthy_after_s;
    struct wp_stage_def *stages;
    size_t stage_count;
};

/* One --set STAGE.KEY=VALUE from the command line. */
struct wp_config_override {
    const char *stage_id; /* NULL for a top-level key of the pipeline */
    const char *key;      /* a top-level key of that stage's config, or of the pipeline */
    const char *value;    /* JSON text; taken as a plain string when it is not valid JSON */
};

/*
 * wp__config_override_parse() - split @arg as given to --set into @out, writing NULs into
 * @arg (argv strings are writable), so @out borrows from @arg:
 *   "STAGE.KEY=VALUE"  a key of a stage's config;
 *   "KEY=VALUE"        a top-level key of the pipeline (state_dir, dead_letter, ...);
 *   "metrics.KEY=..."  a key of the top-level "metrics" object (stage_id "metrics": a
 *                      stage of that id cannot be reached by --set).
 * The value starts after the first '='. A stage id may contain '.' but a config key does
 * not, so the id ends at the last '.' before that '='.
 * Returns: true, or false (with @arg unchanged) when there is no '=', or the stage id or
 *          key is empty.
 */
bool wp__config_override_parse(char *arg, struct wp_config_override *out);

/*
 * wp__pipeline_def_load() - read @path, substitute ${VAR}, ${VAR:-default} and
 * ${VAR:?message} in every string value ("$${" is a literal "${"), validate the top
 * level and each stage's own keys (not yet the plugin config), and apply @overrides.
 *
 * Returns: WP_OK with *@out set (free with wp_pipeline_def_free), or WP_E_CONFIG /
 *          WP_E_IO / WP_E_NOMEM with every problem added to @diags.
 */
enum wp_status wp__pipeline_def_load(const char *path, const struct wp_config_override *overrides,
                                     size_t override_count, struct wp_pipeline_def **out,
                                     struct wp_diags *diags);

void wp__pipeline_def_free(struct wp_pipeline_def *def);

/*
 * wp__config_validate() - check stage @index's config against @keys: unknown keys (with
 * "did you mean"), missing required keys, types, choices. Fills in defaults and makes
 * WP_CONFIG_PATH(S) values absolute against @def->dir, changing def->stages[index].config.
 *
 * Returns: WP_OK, or WP_E_CONFIG with the problems added to @diags as
 *          "<file>: stages[<index>].config.<key>: <problem>".
 */
enum wp_status wp__config_validate(struct wp_pipeline_def *def, size_t index,
                                   const struct wp_config_key *keys, struct wp_diags *diags);

/*
 * wp__suggest() - the candidate closest to @word by edit distance, when it is close
 * enough to be a likely misspelling; else NULL. Returns a borrowed pointer into
 * @candidates.
 */
const char *wp__suggest(const char *word, const char *const *candidates, size_t count);

#endif /* WP_PIPELINE_H */
