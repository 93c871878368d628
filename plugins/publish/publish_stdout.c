/*
 * publish_stdout.c - to=stdout: JSON Lines on file descriptor 1. The host prints nothing
 * after a sink, so this is the run's output, one write() per line under a lock.
 */
#include <unistd.h>

#include "publish.h"

static enum wp_outcome stdout_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                    const json_t *docs)
{
    (void)item;
    return pub_write_lines(p, ctx, STDOUT_FILENO, docs, "stdout", false);
}

const struct pub_target pub_target_stdout = {
    .name = "stdout",
    .write = stdout_write,
};
