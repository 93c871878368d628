/*
 * jsonld.c - schema.org metadata in <script type="application/ld+json">: the article
 * object's headline, date, language, URL, authors, keywords and articleBody, found in
 * arrays, @graph and mainEntity.
 */
#include <stdbool.h>
#include <string.h>

#include <wirepipe/buf.h>

#include <jansson.h>
#include <libxml/tree.h>

#include "extract.h"

#define EX_JSONLD_DEPTH 8

/*
 * JSON-LD blocks often carry raw newlines and tabs inside strings, which strict JSON
 * forbids; escape them so the block still parses.
 */
static char *jsonld_sanitize(const struct wp_host_api *host, const char *s, size_t n)
{
    struct wp_buf b;
    wp_buf_init(&b, host);
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            } else if ((unsigned char)c < 0x20) {
                wp_buf_adds(&b, c == '\n' ? "\\n" : c == '\t' ? "\\t" : " ");
                continue;
            }
        } else if (c == '"') {
            in_str = true;
        }
        wp_buf_addch(&b, c);
    }
    return wp_buf_detach(&b, NULL);
}

static bool ld_type_is_article(const json_t *obj)
{
    const json_t *t = json_object_get(obj, "@type");
    const char *types[8];
    size_t nt = 0;
    if (json_is_string(t)) {
        types[nt++] = json_string_value(t);
    } else if (json_is_array(t)) {
        size_t i;
        const json_t *v;
        json_array_foreach(t, i, v)
        {
            if (json_is_string(v) && nt < 8)
                types[nt++] = json_string_value(v);
        }
    }
    for (size_t i = 0; i < nt; i++) {
        if (ex_icontains(types[i], "article") || ex_icontains(types[i], "posting") ||
            ex_icontains(types[i], "report"))
            return true;
    }
    return false;
}

static const char *ld_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v)) {
        /* {"@id": url} or {"@value": text} */
        const json_t *x = json_object_get(v, "@value");
        if (!json_is_string(x))
            x = json_object_get(v, "@id");
        return json_is_string(x) ? json_string_value(x) : NULL;
    }
    if (json_is_array(v) && json_array_size(v) > 0 && json_is_string(json_array_get(v, 0)))
        return json_string_value(json_array_get(v, 0));
    return NULL;
}

static void ld_names(const struct wp_host_api *host, json_t *out, const json_t *v)
{
    if (json_is_string(v)) {
        ex_add_author(host, out, json_string_value(v));
    } else if (json_is_object(v)) {
        const json_t *name = json_object_get(v, "name");
        if (json_is_string(name))
            ex_add_author(host, out, json_string_value(name));
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_array(x))
                ld_names(host, out, x);
        }
    }
}

static void ld_article(struct ex_meta *mw, const json_t *obj)
{
    bool article = ld_type_is_article(obj);
    const json_t *body = json_object_get(obj, "articleBody");
    if (json_is_string(body) && json_string_length(body) > mw->ld_body_raw_len) {
        if (mw->ld_body_raw)
            mw->host->free(mw->ld_body_raw);
        mw->ld_body_raw = mw->host->strndup(json_string_value(body), json_string_length(body));
        mw->ld_body_raw_len = mw->ld_body_raw ? json_string_length(body) : 0;
    }
    if (!article && !json_is_string(body))
        return;
    if (!mw->ld_headline)
        mw->ld_headline = ld_str(obj, "headline");
    if (!mw->pub_ld)
        mw->pub_ld = ld_str(obj, "datePublished");
    if (!mw->lang_ld)
        mw->lang_ld = ld_str(obj, "inLanguage");
    if (!mw->ld_url) {
        const char *u = ld_str(obj, "url");
        if (!u)
            u = ld_str(obj, "mainEntityOfPage");
        if (u && ex_looks_like_url(u))
            mw->ld_url = u;
    }
    if (json_array_size(mw->ld_authors) == 0)
        ld_names(mw->host, mw->ld_authors, json_object_get(obj, "author"));
    const json_t *kw = json_object_get(obj, "keywords");
    if (json_array_size(mw->ld_keywords) == 0) {
        if (json_is_string(kw)) {
            ex_add_split(mw->host, mw->ld_keywords, json_string_value(kw), ",;", EX_MAX_KEYWORDS);
        } else if (json_is_array(kw)) {
            size_t i;
            const json_t *v;
            json_array_foreach(kw, i, v)
            {
                if (json_is_string(v))
                    ex_add_unique(mw->host, mw->ld_keywords, json_string_value(v),
                                  json_string_length(v), EX_MAX_KEYWORDS);
            }
        }
    }
}

/* Visit article-like objects in a JSON-LD value: arrays, @graph, mainEntity. */
static void ld_visit(struct ex_meta *mw, const json_t *v, int depth)
{
    if (depth > EX_JSONLD_DEPTH)
        return;
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            ld_visit(mw, x, depth + 1);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    ld_article(mw, v);
    const json_t *graph = json_object_get(v, "@graph");
    if (graph)
        ld_visit(mw, graph, depth + 1);
    const json_t *main = json_object_get(v, "mainEntity");
    if (json_is_object(main))
        ld_visit(mw, main, depth + 1);
}

void ex_jsonld_script(struct ex_meta *mw, xmlNode *script)
{
    struct wp_buf b;
    wp_buf_init(&b, mw->host);
    for (xmlNode *c = script->children; c; c = c->next) {
        if (c->content)
            wp_buf_adds(&b, (const char *)c->content);
    }
    if (b.len == 0 || b.failed) {
        wp_buf_release(&b);
        return;
    }
    json_error_t err;
    json_t *root = json_loadb(b.data, b.len, JSON_DECODE_ANY, &err);
    if (!root) {
        char *fixed = jsonld_sanitize(mw->host, b.data, b.len);
        if (fixed) {
            root = json_loads(fixed, JSON_DECODE_ANY, &err);
            mw->host->free(fixed);
        }
    }
    wp_buf_release(&b);
    if (!root)
        return;
    ld_visit(mw, root, 0);
    /* Borrowed strings point into root: keep it alive until the walk is done. */
    json_array_append_new(mw->keep, root);
}

void ex_jsonld_body(struct ex_result *r, const char *raw)
{
    /* articleBody is text, but some sites put HTML or entity-escaped HTML in it. */
    struct wp_buf b;
    wp_buf_init(&b, r->host);
    struct ex_para pa;
    ex_para_init(&pa, r->host);
    const char *s = raw;
    bool html = strstr(s, "<p") || strstr(s, "<br") || strstr(s, "</");
    while (*s) {
        size_t n = strcspn(s, html ? "\n<" : "\n");
        ex_para_add(&pa, s, n, false);
        s += n;
        bool brk = false;
        if (*s == '\n') {
            brk = true;
            s++;
        } else if (*s == '<') {
            const char *e = strchr(s, '>');
            brk = ex_istarts(s, "<p") || ex_istarts(s, "</p") || ex_istarts(s, "<br") ||
                  ex_istarts(s, "<div") || ex_istarts(s, "</div") || ex_istarts(s, "<h");
            s = e ? e + 1 : s + strlen(s);
            if (!brk)
                ex_para_add(&pa, " ", 1, false);
        }
        if ((brk || !*s) && pa.buf.len) {
            ex_add_paragraph(&b, pa.buf.data, pa.buf.len);
            ex_para_reset(&pa);
        }
    }
    ex_para_release(&pa);
    if (!b.failed && b.len) {
        r->ld_body_len = b.len;
        r->ld_body = wp_buf_detach(&b, NULL);
    } else {
        wp_buf_release(&b);
    }
}
