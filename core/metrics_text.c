/*
 * Prometheus text exposition, format 0.0.4 (see metrics_text.h).
 *
 * Each family is written whole (HELP, TYPE, then all its samples), as the format
 * requires, so the series are walked once per family.
 */
#include "wp_internal.h"

#include "metrics_text.h"

#include <string.h>

#include "histogram.h"
#include "http_stats.h"
#include "runner.h"
#include "track.h"
#include "utf8.h"

void wp__metrics_label_escape(struct wp_buf *out, const char *value)
{
    size_t len = strlen(value);
    for (size_t i = 0; i < len;) {
        char c = value[i];
        if (c == '\\' || c == '"') {
            wp_buf_addch(out, '\\');
            wp_buf_addch(out, c);
            i++;
        } else if (c == '\n') {
            wp_buf_adds(out, "\\n");
            i++;
        } else {
            size_t n = wp__utf8_sequence(value + i, len - i);
            if (n == 0) {
                wp_buf_adds(out, "\xEF\xBF\xBD"); /* U+FFFD */
                n = 1;
            } else {
                wp_buf_add(out, value + i, n);
            }
            i += n;
        }
    }
}

static void family(struct wp_buf *out, const char *name, const char *type, const char *help)
{
    wp_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{stage="<id>"[,key="<value>"]} */
static void sample_start(struct wp_buf *out, const char *name, const char *stage, const char *key,
                         const char *value)
{
    wp_buf_adds(out, name);
    wp_buf_adds(out, "{stage=\"");
    wp__metrics_label_escape(out, stage);
    wp_buf_addch(out, '"');
    if (key) {
        wp_buf_addf(out, ",%s=\"", key);
        wp__metrics_label_escape(out, value);
        wp_buf_addch(out, '"');
    }
    wp_buf_adds(out, "} ");
}

static void stage_items(struct wp_buf *out, const struct wp_series *s)
{
    family(out, "wirepipe_stage_items_total", "counter",
           "Items by stage and outcome: in (offered), out (emitted downstream), dropped, failed "
           "(dead-lettered or fatal), skipped (on_error skip), retried (offers retried), "
           "cancelled (given up unfinished).");
    for (size_t i = 0; i < s->count; i++) {
        struct wp_stage_counts c;
        wp__series_stage_counts(&s->stages[i], &c);
        const struct {
            const char *outcome;
            unsigned long long value;
        } v[] = {{"in", c.in},
                 {"out", c.out},
                 {"dropped", c.dropped},
                 {"failed", c.failed},
                 {"skipped", c.skipped},
                 {"retried", c.retried},
                 {"cancelled", c.cancelled}};
        for (size_t k = 0; k < WP_ARRAY_SIZE(v); k++) {
            sample_start(out, "wirepipe_stage_items_total", s->stages[i].id, "outcome",
                         v[k].outcome);
            wp_buf_addf(out, "%llu\n", v[k].value);
        }
    }
    family(out, "wirepipe_stage_busy_seconds_total", "counter",
           "Time the stage's workers spent in the plugin (process, generate, flush, ack).");
    for (size_t i = 0; i < s->count; i++) {
        struct wp_stage_counts c;
        wp__series_stage_counts(&s->stages[i], &c);
        sample_start(out, "wirepipe_stage_busy_seconds_total", s->stages[i].id, NULL, NULL);
        wp_buf_addf(out, "%.9g\n", (double)c.busy_ns / 1e9);
    }
}

/* Gauges exist only for the stages of the running pipeline. */
static void stage_gauges(struct wp_buf *out, const struct wp_series *s)
{
    family(out, "wirepipe_stage_queue_depth", "gauge",
           "Items waiting in the stage's input queue (none for a generating source).");
    for (size_t i = 0; i < s->count; i++) {
        if (!s->stages[i].live)
            continue;
        sample_start(out, "wirepipe_stage_queue_depth", s->stages[i].id, NULL, NULL);
        wp_buf_addf(out, "%llu\n", wp__series_queue_depth(s->stages[i].live));
    }
    family(out, "wirepipe_stage_held", "gauge",
           "Items a batching stage has taken and not yet emitted.");
    for (size_t i = 0; i < s->count; i++) {
        if (!s->stages[i].live)
            continue;
        long long held = atomic_load(&s->stages[i].live->n_held);
        sample_start(out, "wirepipe_stage_held", s->stages[i].id, NULL, NULL);
        wp_buf_addf(out, "%lld\n", held > 0 ? held : 0);
    }
}

static void plain(struct wp_buf *out, const char *name, const char *type, const char *help,
                  unsigned long long value)
{
    family(out, name, type, help);
    wp_buf_addf(out, "%s %llu\n", name, value);
}

static void run_items(struct wp_buf *out, const struct wp_series *s)
{
    struct wp_run_counts c;
    wp__series_run_counts(s, &c);
    plain(out, "wirepipe_items_read_total", "counter",
          "Items that entered the pipeline (input records, or items a source emitted).", c.read);
    plain(out, "wirepipe_items_written_total", "counter",
          "Items that left the last stage and were written to the output (or a sink took).",
          c.written);
    plain(out, "wirepipe_items_dead_lettered_total", "counter",
          "Items written to the dead-letter file.", c.dead);
    plain(out, "wirepipe_items_lost_total", "counter",
          "Items never written because the output failed.", c.lost);
}

static void sources(struct wp_buf *out, const struct wp_series *s)
{
    static const char *const names[] = {"wirepipe_source_polls_total",
                                        "wirepipe_source_poll_failures_total"};
    static const char *const helps[] = {
        "Polls a polling source (fetch \"every\") has finished.",
        "Polls in which no source answered (retried at the next interval)."};
    for (size_t k = 0; k < 2; k++) {
        family(out, names[k], "counter", helps[k]);
        for (size_t i = 0; i < s->count; i++) {
            if (!s->stages[i].source)
                continue;
            struct wp_stage_counts c;
            wp__series_stage_counts(&s->stages[i], &c);
            sample_start(out, names[k], s->stages[i].id, NULL, NULL);
            wp_buf_addf(out, "%llu\n", k == 0 ? c.polls : c.poll_failures);
        }
    }
    family(out, "wirepipe_source_failing_seconds", "gauge",
           "How long the source's polls have been failing; 0 while they succeed.");
    uint64_t now = wp__now_ns();
    for (size_t i = 0; i < s->count; i++) {
        const struct wp_series_stage *st = &s->stages[i];
        if (!st->source || !st->live)
            continue;
        unsigned long long since = atomic_load(&st->live->failing_since_ns);
        sample_start(out, "wirepipe_source_failing_seconds", st->id, NULL, NULL);
        wp_buf_addf(out, "%.3f\n", since && now > since ? (double)(now - since) / 1e9 : 0.0);
    }
}

static void acks(struct wp_buf *out)
{
    plain(out, "wirepipe_acked_total", "counter",
          "Source items acknowledged to their source (delivered, dropped or dead-lettered).",
          wp__ack_total(true));
    plain(out, "wirepipe_items_unacknowledged_total", "counter",
          "Source items left unfinished (cancelled, lost, held): the next run delivers them.",
          wp__ack_total(false));
    struct wp_histogram_snapshot h;
    wp__ack_latency_read(&h);
    const char *name = "wirepipe_ack_latency_seconds";
    family(out, name, "histogram",
           "Time from a source's emit of an item to the end of its acknowledgement.");
    for (size_t i = 0; i < WP_HISTOGRAM_BUCKETS; i++)
        wp_buf_addf(out, "%s_bucket{le=\"%g\"} %llu\n", name, wp__histogram_bound(i),
                    h.cumulative[i]);
    wp_buf_addf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, h.cumulative[WP_HISTOGRAM_BUCKETS]);
    wp_buf_addf(out, "%s_sum %.9g\n", name, h.sum_seconds);
    wp_buf_addf(out, "%s_count %llu\n", name, h.cumulative[WP_HISTOGRAM_BUCKETS]);
}

static void http_requests(struct wp_buf *out)
{
    struct wp_http_stat rows[WP_HTTP_STATS_ROWS + 1];
    size_t n = wp__http_stats_read(rows, WP_ARRAY_SIZE(rows));
    family(out, "wirepipe_http_requests_total", "counter",
           "Requests of the HTTP client by host and final status (after retries): an HTTP "
           "status, or why none came (timeout, http, cancelled...).");
    for (size_t i = 0; i < n; i++) {
        char status[32];
        wp_buf_adds(out, "wirepipe_http_requests_total{host=\"");
        wp__metrics_label_escape(out, rows[i].host);
        wp_buf_addf(out, "\",status=\"%s\"} %llu\n",
                    wp__http_stats_status_label(rows[i].status, status, sizeof(status)),
                    rows[i].count);
    }
}

static void plugin_metrics(struct wp_buf *out, const struct wp_series *s, bool gauges)
{
    const char *name = gauges ? "wirepipe_plugin_gauge" : "wirepipe_plugin_metric_total";
    family(out, name, gauges ? "gauge" : "counter",
           gauges ? "Levels plugins report (metric names ending in \"depth\"), by stage."
                  : "Counters plugins report (host metric_add()), by stage and name.");
    struct wp_series_metric m[WP_SERIES_PLUGIN_MAX + WP_STAGE_METRICS_MAX];
    for (size_t i = 0; i < s->count; i++) {
        size_t n = wp__series_plugin_metrics(&s->stages[i], m);
        for (size_t k = 0; k < n; k++) {
            if (m[k].gauge != gauges || (gauges && !s->stages[i].live))
                continue;
            sample_start(out, name, s->stages[i].id, "name", m[k].name);
            wp_buf_addf(out, "%lld\n", m[k].value);
        }
    }
}

bool wp__metrics_text(const struct wp_series *s, struct wp_buf *out)
{
    stage_items(out, s);
    stage_gauges(out, s);
    run_items(out, s);
    sources(out, s);
    acks(out);
    http_requests(out);
    plugin_metrics(out, s, false);
    plugin_metrics(out, s, true);
    plain(out, "wirepipe_running", "gauge",
          "1 while a pipeline runs and takes input, 0 while it drains or between runs.",
          s->run && !atomic_load(&s->run->stopping));
    plain(out, "wirepipe_runs_total", "counter",
          "Runs started by this process: 1, plus one for each reload (SIGHUP).", s->runs);
    return !out->failed;
}
