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

/* One stage's counters as fields of a JSON log line (with --log-format json). */
static json_t *stage_fields(struct wp_stage_rt *s, bool show_metrics)
{
    long long held = atomic_load(&s->n_held);
    json_t *f = json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "event", "stage_summary", "stage",
        s->def->id, "in", (json_int_t)atomic_load(&s->n_in), "out",
        (json_int_t)atomic_load(&s->n_out), "dropped", (json_int_t)atomic_load(&s->n_dropped),
        "failed", (json_int_t)atomic_load(&s->n_failed), "skipped",
        (json_int_t)atomic_load(&s->n_skipped), "held", (json_int_t)(held > 0 ? held : 0),
        "retries", (json_int_t)atomic_load(&s->n_retries), "cancelled",
        (json_int_t)atomic_load(&s->n_cancelled), "busy_seconds",
        (double)atomic_load(&s->busy_ns) / 1e9);
    if (f && show_metrics) {
        json_t *metrics = json_object();
        pthread_mutex_lock(&s->metrics_lock);
        for (size_t m = 0; metrics && m < s->metric_count; m++)
            json_object_set_new(metrics, s->metrics[m].name, json_integer(s->metrics[m].value));
        pthread_mutex_unlock(&s->metrics_lock);
        json_object_set_new(f, "metrics", metrics);
    }
    return f;
}

/* The per-stage table: text columns, or one JSON object per stage. */
static void print_stages(struct wp_run *run)
{
    bool json = wp__log_json();
    if (!json)
        wp__log(WP_LOG_INFO, run->def->name, "%-16s %10s %10s %8s %8s %8s %8s %8s %9s", "stage",
                "in", "out", "dropped", "failed", "skipped", "held", "retries", "busy");
    for (size_t i = 0; i < run->stage_count; i++) {
        struct wp_stage_rt *s = &run->stages[i];
        long long held = atomic_load(&s->n_held);
        if (json) {
            json_t *f = stage_fields(s, run->options->show_metrics);
            wp__log_fields(WP_LOG_INFO, run->def->name, f, "stage %s", s->def->id);
            json_decref(f);
        } else {
            wp__log(WP_LOG_INFO, run->def->name,
                    "%-16s %10llu %10llu %8llu %8llu %8llu %8lld %8llu %8.2fs", s->def->id,
                    atomic_load(&s->n_in), atomic_load(&s->n_out), atomic_load(&s->n_dropped),
                    atomic_load(&s->n_failed), atomic_load(&s->n_skipped), held > 0 ? held : 0,
                    atomic_load(&s->n_retries), (double)atomic_load(&s->busy_ns) / 1e9);
        }
        if (held > 0)
            wp__log(WP_LOG_WARN, s->source, "%lld items were held by the stage and never emitted",
                    held);
        if (run->options->show_metrics && !json) {
            pthread_mutex_lock(&s->metrics_lock);
            for (size_t m = 0; m < s->metric_count; m++)
                wp__log(WP_LOG_INFO, run->def->name, "  %s.%s = %lld", s->def->id,
                        s->metrics[m].name, s->metrics[m].value);
            pthread_mutex_unlock(&s->metrics_lock);
        }
    }
}

void wp__summary_print(struct wp_run *run, double seconds)
{
    print_stages(run);
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
    json_t *f = NULL;
    if (wp__log_json())
        f = json_pack("{s:s,s:I,s:I,s:I,s:f}", "event", "run_summary", "items_in",
                      (json_int_t)atomic_load(&run->n_read), "items_out",
                      (json_int_t)atomic_load(&run->n_written), "dead_lettered", (json_int_t)dead,
                      "seconds", seconds);
    if (f && dead && dead_path)
        json_object_set_new(f, "dead_letter_file", json_string(dead_path));
    wp__log_fields(WP_LOG_INFO, run->def->name, f,
                   "%llu items in, %llu out, %llu dead-lettered%s%s%s in %.2fs",
                   atomic_load(&run->n_read), atomic_load(&run->n_written), dead,
                   dead && dead_path ? " to '" : "", dead && dead_path ? dead_path : "",
                   dead && dead_path ? "'" : "", seconds);
    json_decref(f);
}

void wp__summary_poll(struct wp_run *run, unsigned long long poll, double seconds)
{
    const struct wp_stage_rt *src = &run->stages[0];
    json_t *f = NULL;
    if (wp__log_json())
        f = json_pack("{s:s,s:s,s:I,s:f,s:I,s:I,s:I,s:I}", "event", "poll_summary", "stage",
                      src->def->id, "poll", (json_int_t)poll, "seconds", seconds, "items_in",
                      (json_int_t)atomic_load(&src->n_out), "items_out",
                      (json_int_t)atomic_load(&run->n_written), "dead_lettered",
                      (json_int_t)atomic_load(&run->n_dead), "polls_failed",
                      (json_int_t)atomic_load(&src->n_polls_failed));
    wp__log_fields(WP_LOG_INFO, run->def->name, f,
                   "poll %llu done in %.2fs: %llu items in, %llu out, %llu dead-lettered so far",
                   poll, seconds, atomic_load(&src->n_out), atomic_load(&run->n_written),
                   atomic_load(&run->n_dead));
    json_decref(f);
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
        /* A generating source counts its items as it emits them, not at its end. */
        struct wp_run *run = ps->run;
        unsigned long long in = atomic_load(&run->n_read);
        if (run->stage_count && !run->stages[0].in && atomic_load(&run->stages[0].n_out) > in)
            in = atomic_load(&run->stages[0].n_out);
        char line[160];
        snprintf(line, sizeof(line), "%s: %llu in, %llu out, %llu dead-lettered", run->def->name,
                 in, atomic_load(&run->n_written), atomic_load(&run->n_dead));
        wp__log_progress(line);
    }
    wp__log_progress_end();
    return NULL;
}
