/*
 * body.c - the body of an HTML page: collect the paragraphs of the container score.c chose
 * and of its siblings that score close to it, dropping boilerplate blocks inside, and retry
 * with fewer filters when that finds little, as readability does.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <wirepipe/buf.h>

#include <libxml/tree.h>

#include "extract.h"

static void flush_para(struct ex_body_walk *bw)
{
    struct ex_para *pa = &bw->pa;
    if (pa->buf.len == 0) {
        ex_para_reset(pa);
        return;
    }
    bool keep = true;
    /* Paragraphs made only of links are menus and "read more" lines. */
    if (pa->chars > 0 && pa->link_chars * 10 >= pa->chars * 9 && pa->chars < 200)
        keep = false;
    if (keep && bw->r->headline && strcmp(pa->buf.data, bw->r->headline) == 0)
        keep = false;
    if (keep && pa->chars < 100 && ex_chrome_prefix(pa->buf.data, pa->buf.len))
        keep = false;
    if (keep) {
        ex_add_paragraph(&bw->r->body, pa->buf.data, pa->buf.len);
        bw->r->paragraphs++;
    }
    ex_para_reset(pa);
}

static bool collect_enter(xmlNode *n, void *arg)
{
    struct ex_body_walk *bw = arg;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) {
            const char *t = (const char *)n->content;
            size_t len = strlen(t);
            size_t tl = len;
            ex_trim(t, &tl);
            if (tl)
                bw->last_br = false;
            ex_para_add(&bw->pa, t, len, bw->link_depth > 0);
        }
        return false;
    }
    if (n->type != XML_ELEMENT_NODE)
        return false;
    struct ex_ninfo *ni = ex_info(n);
    if (!ni || ni->removed)
        return false;
    unsigned f = ni->tag->flags;
    if (f & T_BR) {
        /* One <br> is a line break inside a paragraph; two end it. */
        if (bw->last_br)
            flush_para(bw);
        else
            ex_para_add(&bw->pa, " ", 1, false);
        bw->last_br = true;
        return false;
    }
    /* The headline is the item's own field, not part of the body. */
    if ((f & T_HEAD) && strcmp((const char *)n->name, "h1") == 0)
        return false;
    if (ex_drop_conditionally(bw, ni))
        return false;
    if (f & T_BLOCK) {
        flush_para(bw);
        bw->last_br = false;
    }
    if (f & T_LINK)
        bw->link_depth++;
    return true;
}

static void collect_leave(xmlNode *n, void *arg)
{
    struct ex_body_walk *bw = arg;
    struct ex_ninfo *ni = ex_info(n);
    if (!ni)
        return;
    unsigned f = ni->tag->flags;
    if ((f & T_LINK) && !ni->removed && bw->link_depth > 0)
        bw->link_depth--;
    if ((f & T_BLOCK) && !ni->removed)
        flush_para(bw);
}

/* Collect the paragraphs of @n's subtree into the body. */
static void collect_node(struct ex_body_walk *bw, xmlNode *n)
{
    ex_walk(n, collect_enter, collect_leave, bw);
    flush_para(bw);
    bw->link_depth = 0;
}

static bool same_class(const xmlNode *a, const xmlNode *b)
{
    const char *ca = ex_attr(a, "class");
    const char *cb = ex_attr(b, "class");
    return ca && cb && *ca && strcmp(ca, cb) == 0;
}

static bool ends_sentence(const char *s)
{
    return strstr(s, ". ") || strstr(s, ".\n") || (strlen(s) > 0 && s[strlen(s) - 1] == '.');
}

/* One extraction attempt with @bw's filters; the body lands in r->body. */
static void html_body_pass(struct ex_result *r, xmlNode *root, struct ex_body_walk *bw)
{
    xmlNode *top = ex_score_top(root, bw);
    struct ex_ninfo *ti = ex_info(top);
    wp_buf_truncate(&r->body, 0);
    r->paragraphs = 0;
    double top_score = ti ? ti->score : 0;
    double threshold = fmax(10.0, top_score * 0.2);
    xmlNode *parent = top->parent;
    if (!parent || parent->type != XML_ELEMENT_NODE || top == root) {
        collect_node(bw, top);
        return;
    }
    for (xmlNode *s = parent->children; s; s = s->next) {
        if (s->type != XML_ELEMENT_NODE)
            continue;
        struct ex_ninfo *si = ex_info(s);
        if (!si || si->removed)
            continue;
        bool append = s == top;
        if (!append) {
            double bonus = same_class(s, top) ? top_score * 0.2 : 0;
            if (si->candidate && si->score + bonus >= threshold) {
                append = true;
            } else if (si->tag->flags & T_P) {
                double ld = ex_link_density(si);
                if (si->text_len > 80 && ld < 0.25) {
                    append = true;
                } else if (si->text_len > 0 && si->text_len <= 80 && ld == 0) {
                    char *t = ex_node_text(bw->host, s);
                    append = t && ends_sentence(t);
                    bw->host->free(t);
                }
            }
        }
        if (append)
            collect_node(bw, s);
    }
}

void ex_html_body(struct ex_result *r, xmlDoc *doc, const struct ex_conf *conf)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root)
        return;
    struct ex_body_walk bw;
    memset(&bw, 0, sizeof(bw));
    bw.host = r->host;
    bw.r = r;
    bw.max_link_density = conf->max_link_density;
    bw.count = ex_dom_reset(root);
    bw.infos = r->host->calloc(bw.count ? bw.count : 1, sizeof(*bw.infos));
    if (!bw.infos)
        return;
    ex_para_init(&bw.pa, r->host);
    xmlNode *body = root;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "body") == 0)
            body = c;
    }
    /* Retry with fewer filters when the first pass finds little, as readability does. */
    static const bool flags[][2] = {{true, true}, {false, true}, {false, false}};
    struct wp_buf best;
    wp_buf_init(&best, r->host);
    size_t best_chars = 0, best_paras = 0;
    for (size_t i = 0; i < 3; i++) {
        bw.strip_unlikely = flags[i][0];
        bw.clean_conditionally = flags[i][1];
        html_body_pass(r, body, &bw);
        size_t chars = ex_body_chars(r);
        if (chars > best_chars) {
            /* Keep this pass's body; the next pass reuses the buffer of the old best. */
            struct wp_buf pass = r->body;
            r->body = best;
            best = pass;
            best_chars = chars;
            best_paras = r->paragraphs;
        }
        if (chars >= 500)
            break;
    }
    wp_buf_release(&r->body);
    r->body = best;
    r->paragraphs = best_paras;
    r->method = "dom";
    ex_para_release(&bw.pa);
    /* Leave no pointers into freed memory behind in the document. */
    ex_dom_reset(root);
    r->host->free(bw.infos);
}
