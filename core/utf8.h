/*
 * utf8.h - UTF-8 checks for text that arrives from outside (pipeline files, input lines,
 * messages plugins build from fetched text), before it goes into a jansson string, which
 * refuses anything that is not well-formed.
 */
#ifndef WP_UTF8_H
#define WP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * wp__utf8_sequence() - the length (1-4) of the well-formed UTF-8 character at @s, at
 * most @len bytes long, or 0 when it is not one (overlong, surrogate, past U+10FFFF,
 * truncated, stray continuation byte). NUL counts as invalid.
 */
size_t wp__utf8_sequence(const char *s, size_t len);

/* wp__utf8_valid() - true when all @len bytes at @s are well-formed UTF-8 without NUL. */
bool wp__utf8_valid(const char *s, size_t len);

/*
 * wp__json_string_lossy() - a new JSON string of the @len bytes at @s, each byte that is
 * not part of a well-formed character replaced by U+FFFD, so that no message or record
 * is lost because a plugin cut text in the middle of a character.
 * Returns a new reference, or NULL on allocation failure.
 */
json_t *wp__json_string_lossy(const char *s, size_t len);

#endif /* WP_UTF8_H */
