/*
 * tables.c - the per-code-point tables of the display pass and the match key, built once
 * per process from ICU's data, and the ICU normalizers the plugin uses.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include "normalize.h"

uint8_t nz_clean_class[0x10000];
uint8_t nz_key_class[0x10000];
uint16_t nz_keymap[0x10000];
unsigned char nz_key_ascii[256];
const UNormalizer2 *nz_nfc;

static const UNormalizer2 *nfkd_cf;
static bool tables_ok;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

bool nz_nfc_sensitive(UChar32 c)
{
    return u_getCombiningClass(c) != 0 ||
           u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) != UNORM_YES;
}

static uint8_t clean_class_of(UChar32 c)
{
    switch (c) {
        case '\t':
        case 0x0B:
        case 0x0C:
        case ' ':
        case 0x1680:
        case 0x205F:
        case 0x3000:
            return CL_HSPACE;
        case 0xA0:
        case 0x2007:
        case 0x202F:
            return CL_NBSP;
        case '\n':
            return CL_NEWLINE;
        case '\r':
            return CL_CR;
        case 0x85:
        case 0x2028:
            return CL_LS;
        case 0x2029:
            return CL_PS;
        case 0x200B:
        case 0x2060:
        case 0x2061:
        case 0x2062:
        case 0x2063:
        case 0x2064:
        case 0xFEFF:
        case 0x180E:
            return CL_ZW;
        case 0x200C:
            return CL_ZWNJ;
        case 0x200D:
            return CL_ZWJ;
        case 0xAD:
            return CL_SHY;
        case 0x2018:
        case 0x2019:
        case 0x201A:
        case 0x201B:
            return CL_SQUOTE;
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x201F:
            return CL_DQUOTE;
        case 0x15E:
        case 0x15F:
        case 0x162:
        case 0x163:
        case 0x327:
            return CL_ROMANIAN;
        case 0x640:
        case 0x643:
        case 0x649:
        case 0x64A:
        case 0x66B:
        case 0x66C:
        case 0x670:
        case 0x6A9:
        case 0x6CC:
            return CL_ARABIC;
        default:
            break;
    }
    if (c >= 0x2000 && c <= 0x200A)
        return CL_HSPACE;
    if (u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL))
        return CL_BIDI;
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0xFFF9 && c <= 0xFFFC) ||
        (c >= 0x206A && c <= 0x206F))
        return CL_CONTROL;
    if ((c >= 0x64B && c <= 0x65F) || (c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9))
        return CL_ARABIC;
    return CL_PASS;
}

/* Key-side replacements applied after NFKD_Casefold: one direction for all Arabic-script
 * text (Persian forms), digits to ASCII, typographic quotes and dashes to ASCII. */
static int key_override(UChar32 c)
{
    switch (c) {
        case 0x64A:
        case 0x649:
            return 0x6CC;
        case 0x643:
            return 0x6A9;
        case 0x640:
            return -1;
        case 0x2018:
        case 0x2019:
        case 0x201A:
        case 0x201B:
        case 0x2032:
        case 0x2BC:
            return '\'';
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x201F:
        case 0x2033:
        case 0xAB:
        case 0xBB:
            return '"';
        case 0x2010:
        case 0x2011:
        case 0x2012:
        case 0x2013:
        case 0x2014:
        case 0x2015:
        case 0x2212:
            return '-';
        default:
            break;
    }
    if (c > 0x7F && u_charType(c) == U_DECIMAL_DIGIT_NUMBER) {
        int32_t v = u_charDigitValue(c);
        if (v >= 0 && v <= 9)
            return '0' + v;
    }
    return c;
}

int32_t nz_key_map_cp(UChar32 c, UChar *out, int32_t cap)
{
    UChar src[2], dec[64], filt[64];
    int32_t sn = 0;
    UErrorCode err = U_ZERO_ERROR;
    U16_APPEND_UNSAFE(src, sn, c);
    int32_t dn = unorm2_normalize(nfkd_cf, src, sn, dec, 64, &err);
    if (U_FAILURE(err))
        return -1;
    int32_t fn = 0;
    for (int32_t i = 0; i < dn;) {
        UChar32 d;
        U16_NEXT(dec, i, dn, d);
        if (u_charType(d) == U_NON_SPACING_MARK)
            continue;
        int o = key_override(d);
        if (o < 0)
            continue;
        if (fn + 2 > 64)
            return -1;
        U16_APPEND_UNSAFE(filt, fn, (UChar32)o);
    }
    int32_t on = unorm2_normalize(nz_nfc, filt, fn, out, cap, &err);
    return U_FAILURE(err) ? -1 : on;
}

static void tables_init(void)
{
    UErrorCode err = U_ZERO_ERROR;
    nz_nfc = unorm2_getNFCInstance(&err);
    if (U_FAILURE(err))
        return;
    nfkd_cf = unorm2_getInstance(NULL, "nfkc_cf", UNORM2_DECOMPOSE, &err);
    if (U_FAILURE(err))
        return;
    if (!nz_mb_init_codecs())
        return;
    nz_mb_init_classes();
    for (int c = 0x21; c < 0x7F; c++)
        nz_key_ascii[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    for (UChar32 c = 0; c < 0x10000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) {
            nz_clean_class[c] = CL_PASS;
            nz_key_class[c] = KEY_PASS;
            continue;
        }
        bool sens = nz_nfc_sensitive(c);
        nz_clean_class[c] =
            (uint8_t)(clean_class_of(c) | (sens ? CL_NFC : 0) |
                      (c >= 0x80 && (mb_class((uint32_t)c) & MB_GATE_MASK) ? CL_MOJI : 0));
        if (c < 0x80)
            continue; /* ASCII is handled inline by the key builder */
        if (u_charType(c) == U_SPACE_SEPARATOR || c == 0x2028 || c == 0x2029 || c == 0x85) {
            nz_key_class[c] = KEY_SPACE;
            continue;
        }
        if (c >= 0xAC00 && c <= 0xD7A3) {
            nz_key_class[c] = KEY_PASS; /* Hangul syllables are their own NFC form */
            continue;
        }
        UChar out[64];
        int32_t n = nz_key_map_cp(c, out, 64);
        if (n < 0) {
            nz_key_class[c] = KEY_ICU;
        } else if (n == 0) {
            nz_key_class[c] = KEY_DROP;
        } else if (n == 1 && out[0] == c) {
            nz_key_class[c] = (uint8_t)(KEY_PASS | (sens ? KEY_NFC : 0));
        } else if (n == 1 && !U16_IS_SURROGATE(out[0])) {
            nz_key_class[c] = (uint8_t)(KEY_MAP1 | (nz_nfc_sensitive(out[0]) ? KEY_NFC : 0));
            nz_keymap[c] = out[0];
        } else {
            nz_key_class[c] = KEY_ICU;
        }
    }
    tables_ok = true;
}

bool nz_tables_ready(void)
{
    pthread_once(&tables_once, tables_init);
    return tables_ok;
}
