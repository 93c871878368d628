#include "wp_internal.h"

#include "utf8.h"

#include <string.h>

size_t wp__utf8_sequence(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0 || p[0] == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
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
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

bool wp__utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = wp__utf8_sequence(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

json_t *wp__json_string_lossy(const char *s, size_t len)
{
    if (wp__utf8_valid(s, len))
        return json_stringn(s, len);
    /* Each bad byte becomes the three bytes of U+FFFD. */
    char *out = wp_malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < len;) {
        size_t n = wp__utf8_sequence(s + i, len - i);
        if (n == 0) {
            memcpy(out + used, "\xEF\xBF\xBD", 3);
            used += 3;
            i++;
        } else {
            memcpy(out + used, s + i, n);
            used += n;
            i += n;
        }
    }
    json_t *str = json_stringn(out, used);
    wp_free(out);
    return str;
}
