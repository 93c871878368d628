/*
 * fetch_items.c - documents to items: one per page, feed entry or ninjs object, each with
 * its stable id and its "source", and the reports for what cannot become one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <wirepipe/buf.h>

#include <jansson.h>

#include "fetch.h"

/* ---------------------------------------------------------------------------------------
 * Reporting
 * ------------------------------------------------------------------------------------- */

/* fetch_failure() - see fetch.h. */
void fetch_failure(struct fetch_run *run, const char *url, const json_t *partial,
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

/* fetch_source_failure() - see fetch.h. */
void fetch_source_failure(struct fetch_run *run, const char *url, enum wp_status code,
                          const char *fmt, ...)
{
    char text[WP_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (run->input || run->f->every_ms == 0) {
        fetch_failure(run, url, NULL, code, "%s", text);
        return;
    }
    run->f->host->metric_add(run->ctx, "failed", 1);
    wp_log_warn(run->ctx, "%s; read again at the next poll", text);
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
    if (text)
        fetch_source_set_text(source, text);
    return source;
}

/* fetch_source_set_text() - see fetch.h. */
void fetch_source_set_text(json_t *source, const struct fetch_text *text)
{
    fetch_set_str(source, "charset", text->charset);
    json_object_set_new(source, "replacement_chars", json_integer(text->replacements));
}

/* A new item: a copy of the --input item when there is one, else empty. */
static json_t *fetch_new_item(struct fetch_run *run)
{
    return run->input ? json_deep_copy(run->input) : json_object();
}

/* ---------------------------------------------------------------------------------------
 * Documents -> items
 * ------------------------------------------------------------------------------------- */

static void fetch_add_mismatch(struct fetch_run *run, json_t *item, const char *mismatch)
{
    if (mismatch)
        run->f->host->item_add_error(run->ctx, item, WP_E_PROTOCOL, "%s", mismatch);
}

/* A page (HTML, plain text or other XML): one item carrying the text as "content". */
bool fetch_page_item(struct fetch_run *run, const struct fetch_doc *doc,
                     const struct fetch_text *text, const char *media_type, const char *mismatch)
{
    json_t *item = fetch_new_item(run);
    if (!item)
        return false;
    char *canonical = fetch_canonical_url(run->f->host, doc->url);
    bool ok = fetch_set_id(run->f->host, item, canonical ? canonical : doc->url) &&
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
    struct wp_buf identity;
    wp_buf_init(&identity, f->host);
    if (guid) {
        wp_buf_adds(&identity, guid);
    } else if (uri) {
        wp_buf_adds(&identity, uri);
    } else {
        const char *headline = json_string_value(json_object_get(entry, "headline"));
        wp_buf_addf(&identity, "%s#%s", doc->url, headline ? headline : "");
    }
    bool ok = !identity.failed && identity.data && fetch_set_id(f->host, item, identity.data);
    wp_buf_release(&identity);

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
        fetch_set_str(item, FETCH_LINK, resolved);
    if (resolved)
        f->host->free(resolved);
    if (canonical)
        f->host->free(canonical);
    if (!ok) {
        json_decref(item); /* the entry keeps its members, for the dead letter */
        return NULL;
    }
    /*
     * The item now holds the only reference to what it took from the entry. Once emitted it
     * is read on other threads while this one frees the entries, and a value shared between
     * the two would be ordered only by jansson's reference count, which ThreadSanitizer
     * cannot see (the library is not instrumented).
     */
    static const char *const taken[] = {"headline", "authors", "keywords", "content", "updated"};
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
        json_object_del(entry, taken[i]);
    return item;
}

/*
 * follow: @item waits for the page it links to, unless it is known already or its link
 * is refused. @item is stolen.
 */
static void fetch_entry_follow(struct fetch_run *run, const struct fetch_doc *doc, json_t *item,
                               size_t nth)
{
    const char *link = json_string_value(json_object_get(item, FETCH_LINK));
    if (!link) {
        fetch_emit(run, item); /* nothing to follow: the entry stands as it is */
        return;
    }
    /* Claimed before its page is fetched: known and in-flight stories cost no request. */
    if (!fetch_claim(run, item)) {
        json_decref(item);
        return;
    }
    if (!fetch_is_http_url(link)) {
        const char *colon = NULL;
        int scheme_len = fetch_has_scheme(link, &colon) ? (int)(colon - link) : 0;
        fetch_failure(run, link, item, WP_E_INVALID,
                      "refusing to follow '%.*s:' link '%.80s' from feed entry: only http "
                      "and https",
                      scheme_len, link, link);
        fetch_unclaim(run, item, true);
        json_decref(item);
        return;
    }
    json_incref(item); /* the queue takes one reference; this one is for a report */
    if (!fetch_queue_link(run, item, link)) {
        fetch_failure(run, doc->url, item, WP_E_NOMEM, "%s: cannot queue entry %zu", doc->url, nth);
        fetch_unclaim(run, item, true);
    }
    json_decref(item);
}

bool fetch_feed_items(struct fetch_run *run, const struct fetch_doc *doc,
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
    size_t i;
    json_t *entry;
    json_array_foreach(entries, i, entry)
    {
        if (run->stopped)
            break;
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
        fetch_add_mismatch(run, item, mismatch);
        if (f->follow)
            fetch_entry_follow(run, doc, item, i + 1);
        else
            fetch_emit(run, item);
    }
    json_decref(entries);
    /* In generate()'s URL batch the pages are fetched after it, all in one batch. */
    if (!run->defer_links)
        fetch_follow_links(run);
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
    if (!ok || !uri || !fetch_set_id(run->f->host, item, uri)) {
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

/* ninjs: one object, an array of them, or JSON Lines. */
bool fetch_json_items(struct fetch_run *run, const struct fetch_doc *doc,
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
