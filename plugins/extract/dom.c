/*
 * dom.c - what the HTML paths know about elements: the tag table, attributes, the data
 * each element carries through scoring, and the iterative walk every pass uses.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <wirepipe/utf8.h>

#include <libxml/tree.h>

#include "extract.h"

static const struct ex_tag tags[] = {
    {"a", 0, T_LINK},
    {"address", -3, T_BLOCK},
    {"article", 0, T_BLOCK | T_COND},
    {"aside", 0, T_BLOCK | T_DROP},
    {"blockquote", 3, T_BLOCK},
    {"body", 0, T_BLOCK},
    {"br", 0, T_BR},
    {"button", 0, T_DROP},
    {"canvas", 0, T_DROP},
    {"caption", 0, T_BLOCK},
    {"center", 0, T_BLOCK},
    {"dd", -3, T_BLOCK},
    {"details", 0, T_BLOCK},
    {"dialog", 0, T_DROP},
    {"div", 5, T_BLOCK | T_COND},
    {"dl", -3, T_BLOCK | T_LIST | T_COND},
    {"dt", -3, T_BLOCK},
    {"embed", 0, T_DROP},
    {"fieldset", 0, T_BLOCK | T_COND},
    {"figcaption", 0, T_BLOCK | T_DROP},
    {"figure", 0, T_BLOCK | T_DROP},
    {"footer", 0, T_BLOCK | T_DROP},
    {"form", -3, T_BLOCK | T_COND},
    {"h1", -5, T_BLOCK | T_HEAD},
    {"h2", -5, T_BLOCK | T_HEAD},
    {"h3", -5, T_BLOCK | T_HEAD},
    {"h4", -5, T_BLOCK | T_HEAD},
    {"h5", -5, T_BLOCK | T_HEAD},
    {"h6", -5, T_BLOCK | T_HEAD},
    {"head", 0, T_DROP},
    {"header", 0, T_BLOCK | T_CHROME},
    {"hr", 0, T_BLOCK},
    {"iframe", 0, T_DROP},
    {"img", 0, T_IMG},
    {"input", 0, T_DROP | T_INPUT},
    {"label", 0, T_DROP},
    {"li", -3, T_BLOCK | T_LI},
    {"link", 0, T_DROP},
    {"main", 0, T_BLOCK},
    {"map", 0, T_DROP},
    {"math", 0, T_DROP},
    {"menu", 0, T_BLOCK | T_DROP},
    {"meta", 0, T_DROP},
    {"nav", 0, T_BLOCK | T_DROP},
    {"noscript", 0, T_DROP},
    {"object", 0, T_DROP},
    {"ol", -3, T_BLOCK | T_LIST | T_COND},
    {"option", 0, T_DROP},
    {"p", 0, T_BLOCK | T_PARA | T_P},
    {"picture", 0, T_IMG},
    {"pre", 3, T_BLOCK | T_PARA},
    {"script", 0, T_DROP},
    {"section", 0, T_BLOCK | T_COND},
    {"select", 0, T_DROP | T_INPUT},
    {"style", 0, T_DROP},
    {"summary", 0, T_BLOCK},
    {"svg", 0, T_DROP},
    {"table", 0, T_BLOCK | T_COND},
    {"tbody", 0, T_BLOCK},
    {"td", 3, T_BLOCK | T_PARA},
    {"template", 0, T_DROP},
    {"textarea", 0, T_DROP | T_INPUT},
    {"tfoot", 0, T_BLOCK},
    {"th", -5, T_BLOCK},
    {"thead", 0, T_BLOCK},
    {"title", 0, T_DROP},
    {"tr", 0, T_BLOCK},
    {"ul", -3, T_BLOCK | T_LIST | T_COND},
    {"video", 0, T_DROP},
    {"audio", 0, T_DROP},
};

const struct ex_tag *ex_tag_lookup(const xmlChar *name)
{
    static const struct ex_tag none = {"", 0, 0};
    if (!name)
        return &none;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        if (strcmp(tags[i].name, (const char *)name) == 0)
            return &tags[i];
    }
    return &none;
}

const char *ex_attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && ex_ieq((const char *)a->name, name)) {
            if (a->children && a->children->content)
                return (const char *)a->children->content;
            return "";
        }
    }
    return NULL;
}

const char *ex_class_id(const xmlNode *n, char *buf, size_t size)
{
    const char *c = ex_attr(n, "class");
    const char *i = ex_attr(n, "id");
    snprintf(buf, size, "%s %s", c ? c : "", i ? i : "");
    for (char *p = buf; *p; p++)
        *p = ex_ascii_lower(*p);
    return buf;
}

struct ex_ninfo *ex_info(const xmlNode *n)
{
    return n && n->type == XML_ELEMENT_NODE ? (struct ex_ninfo *)n->_private : NULL;
}

void ex_walk(xmlNode *root, ex_walk_enter_fn *enter, ex_walk_leave_fn *leave, void *arg)
{
    xmlNode *n = root;
    while (n) {
        bool descend = enter(n, arg);
        if (descend && n->children) {
            n = n->children;
            continue;
        }
        if (leave)
            leave(n, arg);
        while (n != root && !n->next) {
            n = n->parent;
            if (leave)
                leave(n, arg);
        }
        if (n == root)
            break;
        n = n->next;
    }
}

static bool reset_enter(xmlNode *n, void *arg)
{
    if (n->type == XML_ELEMENT_NODE)
        (*(size_t *)arg)++;
    n->_private = NULL;
    return true;
}

size_t ex_dom_reset(xmlNode *root)
{
    size_t count = 0;
    ex_walk(root, reset_enter, NULL, &count);
    return count;
}

struct depth_walk {
    unsigned depth;
    unsigned max;
};

static bool depth_enter(xmlNode *n, void *arg)
{
    struct depth_walk *dw = arg;
    if (n->type != XML_ELEMENT_NODE)
        return false;
    dw->depth++;
    if (dw->depth > dw->max)
        dw->max = dw->depth;
    return true;
}

static void depth_leave(xmlNode *n, void *arg)
{
    struct depth_walk *dw = arg;
    if (n->type == XML_ELEMENT_NODE)
        dw->depth--;
}

unsigned ex_dom_depth(xmlNode *root)
{
    struct depth_walk dw = {0, 0};
    ex_walk(root, depth_enter, depth_leave, &dw);
    return dw.max;
}

void ex_text_stats(const char *s, uint32_t *chars, uint32_t *commas)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int32_t cp = wp_utf8_next(s, n, &i);
        if (ex_is_space(cp))
            continue;
        /* ',' and the fullwidth (U+FF0C) and ideographic (U+3001) commas */
        if (cp == ',' || cp == 0xFF0C || cp == 0x3001)
            (*commas)++;
        (*chars)++;
    }
}

char *ex_node_text(const struct wp_host_api *host, xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    char *c = ex_clean_text(host, (const char *)t, strlen((const char *)t));
    xmlFree(t);
    return c;
}
