/*
 * publish.h - private interfaces of the publish plugin.
 *
 * The stage (publish.c) renders each item as the documents to write, the item itself or
 * its ninjs objects (publish_ninjs.c), and hands them to its target. Every target is one
 * file with a const struct pub_target: stdout (publish_stdout.c), a JSON Lines file
 * (publish_file.c), a folder of one file per item (publish_dir.c) and a webhook
 * (publish_http.c). File names and idempotency keys are made from item ids in
 * publish_name.c; the file-descriptor helpers the local targets share are in publish_io.c.
 *
 * A document list, as the stage hands it to a target, is a JSON array of {suffix, doc}:
 * the item's own document first with suffix "", then one per ninjs translation with
 * suffix "." LANG.
 *
 * Only the entry symbol is exported: the plugin builds with hidden visibility, so the
 * functions declared here are shared between its files and nowhere else.
 */
#ifndef PUBLISH_PRIVATE_H
#define PUBLISH_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

/* Bytes of a file name built from an id, before ".json". */
#define PUB_NAME_MAX 200

enum pub_format { FMT_WIREPIPE, FMT_NINJS };
enum pub_fsync { FSYNC_NEVER, FSYNC_ALWAYS, FSYNC_BATCH };

struct pub_target;

struct publish {
    const struct wp_host_api *host;
    const struct pub_target *to;
    enum pub_format format;
    enum pub_fsync fsync;
    char *path; /* file, dir: absolute */
    int fd;     /* file: the output file; dir: the folder; -1 otherwise */
    char *url;  /* http */
    unsigned batch_size;
    long timeout_ms;
    long connect_timeout_ms;
    unsigned max_attempts;
    pthread_mutex_t lock; /* serialises lines (stdout, file) and the batch (http) */
    json_t *batch;        /* http with batch_size > 1: [{item, doc, id, suffix}] to send */
    unsigned long tmp_counter;
    bool dirty; /* written since the last fsync (file, dir) */
};

/* Where documents go. process() may call write() on several workers at once. */
struct pub_target {
    const char *name; /* the value of the "to" key */
    /*
     * open() - optional: read the target's own keys of @config and open what it writes
     * to. Returns WP_OK, or a status after describing the problem with wp_fail().
     */
    enum wp_status (*open)(struct publish *p, struct wp_ctx *ctx, const json_t *config);
    /* write() - deliver @docs, the documents of @item (both borrowed). */
    enum wp_outcome (*write)(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                             const json_t *docs);
    /* flush() - optional: end of input. */
    enum wp_outcome (*flush)(struct publish *p, struct wp_ctx *ctx);
};

extern const struct pub_target pub_target_stdout;
extern const struct pub_target pub_target_file;
extern const struct pub_target pub_target_dir;
extern const struct pub_target pub_target_http;

/* ---- publish.c ------------------------------------------------------------------------ */

/*
 * pub_config_path() - set p->path from the "path" key, required for this target, made
 * absolute against the pipeline's folder (the host does so for WP_CONFIG_PATH; a bare
 * create() in tests may not). Returns WP_OK, WP_E_CONFIG or WP_E_NOMEM (reported).
 */
enum wp_status pub_config_path(struct publish *p, struct wp_ctx *ctx, const json_t *config);

/* ---- publish_io.c --------------------------------------------------------------------- */

/* Write all @len bytes to @fd. Returns 0 or an errno value. */
int pub_write_all(int fd, const char *data, size_t len);
/*
 * One compact JSON line per document to @fd, each in a single write() so concurrent
 * writers never interleave; @where names @fd in messages; @sync: fsync after each line.
 */
enum wp_outcome pub_write_lines(struct publish *p, struct wp_ctx *ctx, int fd, const json_t *docs,
                                const char *where, bool sync);
/* mkdir -p @path (mode 0755). Returns 0 or an errno value. */
int pub_mkdirs(const struct wp_host_api *host, const char *path);
/* flush() of the local targets: fsync p->fd when written since the last one. */
enum wp_outcome pub_flush_fd(struct publish *p, struct wp_ctx *ctx);
/* Free a string from json_dumps(): it belongs to jansson's allocator. */
void pub_json_free(void *ptr);

/* ---- publish_name.c ------------------------------------------------------------------- */

/*
 * pub_file_stem() - the file name stem of @id, one to one, so two items never share a
 * file. Sets *@suspicious when the id held path syntax worth a warning. False when the id
 * is empty or out of memory.
 */
bool pub_file_stem(const struct wp_host_api *host, const char *id, char out[PUB_NAME_MAX + 1],
                   bool *suspicious);
/*
 * pub_idempotency_key() - the Idempotency-Key of one document: the item id (plus "/LANG"
 * for the translation with @suffix ".LANG"), or "sha256-HEX" of it when the id holds
 * characters a header must not carry.
 */
void pub_idempotency_key(const struct wp_host_api *host, const char *id, const char *suffix,
                         char out[100]);

/* ---- publish_ninjs.c ------------------------------------------------------------------ */

/*
 * pub_ninjs() - the ninjs 2.1 objects of @item as a document list: the original, then one
 * per translation. Returns a new array, or NULL with the reason in @err.
 */
json_t *pub_ninjs(const json_t *item, char *err, size_t errlen);

#endif /* PUBLISH_PRIVATE_H */
