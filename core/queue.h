/*
 * queue.h - a bounded, blocking, multi-producer multi-consumer queue of items.
 *
 * The queues between stages are what give wirepipe backpressure: a producer blocks while
 * the queue holds @capacity entries, so memory stays flat however long the input is.
 * Entries move in batches to keep lock traffic low at hundreds of thousands of items per
 * second. Every entry carries the sequence number that keeps output order deterministic.
 */
#ifndef WP_QUEUE_H
#define WP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct wp_track;

/*
 * One queued item. Between the input reader and the JSON decoders, and between the
 * encoders and the output writer, an entry instead carries JSON Lines text: a run of
 * whole lines, so that one queue operation moves many items.
 */
struct wp_entry {
    json_t *item; /* owned by whoever holds the entry, or NULL */
    char *text;   /* owned JSON Lines text (wp_malloc), or NULL */
    size_t text_len;
    size_t text_items;      /* output text: how many items it holds */
    uint64_t seq;           /* position in the producing stage's output order */
    uint64_t line;          /* input line of the item (or of the text's first line), or 0 */
    struct wp_track *track; /* the source item(s) it stands for, or NULL (track.h) */
};

/*
 * wp__entry_release() - free what @entry owns. A track still attached ends unfinished:
 * an entry that is dropped without being delivered is never acknowledged.
 */
void wp__entry_release(struct wp_entry *entry);

/* A growable list of entries a worker collects before pushing them downstream. */
struct wp_entry_vec {
    struct wp_entry *v;
    size_t count;
    size_t alloc;
};

/* wp__entry_vec_push() - append; on failure releases @entry and returns false. */
bool wp__entry_vec_push(struct wp_entry_vec *vec, struct wp_entry entry);
void wp__entry_vec_clear(struct wp_entry_vec *vec); /* releases the entries */
void wp__entry_vec_release(struct wp_entry_vec *vec);

struct wp_queue;

/* wp__queue_new() - a queue holding at most @capacity entries; NULL on failure. */
struct wp_queue *wp__queue_new(size_t capacity);

/* wp__queue_free() - free the queue and release the items still in it. */
void wp__queue_free(struct wp_queue *q);

/*
 * wp__queue_push() - append @count entries, blocking while the queue is full.
 * Ownership: steals the entries, even when it fails (returns false) because the queue
 * was aborted.
 */
bool wp__queue_push(struct wp_queue *q, struct wp_entry *entries, size_t count);

/*
 * wp__queue_pop() - take between 1 and @max entries, blocking while the queue is empty.
 * Returns the number taken; 0 when the queue is closed and drained, or aborted.
 */
size_t wp__queue_pop(struct wp_queue *q, struct wp_entry *entries, size_t max);

/*
 * wp__queue_pop_wait() - like wp__queue_pop(), but waits at most @timeout_ms (-1: for ever)
 * for an entry; returns 0 with *@timed_out set (when not NULL) when none came in time.
 */
size_t wp__queue_pop_wait(struct wp_queue *q, struct wp_entry *entries, size_t max, long timeout_ms,
                          bool *timed_out);

/* wp__queue_close() - no more pushes: consumers drain what is left, then get 0. */
void wp__queue_close(struct wp_queue *q);

/* wp__queue_abort() - wake everyone; pushes fail and pops return 0 from now on. */
void wp__queue_abort(struct wp_queue *q);

/* wp__queue_length() - entries currently queued (a snapshot, for progress lines). */
size_t wp__queue_length(struct wp_queue *q);

#endif /* WP_QUEUE_H */
