/*
 * publish_io.c - file-descriptor helpers of the local targets (stdout, file, dir).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "publish.h"

/* Strings from json_dumps() belong to jansson's allocator, whichever the host set. */
void pub_json_free(void *ptr)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (jfree)
        jfree(ptr);
}

int pub_write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* pub_write_doc() - see publish.h. */
enum wp_outcome pub_write_doc(struct publish *p, struct wp_ctx *ctx, int fd, const json_t *doc,
                              const char *where, bool sync, size_t *bytes)
{
    char *line = json_dumps(doc, JSON_COMPACT);
    if (!line) {
        wp_fail(ctx, WP_E_NOMEM, "cannot serialise the item");
        return WP_OUTCOME_REJECT;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* replaces the NUL: the length is what counts from here */
    int err = pub_write_all(fd, line, len + 1);
    pub_json_free(line);
    if (err == EPIPE) {
        /* `wirepipe ... | head`: the reader is gone, the run ends quietly (status.h). */
        wp_fail(ctx, WP_E_CANCELLED, "'%s' was closed by its reader", where);
        return WP_OUTCOME_FATAL;
    }
    if (err) {
        wp_fail(ctx, WP_E_IO, "cannot write to '%s': %s", where, strerror(err));
        return WP_OUTCOME_FATAL;
    }
    p->dirty = true;
    if (sync && fsync(fd) != 0) {
        wp_fail(ctx, WP_E_IO, "cannot fsync '%s': %s", where, strerror(errno));
        return WP_OUTCOME_FATAL;
    }
    if (bytes)
        *bytes += len + 1;
    return WP_OUTCOME_OK;
}

/* pub_write_lines() - see publish.h. */
enum wp_outcome pub_write_lines(struct publish *p, struct wp_ctx *ctx, int fd, const json_t *docs,
                                const char *where, bool sync)
{
    size_t i;
    const json_t *d;
    enum wp_outcome outcome = WP_OUTCOME_OK;
    pthread_mutex_lock(&p->lock);
    json_array_foreach(docs, i, d)
    {
        outcome = pub_write_doc(p, ctx, fd, json_object_get(d, "doc"), where, sync, NULL);
        if (outcome != WP_OUTCOME_OK)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return outcome;
}

int pub_mkdirs(const struct wp_host_api *host, const char *path)
{
    char *copy = host->strndup(path, strlen(path));
    if (!copy)
        return ENOMEM;
    int err = 0;
    for (char *s = copy + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(copy, 0755) != 0 && errno != EEXIST)
                err = errno;
            *s = saved;
            if (err || saved == '\0')
                break;
        }
    }
    host->free(copy);
    return err;
}

enum wp_outcome pub_flush_fd(struct publish *p, struct wp_ctx *ctx)
{
    if (p->fsync == FSYNC_NEVER || !p->dirty)
        return WP_OUTCOME_OK;
    if (fsync(p->fd) != 0) {
        wp_fail(ctx, WP_E_IO, "cannot fsync '%s': %s", p->path, strerror(errno));
        return WP_OUTCOME_FATAL;
    }
    p->dirty = false;
    return WP_OUTCOME_OK;
}
