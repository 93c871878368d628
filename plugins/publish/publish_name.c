/*
 * publish_name.c - names made from item ids: the file name stem of to=dir and the
 * Idempotency-Key of to=http. Both depend on the id alone, so a replay writes the same
 * file and sends the same key.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "publish.h"

/* True for ids of the form fetch makes, "<scheme>:<lower-case hex>" ("sha256:5f0c..."). */
static bool pub_canonical_id(const char *id)
{
    const char *colon = strchr(id, ':');
    if (!colon || colon == id || !colon[1])
        return false;
    for (const char *c = id; c < colon; c++) {
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c)))
            return false;
    }
    for (const char *c = colon + 1; *c; c++) {
        if (!(isdigit((unsigned char)*c) || (*c >= 'a' && *c <= 'f')))
            return false;
    }
    return true;
}

static bool pub_safe_byte(unsigned char c)
{
    return c < 0x80 && (isalnum(c) || c == '.' || c == '-');
}

/*
 * The file name stem of @id, one to one, so that two items never share a file:
 *  - an id of [A-Za-z0-9.-] alone (not starting with '.') is its own stem;
 *  - a canonical "<scheme>:<hex>" id becomes "<scheme>_<hex>" (its only '_');
 *  - any other id has its unsafe bytes (and '_') written as '_', is cut to fit, and ends
 *    in '~' and 16 hex digits of the SHA-256 of the whole id; '~' appears in no other stem.
 * Sets *@suspicious when the id held path syntax ('/', "..", a leading '.') worth a warning.
 */
bool pub_file_stem(const struct wp_host_api *host, const char *id, char out[PUB_NAME_MAX + 1],
                   bool *suspicious)
{
    size_t n = strlen(id);
    *suspicious = strchr(id, '/') != NULL || strstr(id, "..") != NULL || id[0] == '.';
    if (n == 0)
        return false;
    bool canonical = pub_canonical_id(id);
    bool hashed = n > PUB_NAME_MAX || id[0] == '.';
    for (size_t i = 0; i < n && !hashed; i++)
        hashed = !pub_safe_byte((unsigned char)id[i]) && !(canonical && id[i] == ':');
    size_t keep = hashed && n > PUB_NAME_MAX - 17 ? PUB_NAME_MAX - 17 : n;
    for (size_t i = 0; i < keep; i++)
        out[i] = pub_safe_byte((unsigned char)id[i]) ? id[i] : '_';
    if (out[0] == '.')
        out[0] = '_';
    out[keep] = '\0';
    if (hashed) {
        char hex[65];
        if (host->sha256_hex(id, n, hex) != WP_OK)
            return false;
        snprintf(out + keep, PUB_NAME_MAX + 1 - keep, "~%.16s", hex);
    }
    return true;
}

/*
 * The Idempotency-Key of one document: the item id (plus "/LANG" for a translation), or
 * "sha256-HEX" of it when the id holds characters a header must not carry.
 */
void pub_idempotency_key(const struct wp_host_api *host, const char *id, const char *suffix,
                         char out[100])
{
    const char *lang = suffix[0] ? suffix + 1 : "";
    bool plain = strlen(id) + strlen(lang) < 90;
    for (const char *s = id; plain && *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f)
            plain = false;
    }
    char hex[65];
    if (plain)
        snprintf(out, 100, "%.89s%s%s", id, lang[0] ? "/" : "", lang);
    else if (host->sha256_hex(id, strlen(id), hex) == WP_OK)
        snprintf(out, 100, "sha256-%s%s%.20s", hex, lang[0] ? "/" : "", lang);
    else
        snprintf(out, 100, "invalid");
}
