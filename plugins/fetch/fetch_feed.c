/*
 * fetch_feed.c - RSS 2.0, RSS 1.0 and Atom 1.0 entries as JSON objects.
 *
 * libxml2 parses with XML_PARSE_NONET and without XML_PARSE_NOENT/DTDLOAD, so no external
 * entity or DTD is ever fetched or expanded. The text handed in is UTF-8 already (see
 * fetch_charset.c), and the parser is told so, overriding the document's own declaration.
 *
 * Each entry becomes {headline, link, guid, published, authors[], keywords[], content,
 * content_type}; fetch_items.c turns it into an item.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fetch.h"

#define NS_ATOM    "http://www.w3.org/2005/Atom"
#define NS_RSS1    "http://purl.org/rss/1.0/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_DC      "http://purl.org/dc/elements/1.1/"
#define NS_RDF     "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

enum fetch_feed_kind {
    FEED_NONE,
    FEED_RSS2,
    FEED_RSS1,
    FEED_ATOM,
};

static bool feed_is(const xmlNode *node, const char *name, const char *ns)
{
    if (node->type != XML_ELEMENT_NODE || strcmp((const char *)node->name, name) != 0)
        return false;
    if (!ns)
        return node->ns == NULL;
    return node->ns && node->ns->href && strcmp((const char *)node->ns->href, ns) == 0;
}

/* The element's text, trimmed, as a JSON string; NULL when empty or not UTF-8. */
static json_t *feed_text(const xmlNode *node)
{
    xmlChar *content = xmlNodeGetContent(node);
    if (!content)
        return NULL;
    const char *s = (const char *)content;
    size_t n = strlen(s);
    fetch_trim(&s, &n);
    json_t *v = n ? json_stringn(s, n) : NULL;
    xmlFree(content);
    return v;
}

static void feed_set_text(json_t *entry, const char *key, const xmlNode *node, bool replace)
{
    if (!replace && json_object_get(entry, key))
        return;
    json_t *v = feed_text(node);
    if (v)
        json_object_set_new(entry, key, v);
}

static void feed_append_text(json_t *entry, const char *key, json_t *value)
{
    if (!value)
        return;
    json_t *arr = json_object_get(entry, key);
    if (!arr) {
        arr = json_array();
        json_object_set_new(entry, key, arr);
    }
    json_array_append_new(arr, value);
}

static void feed_set_attr(json_t *entry, const char *key, const xmlNode *node, const char *attr)
{
    xmlChar *v = xmlGetProp(node, (const xmlChar *)attr);
    if (!v)
        return;
    const char *s = (const char *)v;
    size_t n = strlen(s);
    fetch_trim(&s, &n);
    if (n)
        fetch_set_strn(entry, key, s, n);
    xmlFree(v);
}

/* One RSS <item> (2.0 without namespace, 1.0 in its namespace). */
static json_t *feed_rss_item(const xmlNode *item, const char *rss_ns)
{
    json_t *entry = json_object();
    if (!entry)
        return NULL;
    for (const xmlNode *c = item->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (feed_is(c, "title", rss_ns))
            feed_set_text(entry, "headline", c, true);
        else if (feed_is(c, "link", rss_ns))
            feed_set_text(entry, "link", c, true);
        else if (feed_is(c, "guid", rss_ns))
            feed_set_text(entry, "guid", c, true);
        else if (feed_is(c, "pubDate", rss_ns) || feed_is(c, "date", NS_DC))
            feed_set_text(entry, "published", c, false);
        else if (feed_is(c, "description", rss_ns))
            feed_set_text(entry, "description", c, true);
        else if (feed_is(c, "encoded", NS_CONTENT))
            feed_set_text(entry, "content", c, true);
        else if (feed_is(c, "author", rss_ns) || feed_is(c, "creator", NS_DC))
            feed_append_text(entry, "authors", feed_text(c));
        else if (feed_is(c, "category", rss_ns) || feed_is(c, "subject", NS_DC))
            feed_append_text(entry, "keywords", feed_text(c));
    }
    /* RSS 1.0 names the item by its rdf:about. */
    if (!json_object_get(entry, "guid")) {
        xmlChar *about = xmlGetNsProp(item, (const xmlChar *)"about", (const xmlChar *)NS_RDF);
        if (about) {
            if (*about)
                fetch_set_str(entry, "guid", (const char *)about);
            xmlFree(about);
        }
    }
    json_t *desc = json_object_get(entry, "description");
    if (!json_object_get(entry, "content") && desc)
        json_object_set(entry, "content", desc);
    json_object_del(entry, "description");
    /* RSS descriptions carry escaped HTML in practice. */
    if (json_object_get(entry, "content"))
        fetch_set_str(entry, "content_type", "text/html");
    return entry;
}

static json_t *feed_atom_entry(const xmlNode *e)
{
    json_t *entry = json_object();
    if (!entry)
        return NULL;
    bool have_alternate = false;
    for (const xmlNode *c = e->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (feed_is(c, "title", NS_ATOM)) {
            feed_set_text(entry, "headline", c, true);
        } else if (feed_is(c, "link", NS_ATOM)) {
            xmlChar *rel = xmlGetProp(c, (const xmlChar *)"rel");
            bool alternate = !rel || strcmp((const char *)rel, "alternate") == 0;
            if (rel)
                xmlFree(rel);
            if (alternate && !have_alternate) {
                feed_set_attr(entry, "link", c, "href");
                have_alternate = json_object_get(entry, "link") != NULL;
                /* xml:base (or the document's own URL) is what a relative href means. */
                xmlChar *base = xmlNodeGetBase(c->doc, c);
                if (base) {
                    fetch_set_str(entry, "base", (const char *)base);
                    xmlFree(base);
                }
            }
        } else if (feed_is(c, "id", NS_ATOM)) {
            feed_set_text(entry, "guid", c, true);
        } else if (feed_is(c, "published", NS_ATOM)) {
            feed_set_text(entry, "published", c, true);
        } else if (feed_is(c, "updated", NS_ATOM)) {
            feed_set_text(entry, "published", c, false);
            feed_set_text(entry, "updated", c, true);
        } else if (feed_is(c, "content", NS_ATOM) || feed_is(c, "summary", NS_ATOM)) {
            bool is_content = feed_is(c, "content", NS_ATOM);
            if (!is_content && json_object_get(entry, "content"))
                continue;
            xmlChar *type = xmlGetProp(c, (const xmlChar *)"type");
            const char *t = type ? (const char *)type : "text";
            const char *ct =
                strcmp(t, "html") == 0 || strcmp(t, "xhtml") == 0 || strcmp(t, "text/html") == 0
                    ? "text/html"
                    : "text/plain";
            json_t *text = NULL;
            if (strcmp(t, "xhtml") == 0) {
                /* Inline XHTML: keep the markup for extract. */
                xmlBufferPtr buf = xmlBufferCreate();
                if (buf) {
                    for (xmlNode *k = c->children; k; k = k->next)
                        xmlNodeDump(buf, c->doc, k, 0, 0);
                    const char *s = (const char *)xmlBufferContent(buf);
                    text = s ? json_string(s) : NULL;
                    xmlBufferFree(buf);
                }
            } else {
                text = feed_text(c);
            }
            if (type)
                xmlFree(type);
            if (text) {
                json_object_set_new(entry, "content", text);
                fetch_set_str(entry, "content_type", ct);
            }
        } else if (feed_is(c, "author", NS_ATOM)) {
            for (const xmlNode *a = c->children; a; a = a->next) {
                if (feed_is(a, "name", NS_ATOM))
                    feed_append_text(entry, "authors", feed_text(a));
            }
        } else if (feed_is(c, "category", NS_ATOM)) {
            xmlChar *term = xmlGetProp(c, (const xmlChar *)"label");
            if (!term)
                term = xmlGetProp(c, (const xmlChar *)"term");
            if (term) {
                if (*term)
                    feed_append_text(entry, "keywords", json_string((const char *)term));
                xmlFree(term);
            }
        }
    }
    return entry;
}

/* fetch_parse_feed() - see fetch.h. */
enum wp_status fetch_parse_feed(const struct fetch_text *text, const char *base_url,
                                json_t *entries, char *err, size_t errlen)
{
    if (text->len > INT_MAX) {
        snprintf(err, errlen, "feed too large to parse");
        return WP_E_LIMIT;
    }
    xmlParserCtxtPtr pctx = xmlNewParserCtxt();
    if (!pctx) {
        snprintf(err, errlen, "out of memory");
        return WP_E_NOMEM;
    }
    enum wp_status status = WP_E_INVALID;
    xmlChar *channel_link = NULL;
    xmlDocPtr doc = xmlCtxtReadMemory(pctx, text->data, (int)text->len, base_url, "UTF-8",
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        xmlErrorPtr e = xmlCtxtGetLastError(pctx);
        char msg[160] = "not well-formed XML";
        if (e && e->message) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            size_t n = strlen(msg);
            while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        }
        snprintf(err, errlen, "broken feed: line %d: %s", e ? e->line : 0, msg);
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    enum fetch_feed_kind kind = FEED_NONE;
    if (root && feed_is(root, "rss", NULL))
        kind = FEED_RSS2;
    else if (root && feed_is(root, "RDF", NS_RDF))
        kind = FEED_RSS1;
    else if (root && feed_is(root, "feed", NS_ATOM))
        kind = FEED_ATOM;
    if (kind == FEED_NONE) {
        snprintf(err, errlen, "xml document is neither RSS nor Atom (root element '%.40s')",
                 root ? (const char *)root->name : "");
        goto out_doc;
    }
    const xmlNode *parent = root;
    if (kind == FEED_RSS2) {
        parent = NULL;
        for (const xmlNode *c = root->children; c; c = c->next) {
            if (feed_is(c, "channel", NULL)) {
                parent = c;
                break;
            }
        }
        if (!parent) {
            snprintf(err, errlen, "broken feed: <rss> has no <channel>");
            goto out_doc;
        }
    }
    /*
     * RSS links are relative to the feed's address; a feed read from a file has no useful
     * address, so there the channel's own <link> is the base.
     */
    if (kind != FEED_ATOM && !fetch_is_http_url(base_url)) {
        for (const xmlNode *c = parent->children; c; c = c->next) {
            if (feed_is(c, "link", kind == FEED_RSS1 ? NS_RSS1 : NULL) ||
                (kind == FEED_RSS1 && feed_is(c, "channel", NS_RSS1))) {
                const xmlNode *l = c;
                if (kind == FEED_RSS1 && feed_is(c, "channel", NS_RSS1)) {
                    for (l = c->children; l && !feed_is(l, "link", NS_RSS1); l = l->next)
                        ;
                    if (!l)
                        continue;
                }
                channel_link = xmlNodeGetContent(l);
                break;
            }
        }
    }
    for (const xmlNode *c = parent->children; c; c = c->next) {
        json_t *entry = NULL;
        if (kind == FEED_RSS2 && feed_is(c, "item", NULL))
            entry = feed_rss_item(c, NULL);
        else if (kind == FEED_RSS1 && feed_is(c, "item", NS_RSS1))
            entry = feed_rss_item(c, NS_RSS1);
        else if (kind == FEED_ATOM && feed_is(c, "entry", NS_ATOM))
            entry = feed_atom_entry(c);
        else
            continue;
        if (entry && channel_link && kind != FEED_ATOM) {
            const char *l = (const char *)channel_link;
            size_t n = strlen(l);
            fetch_trim(&l, &n);
            if (n)
                fetch_set_strn(entry, "base", l, n);
        }
        if (!entry || json_array_append_new(entries, entry) != 0) {
            snprintf(err, errlen, "out of memory");
            status = WP_E_NOMEM;
            goto out_doc;
        }
    }
    status = WP_OK;
out_doc:
    if (channel_link)
        xmlFree(channel_link);
    xmlFreeDoc(doc);
out:
    xmlFreeParserCtxt(pctx);
    return status;
}
