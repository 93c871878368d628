/*
 * fetch.h - private interfaces of the fetch plugin.
 *
 * The stage (fetch.c) reads its sources: http(s) URLs through the host's shared client
 * (fetch_http.c), and files, folders and glob patterns (fetch_files.c). Each fetched
 * document is decoded to UTF-8 (fetch_charset.c), recognised as a page, a feed or JSON
 * (fetch_doc.c) and turned into items (fetch_items.c) with the help of the feed parser
 * (fetch_feed.c) and the ninjs mapping (fetch_ninjs.c). What is remembered between runs,
 * ids already emitted and conditional-GET validators, lives in the host's state store
 * (fetch_state.c). Small helpers (ids, dates, URLs, strings) are in fetch_util.c.
 *
 * Only the entry symbol is exported: the plugin builds with hidden visibility, so the
 * functions declared here are shared between its files and nowhere else.
 */
#ifndef FETCH_PRIVATE_H
#define FETCH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>

#include <jansson.h>

/* Store namespaces: validators per canonical URL, and ids emitted by earlier runs. */
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

struct fetch {
    const struct wp_host_api *host;
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

/* State of one generate() or process() call. */
struct fetch_run {
    struct fetch *f;
    struct wp_ctx *ctx;
    const json_t *input; /* process(): the item given; NULL in generate() */
    size_t emitted;
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
 * fetch_seen() - whether an earlier run emitted @item: its id is in "fetch.seen" with no
 * revision or the same one. Sets *@update when the id is known under another revision.
 */
bool fetch_seen(struct fetch_run *run, const json_t *item, bool *update);
/* fetch_emit() - pass @item on unless an earlier run emitted it already. Steals @item. */
void fetch_emit(struct fetch_run *run, json_t *item);
/* The validators {etag, last_modified} stored for @key: a new object, or NULL. */
json_t *fetch_load_validators(struct fetch_run *run, const char *key);
/* Remember the validators of @resp for @key (when conditional GET is on). */
void fetch_remember_validators(struct fetch_run *run, const char *key,
                               const struct wp_http_response *resp);

/* ---- fetch_http.c --------------------------------------------------------------------- */

/* Fetch @n http(s) URLs concurrently and handle each reply in order. */
void fetch_urls(struct fetch_run *run, const char *const *urls, size_t n);
/* Fetch one http(s) URL (process()). */
void fetch_url(struct fetch_run *run, const char *url);
/*
 * follow: fetch the page each item of @items links to (FETCH_LINK) into its "content".
 * Items whose link is not http(s) or cannot be fetched are dead-lettered and replaced by
 * null in @items.
 */
void fetch_follow_links(struct fetch_run *run, json_t *items);

/* ---- fetch_files.c -------------------------------------------------------------------- */

/* Read one file (an absolute path) as a document. */
void fetch_file(struct fetch_run *run, const char *path);
/* Read a configured path: a file, a folder (its files, one level, sorted) or a pattern. */
void fetch_path(struct fetch_run *run, const char *configured);

#endif /* FETCH_PRIVATE_H */
