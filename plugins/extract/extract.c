/*
 * extract - turn a fetched page ("content") into headline, body and metadata.
 *
 * HTML goes through libxml2's error-tolerant HTML parser. The body comes from JSON-LD
 * articleBody when that is about as complete as what the page shows, otherwise from a
 * readability-style scoring of blocks by text length, commas, link density and class/id
 * hints, followed by conditional cleaning of boilerplate inside the chosen container.
 * Plain text pages (copies of web pages as text) are cleaned line by line with general
 * rules: line length, sentence punctuation, counters, date lines and a small table of
 * chrome phrases.
 *
 * Every walk over the DOM is iterative, so deeply nested pages cannot exhaust the stack.
 * Per-element data hangs off xmlNode._private; each document belongs to one call, so the
 * stage is thread safe (libxml2 itself is initialised by the host).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>

#define EX_MAX_KEYWORDS 64
#define EX_MAX_AUTHORS  16
#define EX_JSONLD_DEPTH 8

/* ---------------------------------------------------------------------------------------
 * Instance and configuration
 * ------------------------------------------------------------------------------------- */

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

static const struct wp_config_key ex_config[] = {
    {.name = "mode",
     .type = WP_CONFIG_STRING,
     .default_json = "\"auto\"",
     .doc = "how to read content: by content type and sniffing, always HTML, or always plain text",
     .choices = "auto|html|text"},
    {.name = "min_paragraph_chars",
     .type = WP_CONFIG_INT,
     .default_json = "40",
     .doc = "plain text: shortest line kept as a paragraph on its own (shorter lines survive only "
            "between paragraphs)"},
    {.name = "min_body_chars",
     .type = WP_CONFIG_INT,
     .default_json = "1",
     .doc = "reject the item when the extracted body has fewer characters than this"},
    {.name = "max_content_bytes",
     .type = WP_CONFIG_INT,
     .default_json = "16777216",
     .doc = "reject pages larger than this many bytes instead of parsing them"},
    {.name = "keep_content",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "keep the raw 'content' field on the item"},
    {.name = "json_ld_body",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "use a JSON-LD articleBody when it is about as long as the body found in the page"},
    {.name = "json_ld_min_ratio",
     .type = WP_CONFIG_NUMBER,
     .default_json = "0.8",
     .doc = "JSON-LD articleBody must be at least this share of the page body's length to be used"},
    {.name = "max_link_density",
     .type = WP_CONFIG_NUMBER,
     .default_json = "0.33",
     .doc =
         "blocks inside the article whose text is more than this share of link text are dropped"},
    {0},
};

struct ex_instance {
    const struct wp_host_api *host;
    struct ex_conf conf;
};

/* ---------------------------------------------------------------------------------------
 * Growable buffer and whitespace-collapsing text builder
 * ------------------------------------------------------------------------------------- */

struct sbuf {
    const struct wp_host_api *host;
    char *p;
    size_t len;
    size_t cap;
    bool oom;
};

static void sb_init(struct sbuf *b, const struct wp_host_api *host)
{
    memset(b, 0, sizeof(*b));
    b->host = host;
}

static void sb_free(struct sbuf *b)
{
    if (b->p)
        b->host->free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static bool sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->p && b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = b->host->realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (n == 0 || !sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_clear(struct sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/*
 * Length of the whitespace character at @s (0 when none). No-break and other Unicode
 * spaces count: pages use them for layout ("of&nbsp;staff", "&nbsp;&nbsp;"), and the body
 * contract is one plain space between words.
 */
static size_t ws_len(const unsigned char *s, size_t avail)
{
    if (avail == 0)
        return 0;
    if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\f' || s[0] == '\v')
        return 1;
    if (avail >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        return 2;
    if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..U+200A spaces, line/paragraph separators, U+202F */
    if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
        return 3; /* U+205F */
    if (avail >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
        return 3; /* U+3000 */
    return 0;
}

/* Zero-width characters that only break layout: dropped from extracted text. */
static size_t zw_len(const unsigned char *s, size_t avail)
{
    if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x8B)
        return 3; /* U+200B */
    if (avail >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 3; /* U+FEFF */
    return 0;
}

/* A paragraph under construction: collapses whitespace and counts what it holds. */
struct para {
    struct sbuf buf;
    size_t pending_ws; /* whitespace characters seen since the last visible one */
    size_t chars;      /* visible code points */
    size_t link_chars; /* of those, inside links */
};

static void para_add(struct para *pa, const char *text, size_t n, bool in_link)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        size_t w = ws_len(s + i, n - i);
        /* Double-escaped "&amp;nbsp;" from a CMS reaches the text as "&nbsp;". */
        if (!w && s[i] == '&' && n - i >= 6 && memcmp(s + i, "&nbsp;", 6) == 0)
            w = 6;
        if (w) {
            pa->pending_ws++;
            i += w;
            continue;
        }
        size_t z = zw_len(s + i, n - i);
        if (z) {
            i += z;
            continue;
        }
        if (pa->pending_ws && pa->buf.len > 0)
            sb_putn(&pa->buf, " ", 1);
        pa->pending_ws = 0;
        size_t start = i;
        i++;
        while (i < n && (s[i] & 0xC0) == 0x80)
            i++;
        sb_putn(&pa->buf, text + start, i - start);
        pa->chars++;
        if (in_link)
            pa->link_chars++;
    }
}

static void para_reset(struct para *pa)
{
    sb_clear(&pa->buf);
    pa->pending_ws = 0;
    pa->chars = 0;
    pa->link_chars = 0;
}

/* Replace invalid UTF-8 with U+FFFD so jansson accepts whatever libxml2 handed back. */
static json_t *json_text(const struct wp_host_api *host, const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    struct sbuf b;
    sb_init(&b, host);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        size_t need = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 0;
        bool ok = need > 0 && i + need <= n && c != 0;
        for (size_t k = 1; ok && k < need; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (ok && need == 2 && c < 0xC2)
            ok = false;
        if (ok && need == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok && need == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((u[i + 1] & 0x3Fu) << 12) |
                          ((u[i + 2] & 0x3Fu) << 6) | (u[i + 3] & 0x3Fu);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (ok) {
            sb_putn(&b, s + i, need);
            i += need;
        } else {
            sb_putn(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    j = b.oom ? NULL : json_stringn(b.p ? b.p : "", b.len);
    sb_free(&b);
    return j;
}

/* ---------------------------------------------------------------------------------------
 * Small string helpers
 * ------------------------------------------------------------------------------------- */

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ieq(const char *a, const char *b)
{
    while (*a && *b) {
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

static bool istarts(const char *s, const char *prefix)
{
    while (*prefix) {
        if (ascii_lower(*s) != ascii_lower(*prefix))
            return false;
        s++;
        prefix++;
    }
    return true;
}

/* Case-insensitive substring search over a NUL-terminated haystack. */
static bool icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t k = 0;
        while (k < n && p[k] && ascii_lower(p[k]) == ascii_lower(needle[k]))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* Does lower-case @hay contain one of the lower-case @words? */
static bool any_contains(const char *hay, const char *const *words)
{
    if (hay[0] == ' ' && hay[1] == '\0')
        return false;
    for (size_t i = 0; words[i]; i++) {
        if (strstr(hay, words[i]))
            return true;
    }
    return false;
}

/* Trim ASCII whitespace; returns the start and sets *@n. */
static const char *trim(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                   s[len - 1] == '\r' || s[len - 1] == '\f'))
        len--;
    *n = len;
    return s;
}

/* Collapse whitespace of @s into a new host string; NULL when empty or on failure. */
static char *clean_text(const struct wp_host_api *host, const char *s, size_t n)
{
    struct para pa;
    memset(&pa, 0, sizeof(pa));
    sb_init(&pa.buf, host);
    para_add(&pa, s, n, false);
    if (pa.buf.oom || pa.buf.len == 0) {
        sb_free(&pa.buf);
        return NULL;
    }
    return pa.buf.p;
}

/* ---------------------------------------------------------------------------------------
 * Dates: ISO 8601 / RFC 3339, RFC 822 and "22 June 2021 23:35 GMT" to RFC 3339 UTC
 * ------------------------------------------------------------------------------------- */

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int month_of(const char *w, size_t n)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    if (n < 3)
        return 0;
    for (int i = 0; i < 12; i++) {
        if (ascii_lower(w[0]) == names[i][0] && ascii_lower(w[1]) == names[i][1] &&
            ascii_lower(w[2]) == names[i][2])
            return i + 1;
    }
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool format_utc(long long days, long secs, char out[32])
{
    while (secs < 0) {
        secs += 86400;
        days--;
    }
    while (secs >= 86400) {
        secs -= 86400;
        days++;
    }
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1900 || y > 2200)
        return false;
    snprintf(out, 32, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", y, m, d, secs / 3600, (secs / 60) % 60,
             secs % 60);
    return true;
}

/* ISO 8601: 2019-11-19, 2019-11-19T10:20, 2019-11-19 10:20:30.123+01:00, ...Z, +0100. */
static bool parse_iso_date(const char *s, char out[32])
{
    while (*s == ' ')
        s++;
    if (!(is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-' &&
          is_digit(s[5]) && is_digit(s[6]) && s[7] == '-' && is_digit(s[8]) && is_digit(s[9])))
        return false;
    int y = digits_value(s, 4), mo = digits_value(s + 5, 2), d = digits_value(s + 8, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *p = s + 10;
    long secs = 0;
    long offset = 0;
    if ((*p == 'T' || *p == 't' || *p == ' ') && is_digit(p[1]) && is_digit(p[2]) && p[3] == ':' &&
        is_digit(p[4]) && is_digit(p[5])) {
        int hh = digits_value(p + 1, 2), mi = digits_value(p + 4, 2), ss = 0;
        p += 6;
        if (*p == ':' && is_digit(p[1]) && is_digit(p[2])) {
            ss = digits_value(p + 1, 2);
            p += 3;
        }
        if (*p == '.' || *p == ',') {
            p++;
            while (is_digit(*p))
                p++;
        }
        if (hh > 24 || mi > 59 || ss > 60)
            return false;
        secs = hh * 3600L + mi * 60L + (ss == 60 ? 59 : ss);
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if ((*p == '+' || *p == '-') && is_digit(p[1]) && is_digit(p[2])) {
            int sign = *p == '-' ? -1 : 1;
            int oh = digits_value(p + 1, 2), om = 0;
            p += 3;
            if (*p == ':')
                p++;
            if (is_digit(p[0]) && is_digit(p[1])) {
                om = digits_value(p, 2);
                p += 2;
            }
            if (oh > 23 || om > 59)
                return false;
            offset = sign * (oh * 3600L + om * 60L);
        }
    }
    return format_utc(days_from_civil(y, (unsigned)mo, (unsigned)d), secs - offset, out);
}

/*
 * Free-form dates as news pages print them: "Tue, 19 Nov 2019 10:20:00 GMT",
 * "November 19, 2019 10:20 AM EST", "23:35 GMT22 June 2021". Needs a month name, a day
 * and a four-digit year; time and zone are optional (a date alone means 00:00 UTC).
 */
static bool parse_loose_date(const char *s, char out[32])
{
    int year = -1, month = 0, day = -1, hh = -1, mi = 0, ss = 0;
    long offset = 0;
    bool pm = false, am = false;
    const char *p = s;
    size_t guard = 0;
    while (*p && guard++ < 256) {
        if (is_digit(*p)) {
            const char *q = p;
            while (is_digit(*q))
                q++;
            size_t n = (size_t)(q - p);
            if (*q == ':' && n <= 2 && is_digit(q[1]) && is_digit(q[2]) && hh < 0) {
                hh = digits_value(p, n);
                mi = digits_value(q + 1, 2);
                q += 3;
                if (*q == ':' && is_digit(q[1]) && is_digit(q[2])) {
                    ss = digits_value(q + 1, 2);
                    q += 3;
                }
            } else if (n == 4 && year < 0) {
                year = digits_value(p, 4);
            } else if (n <= 2 && day < 0) {
                day = digits_value(p, n);
            }
            p = q;
        } else if (is_alpha(*p)) {
            const char *q = p;
            while (is_alpha(*q))
                q++;
            size_t n = (size_t)(q - p);
            int m = month_of(p, n);
            if (m && month == 0 && n <= 9) {
                month = m;
            } else if ((n == 2 && istarts(p, "pm")) || (n == 4 && istarts(p, "p.m."))) {
                pm = true;
            } else if (n == 2 && istarts(p, "am")) {
                am = true;
            } else if ((n == 3 && (istarts(p, "gmt") || istarts(p, "utc"))) ||
                       (n == 1 && (*p == 'Z' || *p == 'z'))) {
                if ((*q == '+' || *q == '-') && is_digit(q[1]) && is_digit(q[2])) {
                    int sign = *q == '-' ? -1 : 1;
                    int oh = digits_value(q + 1, 2);
                    q += 3;
                    int om = 0;
                    if (*q == ':')
                        q++;
                    if (is_digit(q[0]) && is_digit(q[1])) {
                        om = digits_value(q, 2);
                        q += 2;
                    }
                    offset = sign * (oh * 3600L + om * 60L);
                }
            } else if (n == 3 && p[2] == 'T' && (p[1] == 'S' || p[1] == 'D')) {
                /* North American zones: EST, EDT, CST, CDT, MST, MDT, PST, PDT. */
                static const char zones[] = "ECMP";
                const char *z = strchr(zones, p[0]);
                if (z) {
                    long base = -(5 + (long)(z - zones)) * 3600L;
                    offset = base + (p[1] == 'D' ? 3600L : 0);
                }
            }
            p = q;
        } else if ((*p == '+' || *p == '-') && hh >= 0 && is_digit(p[1]) && is_digit(p[2]) &&
                   is_digit(p[3]) && is_digit(p[4])) {
            int sign = *p == '-' ? -1 : 1;
            offset = sign * (digits_value(p + 1, 2) * 3600L + digits_value(p + 3, 2) * 60L);
            p += 5;
        } else {
            p++;
        }
    }
    if (year < 0 || month == 0 || day < 1 || day > 31)
        return false;
    long secs = 0;
    if (hh >= 0) {
        if (pm && hh < 12)
            hh += 12;
        if (am && hh == 12)
            hh = 0;
        if (hh > 23 || mi > 59 || ss > 59)
            return false;
        secs = hh * 3600L + mi * 60L + ss;
    }
    return format_utc(days_from_civil(year, (unsigned)month, (unsigned)day), secs - offset, out);
}

static bool parse_date(const char *s, char out[32])
{
    if (!s || !*s)
        return false;
    return parse_iso_date(s, out) || parse_loose_date(s, out);
}

/* ---------------------------------------------------------------------------------------
 * What one page yields
 * ------------------------------------------------------------------------------------- */

struct ex_result {
    const struct wp_host_api *host;
    char *headline;
    char *site_name;
    char *language;
    char *published_raw;
    char *canonical;
    json_t *authors;  /* array of strings */
    json_t *keywords; /* array of strings */
    struct sbuf body;
    size_t paragraphs;
    char *ld_body; /* JSON-LD articleBody, cleaned into paragraphs */
    size_t ld_body_len;
    const char *method; /* how the body was found, for the debug log */
    bool depth_cut;     /* the parser dropped elements nested too deep */
};

static void res_init(struct ex_result *r, const struct wp_host_api *host)
{
    memset(r, 0, sizeof(*r));
    r->host = host;
    r->authors = json_array();
    r->keywords = json_array();
    sb_init(&r->body, host);
}

static void res_free(struct ex_result *r)
{
    char **strs[] = {&r->headline,      &r->site_name, &r->language,
                     &r->published_raw, &r->canonical, &r->ld_body};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (*strs[i])
            r->host->free(*strs[i]);
        *strs[i] = NULL;
    }
    json_decref(r->authors);
    json_decref(r->keywords);
    sb_free(&r->body);
}

/* Set *@slot to a cleaned copy of @s unless it is already set. */
static void res_set_once(struct ex_result *r, char **slot, const char *s)
{
    if (*slot || !s)
        return;
    *slot = clean_text(r->host, s, strlen(s));
}

/* Append @s (cleaned) to @arr unless empty, too long, or already there (case-blind). */
static void add_unique(const struct wp_host_api *host, json_t *arr, const char *s, size_t n,
                       size_t max)
{
    if (json_array_size(arr) >= max)
        return;
    char *c = clean_text(host, s, n);
    if (!c)
        return;
    /* Strip quotes and stray separators pages leave around tags. */
    char *start = c;
    while (*start == '"' || *start == '\'' || *start == '#' || *start == ',' || *start == ';')
        start++;
    size_t len = strlen(start);
    while (len && (start[len - 1] == '"' || start[len - 1] == '\'' || start[len - 1] == ',' ||
                   start[len - 1] == ';' || start[len - 1] == ' '))
        start[--len] = '\0';
    /* Internal tags ("@post-id:1", "/article", "_no-apple-news") and entity debris. */
    bool dup = len == 0 || len > 200 || start[0] == '@' || start[0] == '/' || start[0] == '_' ||
               (start[0] == '&' && !strchr(start, ' '));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!dup && ieq(json_string_value(v), start))
            dup = true;
    }
    if (!dup)
        json_array_append_new(arr, json_text(host, start, len));
    host->free(c);
}

/* Split @s on @seps and add each part. */
static void add_split(const struct wp_host_api *host, json_t *arr, const char *s, const char *seps,
                      size_t max)
{
    while (s && *s) {
        size_t n = strcspn(s, seps);
        add_unique(host, arr, s, n, max);
        s += n;
        if (*s)
            s++;
    }
}

static bool looks_like_url(const char *s)
{
    return istarts(s, "http://") || istarts(s, "https://") || istarts(s, "//");
}

/* Add an author name, splitting "A and B" / "A, B" lists of names; URLs are skipped. */
static void add_author(const struct wp_host_api *host, json_t *arr, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    s = trim(s, &n);
    if (n == 0 || looks_like_url(s))
        return;
    if (istarts(s, "by "))
        s += 3;
    /* "Smith, John" is one name; split on commas only when every part has a space. */
    char tmp[512];
    if (n >= sizeof(tmp)) {
        add_unique(host, arr, s, strlen(s), EX_MAX_AUTHORS);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s", s);
    for (char *p = tmp; *p; p++) {
        if (p[0] == ' ' && istarts(p, " and ")) {
            p[0] = ',';
            p[1] = p[2] = p[3] = ' ';
        }
    }
    bool all_multiword = true;
    for (const char *p = tmp; *p;) {
        size_t k = strcspn(p, ",");
        size_t m = k;
        const char *part = trim(p, &m);
        if (!memchr(part, ' ', m))
            all_multiword = false;
        p += k;
        if (*p)
            p++;
    }
    if (all_multiword)
        add_split(host, arr, tmp, ",", EX_MAX_AUTHORS);
    else
        add_unique(host, arr, s, strlen(s), EX_MAX_AUTHORS);
}

/* BCP 47 from "en_US", "EN-us", "en-GB,en" ...; NULL when it does not look like a tag. */
static char *norm_lang(const struct wp_host_api *host, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    s = trim(s, &n);
    n = strcspn(s, ",; ") < n ? strcspn(s, ",; ") : n;
    if (n < 2 || n > 35)
        return NULL;
    char out[36];
    size_t sub = 0, sublen = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == '_' ? '-' : s[i];
        if (c == '-') {
            if (sublen == 0)
                return NULL;
            sub++;
            sublen = 0;
        } else if (is_alpha(c) || (sub > 0 && is_digit(c))) {
            sublen++;
            if (sublen > 8)
                return NULL;
        } else {
            return NULL;
        }
        out[i] = c;
    }
    out[n] = '\0';
    size_t first = strcspn(out, "-");
    if (first < 2 || first > 3)
        return NULL;
    /* language lower case; a two-letter region upper case; a four-letter script titled */
    size_t start = 0;
    size_t idx = 0;
    for (size_t i = 0; i <= n; i++) {
        if (out[i] == '-' || out[i] == '\0') {
            size_t len = i - start;
            for (size_t k = start; k < i; k++)
                out[k] = ascii_lower(out[k]);
            if (idx > 0 && len == 2)
                for (size_t k = start; k < i; k++)
                    out[k] = (char)(out[k] - 'a' + 'A');
            if (idx > 0 && len == 4 && is_alpha(out[start]))
                out[start] = (char)(out[start] - 'a' + 'A');
            start = i + 1;
            idx++;
        }
    }
    return host->strndup(out, n);
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

/* Does @s (of @n bytes) start with a chrome phrase? */
static bool chrome_prefix(const char *s, size_t n)
{
    for (size_t i = 0; chrome_phrases[i]; i++) {
        size_t k = strlen(chrome_phrases[i]);
        if (k > n || !istarts(s, chrome_phrases[i]))
            continue;
        char next = k < n ? s[k] : ' ';
        if (!(next >= 'a' && next <= 'z'))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * HTML: tags and class/id hints
 * ------------------------------------------------------------------------------------- */

enum tag_flags {
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

struct tag_def {
    const char *name;
    int base;       /* readability's initial score for the tag */
    unsigned flags; /* enum tag_flags */
};

static const struct tag_def tag_defs[] = {
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

static const struct tag_def *tag_lookup(const xmlChar *name)
{
    static const struct tag_def none = {"", 0, 0};
    if (!name)
        return &none;
    for (size_t i = 0; i < sizeof(tag_defs) / sizeof(tag_defs[0]); i++) {
        if (strcmp(tag_defs[i].name, (const char *)name) == 0)
            return &tag_defs[i];
    }
    return &none;
}

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
static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && ieq((const char *)a->name, name)) {
            if (a->children && a->children->content)
                return (const char *)a->children->content;
            return "";
        }
    }
    return NULL;
}

/* class + " " + id in lower case into @buf (truncated), for hint matching. */
static const char *class_id(const xmlNode *n, char *buf, size_t size)
{
    const char *c = attr(n, "class");
    const char *i = attr(n, "id");
    snprintf(buf, size, "%s %s", c ? c : "", i ? i : "");
    for (char *p = buf; *p; p++)
        *p = ascii_lower(*p);
    return buf;
}

static int class_weight(const char *ci)
{
    int w = 0;
    if (any_contains(ci, negative_words))
        w -= 25;
    if (any_contains(ci, positive_words))
        w += 25;
    return w;
}

/* Per-element data, reached through xmlNode._private. */
struct ninfo {
    double score;
    uint32_t text_len;   /* visible code points in the subtree (not counting whitespace) */
    uint32_t link_len;   /* of those, inside links */
    uint32_t inline_len; /* text reached without crossing a block element */
    uint32_t commas;
    uint32_t n_p, n_img, n_li, n_input, n_head;
    const struct tag_def *tag;
    int8_t weight;  /* class/id weight: -25, 0, 25 */
    bool removed;   /* this subtree is boilerplate */
    bool candidate; /* has a score */
    bool hidden;
};

static struct ninfo *info(const xmlNode *n)
{
    return n && n->type == XML_ELEMENT_NODE ? (struct ninfo *)n->_private : NULL;
}

/*
 * Iterative pre/post-order walk of @root's subtree. @enter returns whether to descend;
 * @leave runs after an element's children (also when it was not descended into).
 */
typedef bool walk_enter_fn(xmlNode *n, void *arg);
typedef void walk_leave_fn(xmlNode *n, void *arg);

static void walk(xmlNode *root, walk_enter_fn *enter, walk_leave_fn *leave, void *arg)
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

/* Count visible code points and commas of a text node. */
static void text_stats(const char *s, uint32_t *chars, uint32_t *commas)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t w = ws_len(u + i, n - i);
        if (w) {
            i += w;
            continue;
        }
        /* ',' and the fullwidth (U+FF0C) and ideographic (U+3001) commas */
        if (u[i] == ',' || (u[i] == 0xEF && i + 2 < n && u[i + 1] == 0xBC && u[i + 2] == 0x8C) ||
            (u[i] == 0xE3 && i + 2 < n && u[i + 1] == 0x80 && u[i + 2] == 0x81))
            (*commas)++;
        if ((u[i] & 0xC0) != 0x80)
            (*chars)++;
        i++;
    }
}

/* ---------------------------------------------------------------------------------------
 * HTML: metadata
 * ------------------------------------------------------------------------------------- */

struct meta_walk {
    struct ex_result *r;
    const struct wp_host_api *host;
    /* candidates, borrowed from the document, in order of preference */
    const char *og_title, *tw_title, *h1, *title, *ld_headline;
    const char *pub_meta, *pub_time, *pub_ld, *pub_itemprop;
    const char *canon_link, *og_url, *ld_url;
    const char *lang_html, *lang_og, *lang_http, *lang_ld;
    xmlNode *h1_node, *title_node;
    json_t *ld_authors; /* strings from JSON-LD */
    json_t *meta_authors;
    json_t *byline_authors;
    json_t *ld_keywords;
    json_t *meta_keywords;
    char *ld_body_raw; /* longest JSON-LD articleBody (host string) */
    size_t ld_body_raw_len;
    unsigned byline_tries;
};

/*
 * JSON-LD blocks often carry raw newlines and tabs inside strings, which strict JSON
 * forbids; escape them so the block still parses.
 */
static char *jsonld_sanitize(const struct wp_host_api *host, const char *s, size_t n)
{
    struct sbuf b;
    sb_init(&b, host);
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
                sb_puts(&b, c == '\n' ? "\\n" : c == '\t' ? "\\t" : " ");
                continue;
            }
        } else if (c == '"') {
            in_str = true;
        }
        sb_putn(&b, &c, 1);
    }
    if (b.oom) {
        sb_free(&b);
        return NULL;
    }
    return b.p;
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
        if (icontains(types[i], "article") || icontains(types[i], "posting") ||
            icontains(types[i], "report"))
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
        add_author(host, out, json_string_value(v));
    } else if (json_is_object(v)) {
        const json_t *name = json_object_get(v, "name");
        if (json_is_string(name))
            add_author(host, out, json_string_value(name));
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

static void ld_article(struct meta_walk *mw, const json_t *obj)
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
        if (u && looks_like_url(u))
            mw->ld_url = u;
    }
    if (json_array_size(mw->ld_authors) == 0)
        ld_names(mw->host, mw->ld_authors, json_object_get(obj, "author"));
    const json_t *kw = json_object_get(obj, "keywords");
    if (json_array_size(mw->ld_keywords) == 0) {
        if (json_is_string(kw)) {
            add_split(mw->host, mw->ld_keywords, json_string_value(kw), ",;", EX_MAX_KEYWORDS);
        } else if (json_is_array(kw)) {
            size_t i;
            const json_t *v;
            json_array_foreach(kw, i, v)
            {
                if (json_is_string(v))
                    add_unique(mw->host, mw->ld_keywords, json_string_value(v),
                               json_string_length(v), EX_MAX_KEYWORDS);
            }
        }
    }
}

/* Visit article-like objects in a JSON-LD value: arrays, @graph, mainEntity. */
static void ld_visit(struct meta_walk *mw, const json_t *v, int depth)
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

static void meta_jsonld(struct meta_walk *mw, xmlNode *script, json_t *keep)
{
    struct sbuf b;
    sb_init(&b, mw->host);
    for (xmlNode *c = script->children; c; c = c->next) {
        if (c->content)
            sb_puts(&b, (const char *)c->content);
    }
    if (b.len == 0 || b.oom) {
        sb_free(&b);
        return;
    }
    json_error_t err;
    json_t *root = json_loadb(b.p, b.len, JSON_DECODE_ANY, &err);
    if (!root) {
        char *fixed = jsonld_sanitize(mw->host, b.p, b.len);
        if (fixed) {
            root = json_loads(fixed, JSON_DECODE_ANY, &err);
            mw->host->free(fixed);
        }
    }
    sb_free(&b);
    if (!root)
        return;
    ld_visit(mw, root, 0);
    /* Borrowed strings point into root: keep it alive until the walk is done. */
    json_array_append_new(keep, root);
}

static void meta_element(struct meta_walk *mw, xmlNode *n, json_t *keep)
{
    const char *name = (const char *)n->name;
    if (strcmp(name, "meta") == 0) {
        const char *key = attr(n, "property");
        if (!key)
            key = attr(n, "name");
        if (!key)
            key = attr(n, "itemprop");
        const char *http = attr(n, "http-equiv");
        const char *content = attr(n, "content");
        if (!content)
            return;
        if (http && ieq(http, "content-language") && !mw->lang_http)
            mw->lang_http = content;
        if (!key)
            return;
        if (ieq(key, "og:title"))
            mw->og_title = mw->og_title ? mw->og_title : content;
        else if (ieq(key, "twitter:title"))
            mw->tw_title = mw->tw_title ? mw->tw_title : content;
        else if (ieq(key, "og:site_name"))
            res_set_once(mw->r, &mw->r->site_name, content);
        else if (ieq(key, "og:url"))
            mw->og_url = mw->og_url ? mw->og_url : content;
        else if (ieq(key, "og:locale"))
            mw->lang_og = mw->lang_og ? mw->lang_og : content;
        else if (ieq(key, "article:published_time") || ieq(key, "og:published_time") ||
                 ieq(key, "published_time") || ieq(key, "pubdate") || ieq(key, "publishdate") ||
                 ieq(key, "publish-date") || ieq(key, "dc.date.issued") ||
                 ieq(key, "dcterms.created") || ieq(key, "dc.date") || ieq(key, "date") ||
                 ieq(key, "sailthru.date") || ieq(key, "parsely-pub-date") ||
                 ieq(key, "article.published") || ieq(key, "datepublished"))
            mw->pub_meta = mw->pub_meta ? mw->pub_meta : content;
        else if (ieq(key, "author") || ieq(key, "article:author") || ieq(key, "byl") ||
                 ieq(key, "dc.creator") || ieq(key, "sailthru.author") ||
                 ieq(key, "parsely-author"))
            add_author(mw->host, mw->meta_authors, content);
        else if (ieq(key, "keywords") || ieq(key, "news_keywords"))
            add_split(mw->host, mw->meta_keywords, content, ",;", EX_MAX_KEYWORDS);
        else if (ieq(key, "article:tag") || ieq(key, "parsely-tags"))
            add_split(mw->host, mw->meta_keywords, content, ",", EX_MAX_KEYWORDS);
        else if (ieq(key, "content-language") || ieq(key, "language") || ieq(key, "dc.language"))
            mw->lang_http = mw->lang_http ? mw->lang_http : content;
        return;
    }
    if (strcmp(name, "html") == 0) {
        const char *l = attr(n, "lang");
        if (!l)
            l = attr(n, "xml:lang");
        mw->lang_html = l;
        return;
    }
    if (strcmp(name, "link") == 0) {
        const char *rel = attr(n, "rel");
        const char *href = attr(n, "href");
        if (rel && href && ieq(rel, "canonical") && !mw->canon_link)
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
        const char *type = attr(n, "type");
        if (type && ieq(type, "application/ld+json"))
            meta_jsonld(mw, n, keep);
        return;
    }
    if (strcmp(name, "time") == 0 && !mw->pub_time) {
        const char *dt = attr(n, "datetime");
        if (dt)
            mw->pub_time = dt;
        return;
    }
    const char *itemprop = attr(n, "itemprop");
    if (itemprop && ieq(itemprop, "datePublished") && !mw->pub_itemprop) {
        const char *v = attr(n, "content");
        if (!v)
            v = attr(n, "datetime");
        mw->pub_itemprop = v;
    }
    const char *rel = attr(n, "rel");
    char buf[256];
    const char *ci = class_id(n, buf, sizeof(buf));
    bool byline = (rel && ieq(rel, "author")) || (itemprop && ieq(itemprop, "author")) ||
                  strstr(ci, "byline") || strstr(ci, "author-name");
    /* Bounded: nested byline elements would otherwise make this quadratic. */
    if (byline && mw->byline_tries < 8) {
        mw->byline_tries++;
        xmlChar *t = xmlNodeGetContent(n);
        if (t) {
            size_t len = strlen((const char *)t);
            /* A byline is a few words; a long one is a bio or a container. */
            if (len > 2 && len < 80)
                add_author(mw->host, mw->byline_authors, (const char *)t);
            xmlFree(t);
        }
    }
}

struct meta_walk_arg {
    struct meta_walk *mw;
    json_t *keep;
};

static bool meta_enter(xmlNode *n, void *arg)
{
    struct meta_walk_arg *a = arg;
    if (n->type != XML_ELEMENT_NODE)
        return false;
    meta_element(a->mw, n, a->keep);
    const char *name = (const char *)n->name;
    return strcmp(name, "script") != 0 && strcmp(name, "style") != 0;
}

/* Whole text of @n, whitespace collapsed; NULL when empty. */
static char *node_text(const struct wp_host_api *host, xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    char *c = clean_text(host, (const char *)t, strlen((const char *)t));
    xmlFree(t);
    return c;
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
            bool is_site = site && (ieq(tail, site) || icontains(tail, site) ||
                                    (strlen(site) > 3 && icontains(site, tail)));
            if (is_site || (tail_len < 40 && head_len > tail_len * 2 && head_len >= 15)) {
                *last = '\0';
                return;
            }
        }
        /* the first separator: prefix naming the site */
        char *first = strstr(title, seps[s]);
        if (first && site) {
            size_t head_len = (size_t)(first - title);
            if (head_len == strlen(site) && istarts(title, site)) {
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
    href = trim(href, &n);
    char tmp[2048];
    if (n == 0 || n >= sizeof(tmp))
        return NULL;
    memcpy(tmp, href, n);
    tmp[n] = '\0';
    xmlChar *abs = xmlBuildURI((const xmlChar *)tmp, (const xmlChar *)(base ? base : ""));
    if (!abs)
        return NULL;
    char *out = NULL;
    if (istarts((const char *)abs, "http://") || istarts((const char *)abs, "https://"))
        out = host->strndup((const char *)abs, strlen((const char *)abs));
    xmlFree(abs);
    return out;
}

static void merge_array(json_t *dst, json_t *src, size_t max)
{
    size_t i;
    json_t *v;
    json_array_foreach(src, i, v)
    {
        if (json_array_size(dst) >= max)
            break;
        bool dup = false;
        size_t k;
        json_t *w;
        json_array_foreach(dst, k, w)
        {
            if (ieq(json_string_value(w), json_string_value(v)))
                dup = true;
        }
        if (!dup)
            json_array_append(dst, v);
    }
}

static void html_meta(struct ex_result *r, xmlDoc *doc, const char *base_url)
{
    struct meta_walk mw;
    memset(&mw, 0, sizeof(mw));
    mw.r = r;
    mw.host = r->host;
    mw.ld_authors = json_array();
    mw.meta_authors = json_array();
    mw.byline_authors = json_array();
    mw.ld_keywords = json_array();
    mw.meta_keywords = json_array();
    json_t *keep = json_array();
    struct meta_walk_arg arg = {&mw, keep};
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root)
        walk(root, meta_enter, NULL, &arg);

    /* Headline: the page's own title, most specific first. */
    const char *cands[] = {mw.og_title, mw.ld_headline, mw.tw_title, NULL};
    for (size_t i = 0; i < 3 && !r->headline; i++) {
        if (cands[i])
            r->headline = clean_text(r->host, cands[i], strlen(cands[i]));
    }
    if (!r->headline)
        r->headline = node_text(r->host, mw.h1_node);
    if (!r->headline)
        r->headline = node_text(r->host, mw.title_node);
    if (r->headline)
        strip_site_suffix(r->headline, r->site_name);

    const char *langs[] = {mw.lang_html, mw.lang_og, mw.lang_http, mw.lang_ld};
    for (size_t i = 0; i < 4 && !r->language; i++)
        r->language = norm_lang(r->host, langs[i]);

    const char *pubs[] = {mw.pub_meta, mw.pub_ld, mw.pub_itemprop, mw.pub_time};
    for (size_t i = 0; i < 4 && !r->published_raw; i++) {
        if (pubs[i] && *pubs[i])
            res_set_once(r, &r->published_raw, pubs[i]);
    }

    const char *canons[] = {mw.canon_link, mw.og_url, mw.ld_url};
    for (size_t i = 0; i < 3 && !r->canonical; i++)
        r->canonical = resolve_url(r->host, canons[i], base_url);

    if (json_array_size(mw.ld_authors))
        merge_array(r->authors, mw.ld_authors, EX_MAX_AUTHORS);
    else if (json_array_size(mw.meta_authors))
        merge_array(r->authors, mw.meta_authors, EX_MAX_AUTHORS);
    else
        merge_array(r->authors, mw.byline_authors, EX_MAX_AUTHORS);
    merge_array(r->keywords, mw.meta_keywords, EX_MAX_KEYWORDS);
    merge_array(r->keywords, mw.ld_keywords, EX_MAX_KEYWORDS);

    if (mw.ld_body_raw) {
        /* articleBody is text, but some sites put HTML or entity-escaped HTML in it. */
        struct sbuf b;
        sb_init(&b, r->host);
        struct para pa;
        memset(&pa, 0, sizeof(pa));
        sb_init(&pa.buf, r->host);
        const char *s = mw.ld_body_raw;
        bool html = strstr(s, "<p") || strstr(s, "<br") || strstr(s, "</");
        while (*s) {
            size_t n = strcspn(s, html ? "\n<" : "\n");
            para_add(&pa, s, n, false);
            s += n;
            bool brk = false;
            if (*s == '\n') {
                brk = true;
                s++;
            } else if (*s == '<') {
                const char *e = strchr(s, '>');
                brk = istarts(s, "<p") || istarts(s, "</p") || istarts(s, "<br") ||
                      istarts(s, "<div") || istarts(s, "</div") || istarts(s, "<h");
                s = e ? e + 1 : s + strlen(s);
                if (!brk)
                    para_add(&pa, " ", 1, false);
            }
            if ((brk || !*s) && pa.buf.len) {
                if (b.len)
                    sb_puts(&b, "\n\n");
                sb_putn(&b, pa.buf.p, pa.buf.len);
                para_reset(&pa);
            }
        }
        sb_free(&pa.buf);
        if (!b.oom && b.len) {
            r->ld_body = b.p;
            r->ld_body_len = b.len;
        } else {
            sb_free(&b);
        }
        r->host->free(mw.ld_body_raw);
    }
    json_decref(mw.ld_authors);
    json_decref(mw.meta_authors);
    json_decref(mw.byline_authors);
    json_decref(mw.ld_keywords);
    json_decref(mw.meta_keywords);
    json_decref(keep);
}

/* ---------------------------------------------------------------------------------------
 * HTML: body
 * ------------------------------------------------------------------------------------- */

struct body_walk {
    struct ninfo *infos;
    size_t count;
    size_t used;
    bool strip_unlikely;
    bool clean_conditionally;
    double max_link_density;
    const struct wp_host_api *host;
    struct ex_result *r;
    /* collection */
    struct para pa;
    bool last_br;
    int link_depth;
    xmlNode *headline_node;
};

static bool count_enter(xmlNode *n, void *arg)
{
    if (n->type == XML_ELEMENT_NODE)
        ((struct body_walk *)arg)->count++;
    n->_private = NULL;
    return true;
}

static bool is_hidden(const xmlNode *n)
{
    if (attr(n, "hidden"))
        return true;
    const char *aria = attr(n, "aria-hidden");
    if (aria && ieq(aria, "true"))
        return true;
    const char *style = attr(n, "style");
    if (style && (icontains(style, "display:none") || icontains(style, "display: none") ||
                  icontains(style, "visibility:hidden")))
        return true;
    return false;
}

static bool classify_enter(xmlNode *n, void *arg)
{
    struct body_walk *bw = arg;
    if (n->type != XML_ELEMENT_NODE)
        return false;
    if (bw->used >= bw->count)
        return false;
    struct ninfo *ni = &bw->infos[bw->used++];
    memset(ni, 0, sizeof(*ni));
    n->_private = ni;
    ni->tag = tag_lookup(n->name);
    char buf[512];
    const char *ci = class_id(n, buf, sizeof(buf));
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
        if (!keep_tag && any_contains(ci, unlikely_words) && !any_contains(ci, maybe_words))
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
        struct ninfo *p = info(n->parent);
        if (p && n->content) {
            uint32_t chars = 0, commas = 0;
            text_stats((const char *)n->content, &chars, &commas);
            p->text_len += chars;
            p->inline_len += chars;
            p->commas += commas;
        }
        return false;
    }
    if (n->type != XML_ELEMENT_NODE)
        return false;
    struct ninfo *ni = info(n);
    return ni && !ni->removed;
}

static void stats_leave(xmlNode *n, void *arg)
{
    (void)arg;
    struct ninfo *ni = info(n);
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
    struct ninfo *p = info(n->parent);
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

static double link_density(const struct ninfo *ni)
{
    return ni->text_len ? (double)ni->link_len / ni->text_len : 0.0;
}

static void candidate_init(struct ninfo *ni)
{
    if (ni->candidate)
        return;
    ni->candidate = true;
    ni->score = ni->tag->base + ni->weight;
}

static bool score_enter(xmlNode *n, void *arg)
{
    (void)arg;
    struct ninfo *ni = info(n);
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
        struct ninfo *ai = info(a);
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
    struct ninfo *ni = info(n);
    if (!ni || ni->removed)
        return false;
    if (ni->candidate) {
        ni->score *= 1.0 - link_density(ni);
        if (!tf->best || ni->score > tf->best_score) {
            tf->best = n;
            tf->best_score = ni->score;
        }
    }
    return true;
}

static size_t element_children(const xmlNode *n, xmlNode **only)
{
    size_t count = 0;
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            count++;
            *only = c;
        } else if (c->type == XML_TEXT_NODE && c->content) {
            size_t len = strlen((const char *)c->content);
            trim((const char *)c->content, &len);
            if (len)
                count += 100; /* text beside the child: not a mere wrapper */
        }
    }
    return count;
}

/* Is @n boilerplate inside the chosen article (readability's "clean conditionally")? */
static bool drop_conditionally(const struct body_walk *bw, const struct ninfo *ni)
{
    unsigned f = ni->tag->flags;
    if (!(f & T_COND) || !bw->clean_conditionally)
        return false;
    if (ni->weight < 0)
        return true;
    if (ni->commas >= 10)
        return false;
    bool list = (f & T_LIST) != 0;
    double ld = link_density(ni);
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

static void flush_para(struct body_walk *bw)
{
    struct para *pa = &bw->pa;
    if (pa->buf.len == 0) {
        para_reset(pa);
        return;
    }
    bool keep = true;
    /* Paragraphs made only of links are menus and "read more" lines. */
    if (pa->chars > 0 && pa->link_chars * 10 >= pa->chars * 9 && pa->chars < 200)
        keep = false;
    if (keep && bw->r->headline && strcmp(pa->buf.p, bw->r->headline) == 0)
        keep = false;
    if (keep && pa->chars < 100 && chrome_prefix(pa->buf.p, pa->buf.len))
        keep = false;
    if (keep) {
        struct sbuf *body = &bw->r->body;
        if (body->len)
            sb_puts(body, "\n\n");
        sb_putn(body, pa->buf.p, pa->buf.len);
        bw->r->paragraphs++;
    }
    para_reset(pa);
}

static bool collect_enter(xmlNode *n, void *arg)
{
    struct body_walk *bw = arg;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) {
            const char *t = (const char *)n->content;
            size_t len = strlen(t);
            size_t tl = len;
            trim(t, &tl);
            if (tl)
                bw->last_br = false;
            para_add(&bw->pa, t, len, bw->link_depth > 0);
        }
        return false;
    }
    if (n->type != XML_ELEMENT_NODE)
        return false;
    struct ninfo *ni = info(n);
    if (!ni || ni->removed)
        return false;
    unsigned f = ni->tag->flags;
    if (f & T_BR) {
        /* One <br> is a line break inside a paragraph; two end it. */
        if (bw->last_br)
            flush_para(bw);
        else
            para_add(&bw->pa, " ", 1, false);
        bw->last_br = true;
        return false;
    }
    if (n == bw->headline_node || (f & T_HEAD && strcmp((const char *)n->name, "h1") == 0))
        return false;
    if (drop_conditionally(bw, ni))
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
    struct body_walk *bw = arg;
    struct ninfo *ni = info(n);
    if (!ni)
        return;
    unsigned f = ni->tag->flags;
    if ((f & T_LINK) && !ni->removed && bw->link_depth > 0)
        bw->link_depth--;
    if ((f & T_BLOCK) && !ni->removed)
        flush_para(bw);
}

/* Collect the paragraphs of @n's subtree into the body. */
static void collect_node(struct body_walk *bw, xmlNode *n)
{
    walk(n, collect_enter, collect_leave, bw);
    flush_para(bw);
    bw->link_depth = 0;
}

static bool same_class(const xmlNode *a, const xmlNode *b)
{
    const char *ca = attr(a, "class");
    const char *cb = attr(b, "class");
    return ca && cb && *ca && strcmp(ca, cb) == 0;
}

static bool ends_sentence(const char *s)
{
    return strstr(s, ". ") || strstr(s, ".\n") || (strlen(s) > 0 && s[strlen(s) - 1] == '.');
}

/* One extraction attempt with the given filters; the body lands in r->body. */
static void html_body_pass(struct ex_result *r, xmlNode *root, struct body_walk *bw)
{
    bw->used = 0;
    walk(root, classify_enter, NULL, bw);
    walk(root, stats_enter, stats_leave, bw);
    walk(root, score_enter, NULL, bw);
    struct top_find tf = {NULL, 0};
    walk(root, top_enter, NULL, &tf);
    xmlNode *top = tf.best;
    if (!top)
        top = root;
    struct ninfo *ti = info(top);

    /* Move up while a parent scores better: the article is often split over siblings. */
    if (ti && ti->candidate) {
        double last = ti->score;
        double threshold = last / 3.0;
        for (xmlNode *p = top->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
            struct ninfo *pi = info(p);
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
    xmlNode *only = NULL;
    while (top->parent && top->parent->type == XML_ELEMENT_NODE &&
           element_children(top->parent, &only) == 1 && info(top->parent))
        top = top->parent;
    ti = info(top);

    sb_clear(&r->body);
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
        struct ninfo *si = info(s);
        if (!si || si->removed)
            continue;
        bool append = s == top;
        if (!append) {
            double bonus = same_class(s, top) ? top_score * 0.2 : 0;
            if (si->candidate && si->score + bonus >= threshold) {
                append = true;
            } else if (si->tag->flags & T_P) {
                double ld = link_density(si);
                if (si->text_len > 80 && ld < 0.25) {
                    append = true;
                } else if (si->text_len > 0 && si->text_len <= 80 && ld == 0) {
                    char *t = node_text(bw->host, s);
                    append = t && ends_sentence(t);
                    if (t)
                        bw->host->free(t);
                }
            }
        }
        if (append)
            collect_node(bw, s);
    }
}

static size_t body_chars(const struct ex_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->body.len; i++)
        n += ((unsigned char)r->body.p[i] & 0xC0) != 0x80;
    return n;
}

static void html_body(struct ex_result *r, xmlDoc *doc, const struct ex_conf *conf)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root)
        return;
    struct body_walk bw;
    memset(&bw, 0, sizeof(bw));
    bw.host = r->host;
    bw.r = r;
    bw.max_link_density = conf->max_link_density;
    sb_init(&bw.pa.buf, r->host);
    walk(root, count_enter, NULL, &bw);
    bw.infos = r->host->calloc(bw.count ? bw.count : 1, sizeof(*bw.infos));
    if (!bw.infos) {
        sb_free(&bw.pa.buf);
        return;
    }
    xmlNode *body = root;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "body") == 0)
            body = c;
    }
    /* Retry with fewer filters when the first pass finds little, as readability does. */
    static const bool flags[][2] = {{true, true}, {false, true}, {false, false}};
    struct sbuf best;
    sb_init(&best, r->host);
    size_t best_chars = 0, best_paras = 0;
    for (size_t i = 0; i < 3; i++) {
        bw.strip_unlikely = flags[i][0];
        bw.clean_conditionally = flags[i][1];
        html_body_pass(r, body, &bw);
        size_t chars = body_chars(r);
        if (chars > best_chars) {
            sb_clear(&best);
            sb_putn(&best, r->body.p, r->body.len);
            best_chars = chars;
            best_paras = r->paragraphs;
        }
        if (chars >= 500)
            break;
    }
    sb_clear(&r->body);
    if (best.len)
        sb_putn(&r->body, best.p, best.len);
    r->paragraphs = best_paras;
    r->method = "dom";
    sb_free(&best);
    sb_free(&bw.pa.buf);
    /* Leave no pointers into freed memory behind in the document. */
    walk(root, count_enter, NULL, &bw);
    r->host->free(bw.infos);
}

/* ---------------------------------------------------------------------------------------
 * Plain text
 * ------------------------------------------------------------------------------------- */

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

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
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
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha((char)c) || c >= 0xC3)
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
    while (i > 0 && is_digit(s[i])) {
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
    return n < 80 && chrome_prefix(s, n);
}

/* A date line: parses as a date and has few words besides. */
/* Words a date line may hold besides numbers: months, weekdays, zones, "updated" ... */
static bool is_date_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "mon", "tue", "wed", "thu",     "fri",       "sat",    "sun",  "gmt",      "utc", "am",
        "pm",  "at",  "on",  "updated", "published", "posted", "last", "modified", "z",   NULL};
    if (month_of(w, n) || (n == 3 && w[2] == 'T' && (w[1] == 'S' || w[1] == 'D')))
        return true;
    for (size_t i = 0; words[i]; i++) {
        size_t k = strlen(words[i]);
        /* weekdays may be spelt out: "Tuesday" */
        if ((n == k || (k == 3 && n >= 6 && istarts(w + n - 3, "day"))) && istarts(w, words[i]))
            return true;
    }
    return false;
}

static bool is_date_line(const char *s, size_t n, char out[32])
{
    if (n > 60 || word_count(s, n) > 8)
        return false;
    /* At most one other word ("Moscow, 22 June 2021"), so titles with a date stay text. */
    size_t others = 0;
    for (size_t i = 0; i < n;) {
        if (!is_alpha(s[i])) {
            i++;
            continue;
        }
        size_t k = i;
        while (k < n && is_alpha(s[k]))
            k++;
        if (!is_date_word(s + i, k - i))
            others++;
        i = k;
    }
    if (others > 1)
        return false;
    char tmp[64];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return parse_date(tmp, out);
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
        const char *item = trim(s + i, &len);
        if (len == 0 || len > 40 || word_count(item, len) > 4)
            return false;
        items++;
        i = k + 1;
    }
    return items >= 3;
}

static void text_extract(struct ex_result *r, const char *content, size_t len,
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
        const char *s = trim(content + i, &n);
        lines[count++] = (struct line){s, n, L_BLANK};
        i = k + 1;
    }
    char date[32];
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
        size_t chars = utf8_chars(l->s, l->n);
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
        if (lines[i].kind == L_SHORT && lines[i].n < 120 && istarts(lines[i].s, "by ") &&
            word_count(lines[i].s, lines[i].n) <= 8) {
            char tmp[128];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)lines[i].n, lines[i].s);
            add_author(r->host, r->authors, tmp);
            lines[i].kind = L_CHROME;
        }
    }
    /* Headline: a short line of a few words before the first paragraph. */
    for (size_t i = 0; i < first_para && !r->headline; i++) {
        if (lines[i].kind == L_SHORT && word_count(lines[i].s, lines[i].n) >= 4 && lines[i].n >= 20)
            r->headline = clean_text(r->host, lines[i].s, lines[i].n);
    }
    /*
     * Body: paragraphs from the first to the last; a short line is kept between paragraphs
     * (a subheading) but not at either end.
     */
    struct para pa;
    memset(&pa, 0, sizeof(pa));
    sb_init(&pa.buf, r->host);
    for (size_t i = first_para; i <= last_para; i++) {
        struct line *l = &lines[i];
        if (l->kind != L_PARA && l->kind != L_SHORT)
            continue;
        para_add(&pa, l->s, l->n, false);
        if (r->body.len)
            sb_puts(&r->body, "\n\n");
        sb_putn(&r->body, pa.buf.p ? pa.buf.p : "", pa.buf.len);
        r->paragraphs++;
        para_reset(&pa);
    }
    sb_free(&pa.buf);
    /* Keywords: the tag line, looked for after the body first (where sites print it). */
    for (size_t i = last_para + 1; i < count; i++) {
        if (lines[i].kind == L_TAGS) {
            char tmp[512];
            size_t n = lines[i].n < sizeof(tmp) - 1 ? lines[i].n : sizeof(tmp) - 1;
            memcpy(tmp, lines[i].s, n);
            tmp[n] = '\0';
            add_split(r->host, r->keywords, tmp, ",", EX_MAX_KEYWORDS);
            break;
        }
    }
    /* No headline line: the lede's first sentence stands in for one. */
    if (!r->headline && r->body.len) {
        const char *s = r->body.p;
        size_t n = strcspn(s, "\n");
        for (size_t i = 0; i + 1 < n; i++) {
            if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && s[i + 1] == ' ' && i > 40) {
                n = i + 1;
                break;
            }
        }
        if (n <= 300)
            r->headline = clean_text(r->host, s, n);
    }
    r->method = "text";
    r->host->free(lines);
}

/* ---------------------------------------------------------------------------------------
 * Deciding what the content is
 * ------------------------------------------------------------------------------------- */

/* Does @s look like HTML? Needs a document tag or several common element tags. */
static bool sniff_html(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i < n && s[i] == '<') {
        const char *p = s + i;
        if (istarts(p, "<!doctype html") || istarts(p, "<html") || istarts(p, "<head") ||
            istarts(p, "<body") || istarts(p, "<!--"))
            return true;
    }
    static const char *const tags[] = {"<p>",     "<p ",    "<div",   "<br",    "<a href", "<span",
                                       "</p>",    "</div>", "<li>",   "<table", "<h1",     "<h2",
                                       "<script", "<meta",  "<title", NULL};
    size_t hits = 0;
    size_t limit = n < 65536 ? n : 65536;
    for (size_t k = 0; k < limit; k++) {
        if (s[k] != '<')
            continue;
        for (size_t t = 0; tags[t]; t++) {
            size_t tl = strlen(tags[t]);
            if (k + tl <= n && strncasecmp(s + k, tags[t], tl) == 0) {
                hits++;
                break;
            }
        }
        if (hits >= 3)
            return true;
    }
    return false;
}

static bool type_is_html(const char *ct)
{
    return ct && (istarts(ct, "text/html") || istarts(ct, "application/xhtml"));
}

static bool type_is_text(const char *ct)
{
    return ct && istarts(ct, "text/plain");
}

/* Types no page text can have: binary formats fetched by mistake. */
static bool type_is_binary(const char *ct)
{
    static const char *const bins[] = {"image/",
                                       "audio/",
                                       "video/",
                                       "font/",
                                       "application/pdf",
                                       "application/zip",
                                       "application/octet-stream",
                                       "application/gzip",
                                       NULL};
    if (!ct)
        return false;
    for (size_t i = 0; bins[i]; i++) {
        if (istarts(ct, bins[i]))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

static enum wp_status ex_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct ex_instance *in = ctx->host->calloc(1, sizeof(*in));
    if (!in) {
        wp_fail(ctx, WP_E_NOMEM, "cannot allocate the extract stage");
        return WP_E_NOMEM;
    }
    in->host = ctx->host;
    struct ex_conf *c = &in->conf;
    const char *mode = json_string_value(json_object_get(config, "mode"));
    c->mode = EX_MODE_AUTO;
    if (mode && strcmp(mode, "html") == 0)
        c->mode = EX_MODE_HTML;
    else if (mode && strcmp(mode, "text") == 0)
        c->mode = EX_MODE_TEXT;
    else if (mode && strcmp(mode, "auto") != 0) {
        wp_fail(ctx, WP_E_CONFIG, "mode: expected 'auto', 'html' or 'text', got '%s'", mode);
        ctx->host->free(in);
        return WP_E_CONFIG;
    }
    c->min_paragraph_chars = 40;
    c->min_body_chars = 1;
    c->max_content_bytes = 16L * 1024 * 1024;
    c->json_ld_body = true;
    c->json_ld_min_ratio = 0.8;
    c->max_link_density = 0.33;
    const json_t *v;
    if ((v = json_object_get(config, "min_paragraph_chars")) && json_is_integer(v))
        c->min_paragraph_chars = (long)json_integer_value(v);
    if ((v = json_object_get(config, "min_body_chars")) && json_is_integer(v))
        c->min_body_chars = (long)json_integer_value(v);
    if ((v = json_object_get(config, "max_content_bytes")) && json_is_integer(v))
        c->max_content_bytes = (long)json_integer_value(v);
    if ((v = json_object_get(config, "keep_content")) && json_is_boolean(v))
        c->keep_content = json_is_true(v);
    if ((v = json_object_get(config, "json_ld_body")) && json_is_boolean(v))
        c->json_ld_body = json_is_true(v);
    if ((v = json_object_get(config, "json_ld_min_ratio")) && json_is_number(v))
        c->json_ld_min_ratio = json_number_value(v);
    if ((v = json_object_get(config, "max_link_density")) && json_is_number(v))
        c->max_link_density = json_number_value(v);
    const char *bad = NULL;
    if (c->min_paragraph_chars < 1 || c->min_paragraph_chars > 10000)
        bad = "min_paragraph_chars: expected 1..10000";
    else if (c->min_body_chars < 0)
        bad = "min_body_chars: expected 0 or more";
    else if (c->max_content_bytes < 1 || c->max_content_bytes > INT32_MAX)
        bad = "max_content_bytes: expected 1..2147483647";
    else if (c->json_ld_min_ratio < 0 || c->json_ld_min_ratio > 10)
        bad = "json_ld_min_ratio: expected 0..10";
    else if (c->max_link_density <= 0 || c->max_link_density > 1)
        bad = "max_link_density: expected a number in (0, 1]";
    if (bad) {
        wp_fail(ctx, WP_E_CONFIG, "%s", bad);
        ctx->host->free(in);
        return WP_E_CONFIG;
    }
    *instance = in;
    return WP_OK;
}

static void ex_destroy(void *instance)
{
    struct ex_instance *in = instance;
    if (in)
        in->host->free(in);
}

static const char *item_str(const json_t *item, const char *key)
{
    return json_string_value(json_object_get(item, key));
}

static void set_str(json_t *item, const struct wp_host_api *host, const char *key, const char *s)
{
    json_t *v = json_text(host, s, strlen(s));
    if (v)
        json_object_set_new(item, key, v);
}

/* libxml2 stops building the tree at this depth unless XML_PARSE_HUGE is given. */
#define EX_LIBXML2_MAX_DEPTH 256

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

static enum wp_outcome ex_html(struct ex_instance *in, struct wp_ctx *ctx, json_t *item,
                               struct ex_result *r, const char *content, size_t len,
                               const char *url)
{
    xmlDoc *doc = htmlReadMemory(content, (int)len, url, "UTF-8",
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                     HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
    if (!doc) {
        wp_fail(ctx, WP_E_INVALID, "cannot parse the page as HTML (%zu bytes)", len);
        return WP_OUTCOME_REJECT;
    }
    /*
     * The parser's depth limit protects it (and xmlFreeDoc) from hostile nesting; what
     * lies deeper is lost, so say so on the item.
     */
    struct depth_walk dw = {0, 0};
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root)
        walk(root, depth_enter, depth_leave, &dw);
    r->depth_cut = dw.max >= EX_LIBXML2_MAX_DEPTH - 1;
    if (r->depth_cut)
        ctx->host->item_add_error(ctx, item, WP_E_LIMIT,
                                  "page nests elements %u deep; text below depth %d is lost",
                                  dw.max, EX_LIBXML2_MAX_DEPTH);
    html_meta(r, doc, url);
    html_body(r, doc, &in->conf);
    xmlFreeDoc(doc);
    /* JSON-LD articleBody is cleaner than the DOM when it is complete. */
    if (in->conf.json_ld_body && r->ld_body) {
        size_t dom = body_chars(r);
        size_t ld = utf8_chars(r->ld_body, r->ld_body_len);
        if (ld >= 200 && (double)ld >= in->conf.json_ld_min_ratio * (double)dom) {
            sb_clear(&r->body);
            sb_putn(&r->body, r->ld_body, r->ld_body_len);
            r->method = "json-ld";
            ctx->host->metric_add(ctx, "json_ld_body", 1);
        }
    }
    return WP_OUTCOME_OK;
}

static enum wp_outcome ex_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct ex_instance *in = instance;
    const struct wp_host_api *host = ctx->host;
    json_t *content = json_object_get(item, WP_ITEM_CONTENT);
    if (!content) {
        if (json_is_string(json_object_get(item, WP_ITEM_BODY)))
            return WP_OUTCOME_OK;
        wp_fail(ctx, WP_E_INVALID, "item has neither 'content' nor 'body'");
        return WP_OUTCOME_REJECT;
    }
    if (!json_is_string(content)) {
        wp_fail(ctx, WP_E_INVALID, "'content' is not a string");
        return WP_OUTCOME_REJECT;
    }
    const char *text = json_string_value(content);
    size_t len = json_string_length(content);
    if (len > (size_t)in->conf.max_content_bytes) {
        wp_fail(ctx, WP_E_LIMIT, "page of %zu bytes is over max_content_bytes (%ld)", len,
                in->conf.max_content_bytes);
        return WP_OUTCOME_REJECT;
    }
    size_t visible = len;
    trim(text, &visible);
    if (visible == 0) {
        wp_fail(ctx, WP_E_INVALID, "page is empty (%zu bytes of whitespace)", len);
        return WP_OUTCOME_REJECT;
    }
    json_t *source = json_object_get(item, WP_ITEM_SOURCE);
    const char *ct = json_string_value(json_object_get(source, "content_type"));
    const char *url = json_string_value(json_object_get(source, "url"));
    if (!url)
        url = item_str(item, WP_ITEM_URI);

    bool html;
    if (in->conf.mode == EX_MODE_HTML) {
        html = true;
    } else if (in->conf.mode == EX_MODE_TEXT) {
        html = false;
    } else {
        bool looks_html = sniff_html(text, len);
        if (type_is_binary(ct) && !looks_html) {
            wp_fail(ctx, WP_E_INVALID, "content type '%s' is not a page extract can read", ct);
            return WP_OUTCOME_REJECT;
        }
        html = looks_html;
        if (type_is_html(ct) && !looks_html) {
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "content labelled '%s' has no HTML markup; read as plain text",
                                 ct);
            host->metric_add(ctx, "type_mismatch", 1);
        } else if (type_is_text(ct) && looks_html) {
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "content labelled '%s' is HTML; parsed as HTML", ct);
            host->metric_add(ctx, "type_mismatch", 1);
        }
    }
    /* libxml2 stops at a NUL byte; say so rather than lose the rest silently. */
    size_t nul = strnlen(text, len);
    if (nul < len) {
        host->item_add_error(ctx, item, WP_E_UNICODE,
                             "content has a NUL byte at offset %zu; text after it is ignored", nul);
        len = nul;
    }

    struct ex_result r;
    res_init(&r, host);
    enum wp_outcome out = WP_OUTCOME_OK;
    if (html)
        out = ex_html(in, ctx, item, &r, text, len, url);
    else
        text_extract(&r, text, len, &in->conf);
    if (out != WP_OUTCOME_OK)
        goto out_free;
    if (r.body.oom || !r.authors || !r.keywords) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory while extracting");
        out = WP_OUTCOME_RETRY;
        goto out_free;
    }
    size_t chars = body_chars(&r);
    if (chars == 0 || chars < (size_t)in->conf.min_body_chars) {
        wp_fail(ctx, WP_E_INVALID, "no article text found in %s content (%zu bytes%s%s)%s",
                html ? "HTML" : "plain-text", len, ct ? ", " : "", ct ? ct : "",
                r.depth_cut ? "; elements nested deeper than 256 were cut by the parser" : "");
        out = WP_OUTCOME_REJECT;
        goto out_free;
    }
    host->metric_add(ctx, html ? "html" : "text", 1);
    if (r.headline && *r.headline)
        set_str(item, host, WP_ITEM_HEADLINE, r.headline);
    json_t *body = json_text(host, r.body.p, r.body.len);
    if (!body) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory while storing the body");
        out = WP_OUTCOME_RETRY;
        goto out_free;
    }
    json_object_set_new(item, WP_ITEM_BODY, body);
    if (r.language)
        set_str(item, host, WP_ITEM_LANGUAGE, r.language);
    if (r.published_raw) {
        char iso[32];
        if (parse_date(r.published_raw, iso))
            set_str(item, host, WP_ITEM_PUBLISHED, iso);
        else
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "publication date not understood; left out");
    }
    if (json_array_size(r.authors))
        json_object_set(item, WP_ITEM_AUTHORS, r.authors);
    if (json_array_size(r.keywords))
        json_object_set(item, WP_ITEM_KEYWORDS, r.keywords);
    if (r.canonical)
        set_str(item, host, WP_ITEM_URI, r.canonical);
    if (!in->conf.keep_content)
        json_object_del(item, WP_ITEM_CONTENT);
    if (host->log_enabled(ctx, WP_LOG_DEBUG))
        wp_log_debug(ctx, "body of %zu characters in %zu paragraphs from %s", chars, r.paragraphs,
                     r.method ? r.method : "?");
out_free:
    res_free(&r);
    return out;
}

static const struct wp_stage_ops extract_ops = {
    .name = "extract",
    .description = "HTML or plain-text page to headline, body paragraphs and metadata",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = ex_config,
    .create = ex_create,
    .process = ex_process,
    .destroy = ex_destroy,
};

static const struct wp_stage_ops *const extract_stages[] = {&extract_ops, NULL};

WP_PLUGIN_DEFINE(extract, "0.1.0", "Article extraction: headline, body and metadata of a page",
                 "MIT", extract_stages)
