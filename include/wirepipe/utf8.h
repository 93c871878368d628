/*
 * wirepipe/utf8.h - the one UTF-8 decoder, for the host and every plugin.
 *
 * Text from outside is checked with these before it goes into a jansson string (which
 * refuses anything ill-formed). Well-formed means RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing past U+10FFFF, no truncated sequence, no stray continuation byte.
 * NUL (U+0000) is well-formed here; callers that must refuse it say so.
 *
 * Plugins that link ICU may use its U8_NEXT() instead: it follows the same rules.
 */
#ifndef WIREPIPE_UTF8_H
#define WIREPIPE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WP_UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, three bytes */

/*
 * wp_utf8_sequence() - the length (1-4) of the well-formed character at @s, which has
 * @len bytes left, or 0 when it is not one.
 */
static inline size_t wp_utf8_sequence(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

/*
 * wp_utf8_next() - decode the character at @s[*@i] of @len bytes and move *@i past it.
 * Returns: the code point, or -1 for an ill-formed byte, which *@i then steps over alone
 *          (so a loop over damaged text still ends, in time linear in @len).
 */
static inline int32_t wp_utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }
    size_t n = wp_utf8_sequence(s + *i, len - *i);
    if (n == 0) {
        *i += 1;
        return -1;
    }
    uint32_t cp = p[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | (p[k] & 0x3F);
    *i += n;
    return (int32_t)cp;
}

/*
 * wp_utf8_encode() - write @cp (at most U+10FFFF, not a surrogate) to @out.
 * Returns: the number of bytes written (1-4), or 0 for a value that is not a character.
 */
static inline size_t wp_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return 0;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* wp_utf8_valid() - true when all @len bytes at @s are well-formed (NUL allowed). */
static inline bool wp_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = wp_utf8_sequence(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* wp_utf8_count() - code points in @len bytes; each ill-formed byte counts as one. */
static inline size_t wp_utf8_count(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; count++)
        (void)wp_utf8_next(s, len, &i);
    return count;
}

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_UTF8_H */
