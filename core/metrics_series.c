/*
 * Counters kept across runs for /metrics (see metrics_series.h).
 */
#include "wp_internal.h"

#include "metrics_series.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runner.h"

bool wp__series_metric_is_gauge(const char *name)
{
    size_t len = strlen(name);
    return len >= 5 && strcmp(name + len - 5, "depth") == 0;
}

static struct wp_series_stage *series_find(struct wp_series *s, const char *id)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->stages[i].id, id) == 0)
            return &s->stages[i];
    }
    return NULL;
}

static struct wp_series_stage *series_add(struct wp_series *s, const char *id)
{
    if (s->count == s->alloc) {
        size_t alloc = s->alloc ? s->alloc * 2 : 8;
        struct wp_series_stage *v = wp_realloc(s->stages, alloc * sizeof(*v));
        if (!v)
            return NULL;
        s->stages = v;
        s->alloc = alloc;
    }
    char *copy = wp_strdup(id);
    if (!copy)
        return NULL;
    struct wp_series_stage *st = &s->stages[s->count++];
    memset(st, 0, sizeof(*st));
    st->id = copy;
    return st;
}

void wp__series_attach(struct wp_series *s, struct wp_run *run)
{
    s->run = run;
    s->runs++;
    for (size_t i = 0; i < run->stage_count; i++) {
        struct wp_stage_rt *rt = &run->stages[i];
        struct wp_series_stage *st = series_find(s, rt->def->id);
        if (!st)
            st = series_add(s, rt->def->id);
        if (!st) {
            wp__log(WP_LOG_WARN, "metrics", "out of memory: stage '%s' is not exported",
                    rt->def->id);
            continue;
        }
        st->live = rt;
        if (i == 0 && rt->ops && rt->ops->generate)
            st->source = true;
    }
}

static void live_counts(struct wp_stage_rt *rt, struct wp_stage_counts *c)
{
    c->in = atomic_load(&rt->n_in);
    c->out = atomic_load(&rt->n_out);
    c->dropped = atomic_load(&rt->n_dropped);
    c->failed = atomic_load(&rt->n_failed);
    c->skipped = atomic_load(&rt->n_skipped);
    c->retried = atomic_load(&rt->n_retries);
    c->cancelled = atomic_load(&rt->n_cancelled);
    c->busy_ns = atomic_load(&rt->busy_ns);
    c->polls = atomic_load(&rt->n_polls);
    c->poll_failures = atomic_load(&rt->n_polls_failed);
}

static void counts_add(struct wp_stage_counts *to, const struct wp_stage_counts *c)
{
    to->in += c->in;
    to->out += c->out;
    to->dropped += c->dropped;
    to->failed += c->failed;
    to->skipped += c->skipped;
    to->retried += c->retried;
    to->cancelled += c->cancelled;
    to->busy_ns += c->busy_ns;
    to->polls += c->polls;
    to->poll_failures += c->poll_failures;
}

void wp__series_stage_counts(const struct wp_series_stage *st, struct wp_stage_counts *out)
{
    *out = st->done;
    if (st->live) {
        struct wp_stage_counts c;
        live_counts(st->live, &c);
        counts_add(out, &c);
    }
}

static void live_run_counts(struct wp_run *run, struct wp_run_counts *c)
{
    c->read = atomic_load(&run->n_read);
    /*
     * A generating source's items are counted into n_read at the end of each poll; in
     * between, what it has emitted is what has been read (as the progress line counts).
     * n_in stays 0 for such a stage: it is fed by nothing.
     */
    if (run->stage_count && run->stages[0].ops && run->stages[0].ops->generate &&
        atomic_load(&run->stages[0].n_in) == 0) {
        unsigned long long emitted = atomic_load(&run->stages[0].n_out);
        if (emitted > c->read)
            c->read = emitted;
    }
    c->written = atomic_load(&run->n_written);
    c->dead = atomic_load(&run->n_dead);
    c->lost = atomic_load(&run->n_lost);
}

void wp__series_run_counts(const struct wp_series *s, struct wp_run_counts *out)
{
    *out = s->done;
    if (s->run) {
        struct wp_run_counts c;
        live_run_counts(s->run, &c);
        out->read += c.read;
        out->written += c.written;
        out->dead += c.dead;
        out->lost += c.lost;
    }
}

/* Add @value to the metric @name of @v (@n entries, room for @max), or append it. */
static void metric_merge(struct wp_series_metric *v, size_t *n, size_t max, const char *name,
                         long long value)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            v[i].value += value;
            return;
        }
    }
    if (*n == max)
        return;
    struct wp_series_metric *m = &v[(*n)++];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->value = value;
    m->gauge = wp__series_metric_is_gauge(name);
}

size_t wp__series_plugin_metrics(const struct wp_series_stage *st, struct wp_series_metric *out)
{
    const size_t max = WP_SERIES_PLUGIN_MAX + WP_STAGE_METRICS_MAX;
    size_t n = 0;
    for (size_t i = 0; i < st->plugin_count; i++)
        metric_merge(out, &n, max, st->plugin[i].name, st->plugin[i].value);
    if (st->live) {
        pthread_mutex_lock(&st->live->metrics_lock);
        for (size_t i = 0; i < st->live->metric_count; i++)
            metric_merge(out, &n, max, st->live->metrics[i].name, st->live->metrics[i].value);
        pthread_mutex_unlock(&st->live->metrics_lock);
    }
    return n;
}

unsigned long long wp__series_queue_depth(struct wp_stage_rt *stage)
{
    if (atomic_load(&stage->n_in) == 0 || !stage->in)
        return 0;
    return wp__queue_length(stage->in);
}

/* Fold the ended run's plugin counters into @st (gauges are not carried over). */
static void fold_plugin(struct wp_series_stage *st, struct wp_stage_rt *rt)
{
    pthread_mutex_lock(&rt->metrics_lock);
    for (size_t i = 0; i < rt->metric_count; i++) {
        const struct wp_stage_metric *m = &rt->metrics[i];
        if (wp__series_metric_is_gauge(m->name))
            continue;
        size_t k = 0;
        while (k < st->plugin_count && strcmp(st->plugin[k].name, m->name) != 0)
            k++;
        if (k == st->plugin_count) {
            if (k == WP_SERIES_PLUGIN_MAX)
                continue;
            st->plugin[k] = *m;
            st->plugin_count++;
        } else {
            st->plugin[k].value += m->value;
        }
    }
    pthread_mutex_unlock(&rt->metrics_lock);
}

void wp__series_detach(struct wp_series *s)
{
    if (!s->run)
        return;
    for (size_t i = 0; i < s->count; i++) {
        struct wp_series_stage *st = &s->stages[i];
        if (!st->live)
            continue;
        struct wp_stage_counts c;
        live_counts(st->live, &c);
        counts_add(&st->done, &c);
        fold_plugin(st, st->live);
        st->live = NULL;
    }
    struct wp_run_counts c;
    live_run_counts(s->run, &c);
    s->done.read += c.read;
    s->done.written += c.written;
    s->done.dead += c.dead;
    s->done.lost += c.lost;
    s->run = NULL;
}

void wp__series_release(struct wp_series *s)
{
    for (size_t i = 0; i < s->count; i++)
        wp_free(s->stages[i].id);
    wp_free(s->stages);
    memset(s, 0, sizeof(*s));
}
