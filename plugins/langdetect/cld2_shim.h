/*
 * cld2_shim.h - a C view of the one CLD2 call langdetect needs.
 *
 * CLD2 only has a C++ API; cld2_shim.cc wraps ExtDetectLanguageSummaryCheckUTF8() in an
 * extern "C" function so the plugin itself stays C. Nothing here is exported from the
 * plugin (hidden visibility).
 */
#ifndef LANGDETECT_CLD2_SHIM_H
#define LANGDETECT_CLD2_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LANG_CLD2_CODE_MAX 16

/* One of CLD2's top three languages. */
struct lang_cld2_guess {
    char code[LANG_CLD2_CODE_MAX]; /* CLD2's code ("en", "iw", "zh-Hant", "un" for none) */
    int percent;                   /* share of the text's letter bytes, 0..100 */
};

struct lang_cld2_result {
    char code[LANG_CLD2_CODE_MAX]; /* CLD2's answer for the whole text */
    int percent;                   /* share of the answer among the top three, 0..100 */
    int reliable;                  /* CLD2's own "clearly ahead of the second" flag */
    int text_bytes;                /* letter bytes CLD2 looked at */
    struct lang_cld2_guess top[3];
};

/*
 * lang_cld2_detect() - detect the language of @len bytes of plain UTF-8 text at @utf8.
 *
 * Returns: 0 with *@out filled (code "un" when CLD2 has no answer), or -1 when the text
 *          is not valid UTF-8, longer than CLD2 accepts (INT_MAX), or CLD2 ran out of memory.
 * Ownership: @utf8 is borrowed; *@out is caller storage.
 * Thread safety: CLD2 keeps no state between calls (its tables are read-only), so any
 *                number of threads may call this at once.
 */
int lang_cld2_detect(const char *utf8, size_t len, struct lang_cld2_result *out);

#ifdef __cplusplus
}
#endif

#endif /* LANGDETECT_CLD2_SHIM_H */
