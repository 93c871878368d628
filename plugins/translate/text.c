/*
 * text.c - wire-format appenders, segmentation and name protection for the translate plugin.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/utf8.h>

#include "translate.h"

/* ---- wire-format appenders -------------------------------------------------------- */

void tr_add_form(struct wp_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len > (size_t)-1 / 3 || !wp_buf_grow(b, len * 3))
        return;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex[c >> 4];
            b->data[b->len++] = hex[c & 15];
        }
    }
    b->data[b->len] = '\0';
}

void tr_add_json(struct wp_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    wp_buf_addch(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        wp_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                wp_buf_add(b, "\\\"", 2);
                break;
            case '\\':
                wp_buf_add(b, "\\\\", 2);
                break;
            case '\n':
                wp_buf_add(b, "\\n", 2);
                break;
            case '\r':
                wp_buf_add(b, "\\r", 2);
                break;
            case '\t':
                wp_buf_add(b, "\\t", 2);
                break;
            default: {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                wp_buf_add(b, esc, 6);
            }
        }
    }
    wp_buf_add(b, s + run, len - run);
    wp_buf_addch(b, '"');
}

/* ---- segmentation ------------------------------------------------------------------ */

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static enum wp_status segs_push(const struct wp_host_api *host, struct tr_segments *segs,
                                const char *text, size_t para, size_t start, size_t end)
{
    while (start < end && is_space((unsigned char)text[start]))
        start++;
    while (end > start && is_space((unsigned char)text[end - 1]))
        end--;
    if (start == end)
        return WP_OK;
    if (segs->count == segs->cap) {
        size_t cap = segs->cap ? segs->cap * 2 : 16;
        struct tr_segment *items = host->realloc(segs->items, cap * sizeof(*items));
        if (!items)
            return WP_E_NOMEM;
        segs->items = items;
        segs->cap = cap;
    }
    segs->items[segs->count++] = (struct tr_segment){
        .para = para, .lead_start = start, .start = start, .end = end, .trail_end = end};
    return WP_OK;
}

/*
 * Boundaries of [start, end) as byte offsets, found by an ICU break iterator of @type run
 * over the UTF-16 form. @bounds gets the offsets (start and end included).
 */
static enum wp_status break_bounds(const struct wp_host_api *host, const char *text, size_t start,
                                   size_t end, UBreakIteratorType type, size_t **bounds,
                                   size_t *count)
{
    size_t n8 = end - start;
    UChar *u16 = host->malloc((n8 + 1) * sizeof(UChar));
    size_t *map = host->malloc((n8 + 2) * sizeof(size_t)); /* UTF-16 index -> byte offset */
    size_t *out = host->malloc((n8 + 2) * sizeof(size_t));
    enum wp_status status = WP_E_NOMEM;
    if (!u16 || !map || !out)
        goto out_free;
    int32_t i = 0;
    size_t u = 0;
    while ((size_t)i < n8) {
        int32_t before = i;
        UChar32 c;
        U8_NEXT(text + start, i, (int32_t)n8, c);
        if (c < 0) {
            status = WP_E_UNICODE;
            goto out_free;
        }
        map[u] = start + (size_t)before;
        if (c > 0xFFFF) {
            u16[u++] = U16_LEAD(c);
            map[u] = start + (size_t)before;
            u16[u++] = U16_TRAIL(c);
        } else {
            u16[u++] = (UChar)c;
        }
    }
    map[u] = end;
    UErrorCode err = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_open(type, "en", u16, (int32_t)u, &err);
    if (U_FAILURE(err)) {
        status = WP_E_UNICODE;
        goto out_free;
    }
    size_t n = 0;
    for (int32_t pos = ubrk_first(bi); pos != UBRK_DONE; pos = ubrk_next(bi))
        out[n++] = map[pos];
    ubrk_close(bi);
    *bounds = out;
    *count = n;
    out = NULL;
    status = WP_OK;
out_free:
    host->free(u16);
    host->free(map);
    host->free(out);
    return status;
}

/* Greedily pack the pieces between @bounds into chunks of at most @max code points. */
static enum wp_status chunk_range(const struct wp_host_api *host, const char *text, size_t para,
                                  size_t start, size_t end, size_t max, int level,
                                  struct tr_segments *out)
{
    if (wp_utf8_count(text + start, end - start) <= max)
        return segs_push(host, out, text, para, start, end);
    if (level >= 2) {
        /* No sentence or word boundary helps: cut at code points. */
        const uint8_t *u = (const uint8_t *)text;
        size_t pos = start;
        while (pos < end) {
            size_t stop = pos, n = 0;
            for (; stop < end && n < max; n++)
                U8_FWD_1(u, stop, end);
            enum wp_status st = segs_push(host, out, text, para, pos, stop);
            if (st != WP_OK)
                return st;
            pos = stop;
        }
        return WP_OK;
    }
    size_t *bounds = NULL, count = 0;
    enum wp_status st = break_bounds(host, text, start, end, level == 0 ? UBRK_SENTENCE : UBRK_WORD,
                                     &bounds, &count);
    if (st != WP_OK)
        return st;
    size_t chunk_start = start;
    for (size_t k = 1; k < count && st == WP_OK; k++) {
        size_t piece_end = bounds[k];
        if (wp_utf8_count(text + chunk_start, piece_end - chunk_start) <= max)
            continue;
        /* [chunk_start, bounds[k-1]) fits; [bounds[k-1], piece_end) is the next piece. */
        size_t prev = bounds[k - 1];
        if (prev > chunk_start) {
            st = segs_push(host, out, text, para, chunk_start, prev);
            chunk_start = prev;
        }
        if (st == WP_OK && wp_utf8_count(text + chunk_start, piece_end - chunk_start) > max) {
            st = chunk_range(host, text, para, chunk_start, piece_end, max, level + 1, out);
            chunk_start = piece_end;
        }
    }
    if (st == WP_OK && chunk_start < end)
        st = segs_push(host, out, text, para, chunk_start, end);
    host->free(bounds);
    return st;
}

enum wp_status tr_segment_text(const struct wp_host_api *host, const char *text, size_t len,
                               size_t max_chars, struct tr_segments *out)
{
    memset(out, 0, sizeof(*out));
    size_t para = 0, pos = 0;
    while (pos <= len) {
        const char *sep = memmem(text + pos, len - pos, "\n\n", 2);
        size_t para_end = sep ? (size_t)(sep - text) : len;
        enum wp_status st = chunk_range(host, text, para, pos, para_end, max_chars, 0, out);
        if (st != WP_OK) {
            tr_segments_release(host, out);
            return st;
        }
        para++;
        if (!sep)
            break;
        pos = para_end + 2;
    }
    return WP_OK;
}

void tr_segments_release(const struct wp_host_api *host, struct tr_segments *segs)
{
    host->free(segs->items);
    memset(segs, 0, sizeof(*segs));
}

/* ---- name protection --------------------------------------------------------------- */

struct span {
    size_t start, end;
};

static bool is_word_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Byte offset of code point @cp in @text, or (size_t)-1 past the end. */
static size_t cp_to_byte(const char *text, size_t len, json_int_t cp)
{
    if (cp < 0)
        return (size_t)-1;
    const uint8_t *u = (const uint8_t *)text;
    size_t i = 0;
    for (json_int_t n = 0; n < cp; n++) {
        if (i == len)
            return (size_t)-1;
        U8_FWD_1(u, i, len);
    }
    return i;
}

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1; /* longer first */
    return 0;
}

struct span_list {
    struct span *items;
    size_t count, cap;
};

static bool spans_add(const struct wp_host_api *host, struct span_list *l, size_t s, size_t e)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct span *items = host->realloc(l->items, cap * sizeof(*items));
        if (!items)
            return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = (struct span){s, e};
    return true;
}

static bool find_all(const struct wp_host_api *host, struct span_list *l, const char *text,
                     size_t len, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return true;
    size_t pos = 0;
    while (pos + nlen <= len) {
        const char *hit = memmem(text + pos, len - pos, needle, nlen);
        if (!hit)
            break;
        size_t s = (size_t)(hit - text), e = s + nlen;
        bool left_ok = s == 0 || !is_word_byte((unsigned char)text[s - 1]) ||
                       !is_word_byte((unsigned char)needle[0]);
        bool right_ok = e == len || !is_word_byte((unsigned char)text[e]) ||
                        !is_word_byte((unsigned char)needle[nlen - 1]);
        if (left_ok && right_ok && !spans_add(host, l, s, e))
            return false;
        pos = s + 1;
    }
    return true;
}

static bool names_add(const struct wp_host_api *host, struct tr_names *names, const char *s,
                      size_t len)
{
    if (names->count == names->cap) {
        size_t cap = names->cap ? names->cap * 2 : 8;
        char **items = host->realloc(names->originals, cap * sizeof(*items));
        if (!items)
            return false;
        names->originals = items;
        names->cap = cap;
    }
    char *copy = host->strndup(s, len);
    if (!copy)
        return false;
    names->originals[names->count++] = copy;
    return true;
}

enum wp_status tr_protect(const struct wp_host_api *host, const char *field, const char *text,
                          size_t len, const json_t *entities, const json_t *protect,
                          struct tr_names *names, struct wp_buf *out)
{
    memset(names, 0, sizeof(*names));
    /* A prefix that cannot be confused with the text itself. */
    bool found = false;
    for (char c = 'E'; c <= 'Z' && !found; c++) {
        snprintf(names->prefix, sizeof(names->prefix), "ZXN%c", c);
        found = memmem(text, len, names->prefix, 4) == NULL;
    }
    if (!found)
        return WP_E_INVALID;

    struct span_list spans = {0};
    enum wp_status status = WP_E_NOMEM;
    size_t i;
    const json_t *value;
    json_array_foreach(entities, i, value)
    {
        const char *efield = json_string_value(json_object_get(value, "field"));
        const char *mention = json_string_value(json_object_get(value, "mention"));
        if (!mention || !*mention)
            continue;
        if (efield && strcmp(efield, field) != 0)
            continue;
        size_t mlen = strlen(mention);
        json_t *js = json_object_get(value, "start"), *je = json_object_get(value, "end");
        size_t s = json_is_integer(js) ? cp_to_byte(text, len, json_integer_value(js)) : (size_t)-1;
        size_t e = json_is_integer(je) ? cp_to_byte(text, len, json_integer_value(je)) : (size_t)-1;
        if (efield && s != (size_t)-1 && e != (size_t)-1 && e > s && e - s == mlen &&
            memcmp(text + s, mention, mlen) == 0) {
            if (!spans_add(host, &spans, s, e))
                goto out;
        } else if (!find_all(host, &spans, text, len, mention, mlen)) {
            /* Offsets missing or stale (an earlier stage changed the text): find the name. */
            goto out;
        }
    }
    json_array_foreach(protect, i, value)
    {
        const char *s = json_string_value(value);
        if (s && !find_all(host, &spans, text, len, s, strlen(s)))
            goto out;
    }
    if (spans.count)
        qsort(spans.items, spans.count, sizeof(*spans.items), span_cmp);

    size_t pos = 0;
    for (i = 0; i < spans.count; i++) {
        struct span sp = spans.items[i];
        if (sp.start < pos)
            continue; /* overlaps a longer or earlier name */
        wp_buf_add(out, text + pos, sp.start - pos);
        if (!names_add(host, names, text + sp.start, sp.end - sp.start))
            goto out;
        wp_buf_addf(out, "%s%zu", names->prefix, names->count - 1);
        pos = sp.end;
    }
    wp_buf_add(out, text + pos, len - pos);
    status = out->failed ? WP_E_NOMEM : WP_OK;
out:
    host->free(spans.items);
    return status;
}

void tr_names_release(const struct wp_host_api *host, struct tr_names *names)
{
    for (size_t i = 0; i < names->count; i++)
        host->free(names->originals[i]);
    host->free(names->originals);
    memset(names, 0, sizeof(*names));
}

/*
 * Find the next placeholder at or after @pos: returns its offset and sets *@id and *@end,
 * or returns @len when there is none.
 */
static size_t next_placeholder(const struct tr_names *names, const char *text, size_t len,
                               size_t pos, size_t *id, size_t *end)
{
    while (pos + 5 <= len) {
        const char *hit = memmem(text + pos, len - pos, names->prefix, 4);
        if (!hit)
            break;
        size_t s = (size_t)(hit - text), e = s + 4, v = 0;
        while (e < len && text[e] >= '0' && text[e] <= '9' && e - s < 12)
            v = v * 10 + (size_t)(text[e++] - '0');
        if (e > s + 4) {
            *id = v;
            *end = e;
            return s;
        }
        pos = s + 1;
    }
    return len;
}

bool tr_has_placeholder(const struct tr_names *names, const char *text, size_t len)
{
    size_t id, end;
    return names->count && next_placeholder(names, text, len, 0, &id, &end) < len;
}

enum wp_status tr_restore(const struct tr_names *names, const char *text, size_t len,
                          const char *source, size_t source_len, struct wp_buf *out)
{
    size_t want = 0, id, end;
    for (size_t pos = next_placeholder(names, source, source_len, 0, &id, &end); pos < source_len;
         pos = next_placeholder(names, source, source_len, end, &id, &end))
        want++;
    size_t got = 0, pos = 0;
    unsigned char seen[256] = {0}; /* small items; larger ids checked by count only */
    for (size_t at = next_placeholder(names, text, len, 0, &id, &end); at < len;
         at = next_placeholder(names, text, len, pos, &id, &end)) {
        if (id >= names->count)
            return WP_E_PROTOCOL;
        if (id < sizeof(seen)) {
            if (seen[id]++)
                return WP_E_PROTOCOL;
        }
        wp_buf_add(out, text + pos, at - pos);
        wp_buf_adds(out, names->originals[id]);
        pos = end;
        got++;
    }
    wp_buf_add(out, text + pos, len - pos);
    if (got != want)
        return WP_E_PROTOCOL;
    return out->failed ? WP_E_NOMEM : WP_OK;
}

/* ---- wire forms -------------------------------------------------------------------- */

static void add_escaped(struct wp_buf *out, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
            case '&':
                rep = "&amp;";
                break;
            case '<':
                rep = "&lt;";
                break;
            case '>':
                rep = "&gt;";
                break;
            default:
                if ((unsigned char)s[i] >= 0x20 || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
                    continue;
                rep = ""; /* C0 controls: see tr_to_wire() */
                break;
        }
        wp_buf_add(out, s + run, i - run);
        wp_buf_adds(out, rep);
        run = i + 1;
    }
    wp_buf_add(out, s + run, len - run);
}

void tr_to_wire(const struct tr_names *names, enum tr_protect_style style, bool markup,
                const char *text, size_t len, struct wp_buf *out)
{
    if (style == TR_PROTECT_PLACEHOLDER || !markup) {
        /*
         * C0 controls other than tab and line breaks confuse engines (APy drops NUL, its
         * flush mark, and \x01 changes the translation): leave them out.
         */
        size_t run = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
                continue;
            wp_buf_add(out, text + run, i - run);
            run = i + 1;
        }
        wp_buf_add(out, text + run, len - run);
        return;
    }
    size_t pos = 0, id, end;
    for (size_t at = next_placeholder(names, text, len, 0, &id, &end); at < len;
         at = next_placeholder(names, text, len, pos, &id, &end)) {
        add_escaped(out, text + pos, at - pos);
        if (id < names->count) {
            if (style == TR_PROTECT_XML_TAG)
                wp_buf_addf(out, "<x id=\"%zu\">", id);
            else
                wp_buf_addf(out, "<span translate=\"no\" id=\"wp%zu\">", id);
            add_escaped(out, names->originals[id], strlen(names->originals[id]));
            wp_buf_adds(out, style == TR_PROTECT_XML_TAG ? "</x>" : "</span>");
        } else {
            add_escaped(out, text + at, end - at);
        }
        pos = end;
    }
    add_escaped(out, text + pos, len - pos);
}

/* Decode one character reference at @s (starting with '&'); returns bytes consumed or 0. */
static size_t decode_entity(const char *s, size_t len, struct wp_buf *out)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = {{"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"},
                 {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", "\xC2\xA0"}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t n = strlen(named[i].name);
        if (len >= n && memcmp(s, named[i].name, n) == 0) {
            wp_buf_adds(out, named[i].text);
            return n;
        }
    }
    if (len < 4 || s[1] != '#')
        return 0;
    size_t i = 2;
    int base = 10;
    if (s[i] == 'x' || s[i] == 'X') {
        base = 16;
        i++;
    }
    unsigned long cp = 0;
    size_t digits = 0;
    for (; i < len && digits < 8; i++, digits++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'                 ? c - '0'
                : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : -1;
        if (d < 0)
            break;
        cp = cp * (unsigned long)base + (unsigned long)d;
    }
    if (!digits || i >= len || s[i] != ';' || cp == 0 || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    char enc[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(enc, n, (UChar32)cp);
    wp_buf_add(out, enc, (size_t)n);
    return i + 1;
}

static void add_unescaped(struct wp_buf *out, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '&')
            continue;
        wp_buf_add(out, s + run, i - run);
        size_t used = decode_entity(s + i, len - i, out);
        if (!used) {
            wp_buf_add(out, "&", 1);
            used = 1;
        }
        i += used - 1;
        run = i + 1;
    }
    wp_buf_add(out, s + run, len - run);
}

enum wp_status tr_from_wire(const struct tr_names *names, enum tr_protect_style style, bool markup,
                            const char *text, size_t len, struct wp_buf *out)
{
    if (style == TR_PROTECT_PLACEHOLDER || !markup) {
        wp_buf_add(out, text, len);
        return out->failed ? WP_E_NOMEM : WP_OK;
    }
    const char *open = style == TR_PROTECT_XML_TAG ? "<x id=\"" : "<span translate=\"no\" id=\"wp";
    const char *close = style == TR_PROTECT_XML_TAG ? "</x>" : "</span>";
    size_t olen = strlen(open), clen = strlen(close), pos = 0;
    while (pos < len) {
        const char *hit = memmem(text + pos, len - pos, open, olen);
        if (!hit)
            break;
        size_t s = (size_t)(hit - text), e = s + olen, id = 0, digits = 0;
        while (e < len && text[e] >= '0' && text[e] <= '9' && digits < 9) {
            id = id * 10 + (size_t)(text[e++] - '0');
            digits++;
        }
        if (!digits || e + 2 > len || text[e] != '"' || text[e + 1] != '>')
            return WP_E_PROTOCOL;
        const char *stop = memmem(text + e + 2, len - e - 2, close, clen);
        if (!stop || id >= names->count)
            return WP_E_PROTOCOL;
        add_unescaped(out, text + pos, s - pos);
        wp_buf_addf(out, "%s%zu", names->prefix, id);
        pos = (size_t)(stop - text) + clen;
    }
    add_unescaped(out, text + pos, len - pos);
    return out->failed ? WP_E_NOMEM : WP_OK;
}

/* ---- provider helpers -------------------------------------------------------------- */

void tr_err_excerpt(struct wp_buf *err, const char *what, const char *msg)
{
    wp_buf_adds(err, what);
    if (!msg || !*msg)
        return;
    wp_buf_adds(err, ": ");
    size_t n = 0;
    for (const char *p = msg; *p && n < 120; p++, n++) {
        unsigned char c = (unsigned char)*p;
        /* ASCII only, so a cut never splits a UTF-8 sequence. */
        wp_buf_add(err, c < 0x20 ? " " : c >= 0x7F ? "?" : p, 1);
    }
    if (strlen(msg) > 120)
        wp_buf_adds(err, "...");
}

enum wp_status tr_classify_common(long status)
{
    if (status == 401 || status == 403)
        return WP_E_CONFIG;
    if (status == 408 || status == 429 || status >= 500)
        return WP_E_UNAVAILABLE;
    return WP_E_INVALID;
}

json_t *tr_json_load(const char *body, size_t len, struct wp_buf *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, &jerr);
    if (!root)
        tr_err_excerpt(err, "invalid JSON reply", jerr.text);
    return root;
}

bool tr_http_header(const struct tr_config *conf, struct tr_http *out, size_t i, const char *a,
                    const char *b)
{
    struct wp_buf line;
    wp_buf_init(&line, conf->host);
    wp_buf_adds(&line, a);
    wp_buf_adds(&line, b);
    out->headers[i] = wp_buf_detach(&line, NULL);
    return out->headers[i] != NULL;
}

void tr_copy_lang(char *dst, size_t size, const char *s)
{
    if (!s || !size)
        return;
    size_t n = 0;
    for (; s[n] && n + 1 < size; n++) {
        unsigned char c = (unsigned char)s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        dst[n] = ok ? (char)c : '?';
    }
    dst[n] = '\0';
}
