#include "wp_internal.h"

#include "jsonl.h"

#include <errno.h>
#include <string.h>

#include "status.h"

void wp__jsonl_reader_init(struct wp_jsonl_reader *r, FILE *in)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
}

void wp__jsonl_reader_release(struct wp_jsonl_reader *r)
{
    wp_free(r->buf); /* getline() allocates with malloc, which wp_free matches */
    r->buf = NULL;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err)
{
    struct wp_jsonl_reader *r = reader;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->buf, &r->cap, r->in);
        if (n < 0) {
            if (errno == EINTR) {
                clearerr(r->in);
                return WP_E_CANCELLED;
            }
            return WP_E_NOTFOUND;
        }
        r->line++;
        *line = r->line;
        if (blank(r->buf, (size_t)n))
            continue;
        if ((size_t)n > WP_JSONL_MAX_LINE) {
            wp__error_set(err, WP_E_LIMIT, "line of %zd bytes is longer than the limit of %u", n,
                          WP_JSONL_MAX_LINE);
            return WP_E_LIMIT;
        }
        *text = wp_strndup(r->buf, (size_t)n);
        *len = (size_t)n;
        return *text ? WP_OK : WP_E_NOMEM;
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
