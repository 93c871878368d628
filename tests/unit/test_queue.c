/* The bounded queue: order, batching, blocking when full, close and abort. */
#include "wp_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "queue.h"
#include "wp_cmocka.h"

static struct wp_entry entry_n(int n)
{
    return (struct wp_entry){.item = json_pack("{s:i}", "n", n), .seq = (uint64_t)n};
}

static void test_fifo_order_and_batches(void **state)
{
    (void)state;
    struct wp_queue *q = wp__queue_new(8);
    struct wp_entry in[5];
    for (int i = 0; i < 5; i++)
        in[i] = entry_n(i);
    assert_true(wp__queue_push(q, in, 5));
    assert_int_equal(wp__queue_length(q), 5);
    struct wp_entry out[8];
    size_t n = wp__queue_pop(q, out, 3);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].seq, i);
        json_decref(out[i].item);
    }
    n = wp__queue_pop(q, out, 8);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, 3);
    for (size_t i = 0; i < n; i++)
        json_decref(out[i].item);
    wp__queue_free(q);
}

struct producer {
    struct wp_queue *q;
    int count;
    int pushed;
    pthread_mutex_t lock;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->count; i++) {
        struct wp_entry e = entry_n(i);
        if (!wp__queue_push(p->q, &e, 1))
            break;
        pthread_mutex_lock(&p->lock);
        p->pushed++;
        pthread_mutex_unlock(&p->lock);
    }
    wp__queue_close(p->q);
    return NULL;
}

static int pushed(struct producer *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->pushed;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* A producer runs ahead only as far as the capacity: that is the backpressure. */
static void test_push_blocks_when_full(void **state)
{
    (void)state;
    struct producer p = {.q = wp__queue_new(4), .count = 100};
    pthread_mutex_init(&p.lock, NULL);
    pthread_t t;
    pthread_create(&t, NULL, produce, &p);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
    nanosleep(&pause, NULL);
    assert_int_equal(pushed(&p), 4);
    assert_int_equal(wp__queue_length(p.q), 4);

    int expected = 0;
    struct wp_entry out[16];
    size_t n;
    while ((n = wp__queue_pop(p.q, out, 16)) > 0) {
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(out[i].seq, expected++);
            json_decref(out[i].item);
        }
    }
    assert_int_equal(expected, 100);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&p.lock);
    wp__queue_free(p.q);
}

static void test_close_drains_then_ends(void **state)
{
    (void)state;
    struct wp_queue *q = wp__queue_new(4);
    struct wp_entry e = entry_n(1);
    assert_true(wp__queue_push(q, &e, 1));
    wp__queue_close(q);
    struct wp_entry out[4];
    assert_int_equal(wp__queue_pop(q, out, 4), 1);
    json_decref(out[0].item);
    assert_int_equal(wp__queue_pop(q, out, 4), 0);
    wp__queue_free(q);
}

/*
 * What the queue releases, seen without LeakSanitizer: items carry an extra reference of
 * the test's (the queue's release must bring the count back to 1), and wp_free() is
 * wrapped at link time (-Wl,--wrap=wp_free, tests/CMakeLists.txt) to record text freed.
 */
void __real_wp_free(void *ptr);
void __wrap_wp_free(void *ptr);

static const void *watched_text;
static int watched_text_freed;

void __wrap_wp_free(void *ptr)
{
    if (ptr && ptr == watched_text)
        watched_text_freed++;
    __real_wp_free(ptr);
}

static size_t refs(const json_t *item)
{
    return item->refcount;
}

static void test_abort_fails_pushes_and_frees(void **state)
{
    (void)state;
    struct wp_queue *q = wp__queue_new(2);
    struct wp_entry e[2] = {entry_n(1), entry_n(2)};
    json_t *held[2] = {json_incref(e[0].item), json_incref(e[1].item)};
    assert_true(wp__queue_push(q, e, 2));
    assert_int_equal(refs(held[0]), 2);
    wp__queue_abort(q);
    struct wp_entry more = entry_n(3);
    json_t *more_item = json_incref(more.item);
    assert_false(wp__queue_push(q, &more, 1));
    assert_int_equal(refs(more_item), 1); /* released by the queue */
    struct wp_entry out[2];
    assert_int_equal(wp__queue_pop(q, out, 2), 0);
    assert_int_equal(refs(held[0]), 2); /* an aborted pop hands nothing out */
    wp__queue_free(q);
    /* the two still queued were released by the free */
    assert_int_equal(refs(held[0]), 1);
    assert_int_equal(refs(held[1]), 1);
    json_decref(held[0]);
    json_decref(held[1]);
    json_decref(more_item);
}

static void test_text_entries_are_released(void **state)
{
    (void)state;
    struct wp_queue *q = wp__queue_new(2);
    struct wp_entry e = {.text = wp_strdup("{\"a\":1}\n"), .text_len = 8};
    assert_non_null(e.text);
    watched_text = e.text;
    watched_text_freed = 0;
    assert_true(wp__queue_push(q, &e, 1));
    assert_int_equal(watched_text_freed, 0);
    wp__queue_free(q);
    assert_int_equal(watched_text_freed, 1);
    watched_text = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_batches),
        cmocka_unit_test(test_push_blocks_when_full),
        cmocka_unit_test(test_close_drains_then_ends),
        cmocka_unit_test(test_abort_fails_pushes_and_frees),
        cmocka_unit_test(test_text_entries_are_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
