/*
 * wirepipe - the command line. Everything else lives in the core library.
 */
#include "wp_internal.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "runner.h"
#include "service.h"

#define MAX_OVERRIDES    128
#define MAX_PLUGIN_PATHS 16

static const char usage_text[] =
    "usage: wirepipe [options] PIPELINE.json\n"
    "       wirepipe names [--gazetteer FILE]... [--no-gazetteer] [--state DIR] [FILE|-]\n"
    "       wirepipe replay [options] DEADLETTER.jsonl PIPELINE.json\n"
    "       wirepipe --list-plugins | --describe PLUGIN | --version | --help\n";

static const char help_text[] =
    "\n"
    "Runs news items through the stages a pipeline file names (fetch, extract, normalize,\n"
    "langdetect, names, translate, publish, or your own plugins).\n"
    "\n"
    "Options:\n"
    "  --check                 parse the pipeline, load its plugins, validate every stage's\n"
    "                          config and create the stages, then exit\n"
    "  --input FILE|-          read JSON Lines items from FILE (- for stdin) instead of the\n"
    "                          first stage's own input\n"
    "  --set [STAGE.]KEY=VALUE override a config key of a stage, or a top-level key of the\n"
    "                          pipeline (state_dir=..., metrics.listen=...); repeatable; VALUE is "
    "JSON,\n"
    "                          or a plain string when it does not parse as JSON\n"
    "  --plugin-path DIRS      search these folders (colon-separated) for plugins first\n"
    "  --list-plugins          list the plugins found on the search path\n"
    "  --describe PLUGIN       print a plugin's stages and config keys\n"
    "  -v, --verbose           more detail: plugin metrics in the summary; twice for debug logs\n"
    "  -q, --quiet             only warnings and errors; no summary\n"
    "  --log-format text|json  how log lines on stderr look (default text)\n"
    "  --no-progress           no progress line, even on a terminal\n"
    "  --once                  a polling source (fetch with \"every\") polls once, then exits\n"
    "  --version               print the version and the plugin ABI\n"
    "  --help                  this text\n"
    "\n"
    "Items leaving the last stage are written to stdout as JSON Lines unless that stage is a\n"
    "sink (publish). Items that cannot go on are appended to the pipeline's dead-letter file.\n"
    "\n"
    "wirepipe replay re-runs each item of a dead-letter file from the stage that failed it\n"
    "(the earlier stages do not see it again) and rewrites the file, keeping only the records\n"
    "that failed again and those it cannot replay. It takes --set, --plugin-path, -v, -q,\n"
    "--log-format and --no-progress; exit 0 when the file is left empty.\n"
    "\n"
    "Plugin search order: --plugin-path, $WIREPIPE_PLUGIN_PATH, the build "
    "tree, " WP_PLUGIN_INSTALL_DIR ".\n"
    "\n"
    "Exit status: 0 all items done; 1 some items dead-lettered or a stage failed; 2 usage error;\n"
    "78 configuration error (pipeline file, plugin or stage config).\n";

static const char *const type_names[] = {
    [WP_CONFIG_STRING] = "string", [WP_CONFIG_INT] = "integer",     [WP_CONFIG_NUMBER] = "number",
    [WP_CONFIG_BOOL] = "boolean",  [WP_CONFIG_STRINGS] = "strings", [WP_CONFIG_OBJECT] = "object",
    [WP_CONFIG_ANY] = "any",       [WP_CONFIG_PATH] = "path",       [WP_CONFIG_PATHS] = "paths",
};

static const char *type_name(enum wp_config_type type)
{
    if ((size_t)type < WP_ARRAY_SIZE(type_names) && type_names[type])
        return type_names[type];
    return "?";
}

static void describe_plugin(const struct wp_plugin *plugin)
{
    const struct wp_plugin_desc *d = plugin->desc;
    printf("%s %s - %s\n", d->name, d->version, d->description);
    printf("  license: %s\n  file:    %s\n  ABI:     %u.%u\n", d->license, plugin->path,
           d->abi_major, d->abi_minor);
    for (size_t i = 0; d->stages[i]; i++) {
        const struct wp_stage_ops *ops = d->stages[i];
        printf("\nstage '%s'%s%s%s%s\n", ops->name, i == 0 ? " (default)" : "",
               ops->flags & WP_STAGE_THREAD_SAFE ? " [thread-safe: workers allowed]" : "",
               ops->flags & WP_STAGE_SINK ? " [sink]" : "",
               ops->generate ? " [can generate input]" : "");
        if (ops->description)
            printf("  %s\n", ops->description);
        if (!ops->config || !ops->config[0].name) {
            printf("  (no config keys)\n");
            continue;
        }
        printf("  %-20s %-8s %-24s %s\n", "KEY", "TYPE", "DEFAULT", "DESCRIPTION");
        for (const struct wp_config_key *k = ops->config; k->name; k++) {
            const char *dflt = k->flags & WP_CONFIG_REQUIRED ? "(required)"
                               : k->flags & WP_CONFIG_SECRET ? "(secret)"
                               : k->default_json             ? k->default_json
                                                             : "-";
            printf("  %-20s %-8s %-24s %s", k->name, type_name(k->type), dflt,
                   k->doc ? k->doc : "");
            if (k->choices)
                printf(" (one of: %s)", k->choices);
            printf("\n");
        }
    }
}

static int list_plugins(struct wp_loader *loader)
{
    struct wp_diags diags;
    wp__diags_init(&diags);
    const struct wp_plugin *const *plugins;
    size_t count = wp__loader_load_all(loader, &plugins, &diags);
    for (size_t i = 0; i < count; i++) {
        const struct wp_plugin_desc *d = plugins[i]->desc;
        printf("%-12s %-8s %s\n", d->name, d->version, d->description);
    }
    if (count == 0) {
        printf("no plugins found; searched:");
        for (const char *const *dir = wp__loader_search_dirs(loader); *dir; dir++)
            printf(" %s", *dir);
        printf("\n");
    }
    wp__diags_print(&diags, stderr);
    int status = diags.count ? WP_EXIT_CONFIG : WP_EXIT_OK;
    wp__diags_release(&diags);
    return status;
}

static int describe(struct wp_loader *loader, const char *name)
{
    struct wp_diags diags;
    wp__diags_init(&diags);
    const struct wp_plugin *plugin = wp__loader_get(loader, name, "--describe", &diags);
    if (plugin)
        describe_plugin(plugin);
    wp__diags_print(&diags, stderr);
    wp__diags_release(&diags);
    return plugin ? WP_EXIT_OK : WP_EXIT_CONFIG;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "wirepipe: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", usage_text);
    va_end(ap);
    return WP_EXIT_USAGE;
}

enum long_only_option {
    OPT_CHECK = 256,
    OPT_INPUT,
    OPT_SET,
    OPT_PLUGIN_PATH,
    OPT_LIST_PLUGINS,
    OPT_DESCRIBE,
    OPT_LOG_FORMAT,
    OPT_NO_PROGRESS,
    OPT_ONCE,
    OPT_VERSION,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"check", no_argument, NULL, OPT_CHECK},
    {"input", required_argument, NULL, OPT_INPUT},
    {"set", required_argument, NULL, OPT_SET},
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
    {"list-plugins", no_argument, NULL, OPT_LIST_PLUGINS},
    {"describe", required_argument, NULL, OPT_DESCRIBE},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"once", no_argument, NULL, OPT_ONCE},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct cli_args {
    bool check, list, no_progress, once;
    bool replay;             /* `wirepipe replay`: two files, no --check/--input/... */
    const char *dead_letter; /* replay: the dead-letter file */
    const char *describe;
    const char *input;
    const char *pipeline;
    int verbosity; /* -1 quiet, 0 normal, 1 verbose, 2 debug */
    enum wp_log_format log_format;
    struct wp_config_override overrides[MAX_OVERRIDES];
    size_t override_count;
    const char *plugin_paths[MAX_PLUGIN_PATHS];
    size_t plugin_path_count;
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct cli_args *a)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "vq", long_options, NULL)) != -1) {
        switch (opt) {
            case OPT_CHECK:
                a->check = true;
                break;
            case OPT_INPUT:
                a->input = optarg;
                break;
            case OPT_SET:
                if (a->override_count == MAX_OVERRIDES)
                    return usage_error("too many --set options (at most %d)", MAX_OVERRIDES);
                if (!wp__config_override_parse(optarg, &a->overrides[a->override_count++]))
                    return usage_error("--set wants [STAGE.]KEY=VALUE, got '%s'", optarg);
                break;
            case OPT_PLUGIN_PATH:
                if (a->plugin_path_count == MAX_PLUGIN_PATHS)
                    return usage_error("too many --plugin-path options (at most %d)",
                                       MAX_PLUGIN_PATHS);
                a->plugin_paths[a->plugin_path_count++] = optarg;
                break;
            case OPT_LIST_PLUGINS:
                a->list = true;
                break;
            case OPT_DESCRIBE:
                a->describe = optarg;
                break;
            case 'v':
                a->verbosity++;
                break;
            case 'q':
                a->verbosity = -1;
                break;
            case OPT_LOG_FORMAT:
                if (strcmp(optarg, "text") == 0)
                    a->log_format = WP_LOG_FORMAT_TEXT;
                else if (strcmp(optarg, "json") == 0)
                    a->log_format = WP_LOG_FORMAT_JSON;
                else
                    return usage_error("--log-format must be 'text' or 'json', not '%s'", optarg);
                break;
            case OPT_NO_PROGRESS:
                a->no_progress = true;
                break;
            case OPT_ONCE:
                a->once = true;
                break;
            case OPT_VERSION:
                printf("wirepipe %s (plugin ABI %d.%d)\n", WP_VERSION_STRING, WP_ABI_MAJOR,
                       WP_ABI_MINOR);
                return WP_EXIT_OK;
            case OPT_HELP:
                printf("%s%s", usage_text, help_text);
                return WP_EXIT_OK;
            default:
                fprintf(stderr, "%s", usage_text);
                return WP_EXIT_USAGE;
        }
    }
    if (a->replay) {
        if (a->check || a->input || a->list || a->describe)
            return usage_error("replay takes no --check, --input, --list-plugins or --describe");
        if (argc - optind != 2)
            return usage_error("replay wants DEADLETTER.jsonl PIPELINE.json");
        a->dead_letter = argv[optind];
        a->pipeline = argv[optind + 1];
        return -1;
    }
    if (a->list || a->describe) {
        if (optind < argc)
            return usage_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (optind >= argc)
        return usage_error("no pipeline file given");
    if (optind + 1 < argc)
        return usage_error("unexpected argument '%s'", argv[optind + 1]);
    a->pipeline = argv[optind];
    return -1;
}

static enum wp_log_level level_for(int verbosity)
{
    if (verbosity < 0)
        return WP_LOG_WARN;
    return verbosity >= 2 ? WP_LOG_DEBUG : WP_LOG_INFO;
}

static int run_main(struct cli_args *a, struct wp_loader *loader)
{
    if (a->list)
        return list_plugins(loader);
    if (a->describe)
        return describe(loader, a->describe);

    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_pipeline_def *def = NULL;
    if (wp__pipeline_def_load(a->pipeline, a->overrides, a->override_count, &def, &diags) !=
        WP_OK) {
        wp__diags_print(&diags, stderr);
        wp__diags_release(&diags);
        return WP_EXIT_CONFIG;
    }
    wp__diags_release(&diags);

    if (a->check) {
        struct wp_run *run = wp__run_prepare_or_report(def, loader);
        int status = run ? WP_EXIT_OK : WP_EXIT_CONFIG;
        if (run && a->verbosity >= 0)
            fprintf(stderr, "%s: ok (%zu stages)\n", a->pipeline, def->stage_count);
        wp__run_free(run);
        wp__pipeline_def_free(def);
        return status;
    }

    FILE *in = stdin;
    if (a->input && strcmp(a->input, "-") != 0) {
        in = fopen(a->input, "r");
        if (!in) {
            fprintf(stderr, "wirepipe: cannot open input '%s': ", a->input);
            perror(NULL);
            wp__pipeline_def_free(def);
            return WP_EXIT_USAGE;
        }
    }
    struct stat st;
    bool interactive = fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode);
    static char out_buffer[1 << 20];
    setvbuf(stdout, out_buffer, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof(out_buffer));

    struct wp_jsonl_reader reader;
    wp__jsonl_reader_init(&reader, fileno(in));
    struct wp_run_options options = {
        .use_input = a->input != NULL,
        .input = {.next_text = wp__jsonl_next_text,
                  .arg = &reader,
                  .name = a->input && strcmp(a->input, "-") != 0 ? a->input : "stdin",
                  .interactive = interactive},
        .output = {.write_text = wp__jsonl_write_text,
                   .flush = wp__jsonl_finish,
                   .finish = wp__jsonl_finish,
                   .arg = stdout},
        .progress = !a->no_progress && a->verbosity >= 0 && isatty(STDERR_FILENO),
        .summary = a->verbosity >= 0,
        .show_metrics = a->verbosity >= 1,
        .handle_signals = true,
        .once = a->once,
    };
    struct wp_service_args service = {.path = a->pipeline,
                                      .overrides = a->overrides,
                                      .override_count = a->override_count,
                                      .def = def,
                                      .loader = loader,
                                      .options = &options};
    int status = wp__service_run(&service);
    wp__jsonl_reader_release(&reader);
    if (in != stdin)
        fclose(in);
    wp__pipeline_def_free(def);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "names") == 0) {
        wp__process_init();
        int status = wp__cmd_names(argc - 1, argv + 1);
        wp__process_cleanup();
        return status;
    }

    struct cli_args args = {0};
    if (argc >= 2 && strcmp(argv[1], "replay") == 0) {
        /* The options of a run, parsed by the same code, from after "replay". */
        static char replay_name[] = "wirepipe replay";
        args.replay = true;
        argv[1] = replay_name;
        argc--;
        argv++;
    }
    int status = parse_args(argc, argv, &args);
    if (status >= 0)
        return status;
    wp__log_setup(level_for(args.verbosity), args.log_format);
    wp__process_init();

    struct wp_loader *loader = wp__loader_new(args.plugin_paths, args.plugin_path_count);
    if (!loader) {
        fprintf(stderr, "wirepipe: out of memory\n");
        return WP_EXIT_ITEMS_FAILED;
    }
    if (args.replay) {
        struct wp_replay_args replay = {
            .dead_letter = args.dead_letter,
            .pipeline = args.pipeline,
            .overrides = args.overrides,
            .override_count = args.override_count,
            .verbosity = args.verbosity,
            .progress = !args.no_progress && args.verbosity >= 0 && isatty(STDERR_FILENO),
        };
        status = wp__cmd_replay(&replay, loader);
    } else {
        status = run_main(&args, loader);
    }
    wp__loader_free(loader);
    wp__process_cleanup();
    return status;
}
