#include "wp_internal.h"

#include "utf8.h"

#include <string.h>

#include <wirepipe/utf8.h>

size_t wp__utf8_sequence(const char *s, size_t len)
{
    /* The host's rule adds one thing to the shared decoder's: no NUL in text. */
    if (len == 0 || s[0] == 0)
        return 0;
    return wp_utf8_sequence(s, len);
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
            memcpy(out + used, WP_UTF8_REPLACEMENT, 3);
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
