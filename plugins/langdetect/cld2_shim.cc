/*
 * cld2_shim.cc - the extern "C" bridge from langdetect.c to CLD2's C++ API.
 */
#include "cld2_shim.h"

#include <climits>
#include <cstring>

/* Debian's compact_lang_det.h uses FILE without including <cstdio>: keep this order. */
/* clang-format off */
#include <cstdio>
#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>
/* clang-format on */

static void copy_code(char *dst, CLD2::Language lang)
{
    const char *code = CLD2::LanguageCode(lang);
    if (code == nullptr) {
        code = "un";
    }
    size_t n = std::strlen(code);
    if (n >= LANG_CLD2_CODE_MAX) {
        n = LANG_CLD2_CODE_MAX - 1;
    }
    std::memcpy(dst, code, n);
    dst[n] = '\0';
}

extern "C" int lang_cld2_detect(const char *utf8, size_t len, struct lang_cld2_result *out)
{
    std::memset(out, 0, sizeof(*out));
    if (len > static_cast<size_t>(INT_MAX)) {
        return -1;
    }
    /* No exception may cross into C; CLD2 itself only throws std::bad_alloc. */
    try {
        CLD2::CLDHints hints = {nullptr, nullptr, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
        CLD2::Language language3[3];
        int percent3[3];
        double normalized3[3];
        int text_bytes = 0;
        bool reliable = false;
        int valid_prefix = 0;
        CLD2::Language lang = CLD2::ExtDetectLanguageSummaryCheckUTF8(
            utf8, static_cast<int>(len), true, &hints, 0, language3, percent3, normalized3, nullptr,
            &text_bytes, &reliable, &valid_prefix);
        if (static_cast<size_t>(valid_prefix) < len) {
            return -1;
        }
        copy_code(out->code, lang);
        out->reliable = reliable ? 1 : 0;
        out->text_bytes = text_bytes;
        for (int i = 0; i < 3; i++) {
            copy_code(out->top[i].code, language3[i]);
            out->top[i].percent = percent3[i];
            if (language3[i] == lang) {
                out->percent = percent3[i];
            }
        }
    } catch (...) {
        return -1;
    }
    return 0;
}
