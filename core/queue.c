#include "wp_internal.h"

#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "track.h"

struct wp_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct wp_entry *ring;
    size_t capacity;
    size_t head; /* next entry to pop */
    size_t count;
    /* Threads blocked in pop/push: signalling only when someone waits saves a futex call
     * per batch on the hot path. */
    unsigned waiting_pop;
    unsigned waiting_push;
    bool closed;
    bool aborted;
};

void wp__entry_release(struct wp_entry *entry)
{
    json_decref(entry->item);
    wp_free(entry->text);
    wp__track_end(entry->track, WP_TRACK_UNFINISHED);
    entry->item = NULL;
    entry->text = NULL;
    entry->track = NULL;
}

bool wp__entry_vec_push(struct wp_entry_vec *vec, struct wp_entry entry)
{
    if (vec->count == vec->alloc) {
        size_t alloc = vec->alloc ? vec->alloc * 2 : 16;
        struct wp_entry *grown = wp_realloc(vec->v, alloc * sizeof(*grown));
        if (!grown) {
            wp__entry_release(&entry);
            return false;
        }
        vec->v = grown;
        vec->alloc = alloc;
    }
    vec->v[vec->count++] = entry;
    return true;
}

void wp__entry_vec_clear(struct wp_entry_vec *vec)
{
    for (size_t i = 0; i < vec->count; i++)
        wp__entry_release(&vec->v[i]);
    vec->count = 0;
}

void wp__entry_vec_release(struct wp_entry_vec *vec)
{
    wp__entry_vec_clear(vec);
    wp_free(vec->v);
    memset(vec, 0, sizeof(*vec));
}

struct wp_queue *wp__queue_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    struct wp_queue *q = wp_calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ring = wp_calloc(capacity, sizeof(*q->ring));
    if (!q->ring) {
        wp_free(q);
        return NULL;
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    /* Timed pops measure a monotonic interval: a clock change must not stretch it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

void wp__queue_free(struct wp_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++)
        wp__entry_release(&q->ring[(q->head + i) % q->capacity]);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    wp_free(q->ring);
    wp_free(q);
}

bool wp__queue_push(struct wp_queue *q, struct wp_entry *entries, size_t count)
{
    pthread_mutex_lock(&q->lock);
    size_t done = 0;
    while (done < count) {
        while (q->count == q->capacity && !q->aborted) {
            q->waiting_push++;
            pthread_cond_wait(&q->not_full, &q->lock);
            q->waiting_push--;
        }
        if (q->aborted)
            break;
        /* Take as much as fits now, so one large batch cannot wedge a small queue. */
        size_t room = q->capacity - q->count;
        size_t n = count - done < room ? count - done : room;
        for (size_t i = 0; i < n; i++)
            q->ring[(q->head + q->count + i) % q->capacity] = entries[done + i];
        q->count += n;
        done += n;
        if (q->waiting_pop)
            pthread_cond_broadcast(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    if (done < count) {
        /* Aborted: the queue owns what it took; the rest is ours to release. */
        for (size_t i = done; i < count; i++)
            wp__entry_release(&entries[i]);
        return false;
    }
    return true;
}

size_t wp__queue_pop(struct wp_queue *q, struct wp_entry *entries, size_t max)
{
    return wp__queue_pop_wait(q, entries, max, -1, NULL);
}

size_t wp__queue_pop_wait(struct wp_queue *q, struct wp_entry *entries, size_t max, long timeout_ms,
                          bool *timed_out)
{
    struct timespec deadline;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    if (timed_out)
        *timed_out = false;
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed && !q->aborted) {
        q->waiting_pop++;
        int rc = timeout_ms >= 0 ? pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline)
                                 : pthread_cond_wait(&q->not_empty, &q->lock);
        q->waiting_pop--;
        if (rc == ETIMEDOUT && q->count == 0) {
            if (timed_out)
                *timed_out = true;
            break;
        }
    }
    size_t n = 0;
    if (!q->aborted) {
        n = q->count < max ? q->count : max;
        for (size_t i = 0; i < n; i++)
            entries[i] = q->ring[(q->head + i) % q->capacity];
        q->head = (q->head + n) % q->capacity;
        q->count -= n;
        if (n && q->waiting_push)
            pthread_cond_broadcast(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

void wp__queue_close(struct wp_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

void wp__queue_abort(struct wp_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->aborted = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t wp__queue_length(struct wp_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
