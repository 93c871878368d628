/*
 * `wirepipe names`: cluster a list of names (one per line) and print, in input order,
 * input<TAB>canonical<TAB>cluster_id<TAB>score.
 *
 * It is a one-stage pipeline built in memory: lines become items {"line", "name"} for the
 * names plugin's names_cluster stage, which clusters them all at flush time, and its
 * results are printed as TSV. Bad lines become {"line", "error"} items that pass through,
 * so every input line gets exactly one output row.
 */
#include "wp_internal.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "pipeline.h"

/* Longer lines are not names; refusing them keeps one bad cell from costing seconds. */
#define NAME_MAX_BYTES 1000

static const char names_usage[] =
    "usage: wirepipe names [--gazetteer FILE]... [--no-gazetteer] [--state DIR]\n"
    "                      [--plugin-path DIRS] [FILE|-]\n"
    "\n"
    "Reads one name per line (UTF-8) and writes input<TAB>canonical<TAB>cluster_id<TAB>score\n"
    "per line, in input order, with all lines clustered together. --gazetteer adds a\n"
    "gazetteer file layered over the shipped one (repeatable), --no-gazetteer uses none, --state\n"
    "keeps learnt clusters in DIR for later runs.\n";

struct names_input {
    FILE *in;
    char *buf;
    size_t cap;
    uint64_t line;
};

/* struct wp_run_input.next: a line becomes {"line", "name"} or, when bad, {"line", "error"}. */
static enum wp_status names_next(void *arg, json_t **item, uint64_t *line, struct wp_error *err)
{
    (void)err;
    struct names_input *ni = arg;
    ssize_t len = getline(&ni->buf, &ni->cap, ni->in);
    if (len < 0)
        return WP_E_NOTFOUND;
    *line = ++ni->line;
    while (len > 0 && (ni->buf[len - 1] == '\n' || ni->buf[len - 1] == '\r'))
        len--;

    const char *problem = NULL;
    json_t *name = NULL;
    if (len == 0)
        problem = "empty line";
    else if (len > NAME_MAX_BYTES)
        problem = "line longer than 1000 bytes; not a name";
    else if (!(name = json_stringn(ni->buf, (size_t)len)))
        problem = "invalid UTF-8";

    if (problem) {
        wp__log(WP_LOG_ERROR, "names", "line %llu: %s", (unsigned long long)*line, problem);
        *item = json_pack("{s:I,s:s}", "line", (json_int_t)*line, "error", problem);
    } else {
        *item = json_pack("{s:I,s:o}", "line", (json_int_t)*line, "name", name);
    }
    return *item ? WP_OK : WP_E_NOMEM;
}

/* A tab or newline inside a field would break the row: print them as spaces. */
static void put_field(FILE *out, const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
}

static enum wp_status names_write(void *arg, json_t *item)
{
    FILE *out = arg;
    json_t *score = json_object_get(item, "score");
    put_field(out, json_string_value(json_object_get(item, "input")));
    fputc('\t', out);
    put_field(out, json_string_value(json_object_get(item, "canonical")));
    fputc('\t', out);
    put_field(out, json_string_value(json_object_get(item, "cluster")));
    fputc('\t', out);
    if (json_is_number(score))
        fprintf(out, "%.3f", json_number_value(score));
    fputc('\n', out);
    return ferror(out) ? WP_E_IO : WP_OK;
}

static enum wp_status names_finish(void *arg)
{
    return fflush(arg) == 0 ? WP_OK : WP_E_IO;
}

/* The in-memory pipeline: one names_cluster stage configured from the options. */
static struct wp_pipeline_def *names_pipeline(json_t *gazetteers, bool no_gazetteer,
                                              const char *state_dir)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    struct wp_pipeline_def *def = wp_calloc(1, sizeof(*def));
    if (!def)
        return NULL;
    def->stages = wp_calloc(1, sizeof(*def->stages));
    def->stage_count = 1;
    def->path = wp_strdup("wirepipe names");
    def->dir = wp_strdup(cwd);
    def->name = wp_strdup("names");
    def->state_dir = state_dir ? wp_strdup(state_dir) : wp_asprintf("%s/.wirepipe", cwd);
    def->dead_letter = def->state_dir ? wp_asprintf("%s/dead-letter.jsonl", def->state_dir) : NULL;
    def->queue_size = 256;
    if (!def->stages || !def->path || !def->dir || !def->name || !def->dead_letter) {
        wp__pipeline_def_free(def);
        return NULL;
    }
    struct wp_stage_def *stage = &def->stages[0];
    stage->id = wp_strdup("names");
    stage->plugin = wp_strdup("names");
    stage->stage = wp_strdup("names_cluster");
    stage->config = json_object();
    stage->workers = 1;
    stage->max_attempts = 1;
    stage->on_error = WP_ON_ERROR_DEAD_LETTER;
    if (!stage->id || !stage->plugin || !stage->stage || !stage->config) {
        wp__pipeline_def_free(def);
        return NULL;
    }
    if (json_array_size(gazetteers))
        json_object_set(stage->config, "gazetteer", gazetteers);
    if (no_gazetteer)
        json_object_set_new(stage->config, "no_gazetteer", json_true());
    json_object_set_new(stage->config, "persist", json_boolean(state_dir != NULL));
    return def;
}

int wp__cmd_names(int argc, char **argv)
{
    static const struct option options[] = {
        {"gazetteer", required_argument, NULL, 'g'},
        {"no-gazetteer", no_argument, NULL, 'n'},
        {"state", required_argument, NULL, 's'},
        {"plugin-path", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    json_t *gazetteers = json_array();
    bool no_gazetteer = false;
    const char *state_dir = NULL;
    const char *plugin_path = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'g':
                json_array_append_new(gazetteers, json_string(optarg));
                break;
            case 'n':
                no_gazetteer = true;
                break;
            case 's':
                state_dir = optarg;
                break;
            case 'p':
                plugin_path = optarg;
                break;
            case 'h':
                printf("%s", names_usage);
                json_decref(gazetteers);
                return WP_EXIT_OK;
            default:
                fprintf(stderr, "%s", names_usage);
                json_decref(gazetteers);
                return WP_EXIT_USAGE;
        }
    }
    if (optind + 1 < argc || (no_gazetteer && json_array_size(gazetteers))) {
        fprintf(stderr, "wirepipe names: %s\n%s",
                no_gazetteer ? "--no-gazetteer and --gazetteer exclude each other"
                             : "at most one input file",
                names_usage);
        json_decref(gazetteers);
        return WP_EXIT_USAGE;
    }
    const char *path = optind < argc ? argv[optind] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        fprintf(stderr, "wirepipe names: cannot open '%s'\n", path);
        json_decref(gazetteers);
        return WP_EXIT_USAGE;
    }

    wp__log_setup(WP_LOG_WARN, WP_LOG_FORMAT_TEXT);
    struct wp_pipeline_def *def = names_pipeline(gazetteers, no_gazetteer, state_dir);
    json_decref(gazetteers);
    struct wp_loader *loader = wp__loader_new(&plugin_path, plugin_path ? 1 : 0);
    int status = WP_EXIT_ITEMS_FAILED;
    if (def && loader) {
        struct names_input ni = {.in = in};
        struct wp_run_options run_options = {
            .use_input = true,
            .input = {.next = names_next, .arg = &ni, .name = path, .interactive = false},
            .output = {.write = names_write, .finish = names_finish, .arg = stdout},
            .handle_signals = true,
        };
        status = wp__run_pipeline(def, loader, &run_options);
        wp_free(ni.buf);
    } else {
        fprintf(stderr, "wirepipe names: out of memory\n");
    }
    wp__loader_free(loader);
    wp__pipeline_def_free(def);
    if (in != stdin)
        fclose(in);
    return status;
}
