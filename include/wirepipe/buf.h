/*
 * wirepipe/buf.h - the one growable byte buffer, for the host and every plugin.
 *
 * Modelled on git's strbuf. Invariants:
 *  - @data is NULL until the first byte is added; after that it always holds @len bytes
 *    followed by a NUL that @len does not count, so it can be passed as a C string when
 *    the content has no NUL of its own.
 *  - Memory comes from the allocator of the host table given to wp_buf_init(), so a
 *    detached block is released with host->free().
 *  - After an allocation failure @failed is set and every later append is a no-op that
 *    returns false: a caller may append many pieces and test once at the end.
 *  - Growth is geometric, so appending n bytes in any number of pieces costs O(n).
 *
 *     struct wp_buf b;
 *     wp_buf_init(&b, ctx->host);
 *     wp_buf_adds(&b, "id=");
 *     wp_buf_addf(&b, "%u", n);
 *     if (b.failed) ...
 *     json_t *s = json_stringn(b.data, b.len);
 *     wp_buf_release(&b);
 */
#ifndef WIREPIPE_BUF_H
#define WIREPIPE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <wirepipe/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wp_buf {
    char *data;
    size_t len;
    size_t cap; /* bytes allocated at @data, the NUL included */
    const struct wp_host_api *host;
    bool failed;
};

static inline void wp_buf_init(struct wp_buf *b, const struct wp_host_api *host)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->host = host;
    b->failed = false;
}

/* wp_buf_release() - free the content; the buffer is empty and usable again. */
static inline void wp_buf_release(struct wp_buf *b)
{
    b->host->free(b->data);
    wp_buf_init(b, b->host);
}

/* wp_buf_reset() - empty the buffer but keep its memory for reuse (and clear @failed). */
static inline void wp_buf_reset(struct wp_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

/* wp_buf_grow() - make room for @extra more bytes (and the NUL). False on failure. */
static inline bool wp_buf_grow(struct wp_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra < b->cap - b->len && b->data)
        return true;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t want = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    char *p = (char *)b->host->realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

static inline bool wp_buf_add(struct wp_buf *b, const void *s, size_t n)
{
    if (!wp_buf_grow(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static inline bool wp_buf_adds(struct wp_buf *b, const char *s)
{
    return wp_buf_add(b, s, strlen(s));
}

static inline bool wp_buf_addch(struct wp_buf *b, char c)
{
    if (b->data && b->len + 1 < b->cap && !b->failed) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return true;
    }
    return wp_buf_add(b, &c, 1);
}

static inline bool wp_buf_vaddf(struct wp_buf *b, const char *fmt, va_list ap) WP_PRINTF(2, 0);
static inline bool wp_buf_vaddf(struct wp_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || !wp_buf_grow(b, (size_t)n)) {
        b->failed = true;
        return false;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return true;
}

static inline bool wp_buf_addf(struct wp_buf *b, const char *fmt, ...) WP_PRINTF(2, 3);
static inline bool wp_buf_addf(struct wp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = wp_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return ok;
}

/* wp_buf_truncate() - keep the first @len bytes (no-op when the buffer is shorter). */
static inline void wp_buf_truncate(struct wp_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

/*
 * wp_buf_detach() - hand the content to the caller and empty the buffer.
 * Returns: a new block (free with host->free), never NULL unless allocation failed:
 *          an empty buffer gives an allocated "" so callers need no special case.
 */
static inline char *wp_buf_detach(struct wp_buf *b, size_t *len)
{
    if (!b->data && !b->failed)
        wp_buf_grow(b, 0);
    if (b->failed) {
        wp_buf_release(b);
        if (len)
            *len = 0;
        return NULL;
    }
    if (b->len == 0)
        b->data[0] = '\0';
    char *out = b->data;
    if (len)
        *len = b->len;
    wp_buf_init(b, b->host);
    return out;
}

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_BUF_H */
