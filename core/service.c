/*
 * The life of `wirepipe PIPELINE.json`: one run after another while SIGHUP reloads the
 * file, with the metrics endpoint and the same input stream kept across them.
 *
 * A reload is checked before the running pipeline is touched: the file is parsed and every
 * stage's plugin and config validated on the signal thread, and only then does the old run
 * drain (as after SIGTERM, within the grace period) and the new one start, on the same
 * state folder, whose lock the old run hands back on its way out. A file that does not
 * check leaves the old pipeline running and its problems in the log.
 */
#include "wp_internal.h"

#include "service.h"

#include <pthread.h>
#include <signal.h>

#include "cli.h"
#include "log.h"
#include "metrics.h"
#include "runner.h"

struct service {
    const struct wp_service_args *args;
    pthread_mutex_t lock;
    struct wp_pipeline_def *next; /* a checked new pipeline, waiting for the old to drain */
};

/* Every problem of a refused reload, as log lines: a service has no terminal to print to. */
static void log_refusal(const char *path, const struct wp_diags *diags)
{
    wp__log(WP_LOG_ERROR, "reload", "'%s' not reloaded; the running pipeline goes on:", path);
    for (size_t i = 0; i < diags->count; i++)
        wp__log(WP_LOG_ERROR, "reload", "%s", diags->lines[i] ? diags->lines[i] : "out of memory");
}

/* SIGHUP, on the signal thread: true when the file checks and is waiting in svc->next. */
static bool check_reload(void *arg)
{
    struct service *svc = arg;
    const struct wp_service_args *a = svc->args;
    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_pipeline_def *def = NULL;
    bool ok =
        wp__pipeline_def_load(a->path, a->overrides, a->override_count, &def, &diags) == WP_OK &&
        wp__run_validate(def, a->loader, &diags);
    if (!ok) {
        log_refusal(a->path, &diags);
        wp__pipeline_def_free(def);
    } else {
        pthread_mutex_lock(&svc->lock);
        wp__pipeline_def_free(svc->next); /* a second SIGHUP before the first took effect */
        svc->next = def;
        pthread_mutex_unlock(&svc->lock);
    }
    wp__diags_release(&diags);
    return ok;
}

static struct wp_pipeline_def *take_next(struct service *svc)
{
    pthread_mutex_lock(&svc->lock);
    struct wp_pipeline_def *def = svc->next;
    svc->next = NULL;
    pthread_mutex_unlock(&svc->lock);
    return def;
}

/* The worse of two exit statuses: a failure in any run is the service's failure. */
static int worse(int a, int b)
{
    return a != WP_EXIT_OK ? a : b;
}

int wp__service_run(const struct wp_service_args *a)
{
    struct service svc = {.args = a};
    pthread_mutex_init(&svc.lock, NULL);
    /*
     * Between two runs no signal thread is waiting: a SIGTERM or a second SIGHUP there
     * would take its default action and kill the service. Kept blocked for the service's
     * whole life, it waits, pending, for the next run's signal thread. (Not unblocked at
     * the end: the process exits with the runs' status, not by a late signal.)
     */
    if (a->options->handle_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    struct wp_run_options options = *a->options;
    options.on_reload = check_reload;
    options.reload_arg = &svc;

    struct wp_metrics *metrics = NULL; /* outlives the runs: counters stay monotonic */
    if (a->def->metrics_listen) {
        struct wp_error err = {0};
        metrics = wp__metrics_start(a->def->metrics_listen, a->def->unhealthy_after_s, &err);
        if (!metrics) {
            wp__log(WP_LOG_ERROR, a->def->name, "%s: metrics: %s", a->def->path, err.text);
            pthread_mutex_destroy(&svc.lock);
            return WP_EXIT_CONFIG;
        }
    }

    struct wp_pipeline_def *def = a->def; /* the caller's; later ones are ours */
    struct wp_diags diags;
    wp__diags_init(&diags);
    struct wp_run *run = wp__run_prepare(def, a->loader, &diags);
    wp__diags_print(&diags, stderr);
    int status = diags.tempfail ? WP_EXIT_TEMPFAIL : WP_EXIT_CONFIG;
    wp__diags_release(&diags);
    if (run)
        status = WP_EXIT_OK;
    while (run) {
        if (metrics)
            wp__metrics_attach(metrics, run);
        status = worse(status, wp__run_execute(run, &options));
        if (metrics)
            wp__metrics_detach(metrics, run);
        bool reload = atomic_load(&run->reloading);
        wp__run_free(run);
        run = NULL;
        struct wp_pipeline_def *next = reload ? take_next(&svc) : NULL;
        if (!next)
            break;
        /* Checked already; only a stage's create() can still refuse. Then the old
         * pipeline comes back, as for a file that did not check. */
        wp__diags_init(&diags);
        run = wp__run_prepare(next, a->loader, &diags);
        if (run) {
            wp__log(WP_LOG_INFO, next->name, "reloaded '%s'", a->path);
            if (def != a->def)
                wp__pipeline_def_free(def);
            def = next;
        } else {
            log_refusal(a->path, &diags);
            wp__pipeline_def_free(next);
            wp__diags_release(&diags);
            wp__diags_init(&diags);
            run = wp__run_prepare(def, a->loader, &diags);
            if (!run) {
                log_refusal(a->path, &diags);
                status = worse(status, diags.tempfail ? WP_EXIT_TEMPFAIL : WP_EXIT_CONFIG);
            }
        }
        wp__diags_release(&diags);
    }
    if (def != a->def)
        wp__pipeline_def_free(def);
    wp__pipeline_def_free(take_next(&svc));
    wp__metrics_stop(metrics);
    pthread_mutex_destroy(&svc.lock);
    return status;
}
