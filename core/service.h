/*
 * service.h - `wirepipe PIPELINE.json` from start to exit: the runs one after another
 * while SIGHUP reloads the file, and the metrics endpoint across them.
 */
#ifndef WP_SERVICE_H
#define WP_SERVICE_H

#include <stddef.h>

#include "pipeline.h"
#include "plugin_loader.h"
#include "runner.h"

struct wp_service_args {
    const char *path; /* the pipeline file, read again on SIGHUP */
    const struct wp_config_override *overrides;
    size_t override_count;
    struct wp_pipeline_def *def; /* @path as loaded at start (borrowed) */
    struct wp_loader *loader;
    const struct wp_run_options *options; /* input, output and flags for every run */
};

/*
 * wp__service_run() - run @a->def, and after each SIGHUP that checks, its new version,
 * until a run ends without a reload. Returns the exit status: the worst of the runs'.
 */
int wp__service_run(const struct wp_service_args *a);

#endif /* WP_SERVICE_H */
