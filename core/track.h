/*
 * track.h - acknowledged delivery: which item of a source each entry in flight stands
 * for, and when that item is done.
 *
 * A source stage (one with an ack() op) gets a root track per item it emits. The track
 * travels with the item's entry from stage to stage; fan-out shares it (one reference per
 * emitted item), and a batching stage's output gets a group track that stands for every
 * track it held. Each reference ends exactly once, with an outcome: delivered (left the
 * last stage or was written), dropped, dead-lettered, or unfinished (cancelled, lost,
 * still held at the end). When a root's last reference ends and none was unfinished, the
 * source's ack() is called, on the acker's own thread so that a slow or locking ack never
 * stalls the stages.
 */
#ifndef WP_TRACK_H
#define WP_TRACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wirepipe/plugin.h>

struct wp_histogram_snapshot;
struct wp_stage_rt;

/* Outcomes in increasing order of severity: a root reports the worst of its parts. */
enum wp_track_outcome {
    WP_TRACK_DELIVERED = WP_ACK_DELIVERED,
    WP_TRACK_DROPPED = WP_ACK_DROPPED,
    WP_TRACK_DEAD_LETTERED = WP_ACK_DEAD_LETTERED,
    WP_TRACK_UNFINISHED, /* never acknowledged: the source reads the item again */
};

struct wp_acker;

struct wp_track {
    atomic_uint refs;          /* entries and groups that still stand for it */
    atomic_uint worst;         /* enum wp_track_outcome */
    struct wp_acker *acker;    /* roots: where the ack goes; NULL for a group */
    struct wp_track **parents; /* a group: the tracks it stands for (their references) */
    size_t parent_count;
    struct wp_track *next; /* in the acker's queue */
    uint64_t born_ns;      /* roots: wp__now_ns() when the source emitted the item */
    char id[];             /* roots: the item's id */
};

/*
 * wp__acker_start() - a thread that calls @source's ack() for its finished roots.
 * Returns NULL when out of resources (the run then goes on untracked, with a warning).
 */
struct wp_acker *wp__acker_start(struct wp_stage_rt *source);
/*
 * wp__acker_stop() - once the run's threads are done: deliver the acks still queued and
 * stop the thread. Logs how many items were left unacknowledged. Roots that finish later
 * (entries freed with the run) are not acknowledged.
 */
void wp__acker_stop(struct wp_acker *acker);
/* wp__acker_free() - after every entry is gone (stops it first if need be). */
void wp__acker_free(struct wp_acker *acker);
/*
 * Roots acknowledged (@acked) or left unfinished, over every acker of the process, and the
 * time from a source's emit to
 * the return of its ack() for each acknowledged root, for /metrics. Process-wide rather
 * than per run so that they stay monotonic across reloads without folding, and so that
 * the metrics thread never reads a run's acker pointer, which the run sets when it
 * starts. Thread-safe (atomics).
 */
unsigned long long wp__ack_total(bool acked);
void wp__ack_latency_read(struct wp_histogram_snapshot *out);

/* wp__track_root() - a root for item @id (NULL: ""). NULL when out of memory. */
struct wp_track *wp__track_root(struct wp_acker *acker, const char *id);
/*
 * wp__track_group() - a track with @refs (>= 1) references standing for the @count tracks
 * in @parents (it takes over one reference of each). NULL parents are skipped; returns
 * NULL when none is left, or when out of memory (then every parent ends unfinished).
 */
struct wp_track *wp__track_group(struct wp_track *const *parents, size_t count, unsigned refs);

/* wp__track_ref() - @n more references (fan-out). NULL-safe. */
void wp__track_ref(struct wp_track *track, unsigned n);
/* wp__track_end() - one reference ends with @outcome. NULL-safe. */
void wp__track_end(struct wp_track *track, enum wp_track_outcome outcome);

/* A growable queue of tracks: what a batching stage holds, oldest first from v[first]. */
struct wp_track_list {
    struct wp_track **v;
    size_t first;
    size_t count; /* v[first .. count) are held */
    size_t alloc;
};

/* wp__track_list_push() - append (NULL is ignored); out of memory ends @track unfinished. */
void wp__track_list_push(struct wp_track_list *list, struct wp_track *track);
/* wp__track_list_take() - remove and return the oldest, or NULL when empty. */
struct wp_track *wp__track_list_take(struct wp_track_list *list);
/* wp__track_list_end() - end the oldest @n (all when @n exceeds them) with @outcome. */
void wp__track_list_end(struct wp_track_list *list, size_t n, enum wp_track_outcome outcome);
void wp__track_list_release(struct wp_track_list *list); /* ends the rest unfinished */

#endif /* WP_TRACK_H */
