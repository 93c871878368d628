/*
 * extract.h - private interfaces of the extract plugin.
 *
 * The stage (extract.c) decides whether a page is HTML or plain text. HTML is parsed by
 * libxml2; metadata comes from meta tags and the like (meta.c) and JSON-LD (jsonld.c), the
 * body from a readability-style scoring of the DOM (score.c) followed by collecting the
 * paragraphs of the best container and its siblings (body.c). Plain text is cleaned line by
 * line (plain.c). What a page yields is gathered in a struct ex_result (result.c); dates are
 * normalised to RFC 3339 (date.c); whitespace, case-blind matching and the chrome phrases
 * shared by both modes are in text.c; the tag table and the DOM walk in dom.c.
 *
 * Every walk over the DOM is iterative, so deeply nested pages cannot exhaust the stack.
 * Per-element data hangs off xmlNode._private; each document belongs to one call, so the
 * stage is thread safe (libxml2 itself is initialised by the host).
 *
 * Strings handed between these files are borrowed unless a comment says "new": new
 * strings come from the host allocator and are freed with host->free.
 */
#ifndef EXTRACT_PRIVATE_H
#define EXTRACT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/tree.h>

#define EX_MAX_KEYWORDS 64
#define EX_MAX_AUTHORS  16
#define EX_DATE_SIZE    32 /* "YYYY-MM-DDTHH:MM:SSZ" and its NUL, with room to spare */

/* libxml2 stops building the tree at this depth unless XML_PARSE_HUGE is given. */
#define EX_LIBXML2_MAX_DEPTH 256

enum ex_mode { EX_MODE_AUTO, EX_MODE_HTML, EX_MODE_TEXT };

struct ex_conf {
    enum ex_mode mode;
    long min_paragraph_chars;
    long min_body_chars;
    long max_content_bytes;
    bool keep_content;
    bool json_ld_body;
    double json_ld_min_ratio;
    double max_link_density;
};

/* ---------------------------------------------------------------------------------------
 * text.c: characters, case-blind matching, paragraphs
 * ------------------------------------------------------------------------------------- */

char ex_ascii_lower(char c);
bool ex_is_digit(char c);
bool ex_is_alpha(char c);
bool ex_ieq(const char *a, const char *b);
/* Does @s start with @prefix, ignoring ASCII case? */
bool ex_istarts(const char *s, const char *prefix);
/* Case-blind substring search over a NUL-terminated haystack. */
bool ex_icontains(const char *hay, const char *needle);
/* Does lower-case @hay contain one of the lower-case @words (NULL-terminated)? */
bool ex_any_contains(const char *hay, const char *const *words);
/* Trim ASCII whitespace; returns the start and sets *@n to the trimmed length. */
const char *ex_trim(const char *s, size_t *n);

/*
 * Whitespace for the body contract, one plain space between words: ASCII spaces, and the
 * no-break and other Unicode spaces pages use for layout ("of&nbsp;staff").
 */
bool ex_is_space(int32_t cp);

/* A paragraph under construction: collapses whitespace and counts what it holds. */
struct ex_para {
    struct wp_buf buf;
    size_t pending_ws; /* whitespace characters seen since the last visible one */
    size_t chars;      /* visible code points */
    size_t link_chars; /* of those, inside links */
};

void ex_para_init(struct ex_para *pa, const struct wp_host_api *host);
/* Add @n bytes of @text, collapsing whitespace and dropping zero-width characters. */
void ex_para_add(struct ex_para *pa, const char *text, size_t n, bool in_link);
/* Empty the paragraph; an allocation failure stays recorded in @buf.failed. */
void ex_para_reset(struct ex_para *pa);
void ex_para_release(struct ex_para *pa);

/* Append a paragraph to @out, separated from what is there by one blank line. */
void ex_add_paragraph(struct wp_buf *out, const char *s, size_t n);

/* Whitespace of @s collapsed into a new string; NULL when empty or on failure. */
char *ex_clean_text(const struct wp_host_api *host, const char *s, size_t n);

/* A new JSON string of @s; ill-formed UTF-8 and NUL become U+FFFD. NULL on failure. */
json_t *ex_json_text(const struct wp_host_api *host, const char *s, size_t n);

/* Does @s (of @n bytes) start with one of the site-chrome phrases ("Read more", ...)? */
bool ex_chrome_prefix(const char *s, size_t n);

/* ---------------------------------------------------------------------------------------
 * date.c: publication dates to RFC 3339 UTC
 * ------------------------------------------------------------------------------------- */

/* 1-12 when the word @w of @n bytes starts with an English month name, else 0. */
int ex_month_of(const char *w, size_t n);
/* ISO 8601 / RFC 3339, RFC 822 and free-form dates into @out as "YYYY-MM-DDTHH:MM:SSZ". */
bool ex_parse_date(const char *s, char out[EX_DATE_SIZE]);

/* ---------------------------------------------------------------------------------------
 * result.c: what one page yields
 * ------------------------------------------------------------------------------------- */

struct ex_result {
    const struct wp_host_api *host;
    char *headline; /* new strings, or NULL */
    char *site_name;
    char *language;
    char *published_raw;
    char *canonical;
    json_t *authors;  /* array of strings */
    json_t *keywords; /* array of strings */
    struct wp_buf body;
    size_t paragraphs;
    char *ld_body; /* JSON-LD articleBody, cleaned into paragraphs */
    size_t ld_body_len;
    const char *method; /* how the body was found, for the debug log */
    bool depth_cut;     /* the parser dropped elements nested too deep */
};

void ex_result_init(struct ex_result *r, const struct wp_host_api *host);
void ex_result_release(struct ex_result *r);
/* Set *@slot to a cleaned copy of @s unless it is already set. */
void ex_result_set_once(struct ex_result *r, char **slot, const char *s);
/* Code points of the body. */
size_t ex_body_chars(const struct ex_result *r);

bool ex_looks_like_url(const char *s);
/* Append @s (cleaned) to @arr unless empty, too long, or already there (case-blind). */
void ex_add_unique(const struct wp_host_api *host, json_t *arr, const char *s, size_t n,
                   size_t max);
/* Split @s on @seps and add each part. */
void ex_add_split(const struct wp_host_api *host, json_t *arr, const char *s, const char *seps,
                  size_t max);
/* Add an author name, splitting "A and B" / "A, B" lists of names; URLs are skipped. */
void ex_add_author(const struct wp_host_api *host, json_t *arr, const char *s);
/* Append the strings of @src missing from @dst (case-blind), up to @max in all. */
void ex_merge_array(json_t *dst, json_t *src, size_t max);
/* BCP 47 in canonical case from "en_US", "EN-us", "en-GB,en" ... (new), or NULL. */
char *ex_norm_lang(const struct wp_host_api *host, const char *s);

/* ---------------------------------------------------------------------------------------
 * dom.c: tags, attributes, per-element data and the iterative walk
 * ------------------------------------------------------------------------------------- */

enum ex_tag_flags {
    T_BLOCK = 1 << 0,  /* ends the current paragraph */
    T_DROP = 1 << 1,   /* never article text */
    T_PARA = 1 << 2,   /* scored as a paragraph (p, pre, td) */
    T_HEAD = 1 << 3,   /* h1..h6 */
    T_LIST = 1 << 4,   /* ul, ol, dl */
    T_COND = 1 << 5,   /* cleaned conditionally (div, section, table, ul, ...) */
    T_LINK = 1 << 6,   /* a */
    T_BR = 1 << 7,     /* br */
    T_IMG = 1 << 8,    /* img, picture */
    T_INPUT = 1 << 9,  /* input, select, textarea */
    T_LI = 1 << 10,    /* li */
    T_P = 1 << 11,     /* p */
    T_CHROME = 1 << 12 /* header: page chrome unless it holds the article */
};

struct ex_tag {
    const char *name;
    int base;       /* readability's initial score for the tag */
    unsigned flags; /* enum ex_tag_flags */
};

/* The tag's entry; an entry with no flags for unknown tags. */
const struct ex_tag *ex_tag_lookup(const xmlChar *name);

/* Attribute value (borrowed from the document; "" when it has none), or NULL. */
const char *ex_attr(const xmlNode *n, const char *name);
/* class + " " + id in lower case into @buf (truncated), for hint matching. */
const char *ex_class_id(const xmlNode *n, char *buf, size_t size);

/* Per-element data, reached through xmlNode._private. */
struct ex_ninfo {
    double score;
    uint32_t text_len;   /* visible code points in the subtree (not counting whitespace) */
    uint32_t link_len;   /* of those, inside links */
    uint32_t inline_len; /* text reached without crossing a block element */
    uint32_t commas;
    uint32_t n_p, n_img, n_li, n_input, n_head;
    const struct ex_tag *tag;
    int8_t weight;  /* class/id weight: -25, 0, 25 */
    bool removed;   /* this subtree is boilerplate */
    bool candidate; /* has a score */
    bool hidden;
};

/* The element's data, or NULL for other nodes and elements without data. */
struct ex_ninfo *ex_info(const xmlNode *n);

/*
 * Iterative pre/post-order walk of @root's subtree. @enter returns whether to descend;
 * @leave (optional) runs after an element's children, also when it was not descended into.
 */
typedef bool ex_walk_enter_fn(xmlNode *n, void *arg);
typedef void ex_walk_leave_fn(xmlNode *n, void *arg);
void ex_walk(xmlNode *root, ex_walk_enter_fn *enter, ex_walk_leave_fn *leave, void *arg);

/* Clear every node's _private under @root; returns the number of elements. */
size_t ex_dom_reset(xmlNode *root);
/* Deepest element nesting under @root (1 for @root alone). */
unsigned ex_dom_depth(xmlNode *root);
/* Count the visible code points and commas of a text node's content. */
void ex_text_stats(const char *s, uint32_t *chars, uint32_t *commas);
/* Whole text of @n, whitespace collapsed (new); NULL when empty. */
char *ex_node_text(const struct wp_host_api *host, xmlNode *n);

/* ---------------------------------------------------------------------------------------
 * score.c and body.c: the body of an HTML page
 * ------------------------------------------------------------------------------------- */

struct ex_body_walk {
    const struct wp_host_api *host;
    struct ex_result *r;
    /* scoring (score.c) */
    struct ex_ninfo *infos;
    size_t count;
    size_t used;
    bool strip_unlikely;
    bool clean_conditionally;
    double max_link_density;
    /* collection (body.c) */
    struct ex_para pa;
    bool last_br;
    int link_depth;
};

/* Text share of links in the element's subtree. */
double ex_link_density(const struct ex_ninfo *ni);
/*
 * Classify, measure and score the elements under @root with @bw's filters, and return the
 * container most likely to hold the article (@root when nothing scores).
 */
xmlNode *ex_score_top(xmlNode *root, struct ex_body_walk *bw);
/* Is the element boilerplate inside the chosen article (readability's "clean conditionally")? */
bool ex_drop_conditionally(const struct ex_body_walk *bw, const struct ex_ninfo *ni);

/* The body of @doc into r->body, r->paragraphs and r->method. */
void ex_html_body(struct ex_result *r, xmlDoc *doc, const struct ex_conf *conf);

/* ---------------------------------------------------------------------------------------
 * meta.c and jsonld.c: metadata of an HTML page
 * ------------------------------------------------------------------------------------- */

/* Candidates found in one walk over the document, in order of preference. */
struct ex_meta {
    struct ex_result *r;
    const struct wp_host_api *host;
    /* borrowed from the document or from JSON-LD trees kept alive in @keep */
    const char *og_title, *tw_title, *ld_headline;
    const char *pub_meta, *pub_time, *pub_ld, *pub_itemprop;
    const char *canon_link, *og_url, *ld_url;
    const char *lang_html, *lang_og, *lang_http, *lang_ld;
    xmlNode *h1_node, *title_node;
    json_t *ld_authors; /* arrays of strings */
    json_t *meta_authors;
    json_t *byline_authors;
    json_t *ld_keywords;
    json_t *meta_keywords;
    json_t *keep;      /* parsed JSON-LD blocks the borrowed strings point into */
    char *ld_body_raw; /* longest JSON-LD articleBody (new) */
    size_t ld_body_raw_len;
    unsigned byline_tries;
};

/* Headline, language, date, canonical URL, authors, keywords and JSON-LD body of @doc. */
void ex_html_meta(struct ex_result *r, xmlDoc *doc, const char *base_url);
/* Read the JSON-LD block in <script> element @script into @mw. */
void ex_jsonld_script(struct ex_meta *mw, xmlNode *script);
/* A JSON-LD articleBody (text, or HTML some sites put there) as paragraphs into r->ld_body. */
void ex_jsonld_body(struct ex_result *r, const char *raw);

/* ---------------------------------------------------------------------------------------
 * plain.c: plain-text pages
 * ------------------------------------------------------------------------------------- */

void ex_text_extract(struct ex_result *r, const char *content, size_t len,
                     const struct ex_conf *conf);

#endif /* EXTRACT_PRIVATE_H */
