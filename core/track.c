/*
 * Acknowledged delivery: tracks, groups and the acker thread (see track.h).
 */
#include "wp_internal.h"

#include "track.h"

#include <pthread.h>
#include <string.h>

#include "histogram.h"
#include "log.h"
#include "runner.h"
#include "stage.h"

struct wp_acker {
    struct wp_stage_rt *source;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct wp_track *head, *tail; /* finished roots waiting for their ack() */
    bool stopping;                /* no more ack() calls once the queue is empty */
    bool closed;                  /* the thread is gone: late roots are not acknowledged */
    pthread_t thread;
    atomic_ullong unfinished; /* for the warning at the end of the run */
};

/* Over every acker of the process (see track.h). */
static struct wp_histogram ack_latency;
static atomic_ullong acked_total, unfinished_total;

static void ack_one(struct wp_acker *acker, struct wp_run_ctx *ctx, struct wp_track *root)
{
    enum wp_ack_outcome outcome = (enum wp_ack_outcome)atomic_load(&root->worst);
    uint64_t start = wp__now_ns();
    acker->source->ops->ack(acker->source->instance, &ctx->pub, root->id, outcome);
    uint64_t end = wp__now_ns();
    atomic_fetch_add(&acker->source->busy_ns, end - start);
    /* Timed to the end of ack(): only then has the source recorded the item for good. */
    wp__histogram_observe(&ack_latency, end - root->born_ns);
    atomic_fetch_add_explicit(&acked_total, 1, memory_order_relaxed);
    wp_free(root);
}

static void *acker_thread(void *arg)
{
    struct wp_acker *acker = arg;
    struct wp_run_ctx ctx;
    wp__ctx_init(&ctx, acker->source, 0, WP_PHASE_ACK);
    pthread_mutex_lock(&acker->lock);
    for (;;) {
        while (!acker->head && !acker->stopping)
            pthread_cond_wait(&acker->wake, &acker->lock);
        struct wp_track *batch = acker->head;
        acker->head = acker->tail = NULL;
        if (!batch && acker->stopping)
            break;
        /* ack() runs unlocked: roots finishing meanwhile queue up behind this batch. */
        pthread_mutex_unlock(&acker->lock);
        while (batch) {
            struct wp_track *next = batch->next;
            ack_one(acker, &ctx, batch);
            batch = next;
        }
        pthread_mutex_lock(&acker->lock);
    }
    pthread_mutex_unlock(&acker->lock);
    return NULL;
}

struct wp_acker *wp__acker_start(struct wp_stage_rt *source)
{
    struct wp_acker *acker = wp_calloc(1, sizeof(*acker));
    if (!acker)
        return NULL;
    acker->source = source;
    pthread_mutex_init(&acker->lock, NULL);
    pthread_cond_init(&acker->wake, NULL);
    if (pthread_create(&acker->thread, NULL, acker_thread, acker) != 0) {
        pthread_mutex_destroy(&acker->lock);
        pthread_cond_destroy(&acker->wake);
        wp_free(acker);
        return NULL;
    }
    return acker;
}

/* Stop the thread after it has acknowledged everything queued. */
static void acker_close(struct wp_acker *acker)
{
    pthread_mutex_lock(&acker->lock);
    bool running = !acker->closed;
    acker->stopping = true;
    pthread_cond_signal(&acker->wake);
    pthread_mutex_unlock(&acker->lock);
    if (!running)
        return;
    pthread_join(acker->thread, NULL);
    acker->closed = true;
}

void wp__acker_stop(struct wp_acker *acker)
{
    if (!acker)
        return;
    acker_close(acker);
    unsigned long long left = atomic_load(&acker->unfinished);
    /* After a closed pipe that is the expected end, and said in the summary already. */
    if (left && !atomic_load(&acker->source->run->reader_gone))
        wp__log(WP_LOG_WARN, acker->source->source,
                "%llu item(s) not finished and not acknowledged: the next run delivers them", left);
}

void wp__acker_free(struct wp_acker *acker)
{
    if (!acker)
        return;
    acker_close(acker);
    pthread_mutex_destroy(&acker->lock);
    pthread_cond_destroy(&acker->wake);
    wp_free(acker);
}

unsigned long long wp__ack_total(bool acked)
{
    return atomic_load_explicit(acked ? &acked_total : &unfinished_total, memory_order_relaxed);
}

void wp__ack_latency_read(struct wp_histogram_snapshot *out)
{
    wp__histogram_read(&ack_latency, out);
}

/* ------------------------------------------------------------------------------------ */

static struct wp_track *track_alloc(size_t id_len)
{
    struct wp_track *t = wp_malloc(sizeof(*t) + id_len + 1);
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    atomic_init(&t->worst, WP_TRACK_DELIVERED);
    t->acker = NULL;
    t->parents = NULL;
    t->parent_count = 0;
    t->next = NULL;
    t->born_ns = 0;
    t->id[0] = '\0';
    return t;
}

struct wp_track *wp__track_root(struct wp_acker *acker, const char *id)
{
    size_t len = id ? strlen(id) : 0;
    struct wp_track *t = track_alloc(len);
    if (!t)
        return NULL;
    t->acker = acker;
    t->born_ns = wp__now_ns();
    memcpy(t->id, id ? id : "", len + 1);
    return t;
}

struct wp_track *wp__track_group(struct wp_track *const *parents, size_t count, unsigned refs)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += parents[i] != NULL;
    if (n == 0)
        return NULL;
    struct wp_track *g = track_alloc(0);
    struct wp_track **copy = g ? wp_calloc(n, sizeof(struct wp_track *)) : NULL;
    if (!copy) {
        wp_free(g);
        for (size_t i = 0; i < count; i++)
            wp__track_end(parents[i], WP_TRACK_UNFINISHED);
        return NULL;
    }
    for (size_t i = 0, k = 0; i < count; i++) {
        if (parents[i])
            copy[k++] = parents[i];
    }
    g->parents = copy;
    g->parent_count = n;
    atomic_store(&g->refs, refs);
    return g;
}

void wp__track_ref(struct wp_track *track, unsigned n)
{
    if (track && n)
        atomic_fetch_add(&track->refs, n);
}

/* Raise @track's worst outcome to @outcome. */
static void track_worsen(struct wp_track *track, enum wp_track_outcome outcome)
{
    unsigned seen = atomic_load(&track->worst);
    while (seen < (unsigned)outcome &&
           !atomic_compare_exchange_weak(&track->worst, &seen, (unsigned)outcome))
        ;
}

/* The last reference of @track ended. */
static void track_finished(struct wp_track *track)
{
    enum wp_track_outcome worst = (enum wp_track_outcome)atomic_load(&track->worst);
    if (track->parents) {
        for (size_t i = 0; i < track->parent_count; i++)
            wp__track_end(track->parents[i], worst);
        wp_free(track->parents);
        wp_free(track);
        return;
    }
    struct wp_acker *acker = track->acker;
    if (!acker) {
        wp_free(track);
        return;
    }
    pthread_mutex_lock(&acker->lock);
    bool take = worst != WP_TRACK_UNFINISHED && !acker->stopping;
    if (take) {
        /* The acker waits only on an empty queue: wake it only then. */
        if (acker->tail) {
            acker->tail->next = track;
        } else {
            acker->head = track;
            pthread_cond_signal(&acker->wake);
        }
        acker->tail = track;
    }
    pthread_mutex_unlock(&acker->lock);
    if (!take) {
        atomic_fetch_add(&acker->unfinished, 1);
        atomic_fetch_add_explicit(&unfinished_total, 1, memory_order_relaxed);
        wp_free(track);
    }
}

void wp__track_end(struct wp_track *track, enum wp_track_outcome outcome)
{
    if (!track)
        return;
    track_worsen(track, outcome);
    if (atomic_fetch_sub(&track->refs, 1) == 1)
        track_finished(track);
}

/* ------------------------------------------------------------------------------------ */

void wp__track_list_push(struct wp_track_list *list, struct wp_track *track)
{
    if (!track)
        return;
    if (list->first == list->count)
        list->first = list->count = 0;
    if (list->count == list->alloc && list->first > 0) {
        /* Reuse the room the oldest left: each track moves at most once per wrap. */
        memmove(list->v, list->v + list->first,
                (list->count - list->first) * sizeof(struct wp_track *));
        list->count -= list->first;
        list->first = 0;
    }
    if (list->count == list->alloc) {
        size_t alloc = list->alloc ? list->alloc * 2 : 16;
        struct wp_track **v = wp_realloc(list->v, alloc * sizeof(struct wp_track *));
        if (!v) {
            wp__track_end(track, WP_TRACK_UNFINISHED);
            return;
        }
        list->v = v;
        list->alloc = alloc;
    }
    list->v[list->count++] = track;
}

struct wp_track *wp__track_list_take(struct wp_track_list *list)
{
    return list->first < list->count ? list->v[list->first++] : NULL;
}

void wp__track_list_end(struct wp_track_list *list, size_t n, enum wp_track_outcome outcome)
{
    for (size_t i = 0; i < n && list->first < list->count; i++)
        wp__track_end(list->v[list->first++], outcome);
}

void wp__track_list_release(struct wp_track_list *list)
{
    wp__track_list_end(list, list->count, WP_TRACK_UNFINISHED);
    wp_free(list->v);
    memset(list, 0, sizeof(*list));
}
