/*
 * wirepipe/plugin.h - everything a stage plugin needs: the descriptor it exports, the
 * stage operations it implements, and the table of services the host lends it.
 *
 * Invariants
 *  - A plugin is one shared object exporting exactly one symbol, wp_plugin_<name>, written
 *    by WP_PLUGIN_DEFINE(). Folder name = plugin name = .so basename = symbol suffix.
 *  - Plugins never link against the host. Every host service is reached through the
 *    struct wp_host_api table that arrives with every call, as ctx->host.
 *  - Every struct that crosses the boundary and may grow has its size recorded where the
 *    other side can read it: the descriptor's struct_size, and in the descriptor the sizes
 *    of struct wp_stage_ops, wp_config_key, wp_http_request and wp_http_response as the
 *    plugin was compiled (WP_PLUGIN_DEFINE fills them), the host table's struct_size. The
 *    receiving side reads only what both know: fields a smaller struct lacks count as
 *    zero, fields a larger one has are ignored, and the host never writes past the size a
 *    plugin declared.
 *  - Structs only grow at their end. Each addition bumps WP_ABI_MINOR and gets a dated
 *    line in the history below; plugins test late host entries with WP_HOST_HAS().
 *  - A plugin declares the lowest host ABI minor it needs (WP_PLUGIN_MIN_HOST_MINOR,
 *    default 0). The loader refuses a different WP_ABI_MAJOR, or a host minor below that
 *    minimum; a plugin built against a newer minor runs on an older host otherwise.
 *  - Reserved slots must be zero; the loader refuses a plugin that sets one.
 *  See "ABI rules" in docs/writing-plugins.md for what may change in a minor.
 *
 * ABI history
 *  1.0 (2026-11-28) first release: descriptor, stage ops, logging, emit, dead letters,
 *                   metrics, item errors, shared HTTP client with retry/backoff, state store.
 *  2.0 (2026-12-04) sizes of every growable struct and the lowest host minor needed, in
 *                   the descriptor; config key bounds (min/max, min_items);
 *                   WP_STAGE_NO_SNAPSHOT; host entries sha256_hex and discard_held.
 *  2.1 (2026-12-04) acknowledged delivery: the stage op ack() and enum wp_ack_outcome;
 *                   host entry http_perform_each (replies handed over as they arrive);
 *                   FATAL with WP_E_CANCELLED ends the run quietly (see status.h).
 *  2.2 (2026-12-04) service mode: host entry poll_every (a source asks to be polled).
 *
 * Ownership words follow jansson: "borrowed" (valid for the call, caller keeps it),
 * "steals" (the callee owns it afterwards, even when the call fails), "new" (the caller
 * must release it).
 */
#ifndef WIREPIPE_PLUGIN_H
#define WIREPIPE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wirepipe/item.h>
#include <wirepipe/log.h>
#include <wirepipe/status.h>
#include <wirepipe/version.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WP_EXPORT __attribute__((visibility("default")))

#if defined(__GNUC__)
#define WP_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define WP_PRINTF(fmt_index, first_arg)
#endif

struct wp_host_api;

/*
 * The per-call context. The host passes one to every stage callback; it names the stage
 * instance and worker thread the call runs on. Only @host is public: the rest belongs to
 * the host. A ctx is valid only for the duration of the call it was passed to; do not keep
 * it (each worker has its own).
 */
struct wp_ctx {
    const struct wp_host_api *host;
};

/* ---------------------------------------------------------------------------------------
 * Configuration schema
 * ------------------------------------------------------------------------------------- */

enum wp_config_type {
    WP_CONFIG_STRING = 1, /* JSON string */
    WP_CONFIG_INT,        /* JSON integer */
    WP_CONFIG_NUMBER,     /* JSON integer or real */
    WP_CONFIG_BOOL,       /* JSON true/false */
    WP_CONFIG_STRINGS,    /* JSON array of strings */
    WP_CONFIG_OBJECT,     /* JSON object, checked by the plugin */
    WP_CONFIG_ANY,        /* any JSON value, checked by the plugin */
    WP_CONFIG_PATH,       /* string; a relative path is made absolute against the pipeline's
                             folder before create() sees it */
    WP_CONFIG_PATHS,      /* array of strings, each resolved like WP_CONFIG_PATH */
};

enum wp_config_flags {
    WP_CONFIG_REQUIRED = (1 << 0), /* the pipeline must set the key */
    WP_CONFIG_SECRET = (1 << 1),   /* never printed, not even by --check -v */
};

/*
 * One configuration key a stage accepts. The host validates the stage's "config" object
 * against the list before create(): unknown keys are rejected with a "did you mean",
 * wrong types are reported by JSON path, @choices and bounds are enforced, and defaults
 * are filled in, so create() sees every key that has a default. Write tables with
 * designated initializers:
 *
 *   {.name = "workers", .type = WP_CONFIG_INT, .default_json = "4",
 *    .doc = "parallel requests", WP_CONFIG_RANGE(1, 64)},
 */
struct wp_config_key {
    const char *name;
    enum wp_config_type type;
    const char *default_json; /* JSON text of the default ("5", "\"stdout\"", "[]"), or NULL */
    const char *doc;          /* one line, shown by --describe */
    unsigned flags;           /* enum wp_config_flags */
    const char *choices;      /* for WP_CONFIG_STRING: allowed values as "a|b|c", or NULL */
    /* For WP_CONFIG_INT and WP_CONFIG_NUMBER: when @bounded, min <= value <= max. */
    bool bounded;
    double min;
    double max;
    /* For WP_CONFIG_STRINGS, WP_CONFIG_PATHS: at least this many entries (0: any). */
    size_t min_items;
};

/* Bounds for an integer or number key, inside a designated initializer. */
#define WP_CONFIG_RANGE(lo, hi) .bounded = true, .min = (lo), .max = (hi)

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

enum wp_stage_flags {
    /* process() may run concurrently on one instance, so "workers" above 1 is allowed. */
    WP_STAGE_THREAD_SAFE = (1 << 0),
    /* Items leaving this stage are delivered by it: the host does not print them. */
    WP_STAGE_SINK = (1 << 1),
    /*
     * Only emitted items go on: returning WP_OUTCOME_OK without emitting passes nothing.
     * For batching and aggregating stages that hold items back until flush().
     */
    WP_STAGE_EMIT_ONLY = (1 << 2),
    /*
     * process() never changes an item before answering RETRY, REJECT or FATAL, so the host
     * need not keep a copy of the item as it arrived (see process()). A speed promise for
     * stages that check before they edit; wrong use puts half-edited items in dead letters.
     */
    WP_STAGE_NO_SNAPSHOT = (1 << 3),
};

/*
 * create() - make a stage instance from its validated @config.
 *
 * Returns: WP_OK with *@instance set, or an error status after describing the problem
 *          with ctx->host->fail(); the host prints it and exits with status 78.
 * Ownership: @config is borrowed and valid only during the call; copy what you keep.
 */
typedef enum wp_status wp_stage_create_fn(struct wp_ctx *ctx, const json_t *config,
                                          void **instance);

/*
 * process() - handle one item.
 *
 * The stage may change @item in place. What reaches the next stage:
 *  - if the stage emitted nothing during the call and returns WP_OUTCOME_OK, @item itself
 *    (unless the stage has WP_STAGE_EMIT_ONLY: then nothing);
 *  - if it emitted items with ctx->host->emit(), exactly those, in emit order (to pass
 *    @item on as well, emit json_incref(item));
 *  - on DROP, REJECT, RETRY and FATAL, nothing (emitted items are discarded).
 * After RETRY, REJECT and FATAL, the retry and the dead-letter record carry the item as
 * it arrived at this stage, not as the stage left it: the host keeps a copy from before
 * the call (unless the stage declares WP_STAGE_NO_SNAPSHOT), so a stage may edit @item
 * in place and still fail.
 * An outcome outside enum wp_outcome is host misuse: it is logged naming the plugin and
 * the item is dead-lettered with WP_E_INVALID.
 * Ownership: @item is borrowed; the host keeps its own reference, so retry and reject need
 *            no hand-back.
 */
typedef enum wp_outcome wp_stage_process_fn(void *instance, struct wp_ctx *ctx, json_t *item);

/*
 * generate() - optional: produce the pipeline's input. The host calls it once, on its own
 * thread, when the stage is first and no --input was given (again at every interval when
 * the stage asked for it with poll_every(), one call at a time). Items are passed on with
 * ctx->host->emit(); emit blocks while downstream is full. Return when done, or early when
 * ctx->host->cancelled() says so. Items that cannot be produced go to
 * ctx->host->dead_letter().
 */
typedef enum wp_outcome wp_stage_generate_fn(void *instance, struct wp_ctx *ctx);

/*
 * flush() - optional: end of input. Batching stages emit what they hold back.
 */
typedef enum wp_outcome wp_stage_flush_fn(void *instance, struct wp_ctx *ctx);

/*
 * destroy() - optional: release the instance. Called once, after the last process/flush
 * and the last ack.
 */
typedef void wp_stage_destroy_fn(void *instance);

/* How an item a source emitted came to be done (see ack()). */
enum wp_ack_outcome {
    WP_ACK_DELIVERED = 1, /* every sink took it, or it left the last stage */
    WP_ACK_DROPPED,       /* a stage dropped it on purpose (a filter, a duplicate) */
    WP_ACK_DEAD_LETTERED, /* it is in the dead-letter file */
};

/*
 * ack() - optional (2.1), for a source: an item this stage emitted from generate() is
 * done. The host tracks every item from its source to the end, through fan-out (each item
 * a stage emits for it) and batching (an item an emit-only stage held is done when what it
 * emitted next is); @outcome is the worst of all of them. An item that is not done when
 * the run ends (killed, cancelled after the grace period, still held by a batching stage,
 * lost to a broken output) is never acknowledged: record an item as consumed here, never
 * at emit, and a rerun delivers what was not.
 *
 * @item_id is the item's "id" as emitted ("" when it had none). Calls come one at a time,
 * in no particular order, on a host thread of their own, while generate() may still run:
 * share state with generate() under a lock, but never hold that lock while calling
 * emit(), which may wait for the items in flight. Legal host calls: as for flush().
 * Every ack() has returned before destroy().
 */
typedef void wp_stage_ack_fn(void *instance, struct wp_ctx *ctx, const char *item_id,
                             enum wp_ack_outcome outcome);

struct wp_stage_ops {
    const char *name;                   /* stage name; the first stage's equals the plugin's */
    const char *description;            /* one line */
    unsigned flags;                     /* enum wp_stage_flags */
    const struct wp_config_key *config; /* array ended by an entry whose name is NULL */
    wp_stage_create_fn *create;         /* required */
    wp_stage_process_fn *process;       /* required */
    wp_stage_generate_fn *generate;     /* optional: this stage can be a source */
    wp_stage_flush_fn *flush;           /* optional */
    wp_stage_destroy_fn *destroy;       /* optional */
    void *reserved[4];                  /* must be NULL */
    wp_stage_ack_fn *ack;               /* 2.1, optional: a source's items are done */
    /* New members go here, at the end, each with the ABI minor that added it. */
};

/* ---------------------------------------------------------------------------------------
 * Plugin descriptor
 * ------------------------------------------------------------------------------------- */

struct wp_plugin_desc {
    uint16_t abi_major;      /* of the headers the plugin was built with */
    uint16_t abi_minor;      /* of the headers the plugin was built with */
    uint32_t struct_size;    /* sizeof(struct wp_plugin_desc) as built */
    uint16_t min_host_minor; /* the lowest host ABI minor the plugin needs */
    uint16_t reserved16;     /* must be zero */
    /* sizeof() of each growable struct as the plugin was built: */
    uint32_t stage_ops_size;
    uint32_t config_key_size;
    uint32_t http_request_size;
    uint32_t http_response_size;
    const char *name;
    const char *version;
    const char *description;
    const char *license;
    const struct wp_stage_ops *const *stages; /* NULL-terminated; stages[0] is the default */
    void *reserved[4];                        /* must be NULL */
    /* New members go here, at the end, each with the ABI minor that added it. */
};

/*
 * The lowest host ABI minor this plugin needs. Define it before including this header
 * when the plugin calls a host entry without testing it with WP_HOST_HAS(); the loader
 * then refuses a host that is too old, instead of the call crashing.
 */
#ifndef WP_PLUGIN_MIN_HOST_MINOR
#define WP_PLUGIN_MIN_HOST_MINOR 0
#endif

/*
 * WP_PLUGIN_DEFINE() - declare the plugin's one exported symbol.
 *
 *   static const struct wp_stage_ops *const upper_stages[] = {&upper_ops, NULL};
 *   WP_PLUGIN_DEFINE(upper, "0.1.0", "Upper-case the headline", "MIT", upper_stages);
 *
 * expands to `const struct wp_plugin_desc *wp_plugin_upper(void)`, with the ABI version
 * and the struct sizes filled in from this header.
 */
#define WP_PLUGIN_DEFINE(pname, pversion, pdescription, plicense, pstages)                         \
    WP_EXPORT const struct wp_plugin_desc *wp_plugin_##pname(void);                                \
    WP_EXPORT const struct wp_plugin_desc *wp_plugin_##pname(void)                                 \
    {                                                                                              \
        static const struct wp_plugin_desc desc = {                                                \
            .abi_major = WP_ABI_MAJOR,                                                             \
            .abi_minor = WP_ABI_MINOR,                                                             \
            .struct_size = sizeof(struct wp_plugin_desc),                                          \
            .min_host_minor = WP_PLUGIN_MIN_HOST_MINOR,                                            \
            .stage_ops_size = sizeof(struct wp_stage_ops),                                         \
            .config_key_size = sizeof(struct wp_config_key),                                       \
            .http_request_size = sizeof(struct wp_http_request),                                   \
            .http_response_size = sizeof(struct wp_http_response),                                 \
            .name = #pname,                                                                        \
            .version = pversion,                                                                   \
            .description = pdescription,                                                           \
            .license = plicense,                                                                   \
            .stages = pstages,                                                                     \
        };                                                                                         \
        return &desc;                                                                              \
    }

/* ---------------------------------------------------------------------------------------
 * Shared HTTP client
 * ------------------------------------------------------------------------------------- */

enum wp_http_flags {
    /* Do not follow redirects (by default at most 5 are followed, http/https only). */
    WP_HTTP_NO_REDIRECT = (1 << 0),
    /* Count failures per host and fail fast while that host's circuit is open. */
    WP_HTTP_BREAKER = (1 << 1),
};

/*
 * One request. Zero means "the host's default" for every number, so a designated
 * initializer naming the URL is a complete GET. Only http and https are allowed.
 *
 * Retries: connect errors, timeouts, resets and the statuses 408, 429, 500, 502, 503,
 * 504 and 529 are retried up to @max_attempts with full-jitter exponential backoff;
 * a Retry-After header (seconds or HTTP-date) is honoured, capped at @retry_cap_ms.
 * Every other status is returned to the caller at once (404, 456 quota, ...).
 */
struct wp_http_request {
    const char *method;         /* NULL: "GET", or "POST" when @body is set */
    const char *url;            /* required */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL; never logged */
    const char *body;           /* request body, or NULL */
    size_t body_len;            /* bytes of @body */
    long connect_timeout_ms;    /* default 10,000 */
    long timeout_ms;            /* whole transfer, default 30,000 */
    size_t max_body;            /* reply body limit, enforced while reading; default 10 MiB */
    unsigned max_attempts;      /* default 4; 1 means no retry */
    unsigned retry_base_ms;     /* default 500 */
    unsigned retry_cap_ms;      /* longest single wait, default 30,000 */
    unsigned flags;             /* enum wp_http_flags */
    const char *user_agent;     /* default "wirepipe/<version>" */
    /* New members go here, at the end, each with the ABI minor that added it. */
};

/*
 * The reply. Strings are NUL-terminated and owned by the response: release them with
 * ctx->host->http_response_release(). @body is NUL-terminated too (the NUL is not
 * counted in @body_len) but may contain NUL bytes of its own.
 */
struct wp_http_response {
    enum wp_status code; /* WP_OK when an HTTP reply arrived, whatever its status */
    long status;         /* HTTP status of the final attempt, 0 when none arrived */
    char *body;
    size_t body_len;
    char *content_type;            /* Content-Type header, or NULL */
    char *etag;                    /* ETag header, or NULL */
    char *last_modified;           /* Last-Modified header, or NULL */
    char *effective_url;           /* URL after redirects */
    long retry_after_ms;           /* the final reply's Retry-After (clamped), or 0 */
    unsigned attempts;             /* requests made, including retries */
    double elapsed_ms;             /* wall time including retry waits */
    char error[WP_ERROR_TEXT_MAX]; /* when @code is not WP_OK, or the status is not 2xx/304 */
    /* New members go here, at the end, each with the ABI minor that added it. */
};

/* ---------------------------------------------------------------------------------------
 * The host API table
 *
 * Where each call is legal ("any" = create, process, generate and flush, on the thread
 * the host called the stage on; entries without a ctx may be called from any thread):
 *
 *   malloc .. strndup, status_name, backoff_ms, sha256_hex   anywhere, any thread
 *   log, log_enabled, metric_add, cancelled, stage_id,
 *   pipeline_dir, state_dir, store_*, http_*, item_add_error any callback; a worker
 *                                                            thread of the plugin's own
 *                                                            may use them with the ctx
 *                                                            of the call that started it,
 *                                                            until that call returns
 *   fail                                                     any callback
 *   emit                                                     process, generate, flush;
 *                                                            only on the host's thread
 *   retry_in, attempt                                        process
 *   dead_letter                                              process, generate, flush
 *   discard_held                                             process, flush (emit-only)
 *   http_perform_each                                        as http_*; its callback may
 *                                                            emit (it runs on the caller's
 *                                                            thread)
 *   poll_every                                               create (a source)
 * ack() may use what flush() may, except emit, retry_in, attempt and discard_held.
 *
 * Misuse never crashes the host: emit() inside create() or from another thread returns
 * WP_E_INVALID, discards the item and logs a line naming the plugin.
 * ------------------------------------------------------------------------------------- */

struct wp_host_api {
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;

    /* -- 1.0: memory. Every block handed between host and plugin uses these. -- */
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    char *(*strndup)(const char *s, size_t len); /* new; NULL on failure */

    /* -- 1.0: logging. Lines are prefixed "pipeline/stage[worker]: " by the host. -- */
    void (*log)(struct wp_ctx *ctx, enum wp_log_level level, const char *fmt, ...) WP_PRINTF(3, 4);
    bool (*log_enabled)(struct wp_ctx *ctx, enum wp_log_level level);

    /*
     * emit() - pass @item to the next stage (or to stdout after the last stage).
     * During process(), emitted items are collected and go on, in order, when the call
     * returns; during generate() and flush() each goes on at once, and emit blocks while
     * the next queue is full. Returns WP_OK, WP_E_INVALID when @item is not an object, or
     * WP_E_NOMEM. Ownership: steals @item, even on failure. Another thread may use @item
     * at once: drop any other reference you hold to it before emitting, and do not touch
     * it afterwards.
     */
    enum wp_status (*emit)(struct wp_ctx *ctx, json_t *item);

    /*
     * fail() - say why the current call is failing: the reason printed for a create()
     * error, or recorded in the dead-letter file for REJECT, FATAL and an exhausted RETRY.
     */
    void (*fail)(struct wp_ctx *ctx, enum wp_status code, const char *fmt, ...) WP_PRINTF(3, 4);

    /* retry_in() - the delay before a RETRY outcome is offered again (default: backoff). */
    void (*retry_in)(struct wp_ctx *ctx, unsigned delay_ms);

    /* attempt() - 1 on the first offer of an item, 2 on its first retry, ... */
    unsigned (*attempt)(struct wp_ctx *ctx);

    /*
     * dead_letter() - write @item to the dead-letter file with this stage and the reason,
     * for items a stage cannot pass on but will not reject as a whole (one entry of a
     * feed, one URL of many). Ownership: @item is borrowed.
     */
    enum wp_status (*dead_letter)(struct wp_ctx *ctx, const json_t *item, enum wp_status code,
                                  const char *fmt, ...) WP_PRINTF(4, 5);

    /*
     * item_add_error() - append {stage, code, message, attempts} to @item's "errors"
     * array, for failures the item survives (a translation that fell back to the source).
     * Ownership: @item is borrowed.
     */
    enum wp_status (*item_add_error)(struct wp_ctx *ctx, json_t *item, enum wp_status code,
                                     const char *fmt, ...) WP_PRINTF(4, 5);

    /* metric_add() - add @delta to this stage's counter @name (shown with -v). */
    void (*metric_add)(struct wp_ctx *ctx, const char *name, long long delta);

    /*
     * cancelled() - in generate(): true once the run stops taking input (a signal, a
     * fatal stage); stop producing, what was not emitted is read again next run. In the
     * other callbacks: true once the grace period for items in flight is over; give up the
     * item (any outcome but OK: it is not dead-lettered, and its source reads it again).
     * The shared HTTP client and retry waits end by the same rule.
     */
    bool (*cancelled)(struct wp_ctx *ctx);

    /* Borrowed strings, valid for the life of the run. */
    const char *(*stage_id)(struct wp_ctx *ctx);
    const char *(*pipeline_dir)(struct wp_ctx *ctx); /* absolute folder of the pipeline */
    const char *(*state_dir)(struct wp_ctx *ctx);    /* absolute; created on first use */

    const char *(*status_name)(enum wp_status status);

    /*
     * backoff_ms() - the shared retry policy: a full-jitter wait for retry number @attempt
     * (1-based), uniformly random in [0, min(@cap_ms, @base_ms * 2^(attempt-1))].
     */
    unsigned (*backoff_ms)(unsigned attempt, unsigned base_ms, unsigned cap_ms);

    /*
     * http_perform() - run @req to completion, with retries as described at
     * struct wp_http_request. Returns @resp->code. Always release @resp afterwards.
     * Ownership: @req is borrowed; @resp is filled with new strings.
     */
    enum wp_status (*http_perform)(struct wp_ctx *ctx, const struct wp_http_request *req,
                                   struct wp_http_response *resp);

    /*
     * http_perform_many() - run @count requests concurrently (at most @concurrency at once
     * and @per_host to one host; 0 means 8 and 4), each with its own retries. Returns
     * WP_OK when every request got a response filled in (look at each resp[i].code), or
     * WP_E_CANCELLED / WP_E_NOMEM.
     */
    enum wp_status (*http_perform_many)(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                        struct wp_http_response *resps, size_t count,
                                        unsigned concurrency, unsigned per_host);

    void (*http_response_release)(struct wp_http_response *resp);

    /*
     * The state store: a persistent key/value map in the pipeline's state_dir, shared by
     * all stages and runs, safe to call from any worker. Keys live in namespaces (@ns, a
     * short name such as "fetch.etag" or "translate.cache"). Values are bytes.
     *
     * store_get() returns WP_OK with a new *@value (free with host->free; NUL-terminated,
     * the NUL not counted in *@value_len), or WP_E_NOTFOUND.
     * store_put() inserts or replaces. @ttl_s > 0 makes the entry expire after that many
     * seconds; 0 keeps it.
     */
    enum wp_status (*store_get)(struct wp_ctx *ctx, const char *ns, const char *key, size_t key_len,
                                char **value, size_t *value_len);
    enum wp_status (*store_put)(struct wp_ctx *ctx, const char *ns, const char *key, size_t key_len,
                                const char *value, size_t value_len, long long ttl_s);
    enum wp_status (*store_delete)(struct wp_ctx *ctx, const char *ns, const char *key,
                                   size_t key_len);

    /* -- 2.0 -- */

    /*
     * sha256_hex() - the lower-case hex SHA-256 of the @len bytes at @data into @out
     * (64 characters and a NUL). Returns WP_OK, or WP_E_NOMEM.
     */
    enum wp_status (*sha256_hex)(const void *data, size_t len, char out[65]);

    /*
     * discard_held() - for a WP_STAGE_EMIT_ONLY stage: @count of the items it has taken
     * and not emitted never will be (merged into an aggregate, filtered at flush). They
     * move from "held" to "dropped" in the summary. Items a stage still holds when the
     * run ends are reported as held. Legal in process() and flush().
     */
    void (*discard_held)(struct wp_ctx *ctx, size_t count);

    /* -- 2.1 -- */

    /*
     * http_perform_each() - like http_perform_many(), but each reply is handed to
     * @on_reply as soon as it is complete, on the calling thread, so a caller may emit an
     * item per reply while the others are still loading, and holds only the replies in
     * flight. @resp is borrowed for the callback (the host releases it afterwards);
     * @index is the request's position in @reqs. Returning false from @on_reply stops
     * the remaining requests. Returns WP_OK when every reply was handed over, WP_E_CANCELLED
     * when stopped (by @on_reply or cancelled()), or WP_E_NOMEM; requests never handed
     * over were not made or their replies were dropped.
     */
    enum wp_status (*http_perform_each)(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                        size_t count, unsigned concurrency, unsigned per_host,
                                        bool (*on_reply)(void *arg, size_t index,
                                                         const struct wp_http_response *resp),
                                        void *arg);

    /* -- 2.2 -- */

    /*
     * poll_every() - for a source, in create(): call generate() again @interval_ms after
     * each return (with up to 10% jitter, never two at once), until the run is stopped,
     * instead of ending the run when generate() returns. With `wirepipe --once` the host
     * ignores it and calls generate() once. Return WP_OUTCOME_RETRY from a generate() that
     * failed as a whole (no source answered): the host logs it, counts the time the source
     * has been failing for /health, and polls again at the next interval.
     */
    void (*poll_every)(struct wp_ctx *ctx, unsigned long long interval_ms);

    /* New members go here, at the end, each with the ABI minor that added it. */
};

/*
 * WP_HOST_HAS() - true when the host's table has the entry @field and it is set. Use it
 * before calling an entry added after the ABI minor your plugin requires.
 */
#define WP_HOST_HAS(api, field)                                                                    \
    ((api)->struct_size >= offsetof(struct wp_host_api, field) + sizeof((api)->field) &&           \
     (api)->field != NULL)

/* Convenience wrappers: the first argument of each is the call's ctx. */
#define wp_emit(ctx, item)      ((ctx)->host->emit((ctx), (item)))
#define wp_fail(ctx, code, ...) ((ctx)->host->fail((ctx), (code), __VA_ARGS__))
#define wp_log_error(ctx, ...)  ((ctx)->host->log((ctx), WP_LOG_ERROR, __VA_ARGS__))
#define wp_log_warn(ctx, ...)   ((ctx)->host->log((ctx), WP_LOG_WARN, __VA_ARGS__))
#define wp_log_info(ctx, ...)   ((ctx)->host->log((ctx), WP_LOG_INFO, __VA_ARGS__))
#define wp_log_debug(ctx, ...)  ((ctx)->host->log((ctx), WP_LOG_DEBUG, __VA_ARGS__))

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_PLUGIN_H */
