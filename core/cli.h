/*
 * cli.h - pieces of the command line shared by `wirepipe PIPELINE` (main.c),
 * `wirepipe names` (cmd_names.c) and `wirepipe replay` (cmd_replay.c).
 */
#ifndef WP_CLI_H
#define WP_CLI_H

#include <stdbool.h>

#include "runner.h"

/* Exit statuses (DESIGN.md; 78 is EX_CONFIG from sysexits.h). */
enum wp_exit {
    WP_EXIT_OK = 0,
    WP_EXIT_ITEMS_FAILED = 1,
    WP_EXIT_USAGE = 2,
    WP_EXIT_TEMPFAIL = 75, /* EX_TEMPFAIL: the state folder is in use; try again later */
    WP_EXIT_CONFIG = 78,
};

/* wp__process_init() - library-global set-up, once, before any thread starts. */
void wp__process_init(void);
void wp__process_cleanup(void);

/*
 * wp__run_prepare_or_report() - wp__run_prepare(), printing every problem to stderr.
 * Returns the run, or NULL (exit with WP_EXIT_CONFIG).
 */
struct wp_run *wp__run_prepare_or_report(struct wp_pipeline_def *def, struct wp_loader *loader);

/*
 * wp__run_pipeline() - prepare @def with @loader and execute it with @options; prints
 * configuration problems and returns an exit status. Ownership: all borrowed.
 */
int wp__run_pipeline(struct wp_pipeline_def *def, struct wp_loader *loader,
                     const struct wp_run_options *options);

/* `wirepipe names ...`: @argc/@argv start at "names". */
int wp__cmd_names(int argc, char **argv);

/* What `wirepipe replay` was given; main.c parses the options it shares with a run. */
struct wp_replay_args {
    const char *dead_letter; /* the dead-letter file, rewritten in place */
    const char *pipeline;
    const struct wp_config_override *overrides; /* --set */
    size_t override_count;
    int verbosity; /* -1 quiet, 0 normal, 1 verbose */
    bool progress;
};

/*
 * wp__cmd_replay() - `wirepipe replay DEADLETTER.jsonl PIPELINE.json` (cmd_replay.c): re-run
 * each dead-lettered item from the stage that failed it and rewrite the file without the
 * records that went through. Returns the exit status. Ownership: all borrowed.
 */
int wp__cmd_replay(const struct wp_replay_args *args, struct wp_loader *loader);

#endif /* WP_CLI_H */
