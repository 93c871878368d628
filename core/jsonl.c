#include "wp_internal.h"

#include "jsonl.h"

#include <errno.h>
#include <string.h>

#include "status.h"

void wp__jsonl_reader_init(struct wp_jsonl_reader *r, FILE *in, bool interactive)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->interactive = interactive;
}

void wp__jsonl_reader_release(struct wp_jsonl_reader *r)
{
    wp_free(r->buf); /* getline() allocates with malloc, which wp_free matches */
    r->buf = NULL;
}

/* Read the next line into r->buf, or take the one held back. Returns its length or -1. */
static ssize_t next_line(struct wp_jsonl_reader *r)
{
    if (r->pending_len > 0) {
        ssize_t n = r->pending_len;
        r->pending_len = 0;
        return n;
    }
    errno = 0;
    return getline(&r->buf, &r->cap, r->in);
}

enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err)
{
    struct wp_jsonl_reader *r = reader;
    char *run = NULL;
    size_t used = 0;
    *line = r->line + 1;
    for (;;) {
        ssize_t n = next_line(r);
        if (n < 0) {
            bool interrupted = errno == EINTR;
            if (interrupted)
                clearerr(r->in);
            if (used)
                break;
            return interrupted ? WP_E_CANCELLED : WP_E_NOTFOUND;
        }
        bool too_long = (size_t)n > WP_JSONL_MAX_LINE;
        if (used && (too_long || used + (size_t)n > WP_JSONL_CHUNK)) {
            r->pending_len = n; /* starts the next run */
            break;
        }
        r->line++;
        if (too_long) {
            *line = r->line;
            wp__error_set(err, WP_E_LIMIT, "line of %zd bytes is longer than the limit of %u", n,
                          WP_JSONL_MAX_LINE);
            return WP_E_LIMIT;
        }
        if (!run) {
            run = wp_malloc((size_t)n > WP_JSONL_CHUNK ? (size_t)n : WP_JSONL_CHUNK);
            if (!run)
                return WP_E_NOMEM;
        }
        memcpy(run + used, r->buf, (size_t)n);
        used += (size_t)n;
        if (r->interactive)
            break;
    }
    *text = run;
    *len = used;
    return WP_OK;
}

enum wp_status wp__jsonl_write_text(void *out, const char *text, size_t len)
{
    return fwrite(text, 1, len, out) == len ? WP_OK : WP_E_IO;
}

enum wp_status wp__jsonl_finish(void *out)
{
    return fflush(out) == 0 ? WP_OK : WP_E_IO;
}
