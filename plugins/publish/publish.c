/*
 * publish.c - the publish stage (a sink): items out to stdout, a file, a folder or a
 * webhook, as wirepipe items or IPTC ninjs 2.1.
 *
 *  - stdout: JSON Lines on file descriptor 1. The host prints nothing after a sink, so
 *    this is the run's output, written here with one write() per line under a lock.
 *  - file:   JSON Lines appended to @path (O_APPEND, one write() per line), fsync policy.
 *  - dir:    one file per item (and per translation in ninjs) named from the item id, made
 *            of [A-Za-z0-9._-] only, written to a temporary file in the same folder with
 *            O_CREAT|O_EXCL|O_NOFOLLOW (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where
 *            the kernel has it), fsync'd and renamed over the final name. Nothing can be
 *            written outside the folder; a symlink planted under a final name is refused.
 *  - http:   POST each document (or a batch as a JSON array) through the host's HTTP
 *            client, with its retry policy, and an Idempotency-Key so a replay is harmless.
 *
 * The ninjs mapping is in publish_ninjs.c (included, so everything stays static).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <wirepipe/plugin.h>

#include <jansson.h>

#include "publish_ninjs.c"

#define PUB_NAME_MAX 200

/* Strings from json_dumps() belong to jansson's allocator, whichever the host set. */
static void pub_json_free(void *ptr)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (jfree)
        jfree(ptr);
}
/* bytes of a file name built from an id, before ".json" */

enum pub_to { TO_STDOUT, TO_FILE, TO_DIR, TO_HTTP };
enum pub_format { FMT_WIREPIPE, FMT_NINJS };
enum pub_fsync { FSYNC_NEVER, FSYNC_ALWAYS, FSYNC_BATCH };

struct publish {
    const struct wp_host_api *host;
    enum pub_to to;
    enum pub_format format;
    enum pub_fsync fsync;
    char *path;
    int fd; /* file: the output file; dir: the folder; -1 otherwise */
    char *url;
    unsigned batch_size;
    long timeout_ms;
    long connect_timeout_ms;
    unsigned max_attempts;
    pthread_mutex_t lock; /* serialises lines (stdout, file) and the batch (http) */
    json_t *batch;        /* http with batch_size > 1: [{item, doc}] waiting to be sent */
    unsigned long tmp_counter;
    bool dirty; /* written since the last fsync (file, dir with fsync=batch) */
};

static const struct wp_config_key publish_config[] = {
    {.name = "to",
     .type = WP_CONFIG_STRING,
     .default_json = "\"stdout\"",
     .doc = "where items go",
     .choices = "stdout|file|dir|http"},
    {.name = "path", .type = WP_CONFIG_PATH, .doc = "the output file (to=file) or folder (to=dir)"},
    {.name = "format",
     .type = WP_CONFIG_STRING,
     .default_json = "\"wirepipe\"",
     .doc = "wirepipe (the item as is) or ninjs (IPTC ninjs 2.1, one object per language)",
     .choices = "wirepipe|ninjs"},
    {.name = "fsync",
     .type = WP_CONFIG_STRING,
     .default_json = "\"batch\"",
     .doc = "file/dir: fsync after every item (always), at the end of input (batch) or never",
     .choices = "never|always|batch"},
    {.name = "url", .type = WP_CONFIG_STRING, .doc = "webhook URL (to=http)"},
    {.name = "batch_size",
     .type = WP_CONFIG_INT,
     .default_json = "1",
     .doc = "http: documents per POST (more than 1 sends an array)"},
    {.name = "timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "30000",
     .doc = "http: whole-request timeout"},
    {.name = "connect_timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "10000",
     .doc = "http: connect timeout"},
    {.name = "max_attempts",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "http: attempts per POST (429, 5xx, timeouts)"},
    {0},
};

/* ---------------------------------------------------------------------------------------
 * Names and hashes
 * ------------------------------------------------------------------------------------- */

static bool pub_sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(s, n, md, &len, EVP_sha256(), NULL) || len != 32)
        return false;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return true;
}

/* True for ids of the form fetch makes, "<scheme>:<lower-case hex>" ("sha256:5f0c..."). */
static bool pub_canonical_id(const char *id)
{
    const char *colon = strchr(id, ':');
    if (!colon || colon == id || !colon[1])
        return false;
    for (const char *c = id; c < colon; c++) {
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c)))
            return false;
    }
    for (const char *c = colon + 1; *c; c++) {
        if (!(isdigit((unsigned char)*c) || (*c >= 'a' && *c <= 'f')))
            return false;
    }
    return true;
}

static bool pub_safe_byte(unsigned char c)
{
    return c < 0x80 && (isalnum(c) || c == '.' || c == '-');
}

/*
 * The file name stem of @id, one to one, so that two items never share a file:
 *  - an id of [A-Za-z0-9.-] alone (not starting with '.') is its own stem;
 *  - a canonical "<scheme>:<hex>" id becomes "<scheme>_<hex>" (its only '_');
 *  - any other id has its unsafe bytes (and '_') written as '_', is cut to fit, and ends
 *    in '~' and 16 hex digits of the SHA-256 of the whole id; '~' appears in no other stem.
 * Sets *@suspicious when the id held path syntax ('/', "..", a leading '.') worth a warning.
 */
static bool pub_file_stem(const char *id, char out[PUB_NAME_MAX + 1], bool *suspicious)
{
    size_t n = strlen(id);
    *suspicious = strchr(id, '/') != NULL || strstr(id, "..") != NULL || id[0] == '.';
    if (n == 0)
        return false;
    bool canonical = pub_canonical_id(id);
    bool hashed = n > PUB_NAME_MAX || id[0] == '.';
    for (size_t i = 0; i < n && !hashed; i++)
        hashed = !pub_safe_byte((unsigned char)id[i]) && !(canonical && id[i] == ':');
    size_t keep = hashed && n > PUB_NAME_MAX - 17 ? PUB_NAME_MAX - 17 : n;
    for (size_t i = 0; i < keep; i++)
        out[i] = pub_safe_byte((unsigned char)id[i]) ? id[i] : '_';
    if (out[0] == '.')
        out[0] = '_';
    out[keep] = '\0';
    if (hashed) {
        char hex[65];
        if (!pub_sha256_hex(id, n, hex))
            return false;
        snprintf(out + keep, PUB_NAME_MAX + 1 - keep, "~%.16s", hex);
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------- */

static int pub_write_all(int fd, const char *data, size_t len)
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

/* One line per document, each in a single write() so concurrent writers never interleave. */
static enum wp_outcome pub_write_lines(struct publish *p, struct wp_ctx *ctx, int fd,
                                       const json_t *docs)
{
    size_t i;
    const json_t *d;
    enum wp_outcome outcome = WP_OUTCOME_OK;
    pthread_mutex_lock(&p->lock);
    json_array_foreach(docs, i, d)
    {
        char *line = json_dumps(json_object_get(d, "doc"), JSON_COMPACT);
        if (!line) {
            wp_fail(ctx, WP_E_NOMEM, "cannot serialise the item");
            outcome = WP_OUTCOME_REJECT;
            break;
        }
        size_t len = strlen(line);
        line[len] = '\n'; /* replaces the NUL: the length is what counts from here */
        int err = pub_write_all(fd, line, len + 1);
        pub_json_free(line);
        if (err) {
            wp_fail(ctx, WP_E_IO, "cannot write to '%s': %s", p->to == TO_FILE ? p->path : "stdout",
                    strerror(err));
            outcome = WP_OUTCOME_FATAL;
            break;
        }
        p->dirty = true;
        if (p->to == TO_FILE && p->fsync == FSYNC_ALWAYS && fsync(fd) != 0) {
            wp_fail(ctx, WP_E_IO, "cannot fsync '%s': %s", p->path, strerror(errno));
            outcome = WP_OUTCOME_FATAL;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return outcome;
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

static enum wp_outcome pub_write_dir(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                     const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    char stem[PUB_NAME_MAX + 1];
    bool suspicious = false;
    if (!id || !pub_file_stem(id, stem, &suspicious)) {
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

/* ---------------------------------------------------------------------------------------
 * Webhook
 * ------------------------------------------------------------------------------------- */

/*
 * POST @body with Idempotency-Key @key. Returns WP_OK when the webhook answered 2xx, else
 * the failure with its reason in @why.
 */
static enum wp_status pub_post(struct publish *p, struct wp_ctx *ctx, const char *body,
                               const char *key, char *why, size_t why_len)
{
    char key_header[128];
    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key);
    const char *headers[] = {"Content-Type: application/json", key_header, NULL};
    struct wp_http_request req = {
        .method = "POST",
        .url = p->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->timeout_ms,
        .max_attempts = p->max_attempts,
        .max_body = 1 << 20,
    };
    struct wp_http_response resp;
    memset(&resp, 0, sizeof(resp));
    enum wp_status st = p->host->http_perform(ctx, &req, &resp);
    if (st == WP_OK && (resp.status < 200 || resp.status > 299)) {
        st = resp.status == 429 ? WP_E_QUOTA : WP_E_HTTP;
        snprintf(why, why_len, "webhook answered http %ld after %u attempt(s)", resp.status,
                 resp.attempts);
    } else if (st != WP_OK) {
        /* A long curl message may be cut; the status name alone is never lost. */
        if (snprintf(why, why_len, "webhook: %s",
                     resp.error[0] ? resp.error : p->host->status_name(st)) < 0)
            why[0] = '\0';
    }
    p->host->http_response_release(&resp);
    return st;
}

/*
 * The Idempotency-Key of one document: the item id (plus "/LANG" for a translation), or
 * "sha256-HEX" of it when the id holds characters a header must not carry.
 */
static void pub_idempotency_key(const char *id, const char *suffix, char out[100])
{
    const char *lang = suffix[0] ? suffix + 1 : "";
    bool plain = strlen(id) + strlen(lang) < 90;
    for (const char *s = id; plain && *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f)
            plain = false;
    }
    char hex[65];
    if (plain)
        snprintf(out, 100, "%.89s%s%s", id, lang[0] ? "/" : "", lang);
    else if (pub_sha256_hex(id, strlen(id), hex))
        snprintf(out, 100, "sha256-%s%s%.20s", hex, lang[0] ? "/" : "", lang);
    else
        snprintf(out, 100, "invalid");
}

static enum wp_outcome pub_send_each(struct publish *p, struct wp_ctx *ctx, const json_t *item,
                                     const json_t *docs)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!id) {
        wp_fail(ctx, WP_E_INVALID, "item has no 'id' for the Idempotency-Key");
        return WP_OUTCOME_REJECT;
    }
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        char *body = json_dumps(json_object_get(d, "doc"), JSON_COMPACT);
        if (!body) {
            wp_fail(ctx, WP_E_NOMEM, "cannot serialise the item");
            return WP_OUTCOME_REJECT;
        }
        char key[100], why[WP_ERROR_TEXT_MAX];
        pub_idempotency_key(id, json_string_value(json_object_get(d, "suffix")), key);
        enum wp_status st = pub_post(p, ctx, body, key, why, sizeof(why));
        pub_json_free(body);
        if (st != WP_OK) {
            /* The shared client has already retried what was worth retrying. */
            wp_fail(ctx, st, "%s", why);
            return WP_OUTCOME_REJECT;
        }
        p->host->metric_add(ctx, "posted", 1);
    }
    return WP_OUTCOME_OK;
}

/*
 * Send the batch @batch ([{item, doc}]) as one JSON array. Its Idempotency-Key is
 * "batch-" + SHA-256 of the documents' keys, one per line, so the same batch replayed gets
 * the same key. On failure every item of the batch is dead-lettered.
 */
static void pub_send_batch(struct publish *p, struct wp_ctx *ctx, json_t *batch)
{
    if (json_array_size(batch) == 0)
        return;
    json_t *docs = json_array();
    char *keys = NULL;
    size_t keys_len = 0;
    size_t i;
    json_t *e;
    json_array_foreach(batch, i, e)
    {
        json_array_append(docs, json_object_get(e, "doc"));
        char key[100];
        pub_idempotency_key(json_string_value(json_object_get(e, "id")),
                            json_string_value(json_object_get(e, "suffix")), key);
        size_t klen = strlen(key);
        char *grown = p->host->realloc(keys, keys_len + klen + 2);
        if (!grown)
            continue;
        keys = grown;
        memcpy(keys + keys_len, key, klen);
        keys[keys_len + klen] = '\n';
        keys_len += klen + 1;
    }
    char hex[65] = "", key[80];
    if (keys)
        pub_sha256_hex(keys, keys_len, hex);
    snprintf(key, sizeof(key), "batch-%s", hex);
    if (keys)
        p->host->free(keys);
    char *body = json_dumps(docs, JSON_COMPACT);
    json_decref(docs);
    char why[WP_ERROR_TEXT_MAX] = "cannot serialise the batch";
    enum wp_status st = body ? pub_post(p, ctx, body, key, why, sizeof(why)) : WP_E_NOMEM;
    pub_json_free(body);
    if (st == WP_OK) {
        p->host->metric_add(ctx, "posted", (long long)json_array_size(batch));
        return;
    }
    wp_log_error(ctx, "%s: %zu document(s) dead-lettered", why, json_array_size(batch));
    /* One item may appear once per language: dead-letter each item once. */
    const json_t *last = NULL;
    json_array_foreach(batch, i, e)
    {
        const json_t *item = json_object_get(e, "item");
        if (item == last)
            continue;
        last = item;
        p->host->dead_letter(ctx, item, st, "%s", why);
    }
}

static enum wp_outcome pub_http(struct publish *p, struct wp_ctx *ctx, json_t *item,
                                const json_t *docs)
{
    if (p->batch_size <= 1)
        return pub_send_each(p, ctx, item, docs);
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    if (!id) {
        wp_fail(ctx, WP_E_INVALID, "item has no 'id' for the Idempotency-Key");
        return WP_OUTCOME_REJECT;
    }
    json_t *full = NULL;
    json_t *copy = json_deep_copy(item); /* the host keeps @item only for this call */
    pthread_mutex_lock(&p->lock);
    size_t i;
    const json_t *d;
    json_array_foreach(docs, i, d)
    {
        json_array_append_new(p->batch, json_pack("{s:O,s:O,s:s,s:O}", "item", copy, "doc",
                                                  json_object_get(d, "doc"), "id", id, "suffix",
                                                  json_object_get(d, "suffix")));
    }
    if (json_array_size(p->batch) >= p->batch_size) {
        full = p->batch;
        p->batch = json_array();
    }
    pthread_mutex_unlock(&p->lock);
    json_decref(copy);
    if (full) {
        pub_send_batch(p, ctx, full);
        json_decref(full);
    }
    return WP_OUTCOME_OK;
}

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

static json_t *pub_render(struct publish *p, const json_t *item, char *err, size_t errlen)
{
    if (p->format == FMT_NINJS)
        return pub_ninjs(item, err, errlen);
    json_t *docs = json_pack("[{s:s,s:O}]", "suffix", "", "doc", item);
    if (!docs)
        snprintf(err, errlen, "out of memory");
    return docs;
}

static enum wp_outcome publish_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct publish *p = instance;
    char err[WP_ERROR_TEXT_MAX];
    json_t *docs = pub_render(p, item, err, sizeof(err));
    if (!docs) {
        wp_fail(ctx, WP_E_INVALID, "%s", err);
        return WP_OUTCOME_REJECT;
    }
    enum wp_outcome o = WP_OUTCOME_OK;
    switch (p->to) {
        case TO_STDOUT:
            o = pub_write_lines(p, ctx, STDOUT_FILENO, docs);
            break;
        case TO_FILE:
            o = pub_write_lines(p, ctx, p->fd, docs);
            break;
        case TO_DIR:
            o = pub_write_dir(p, ctx, item, docs);
            break;
        case TO_HTTP:
            o = pub_http(p, ctx, item, docs);
            break;
    }
    if (o == WP_OUTCOME_OK)
        p->host->metric_add(ctx, "published", 1);
    json_decref(docs);
    return o;
}

static enum wp_outcome publish_flush(void *instance, struct wp_ctx *ctx)
{
    struct publish *p = instance;
    if (p->to == TO_HTTP) {
        pthread_mutex_lock(&p->lock);
        json_t *rest = p->batch;
        p->batch = json_array();
        pthread_mutex_unlock(&p->lock);
        pub_send_batch(p, ctx, rest);
        json_decref(rest);
    }
    if ((p->to == TO_FILE || p->to == TO_DIR) && p->fsync != FSYNC_NEVER && p->dirty) {
        if (fsync(p->fd) != 0) {
            wp_fail(ctx, WP_E_IO, "cannot fsync '%s': %s", p->path, strerror(errno));
            return WP_OUTCOME_FATAL;
        }
        p->dirty = false;
    }
    return WP_OUTCOME_OK;
}

static void publish_destroy(void *instance)
{
    struct publish *p = instance;
    if (!p)
        return;
    if (p->fd >= 0) {
        if (p->dirty && p->fsync != FSYNC_NEVER)
            fsync(p->fd);
        close(p->fd);
    }
    json_decref(p->batch);
    pthread_mutex_destroy(&p->lock);
    if (p->path)
        p->host->free(p->path);
    if (p->url)
        p->host->free(p->url);
    p->host->free(p);
}

/* mkdir -p @path (mode 0755). Returns 0 or an errno value. */
static int pub_mkdirs(const struct wp_host_api *host, const char *path)
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

static enum wp_status publish_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    const struct wp_host_api *host = ctx->host;
    struct publish *p = host->calloc(1, sizeof(*p));
    if (!p) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    p->host = host;
    p->fd = -1;
    p->batch_size = 1;
    p->timeout_ms = 30000;
    p->connect_timeout_ms = 10000;
    p->max_attempts = 4;
    p->fsync = FSYNC_BATCH;
    pthread_mutex_init(&p->lock, NULL);
    p->batch = json_array();
    enum wp_status status = WP_E_CONFIG;

    const char *to = json_string_value(json_object_get(config, "to"));
    if (!to || strcmp(to, "stdout") == 0)
        p->to = TO_STDOUT;
    else if (strcmp(to, "file") == 0)
        p->to = TO_FILE;
    else if (strcmp(to, "dir") == 0)
        p->to = TO_DIR;
    else if (strcmp(to, "http") == 0)
        p->to = TO_HTTP;
    else {
        wp_fail(ctx, WP_E_CONFIG, "to: expected stdout, file, dir or http, not '%s'", to);
        goto fail;
    }
    const char *format = json_string_value(json_object_get(config, "format"));
    if (!format || strcmp(format, "wirepipe") == 0)
        p->format = FMT_WIREPIPE;
    else if (strcmp(format, "ninjs") == 0)
        p->format = FMT_NINJS;
    else {
        wp_fail(ctx, WP_E_CONFIG, "format: expected wirepipe or ninjs, not '%s'", format);
        goto fail;
    }
    const char *fs = json_string_value(json_object_get(config, "fsync"));
    if (fs && strcmp(fs, "never") == 0)
        p->fsync = FSYNC_NEVER;
    else if (fs && strcmp(fs, "always") == 0)
        p->fsync = FSYNC_ALWAYS;
    else if (fs && strcmp(fs, "batch") != 0) {
        wp_fail(ctx, WP_E_CONFIG, "fsync: expected never, always or batch, not '%s'", fs);
        goto fail;
    }
    static const struct {
        const char *key;
        long long min, max;
    } ints[] = {{"batch_size", 1, 10000},
                {"timeout_ms", 1, 3600000},
                {"connect_timeout_ms", 1, 600000},
                {"max_attempts", 1, 20}};
    long long values[4] = {1, 30000, 10000, 4};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(config, ints[i].key);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < ints[i].min ||
            json_integer_value(v) > ints[i].max) {
            wp_fail(ctx, WP_E_CONFIG, "%s: expected an integer from %lld to %lld", ints[i].key,
                    ints[i].min, ints[i].max);
            goto fail;
        }
        values[i] = json_integer_value(v);
    }
    p->batch_size = (unsigned)values[0];
    p->timeout_ms = (long)values[1];
    p->connect_timeout_ms = (long)values[2];
    p->max_attempts = (unsigned)values[3];

    const char *path = json_string_value(json_object_get(config, "path"));
    if (p->to == TO_FILE || p->to == TO_DIR) {
        if (!path || !*path) {
            wp_fail(ctx, WP_E_CONFIG, "path: required when to is '%s'", to);
            goto fail;
        }
        /* The host makes WP_CONFIG_PATH absolute; a bare create() (tests) may not. */
        const char *base = host->pipeline_dir(ctx);
        size_t need = strlen(path) + (base ? strlen(base) : 0) + 2;
        p->path = host->malloc(need);
        if (!p->path)
            goto nomem;
        if (path[0] != '/' && base && *base)
            snprintf(p->path, need, "%s/%s", base, path);
        else
            snprintf(p->path, need, "%s", path);
    }
    if (p->to == TO_DIR) {
        int err = pub_mkdirs(host, p->path);
        p->fd = err ? -1 : open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->fd < 0) {
            wp_fail(ctx, WP_E_IO, "path: cannot open folder '%s': %s", p->path,
                    strerror(err ? err : errno));
            status = WP_E_IO;
            goto fail;
        }
    } else if (p->to == TO_FILE) {
        char *slash = strrchr(p->path, '/');
        if (slash && slash != p->path) {
            *slash = '\0';
            int err = pub_mkdirs(host, p->path);
            *slash = '/';
            if (err) {
                wp_fail(ctx, WP_E_IO, "path: cannot create the folder of '%s': %s", p->path,
                        strerror(err));
                status = WP_E_IO;
                goto fail;
            }
        }
        p->fd =
            open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (p->fd < 0) {
            wp_fail(ctx, WP_E_IO, "path: cannot open '%s': %s", p->path, strerror(errno));
            status = WP_E_IO;
            goto fail;
        }
    } else if (p->to == TO_HTTP) {
        const char *url = json_string_value(json_object_get(config, "url"));
        if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
            wp_fail(ctx, WP_E_CONFIG, "url: an http or https URL is required when to is 'http'");
            goto fail;
        }
        p->url = host->strndup(url, strlen(url));
        if (!p->url)
            goto nomem;
    }
    *instance = p;
    return WP_OK;
nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory");
    status = WP_E_NOMEM;
fail:
    publish_destroy(p);
    return status;
}

static const struct wp_stage_ops publish_ops = {
    .name = "publish",
    .description = "Publish items to stdout, a file, a folder or a webhook, as items or ninjs",
    .flags = WP_STAGE_SINK | WP_STAGE_THREAD_SAFE,
    .config = publish_config,
    .create = publish_create,
    .process = publish_process,
    .flush = publish_flush,
    .destroy = publish_destroy,
};

static const struct wp_stage_ops *const publish_stages[] = {&publish_ops, NULL};

WP_PLUGIN_DEFINE(publish, "0.1.0", "Publish items as JSON Lines, files or ninjs, or to a webhook",
                 "MIT", publish_stages)
