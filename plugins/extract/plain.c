/*
 * plain.c - plain-text pages (copies of web pages as text): each line is classified as
 * chrome, a date, a tag list or text by general rules (length, sentence punctuation,
 * counters, the chrome phrases of text.c); hard-wrapped lines are joined; the body runs
 * from the first paragraph to the last.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <wirepipe/buf.h>
#include <wirepipe/utf8.h>

#include "extract.h"

enum line_kind {
    L_BLANK,
    L_CHROME,
    L_DATE,
    L_PARA,  /* a sentence-bearing line long enough to stand alone */
    L_SHORT, /* short, no sentence punctuation: headline, subhead, related headline */
    L_TAGS,  /* comma-separated short items */
};

struct line {
    const char *s;
    size_t n;
    enum line_kind kind;
};

/* @n bytes of @s as a C string in @out of @size bytes, cut to fit. */
static char *line_cstr(char *out, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static size_t word_count(const char *s, size_t n)
{
    size_t w = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        bool sp = s[i] == ' ' || s[i] == '\t';
        if (!sp && !in)
            w++;
        in = !sp;
    }
    return w;
}

static bool ends_with_sentence_punct(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' '))
        n--;
    if (n == 0)
        return false;
    char c = s[n - 1];
    if (c == '.' || c == '!' || c == '?' || c == '"' || c == ':' || c == ')' || c == '\'')
        return true;
    /* closing quotes, guillemet, ellipsis, ideographic full stop, Arabic question mark,
     * Urdu full stop, Devanagari danda */
    static const char *const tails[] = {"\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB",
                                        "\xE2\x80\xA6", "\xE3\x80\x82", "\xD8\x9F",
                                        "\xDB\x94",     "\xE0\xA5\xA4", NULL};
    for (size_t i = 0; tails[i]; i++) {
        size_t k = strlen(tails[i]);
        if (n >= k && memcmp(s + n - k, tails[i], k) == 0)
            return true;
    }
    return false;
}

/* Letters of the line: none at all means counters, bullets, "0 121". */
static bool has_letters(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp = wp_utf8_next(s, n, &i);
        /* from U+00C0 on: Latin letters with accents and every other script */
        if ((cp < 0x80 && ex_is_alpha((char)cp)) || cp >= 0xC0)
            return true;
    }
    return false;
}

/* "Iraqi Kurdistan's Independence Referendum (53)": a topic link with its story count. */
static bool ends_with_count(const char *s, size_t n)
{
    if (n < 3 || s[n - 1] != ')')
        return false;
    size_t i = n - 2;
    size_t digits = 0;
    while (i > 0 && ex_is_digit(s[i])) {
        i--;
        digits++;
    }
    return digits > 0 && s[i] == '(';
}

static bool is_chrome_line(const char *s, size_t n)
{
    if (!has_letters(s, n))
        return true;
    if (ends_with_count(s, n))
        return true;
    return n < 80 && ex_chrome_prefix(s, n);
}

/* Words a date line may hold besides numbers: months, weekdays, zones, "updated" ... */
static bool is_date_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "mon", "tue", "wed", "thu",     "fri",       "sat",    "sun",  "gmt",      "utc", "am",
        "pm",  "at",  "on",  "updated", "published", "posted", "last", "modified", "z",   NULL};
    if (ex_month_of(w, n) || (n == 3 && w[2] == 'T' && (w[1] == 'S' || w[1] == 'D')))
        return true;
    for (size_t i = 0; words[i]; i++) {
        size_t k = strlen(words[i]);
        /* weekdays may be spelt out: "Tuesday" */
        if ((n == k || (k == 3 && n >= 6 && ex_istarts(w + n - 3, "day"))) &&
            ex_istarts(w, words[i]))
            return true;
    }
    return false;
}

/* A date line: parses as a date and has few words besides. */
static bool is_date_line(const char *s, size_t n, char out[EX_DATE_SIZE])
{
    if (n > 60 || word_count(s, n) > 8)
        return false;
    /* At most one other word ("Moscow, 22 June 2021"), so titles with a date stay text. */
    size_t others = 0;
    for (size_t i = 0; i < n;) {
        if (!ex_is_alpha(s[i])) {
            i++;
            continue;
        }
        size_t k = i;
        while (k < n && ex_is_alpha(s[k]))
            k++;
        if (!is_date_word(s + i, k - i))
            others++;
        i = k;
    }
    if (others > 1)
        return false;
    char tmp[64];
    return ex_parse_date(line_cstr(tmp, sizeof(tmp), s, n), out);
}

static bool is_tag_line(const char *s, size_t n)
{
    if (ends_with_sentence_punct(s, n) || n > 300)
        return false;
    size_t items = 0;
    for (size_t i = 0; i <= n;) {
        size_t k = i;
        while (k < n && s[k] != ',')
            k++;
        size_t len = k - i;
        const char *item = ex_trim(s + i, &len);
        if (len == 0 || len > 40 || word_count(item, len) > 4)
            return false;
        items++;
        i = k + 1;
    }
    return items >= 3;
}

void ex_text_extract(struct ex_result *r, const char *content, size_t len,
                     const struct ex_conf *conf)
{
    size_t cap = 64, count = 0;
    struct line *lines = r->host->malloc(cap * sizeof(*lines));
    if (!lines)
        return;
    for (size_t i = 0; i < len;) {
        size_t k = i;
        while (k < len && content[k] != '\n')
            k++;
        if (count == cap) {
            struct line *more = r->host->realloc(lines, cap * 2 * sizeof(*lines));
            if (!more)
                break;
            lines = more;
            cap *= 2;
        }
        size_t n = k - i;
        const char *s = ex_trim(content + i, &n);
        lines[count++] = (struct line){s, n, L_BLANK};
        i = k + 1;
    }
    char date[EX_DATE_SIZE];
    for (size_t i = 0; i < count; i++) {
        struct line *l = &lines[i];
        if (l->n == 0) {
            l->kind = L_BLANK;
        } else if (is_date_line(l->s, l->n, date)) {
            l->kind = L_DATE;
            if (!r->published_raw)
                r->published_raw = r->host->strndup(date, strlen(date));
        } else if (is_chrome_line(l->s, l->n)) {
            l->kind = L_CHROME;
        } else if (is_tag_line(l->s, l->n)) {
            l->kind = L_TAGS;
        } else {
            l->kind = L_SHORT;
        }
    }
    /*
     * Hard-wrapped text: a line continues the one before when that one stops mid-sentence
     * (comma, semicolon, hyphen) or the next starts in lower case. Lists of headlines do
     * neither, so they stay apart.
     */
    for (size_t i = 0; i + 1 < count; i++) {
        struct line *a = &lines[i], *b = &lines[i + 1];
        if (a->kind != L_SHORT || b->kind != L_SHORT)
            continue;
        char last = a->s[a->n - 1];
        if (last == ',' || last == ';' || last == '-' || (b->s[0] >= 'a' && b->s[0] <= 'z')) {
            b->n = (size_t)(b->s + b->n - a->s);
            b->s = a->s;
            a->kind = L_BLANK;
            a->n = 0;
        }
    }
    size_t first_para = count, last_para = count;
    for (size_t i = 0; i < count; i++) {
        struct line *l = &lines[i];
        if (l->kind != L_SHORT)
            continue;
        size_t chars = wp_utf8_count(l->s, l->n);
        if ((chars >= (size_t)conf->min_paragraph_chars && ends_with_sentence_punct(l->s, l->n)) ||
            chars >= 200) {
            l->kind = L_PARA;
            if (first_para == count)
                first_para = i;
            last_para = i;
        }
    }
    if (first_para == count) {
        r->host->free(lines);
        return;
    }
    /* A "By ..." line of a few words before the body names the authors. */
    for (size_t i = 0; i < first_para; i++) {
        if (lines[i].kind == L_SHORT && lines[i].n < 120 && ex_istarts(lines[i].s, "by ") &&
            word_count(lines[i].s, lines[i].n) <= 8) {
            char tmp[128];
            ex_add_author(r->host, r->authors, line_cstr(tmp, sizeof(tmp), lines[i].s, lines[i].n));
            lines[i].kind = L_CHROME;
        }
    }
    /* Headline: a short line of a few words before the first paragraph. */
    for (size_t i = 0; i < first_para && !r->headline; i++) {
        if (lines[i].kind == L_SHORT && word_count(lines[i].s, lines[i].n) >= 4 && lines[i].n >= 20)
            r->headline = ex_clean_text(r->host, lines[i].s, lines[i].n);
    }
    /*
     * Body: paragraphs from the first to the last; a short line is kept between paragraphs
     * (a subheading) but not at either end.
     */
    struct ex_para pa;
    ex_para_init(&pa, r->host);
    for (size_t i = first_para; i <= last_para; i++) {
        struct line *l = &lines[i];
        if (l->kind != L_PARA && l->kind != L_SHORT)
            continue;
        ex_para_add(&pa, l->s, l->n, false);
        ex_add_paragraph(&r->body, pa.buf.data, pa.buf.len);
        r->paragraphs++;
        ex_para_reset(&pa);
    }
    ex_para_release(&pa);
    /* Keywords: the tag line, looked for after the body first (where sites print it). */
    for (size_t i = last_para + 1; i < count; i++) {
        if (lines[i].kind == L_TAGS) {
            char tmp[512];
            ex_add_split(r->host, r->keywords, line_cstr(tmp, sizeof(tmp), lines[i].s, lines[i].n),
                         ",", EX_MAX_KEYWORDS);
            break;
        }
    }
    /* No headline line: the lede's first sentence stands in for one. */
    if (!r->headline && r->body.len) {
        const char *s = r->body.data;
        size_t n = strcspn(s, "\n");
        for (size_t i = 0; i + 1 < n; i++) {
            if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && s[i + 1] == ' ' && i > 40) {
                n = i + 1;
                break;
            }
        }
        if (n <= 300)
            r->headline = ex_clean_text(r->host, s, n);
    }
    r->method = "text";
    r->host->free(lines);
}
