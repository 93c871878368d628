/*
 * publish_file.c - to=file: JSON Lines appended to @path (O_APPEND, one write() per line,
 * so lines of concurrent workers never interleave), fsync'd after every line
 * (fsync=always) or at the end of input and at close (batch). The file's folder is
 * created with its parents; a symlink as the file itself is refused.
 *
 * Idempotent by item id: a rerun delivers again what was not acknowledged, so every
 * document written is remembered in the state store (namespace "publish.file:<path>", key
 * id NUL suffix, value "<generation> <end offset>") and a document already in the file is
 * skipped. The file's generation (key "" of the same namespace: "<dev> <inode>
 * <generation>") starts anew when the file is replaced or found empty, and a record only
 * counts while the file still reaches its end offset, so a deleted, rotated or truncated
 * file is written afresh rather than skipped. The record follows the line, so a crash
 * between the two can write a line twice, never lose one.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, O_NOFOLLOW */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wirepipe/buf.h>

#include "publish.h"

/*
 * Find the output file's generation in the store, or start a new one. Without a store
 * nothing is skipped (p->written_ns stays NULL): a duplicate line beats a lost one.
 */
static void file_generation(struct publish *p, struct wp_ctx *ctx)
{
    struct stat st;
    if (fstat(p->fd, &st) != 0)
        return;
    struct wp_buf b;
    wp_buf_init(&b, p->host);
    wp_buf_addf(&b, "publish.file:%s", p->path);
    char *ns = b.failed ? NULL : wp_buf_detach(&b, NULL);
    wp_buf_release(&b);
    if (!ns)
        return;
    char *value = NULL;
    size_t len = 0;
    unsigned long long dev = 0, ino = 0, gen = 0;
    if (p->host->store_get(ctx, ns, "", 0, &value, &len) == WP_OK) {
        if (sscanf(value, "%llu %llu %llu", &dev, &ino, &gen) != 3)
            dev = ino = gen = 0;
        p->host->free(value);
    }
    bool same = st.st_size > 0 && dev == (unsigned long long)st.st_dev &&
                ino == (unsigned long long)st.st_ino && gen > 0;
    if (!same) {
        char text[96];
        gen++;
        int n = snprintf(text, sizeof(text), "%llu %llu %llu", (unsigned long long)st.st_dev,
                         (unsigned long long)st.st_ino, gen);
        enum wp_status put = p->host->store_put(ctx, ns, "", 0, text, (size_t)n, 0);
        if (put != WP_OK) {
            wp_log_warn(ctx,
                        "cannot record '%s' in the state store (%s): ids already written "
                        "are not skipped",
                        p->path, p->host->status_name(put));
            p->host->free(ns);
            return;
        }
    }
    p->written_ns = ns;
    p->file_gen = gen;
}

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
    file_generation(p, ctx);
    return WP_OK;
}

/* The store key of one document: its item id, a NUL, its suffix. */
static bool file_doc_key(struct wp_buf *key, const char *id, const char *suffix)
{
    wp_buf_reset(key);
    wp_buf_adds(key, id);
    wp_buf_addch(key, '\0');
    wp_buf_adds(key, suffix ? suffix : "");
    return !key->failed;
}

/* Was this document written to the file as it is now (p->lock held)? */
static bool file_has(struct publish *p, struct wp_ctx *ctx, const struct wp_buf *key,
                     long long size)
{
    char *value = NULL;
    size_t len = 0;
    if (p->host->store_get(ctx, p->written_ns, key->data, key->len, &value, &len) != WP_OK)
        return false;
    unsigned long long gen = 0;
    long long end = 0;
    bool has = sscanf(value, "%llu %lld", &gen, &end) == 2 && gen == p->file_gen && end <= size;
    p->host->free(value);
    return has;
}

static enum wp_outcome file_write(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                  const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!p->written_ns || !id || !*id)
        return pub_write_lines(p, ctx, p->fd, docs, p->path, p->fsync == FSYNC_ALWAYS);
    struct wp_buf key;
    wp_buf_init(&key, p->host);
    enum wp_outcome outcome = WP_OUTCOME_OK;
    pthread_mutex_lock(&p->lock);
    struct stat st;
    long long size = fstat(p->fd, &st) == 0 ? (long long)st.st_size : 0;
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *suffix = json_string_value(json_object_get(d, "suffix"));
        bool keyed = file_doc_key(&key, id, suffix);
        if (keyed && file_has(p, ctx, &key, size)) {
            p->host->metric_add(ctx, "skipped_written", 1);
            wp_log_debug(ctx, "'%.80s%s' is already in '%s': skipped", id, suffix ? suffix : "",
                         p->path);
            continue;
        }
        size_t bytes = 0;
        outcome = pub_write_doc(p, ctx, p->fd, json_object_get(d, "doc"), p->path,
                                p->fsync == FSYNC_ALWAYS, &bytes);
        if (outcome != WP_OUTCOME_OK)
            break;
        size += (long long)bytes;
        char record[64];
        int n = snprintf(record, sizeof(record), "%llu %lld", p->file_gen, size);
        if (keyed && p->host->store_put(ctx, p->written_ns, key.data, key.len, record, (size_t)n,
                                        0) != WP_OK)
            wp_log_warn(ctx, "cannot record '%.80s' as written to '%s'", id, p->path);
    }
    pthread_mutex_unlock(&p->lock);
    wp_buf_release(&key);
    return outcome;
}

const struct pub_target pub_target_file = {
    .name = "file",
    .open = file_open,
    .write = file_write,
    .flush = pub_flush_fd,
};
