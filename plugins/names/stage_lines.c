/*
 * stage_lines.c - the stage "names_lines": the input of `wirepipe names`. It reads one
 * name per line from standard input and makes the {line, name} items names_cluster
 * takes. A line that is not a name (empty, longer than 1,000 bytes, not UTF-8) becomes
 * {line, error} instead, and the error is logged with the line number, so that every
 * input line still gets exactly one output row. Items it is given (with --input) pass on
 * unchanged.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <wirepipe/buf.h>

#include "names.h"

/* Longer lines are not names; refusing them keeps one bad cell from costing seconds. */
#define NM_LINE_MAX 1000

struct nm_lines {
    const struct wp_host_api *host;
    int fd;
};

/* The line being read: its first NM_LINE_MAX bytes, and what is known of the rest. */
struct nm_line {
    struct wp_buf text;
    size_t bytes;  /* all bytes so far, the newline not counted */
    bool too_long; /* a byte other than '\r' past NM_LINE_MAX */
};

static enum wp_status nm_lines_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    (void)config;
    struct nm_lines *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->host = ctx->host;
    st->fd = STDIN_FILENO;
    *instance = st;
    return WP_OK;
}

static enum wp_outcome nm_lines_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    (void)instance;
    (void)ctx;
    (void)item;
    return WP_OUTCOME_OK;
}

/* Add @n bytes of the current line (no newline among them). */
static void nm_line_add(struct nm_line *l, const char *s, size_t n)
{
    size_t keep = l->bytes < NM_LINE_MAX ? NM_LINE_MAX - l->bytes : 0;
    if (keep > n)
        keep = n;
    wp_buf_add(&l->text, s, keep);
    for (size_t i = keep; i < n && !l->too_long; i++)
        l->too_long = s[i] != '\r';
    l->bytes += n;
}

/* Emit the finished line number @lineno as an item. False when the run must stop. */
static bool nm_line_emit(struct nm_line *l, struct wp_ctx *ctx, uint64_t lineno,
                         enum wp_outcome *outcome)
{
    size_t len = l->text.len;
    if (!l->too_long) {
        while (len > 0 && l->text.data[len - 1] == '\r')
            len--;
    }
    const char *problem = NULL;
    json_t *name = NULL;
    if (len == 0)
        problem = "empty line";
    else if (l->too_long)
        problem = "line longer than 1000 bytes; not a name";
    else if (!(name = json_stringn(l->text.data, len)))
        problem = "invalid UTF-8";
    bool failed = l->text.failed;
    wp_buf_reset(&l->text);
    l->bytes = 0;
    l->too_long = false;

    json_t *item = NULL;
    if (!failed && problem) {
        wp_log_error(ctx, "line %llu: %s", (unsigned long long)lineno, problem);
        item = json_pack("{s:I,s:s}", "line", (json_int_t)lineno, "error", problem);
    } else if (!failed) {
        item = json_pack("{s:I,s:o}", "line", (json_int_t)lineno, "name", name);
    } else {
        json_decref(name);
    }
    if (!item) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory reading line %llu", (unsigned long long)lineno);
        *outcome = WP_OUTCOME_FATAL;
        return false;
    }
    /* WP_E_CANCELLED: the run is stopping, and nothing more is wanted */
    return ctx->host->emit(ctx, item) == WP_OK && !ctx->host->cancelled(ctx);
}

static enum wp_outcome nm_lines_generate(void *instance, struct wp_ctx *ctx)
{
    struct nm_lines *st = instance;
    struct nm_line line = {.bytes = 0, .too_long = false};
    wp_buf_init(&line.text, st->host);
    enum wp_outcome outcome = WP_OUTCOME_OK;
    uint64_t lineno = 0;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(st->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            if (ctx->host->cancelled(ctx))
                break;
            continue;
        }
        if (n < 0) {
            wp_fail(ctx, WP_E_IO, "cannot read standard input: %s", strerror(errno));
            outcome = WP_OUTCOME_FATAL;
            break;
        }
        if (n == 0) {
            /* a last line without a newline still counts; an empty end does not */
            if (line.bytes > 0)
                nm_line_emit(&line, ctx, ++lineno, &outcome);
            break;
        }
        const char *p = chunk;
        const char *end = chunk + n;
        bool go_on = true;
        while (go_on && p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            nm_line_add(&line, p, (size_t)((nl ? nl : end) - p));
            p = nl ? nl + 1 : end;
            if (nl)
                go_on = nm_line_emit(&line, ctx, ++lineno, &outcome);
        }
        if (!go_on)
            break;
    }
    wp_buf_release(&line.text);
    return outcome;
}

static void nm_lines_destroy(void *instance)
{
    struct nm_lines *st = instance;
    if (st)
        st->host->free(st);
}

const struct wp_stage_ops nm_lines_ops = {
    .name = "names_lines",
    .description = "read one name per line from standard input as {line, name} items",
    .flags = 0,
    .config = NULL,
    .create = nm_lines_create,
    .process = nm_lines_process,
    .generate = nm_lines_generate,
    .destroy = nm_lines_destroy,
};
