/*
 * publish_file.c - to=file: JSON Lines appended to @path (O_APPEND, one write() per line,
 * so lines of concurrent workers never interleave), fsync'd after every line
 * (fsync=always) or at the end of input and at close (batch). The file's folder is
 * created with its parents; a symlink as the file itself is refused.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, O_NOFOLLOW */

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "publish.h"

static enum wp_status file_open(struct publish *p, struct wp_ctx *ctx, const json_t *config)
{
    enum wp_status st = pub_config_path(p, ctx, config);
    if (st != WP_OK)
        return st;
    char *slash = strrchr(p->path, '/');
    if (slash && slash != p->path) {
        *slash = '\0';
        int err = pub_mkdirs(p->host, p->path);
        *slash = '/';
        if (err) {
            wp_fail(ctx, WP_E_IO, "path: cannot create the folder of '%s': %s", p->path,
                    strerror(err));
            return WP_E_IO;
        }
    }
    p->fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (p->fd < 0) {
        wp_fail(ctx, WP_E_IO, "path: cannot open '%s': %s", p->path, strerror(errno));
        return WP_E_IO;
    }
    return WP_OK;
}

static enum wp_outcome file_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                  const json_t *docs)
{
    (void)item;
    return pub_write_lines(p, ctx, p->fd, docs, p->path, p->fsync == FSYNC_ALWAYS);
}

const struct pub_target pub_target_file = {
    .name = "file",
    .open = file_open,
    .write = file_write,
    .flush = pub_flush_fd,
};
