/*
 * `wirepipe names`: a front for the pipeline that the names plugin ships beside itself,
 * <plugin folder>/names/names-tsv.json. What the command does (one name per line in,
 * input<TAB>canonical<TAB>cluster_id<TAB>score per line out, in input order, bad lines
 * as empty rows) is that pipeline's business; this file only finds it, turns the options
 * into --set overrides of its stage "names" by one rule, and runs it like `wirepipe
 * PIPELINE` does:
 *
 *   --KEY VALUE (repeatable)  KEY (dashes as underscores) is set to the array of VALUEs
 *   --no-KEY                  no_KEY is set to true; it excludes --KEY
 *   --state DIR               the pipeline's state folder, and "persist" is set to true
 *   --plugin-path DIRS        where the plugin (and so the pipeline) is looked for first
 *   FILE|-                    the pipeline's standard input
 *
 * The pipeline runs as if it lived in the current folder: relative paths in options are
 * taken from there, and state and dead letters go to ./.wirepipe unless --state says.
 */
#include "wp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_loader.h"

/* The command's plugin, the pipeline it ships and the stage the options configure. */
#define FRONT_PLUGIN   "names"
#define FRONT_PIPELINE "names/names-tsv.json"
#define FRONT_STAGE    "names"
/* The config key by which a stage learns into the state folder across runs. */
#define FRONT_STATE_KEY "persist"

static const char names_usage[] =
    "usage: wirepipe names [--gazetteer FILE]... [--no-gazetteer] [--state DIR]\n"
    "                      [--plugin-path DIRS] [FILE|-]\n"
    "\n"
    "Reads one name per line (UTF-8) and writes input<TAB>canonical<TAB>cluster_id<TAB>score\n"
    "per line, in input order, with all lines clustered together. --gazetteer adds a\n"
    "gazetteer file layered over the shipped one (repeatable), --no-gazetteer uses none, --state\n"
    "keeps learnt clusters in DIR for later runs.\n";

enum front_kind {
    FRONT_LIST,  /* --KEY VALUE, repeatable: KEY=[VALUE, ...] */
    FRONT_FLAG,  /* --KEY: KEY=true */
    FRONT_STATE, /* --state DIR */
    FRONT_PLUGIN_PATH,
    FRONT_HELP,
};

static const struct front_option {
    const char *name;
    enum front_kind kind;
} front_options[] = {
    {"gazetteer", FRONT_LIST},          {"no-gazetteer", FRONT_FLAG}, {"state", FRONT_STATE},
    {"plugin-path", FRONT_PLUGIN_PATH}, {"help", FRONT_HELP},
};

#define FRONT_OPTIONS WP_ARRAY_SIZE(front_options)

/* What the options said: one JSON value per option (an array, true, or NULL when absent). */
struct front_args {
    json_t *values[FRONT_OPTIONS];
    const char *state_dir;
    const char *plugin_path;
    const char *input;
    /* The overrides and the text they point to. */
    struct wp_config_override overrides[FRONT_OPTIONS + 1];
    char keys[FRONT_OPTIONS][64];
    char *texts[FRONT_OPTIONS];
    size_t override_count;
};

static void front_args_release(struct front_args *a)
{
    for (size_t i = 0; i < FRONT_OPTIONS; i++) {
        json_decref(a->values[i]);
        wp_free(a->texts[i]);
    }
}

static int front_usage_error(const char *problem)
{
    fprintf(stderr, "wirepipe names: %s\n%s", problem, names_usage);
    return WP_EXIT_USAGE;
}

/* --no-KEY and --KEY both given: the index of --no-KEY, or -1. */
static int front_conflict(const struct front_args *a)
{
    for (size_t i = 0; i < FRONT_OPTIONS; i++) {
        const char *name = front_options[i].name;
        if (!a->values[i] || strncmp(name, "no-", 3) != 0)
            continue;
        for (size_t j = 0; j < FRONT_OPTIONS; j++) {
            if (a->values[j] && strcmp(front_options[j].name, name + 3) == 0)
                return (int)i;
        }
    }
    return -1;
}

/* Returns -1 to go on, or an exit status. */
static int front_parse(int argc, char **argv, struct front_args *a)
{
    struct option options[FRONT_OPTIONS + 1];
    for (size_t i = 0; i < FRONT_OPTIONS; i++) {
        enum front_kind kind = front_options[i].kind;
        bool arg = kind == FRONT_LIST || kind == FRONT_STATE || kind == FRONT_PLUGIN_PATH;
        options[i] = (struct option){front_options[i].name, arg ? required_argument : no_argument,
                                     NULL, (int)i};
    }
    options[FRONT_OPTIONS] = (struct option){NULL, 0, NULL, 0};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt < 0 || (size_t)opt >= FRONT_OPTIONS) {
            fprintf(stderr, "%s", names_usage);
            return WP_EXIT_USAGE;
        }
        switch (front_options[opt].kind) {
            case FRONT_LIST:
                if (!a->values[opt])
                    a->values[opt] = json_array();
                json_array_append_new(a->values[opt], json_string(optarg));
                break;
            case FRONT_FLAG:
                json_decref(a->values[opt]);
                a->values[opt] = json_true();
                break;
            case FRONT_STATE:
                a->state_dir = optarg;
                break;
            case FRONT_PLUGIN_PATH:
                a->plugin_path = optarg;
                break;
            case FRONT_HELP:
                printf("%s", names_usage);
                return WP_EXIT_OK;
        }
    }
    int conflict = front_conflict(a);
    if (conflict >= 0) {
        char problem[160];
        snprintf(problem, sizeof(problem), "--%s and --%s exclude each other",
                 front_options[conflict].name, front_options[conflict].name + 3);
        return front_usage_error(problem);
    }
    if (optind + 1 < argc)
        return front_usage_error("at most one input file");
    a->input = optind < argc ? argv[optind] : "-";
    return -1;
}

/* The options as --set FRONT_STAGE.KEY=VALUE. False when out of memory. */
static bool front_overrides(struct front_args *a)
{
    for (size_t i = 0; i < FRONT_OPTIONS; i++) {
        if (!a->values[i])
            continue;
        char *key = a->keys[i];
        snprintf(key, sizeof(a->keys[i]), "%s", front_options[i].name);
        for (char *c = key; *c; c++)
            *c = *c == '-' ? '_' : *c;
        a->texts[i] = json_dumps(a->values[i], JSON_COMPACT | JSON_ENCODE_ANY);
        if (!a->texts[i])
            return false;
        a->overrides[a->override_count++] =
            (struct wp_config_override){FRONT_STAGE, key, a->texts[i]};
    }
    if (a->state_dir)
        a->overrides[a->override_count++] =
            (struct wp_config_override){FRONT_STAGE, FRONT_STATE_KEY, "true"};
    return true;
}

/* @path made absolute against @dir, as a new string. */
static char *front_path(const char *dir, const char *path)
{
    return path[0] == '/' ? wp_strdup(path) : wp_asprintf("%s/%s", dir, path);
}

/*
 * Run @def as if it lived in the current folder, its name in messages being the
 * command's; its state goes to @state_dir (relative to the current folder) or ./.wirepipe.
 */
static bool front_rehome(struct wp_pipeline_def *def, const char *state_dir)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return false;
    char *path = wp_strdup("wirepipe names");
    char *dir = wp_strdup(cwd);
    char *state = front_path(cwd, state_dir ? state_dir : ".wirepipe");
    char *dead = state ? wp_asprintf("%s/dead-letter.jsonl", state) : NULL;
    if (!path || !dir || !state || !dead) {
        wp_free(path);
        wp_free(dir);
        wp_free(state);
        wp_free(dead);
        return false;
    }
    wp_free(def->path);
    wp_free(def->dir);
    wp_free(def->state_dir);
    wp_free(def->dead_letter);
    def->path = path;
    def->dir = dir;
    def->state_dir = state;
    def->dead_letter = dead;
    return true;
}

/* Load the pipeline shipped beside the plugin, with the overrides. NULL: reported. */
static struct wp_pipeline_def *front_load(struct wp_loader *loader, struct front_args *a)
{
    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_pipeline_def *def = NULL;
    char *file = NULL;
    const struct wp_plugin *plugin = wp__loader_get(loader, FRONT_PLUGIN, "wirepipe names", &diags);
    if (plugin) {
        const char *slash = strrchr(plugin->path, '/');
        int dirlen = slash ? (int)(slash - plugin->path) : 1;
        file = wp_asprintf("%.*s/%s", dirlen, slash ? plugin->path : ".", FRONT_PIPELINE);
        if (!file)
            wp__diags_add(&diags, "wirepipe names: out of memory");
    }
    if (file &&
        wp__pipeline_def_load(file, a->overrides, a->override_count, &def, &diags) == WP_OK &&
        !front_rehome(def, a->state_dir)) {
        wp__diags_add(&diags, "wirepipe names: cannot set up the pipeline: %s", strerror(errno));
        wp__pipeline_def_free(def);
        def = NULL;
    }
    wp__diags_print(&diags, stderr);
    wp__diags_release(&diags);
    wp_free(file);
    return def;
}

int wp__cmd_names(int argc, char **argv)
{
    struct front_args args = {.override_count = 0};
    int status = front_parse(argc, argv, &args);
    if (status >= 0) {
        front_args_release(&args);
        return status;
    }
    if (strcmp(args.input, "-") != 0) {
        int fd = open(args.input, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
            fprintf(stderr, "wirepipe names: cannot open '%s'\n", args.input);
            if (fd >= 0)
                close(fd);
            front_args_release(&args);
            return WP_EXIT_USAGE;
        }
        close(fd);
    }

    wp__log_setup(WP_LOG_WARN, WP_LOG_FORMAT_TEXT);
    struct wp_loader *loader = wp__loader_new(&args.plugin_path, args.plugin_path ? 1 : 0);
    if (!loader || !front_overrides(&args)) {
        fprintf(stderr, "wirepipe names: out of memory\n");
        wp__loader_free(loader);
        front_args_release(&args);
        return WP_EXIT_ITEMS_FAILED;
    }
    struct wp_pipeline_def *def = front_load(loader, &args);
    status = WP_EXIT_CONFIG;
    if (def) {
        /* The pipeline's last stage writes the rows; anything else would be JSON Lines. */
        struct wp_run_options options = {
            .use_input = false,
            .output = {.write_text = wp__jsonl_write_text,
                       .finish = wp__jsonl_finish,
                       .arg = stdout},
            .handle_signals = true,
        };
        status = wp__run_pipeline(def, loader, &options);
    }
    wp__pipeline_def_free(def);
    wp__loader_free(loader);
    front_args_release(&args);
    return status;
}
