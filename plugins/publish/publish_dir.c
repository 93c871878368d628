/*
 * publish_dir.c - to=dir: one file per document, named from the item id (publish_name.c)
 * and written atomically: to a temporary file in the same folder, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel
 * has it), fsync'd (unless fsync=never) and renamed over the final name. Nothing can be
 * written outside the folder; a symlink planted under a final name is refused.
 */
#define _DEFAULT_SOURCE /* syscall */

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "publish.h"

static enum wp_status dir_open(struct publish *p, struct wp_ctx *ctx, const json_t *config)
{
    enum wp_status st = pub_config_path(p, ctx, config);
    if (st != WP_OK)
        return st;
    int err = pub_mkdirs(p->host, p->path);
    p->fd = err ? -1 : open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->fd < 0) {
        wp_fail(ctx, WP_E_IO, "path: cannot open folder '%s': %s", p->path,
                strerror(err ? err : errno));
        return WP_E_IO;
    }
    return WP_OK;
}

/* Create a fresh file @name inside folder @dirfd, never following a symlink. */
static int pub_create_beneath(int dirfd, const char *name)
{
    struct open_how how = {
        .flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
        .mode = 0644,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return (int)fd;
    /* Older kernels: @name has no '/', and O_EXCL|O_NOFOLLOW refuses any existing entry. */
    return openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

static enum wp_outcome pub_write_file_atomic(struct publish *p, struct wp_ctx *ctx,
                                             const char *name, const char *data, size_t len)
{
    struct stat st;
    if (fstatat(p->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
        wp_fail(ctx, WP_E_IO, "refusing to replace '%s' in '%s': it is not a regular file%s", name,
                p->path, S_ISLNK(st.st_mode) ? " but a symlink" : "");
        return WP_OUTCOME_REJECT;
    }
    char tmp[PUB_NAME_MAX + 64];
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        pthread_mutex_lock(&p->lock);
        unsigned long n = ++p->tmp_counter;
        pthread_mutex_unlock(&p->lock);
        int tmp_len = snprintf(tmp, sizeof(tmp), ".%s.tmp-%ld-%lu", name, (long)getpid(), n);
        if (tmp_len < 0 || (size_t)tmp_len >= sizeof(tmp))
            break; /* cannot happen: names are at most PUB_NAME_MAX bytes */
        fd = pub_create_beneath(p->fd, tmp);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        wp_fail(ctx, WP_E_IO, "cannot create a temporary file in '%s': %s", p->path,
                strerror(errno));
        return WP_OUTCOME_FATAL;
    }
    int err = pub_write_all(fd, data, len);
    if (!err && p->fsync != FSYNC_NEVER && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && renameat(p->fd, tmp, p->fd, name) != 0)
        err = errno;
    if (err) {
        unlinkat(p->fd, tmp, 0);
        wp_fail(ctx, WP_E_IO, "cannot write '%s' in '%s': %s", name, p->path, strerror(err));
        return WP_OUTCOME_FATAL;
    }
    if (p->fsync == FSYNC_ALWAYS && fsync(p->fd) != 0)
        wp_log_warn(ctx, "cannot fsync folder '%s': %s", p->path, strerror(errno));
    pthread_mutex_lock(&p->lock);
    p->dirty = true;
    pthread_mutex_unlock(&p->lock);
    return WP_OUTCOME_OK;
}

static enum wp_outcome dir_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                 const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    char stem[PUB_NAME_MAX + 1];
    bool suspicious = false;
    if (!id || !pub_file_stem(p->host, id, stem, &suspicious)) {
        wp_fail(ctx, WP_E_INVALID, "item has no usable 'id' to name its file");
        return WP_OUTCOME_REJECT;
    }
    if (suspicious)
        wp_log_warn(ctx, "id '%.80s' is not a safe file name: written as '%s.json'", id, stem);
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        char name[PUB_NAME_MAX + 64];
        snprintf(name, sizeof(name), "%s%s.json", stem,
                 json_string_value(json_object_get(d, "suffix")));
        char *text = json_dumps(json_object_get(d, "doc"), JSON_INDENT(2));
        if (!text) {
            wp_fail(ctx, WP_E_NOMEM, "cannot serialise the item");
            return WP_OUTCOME_REJECT;
        }
        size_t len = strlen(text);
        text[len] = '\n';
        enum wp_outcome o = pub_write_file_atomic(p, ctx, name, text, len + 1);
        pub_json_free(text);
        if (o != WP_OUTCOME_OK)
            return o;
    }
    return WP_OUTCOME_OK;
}

const struct pub_target pub_target_dir = {
    .name = "dir",
    .open = dir_open,
    .write = dir_write,
    .flush = pub_flush_fd,
};
