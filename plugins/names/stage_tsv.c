/*
 * stage_tsv.c - the stage "names_tsv": the output of `wirepipe names`. A sink that writes
 * each names_cluster result as one row input<TAB>canonical<TAB>cluster<TAB>score to
 * standard output, in the order the items come. An item without those fields (a bad
 * line passed through as {line, error}) gives an empty row, so rows stay one to one with
 * input lines. Rows are written in blocks, and the rest at the end of input.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <wirepipe/buf.h>

#include "names.h"

#define NM_TSV_BLOCK 65536 /* bytes of rows gathered before a write */

struct nm_tsv {
    const struct wp_host_api *host;
    int fd;
    struct wp_buf rows;
};

static enum wp_status nm_tsv_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    (void)config;
    struct nm_tsv *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->host = ctx->host;
    st->fd = STDOUT_FILENO;
    wp_buf_init(&st->rows, ctx->host);
    *instance = st;
    return WP_OK;
}

/*
 * Write the gathered rows. Returns WP_OUTCOME_FATAL when that fails, after saying why
 * with ctx->host->fail() (@ctx NULL: silently).
 */
static enum wp_outcome nm_tsv_write(struct nm_tsv *st, struct wp_ctx *ctx)
{
    size_t done = 0;
    int err = 0;
    while (done < st->rows.len && !err) {
        ssize_t n = write(st->fd, st->rows.data + done, st->rows.len - done);
        if (n < 0 && errno != EINTR)
            err = errno;
        else if (n > 0)
            done += (size_t)n;
    }
    wp_buf_reset(&st->rows);
    if (err && ctx)
        wp_fail(ctx, WP_E_IO, "cannot write to stdout: %s", strerror(err));
    return err ? WP_OUTCOME_FATAL : WP_OUTCOME_OK;
}

/* A tab or newline inside a field would break the row: they are written as spaces. */
static void nm_tsv_field(struct wp_buf *b, const char *s)
{
    while (s && *s) {
        size_t run = strcspn(s, "\t\n\r");
        wp_buf_add(b, s, run);
        s += run;
        if (*s) {
            wp_buf_addch(b, ' ');
            s++;
        }
    }
}

static enum wp_outcome nm_tsv_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct nm_tsv *st = instance;
    static const char *const fields[] = {"input", "canonical", "cluster"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        nm_tsv_field(&st->rows, json_string_value(json_object_get(item, fields[i])));
        wp_buf_addch(&st->rows, '\t');
    }
    json_t *score = json_object_get(item, "score");
    if (json_is_number(score))
        wp_buf_addf(&st->rows, "%.3f", json_number_value(score));
    wp_buf_addch(&st->rows, '\n');
    if (st->rows.failed) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_OUTCOME_FATAL;
    }
    return st->rows.len >= NM_TSV_BLOCK ? nm_tsv_write(st, ctx) : WP_OUTCOME_OK;
}

static enum wp_outcome nm_tsv_flush(void *instance, struct wp_ctx *ctx)
{
    return nm_tsv_write(instance, ctx);
}

static void nm_tsv_destroy(void *instance)
{
    struct nm_tsv *st = instance;
    if (!st)
        return;
    nm_tsv_write(st, NULL); /* rows of a run that stopped before the end of input */
    wp_buf_release(&st->rows);
    st->host->free(st);
}

const struct wp_stage_ops nm_tsv_ops = {
    .name = "names_tsv",
    .description = "write input, canonical, cluster and score of each item as a TSV row to stdout",
    .flags = WP_STAGE_SINK,
    .config = NULL,
    .create = nm_tsv_create,
    .process = nm_tsv_process,
    .flush = nm_tsv_flush,
    .destroy = nm_tsv_destroy,
};
