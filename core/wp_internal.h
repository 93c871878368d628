/*
 * wp_internal.h - the first include of every core .c file.
 *
 * Pulls in the public API and the core's shared helpers, so every file sees the same
 * feature macros and allocation wrappers. Non-static functions shared between core files
 * carry the wp__ prefix; public ones wp_.
 */
#ifndef WP_INTERNAL_H
#define WP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <wirepipe/wirepipe.h>

#include "alloc.h"

#define WP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic time in nanoseconds, for durations. */
static inline uint64_t wp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* WP_INTERNAL_H */
