/*
 * fetch.h - private interfaces of the fetch plugin.
 *
 * The stage (fetch.c) reads its sources: http(s) URLs through the host's shared client
 * (fetch_http.c), and files, folders and glob patterns (fetch_files.c). Each fetched
 * document is decoded to UTF-8 (fetch_charset.c), recognised as a page, a feed or JSON
 * (fetch_doc.c) and turned into items (fetch_items.c) with the help of the feed parser
 * (fetch_feed.c) and the ninjs mapping (fetch_ninjs.c). What is remembered between runs,
 * ids already delivered and conditional-GET validators, lives in the host's state store
 * (fetch_state.c), written only when the host acknowledges the items (fetch_pending.c
 * tracks what is in flight until then). Small helpers (ids, dates, URLs, strings) are in
 * fetch_util.c.
 *
 * Only the entry symbol is exported: the plugin builds with hidden visibility, so the
 * functions declared here are shared between its files and nowhere else.
 */
#ifndef FETCH_PRIVATE_H
#define FETCH_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>

#include <jansson.h>

/* Store namespaces: validators per canonical URL, and ids delivered in earlier runs. */
#define FETCH_NS_HTTP "fetch.http"
#define FETCH_NS_SEEN "fetch.seen"

/*
 * An item may carry its revision under this key until it is emitted: what changes when the
 * source sends a new version of the same story (ninjs version and versioncreated, Atom
 * <updated>). A story seen before comes out again only when its revision changed.
 */
#define FETCH_REVISION "x_fetch_revision"

/* The link of a feed entry as found, kept on the item for follow until it is emitted. */
#define FETCH_LINK "x_fetch_link"

/* "sha256:" and 64 hex digits. */
#define FETCH_ID_LEN (7 + 64)

struct fetch_entry;
struct fetch_group;
struct fetch_stored;

/*
 * What generate() has emitted and the host has not acknowledged yet, by id (a hash table),
 * and the documents whose validators wait for those items. Shared by generate() and
 * ack(), which run on different threads: every field is guarded by @lock, which is never
 * held while calling emit().
 */
struct fetch_pending {
    pthread_mutex_t lock;
    bool lock_ok;
    struct fetch_entry **buckets;
    size_t n_buckets;
    size_t count;
    struct fetch_group *groups;   /* every open or waiting group, to free at destroy */
    unsigned long long group_seq; /* numbers the groups in the order they were opened */
    /*
     * Polls of one run read a URL again while the items of an earlier read may still be
     * in flight, so two groups of one URL can finish in either order: per URL, the number
     * of the group whose validators were stored last, so an older one never overwrites
     * them. Guarded by @store_lock, held across the store write (and nothing else).
     */
    pthread_mutex_t store_lock;
    bool store_lock_ok;
    struct fetch_stored *stored;
    size_t n_stored;
};

struct fetch {
    const struct wp_host_api *host;
    struct fetch_pending pending;
    char **urls;
    size_t n_urls;
    char **paths;
    size_t n_paths;
    bool follow;
    bool dedup;
    bool conditional;
    unsigned concurrency;
    unsigned per_host;
    unsigned max_attempts;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body;
    char *source_name;
    char *user_agent;
    /* "every": the poll interval asked of the host, 0 when the stage reads once. */
    unsigned long long every_ms;
};

/* One fetched document, before it is decoded and split into items. */
struct fetch_doc {
    const char *url;          /* the address as fetched: canonical URL or file:// URI */
    const char *content_type; /* Content-Type header, or guessed from a file name */
    long http_status;         /* 0 for a file */
    const char *data;
    size_t len;
    const char *fallback_name; /* source.name when none is configured */
};

/* A feed entry waiting for the page it links to (follow). */
struct fetch_link {
    json_t *item; /* claimed in generate() (see fetch_claim()) */
    char *url;    /* the link, owned */
};

/* State of one generate() or process() call. */
struct fetch_run {
    struct fetch *f;
    struct wp_ctx *ctx;
    const json_t *input; /* process(): the item given; NULL in generate() */
    size_t emitted;
    bool stopped; /* emit() failed for a stopping run: read nothing more */
    /* The http document being read, whose validators wait for its items; or NULL. */
    struct fetch_group *group;
    /*
     * follow: entries waiting for their page. generate() gathers those of every feed
     * first (@defer_links) and fetches all the pages in one streaming batch afterwards;
     * process() fetches a feed's pages at once.
     */
    struct fetch_link *links;
    size_t n_links;
    size_t cap_links;
    bool defer_links;
    /*
     * generate(): the configured sources read in this call, and how many answered (2xx or
     * 304, a file or folder that could be read). None answering makes the poll a failure.
     */
    size_t sources;
    size_t answered;
    enum wp_status fail_code; /* process(): why the input item itself failed */
    char fail_text[WP_ERROR_TEXT_MAX];
};

/* A document decoded to UTF-8. */
struct fetch_text {
    char *data; /* UTF-8, NUL-terminated; host->free */
    size_t len;
    char charset[48];   /* the converter that decoded it, as named here */
    const char *origin; /* "header", "declared", "bom", "detected" or "default" */
    long replacements;  /* U+FFFD written for undecodable input */
};

/* ---- fetch_util.c: ids, dates, URLs, strings ----------------------------------------- */

/*
 * fetch_make_id() - the stable id of an item: "sha256:" and the hex SHA-256 of its
 * identity string (the canonical URL of a page, the GUID or Atom id of a feed entry as
 * written, the uri of a ninjs object), so the same story gets the same id on every run.
 */
bool fetch_make_id(const struct wp_host_api *host, const char *identity, size_t len,
                   char out[FETCH_ID_LEN + 1]);
/* fetch_set_id() - set @item's id from @identity. False when out of memory. */
bool fetch_set_id(const struct wp_host_api *host, json_t *item, const char *identity);

/* RFC 3339 UTC text of @t. */
void fetch_format_time(time_t t, char out[32]);
/* A date from a feed or ninjs object (RFC 3339 or the RFC 822 family) as RFC 3339 UTC. */
bool fetch_normalize_date(const char *text, char out[32]);

bool fetch_is_http_url(const char *url);
/* Whether @s starts with "scheme:"; *@colon (when not NULL) is set to the colon. */
bool fetch_has_scheme(const char *s, const char **colon);
/*
 * The canonical form of an absolute URL (scheme and host lower-cased, default port and
 * fragment dropped), for ids and validator keys. New string (host->free), or NULL.
 */
char *fetch_canonical_url(const struct wp_host_api *host, const char *url);
/* @ref resolved against @base. New string (host->free), or NULL. */
char *fetch_resolve_url(const struct wp_host_api *host, const char *ref, const char *base);
/* The host part of @url, for source.name. New string (host->free), or NULL. */
char *fetch_url_host(const struct wp_host_api *host, const char *url);

/* Trim ASCII white space from both ends of [*s, *s + *n). */
void fetch_trim(const char **s, size_t *n);
bool fetch_has_prefix_ci(const char *s, size_t n, const char *prefix);
/* Find @needle (ASCII, case-insensitive) in the first @n bytes of @hay. */
const char *fetch_memcasemem(const char *hay, size_t n, const char *needle);
/* The media type of Content-Type @ct, lower-cased and without parameters. */
void fetch_media_type(const char *ct, char out[96]);

/*
 * Set @key of @obj to a JSON string of @s (UTF-8 already). False when jansson refuses it
 * (invalid UTF-8 or out of memory).
 */
bool fetch_set_strn(json_t *obj, const char *key, const char *s, size_t n);
bool fetch_set_str(json_t *obj, const char *key, const char *s);

/*
 * Append plain text @s with its paragraphs separated by one blank line, as item.h asks
 * for "body": lines are trimmed and empty lines dropped. False when out of memory.
 */
bool fetch_paragraphs(struct wp_buf *out, const char *s, size_t n);

/* Free a string from json_dumps(): it belongs to jansson's allocator. */
void fetch_json_free(void *ptr);

/* ---- fetch_every.c ------------------------------------------------------------------- */

/*
 * fetch_parse_every() - the "every" key @value (NULL or null: not set) as milliseconds in
 * *@ms (0 when not set). False, with the reason given to wp_fail(), when it is not a
 * duration between 1s and 24h.
 */
bool fetch_parse_every(struct wp_ctx *ctx, const json_t *value, unsigned long long *ms);

/* ---- fetch_charset.c ------------------------------------------------------------------ */

/*
 * fetch_decode() - turn fetched bytes into UTF-8 text.
 *
 * @content_type is the Content-Type header (or NULL for files). Fills @out (release
 * out->data with host->free). Returns WP_OK, WP_E_LIMIT, WP_E_UNICODE or WP_E_NOMEM.
 */
enum wp_status fetch_decode(const struct wp_host_api *host, const char *data, size_t len,
                            const char *content_type, struct fetch_text *out);

/* ---- fetch_feed.c --------------------------------------------------------------------- */

/*
 * fetch_parse_feed() - parse @text as RSS 2.0, RSS 1.0 or Atom and append one object per
 * entry to @entries: {headline, link, guid, base, published, updated, authors[],
 * keywords[], content, content_type}.
 *
 * Returns WP_OK, or WP_E_INVALID / WP_E_LIMIT / WP_E_NOMEM with the reason in @err.
 */
enum wp_status fetch_parse_feed(const struct fetch_text *text, const char *base_url,
                                json_t *entries, char *err, size_t errlen);

/* ---- fetch_ninjs.c -------------------------------------------------------------------- */

/*
 * fetch_ninjs_fill() - set @item's fields from ninjs object @obj.
 * Returns false with the reason in @err when @obj is not ninjs.
 */
bool fetch_ninjs_fill(const struct wp_host_api *host, const json_t *obj, json_t *item, char *err,
                      size_t errlen);

/* ---- fetch_doc.c ---------------------------------------------------------------------- */

/*
 * fetch_handle_doc() - decode @doc, tell what it is and emit its items. Returns false
 * when the document as a whole failed (it has been reported), so its validators are not
 * remembered.
 */
bool fetch_handle_doc(struct fetch_run *run, const struct fetch_doc *doc);

/* ---- fetch_items.c -------------------------------------------------------------------- */

/*
 * fetch_failure() - a document or entry that cannot go on. In generate() it goes to the
 * dead-letter file as {uri, source: {url}} (or as @partial when given); in process() the
 * input item is rejected with the reason (unless @partial is given).
 */
void fetch_failure(struct fetch_run *run, const char *url, const json_t *partial,
                   enum wp_status code, const char *fmt, ...) WP_PRINTF(5, 6);
/*
 * fetch_source_failure() - a configured source (a URL, a file) did not answer. A polling
 * stage (every) logs it: the next poll reads the source again, so a dead letter would only
 * repeat, once per poll, what the log says. Otherwise as fetch_failure() without @partial.
 */
void fetch_source_failure(struct fetch_run *run, const char *url, enum wp_status code,
                          const char *fmt, ...) WP_PRINTF(4, 5);

/* Set source.charset and source.replacement_chars of @source from @text. */
void fetch_source_set_text(json_t *source, const struct fetch_text *text);

/* One item carrying the text as "content": a page of HTML, plain text or other XML. */
bool fetch_page_item(struct fetch_run *run, const struct fetch_doc *doc,
                     const struct fetch_text *text, const char *media_type, const char *mismatch);
/* One item per feed entry (after following the links when asked to). */
bool fetch_feed_items(struct fetch_run *run, const struct fetch_doc *doc,
                      const struct fetch_text *text, const char *mismatch);
/* One item per ninjs object: one object, an array of them, or JSON Lines. */
bool fetch_json_items(struct fetch_run *run, const struct fetch_doc *doc,
                      const struct fetch_text *text);

/* ---- fetch_state.c -------------------------------------------------------------------- */

/*
 * fetch_seen() - in generate(), whether an earlier run delivered @item: its id is in
 * "fetch.seen" with no revision or the same one. Sets *@update when the id is known under
 * another revision. Always false in process(): de-duplication applies to what fetch
 * generates.
 */
bool fetch_seen(struct fetch_run *run, const json_t *item, bool *update);
/* fetch_seen_mark() - what "fetch.seen" keeps for @item: "rev:" + its revision, or now. */
void fetch_seen_mark(const json_t *item, char *out, size_t size);
/* fetch_record_seen() - put @id with @mark into "fetch.seen" (from ack()). */
void fetch_record_seen(struct fetch *f, struct wp_ctx *ctx, const char *id, const char *mark);
/*
 * The validators {etag, last_modified} stored for @key: a new object, or NULL (always in
 * process(), which has no acknowledgements and so makes no conditional requests).
 */
json_t *fetch_load_validators(struct fetch_run *run, const char *key);
/* The validators of @resp as the JSON text kept for a URL: new (host->free), or NULL. */
char *fetch_validators_text(struct fetch *f, const struct wp_http_response *resp);
/* Put @text, made by fetch_validators_text(), into "fetch.http" under @key. */
void fetch_store_validators(struct fetch *f, struct wp_ctx *ctx, const char *key, const char *text);

/* ---- fetch_pending.c ------------------------------------------------------------------ */

/*
 * Acknowledged delivery. In generate(), an item is "claimed" (its id entered in the
 * in-flight table with its seen mark and its document's group) before it is emitted, and
 * stays claimed until the host acknowledges it: only then is its id recorded as seen. A
 * group holds an http document's validators; they are stored once the document has been
 * read and every item claimed for it is done (acknowledged, or dead-lettered by fetch
 * itself). Whatever is not done when the run ends is recorded nowhere, so the next run
 * fetches and emits it again. process() claims nothing.
 */
enum wp_status fetch_pending_init(struct fetch *f);
/* Free the table and the groups, recording nothing. */
void fetch_pending_release(struct fetch *f);

/*
 * fetch_group_open() - in generate(), the group of the document fetched as @key with the
 * validators of @resp; NULL when there is nothing to store (conditional GET off, no
 * validators, process()) or no memory. Items claimed while run->group is set join it.
 */
struct fetch_group *fetch_group_open(struct fetch_run *run, const char *key,
                                     const struct wp_http_response *resp);
/*
 * fetch_group_close() - the document of @g has been read (@ok false: it failed as a
 * whole, so its validators are never stored). @g may be NULL.
 */
void fetch_group_close(struct fetch_run *run, struct fetch_group *g, bool ok);

/*
 * fetch_claim() - in generate(), claim @item for this run: false when it must be skipped
 * because an earlier run delivered it (metric duplicates) or this run has it in flight
 * already (two feeds listing one story; metric in_flight_duplicates). @item is borrowed.
 * Always true in process().
 */
bool fetch_claim(struct fetch_run *run, json_t *item);
/*
 * fetch_unclaim() - a claimed @item will not be emitted. @done: fetch dead-lettered it,
 * which counts as done for its document; otherwise it was not read (the run stopped, no
 * memory) and its document's validators are not stored. @item is borrowed.
 */
void fetch_unclaim(struct fetch_run *run, const json_t *item, bool done);
/* fetch_emit_claimed() - emit a claimed @item (steals it). */
void fetch_emit_claimed(struct fetch_run *run, json_t *item);
/* fetch_emit() - claim @item and emit it, or skip it (see fetch_claim()). Steals @item. */
void fetch_emit(struct fetch_run *run, json_t *item);
/* fetch_pending_ack() - the stage's ack(): @id is done, whatever the outcome. */
void fetch_pending_ack(struct fetch *f, struct wp_ctx *ctx, const char *id);

/* ---- fetch_http.c --------------------------------------------------------------------- */

/*
 * Fetch @n http(s) URLs concurrently and handle each reply as soon as it arrives, so
 * items come out in completion order.
 */
void fetch_urls(struct fetch_run *run, const char *const *urls, size_t n);
/* Fetch one http(s) URL (process()). */
void fetch_url(struct fetch_run *run, const char *url);
/*
 * fetch_queue_link() - follow: @item (stolen) waits for the page at @url. False when out
 * of memory (@item is released then, and the caller reports it).
 */
bool fetch_queue_link(struct fetch_run *run, json_t *item, const char *url);
/*
 * fetch_follow_links() - follow: fetch the pages of run->links concurrently; each entry
 * gets its page as "content" and is emitted as soon as the page arrives. Entries whose
 * page cannot be fetched are dead-lettered.
 */
void fetch_follow_links(struct fetch_run *run);

/* ---- fetch_files.c -------------------------------------------------------------------- */

/* Read one file (an absolute path) as a document. False when it could not be read. */
bool fetch_file(struct fetch_run *run, const char *path);
/*
 * Read a configured path: a file, a folder (its files, one level, sorted) or a pattern.
 * False when it could not be read at all (a missing file or folder, a failed pattern).
 */
bool fetch_path(struct fetch_run *run, const char *configured);

#endif /* FETCH_PRIVATE_H */
