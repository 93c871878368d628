/*
 * Process-wide set-up and the prepare-then-execute sequence shared by every command.
 */
#include "wp_internal.h"

#include "cli.h"

#include <signal.h>
#include <stdio.h>

#include <libxml/parser.h>

#include "http.h"

void wp__process_init(void)
{
    json_set_alloc_funcs(wp_malloc, wp_free);
    json_object_seed(0);
    xmlInitParser();
    wp__http_global_init();
    signal(SIGPIPE, SIG_IGN); /* a closed stdout becomes a write error we report */
}

void wp__process_cleanup(void)
{
    wp__http_global_cleanup();
}

struct wp_run *wp__run_prepare_or_report(struct wp_pipeline_def *def, struct wp_loader *loader)
{
    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_run *run = wp__run_prepare(def, loader, &diags);
    wp__diags_print(&diags, stderr);
    wp__diags_release(&diags);
    return run;
}

int wp__run_pipeline(struct wp_pipeline_def *def, struct wp_loader *loader,
                     const struct wp_run_options *options)
{
    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_run *run = wp__run_prepare(def, loader, &diags);
    wp__diags_print(&diags, stderr);
    bool tempfail = diags.tempfail;
    wp__diags_release(&diags);
    if (!run)
        return tempfail ? WP_EXIT_TEMPFAIL : WP_EXIT_CONFIG;
    int status = wp__run_execute(run, options);
    wp__run_free(run);
    return status;
}
