/*
 * score.c - readability's scoring: mark boilerplate by tag, visibility and class/id hints,
 * measure every element's text, links and commas, give each paragraph's score to its
 * ancestors, and pick the best container. Also the "clean conditionally" test that body.c
 * applies to blocks inside the chosen container.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>

#include "extract.h"

/* Readability's hint words, plus the share/newsletter furniture of news sites. */
static const char *const unlikely_words[] = {
    "-ad-",       "ai2html",   "banner",     "breadcrumb",   "combx",    "comment",   "community",
    "cover-wrap", "disqus",    "extra",      "footer",       "gdpr",     "header",    "legends",
    "menu",       "related",   "remark",     "replies",      "rss",      "shoutbox",  "sidebar",
    "skyscraper", "social",    "sponsor",    "supplemental", "ad-break", "agegate",   "pagination",
    "pager",      "popup",     "yom-remote", "newsletter",   "share",    "subscribe", "promo",
    "cookie",     "recommend", "most-read",  "mostread",     "trending", "outbrain",  "taboola",
    NULL};
static const char *const maybe_words[] = {"and",  "article", "body",   "column", "content",
                                          "main", "mathjax", "shadow", NULL};
static const char *const positive_words[] = {"article", "body",  "content", "entry", "hentry",
                                             "h-entry", "main",  "page",    "post",  "text",
                                             "blog",    "story", NULL};
static const char *const negative_words[] = {
    "-ad-",       "hidden",     "banner",  "combx",    "comment", "com-",
    "contact",    "footer",     "gdpr",    "masthead", "media",   "meta",
    "outbrain",   "promo",      "related", "scroll",   "share",   "shoutbox",
    "sidebar",    "skyscraper", "sponsor", "shopping", "tags",    "widget",
    "newsletter", "subscribe",  "social",  "byline",   "caption", "credit",
    "author",     "timestamp",  "toolbar", "recirc",   "taboola", NULL};

/* Attribute value as a borrowed string, or NULL. */

static int class_weight(const char *ci)
{
    int w = 0;
    if (ex_any_contains(ci, negative_words))
        w -= 25;
    if (ex_any_contains(ci, positive_words))
        w += 25;
    return w;
}

static bool is_hidden(const xmlNode *n)
{
    if (ex_attr(n, "hidden"))
        return true;
    const char *aria = ex_attr(n, "aria-hidden");
    if (aria && ex_ieq(aria, "true"))
        return true;
    const char *style = ex_attr(n, "style");
    if (style && (ex_icontains(style, "display:none") || ex_icontains(style, "display: none") ||
                  ex_icontains(style, "visibility:hidden")))
        return true;
    return false;
}

static bool classify_enter(xmlNode *n, void *arg)
{
    struct ex_body_walk *bw = arg;
    if (n->type != XML_ELEMENT_NODE)
        return false;
    if (bw->used >= bw->count)
        return false;
    struct ex_ninfo *ni = &bw->infos[bw->used++];
    memset(ni, 0, sizeof(*ni));
    n->_private = ni;
    ni->tag = ex_tag_lookup(n->name);
    char buf[512];
    const char *ci = ex_class_id(n, buf, sizeof(buf));
    ni->weight = (int8_t)class_weight(ci);
    if (ni->tag->flags & T_DROP) {
        ni->removed = true;
    } else if (is_hidden(n)) {
        ni->removed = true;
        ni->hidden = true;
    } else if (bw->strip_unlikely && strcmp(ci, " ") != 0) {
        const char *name = (const char *)n->name;
        bool keep_tag = strcmp(name, "body") == 0 || strcmp(name, "html") == 0 ||
                        strcmp(name, "article") == 0 || strcmp(name, "main") == 0;
        if (!keep_tag && ex_any_contains(ci, unlikely_words) && !ex_any_contains(ci, maybe_words))
            ni->removed = true;
    }
    if (!ni->removed && (ni->tag->flags & T_CHROME) && bw->strip_unlikely)
        ni->removed = true;
    /* Descend even into removed subtrees so every element has its info. */
    return true;
}

static bool stats_enter(xmlNode *n, void *arg)
{
    (void)arg;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        struct ex_ninfo *p = ex_info(n->parent);
        if (p && n->content) {
            uint32_t chars = 0, commas = 0;
            ex_text_stats((const char *)n->content, &chars, &commas);
            p->text_len += chars;
            p->inline_len += chars;
            p->commas += commas;
        }
        return false;
    }
    if (n->type != XML_ELEMENT_NODE)
        return false;
    struct ex_ninfo *ni = ex_info(n);
    return ni && !ni->removed;
}

static void stats_leave(xmlNode *n, void *arg)
{
    (void)arg;
    struct ex_ninfo *ni = ex_info(n);
    if (!ni || ni->removed)
        return;
    unsigned f = ni->tag->flags;
    if (f & T_LINK)
        ni->link_len = ni->text_len;
    if (f & T_P)
        ni->n_p++;
    if (f & T_IMG)
        ni->n_img++;
    if (f & T_LI)
        ni->n_li++;
    if (f & T_INPUT)
        ni->n_input++;
    if (f & T_HEAD)
        ni->n_head++;
    struct ex_ninfo *p = ex_info(n->parent);
    if (!p)
        return;
    p->text_len += ni->text_len;
    p->link_len += ni->link_len;
    p->commas += ni->commas;
    p->n_p += ni->n_p;
    p->n_img += ni->n_img;
    p->n_li += ni->n_li;
    p->n_input += ni->n_input;
    p->n_head += ni->n_head;
    if (!(f & (T_BLOCK | T_BR)))
        p->inline_len += ni->inline_len;
}

double ex_link_density(const struct ex_ninfo *ni)
{
    return ni->text_len ? (double)ni->link_len / ni->text_len : 0.0;
}

static void candidate_init(struct ex_ninfo *ni)
{
    if (ni->candidate)
        return;
    ni->candidate = true;
    ni->score = ni->tag->base + ni->weight;
}

static bool score_enter(xmlNode *n, void *arg)
{
    (void)arg;
    struct ex_ninfo *ni = ex_info(n);
    if (!ni || ni->removed)
        return false;
    unsigned f = ni->tag->flags;
    uint32_t len = 0;
    if (f & T_PARA)
        len = ni->text_len;
    else if ((f & T_BLOCK) && !(f & (T_HEAD | T_LIST | T_LI)) && ni->inline_len >= 25)
        len = ni->inline_len; /* a div holding text directly acts as a paragraph */
    if (len < 25)
        return true;
    double score = 1.0 + ni->commas + fmin(3.0, len / 100.0);
    xmlNode *a = n->parent;
    for (int level = 0; a && level < 5; level++, a = a->parent) {
        struct ex_ninfo *ai = ex_info(a);
        if (!ai || a->type != XML_ELEMENT_NODE)
            break;
        candidate_init(ai);
        double div = level == 0 ? 1.0 : level == 1 ? 2.0 : level * 3.0;
        ai->score += score / div;
    }
    /* Paragraph children do not hold candidates of their own. */
    return !(f & T_PARA);
}

struct top_find {
    xmlNode *best;
    double best_score;
};

static bool top_enter(xmlNode *n, void *arg)
{
    struct top_find *tf = arg;
    struct ex_ninfo *ni = ex_info(n);
    if (!ni || ni->removed)
        return false;
    if (ni->candidate) {
        ni->score *= 1.0 - ex_link_density(ni);
        if (!tf->best || ni->score > tf->best_score) {
            tf->best = n;
            tf->best_score = ni->score;
        }
    }
    return true;
}

/* Element children of @n; text beside them counts as 100, so a wrapper has exactly 1. */
static size_t element_children(const xmlNode *n)
{
    size_t count = 0;
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            count++;
        } else if (c->type == XML_TEXT_NODE && c->content) {
            size_t len = strlen((const char *)c->content);
            ex_trim((const char *)c->content, &len);
            if (len)
                count += 100; /* text beside the child: not a mere wrapper */
        }
    }
    return count;
}

bool ex_drop_conditionally(const struct ex_body_walk *bw, const struct ex_ninfo *ni)
{
    unsigned f = ni->tag->flags;
    if (!(f & T_COND) || !bw->clean_conditionally)
        return false;
    if (ni->weight < 0)
        return true;
    if (ni->commas >= 10)
        return false;
    bool list = (f & T_LIST) != 0;
    double ld = ex_link_density(ni);
    uint32_t p = ni->n_p;
    if (ni->n_img > 1 && p * 2 < ni->n_img)
        return true;
    if (!list && ni->n_li > p + 100)
        return true;
    if (ni->n_input > p / 3 + 0 && ni->n_input > 0)
        return true;
    if (!list && ni->text_len < 25 && (ni->n_img == 0 || ni->n_img > 2) && ni->n_head == 0)
        return true;
    if (ni->weight < 25 && ld > bw->max_link_density)
        return true;
    if (ni->weight >= 25 && ld > 0.5)
        return true;
    return false;
}

xmlNode *ex_score_top(xmlNode *root, struct ex_body_walk *bw)
{
    bw->used = 0;
    ex_walk(root, classify_enter, NULL, bw);
    ex_walk(root, stats_enter, stats_leave, bw);
    ex_walk(root, score_enter, NULL, bw);
    struct top_find tf = {NULL, 0};
    ex_walk(root, top_enter, NULL, &tf);
    xmlNode *top = tf.best;
    if (!top)
        top = root;
    struct ex_ninfo *ti = ex_info(top);

    /* Move up while a parent scores better: the article is often split over siblings. */
    if (ti && ti->candidate) {
        double last = ti->score;
        double threshold = last / 3.0;
        for (xmlNode *p = top->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
            struct ex_ninfo *pi = ex_info(p);
            if (!pi || !pi->candidate)
                continue;
            if (pi->score < threshold)
                break;
            if (pi->score > last) {
                top = p;
                break;
            }
            last = pi->score;
        }
    }
    /* A wrapper around the container alone is the container. */
    while (top->parent && top->parent->type == XML_ELEMENT_NODE &&
           element_children(top->parent) == 1 && ex_info(top->parent))
        top = top->parent;
    return top;
}
