/*
 * fetch_doc.c - one fetched document: decode it, tell what it is (a page, a feed or JSON)
 * from its first bytes and from what its Content-Type claims, and hand it to the item
 * builder that fits. A disagreement is logged and noted on the items; a "feed" or "JSON"
 * that is really a page cannot be read as one and fails with the reason.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fetch.h"

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

/* fetch_handle_doc() - see fetch.h. */
bool fetch_handle_doc(struct fetch_run *run, const struct fetch_doc *doc)
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
