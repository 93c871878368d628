/*
 * letters.c - what depends on the item's language or on a character's script: which
 * rules a language tag asks for, the scripts that keep ZWNJ, ZWJ and ZWSP, and the
 * display pass's Persian/Arabic letter and digit rules and Romanian comma-below fix.
 * (The Turkish dotted and dotless i belong to the match key, matchkey.c.)
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <wirepipe/lang.h>

#include <unicode/uchar.h>

#include "normalize.h"

enum nz_lang nz_lang_of(const char *tag)
{
    static const struct {
        const char *code;
        enum nz_lang lang;
    } table[] = {
        {"fa", LANG_FA},       {"prs", LANG_FA},      {"pes", LANG_FA},
        {"ar", LANG_AR},       {"arb", LANG_AR},      {"ur", LANG_ARSCRIPT},
        {"ps", LANG_ARSCRIPT}, {"ku", LANG_ARSCRIPT}, {"ckb", LANG_ARSCRIPT},
        {"sd", LANG_ARSCRIPT}, {"ug", LANG_ARSCRIPT}, {"bal", LANG_ARSCRIPT},
        {"tr", LANG_TR},       {"az", LANG_TR},       {"ro", LANG_RO},
        {"mo", LANG_RO},
    };
    /* Every code above is short: a longer primary subtag, cut to fit, matches none. */
    char primary[8];
    wp_lang_primary(tag, primary, sizeof(primary));
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(primary, table[i].code) == 0)
            return table[i].lang;
    }
    return LANG_OTHER;
}

bool nz_is_emoji_part(UChar32 c)
{
    return c == 0xFE0F || u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) ||
           u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER) || (c >= 0xE0020 && c <= 0xE007F);
}

bool nz_is_joining_script(uint32_t c)
{
    return (c >= 0x600 && c <= 0x6FF) || (c >= 0x750 && c <= 0x77F) || (c >= 0x8A0 && c <= 0x8FF) ||
           (c >= 0x900 && c <= 0xDFF) || (c >= 0xFB50 && c <= 0xFDFF) ||
           (c >= 0xFE70 && c <= 0xFEFF);
}

bool nz_is_zwsp_script(uint32_t c)
{
    return (c >= 0xE00 && c <= 0xEFF) || (c >= 0x1000 && c <= 0x109F) ||
           (c >= 0x1780 && c <= 0x17FF);
}

bool nz_clean_arabic(struct nz_clean *k, const struct nz_stage *st, enum nz_lang lang, uint32_t c,
                     uint32_t next, uint8_t cls)
{
    unsigned *counts = k->r->counts;
    bool fa = st->letters && lang == LANG_FA;
    bool ar = st->letters && lang == LANG_AR;
    if (c == 0x640) {
        if (st->letters && (lang == LANG_FA || lang == LANG_AR || lang == LANG_ARSCRIPT)) {
            counts[NZ_OP_TATWEEL]++;
            return true;
        }
    } else if ((c >= 0x64B && c <= 0x65F) || c == 0x670) {
        if (st->harakat_strip) {
            counts[NZ_OP_HARAKAT]++;
            return true;
        }
    } else if (c == 0x64A || c == 0x649) {
        /* Leave yeh before a composing hamza/madda to NFC (-> U+0626). */
        if (fa && !(next >= 0x653 && next <= 0x655)) {
            counts[NZ_OP_LETTERS]++;
            return nz_clean_emit(k, 0x6CC, 0);
        }
    } else if (c == 0x643) {
        if (fa) {
            counts[NZ_OP_LETTERS]++;
            return nz_clean_emit(k, 0x6A9, 0);
        }
    } else if (c == 0x6CC) {
        if (ar) {
            counts[NZ_OP_LETTERS]++;
            return nz_clean_emit(k, 0x64A, 0);
        }
    } else if (c == 0x6A9) {
        if (ar) {
            counts[NZ_OP_LETTERS]++;
            return nz_clean_emit(k, 0x643, 0);
        }
    } else if ((c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9)) {
        uint32_t v = c >= 0x6F0 ? c - 0x6F0 : c - 0x660;
        if (st->digits_ascii) {
            counts[NZ_OP_DIGITS]++;
            return nz_clean_emit(k, '0' + v, 0);
        }
        if (fa && c < 0x6F0) {
            counts[NZ_OP_DIGITS]++;
            return nz_clean_emit(k, 0x6F0 + v, 0);
        }
        if (ar && c >= 0x6F0) {
            counts[NZ_OP_DIGITS]++;
            return nz_clean_emit(k, 0x660 + v, 0);
        }
    } else if (c == 0x66B || c == 0x66C) {
        if (st->digits_ascii) {
            counts[NZ_OP_DIGITS]++;
            return nz_clean_emit(k, c == 0x66B ? '.' : ',', 0);
        }
    }
    return nz_clean_emit(k, c, cls);
}

bool nz_clean_romanian(struct nz_clean *k, enum nz_lang lang, uint32_t c, uint8_t cls)
{
    if (lang != LANG_RO)
        return nz_clean_emit(k, c, cls);
    uint32_t to = c;
    switch (c) {
        case 0x15E:
            to = 0x218;
            break;
        case 0x15F:
            to = 0x219;
            break;
        case 0x162:
            to = 0x21A;
            break;
        case 0x163:
            to = 0x21B;
            break;
        case 0x327:
            /* Decomposed s/t + cedilla: make it a comma below before NFC composes. */
            if (!k->pend_space && !k->pend_nl &&
                (k->last == 's' || k->last == 'S' || k->last == 't' || k->last == 'T'))
                to = 0x326;
            break;
        default:
            break;
    }
    if (to != c)
        k->r->counts[NZ_OP_ROMANIAN]++;
    return nz_clean_emit(k, to, to == c ? cls : (to == 0x326 ? CL_NFC : 0));
}
