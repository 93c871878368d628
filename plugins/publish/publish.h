/*
 * publish.h - private interfaces of the publish plugin.
 *
 * The stage (publish.c) renders each item as the documents to write, the item itself or
 * its ninjs objects (publish_ninjs.c), and hands them to its target. Every target is one
 * file with a const struct pub_target: stdout (publish_stdout.c), a JSON Lines file
 * (publish_file.c), a folder of one file per item (publish_dir.c) and a webhook
 * (publish_http.c). The webhook keeps what it has not delivered in a durable outbox in the
 * host's state store (publish_outbox.c), sends it in rounds (publish_deliver.c) with the
 * headers of publish_headers.c. File
 * names and idempotency keys are made from item ids in publish_name.c; the file-descriptor
 * helpers the local targets share are in publish_io.c.
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

/* Headers a webhook config may set (publish_headers.c). */
#define PUB_HEADERS_MAX 32

struct pub_target;

/* A secret a message must never show: a header value or the bearer token (borrowed). */
struct pub_secret {
    const char *text;
    size_t len;
};

/* The request headers of to=http, built once by create() (publish_headers.c). */
struct pub_headers {
    char *lines[PUB_HEADERS_MAX + 2]; /* "Name: value", owned; NULL after the last */
    size_t count;
    struct pub_secret secrets[PUB_HEADERS_MAX + 1]; /* the values inside @lines */
    size_t secret_count;
};

/*
 * The durable outbox of to=http (publish_outbox.c): entries [head, tail) of the state
 * store namespace @ns wait for delivery, oldest first. Guarded by publish.lock.
 */
struct pub_outbox {
    char *ns;                     /* "publish.outbox:<stage id>" */
    unsigned long long head;      /* oldest waiting entry */
    unsigned long long tail;      /* the next entry's number */
    unsigned long long bytes;     /* stored bytes of the waiting entries */
    unsigned long long max_docs;  /* max_outbox */
    unsigned long long max_bytes; /* max_outbox_bytes */
    pthread_cond_t changed;       /* the head moved or the deliverer stepped down */
    bool cond_ready;
};

/* Delivery state of to=http (publish_http.c). Guarded by publish.lock. */
struct pub_delivery {
    bool delivering;       /* one worker at a time sends from the head, in order */
    unsigned failures;     /* delivery rounds failed in a row */
    long long next_try_ms; /* monotonic: no round before this */
    bool down_logged;      /* the current outage has been reported */
    bool full_logged;      /* the current wait for room has been reported */
    long long drain_timeout_ms;
};

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
    pthread_mutex_t lock; /* serialises lines (stdout, file) and the outbox (http) */
    unsigned long tmp_counter;
    bool dirty; /* written since the last fsync (file, dir) */
    /* file: ids already written (publish_file.c) */
    char *written_ns;            /* "publish.file:<path>" */
    unsigned long long file_gen; /* the output file's generation: a new file starts anew */
    /* http */
    struct pub_headers headers;
    struct pub_outbox outbox;
    struct pub_delivery delivery;
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
    /* close() - optional: release what open() made (also after a failed open()). */
    void (*close)(struct publish *p);
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
 * pub_write_doc() - @doc as one compact JSON line to @fd, in a single write() so
 * concurrent writers never interleave; @where names @fd in messages; @sync: fsync after
 * it. Adds the bytes written to *@bytes (when not NULL). A reader that closed @fd is
 * FATAL with WP_E_CANCELLED: a quiet end of the run. The caller holds p->lock.
 */
enum wp_outcome pub_write_doc(struct publish *p, struct wp_ctx *ctx, int fd, const json_t *doc,
                              const char *where, bool sync, size_t *bytes);
/* pub_write_lines() - every document of @docs with pub_write_doc(), under p->lock. */
enum wp_outcome pub_write_lines(struct publish *p, struct wp_ctx *ctx, int fd, const json_t *docs,
                                const char *where, bool sync);
/* mkdir -p @path (mode 0755). Returns 0 or an errno value. */
int pub_mkdirs(const struct wp_host_api *host, const char *path);
/* flush() of the local targets: fsync p->fd when written since the last one. */
enum wp_outcome pub_flush_fd(struct publish *p, struct wp_ctx *ctx);
/* Free a string from json_dumps(): it belongs to jansson's allocator. */
void pub_json_free(void *ptr);

/* ---- publish_headers.c ---------------------------------------------------------------- */

/*
 * pub_headers_open() - build p->headers from the "headers" and "bearer_token_env" keys:
 * names must be HTTP tokens, values free of control characters; a missing or empty token
 * variable is an error naming the variable. Messages never show a value. Returns WP_OK,
 * or WP_E_CONFIG / WP_E_NOMEM after wp_fail().
 */
enum wp_status pub_headers_open(struct publish *p, struct wp_ctx *ctx, const json_t *config);
/* pub_headers_release() - wipe and free p->headers. */
void pub_headers_release(struct publish *p);
/* pub_scrub_secrets() - overwrite with '*' every secret of p->headers found in @text. */
void pub_scrub_secrets(const struct publish *p, char *text);

/* ---- publish_outbox.c ----------------------------------------------------------------- */

/*
 * pub_outbox_open() - name the outbox after the stage and read where it stands, so what
 * an earlier run left is sent first. Returns WP_OK, or a status after wp_fail().
 */
enum wp_status pub_outbox_open(struct publish *p, struct wp_ctx *ctx);
void pub_outbox_close(struct publish *p);
/* Documents waiting (p->lock held). */
unsigned long long pub_outbox_count(const struct publish *p);
/*
 * pub_outbox_fits() - may @count more entries of @bytes in all join now (p->lock held)?
 * An empty outbox takes anything, so one large item cannot wait forever.
 */
bool pub_outbox_fits(const struct publish *p, size_t count, size_t bytes);
/*
 * pub_outbox_append() - store @count entries (@texts, @lens bytes each) at the tail, then
 * the new tail: durable when this returns WP_OK (p->lock held). On failure nothing is
 * counted as waiting.
 */
enum wp_status pub_outbox_append(struct publish *p, struct wp_ctx *ctx, char *const *texts,
                                 const size_t *lens, size_t count);
/*
 * pub_outbox_get() - entry @seq as a new string (free with host->free). WP_E_NOTFOUND when
 * it is gone (removed just before a crash could save the head).
 */
enum wp_status pub_outbox_get(struct publish *p, struct wp_ctx *ctx, unsigned long long seq,
                              char **text, size_t *len);
/*
 * pub_outbox_pop() - the @count oldest entries, @bytes in all, are done with: delete them
 * and save the new head (p->lock held).
 */
void pub_outbox_pop(struct publish *p, struct wp_ctx *ctx, size_t count, size_t bytes);

/* ---- publish_deliver.c ---------------------------------------------------------------- */

enum pub_round {
    ROUND_IDLE,      /* nothing to send (or, without @partial, no full batch) */
    ROUND_DONE,      /* the head moved: delivered, refused or found gone */
    ROUND_TRANSIENT, /* kept; p->delivery.next_try_ms says when to try again */
    ROUND_CANCELLED, /* the run was cancelled during the POST */
};

/* Monotonic milliseconds, the clock of every wait and deadline of the outbox. */
long long pub_now_ms(void);
/*
 * pub_round() - one delivery round from the head of the outbox: the head document, or a
 * batch (with batch_size > 1 and not @partial, only a full one). The caller holds the
 * deliverer's turn (p->delivery.delivering) but not p->lock.
 */
enum pub_round pub_round(struct publish *p, struct wp_ctx *ctx, bool partial);

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
