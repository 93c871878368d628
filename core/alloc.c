#include "wp_internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef WP_FAULT_INJECTION
static atomic_long alloc_count;

/* True when this allocation is the one WP_FAIL_ALLOC_AT asks to fail. */
static bool alloc_should_fail(void)
{
    static long fail_at = -1;
    if (fail_at < 0) {
        const char *env = getenv("WP_FAIL_ALLOC_AT");
        char *end = NULL;
        long n = env ? strtol(env, &end, 10) : 0;
        fail_at = (env && end && *end == '\0' && n > 0) ? n : 0;
    }
    return fail_at > 0 && atomic_fetch_add(&alloc_count, 1) + 1 == fail_at;
}
#else
static bool alloc_should_fail(void)
{
    return false;
}
#endif

void *wp_malloc(size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *wp_calloc(size_t count, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *wp_realloc(void *ptr, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void wp_free(void *ptr)
{
    free(ptr);
}

char *wp_strndup(const char *s, size_t len)
{
    char *copy = wp_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *wp_strdup(const char *s)
{
    return s ? wp_strndup(s, strlen(s)) : NULL;
}

char *wp_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *out = wp_malloc((size_t)n + 1);
    if (!out)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}
