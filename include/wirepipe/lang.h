/*
 * wirepipe/lang.h - the one language-tag check, for the host and every plugin.
 *
 * Items carry BCP 47 tags ("en", "pt-BR", "sr-Latn", "und"). These helpers check the
 * shape of a tag (RFC 5646 syntax: a primary subtag of 2-8 letters, then subtags of 1-8
 * letters or digits separated by '-') without a registry, and take its primary subtag.
 * '_' is accepted as a separator, as POSIX locales and some APIs write it.
 */
#ifndef WIREPIPE_LANG_H
#define WIREPIPE_LANG_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest tag accepted: RFC 5646 asks implementations to handle at least 35 characters. */
#define WP_LANG_TAG_MAX 35

static inline bool wp_lang_is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* wp_lang_tag_valid() - true when @tag is a well-formed language tag. */
static inline bool wp_lang_tag_valid(const char *tag)
{
    if (!tag)
        return false;
    size_t i = 0, sub = 0, total = 0;
    bool primary = true;
    for (;; i++, total++) {
        char c = tag[i];
        if (total > WP_LANG_TAG_MAX)
            return false;
        if (c == '\0' || c == '-' || c == '_') {
            if (sub == 0 || sub > 8 || (primary && sub < 2))
                return false;
            if (c == '\0')
                return true;
            primary = false;
            sub = 0;
            continue;
        }
        bool digit = c >= '0' && c <= '9';
        if (!wp_lang_is_alpha_(c) && (primary || !digit))
            return false;
        sub++;
    }
}

/*
 * wp_lang_primary() - the primary subtag of @tag, lower-cased, into @out ("pt-BR" ->
 * "pt"); @out is "" when @tag is NULL. Returns the length written.
 */
static inline size_t wp_lang_primary(const char *tag, char *out, size_t size)
{
    size_t n = 0;
    for (; tag && tag[n] && tag[n] != '-' && tag[n] != '_' && n + 1 < size; n++)
        out[n] = (char)(tag[n] >= 'A' && tag[n] <= 'Z' ? tag[n] + 32 : tag[n]);
    if (size)
        out[n] = '\0';
    return n;
}

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_LANG_H */
