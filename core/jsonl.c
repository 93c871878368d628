#include "wp_internal.h"

#include "jsonl.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "status.h"

void wp__jsonl_reader_init(struct wp_jsonl_reader *r, int fd)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
}

void wp__jsonl_reader_release(struct wp_jsonl_reader *r)
{
    wp_free(r->buf);
    r->buf = NULL;
}

static uint64_t count_lines(const char *s, size_t len)
{
    uint64_t n = 0;
    for (const char *end = s + len; (s = memchr(s, '\n', (size_t)(end - s))); s++)
        n++;
    return n;
}

/* Hand on the first @len bytes of the buffer as a new run of text. */
static enum wp_status take_run(struct wp_jsonl_reader *r, size_t len, char **text, size_t *text_len,
                               uint64_t *line)
{
    char *run = wp_malloc(len);
    if (!run)
        return WP_E_NOMEM;
    memcpy(run, r->buf, len);
    memmove(r->buf, r->buf + len, r->len - len);
    r->len -= len;
    *line = r->line + 1;
    uint64_t lines = count_lines(run, len);
    r->line += lines + (len > 0 && run[len - 1] != '\n'); /* a last line without newline */
    *text = run;
    *text_len = len;
    return WP_OK;
}

enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err)
{
    struct wp_jsonl_reader *r = reader;
    for (;;) {
        /* Lines are handed on as soon as they end, so only the first line in the buffer
         * can have grown past the limit: skip it, up to its newline if that has come. */
        if (r->len > WP_JSONL_MAX_LINE && !memchr(r->buf, '\n', WP_JSONL_MAX_LINE + 1)) {
            const char *nl = memchr(r->buf, '\n', r->len);
            size_t keep = nl ? r->len - (size_t)(nl + 1 - r->buf) : 0;
            memmove(r->buf, r->buf + r->len - keep, keep);
            r->len = keep;
            r->skipping = !nl;
            *line = ++r->line;
            wp__error_set(err, WP_E_LIMIT, "line longer than the limit of %u bytes; skipped",
                          WP_JSONL_MAX_LINE);
            return WP_E_LIMIT;
        }
        const char *last = r->len ? memrchr(r->buf, '\n', r->len) : NULL;
        if (last)
            return take_run(r, (size_t)(last - r->buf) + 1, text, len, line);
        if (r->eof)
            return r->len ? take_run(r, r->len, text, len, line) : WP_E_NOTFOUND;
        if (r->cap - r->len < WP_JSONL_CHUNK) {
            /* At most a line at the limit plus one read: memory stays bounded. */
            size_t cap = r->cap ? r->cap * 2 : 2 * WP_JSONL_CHUNK;
            if (cap > WP_JSONL_MAX_LINE + 2 * WP_JSONL_CHUNK)
                cap = WP_JSONL_MAX_LINE + 2 * WP_JSONL_CHUNK;
            char *grown = wp_realloc(r->buf, cap);
            if (!grown)
                return WP_E_NOMEM;
            r->buf = grown;
            r->cap = cap;
        }
        ssize_t n = read(r->fd, r->buf + r->len, WP_JSONL_CHUNK);
        if (n < 0 && errno == EINTR)
            return WP_E_CANCELLED;
        if (n <= 0) {
            r->eof = true; /* end of input, or an error we cannot read past */
            continue;
        }
        if (r->skipping) {
            char *nl = memchr(r->buf + r->len, '\n', (size_t)n);
            if (!nl)
                continue; /* still inside the over-long line */
            size_t keep = (size_t)(r->buf + r->len + n - (nl + 1));
            memmove(r->buf, nl + 1, keep);
            r->len = keep;
            r->skipping = false;
            continue;
        }
        r->len += (size_t)n;
    }
}

enum wp_status wp__jsonl_write_text(void *out, const char *text, size_t len)
{
    return fwrite(text, 1, len, out) == len ? WP_OK : WP_E_IO;
}

enum wp_status wp__jsonl_finish(void *out)
{
    return fflush(out) == 0 ? WP_OK : WP_E_IO;
}
