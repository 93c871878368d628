/*
 * text.c - characters, case-blind matching and paragraphs, shared by the HTML and the
 * plain-text paths, and the table of site-chrome phrases both drop.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <wirepipe/buf.h>
#include <wirepipe/utf8.h>

#include "extract.h"

char ex_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool ex_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool ex_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ex_ieq(const char *a, const char *b)
{
    while (*a && *b) {
        if (ex_ascii_lower(*a) != ex_ascii_lower(*b))
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

bool ex_istarts(const char *s, const char *prefix)
{
    while (*prefix) {
        if (ex_ascii_lower(*s) != ex_ascii_lower(*prefix))
            return false;
        s++;
        prefix++;
    }
    return true;
}

bool ex_icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t k = 0;
        while (k < n && p[k] && ex_ascii_lower(p[k]) == ex_ascii_lower(needle[k]))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

bool ex_any_contains(const char *hay, const char *const *words)
{
    if (hay[0] == ' ' && hay[1] == '\0')
        return false;
    for (size_t i = 0; words[i]; i++) {
        if (strstr(hay, words[i]))
            return true;
    }
    return false;
}

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

const char *ex_trim(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && ascii_space(*s)) {
        s++;
        len--;
    }
    while (len && ascii_space(s[len - 1]))
        len--;
    *n = len;
    return s;
}

bool ex_is_space(int32_t cp)
{
    switch (cp) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '\f':
        case '\v':
        case 0x00A0: /* no-break space */
        case 0x2028: /* line separator */
        case 0x2029: /* paragraph separator */
        case 0x202F: /* narrow no-break space */
        case 0x205F: /* medium mathematical space */
        case 0x3000: /* ideographic space */
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A; /* en quad .. hair space */
    }
}

/* Zero-width characters that only break layout: dropped from extracted text. */
static bool is_zero_width(int32_t cp)
{
    return cp == 0x200B || cp == 0xFEFF;
}

void ex_para_init(struct ex_para *pa, const struct wp_host_api *host)
{
    memset(pa, 0, sizeof(*pa));
    wp_buf_init(&pa->buf, host);
}

void ex_para_add(struct ex_para *pa, const char *text, size_t n, bool in_link)
{
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        int32_t cp = wp_utf8_next(text, n, &i);
        /* Double-escaped "&amp;nbsp;" from a CMS reaches the text as "&nbsp;". */
        if (cp == '&' && n - start >= 6 && memcmp(text + start, "&nbsp;", 6) == 0) {
            cp = 0x00A0;
            i = start + 6;
        }
        if (ex_is_space(cp)) {
            pa->pending_ws++;
            continue;
        }
        if (is_zero_width(cp))
            continue;
        if (pa->pending_ws && pa->buf.len > 0)
            wp_buf_addch(&pa->buf, ' ');
        pa->pending_ws = 0;
        wp_buf_add(&pa->buf, text + start, i - start);
        pa->chars++;
        if (in_link)
            pa->link_chars++;
    }
}

void ex_para_reset(struct ex_para *pa)
{
    wp_buf_truncate(&pa->buf, 0);
    pa->pending_ws = 0;
    pa->chars = 0;
    pa->link_chars = 0;
}

void ex_para_release(struct ex_para *pa)
{
    wp_buf_release(&pa->buf);
}

void ex_add_paragraph(struct wp_buf *out, const char *s, size_t n)
{
    if (out->len)
        wp_buf_add(out, "\n\n", 2);
    wp_buf_add(out, s, n);
}

char *ex_clean_text(const struct wp_host_api *host, const char *s, size_t n)
{
    struct ex_para pa;
    ex_para_init(&pa, host);
    ex_para_add(&pa, s, n, false);
    if (pa.buf.failed || pa.buf.len == 0) {
        ex_para_release(&pa);
        return NULL;
    }
    return wp_buf_detach(&pa.buf, NULL);
}

json_t *ex_json_text(const struct wp_host_api *host, const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    struct wp_buf b;
    wp_buf_init(&b, host);
    for (size_t i = 0; i < n;) {
        size_t start = i;
        int32_t cp = wp_utf8_next(s, n, &i);
        if (cp <= 0)
            wp_buf_add(&b, WP_UTF8_REPLACEMENT, 3);
        else
            wp_buf_add(&b, s + start, i - start);
    }
    j = b.failed ? NULL : json_stringn(b.data ? b.data : "", b.len);
    wp_buf_release(&b);
    return j;
}

/*
 * Site furniture, wherever it appears: a text line or a short HTML paragraph that starts
 * with one of these (case-blind, followed by a non-letter or an upper-case letter, since
 * copied pages glue words: "Community standardsDiscussion") is dropped.
 */
static const char *const chrome_phrases[] = {"listen live",
                                             "get short url",
                                             "short url",
                                             "subscribe",
                                             "community standards",
                                             "discussion",
                                             "share this",
                                             "share on",
                                             "sharing is caring",
                                             "follow us",
                                             "follow @",
                                             "sign up",
                                             "log in",
                                             "login",
                                             "register",
                                             "read more",
                                             "more:",
                                             "related:",
                                             "related post",
                                             "related stories",
                                             "related articles",
                                             "[related",
                                             "see also",
                                             "also read",
                                             "you may also like",
                                             "you might also like",
                                             "recommended for you",
                                             "popular on",
                                             "most read",
                                             "most popular",
                                             "like this story",
                                             "get the latest",
                                             "have a tip",
                                             "tell us what you think",
                                             "click here",
                                             "this slideshow requires",
                                             "advertisement",
                                             "sponsored",
                                             "all rights reserved",
                                             "copyright",
                                             "\xC2\xA9",
                                             "comments",
                                             "add comment",
                                             "leave a comment",
                                             "tweet",
                                             "print",
                                             "email",
                                             "whatsapp",
                                             "telegram",
                                             "facebook",
                                             "twitter",
                                             "newsletter",
                                             "cookie",
                                             "privacy policy",
                                             "terms of use",
                                             "terms of service",
                                             "back to top",
                                             "skip to content",
                                             "next article",
                                             "previous article",
                                             "trending",
                                             "updated",
                                             "view comments",
                                             "show comments",
                                             "loading",
                                             "photo:",
                                             "image:",
                                             "video:",
                                             NULL};

bool ex_chrome_prefix(const char *s, size_t n)
{
    for (size_t i = 0; chrome_phrases[i]; i++) {
        size_t k = strlen(chrome_phrases[i]);
        if (k > n || !ex_istarts(s, chrome_phrases[i]))
            continue;
        char next = k < n ? s[k] : ' ';
        if (!(next >= 'a' && next <= 'z'))
            return true;
    }
    return false;
}
