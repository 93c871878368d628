/*
 * alloc.h - the only allocator wrappers the core uses, and that plugins reach through
 * the host table. Builds with WP_FAULT_INJECTION read WP_FAIL_ALLOC_AT=N from the
 * environment and fail the Nth allocation, so a test can walk every failure path.
 */
#ifndef WP_ALLOC_H
#define WP_ALLOC_H

#include <stddef.h>

void *wp_malloc(size_t size);
void *wp_calloc(size_t count, size_t size);
void *wp_realloc(void *ptr, size_t size);
void wp_free(void *ptr);

/* wp_strndup() - new copy of the first @len bytes of @s, NUL-terminated; NULL on failure. */
char *wp_strndup(const char *s, size_t len);

/* wp_strdup() - new copy of @s; NULL on failure or when @s is NULL. */
char *wp_strdup(const char *s);

/*
 * wp_asprintf() - new string formatted like snprintf; NULL on failure.
 */
char *wp_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* WP_ALLOC_H */
