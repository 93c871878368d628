/*
 * The end-of-run summary and the progress line.
 */
#include "wp_internal.h"

#include "summary.h"

#include <time.h>

#include "log.h"
#include "runner.h"
#include "stage.h"

/* ------------------------------------------------------------------------------------ */
/* Summary and progress                                                                  */
/* ------------------------------------------------------------------------------------ */

void wp__summary_print(struct wp_run *run, double seconds)
{
    wp__log(WP_LOG_INFO, run->def->name, "%-16s %10s %10s %8s %8s %8s %8s %8s %9s", "stage", "in",
            "out", "dropped", "failed", "skipped", "held", "retries", "busy");
    for (size_t i = 0; i < run->stage_count; i++) {
        struct wp_stage_rt *s = &run->stages[i];
        long long held = atomic_load(&s->n_held);
        wp__log(WP_LOG_INFO, run->def->name,
                "%-16s %10llu %10llu %8llu %8llu %8llu %8lld %8llu %8.2fs", s->def->id,
                atomic_load(&s->n_in), atomic_load(&s->n_out), atomic_load(&s->n_dropped),
                atomic_load(&s->n_failed), atomic_load(&s->n_skipped), held > 0 ? held : 0,
                atomic_load(&s->n_retries), (double)atomic_load(&s->busy_ns) / 1e9);
        if (held > 0)
            wp__log(WP_LOG_WARN, s->source, "%lld items were held by the stage and never emitted",
                    held);
        if (run->options->show_metrics) {
            pthread_mutex_lock(&s->metrics_lock);
            for (size_t m = 0; m < s->metric_count; m++)
                wp__log(WP_LOG_INFO, run->def->name, "  %s.%s = %lld", s->def->id,
                        s->metrics[m].name, s->metrics[m].value);
            pthread_mutex_unlock(&s->metrics_lock);
        }
    }
    unsigned long long cancelled = 0;
    for (size_t i = 0; i < run->stage_count; i++)
        cancelled += atomic_load(&run->stages[i].n_cancelled);
    unsigned long long lost = atomic_load(&run->n_lost);
    if (atomic_load(&run->reader_gone))
        wp__log(WP_LOG_INFO, run->def->name, "output closed by its reader: %llu items not written",
                lost + cancelled);
    else if (cancelled)
        wp__log(WP_LOG_WARN, run->def->name,
                "%llu items in flight given up unfinished (not dead-lettered, not acknowledged)",
                cancelled);
    if (lost && !atomic_load(&run->reader_gone))
        wp__log(WP_LOG_ERROR, run->def->name, "%llu items not written: the output failed", lost);
    unsigned long long dead = atomic_load(&run->n_dead);
    /* A run whose dead letters go elsewhere (replay's passes) names its file itself. */
    const char *dead_path = run->options->dead_letter_path ? NULL : run->def->dead_letter;
    wp__log(WP_LOG_INFO, run->def->name,
            "%llu items in, %llu out, %llu dead-lettered%s%s%s in %.2fs", atomic_load(&run->n_read),
            atomic_load(&run->n_written), dead, dead && dead_path ? " to '" : "",
            dead && dead_path ? dead_path : "", dead && dead_path ? "'" : "", seconds);
}

void wp__summary_poll(struct wp_run *run, unsigned long long poll, double seconds)
{
    wp__log(WP_LOG_INFO, run->def->name, "poll %llu done in %.2fs: %llu items in, %llu out so far",
            poll, seconds, atomic_load(&run->stages[0].n_out), atomic_load(&run->n_written));
}

void *wp__progress_thread(void *arg)
{
    struct progress_state *ps = arg;
    unsigned ticks = 0;
    while (!atomic_load(&ps->done)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
        nanosleep(&ts, NULL);
        if (++ticks % 5)
            continue;
        char line[160];
        snprintf(line, sizeof(line), "%s: %llu in, %llu out, %llu dead-lettered",
                 ps->run->def->name, atomic_load(&ps->run->n_read),
                 atomic_load(&ps->run->n_written), atomic_load(&ps->run->n_dead));
        wp__log_progress(line);
    }
    wp__log_progress_end();
    return NULL;
}
