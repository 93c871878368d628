/*
 * fetch_charset.c - every fetched page becomes valid UTF-8.
 *
 * The charset is taken from, in this order: the Content-Type header, the document's own
 * declaration (<meta charset>, <meta http-equiv>, <?xml encoding?>), a byte-order mark,
 * detection (uchardet), else UTF-8. ICU converts; every byte sequence that cannot be
 * decoded becomes one U+FFFD and is counted, and so are NUL characters (jansson strings
 * cannot carry them) and unpaired surrogates.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#include <wirepipe/utf8.h>

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ustring.h>

#include "fetch.h"

/* Pull a charset token out of "...charset=VALUE..." at @p (case-insensitive search). */
static bool fetch_charset_param(const char *s, size_t n, char out[48])
{
    const char *p = fetch_memcasemem(s, n, "charset");
    if (!p)
        return false;
    const char *end = s + n;
    p += 7;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p >= end || *p != '=')
        return false;
    p++;
    while (p < end && (isspace((unsigned char)*p) || *p == '"' || *p == '\''))
        p++;
    size_t len = 0;
    while (p + len < end && len < 47 &&
           (isalnum((unsigned char)p[len]) || strchr("-_.:()", p[len]) != NULL))
        len++;
    if (len == 0)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/*
 * The document's own declaration: an XML declaration at the very start, else the first
 * <meta> carrying a charset within the first 4 KiB (where HTML requires it to be).
 */
static bool fetch_declared_charset(const char *data, size_t len, char out[48])
{
    size_t n = len < 4096 ? len : 4096;
    size_t skip = 0;
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    if (n - skip >= 5 && memcmp(data + skip, "<?xml", 5) == 0) {
        const char *end = memchr(data + skip, '>', n - skip);
        size_t decl = end ? (size_t)(end - data) : n;
        const char *enc = fetch_memcasemem(data, decl, "encoding");
        if (enc) {
            const char *p = enc + 8;
            const char *stop = data + decl;
            while (p < stop && (isspace((unsigned char)*p) || *p == '=' || *p == '"' || *p == '\''))
                p++;
            size_t l = 0;
            while (p + l < stop && l < 47 &&
                   (isalnum((unsigned char)p[l]) || strchr("-_.:", p[l]) != NULL))
                l++;
            if (l) {
                memcpy(out, p, l);
                out[l] = '\0';
                return true;
            }
        }
    }
    const char *p = data;
    size_t left = n;
    for (;;) {
        const char *meta = fetch_memcasemem(p, left, "<meta");
        if (!meta)
            return false;
        size_t rest = n - (size_t)(meta - data);
        const char *close = memchr(meta, '>', rest);
        size_t tag = close ? (size_t)(close - meta) : rest;
        if (fetch_charset_param(meta, tag, out))
            return true;
        p = meta + 5;
        left = n - (size_t)(p - data);
    }
}

/*
 * Browsers decode some labels with a superset (WHATWG Encoding Standard); wire pages
 * labelled ISO-8859-1 or ISO-8859-9 often carry the windows-125x extras in 0x80-0x9F,
 * so use the superset too. Returns the name to hand to ICU.
 */
static const char *fetch_charset_alias(const char *label)
{
    static const struct {
        const char *label;
        const char *name;
    } map[] = {
        {"iso-8859-1", "windows-1252"},
        {"iso8859-1", "windows-1252"},
        {"iso_8859-1", "windows-1252"},
        {"latin1", "windows-1252"},
        {"l1", "windows-1252"},
        {"us-ascii", "windows-1252"},
        {"ascii", "windows-1252"},
        {"iso-8859-9", "windows-1254"},
        {"iso8859-9", "windows-1254"},
        {"iso_8859-9", "windows-1254"},
        {"latin5", "windows-1254"},
        {"l5", "windows-1254"},
        {"tis-620", "windows-874"},
        {"iso-8859-11", "windows-874"},
        {"utf8", "UTF-8"},
        {"unicode-1-1-utf-8", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(label, map[i].label) == 0)
            return map[i].name;
    }
    return label;
}

static bool fetch_is_utf16_label(const char *label)
{
    return strncasecmp(label, "utf-16", 6) == 0 || strncasecmp(label, "utf16", 5) == 0 ||
           strncasecmp(label, "ucs-2", 5) == 0;
}

/* Length of a byte-order mark at @data and the charset it names, or 0. */
static size_t fetch_bom(const char *data, size_t len, const char **charset)
{
    const unsigned char *d = (const unsigned char *)data;
    if (len >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF) {
        *charset = "UTF-8";
        return 3;
    }
    if (len >= 2 && d[0] == 0xFF && d[1] == 0xFE) {
        *charset = "UTF-16LE";
        return 2;
    }
    if (len >= 2 && d[0] == 0xFE && d[1] == 0xFF) {
        *charset = "UTF-16BE";
        return 2;
    }
    return 0;
}

/*
 * Text that is mostly well-formed UTF-8 with some damage: legacy 8-bit text almost never
 * forms valid multi-byte UTF-8 sequences by accident, so at least as many valid sequences
 * as broken bytes means "UTF-8, repaired", not "some other charset".
 */
static bool fetch_looks_utf8(const char *data, size_t len)
{
    size_t valid = 0, invalid = 0;
    for (size_t i = 0; i < len;) {
        if ((unsigned char)data[i] < 0x80) {
            i++;
            continue;
        }
        if (wp_utf8_next(data, len, &i) < 0)
            invalid++;
        else
            valid++;
    }
    return valid > 0 && valid >= invalid;
}

static bool fetch_detect_charset(const char *data, size_t len, char out[48])
{
    uchardet_t ud = uchardet_new();
    if (!ud)
        return false;
    bool found = false;
    size_t n = len < 256 * 1024 ? len : 256 * 1024;
    if (uchardet_handle_data(ud, data, n) == 0) {
        uchardet_data_end(ud);
        const char *cs = uchardet_get_charset(ud);
        if (cs && *cs) {
            snprintf(out, 48, "%s", strcasecmp(cs, "ASCII") == 0 ? "UTF-8" : cs);
            found = true;
        }
    }
    uchardet_delete(ud);
    return found;
}

/* ICU calls this for each undecodable sequence: write one U+FFFD and count it. */
static void fetch_to_u_callback(const void *context, UConverterToUnicodeArgs *args,
                                const char *units, int32_t length, UConverterCallbackReason reason,
                                UErrorCode *err)
{
    (void)units;
    (void)length;
    if (reason != UCNV_UNASSIGNED && reason != UCNV_ILLEGAL && reason != UCNV_IRREGULAR)
        return;
    long *count = (long *)(uintptr_t)context;
    static const UChar fffd = 0xFFFD;
    *err = U_ZERO_ERROR;
    ucnv_cbToUWriteUChars(args, &fffd, 1, 0, err);
    (*count)++;
}

/*
 * Convert @len bytes in charset @name to UTF-8 into @out. Returns WP_OK, WP_E_NOTFOUND
 * when ICU does not know @name, WP_E_LIMIT when too big, or WP_E_NOMEM.
 */
static enum wp_status fetch_convert(const struct wp_host_api *host, const char *name,
                                    const char *data, size_t len, struct fetch_text *out)
{
    if (len > INT32_MAX / 4)
        return WP_E_LIMIT;
    UErrorCode st = U_ZERO_ERROR;
    UConverter *cnv = ucnv_open(name, &st);
    if (U_FAILURE(st) || !cnv)
        return WP_E_NOTFOUND;
    long count = 0;
    enum wp_status status = WP_E_NOMEM;
    UChar *u = NULL;
    char *utf8 = NULL;
    ucnv_setToUCallBack(cnv, fetch_to_u_callback, (const void *)&count, NULL, NULL, &st);
    if (U_FAILURE(st)) {
        status = WP_E_INVALID;
        goto out;
    }
    /* One UChar per input byte is enough for every charset ICU decodes, plus slack. */
    int32_t cap = (int32_t)len + 16;
    u = host->malloc((size_t)cap * sizeof(UChar));
    if (!u)
        goto out;
    int32_t ulen = ucnv_toUChars(cnv, u, cap, data, (int32_t)len, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        host->free(u);
        cap = ulen + 1;
        u = host->malloc((size_t)cap * sizeof(UChar));
        if (!u)
            goto out;
        st = U_ZERO_ERROR;
        count = 0;
        ucnv_resetToUnicode(cnv);
        ulen = ucnv_toUChars(cnv, u, cap, data, (int32_t)len, &st);
    }
    if (U_FAILURE(st)) {
        status = WP_E_UNICODE;
        goto out;
    }
    for (int32_t i = 0; i < ulen; i++) {
        if (u[i] == 0) {
            u[i] = 0xFFFD;
            count++;
        }
    }
    int32_t blen = 0, subs = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8WithSub(NULL, 0, &blen, u, ulen, 0xFFFD, NULL, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st)) {
        status = WP_E_UNICODE;
        goto out;
    }
    utf8 = host->malloc((size_t)blen + 1);
    if (!utf8)
        goto out;
    st = U_ZERO_ERROR;
    u_strToUTF8WithSub(utf8, blen + 1, &blen, u, ulen, 0xFFFD, &subs, &st);
    if (U_FAILURE(st)) {
        status = WP_E_UNICODE;
        goto out;
    }
    utf8[blen] = '\0';
    out->data = utf8;
    out->len = (size_t)blen;
    out->replacements = count + subs;
    snprintf(out->charset, sizeof(out->charset), "%s", name);
    utf8 = NULL;
    status = WP_OK;
out:
    if (utf8)
        host->free(utf8);
    if (u)
        host->free(u);
    ucnv_close(cnv);
    return status;
}

/* fetch_decode() - see fetch.h. */
enum wp_status fetch_decode(const struct wp_host_api *host, const char *data, size_t len,
                            const char *content_type, struct fetch_text *out)
{
    memset(out, 0, sizeof(*out));
    const char *bom_charset = NULL;
    size_t bom = fetch_bom(data, len, &bom_charset);
    /* Each source is looked at only when the ones before it gave nothing usable. */
    static const char *const origins[] = {"header", "declared", "bom", "detected", "default"};
    for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
        char candidate[48];
        switch (i) {
            case 0:
                if (!content_type ||
                    !fetch_charset_param(content_type, strlen(content_type), candidate))
                    continue;
                break;
            case 1:
                if (!fetch_declared_charset(data, len, candidate))
                    continue;
                /* An ASCII-readable declaration cannot be telling the truth about UTF-16. */
                if (fetch_is_utf16_label(candidate))
                    snprintf(candidate, sizeof(candidate), "UTF-8");
                break;
            case 2:
                if (!bom)
                    continue;
                snprintf(candidate, sizeof(candidate), "%s", bom_charset);
                break;
            case 3:
                if (fetch_looks_utf8(data, len))
                    snprintf(candidate, sizeof(candidate), "UTF-8");
                else if (!fetch_detect_charset(data, len, candidate))
                    continue;
                break;
            default:
                snprintf(candidate, sizeof(candidate), "UTF-8");
                break;
        }
        const char *name = fetch_charset_alias(candidate);
        const char *body = data;
        size_t body_len = len;
        /* Drop a BOM that belongs to the charset chosen; it is not part of the text. */
        if (bom && strncasecmp(name, bom_charset, 6) == 0 &&
            (strcasecmp(name, bom_charset) == 0 || strcasecmp(name, "UTF-16") == 0 ||
             strcasecmp(bom_charset, "UTF-8") == 0)) {
            body += bom;
            body_len -= bom;
            if (strcasecmp(name, "UTF-16") == 0)
                name = bom_charset;
        }
        enum wp_status st = fetch_convert(host, name, body, body_len, out);
        if (st == WP_E_NOTFOUND)
            continue; /* a label ICU does not know: try the next source */
        if (st != WP_OK)
            return st;
        out->origin = origins[i];
        for (char *p = out->charset; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return WP_OK;
    }
    return WP_E_UNICODE;
}
