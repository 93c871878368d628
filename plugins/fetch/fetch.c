/*
 * fetch.c - the fetch stage: pages, feeds and ninjs from http(s) URLs and local files.
 *
 * generate() reads everything configured (urls, then paths) and emits one item per page,
 * feed entry or ninjs object, in configuration order then document order. process() takes
 * items given with --input: one with a "uri" and neither "content" nor "body" is fetched
 * the same way; any other item passes on untouched.
 *
 * All HTTP goes through the host's shared client (retries, backoff, Retry-After, redirect
 * and protocol limits, body limit, gzip). This file adds what is specific to fetching news:
 *  - conditional GET: ETag / Last-Modified per canonical URL in the store namespace
 *    "fetch.http"; a 304 yields nothing;
 *  - de-duplication: ids already emitted by an earlier run are remembered in "fetch.seen"
 *    and skipped, so rerunning a pipeline does not republish a story;
 *  - decoding to UTF-8 (fetch_charset.c), feeds (fetch_feed.c), ninjs (fetch_ninjs.c);
 *  - file: sources only from the pipeline's own configuration, never from a redirect, a
 *    feed link or an --input item.
 *
 * The helper files are included rather than linked so that every function stays static.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <uchardet.h>
#include <unistd.h>

#include <wirepipe/plugin.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ustring.h>

/* The parts in dependency order. */
/* clang-format off */
#include "fetch_util.c"
#include "fetch_charset.c"
#include "fetch_feed.c"
#include "fetch_ninjs.c"
/* clang-format on */

#define FETCH_NS_HTTP "fetch.http"

/* Strings from json_dumps() belong to jansson's allocator, whichever the host set. */
static void fetch_json_free(void *ptr)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (jfree)
        jfree(ptr);
}

#define FETCH_NS_SEEN "fetch.seen"

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

static const struct wp_config_key fetch_config[] = {
    {.name = "urls",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[]",
     .doc = "http(s) URLs of pages, RSS/Atom feeds or ninjs documents"},
    {.name = "paths",
     .type = WP_CONFIG_PATHS,
     .default_json = "[]",
     .doc = "local files, folders (their files, one level, sorted) or glob patterns"},
    {.name = "follow",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "also fetch the page each feed entry links to"},
    {.name = "concurrency",
     .type = WP_CONFIG_INT,
     .default_json = "8",
     .doc = "requests in flight at once"},
    {.name = "per_host",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "requests in flight to one host"},
    {.name = "timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "30000",
     .doc = "whole-transfer timeout of one request"},
    {.name = "connect_timeout_ms",
     .type = WP_CONFIG_INT,
     .default_json = "10000",
     .doc = "connect timeout of one request"},
    {.name = "max_body",
     .type = WP_CONFIG_INT,
     .default_json = "10485760",
     .doc = "largest page or file read, in bytes"},
    {.name = "max_attempts",
     .type = WP_CONFIG_INT,
     .default_json = "4",
     .doc = "attempts per URL (429, 5xx, timeouts, resets)"},
    {.name = "dedup",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "skip items whose id an earlier run already emitted"},
    {.name = "conditional",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "send If-None-Match/If-Modified-Since from the last fetch; a 304 yields nothing"},
    {.name = "source_name",
     .type = WP_CONFIG_STRING,
     .doc = "source.name of every item (default: the URL's host or the file name)"},
    {.name = "user_agent",
     .type = WP_CONFIG_STRING,
     .doc = "User-Agent header (default: the host's wirepipe/VERSION)"},
    {0},
};

/* ---------------------------------------------------------------------------------------
 * Reporting
 * ------------------------------------------------------------------------------------- */

/*
 * A document or entry that cannot go on: in generate() it goes to the dead-letter file
 * as {uri, source: {url}} (or the partial item @partial), in process() the input item
 * is rejected with the reason.
 */
static void fetch_failure(struct fetch_run *run, const char *url, const json_t *partial,
                          enum wp_status code, const char *fmt, ...) WP_PRINTF(5, 6);

static void fetch_failure(struct fetch_run *run, const char *url, const json_t *partial,
                          enum wp_status code, const char *fmt, ...)
{
    char text[WP_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    run->f->host->metric_add(run->ctx, "failed", 1);
    if (run->input && !partial) {
        if (run->fail_code == WP_OK) {
            run->fail_code = code;
            snprintf(run->fail_text, sizeof(run->fail_text), "%s", text);
        }
        return;
    }
    /* The host logs every dead letter with its reason. */
    if (partial) {
        run->f->host->dead_letter(run->ctx, partial, code, "%s", text);
        return;
    }
    json_t *item = json_object();
    if (item) {
        json_t *source = json_object();
        json_t *u = url ? json_string(url) : NULL;
        if (u) {
            json_object_set(item, WP_ITEM_URI, u);
            json_object_set_new(source, "url", u);
        }
        json_object_set_new(item, WP_ITEM_SOURCE, source);
        run->f->host->dead_letter(run->ctx, item, code, "%s", text);
        json_decref(item);
    } else {
        wp_log_error(run->ctx, "%s (not dead-lettered: out of memory)", text);
    }
}

/* ---------------------------------------------------------------------------------------
 * Items
 * ------------------------------------------------------------------------------------- */

static json_t *fetch_source(struct fetch_run *run, const struct fetch_doc *doc,
                            const char *content_type, const struct fetch_text *text)
{
    char now[32];
    fetch_format_time(time(NULL), now);
    json_t *source = json_object();
    if (!source)
        return NULL;
    const char *name = run->f->source_name ? run->f->source_name : doc->fallback_name;
    if (name)
        fetch_set_str(source, "name", name);
    fetch_set_str(source, "url", doc->url);
    fetch_set_str(source, "fetched_at", now);
    if (content_type)
        fetch_set_str(source, "content_type", content_type);
    if (doc->http_status)
        json_object_set_new(source, "http_status", json_integer(doc->http_status));
    if (text) {
        fetch_set_str(source, "charset", text->charset);
        json_object_set_new(source, "replacement_chars", json_integer(text->replacements));
    }
    return source;
}

/*
 * An item may carry its revision under this key until it is emitted: what changes when the
 * source sends a new version of the same story (ninjs version and versioncreated, Atom
 * <updated>). A story seen before comes out again only when its revision changed.
 */
#define FETCH_REVISION "x_fetch_revision"

/*
 * Whether @item was emitted by an earlier run: its id is in "fetch.seen" and it has no
 * revision or the same one. Sets *@update when the id is known under another revision.
 */
static bool fetch_seen(struct fetch_run *run, const json_t *item, bool *update)
{
    struct fetch *f = run->f;
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    *update = false;
    if (!f->dedup || !id)
        return false;
    char *seen = NULL;
    size_t seen_len = 0;
    enum wp_status st =
        f->host->store_get(run->ctx, FETCH_NS_SEEN, id, strlen(id), &seen, &seen_len);
    if (st != WP_OK) {
        if (st != WP_E_NOTFOUND)
            wp_log_warn(run->ctx, "state store: cannot read seen id (%s)",
                        f->host->status_name(st));
        return false;
    }
    const char *revision = json_string_value(json_object_get(item, FETCH_REVISION));
    bool same = true;
    if (revision) {
        size_t n = strlen(revision);
        same =
            seen_len == n + 4 && memcmp(seen, "rev:", 4) == 0 && memcmp(seen + 4, revision, n) == 0;
    }
    f->host->free(seen);
    *update = !same;
    return same;
}

/*
 * Pass @item on unless an earlier run emitted it already (dedup). Ownership: steals @item.
 */
static void fetch_emit(struct fetch_run *run, json_t *item)
{
    struct fetch *f = run->f;
    struct wp_ctx *ctx = run->ctx;
    const char *id_value = json_string_value(json_object_get(item, WP_ITEM_ID));
    char id[FETCH_ID_LEN + 1] = "";
    if (id_value)
        snprintf(id, sizeof(id), "%s", id_value);
    bool update = false;
    if (id[0] && fetch_seen(run, item, &update)) {
        f->host->metric_add(ctx, "duplicates", 1);
        wp_log_debug(ctx, "skipping '%s': already emitted by an earlier run", id);
        json_decref(item);
        return;
    }
    /* What is remembered: the revision when there is one, else when it was emitted. */
    char mark[300];
    const char *revision = json_string_value(json_object_get(item, FETCH_REVISION));
    if (revision && strlen(revision) < sizeof(mark) - 4) {
        snprintf(mark, sizeof(mark), "rev:%s", revision);
    } else {
        char now[32];
        fetch_format_time(time(NULL), now);
        snprintf(mark, sizeof(mark), "%s", now);
    }
    json_object_del(item, FETCH_REVISION);
    if (update) {
        f->host->metric_add(ctx, "updates", 1);
        wp_log_info(ctx, "'%s' is a new version of a story seen before", id);
    }
    if (wp_emit(ctx, item) != WP_OK)
        return;
    run->emitted++;
    f->host->metric_add(ctx, "items", 1);
    if (f->dedup && id[0]) {
        enum wp_status st =
            f->host->store_put(ctx, FETCH_NS_SEEN, id, strlen(id), mark, strlen(mark), 0);
        if (st != WP_OK)
            wp_log_warn(ctx, "state store: cannot remember seen id (%s)", f->host->status_name(st));
    }
}

static bool fetch_set_id(json_t *item, const char *identity)
{
    char id[FETCH_ID_LEN + 1];
    return fetch_make_id(identity, strlen(identity), id) && fetch_set_str(item, WP_ITEM_ID, id);
}

/* A new item: a copy of the --input item when there is one, else empty. */
static json_t *fetch_new_item(struct fetch_run *run)
{
    return run->input ? json_deep_copy(run->input) : json_object();
}

enum fetch_kind {
    KIND_TEXT,
    KIND_HTML,
    KIND_FEED,
    KIND_JSON,
    KIND_XML,
};

static const char *fetch_kind_name(enum fetch_kind kind)
{
    switch (kind) {
        case KIND_TEXT:
            return "plain text";
        case KIND_HTML:
            return "html";
        case KIND_FEED:
            return "a feed";
        case KIND_JSON:
            return "json";
        case KIND_XML:
            return "xml";
    }
    return "?";
}

/* What the content is, from its first bytes. */
static enum fetch_kind fetch_sniff(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (n == 0)
        return KIND_TEXT;
    if (*s == '{' || *s == '[')
        return KIND_JSON;
    if (*s != '<')
        return KIND_TEXT;
    size_t head = n < 2048 ? n : 2048;
    if (fetch_has_prefix_ci(s, n, "<?xml") || fetch_has_prefix_ci(s, n, "<rss") ||
        fetch_has_prefix_ci(s, n, "<feed") || fetch_has_prefix_ci(s, n, "<rdf:RDF")) {
        if (fetch_memcasemem(s, head, "<rss") || fetch_memcasemem(s, head, "<feed") ||
            fetch_memcasemem(s, head, "<rdf:RDF"))
            return KIND_FEED;
        if (fetch_memcasemem(s, head, "<html"))
            return KIND_HTML;
        return KIND_XML;
    }
    return KIND_HTML;
}

/* What the Content-Type header claims, or -1 when it claims nothing specific. */
static int fetch_claimed_kind(const char *ct)
{
    if (!ct)
        return -1;
    size_t n = strcspn(ct, ";");
    while (n && isspace((unsigned char)ct[n - 1]))
        n--;
    if (fetch_has_prefix_ci(ct, n, "application/rss") ||
        fetch_has_prefix_ci(ct, n, "application/atom") ||
        fetch_has_prefix_ci(ct, n, "application/rdf"))
        return KIND_FEED;
    if (fetch_memcasemem(ct, n, "json"))
        return KIND_JSON;
    if (fetch_has_prefix_ci(ct, n, "text/html") || fetch_has_prefix_ci(ct, n, "application/xhtml"))
        return KIND_HTML;
    if (fetch_has_prefix_ci(ct, n, "text/xml") || fetch_has_prefix_ci(ct, n, "application/xml"))
        return KIND_XML;
    if (fetch_has_prefix_ci(ct, n, "text/plain"))
        return KIND_TEXT;
    return -1;
}

static bool fetch_kinds_agree(int claimed, enum fetch_kind actual)
{
    if (claimed < 0 || claimed == (int)actual)
        return true;
    /* Generic XML types are what many servers send for feeds; text/plain for anything. */
    if (claimed == KIND_XML && (actual == KIND_FEED || actual == KIND_HTML))
        return true;
    if (claimed == KIND_FEED && actual == KIND_XML)
        return false;
    if (claimed == KIND_TEXT)
        return true;
    return false;
}

static const char *fetch_guess_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    static const struct {
        const char *ext;
        const char *type;
    } map[] = {
        {".html", "text/html"},
        {".htm", "text/html"},
        {".xhtml", "application/xhtml+xml"},
        {".txt", "text/plain"},
        {".json", "application/json"},
        {".jsonl", "application/x-ndjson"},
        {".ndjson", "application/x-ndjson"},
        {".rss", "application/rss+xml"},
        {".atom", "application/atom+xml"},
        {".xml", "application/xml"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(dot, map[i].ext) == 0)
            return map[i].type;
    }
    return NULL;
}

/* The media type without parameters, for source.content_type. */
static void fetch_media_type(const char *ct, char out[96])
{
    size_t n = strcspn(ct, ";");
    while (n && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n > 95)
        n = 95;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)ct[i]);
    out[n] = '\0';
}

/* ---------------------------------------------------------------------------------------
 * Documents -> items
 * ------------------------------------------------------------------------------------- */

static void fetch_follow_links(struct fetch_run *run, json_t *items);

static void fetch_add_mismatch(struct fetch_run *run, json_t *item, const char *mismatch)
{
    if (mismatch)
        run->f->host->item_add_error(run->ctx, item, WP_E_PROTOCOL, "%s", mismatch);
}

/* A page (HTML, plain text or other XML): one item carrying the text as "content". */
static bool fetch_page_item(struct fetch_run *run, const struct fetch_doc *doc,
                            const struct fetch_text *text, const char *media_type,
                            const char *mismatch)
{
    json_t *item = fetch_new_item(run);
    if (!item)
        return false;
    char *canonical = fetch_canonical_url(run->f->host, doc->url);
    bool ok = fetch_set_id(item, canonical ? canonical : doc->url) &&
              fetch_set_str(item, WP_ITEM_URI, canonical ? canonical : doc->url);
    if (canonical)
        run->f->host->free(canonical);
    json_t *source = fetch_source(run, doc, media_type, text);
    /* json_object_set_new() takes @source even when it fails, so always hand it over. */
    ok = source && json_object_set_new(item, WP_ITEM_SOURCE, source) == 0 && ok;
    ok = ok && fetch_set_strn(item, WP_ITEM_CONTENT, text->data, text->len);
    if (!ok) {
        json_decref(item);
        fetch_failure(run, doc->url, NULL, WP_E_NOMEM, "cannot build item for '%s'", doc->url);
        return false;
    }
    fetch_add_mismatch(run, item, mismatch);
    fetch_emit(run, item);
    return true;
}

/* Turn one parsed feed entry into an item (not yet emitted). */
static json_t *fetch_entry_item(struct fetch_run *run, const struct fetch_doc *doc,
                                const struct fetch_text *text, json_t *entry)
{
    struct fetch *f = run->f;
    json_t *item = json_object();
    if (!item)
        return NULL;
    const char *link = json_string_value(json_object_get(entry, "link"));
    const char *guid = json_string_value(json_object_get(entry, "guid"));
    const char *base = json_string_value(json_object_get(entry, "base"));
    char *resolved = link ? fetch_resolve_url(f->host, link, base ? base : doc->url) : NULL;
    char *canonical = resolved ? fetch_canonical_url(f->host, resolved) : NULL;
    const char *uri = canonical ? canonical : resolved;

    /* GUID as written identifies the entry; else its link; else the feed plus the title. */
    struct fbuf identity;
    fbuf_init(&identity, f->host);
    if (guid)
        fbuf_puts(&identity, guid);
    else if (uri)
        fbuf_puts(&identity, uri);
    else
        fbuf_printf(&identity, "%s#%s", doc->url,
                    json_string_value(json_object_get(entry, "headline"))
                        ? json_string_value(json_object_get(entry, "headline"))
                        : "");
    bool ok = identity.data && fetch_set_id(item, identity.data);
    fbuf_release(&identity);

    if (uri)
        ok = ok && fetch_set_str(item, WP_ITEM_URI, uri);
    else if (guid && fetch_has_scheme(guid, NULL))
        ok = ok && fetch_set_str(item, WP_ITEM_URI, guid);
    json_t *v = json_object_get(entry, "headline");
    if (v)
        json_object_set(item, WP_ITEM_HEADLINE, v);
    const char *published = json_string_value(json_object_get(entry, "published"));
    char date[32];
    if (published) {
        if (fetch_normalize_date(published, date))
            fetch_set_str(item, WP_ITEM_PUBLISHED, date);
        else
            f->host->item_add_error(run->ctx, item, WP_E_INVALID, "unreadable entry date '%.60s'",
                                    published);
    }
    if ((v = json_object_get(entry, "authors")))
        json_object_set(item, WP_ITEM_AUTHORS, v);
    if ((v = json_object_get(entry, "keywords")))
        json_object_set(item, WP_ITEM_KEYWORDS, v);
    const char *ctype = json_string_value(json_object_get(entry, "content_type"));
    json_t *source = fetch_source(run, doc, ctype, text);
    if (source) {
        fetch_set_str(source, "feed", doc->url);
        if (guid)
            fetch_set_str(source, "guid", guid);
    }
    /* json_object_set_new() takes @source even when it fails, so always hand it over. */
    ok = source && json_object_set_new(item, WP_ITEM_SOURCE, source) == 0 && ok;
    if ((v = json_object_get(entry, "content")))
        json_object_set(item, WP_ITEM_CONTENT, v);
    if ((v = json_object_get(entry, "updated")))
        json_object_set(item, FETCH_REVISION, v);
    /* Remember the link as found, for follow: and for the reason when it is refused. */
    if (resolved)
        fetch_set_str(item, "x_fetch_link", resolved);
    if (resolved)
        f->host->free(resolved);
    if (canonical)
        f->host->free(canonical);
    if (!ok) {
        json_decref(item);
        return NULL;
    }
    return item;
}

static bool fetch_feed_items(struct fetch_run *run, const struct fetch_doc *doc,
                             const struct fetch_text *text, const char *mismatch)
{
    struct fetch *f = run->f;
    char err[WP_ERROR_TEXT_MAX];
    json_t *entries = json_array();
    if (!entries)
        return false;
    enum wp_status st = fetch_parse_feed(text, doc->url, entries, err, sizeof(err));
    if (st != WP_OK) {
        json_decref(entries);
        fetch_failure(run, doc->url, NULL, st, "%s: %s", doc->url, err);
        return false;
    }
    if (json_array_size(entries) == 0)
        wp_log_info(run->ctx, "feed '%s' has no entries", doc->url);
    json_t *items = json_array();
    size_t i;
    json_t *entry;
    json_array_foreach(entries, i, entry)
    {
        if (!json_object_get(entry, "headline") && !json_object_get(entry, "link") &&
            !json_object_get(entry, "guid")) {
            json_object_del(entry, "base");
            json_t *partial =
                json_pack("{s:s,s:{s:s,s:s},s:O}", WP_ITEM_URI, doc->url, WP_ITEM_SOURCE, "url",
                          doc->url, "feed", doc->url, "x_fetch_entry", entry);
            fetch_failure(run, doc->url, partial ? partial : entry, WP_E_INVALID,
                          "%s: entry %zu has no title, link or id", doc->url, i + 1);
            json_decref(partial);
            continue;
        }
        json_t *item = fetch_entry_item(run, doc, text, entry);
        if (!item) {
            json_object_del(entry, "base");
            fetch_failure(run, doc->url, entry, WP_E_NOMEM, "%s: cannot build entry %zu", doc->url,
                          i + 1);
            continue;
        }
        /* Skip what earlier runs emitted before fetching any linked page. */
        bool update = false;
        if (fetch_seen(run, item, &update)) {
            f->host->metric_add(run->ctx, "duplicates", 1);
            json_decref(item);
            continue;
        }
        fetch_add_mismatch(run, item, mismatch);
        json_array_append_new(items, item);
    }
    json_decref(entries);
    if (f->follow)
        fetch_follow_links(run, items);
    json_array_foreach(items, i, entry)
    {
        if (json_is_null(entry))
            continue; /* dead-lettered while following */
        json_object_del(entry, "x_fetch_link");
        fetch_emit(run, json_incref(entry));
    }
    json_decref(items);
    return true;
}

/* Build and emit the item of one ninjs object; @where names it in messages. */
static void fetch_ninjs_item(struct fetch_run *run, const struct fetch_doc *doc,
                             const struct fetch_text *text, const json_t *obj, const char *where)
{
    char err[WP_ERROR_TEXT_MAX];
    json_t *item = json_object();
    if (!item)
        return;
    if (!fetch_ninjs_fill(run->f->host, obj, item, err, sizeof(err))) {
        json_decref(item);
        if (run->input) {
            fetch_failure(run, doc->url, NULL, WP_E_INVALID, "%s%s: %s", doc->url, where, err);
            return;
        }
        json_t *partial =
            json_pack("{s:s,s:{s:s}}", WP_ITEM_URI, doc->url, WP_ITEM_SOURCE, "url", doc->url);
        if (partial && json_is_object(obj))
            json_object_set_new(partial, "ninjs", json_deep_copy(obj));
        fetch_failure(run, doc->url, partial, WP_E_INVALID, "%s%s: %s", doc->url, where, err);
        json_decref(partial);
        return;
    }
    const char *uri = json_string_value(json_object_get(item, WP_ITEM_URI));
    json_t *source = fetch_source(run, doc, "application/json", text);
    bool ok = source && json_object_set_new(item, WP_ITEM_SOURCE, source) == 0;
    if (!ok || !uri || !fetch_set_id(item, uri)) {
        json_decref(item);
        fetch_failure(run, doc->url, NULL, WP_E_NOMEM, "%s%s: cannot build item", doc->url, where);
        return;
    }
    if (json_object_get(item, WP_ITEM_CONTENT))
        fetch_set_str(source, "content_type", "text/html");
    const char *version = json_string_value(json_object_get(obj, "version"));
    const char *vcreated = json_string_value(json_object_get(obj, "versioncreated"));
    if (version || vcreated) {
        char revision[160];
        snprintf(revision, sizeof(revision), "%.40s|%.100s", version ? version : "",
                 vcreated ? vcreated : "");
        fetch_set_str(item, FETCH_REVISION, revision);
    }
    fetch_emit(run, item);
}

/* Whether @text is one JSON document, or JSON Lines starting with an object. */
static bool fetch_parses_as_json(const struct fetch_text *text)
{
    json_t *v = json_loadb(text->data, text->len, 0, NULL);
    if (!v) {
        const char *nl = memchr(text->data, '\n', text->len);
        v = nl ? json_loadb(text->data, (size_t)(nl - text->data), 0, NULL) : NULL;
        if (v && !json_is_object(v)) {
            json_decref(v);
            v = NULL;
        }
    }
    bool ok = v != NULL;
    json_decref(v);
    return ok;
}

/* ninjs: one object, an array of them, or JSON Lines. */
static bool fetch_json_items(struct fetch_run *run, const struct fetch_doc *doc,
                             const struct fetch_text *text)
{
    json_error_t jerr;
    json_t *root = json_loadb(text->data, text->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root) {
        if (json_is_array(root)) {
            size_t i;
            json_t *obj;
            json_array_foreach(root, i, obj)
            {
                char where[32];
                snprintf(where, sizeof(where), " [%zu]", i);
                fetch_ninjs_item(run, doc, text, obj, where);
            }
        } else {
            fetch_ninjs_item(run, doc, text, root, "");
        }
        json_decref(root);
        return true;
    }
    /* JSON Lines: the first line must be a complete object on its own. */
    const char *s = text->data;
    const char *end = s + text->len;
    const char *nl = memchr(s, '\n', text->len);
    json_t *first = nl ? json_loadb(s, (size_t)(nl - s), JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(first)) {
        json_decref(first);
        fetch_failure(run, doc->url, NULL, WP_E_INVALID,
                      "%s: invalid JSON at line %d column %d: %s", doc->url, jerr.line, jerr.column,
                      jerr.text);
        return false;
    }
    json_decref(first);
    int line = 0;
    while (s < end) {
        line++;
        nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *l = s;
        size_t ln = n;
        fetch_trim(&l, &ln);
        s += n + 1;
        if (ln == 0)
            continue;
        char where[32];
        snprintf(where, sizeof(where), ":%d", line);
        json_t *obj = json_loadb(l, ln, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            json_t *partial =
                json_pack("{s:s,s:{s:s}}", WP_ITEM_URI, doc->url, WP_ITEM_SOURCE, "url", doc->url);
            fetch_failure(run, doc->url, partial ? partial : NULL, WP_E_INVALID,
                          "%s%s: invalid JSON at column %d: %s", doc->url, where, jerr.column,
                          jerr.text);
            json_decref(partial);
            continue;
        }
        fetch_ninjs_item(run, doc, text, obj, where);
        json_decref(obj);
    }
    return true;
}

/*
 * fetch_handle_doc() - decode @doc and emit its items. Returns false when the document
 * as a whole failed (it has been reported), so its validators are not remembered.
 */
static bool fetch_handle_doc(struct fetch_run *run, const struct fetch_doc *doc)
{
    struct fetch *f = run->f;
    struct fetch_text text;
    enum wp_status st = fetch_decode(f->host, doc->data, doc->len, doc->content_type, &text);
    if (st != WP_OK) {
        fetch_failure(run, doc->url, NULL, st, "%s: cannot decode the text (%s)", doc->url,
                      f->host->status_name(st));
        return false;
    }
    if (text.replacements)
        wp_log_info(run->ctx, "%s: %ld undecodable byte sequence(s) replaced by U+FFFD (%s)",
                    doc->url, text.replacements, text.charset);
    f->host->metric_add(run->ctx, "replacement_chars", text.replacements);

    const char *t = text.data;
    size_t tn = text.len;
    fetch_trim(&t, &tn);
    if (tn == 0) {
        fetch_failure(run, doc->url, NULL, WP_E_INVALID, "%s: empty document", doc->url);
        f->host->free(text.data);
        return false;
    }
    enum fetch_kind kind = fetch_sniff(text.data, text.len);
    int claimed = fetch_claimed_kind(doc->content_type);
    /* "[Reuters] ..." is text, not broken JSON, unless the sender said it is JSON. */
    if (kind == KIND_JSON && claimed != KIND_JSON && !fetch_parses_as_json(&text))
        kind = KIND_TEXT;
    char mismatch[WP_ERROR_TEXT_MAX];
    const char *mismatch_p = NULL;
    if (!fetch_kinds_agree(claimed, kind)) {
        char media[96];
        fetch_media_type(doc->content_type, media);
        snprintf(mismatch, sizeof(mismatch), "%s: Content-Type '%s' but the content is %s",
                 doc->url, media, fetch_kind_name(kind));
        wp_log_warn(run->ctx, "%s", mismatch);
        mismatch_p = mismatch;
        /* A feed or ninjs that is something else cannot be read as one: say so. */
        if ((claimed == KIND_FEED || claimed == KIND_JSON) &&
            (kind == KIND_HTML || kind == KIND_TEXT)) {
            fetch_failure(run, doc->url, NULL, WP_E_PROTOCOL, "%s", mismatch);
            f->host->free(text.data);
            return false;
        }
    }
    char media[96] = "";
    if (doc->content_type)
        fetch_media_type(doc->content_type, media);
    bool ok;
    switch (kind) {
        case KIND_FEED:
            ok = fetch_feed_items(run, doc, &text, mismatch_p);
            break;
        case KIND_JSON:
            ok = fetch_json_items(run, doc, &text);
            break;
        case KIND_HTML:
        case KIND_XML:
        case KIND_TEXT:
        default:
            ok = fetch_page_item(run, doc, &text,
                                 media[0]            ? media
                                 : kind == KIND_TEXT ? "text/plain"
                                 : kind == KIND_XML  ? "application/xml"
                                                     : "text/html",
                                 mismatch_p);
            break;
    }
    f->host->free(text.data);
    return ok;
}

/* ---------------------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------------------- */

/* Header lines of one request, owned here. */
struct fetch_headers {
    char *lines[4];
    const char *list[5];
    size_t n;
};

static void fetch_headers_release(const struct wp_host_api *host, struct fetch_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        host->free(h->lines[i]);
    h->n = 0;
}

static void fetch_headers_add(const struct wp_host_api *host, struct fetch_headers *h,
                              const char *name, const char *value)
{
    /* A validator with a line break would smuggle a header: never send it. */
    if (h->n >= 4 || strpbrk(value, "\r\n"))
        return;
    struct fbuf b;
    fbuf_init(&b, host);
    if (!fbuf_printf(&b, "%s: %s", name, value)) {
        fbuf_release(&b);
        return;
    }
    h->lines[h->n] = b.data;
    h->list[h->n] = b.data;
    h->n++;
    h->list[h->n] = NULL;
}

static void fetch_prepare(struct fetch_run *run, const char *url, const char *key,
                          struct wp_http_request *req, struct fetch_headers *h)
{
    struct fetch *f = run->f;
    memset(h, 0, sizeof(*h));
    fetch_headers_add(f->host, h, "Accept",
                      "text/html, application/xhtml+xml, application/rss+xml, "
                      "application/atom+xml, application/json, text/plain;q=0.9, */*;q=0.5");
    if (f->conditional && key) {
        char *value = NULL;
        size_t len = 0;
        if (f->host->store_get(run->ctx, FETCH_NS_HTTP, key, strlen(key), &value, &len) == WP_OK) {
            json_t *v = json_loadb(value, len, 0, NULL);
            const char *etag = json_string_value(json_object_get(v, "etag"));
            const char *lm = json_string_value(json_object_get(v, "last_modified"));
            if (etag)
                fetch_headers_add(f->host, h, "If-None-Match", etag);
            if (lm)
                fetch_headers_add(f->host, h, "If-Modified-Since", lm);
            json_decref(v);
            f->host->free(value);
        }
    }
    *req = (struct wp_http_request){
        .url = url,
        .headers = h->list,
        .connect_timeout_ms = f->connect_timeout_ms,
        .timeout_ms = f->timeout_ms,
        .max_body = f->max_body,
        .max_attempts = f->max_attempts,
        .user_agent = f->user_agent,
    };
}

static void fetch_remember_validators(struct fetch_run *run, const char *key,
                                      const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    if (!f->conditional || !key || (!resp->etag && !resp->last_modified))
        return;
    json_t *v = json_object();
    if (resp->etag)
        json_object_set_new(v, "etag", json_string(resp->etag));
    if (resp->last_modified)
        json_object_set_new(v, "last_modified", json_string(resp->last_modified));
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        return;
    enum wp_status st =
        f->host->store_put(run->ctx, FETCH_NS_HTTP, key, strlen(key), text, strlen(text), 0);
    fetch_json_free(text);
    if (st != WP_OK)
        wp_log_warn(run->ctx, "state store: cannot remember validators (%s)",
                    f->host->status_name(st));
}

/* Handle the reply for @url (canonical @key). Returns true when items may have come. */
static bool fetch_handle_response(struct fetch_run *run, const char *url, const char *key,
                                  const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    if (resp->code != WP_OK) {
        if (resp->error[0])
            fetch_failure(run, url, NULL, resp->code, "%s", resp->error);
        else
            fetch_failure(run, url, NULL, resp->code, "%s: %s after %u attempt(s)", url,
                          f->host->status_name(resp->code), resp->attempts);
        return false;
    }
    if (resp->status == 304) {
        wp_log_info(run->ctx, "%s: not modified since the last fetch", url);
        f->host->metric_add(run->ctx, "not_modified", 1);
        return true;
    }
    if (resp->status < 200 || resp->status > 299) {
        fetch_failure(run, url, NULL, resp->status == 429 ? WP_E_QUOTA : WP_E_HTTP,
                      "%s: http %ld after %u attempt(s)", url, resp->status, resp->attempts);
        return false;
    }
    f->host->metric_add(run->ctx, "fetched", 1);
    const char *final = resp->effective_url ? resp->effective_url : url;
    char *host_name = fetch_url_host(f->host, final);
    struct fetch_doc doc = {
        .url = final,
        .content_type = resp->content_type,
        .http_status = resp->status,
        .data = resp->body ? resp->body : "",
        .len = resp->body ? resp->body_len : 0,
        .fallback_name = host_name,
    };
    bool ok = fetch_handle_doc(run, &doc);
    if (host_name)
        f->host->free(host_name);
    if (ok)
        fetch_remember_validators(run, key, resp);
    return ok;
}

/* Fetch @n URLs concurrently and handle each reply in order. */
static void fetch_urls(struct fetch_run *run, const char *const *urls, size_t n)
{
    struct fetch *f = run->f;
    if (n == 0)
        return;
    struct wp_http_request *reqs = f->host->calloc(n, sizeof(*reqs));
    struct wp_http_response *resps = f->host->calloc(n, sizeof(*resps));
    struct fetch_headers *hdrs = f->host->calloc(n, sizeof(*hdrs));
    char **keys = f->host->calloc(n, sizeof(*keys));
    if (!reqs || !resps || !hdrs || !keys) {
        for (size_t i = 0; i < n; i++)
            fetch_failure(run, urls[i], NULL, WP_E_NOMEM, "%s: out of memory", urls[i]);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = fetch_canonical_url(f->host, urls[i]);
        fetch_prepare(run, urls[i], keys[i], &reqs[i], &hdrs[i]);
    }
    enum wp_status st =
        f->host->http_perform_many(run->ctx, reqs, resps, n, f->concurrency, f->per_host);
    if (st == WP_E_CANCELLED) {
        /* The run is stopping: nothing was lost, the URLs are simply not read this time. */
        wp_log_info(run->ctx, "run cancelled: %zu URL(s) not fetched", n);
    } else if (st != WP_OK) {
        for (size_t i = 0; i < n; i++)
            fetch_failure(run, urls[i], NULL, st, "%s: not fetched (%s)", urls[i],
                          f->host->status_name(st));
    } else {
        for (size_t i = 0; i < n; i++)
            fetch_handle_response(run, urls[i], keys[i], &resps[i]);
    }
    for (size_t i = 0; i < n; i++) {
        f->host->http_response_release(&resps[i]);
        fetch_headers_release(f->host, &hdrs[i]);
        if (keys[i])
            f->host->free(keys[i]);
    }
out:
    if (reqs)
        f->host->free(reqs);
    if (resps)
        f->host->free(resps);
    if (hdrs)
        f->host->free(hdrs);
    if (keys)
        f->host->free(keys);
}

/*
 * follow: fetch the page each entry links to. Entries whose link is not http(s) or whose
 * page cannot be fetched are dead-lettered and replaced by null in @items.
 */
static void fetch_follow_links(struct fetch_run *run, json_t *items)
{
    struct fetch *f = run->f;
    size_t n = json_array_size(items);
    if (n == 0)
        return;
    struct wp_http_request *reqs = f->host->calloc(n, sizeof(*reqs));
    struct wp_http_response *resps = f->host->calloc(n, sizeof(*resps));
    size_t *index = f->host->calloc(n, sizeof(*index));
    struct fetch_headers none;
    memset(&none, 0, sizeof(none));
    if (!reqs || !resps || !index)
        goto out;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(items, i);
        const char *link = json_string_value(json_object_get(item, "x_fetch_link"));
        if (!link)
            continue; /* nothing to follow: the entry stands as it is */
        if (!fetch_is_http_url(link)) {
            const char *colon = NULL;
            int scheme_len = fetch_has_scheme(link, &colon) ? (int)(colon - link) : 0;
            fetch_failure(run, link, item, WP_E_INVALID,
                          "refusing to follow '%.*s:' link '%.80s' from feed entry: only http "
                          "and https",
                          scheme_len, link, link);
            json_array_set_new(items, i, json_null());
            continue;
        }
        reqs[count] = (struct wp_http_request){
            .url = link,
            .connect_timeout_ms = f->connect_timeout_ms,
            .timeout_ms = f->timeout_ms,
            .max_body = f->max_body,
            .max_attempts = f->max_attempts,
            .user_agent = f->user_agent,
        };
        index[count++] = i;
    }
    if (count == 0)
        goto out;
    enum wp_status st =
        f->host->http_perform_many(run->ctx, reqs, resps, count, f->concurrency, f->per_host);
    for (size_t k = 0; k < count; k++) {
        json_t *item = json_array_get(items, index[k]);
        const struct wp_http_response *resp = &resps[k];
        const char *link = reqs[k].url;
        if (st != WP_OK || resp->code != WP_OK || resp->status < 200 || resp->status > 299) {
            enum wp_status code = st != WP_OK ? st : resp->code != WP_OK ? resp->code : WP_E_HTTP;
            if (st == WP_OK && resp->code != WP_OK && resp->error[0])
                fetch_failure(run, link, item, code, "%s", resp->error);
            else if (st != WP_OK || resp->code != WP_OK)
                fetch_failure(run, link, item, code, "%s: %s after %u attempt(s)", link,
                              f->host->status_name(code), resp->attempts);
            else
                fetch_failure(run, link, item, code, "%s: http %ld after %u attempt(s)", link,
                              resp->status, resp->attempts);
            json_array_set_new(items, index[k], json_null());
            continue;
        }
        struct fetch_text text;
        enum wp_status dst =
            fetch_decode(f->host, resp->body ? resp->body : "", resp->body ? resp->body_len : 0,
                         resp->content_type, &text);
        if (dst != WP_OK) {
            fetch_failure(run, link, item, dst, "%s: cannot decode the text (%s)", link,
                          f->host->status_name(dst));
            json_array_set_new(items, index[k], json_null());
            continue;
        }
        fetch_set_strn(item, WP_ITEM_CONTENT, text.data, text.len);
        json_t *source = json_object_get(item, WP_ITEM_SOURCE);
        const char *final = resp->effective_url ? resp->effective_url : link;
        fetch_set_str(source, "url", final);
        char media[96] = "text/html";
        if (resp->content_type)
            fetch_media_type(resp->content_type, media);
        fetch_set_str(source, "content_type", media);
        json_object_set_new(source, "http_status", json_integer(resp->status));
        fetch_set_str(source, "charset", text.charset);
        json_object_set_new(source, "replacement_chars", json_integer(text.replacements));
        f->host->free(text.data);
    }
    for (size_t k = 0; k < count; k++)
        f->host->http_response_release(&resps[k]);
out:
    if (reqs)
        f->host->free(reqs);
    if (resps)
        f->host->free(resps);
    if (index)
        f->host->free(index);
}

/* ---------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------- */

/* file:// URI of an absolute path, for uri/source.url and the id. */
static char *fetch_file_uri(const struct wp_host_api *host, const char *path)
{
    xmlChar *escaped = xmlURIEscapeStr((const xmlChar *)path, (const xmlChar *)"/");
    struct fbuf b;
    fbuf_init(&b, host);
    if (!fbuf_printf(&b, "file://%s", escaped ? (const char *)escaped : path)) {
        fbuf_release(&b);
        b.data = NULL;
    }
    if (escaped)
        xmlFree(escaped);
    return b.data;
}

static void fetch_file(struct fetch_run *run, const char *path)
{
    struct fetch *f = run->f;
    char *uri = fetch_file_uri(f->host, path);
    const char *where = uri ? uri : path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *data = NULL;
    if (fd < 0) {
        fetch_failure(run, where, NULL, WP_E_IO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fetch_failure(run, where, NULL, WP_E_IO, "'%s' is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > f->max_body) {
        fetch_failure(run, where, NULL, WP_E_LIMIT,
                      "'%s' is %lld bytes, larger than max_body (%zu)", path, (long long)st.st_size,
                      f->max_body);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = f->host->malloc(size + 1);
    if (!data) {
        fetch_failure(run, where, NULL, WP_E_NOMEM, "'%s': out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fetch_failure(run, where, NULL, WP_E_IO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    const char *base = strrchr(path, '/');
    struct fetch_doc doc = {
        .url = where,
        .content_type = fetch_guess_type(path),
        .http_status = 0,
        .data = data,
        .len = got,
        .fallback_name = base ? base + 1 : path,
    };
    f->host->metric_add(run->ctx, "files", 1);
    fetch_handle_doc(run, &doc);
out:
    if (fd >= 0)
        close(fd);
    if (data)
        f->host->free(data);
    if (uri)
        f->host->free(uri);
}

static int fetch_cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The regular, non-hidden files of folder @dir, one level, in byte order. */
static void fetch_folder(struct fetch_run *run, const char *dir)
{
    struct fetch *f = run->f;
    DIR *d = opendir(dir);
    if (!d) {
        fetch_failure(run, dir, NULL, WP_E_IO, "cannot open folder '%s': %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **p = f->host->realloc(names, ncap * sizeof(*names));
            if (!p)
                break;
            names = p;
            cap = ncap;
        }
        struct fbuf b;
        fbuf_init(&b, f->host);
        if (!fbuf_printf(&b, "%s/%s", dir, e->d_name)) {
            fbuf_release(&b);
            break;
        }
        names[n++] = b.data;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), fetch_cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!f->host->cancelled(run->ctx) && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            fetch_file(run, names[i]);
        f->host->free(names[i]);
    }
    if (names)
        f->host->free(names);
}

static void fetch_path(struct fetch_run *run, const char *configured)
{
    struct fetch *f = run->f;
    struct fbuf abs;
    fbuf_init(&abs, f->host);
    const char *base = f->host->pipeline_dir(run->ctx);
    if (configured[0] != '/' && base && base[0])
        fbuf_printf(&abs, "%s/%s", base, configured);
    else
        fbuf_puts(&abs, configured);
    if (!abs.data) {
        fetch_failure(run, configured, NULL, WP_E_NOMEM, "out of memory");
        return;
    }
    const char *path = abs.data;
    if (strpbrk(configured, "*?[")) {
        glob_t g;
        int rc = glob(path, GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            wp_log_warn(run->ctx, "pattern '%s' matches no file", configured);
        } else if (rc != 0) {
            fetch_failure(run, path, NULL, WP_E_IO, "cannot expand pattern '%s'", configured);
        } else {
            for (size_t i = 0; i < g.gl_pathc && !f->host->cancelled(run->ctx); i++) {
                struct stat st;
                if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
                    fetch_file(run, g.gl_pathv[i]);
            }
        }
        if (rc == 0)
            globfree(&g);
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            fetch_folder(run, path);
        else
            fetch_file(run, path);
    }
    fbuf_release(&abs);
}

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

static void fetch_destroy(void *instance)
{
    struct fetch *f = instance;
    if (!f)
        return;
    for (size_t i = 0; i < f->n_urls; i++)
        f->host->free(f->urls[i]);
    for (size_t i = 0; i < f->n_paths; i++)
        f->host->free(f->paths[i]);
    if (f->urls)
        f->host->free(f->urls);
    if (f->paths)
        f->host->free(f->paths);
    if (f->source_name)
        f->host->free(f->source_name);
    if (f->user_agent)
        f->host->free(f->user_agent);
    f->host->free(f);
}

static bool fetch_config_int(struct wp_ctx *ctx, const json_t *config, const char *key,
                             long long min, long long max, long long *out)
{
    const json_t *v = json_object_get(config, key);
    if (!v)
        return true; /* the host filled defaults; a missing key keeps ours */
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        wp_fail(ctx, WP_E_CONFIG, "%s: expected an integer from %lld to %lld", key, min, max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool fetch_config_strings(struct wp_ctx *ctx, struct fetch *f, const json_t *config,
                                 const char *key, char ***out, size_t *n)
{
    const json_t *v = json_object_get(config, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v)) {
        wp_fail(ctx, WP_E_CONFIG, "%s: expected an array of strings", key);
        return false;
    }
    size_t count = json_array_size(v);
    if (count == 0)
        return true;
    *out = f->host->calloc(count, sizeof(char *));
    if (!*out) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            wp_fail(ctx, WP_E_CONFIG, "%s[%zu]: expected a non-empty string", key, i);
            return false;
        }
        (*out)[i] = f->host->strndup(json_string_value(s), json_string_length(s));
        if (!(*out)[i]) {
            wp_fail(ctx, WP_E_NOMEM, "out of memory");
            return false;
        }
        (*n)++;
    }
    return true;
}

static enum wp_status fetch_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct fetch *f = ctx->host->calloc(1, sizeof(*f));
    if (!f) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    f->host = ctx->host;
    f->concurrency = 8;
    f->per_host = 4;
    f->max_attempts = 4;
    f->timeout_ms = 30000;
    f->connect_timeout_ms = 10000;
    f->max_body = 10u << 20;
    f->dedup = true;
    f->conditional = true;
    long long v;
    if (!fetch_config_strings(ctx, f, config, "urls", &f->urls, &f->n_urls) ||
        !fetch_config_strings(ctx, f, config, "paths", &f->paths, &f->n_paths))
        goto fail;
    for (size_t i = 0; i < f->n_urls; i++) {
        const char *u = f->urls[i];
        if (!fetch_is_http_url(u) && strncasecmp(u, "file://", 7) != 0) {
            wp_fail(ctx, WP_E_CONFIG, "urls[%zu]: '%s' is not an http, https or file URL", i, u);
            goto fail;
        }
    }
    v = f->concurrency;
    if (!fetch_config_int(ctx, config, "concurrency", 1, 256, &v))
        goto fail;
    f->concurrency = (unsigned)v;
    v = f->per_host;
    if (!fetch_config_int(ctx, config, "per_host", 1, 256, &v))
        goto fail;
    f->per_host = (unsigned)v;
    v = f->max_attempts;
    if (!fetch_config_int(ctx, config, "max_attempts", 1, 20, &v))
        goto fail;
    f->max_attempts = (unsigned)v;
    v = f->timeout_ms;
    if (!fetch_config_int(ctx, config, "timeout_ms", 1, 3600000, &v))
        goto fail;
    f->timeout_ms = (long)v;
    v = f->connect_timeout_ms;
    if (!fetch_config_int(ctx, config, "connect_timeout_ms", 1, 600000, &v))
        goto fail;
    f->connect_timeout_ms = (long)v;
    v = (long long)f->max_body;
    if (!fetch_config_int(ctx, config, "max_body", 1, 1LL << 30, &v))
        goto fail;
    f->max_body = (size_t)v;
    const json_t *b;
    if ((b = json_object_get(config, "follow")))
        f->follow = json_is_true(b);
    if ((b = json_object_get(config, "dedup")))
        f->dedup = json_is_true(b);
    if ((b = json_object_get(config, "conditional")))
        f->conditional = json_is_true(b);
    const char *s;
    if ((s = json_string_value(json_object_get(config, "source_name"))) && *s &&
        !(f->source_name = f->host->strndup(s, strlen(s))))
        goto nomem;
    if ((s = json_string_value(json_object_get(config, "user_agent"))) && *s) {
        if (strpbrk(s, "\r\n")) {
            wp_fail(ctx, WP_E_CONFIG, "user_agent: must be one line");
            goto fail;
        }
        if (!(f->user_agent = f->host->strndup(s, strlen(s))))
            goto nomem;
    }
    *instance = f;
    return WP_OK;
nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory");
fail:
    fetch_destroy(f);
    return WP_E_CONFIG;
}

static enum wp_outcome fetch_generate(void *instance, struct wp_ctx *ctx)
{
    struct fetch *f = instance;
    struct fetch_run run = {.f = f, .ctx = ctx};
    const char **http = NULL;
    size_t n_http = 0;
    if (f->n_urls) {
        http = f->host->calloc(f->n_urls, sizeof(*http));
        if (!http) {
            wp_fail(ctx, WP_E_NOMEM, "out of memory");
            return WP_OUTCOME_FATAL;
        }
    }
    for (size_t i = 0; i < f->n_urls; i++) {
        if (fetch_is_http_url(f->urls[i]))
            http[n_http++] = f->urls[i];
    }
    fetch_urls(&run, http, n_http);
    if (http)
        f->host->free(http);
    /* file:// URLs from the pipeline are read like paths, after the http ones. */
    for (size_t i = 0; i < f->n_urls && !f->host->cancelled(ctx); i++) {
        if (strncasecmp(f->urls[i], "file://", 7) != 0)
            continue;
        xmlChar *path = (xmlChar *)xmlURIUnescapeString(f->urls[i] + 7, 0, NULL);
        if (path) {
            fetch_file(&run, (const char *)path);
            xmlFree(path);
        }
    }
    for (size_t i = 0; i < f->n_paths && !f->host->cancelled(ctx); i++)
        fetch_path(&run, f->paths[i]);
    wp_log_debug(ctx, "emitted %zu item(s)", run.emitted);
    return WP_OUTCOME_OK;
}

static enum wp_outcome fetch_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct fetch *f = instance;
    const char *uri = json_string_value(json_object_get(item, WP_ITEM_URI));
    if (!uri || json_object_get(item, WP_ITEM_CONTENT) || json_object_get(item, WP_ITEM_BODY))
        return WP_OUTCOME_OK; /* already has its text, or nothing to fetch: pass it on */
    if (!fetch_is_http_url(uri)) {
        wp_fail(ctx, WP_E_INVALID,
                "refusing to fetch '%.80s': input items may only name http or https URLs", uri);
        return WP_OUTCOME_REJECT;
    }
    struct fetch_run run = {.f = f, .ctx = ctx, .input = item};
    char *key = fetch_canonical_url(f->host, uri);
    struct wp_http_request req;
    struct fetch_headers h;
    struct wp_http_response resp;
    memset(&resp, 0, sizeof(resp));
    fetch_prepare(&run, uri, key, &req, &h);
    f->host->http_perform(ctx, &req, &resp);
    fetch_handle_response(&run, uri, key, &resp);
    f->host->http_response_release(&resp);
    fetch_headers_release(f->host, &h);
    if (key)
        f->host->free(key);
    if (run.fail_code != WP_OK) {
        wp_fail(ctx, run.fail_code, "%s", run.fail_text);
        /* A transient failure the shared client already retried stays a rejection. */
        return WP_OUTCOME_REJECT;
    }
    return run.emitted ? WP_OUTCOME_OK : WP_OUTCOME_DROP;
}

static const struct wp_stage_ops fetch_ops = {
    .name = "fetch",
    .description = "Fetch pages, RSS/Atom feeds and ninjs from http(s) URLs and local files",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = fetch_config,
    .create = fetch_create,
    .process = fetch_process,
    .generate = fetch_generate,
    .destroy = fetch_destroy,
};

static const struct wp_stage_ops *const fetch_stages[] = {&fetch_ops, NULL};

WP_PLUGIN_DEFINE(fetch, "0.1.0", "Fetch pages, feeds and ninjs documents", "MIT", fetch_stages)
