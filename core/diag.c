#include "wp_internal.h"

#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void wp__diags_init(struct wp_diags *d)
{
    *d = (struct wp_diags){0};
}

void wp__diags_release(struct wp_diags *d)
{
    size_t stored = d->count < d->alloc ? d->count : d->alloc;
    for (size_t i = 0; i < stored; i++)
        wp_free(d->lines[i]);
    wp_free(d->lines);
    wp__diags_init(d);
}

/*
 * Make room for index d->count. Slots that a failed growth skipped stay NULL, so a later
 * successful growth still leaves every slot below count either a line or NULL.
 */
static bool diags_reserve(struct wp_diags *d)
{
    if (d->count < d->alloc)
        return true;
    size_t want = d->alloc ? d->alloc * 2 : 8;
    while (want <= d->count)
        want *= 2;
    char **lines = wp_realloc(d->lines, want * sizeof(*lines));
    if (!lines)
        return false;
    memset(lines + d->alloc, 0, (want - d->alloc) * sizeof(*lines));
    d->lines = lines;
    d->alloc = want;
    return true;
}

void wp__diags_add(struct wp_diags *d, const char *fmt, ...)
{
    if (!diags_reserve(d)) {
        d->count++;
        return;
    }
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *line = n >= 0 ? wp_malloc((size_t)n + 1) : NULL;
    if (line)
        vsnprintf(line, (size_t)n + 1, fmt, again);
    va_end(again);
    va_end(ap);
    d->lines[d->count++] = line;
}

void wp__diags_print(const struct wp_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->count; i++) {
        const char *line = i < d->alloc ? d->lines[i] : NULL;
        fputs(line ? line : "error: a message was lost (out of memory)", out);
        fputc('\n', out);
    }
}
