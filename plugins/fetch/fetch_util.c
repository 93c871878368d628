/*
 * fetch_util.c - small helpers of the fetch plugin: stable ids, times, URLs, strings.
 */
#define _DEFAULT_SOURCE /* timegm, gmtime_r */

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/uri.h>

#include "fetch.h"

/*
 * The stable id scheme: "sha256:" followed by the lower-case hex SHA-256 of the item's
 * identity string, which is the canonical URL of a page, the GUID (RSS) or id (Atom) of a
 * feed entry as written in the feed, or the uri of a ninjs object. The same story fetched
 * again therefore gets the same id, run after run and machine after machine.
 */
bool fetch_make_id(const struct wp_host_api *host, const char *identity, size_t len,
                   char out[FETCH_ID_LEN + 1])
{
    memcpy(out, "sha256:", 7);
    return host->sha256_hex(identity, len, out + 7) == WP_OK;
}

bool fetch_set_id(const struct wp_host_api *host, json_t *item, const char *identity)
{
    char id[FETCH_ID_LEN + 1];
    return fetch_make_id(host, identity, strlen(identity), id) &&
           fetch_set_str(item, WP_ITEM_ID, id);
}

/* RFC 3339 UTC text of @t. */
void fetch_format_time(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* Parse @len digits at @s; -1 when one is not a digit. */
static long fetch_digits(const char *s, int len)
{
    long v = 0;
    for (int i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parse an RFC 3339 / ISO 8601 date-time with a zone ("2019-05-10T16:02:28+02:00"). */
static bool fetch_parse_rfc3339(const char *s, time_t *out)
{
    size_t n = strlen(s);
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return false;
    long year = fetch_digits(s, 4), mon = fetch_digits(s + 5, 2), day = fetch_digits(s + 8, 2);
    long hour = fetch_digits(s + 11, 2), min = fetch_digits(s + 14, 2);
    long sec = fetch_digits(s + 17, 2);
    if (year < 1900 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.' || *p == ',') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':') {
        long oh = fetch_digits(p + 1, 2), om = fetch_digits(p + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59)
            return false;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    struct tm tm = {.tm_year = (int)year - 1900,
                    .tm_mon = (int)mon - 1,
                    .tm_mday = (int)day,
                    .tm_hour = (int)hour,
                    .tm_min = (int)min,
                    .tm_sec = (int)(sec == 60 ? 59 : sec)};
    *out = timegm(&tm) - offset;
    return true;
}

/*
 * Normalise a date from a feed or ninjs object to RFC 3339 UTC. RFC 3339 first (Atom,
 * ninjs, dc:date), then the RFC 822 family RSS uses, parsed by libcurl's date parser.
 */
bool fetch_normalize_date(const char *text, char out[32])
{
    char buf[128];
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    while (n && isspace((unsigned char)*text)) {
        text++;
        n--;
    }
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    time_t t;
    if (fetch_parse_rfc3339(buf, &t)) {
        fetch_format_time(t, out);
        return true;
    }
    t = curl_getdate(buf, NULL);
    if (t == (time_t)-1)
        return false;
    fetch_format_time(t, out);
    return true;
}

bool fetch_is_http_url(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

bool fetch_has_scheme(const char *s, const char **colon)
{
    const char *p = s;
    if (!isalpha((unsigned char)*p))
        return false;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':')
        return false;
    if (colon)
        *colon = p;
    return true;
}

/*
 * Canonical form of an absolute URL: scheme and host lower-cased, the default port and
 * the fragment dropped. Used for ids and conditional-GET keys, so "HTTP://Example.org:80/a#x"
 * and "http://example.org/a" are one story. Returns a new string (host->free), or NULL when
 * the URL cannot be parsed.
 */
char *fetch_canonical_url(const struct wp_host_api *host, const char *url)
{
    xmlURIPtr uri = xmlParseURI(url);
    if (!uri)
        return NULL;
    char *result = NULL;
    if (!uri->scheme)
        goto out;
    for (char *p = uri->scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (uri->server) {
        for (char *p = uri->server; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if ((uri->port == 80 && strcmp(uri->scheme, "http") == 0) ||
        (uri->port == 443 && strcmp(uri->scheme, "https") == 0))
        uri->port = 0;
    if (uri->fragment) {
        xmlFree(uri->fragment);
        uri->fragment = NULL;
    }
    if (uri->server && (!uri->path || !*uri->path) && !uri->opaque) {
        if (uri->path)
            xmlFree(uri->path);
        uri->path = (char *)xmlStrdup((const xmlChar *)"/");
    }
    xmlChar *saved = xmlSaveUri(uri);
    if (saved) {
        result = host->strndup((const char *)saved, strlen((const char *)saved));
        xmlFree(saved);
    }
out:
    xmlFreeURI(uri);
    return result;
}

/* Resolve @ref against @base (a feed's URL). Returns a new string (host->free) or NULL. */
char *fetch_resolve_url(const struct wp_host_api *host, const char *ref, const char *base)
{
    xmlChar *built = xmlBuildURI((const xmlChar *)ref, (const xmlChar *)base);
    if (!built)
        return NULL;
    char *result = host->strndup((const char *)built, strlen((const char *)built));
    xmlFree(built);
    return result;
}

/* The host part of an http(s) URL, for source.name. Returns a new string or NULL. */
char *fetch_url_host(const struct wp_host_api *host, const char *url)
{
    xmlURIPtr uri = xmlParseURI(url);
    if (!uri)
        return NULL;
    char *result = uri->server ? host->strndup(uri->server, strlen(uri->server)) : NULL;
    xmlFreeURI(uri);
    return result;
}

/* Trim ASCII white space from both ends of [*s, *s + *n). */
void fetch_trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

bool fetch_has_prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && strncasecmp(s, prefix, p) == 0;
}

/* Find @needle (ASCII, case-insensitive) in the first @n bytes of @hay. */
const char *fetch_memcasemem(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m)
        return NULL;
    for (size_t i = 0; i + m <= n; i++) {
        if (strncasecmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

/*
 * Set @key of @obj to a JSON string of @s (length @n), which must be valid UTF-8 already.
 * Returns false when jansson refuses it (invalid UTF-8 or out of memory).
 */
bool fetch_set_strn(json_t *obj, const char *key, const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    return v && json_object_set_new(obj, key, v) == 0;
}

bool fetch_set_str(json_t *obj, const char *key, const char *s)
{
    return fetch_set_strn(obj, key, s, strlen(s));
}

/* Plain text with its paragraphs separated by one blank line (see fetch.h). */
bool fetch_paragraphs(struct wp_buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n')
            j++;
        const char *line = s + i;
        size_t len = j - i;
        fetch_trim(&line, &len);
        if (len) {
            if (out->len)
                wp_buf_add(out, "\n\n", 2);
            wp_buf_add(out, line, len);
        }
        i = j + 1;
    }
    /* An empty text is still a string: make sure there is one. */
    wp_buf_add(out, "", 0);
    return !out->failed;
}

/* The media type without parameters, for source.content_type. */
void fetch_media_type(const char *ct, char out[96])
{
    size_t n = strcspn(ct, ";");
    while (n && isspace((unsigned char)ct[n - 1]))
        n--;
    if (n > 95)
        n = 95;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)ct[i]);
    out[n] = '\0';
}

/* Strings from json_dumps() belong to jansson's allocator, whichever the host set. */
void fetch_json_free(void *ptr)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (jfree)
        jfree(ptr);
}
