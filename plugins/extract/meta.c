/*
 * meta.c - metadata of an HTML page from one walk over the document: meta tags (Open
 * Graph, Twitter, Dublin Core, parse.ly, ...), <html lang>, <link rel=canonical>, <time>,
 * itemprop and byline elements, and the JSON-LD blocks jsonld.c reads. Each field then
 * takes the first candidate in a fixed order of preference.
 */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>
#include <libxml/tree.h>
#include <libxml/uri.h>

#include "extract.h"

/* <meta> names and properties of a publication date, an author, a language. */
static const char *const date_keys[] = {"article:published_time",
                                        "og:published_time",
                                        "published_time",
                                        "pubdate",
                                        "publishdate",
                                        "publish-date",
                                        "dc.date.issued",
                                        "dcterms.created",
                                        "dc.date",
                                        "date",
                                        "sailthru.date",
                                        "parsely-pub-date",
                                        "article.published",
                                        "datepublished",
                                        NULL};
static const char *const author_keys[] = {"author",          "article:author", "byl", "dc.creator",
                                          "sailthru.author", "parsely-author", NULL};
static const char *const language_keys[] = {"content-language", "language", "dc.language", NULL};

/* Is @key one of @names, ignoring case? */
static bool key_in(const char *key, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        if (ex_ieq(key, names[i]))
            return true;
    }
    return false;
}

/* The first candidate found wins. */
static void keep_first(const char **slot, const char *value)
{
    if (!*slot)
        *slot = value;
}

static void meta_element(struct ex_meta *mw, xmlNode *n)
{
    const char *name = (const char *)n->name;
    if (strcmp(name, "meta") == 0) {
        const char *key = ex_attr(n, "property");
        if (!key)
            key = ex_attr(n, "name");
        if (!key)
            key = ex_attr(n, "itemprop");
        const char *http = ex_attr(n, "http-equiv");
        const char *content = ex_attr(n, "content");
        if (!content)
            return;
        if (http && ex_ieq(http, "content-language"))
            keep_first(&mw->lang_http, content);
        if (!key)
            return;
        if (ex_ieq(key, "og:title"))
            keep_first(&mw->og_title, content);
        else if (ex_ieq(key, "twitter:title"))
            keep_first(&mw->tw_title, content);
        else if (ex_ieq(key, "og:site_name"))
            ex_result_set_once(mw->r, &mw->r->site_name, content);
        else if (ex_ieq(key, "og:url"))
            keep_first(&mw->og_url, content);
        else if (ex_ieq(key, "og:locale"))
            keep_first(&mw->lang_og, content);
        else if (key_in(key, date_keys))
            keep_first(&mw->pub_meta, content);
        else if (key_in(key, author_keys))
            ex_add_author(mw->host, mw->meta_authors, content);
        else if (ex_ieq(key, "keywords") || ex_ieq(key, "news_keywords"))
            ex_add_split(mw->host, mw->meta_keywords, content, ",;", EX_MAX_KEYWORDS);
        else if (ex_ieq(key, "article:tag") || ex_ieq(key, "parsely-tags"))
            ex_add_split(mw->host, mw->meta_keywords, content, ",", EX_MAX_KEYWORDS);
        else if (key_in(key, language_keys))
            keep_first(&mw->lang_http, content);
        return;
    }
    if (strcmp(name, "html") == 0) {
        const char *l = ex_attr(n, "lang");
        if (!l)
            l = ex_attr(n, "xml:lang");
        mw->lang_html = l;
        return;
    }
    if (strcmp(name, "link") == 0) {
        const char *rel = ex_attr(n, "rel");
        const char *href = ex_attr(n, "href");
        if (rel && href && ex_ieq(rel, "canonical") && !mw->canon_link)
            mw->canon_link = href;
        return;
    }
    if (strcmp(name, "title") == 0 && !mw->title_node) {
        mw->title_node = n;
        return;
    }
    if (strcmp(name, "h1") == 0 && !mw->h1_node) {
        mw->h1_node = n;
        return;
    }
    if (strcmp(name, "script") == 0) {
        const char *type = ex_attr(n, "type");
        if (type && ex_ieq(type, "application/ld+json"))
            ex_jsonld_script(mw, n);
        return;
    }
    if (strcmp(name, "time") == 0 && !mw->pub_time) {
        const char *dt = ex_attr(n, "datetime");
        if (dt)
            mw->pub_time = dt;
        return;
    }
    const char *itemprop = ex_attr(n, "itemprop");
    if (itemprop && ex_ieq(itemprop, "datePublished") && !mw->pub_itemprop) {
        const char *v = ex_attr(n, "content");
        if (!v)
            v = ex_attr(n, "datetime");
        mw->pub_itemprop = v;
    }
    const char *rel = ex_attr(n, "rel");
    char buf[256];
    const char *ci = ex_class_id(n, buf, sizeof(buf));
    bool byline = (rel && ex_ieq(rel, "author")) || (itemprop && ex_ieq(itemprop, "author")) ||
                  strstr(ci, "byline") || strstr(ci, "author-name");
    /* Bounded: nested byline elements would otherwise make this quadratic. */
    if (byline && mw->byline_tries < 8) {
        mw->byline_tries++;
        xmlChar *t = xmlNodeGetContent(n);
        if (t) {
            size_t len = strlen((const char *)t);
            /* A byline is a few words; a long one is a bio or a container. */
            if (len > 2 && len < 80)
                ex_add_author(mw->host, mw->byline_authors, (const char *)t);
            xmlFree(t);
        }
    }
}

static bool meta_enter(xmlNode *n, void *arg)
{
    if (n->type != XML_ELEMENT_NODE)
        return false;
    meta_element(arg, n);
    const char *name = (const char *)n->name;
    return strcmp(name, "script") != 0 && strcmp(name, "style") != 0;
}

/*
 * Drop a site name from a title: "Story | Site", "Story - Site", "Site | Story". The part
 * dropped must be the og:site_name or clearly shorter than what remains.
 */
static void strip_site_suffix(char *title, const char *site)
{
    static const char *const seps[] = {" | ",  " - ",        " \xE2\x80\x93 ", " \xE2\x80\x94 ",
                                       " :: ", " \xC2\xBB ", " \xC2\xB7 ",     NULL};
    for (size_t s = 0; seps[s]; s++) {
        /* the last separator: suffix */
        char *last = NULL;
        for (char *p = strstr(title, seps[s]); p; p = strstr(p + 1, seps[s]))
            last = p;
        if (last) {
            const char *tail = last + strlen(seps[s]);
            size_t head_len = (size_t)(last - title);
            size_t tail_len = strlen(tail);
            bool is_site = site && (ex_ieq(tail, site) || ex_icontains(tail, site) ||
                                    (strlen(site) > 3 && ex_icontains(site, tail)));
            if (is_site || (tail_len < 40 && head_len > tail_len * 2 && head_len >= 15)) {
                *last = '\0';
                return;
            }
        }
        /* the first separator: prefix naming the site */
        char *first = strstr(title, seps[s]);
        if (first && site) {
            size_t head_len = (size_t)(first - title);
            if (head_len == strlen(site) && ex_istarts(title, site)) {
                const char *rest = first + strlen(seps[s]);
                memmove(title, rest, strlen(rest) + 1);
                return;
            }
        }
    }
}

static char *resolve_url(const struct wp_host_api *host, const char *href, const char *base)
{
    if (!href || !*href)
        return NULL;
    size_t n = strlen(href);
    href = ex_trim(href, &n);
    char tmp[2048];
    if (n == 0 || n >= sizeof(tmp))
        return NULL;
    memcpy(tmp, href, n);
    tmp[n] = '\0';
    xmlChar *abs = xmlBuildURI((const xmlChar *)tmp, (const xmlChar *)(base ? base : ""));
    if (!abs)
        return NULL;
    char *out = NULL;
    if (ex_istarts((const char *)abs, "http://") || ex_istarts((const char *)abs, "https://"))
        out = host->strndup((const char *)abs, strlen((const char *)abs));
    xmlFree(abs);
    return out;
}

void ex_html_meta(struct ex_result *r, xmlDoc *doc, const char *base_url)
{
    struct ex_meta mw;
    memset(&mw, 0, sizeof(mw));
    mw.r = r;
    mw.host = r->host;
    mw.ld_authors = json_array();
    mw.meta_authors = json_array();
    mw.byline_authors = json_array();
    mw.ld_keywords = json_array();
    mw.meta_keywords = json_array();
    mw.keep = json_array();
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root)
        ex_walk(root, meta_enter, NULL, &mw);

    /* Headline: the page's own title, most specific first. */
    const char *cands[] = {mw.og_title, mw.ld_headline, mw.tw_title};
    for (size_t i = 0; i < 3; i++)
        ex_result_set_once(r, &r->headline, cands[i]);
    if (!r->headline)
        r->headline = ex_node_text(r->host, mw.h1_node);
    if (!r->headline)
        r->headline = ex_node_text(r->host, mw.title_node);
    if (r->headline)
        strip_site_suffix(r->headline, r->site_name);

    const char *langs[] = {mw.lang_html, mw.lang_og, mw.lang_http, mw.lang_ld};
    for (size_t i = 0; i < 4 && !r->language; i++)
        r->language = ex_norm_lang(r->host, langs[i]);

    const char *pubs[] = {mw.pub_meta, mw.pub_ld, mw.pub_itemprop, mw.pub_time};
    for (size_t i = 0; i < 4 && !r->published_raw; i++) {
        if (pubs[i] && *pubs[i])
            ex_result_set_once(r, &r->published_raw, pubs[i]);
    }

    const char *canons[] = {mw.canon_link, mw.og_url, mw.ld_url};
    for (size_t i = 0; i < 3 && !r->canonical; i++)
        r->canonical = resolve_url(r->host, canons[i], base_url);

    if (json_array_size(mw.ld_authors))
        ex_merge_array(r->authors, mw.ld_authors, EX_MAX_AUTHORS);
    else if (json_array_size(mw.meta_authors))
        ex_merge_array(r->authors, mw.meta_authors, EX_MAX_AUTHORS);
    else
        ex_merge_array(r->authors, mw.byline_authors, EX_MAX_AUTHORS);
    ex_merge_array(r->keywords, mw.meta_keywords, EX_MAX_KEYWORDS);
    ex_merge_array(r->keywords, mw.ld_keywords, EX_MAX_KEYWORDS);

    if (mw.ld_body_raw) {
        ex_jsonld_body(r, mw.ld_body_raw);
        r->host->free(mw.ld_body_raw);
    }
    json_decref(mw.ld_authors);
    json_decref(mw.meta_authors);
    json_decref(mw.byline_authors);
    json_decref(mw.ld_keywords);
    json_decref(mw.meta_keywords);
    json_decref(mw.keep);
}
