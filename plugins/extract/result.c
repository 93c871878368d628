/*
 * result.c - what one page yields, and the rules for its list and tag fields: authors,
 * keywords and the language tag, wherever they were found.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <wirepipe/buf.h>
#include <wirepipe/lang.h>
#include <wirepipe/utf8.h>

#include "extract.h"

void ex_result_init(struct ex_result *r, const struct wp_host_api *host)
{
    memset(r, 0, sizeof(*r));
    r->host = host;
    r->authors = json_array();
    r->keywords = json_array();
    wp_buf_init(&r->body, host);
}

void ex_result_release(struct ex_result *r)
{
    char **strs[] = {&r->headline,      &r->site_name, &r->language,
                     &r->published_raw, &r->canonical, &r->ld_body};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        r->host->free(*strs[i]);
        *strs[i] = NULL;
    }
    json_decref(r->authors);
    json_decref(r->keywords);
    wp_buf_release(&r->body);
}

void ex_result_set_once(struct ex_result *r, char **slot, const char *s)
{
    if (*slot || !s)
        return;
    *slot = ex_clean_text(r->host, s, strlen(s));
}

size_t ex_body_chars(const struct ex_result *r)
{
    return r->body.data ? wp_utf8_count(r->body.data, r->body.len) : 0;
}

/* Does @arr hold @s, ignoring ASCII case? */
static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (ex_ieq(json_string_value(v), s))
            return true;
    }
    return false;
}

void ex_add_unique(const struct wp_host_api *host, json_t *arr, const char *s, size_t n, size_t max)
{
    if (json_array_size(arr) >= max)
        return;
    char *c = ex_clean_text(host, s, n);
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
    bool skip = len == 0 || len > 200 || start[0] == '@' || start[0] == '/' || start[0] == '_' ||
                (start[0] == '&' && !strchr(start, ' '));
    if (!skip && !has_string(arr, start))
        json_array_append_new(arr, ex_json_text(host, start, len));
    host->free(c);
}

void ex_add_split(const struct wp_host_api *host, json_t *arr, const char *s, const char *seps,
                  size_t max)
{
    while (s && *s) {
        size_t n = strcspn(s, seps);
        ex_add_unique(host, arr, s, n, max);
        s += n;
        if (*s)
            s++;
    }
}

bool ex_looks_like_url(const char *s)
{
    return ex_istarts(s, "http://") || ex_istarts(s, "https://") || ex_istarts(s, "//");
}

void ex_add_author(const struct wp_host_api *host, json_t *arr, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    s = ex_trim(s, &n);
    if (n == 0 || ex_looks_like_url(s))
        return;
    if (ex_istarts(s, "by "))
        s += 3;
    /* "Smith, John" is one name; split on commas only when every part has a space. */
    char tmp[512];
    if (n >= sizeof(tmp)) {
        ex_add_unique(host, arr, s, strlen(s), EX_MAX_AUTHORS);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s", s);
    for (char *p = tmp; *p; p++) {
        if (p[0] == ' ' && ex_istarts(p, " and ")) {
            p[0] = ',';
            p[1] = p[2] = p[3] = ' ';
        }
    }
    bool all_multiword = true;
    for (const char *p = tmp; *p;) {
        size_t k = strcspn(p, ",");
        size_t m = k;
        const char *part = ex_trim(p, &m);
        if (!memchr(part, ' ', m))
            all_multiword = false;
        p += k;
        if (*p)
            p++;
    }
    if (all_multiword)
        ex_add_split(host, arr, tmp, ",", EX_MAX_AUTHORS);
    else
        ex_add_unique(host, arr, s, strlen(s), EX_MAX_AUTHORS);
}

void ex_merge_array(json_t *dst, json_t *src, size_t max)
{
    size_t i;
    json_t *v;
    json_array_foreach(src, i, v)
    {
        if (json_array_size(dst) >= max)
            break;
        if (!has_string(dst, json_string_value(v)))
            json_array_append(dst, v);
    }
}

char *ex_norm_lang(const struct wp_host_api *host, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    s = ex_trim(s, &n);
    n = strcspn(s, ",; ") < n ? strcspn(s, ",; ") : n;
    if (n > WP_LANG_TAG_MAX)
        return NULL;
    char out[WP_LANG_TAG_MAX + 1];
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] == '_' ? '-' : s[i];
    out[n] = '\0';
    /* Pages name languages by ISO 639 codes: a primary subtag of two or three letters. */
    size_t first = strcspn(out, "-");
    if (!wp_lang_tag_valid(out) || first < 2 || first > 3)
        return NULL;
    /* language lower case; a two-letter region upper case; a four-letter script titled */
    size_t start = 0;
    size_t idx = 0;
    for (size_t i = 0; i <= n; i++) {
        if (out[i] == '-' || out[i] == '\0') {
            size_t len = i - start;
            for (size_t k = start; k < i; k++)
                out[k] = ex_ascii_lower(out[k]);
            if (idx > 0 && len == 2)
                for (size_t k = start; k < i; k++)
                    out[k] = (char)(out[k] - 'a' + 'A');
            if (idx > 0 && len == 4 && ex_is_alpha(out[start]))
                out[start] = (char)(out[start] - 'a' + 'A');
            start = i + 1;
            idx++;
        }
    }
    return host->strndup(out, n);
}
