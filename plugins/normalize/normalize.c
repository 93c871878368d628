/*
 * normalize - display-safe Unicode cleanup of story text, mojibake repair, per-language
 * letter fixes and a lossy match key. README.md states the policy; this file is the
 * whole plugin (nz_mojibake.h is part of this translation unit).
 *
 * Speed: the display pass is one loop over UTF-8 with a 64K-entry class table; ASCII
 * runs are copied wholesale. ICU's NFC runs only on fields that contain a character that
 * can take part in composition or reordering (precomputed per code point), and the match
 * key uses a precomputed per-code-point NFKC_Casefold+strip-marks mapping, falling back
 * to ICU for the rare characters that expand.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <uchar.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "nz_mojibake.h"

/* ------------------------------------------------------------------------------------ */
/* Operations counted in item.changes.<stage id>                                          */

#define NZ_OPS(X)                                                                                  \
    X(MOJIBAKE, "mojibake")                                                                        \
    X(C1, "c1_controls")                                                                           \
    X(ENTITIES, "entities")                                                                        \
    X(NFC, "nfc")                                                                                  \
    X(SPACES, "spaces")                                                                            \
    X(NBSP, "nbsp")                                                                                \
    X(LINE_BREAKS, "line_breaks")                                                                  \
    X(ZERO_WIDTH, "zero_width")                                                                    \
    X(BIDI, "bidi_controls")                                                                       \
    X(SOFT_HYPHEN, "soft_hyphens")                                                                 \
    X(CONTROLS, "controls")                                                                        \
    X(QUOTES, "quotes")                                                                            \
    X(LETTERS, "arabic_letters")                                                                   \
    X(TATWEEL, "tatweel")                                                                          \
    X(HARAKAT, "harakat")                                                                          \
    X(DIGITS, "digits")                                                                            \
    X(ROMANIAN, "romanian_comma")                                                                  \
    X(SKIPPED, "skipped_fields")

enum nz_op {
#define NZ_OP_ENUM_(sym, name) NZ_OP_##sym,
    NZ_OPS(NZ_OP_ENUM_)
#undef NZ_OP_ENUM_
        NZ_OP_COUNT
};

static const char *const nz_op_names[NZ_OP_COUNT] = {
#define NZ_OP_NAME_(sym, name) name,
    NZ_OPS(NZ_OP_NAME_)
#undef NZ_OP_NAME_
};

/* ------------------------------------------------------------------------------------ */
/* Per-code-point tables, built once                                                      */

/* Display-pass classes (low 5 bits) and the "may need NFC" flag. */
enum {
    CL_PASS = 0,
    CL_HSPACE,  /* breaking space: folded to U+0020 and collapsed */
    CL_NBSP,    /* no-break spaces: U+00A0, U+2007, U+202F (nbsp policy) */
    CL_NEWLINE, /* \n */
    CL_CR,      /* \r, \r\n */
    CL_LS,      /* U+2028, U+0085 -> \n */
    CL_PS,      /* U+2029 -> paragraph break */
    CL_ZW,      /* zero-width and invisible format characters */
    CL_ZWNJ,
    CL_ZWJ,
    CL_BIDI,
    CL_SHY,
    CL_CONTROL,
    CL_SQUOTE,
    CL_DQUOTE,
    CL_ARABIC, /* language-dependent Arabic-script letters, digits, marks */
    CL_ROMANIAN,
    CL_MASK = 0x1F,
    CL_MOJI = 0x40, /* a character some mojibake pattern needs (MB_GATE_MASK) */
    CL_NFC = 0x80,
};

/* Match-key classes. */
enum {
    KEY_PASS = 0,
    KEY_DROP,
    KEY_SPACE,
    KEY_MAP1, /* g_keymap holds the one replacement (BMP) */
    KEY_ICU,  /* expands: computed at run time */
    KEY_NFC = 0x80,
};

static uint8_t g_clean[0x10000];
static uint8_t g_key[0x10000];
static uint16_t g_keymap[0x10000];
static unsigned char g_key_ascii[256]; /* printable ASCII -> key byte, else 0 */
static const UNormalizer2 *g_nfc;
static const UNormalizer2 *g_nfkd_cf;
static bool g_tables_ok;
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;

static bool nfc_sensitive(UChar32 c)
{
    return u_getCombiningClass(c) != 0 ||
           u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) != UNORM_YES;
}

static bool is_emoji_part(UChar32 c)
{
    return c == 0xFE0F || u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) ||
           u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER) || (c >= 0xE0020 && c <= 0xE007F);
}

/* Scripts whose words carry ZWNJ/ZWJ as spelling: Arabic and Indic. */
static bool is_joining_script(uint32_t c)
{
    return (c >= 0x600 && c <= 0x6FF) || (c >= 0x750 && c <= 0x77F) || (c >= 0x8A0 && c <= 0x8FF) ||
           (c >= 0x900 && c <= 0xDFF) || (c >= 0xFB50 && c <= 0xFDFF) ||
           (c >= 0xFE70 && c <= 0xFEFF);
}

/* Scripts written without spaces, where ZWSP marks word breaks. */
static bool is_zwsp_script(uint32_t c)
{
    return (c >= 0xE00 && c <= 0xEFF) || (c >= 0x1000 && c <= 0x109F) ||
           (c >= 0x1780 && c <= 0x17FF);
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

/*
 * key_map_cp() - the key form of one code point: NFKD_Casefold, nonspacing marks dropped,
 * overrides applied, recomposed (NFC). Writes up to @cap UTF-16 units to @out; returns
 * the length, or -1 on an ICU error.
 */
static int32_t key_map_cp(UChar32 c, UChar *out, int32_t cap)
{
    UChar src[2], dec[64], filt[64];
    int32_t sn = 0;
    UErrorCode err = U_ZERO_ERROR;
    U16_APPEND_UNSAFE(src, sn, c);
    int32_t dn = unorm2_normalize(g_nfkd_cf, src, sn, dec, 64, &err);
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
    int32_t on = unorm2_normalize(g_nfc, filt, fn, out, cap, &err);
    return U_FAILURE(err) ? -1 : on;
}

static void tables_init(void)
{
    UErrorCode err = U_ZERO_ERROR;
    g_nfc = unorm2_getNFCInstance(&err);
    if (U_FAILURE(err))
        return;
    g_nfkd_cf = unorm2_getInstance(NULL, "nfkc_cf", UNORM2_DECOMPOSE, &err);
    if (U_FAILURE(err))
        return;
    if (!mb_init_codecs())
        return;
    mb_init_classes();
    for (int c = 0x21; c < 0x7F; c++)
        g_key_ascii[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    for (UChar32 c = 0; c < 0x10000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) {
            g_clean[c] = CL_PASS;
            g_key[c] = KEY_PASS;
            continue;
        }
        bool sens = nfc_sensitive(c);
        g_clean[c] = (uint8_t)(clean_class_of(c) | (sens ? CL_NFC : 0) |
                               (c >= 0x80 && (mb_class((uint32_t)c) & MB_GATE_MASK) ? CL_MOJI : 0));
        if (c < 0x80)
            continue; /* ASCII is handled inline by the key builder */
        if (u_charType(c) == U_SPACE_SEPARATOR || c == 0x2028 || c == 0x2029 || c == 0x85) {
            g_key[c] = KEY_SPACE;
            continue;
        }
        if (c >= 0xAC00 && c <= 0xD7A3) {
            g_key[c] = KEY_PASS; /* Hangul syllables are their own NFC form */
            continue;
        }
        UChar out[64];
        int32_t n = key_map_cp(c, out, 64);
        if (n < 0) {
            g_key[c] = KEY_ICU;
        } else if (n == 0) {
            g_key[c] = KEY_DROP;
        } else if (n == 1 && out[0] == c) {
            g_key[c] = (uint8_t)(KEY_PASS | (sens ? KEY_NFC : 0));
        } else if (n == 1 && !U16_IS_SURROGATE(out[0])) {
            g_key[c] = (uint8_t)(KEY_MAP1 | (nfc_sensitive(out[0]) ? KEY_NFC : 0));
            g_keymap[c] = out[0];
        } else {
            g_key[c] = KEY_ICU;
        }
    }
    g_tables_ok = true;
}

/* ------------------------------------------------------------------------------------ */
/* Buffers and UTF-8                                                                      */

struct nz_buf {
    char *p;
    size_t len;
    size_t cap;
    bool heap; /* p came from the host allocator (else: caller's stack storage or NULL) */
};

/* Most fields fit: their buffers then live on the stack and cost no allocation. */
#define NZ_STACK_BUF 8192

struct nz_run {
    const struct wp_host_api *host;
    bool oom;
    unsigned counts[NZ_OP_COUNT];
};

static bool buf_reserve(struct nz_run *r, struct nz_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    char *p;
    if (b->heap) {
        p = r->host->realloc(b->p, cap);
    } else {
        p = r->host->malloc(cap);
        if (p && b->len)
            memcpy(p, b->p, b->len);
    }
    if (!p) {
        r->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    b->heap = true;
    return true;
}

static void buf_free(struct nz_run *r, struct nz_buf *b)
{
    if (b->heap)
        r->host->free(b->p);
    memset(b, 0, sizeof(*b));
}

static void buf_swap(struct nz_buf *a, struct nz_buf *b)
{
    struct nz_buf t = *a;
    *a = *b;
    *b = t;
}

/* Decode one code point of valid UTF-8 (jansson guarantees it); never reads past @n. */
static inline uint32_t u8_next(const unsigned char *s, size_t n, size_t *i)
{
    size_t k = *i;
    unsigned char b = s[k];
    if (b < 0x80) {
        *i = k + 1;
        return b;
    }
    if (b >= 0xC0 && b < 0xE0 && k + 1 < n) {
        *i = k + 2;
        return ((uint32_t)(b & 0x1F) << 6) | (s[k + 1] & 0x3F);
    }
    if (b >= 0xE0 && b < 0xF0 && k + 2 < n) {
        *i = k + 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[k + 1] & 0x3F) << 6) |
               (s[k + 2] & 0x3F);
    }
    if (b >= 0xF0 && k + 3 < n) {
        *i = k + 4;
        return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[k + 1] & 0x3F) << 12) |
               ((uint32_t)(s[k + 2] & 0x3F) << 6) | (s[k + 3] & 0x3F);
    }
    *i = k + 1;
    return 0xFFFD;
}

/* Append @c as UTF-8; the caller reserved 4 bytes. */
static inline void u8_put(struct nz_buf *b, uint32_t c)
{
    unsigned char *p = (unsigned char *)b->p + b->len;
    if (c < 0x80) {
        p[0] = (unsigned char)c;
        b->len += 1;
    } else if (c < 0x800) {
        p[0] = (unsigned char)(0xC0 | (c >> 6));
        p[1] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 2;
    } else if (c < 0x10000) {
        p[0] = (unsigned char)(0xE0 | (c >> 12));
        p[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        p[2] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 3;
    } else {
        p[0] = (unsigned char)(0xF0 | (c >> 18));
        p[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
        p[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        p[3] = (unsigned char)(0x80 | (c & 0x3F));
        b->len += 4;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Configuration                                                                          */

enum nz_lang {
    LANG_OTHER = 0,
    LANG_FA,       /* Persian, Dari */
    LANG_AR,       /* Arabic */
    LANG_ARSCRIPT, /* other Arabic-script languages: tatweel only */
    LANG_TR,       /* Turkish, Azerbaijani: casing */
    LANG_RO,       /* Romanian, Moldovan */
};

struct nz_stage {
    const struct wp_host_api *host; /* the table outlives the stage; destroy() needs it */
    char **fields;
    size_t n_fields;
    bool quotes_ascii;
    bool nbsp_space;
    bool mojibake;
    bool entities;
    bool letters;
    bool harakat_strip;
    bool digits_ascii;
    bool match_key;
    bool cleanup;
};

static const struct wp_config_key nz_config_keys[] = {
    {.name = "fields",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[\"headline\",\"body\"]",
     .doc = "item fields normalized in place; an array field (keywords, authors) has each string "
            "normalized"},
    {.name = "quotes",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "curly quotes: keep them, or straighten \u2018\u2019\u201c\u201d to ASCII",
     .choices = "keep|ascii"},
    {.name = "nbsp",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc =
         "no-break spaces (U+00A0, U+2007, U+202F): keep one where a run has only those, or fold "
         "to U+0020",
     .choices = "keep|space"},
    {.name = "mojibake",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc =
         "repair UTF-8 misread as windows-125x/latin-1/MacRoman/cp437 (ftfy's method), per line"},
    {.name = "entities",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "decode HTML entities left in text (&amp;, &#8217;, ...)"},
    {.name = "arabic_letters",
     .type = WP_CONFIG_STRING,
     .default_json = "\"auto\"",
     .doc = "auto: by item language, Persian forms of yeh/kaf for fa, Arabic forms for ar, tatweel "
            "removed in Arabic-script languages; off: never",
     .choices = "auto|off"},
    {.name = "harakat",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "Arabic diacritics (U+064B-U+065F, U+0670)",
     .choices = "keep|strip"},
    {.name = "digits",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "Arabic-Indic and Persian digits: keep (unified per language), or ASCII",
     .choices = "keep|ascii"},
    {.name = "match_key",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "set match_key: lossy key of headline+body (NFKC_Casefold, marks stripped, "
            "Turkish-aware)"},
    {.name = "cleanup",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "NFC plus space/control/invisible-character cleanup; false leaves only the steps above "
            "(scripts/eval-mojibake scores the repair alone)"},
    {0},
};

static bool cfg_str_is(const json_t *config, const char *key, const char *value)
{
    const char *s = json_string_value(json_object_get(config, key));
    return s && strcmp(s, value) == 0;
}

static bool cfg_bool(const json_t *config, const char *key, bool dflt)
{
    const json_t *v = json_object_get(config, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static void nz_destroy(void *instance)
{
    struct nz_stage *st = instance;
    if (st)
        st->host->free(st);
}

static enum wp_status nz_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    pthread_once(&g_tables_once, tables_init);
    if (!g_tables_ok) {
        wp_fail(ctx, WP_E_UNICODE, "cannot load ICU normalization data or charset tables");
        return WP_E_UNICODE;
    }
    const json_t *fields = json_object_get(config, "fields");
    size_t n = json_array_size(fields);
    size_t bytes = sizeof(struct nz_stage) + n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(fields, i));
        if (!f || !*f) {
            wp_fail(ctx, WP_E_CONFIG, "fields[%zu]: expected a non-empty field name", i);
            return WP_E_CONFIG;
        }
        bytes += strlen(f) + 1;
    }
    /* One block holds the stage, the field-name pointers and the names. */
    struct nz_stage *st = ctx->host->calloc(1, bytes);
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->fields = (char **)(st + 1);
    char *names = (char *)(st->fields + n);
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(fields, i));
        size_t len = strlen(f) + 1;
        memcpy(names, f, len);
        st->fields[i] = names;
        names += len;
    }
    st->n_fields = n;
    st->host = ctx->host;
    st->quotes_ascii = cfg_str_is(config, "quotes", "ascii");
    st->nbsp_space = cfg_str_is(config, "nbsp", "space");
    st->mojibake = cfg_bool(config, "mojibake", true);
    st->entities = cfg_bool(config, "entities", true);
    st->letters = !cfg_str_is(config, "arabic_letters", "off");
    st->harakat_strip = cfg_str_is(config, "harakat", "strip");
    st->digits_ascii = cfg_str_is(config, "digits", "ascii");
    st->match_key = cfg_bool(config, "match_key", true);
    st->cleanup = cfg_bool(config, "cleanup", true);
    *instance = st;
    return WP_OK;
}

static enum nz_lang parse_lang(const char *tag)
{
    char p[8];
    size_t k = 0;
    if (!tag)
        return LANG_OTHER;
    while (tag[k] && tag[k] != '-' && tag[k] != '_') {
        if (k >= sizeof(p) - 1)
            return LANG_OTHER;
        char c = tag[k];
        p[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    p[k] = '\0';
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
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(p, table[i].code) == 0)
            return table[i].lang;
    }
    return LANG_OTHER;
}

/* ------------------------------------------------------------------------------------ */
/* HTML entities                                                                          */

/* A valid code point from an entity: C1 numbers mean windows-1252 (as HTML5 reads them). */
static uint32_t entity_cp(unsigned long v)
{
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    if (v >= 0x80 && v <= 0x9F)
        return g_codecs[MB_CP1252].dec[v];
    return (uint32_t)v;
}

/* Parse the entity body after '&' ("#8217;", "#x2019;", "rsquo;"); returns its length
 * including ';', or 0. */
static size_t parse_entity_body(const char *p, size_t n, uint32_t *cp)
{
    size_t i = 0;
    if (n >= 3 && p[0] == '#') {
        bool hex = p[1] == 'x' || p[1] == 'X';
        unsigned long v = 0;
        size_t digits = 0;
        for (i = hex ? 2 : 1; i < n && digits < 8; i++, digits++) {
            char c = p[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (c | 0x20) - 'a' + 10;
            else
                break;
            v = v * (hex ? 16 : 10) + (unsigned long)d;
        }
        if (digits == 0 || i >= n || p[i] != ';')
            return 0;
        *cp = entity_cp(v);
        return *cp ? i + 1 : 0;
    }
    char name[33];
    for (i = 0; i < n && i < sizeof(name) - 1; i++) {
        char c = p[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(i > 0 && c >= '0' && c <= '9'))
            break;
        name[i] = c;
    }
    if (i == 0 || i >= n || p[i] != ';')
        return 0;
    name[i] = '\0';
    const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
    if (!e || e->value == 0)
        return 0;
    *cp = e->value;
    return i + 1;
}

/* Returns true when something was decoded (into @out). */
static bool decode_entities(struct nz_run *r, const char *s, size_t n, struct nz_buf *out)
{
    size_t i = 0, copied = 0;
    bool changed = false;
    out->len = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        if (!amp)
            break;
        i = (size_t)(amp - s);
        uint32_t cp = 0;
        size_t len = parse_entity_body(s + i + 1, n - i - 1, &cp);
        if (len && cp == '&') {
            /* "&amp;#8217;": escaped twice; decode both layers. */
            uint32_t inner = 0;
            size_t l2 = parse_entity_body(s + i + 1 + len, n - i - 1 - len, &inner);
            if (l2) {
                len += l2;
                cp = inner;
                r->counts[NZ_OP_ENTITIES]++;
            }
        }
        if (!len) {
            i++;
            continue;
        }
        if (!buf_reserve(r, out, i - copied + 4))
            return false;
        memcpy(out->p + out->len, s + copied, i - copied);
        out->len += i - copied;
        u8_put(out, cp);
        r->counts[NZ_OP_ENTITIES]++;
        i += 1 + len;
        copied = i;
        changed = true;
    }
    if (!changed)
        return false;
    if (!buf_reserve(r, out, n - copied))
        return false;
    memcpy(out->p + out->len, s + copied, n - copied);
    out->len += n - copied;
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Mojibake, per line                                                                     */

static void mb_work_free(const struct wp_host_api *host, struct mb_work *w)
{
    host->free(w->cps);
    host->free(w->tmp);
    host->free(w->bytes);
    host->free(w->bytes2);
    host->free(w->bytes3);
    host->free(w->orig);
    memset(w, 0, sizeof(*w));
}

static bool fix_mojibake(struct nz_run *r, const char *s, size_t n, struct nz_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    struct mb_work w = {0};
    bool changed = false;
    size_t copied = 0;
    out->len = 0;
    if (!mb_is_bad_utf8(u, n))
        return false; /* the usual case: nothing on any line */
    for (size_t ls = 0; ls < n;) {
        const char *nl = memchr(s + ls, '\n', n - ls);
        size_t le = nl ? (size_t)(nl - s) : n;
        size_t next = nl ? le + 1 : n;
        if (!mb_is_bad_utf8(u + ls, le - ls)) {
            ls = next;
            continue;
        }
        size_t len = le - ls;
        if (len + 8 > w.cap) {
            /* Sized for this line (a line has at most @len characters); grown for a
             * longer one. */
            size_t cap = len + 8;
            mb_work_free(r->host, &w);
            w.cap = cap;
            w.cps = r->host->malloc(cap * sizeof(uint32_t));
            w.tmp = r->host->malloc(2 * cap * sizeof(uint32_t));
            w.bytes = r->host->malloc(cap);
            w.bytes2 = r->host->malloc(2 * cap);
            w.bytes3 = r->host->malloc(6 * cap);
            w.orig = r->host->malloc(cap * sizeof(uint32_t));
            if (!w.cps || !w.tmp || !w.bytes || !w.bytes2 || !w.bytes3 || !w.orig) {
                r->oom = true;
                break;
            }
        }
        w.n = 0;
        for (size_t i = ls; i < le;)
            w.cps[w.n++] = u8_next(u, le, &i);
        unsigned repairs = 0, c1 = 0;
        mb_repair(&w, &repairs, &c1);
        if (repairs == 0 && c1 == 0) {
            ls = next;
            continue;
        }
        r->counts[NZ_OP_MOJIBAKE] += repairs;
        r->counts[NZ_OP_C1] += c1;
        if (!buf_reserve(r, out, (ls - copied) + w.n * 4 + 1))
            break;
        memcpy(out->p + out->len, s + copied, ls - copied);
        out->len += ls - copied;
        for (size_t k = 0; k < w.n; k++)
            u8_put(out, w.cps[k]);
        copied = le;
        changed = true;
        ls = next;
    }
    mb_work_free(r->host, &w);
    if (!changed || r->oom)
        return false;
    if (!buf_reserve(r, out, n - copied))
        return false;
    memcpy(out->p + out->len, s + copied, n - copied);
    out->len += n - copied;
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* NFC on UTF-8                                                                           */

/* Normalize @b to NFC in place. Returns 1 when it changed, 0 when not, -1 on failure. */
static int nfc_utf8(struct nz_run *r, struct nz_buf *b)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t n16 = 0;
    if (b->len > INT32_MAX / 4)
        return -1;
    UChar *s16 = r->host->malloc((b->len + 1) * sizeof(UChar));
    if (!s16) {
        r->oom = true;
        return -1;
    }
    u_strFromUTF8(s16, (int32_t)b->len + 1, &n16, b->p, (int32_t)b->len, &err);
    int result = -1;
    UChar *d16 = NULL;
    if (U_FAILURE(err))
        goto out;
    int32_t span = unorm2_spanQuickCheckYes(g_nfc, s16, n16, &err);
    if (U_FAILURE(err))
        goto out;
    if (span == n16) {
        result = 0;
        goto out;
    }
    int32_t cap = n16 * 3 + 16;
    d16 = r->host->malloc((size_t)cap * sizeof(UChar));
    if (!d16) {
        r->oom = true;
        goto out;
    }
    memcpy(d16, s16, (size_t)span * sizeof(UChar));
    int32_t dn =
        unorm2_normalizeSecondAndAppend(g_nfc, d16, span, cap, s16 + span, n16 - span, &err);
    if (U_FAILURE(err))
        goto out;
    if (dn == n16 && memcmp(d16, s16, (size_t)dn * sizeof(UChar)) == 0) {
        result = 0;
        goto out;
    }
    int32_t n8 = 0;
    u_strToUTF8(NULL, 0, &n8, d16, dn, &err);
    if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err))
        goto out;
    err = U_ZERO_ERROR;
    b->len = 0;
    if (!buf_reserve(r, b, (size_t)n8 + 1))
        goto out;
    u_strToUTF8(b->p, (int32_t)b->cap, &n8, d16, dn, &err);
    if (U_FAILURE(err))
        goto out;
    b->len = (size_t)n8;
    result = 1;
out:
    r->host->free(s16);
    r->host->free(d16);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* The display pass                                                                       */

static inline uint8_t class_of(uint32_t c)
{
    if (c < 0x10000)
        return g_clean[c];
    return (uint8_t)(CL_PASS | (nfc_sensitive((UChar32)c) ? CL_NFC : 0));
}

struct clean {
    struct nz_run *r;
    struct nz_buf *out;
    uint32_t pend_space; /* 0, ' ' or the no-break space kept */
    unsigned pend_nl;
    bool line_empty;
    uint32_t last; /* last character written */
    bool need_nfc;
};

/* Write what whitespace is pending before the next visible character. */
static inline void clean_flush(struct clean *k)
{
    if (k->pend_nl) {
        if (k->out->len) {
            k->out->p[k->out->len++] = '\n';
            if (k->pend_nl >= 2)
                k->out->p[k->out->len++] = '\n';
        }
        k->pend_nl = 0;
        k->pend_space = 0;
    } else if (k->pend_space) {
        u8_put(k->out, k->pend_space);
        k->pend_space = 0;
    }
    k->line_empty = false;
}

static inline bool clean_emit(struct clean *k, uint32_t c, uint8_t cls)
{
    if (k->out->len + 8 > k->out->cap && !buf_reserve(k->r, k->out, 8))
        return false;
    clean_flush(k);
    u8_put(k->out, c);
    k->last = c;
    if (cls & CL_NFC)
        k->need_nfc = true;
    return true;
}

static inline void clean_newline(struct clean *k, unsigned count)
{
    if (k->pend_space) {
        k->r->counts[NZ_OP_SPACES]++;
        k->pend_space = 0;
    }
    for (unsigned j = 0; j < count; j++) {
        if (k->out->len == 0 || k->pend_nl >= 2)
            k->r->counts[NZ_OP_LINE_BREAKS]++;
        k->pend_nl++;
    }
    k->line_empty = true;
}

static void clean_space(struct clean *k, uint32_t c, bool nbsp_kept)
{
    unsigned *counts = k->r->counts;
    if (k->line_empty || k->pend_nl) {
        counts[NZ_OP_SPACES]++;
        return;
    }
    if (k->pend_space) {
        /* A run collapses to one; a breaking space in the run makes it breaking. */
        counts[NZ_OP_SPACES]++;
        if (!nbsp_kept)
            k->pend_space = ' ';
        return;
    }
    if (nbsp_kept) {
        k->pend_space = c;
        return;
    }
    k->pend_space = ' ';
    if (c != ' ')
        counts[(c == 0xA0 || c == 0x2007 || c == 0x202F) ? NZ_OP_NBSP : NZ_OP_SPACES]++;
}

static inline uint32_t peek_cp(const unsigned char *u, size_t n, size_t i)
{
    return i < n ? u8_next(u, n, &i) : 0;
}

static bool clean_arabic(struct clean *k, const struct nz_stage *st, enum nz_lang lang, uint32_t c,
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
            return clean_emit(k, 0x6CC, 0);
        }
    } else if (c == 0x643) {
        if (fa) {
            counts[NZ_OP_LETTERS]++;
            return clean_emit(k, 0x6A9, 0);
        }
    } else if (c == 0x6CC) {
        if (ar) {
            counts[NZ_OP_LETTERS]++;
            return clean_emit(k, 0x64A, 0);
        }
    } else if (c == 0x6A9) {
        if (ar) {
            counts[NZ_OP_LETTERS]++;
            return clean_emit(k, 0x643, 0);
        }
    } else if ((c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9)) {
        uint32_t v = c >= 0x6F0 ? c - 0x6F0 : c - 0x660;
        if (st->digits_ascii) {
            counts[NZ_OP_DIGITS]++;
            return clean_emit(k, '0' + v, 0);
        }
        if (fa && c < 0x6F0) {
            counts[NZ_OP_DIGITS]++;
            return clean_emit(k, 0x6F0 + v, 0);
        }
        if (ar && c >= 0x6F0) {
            counts[NZ_OP_DIGITS]++;
            return clean_emit(k, 0x660 + v, 0);
        }
    } else if (c == 0x66B || c == 0x66C) {
        if (st->digits_ascii) {
            counts[NZ_OP_DIGITS]++;
            return clean_emit(k, c == 0x66B ? '.' : ',', 0);
        }
    }
    return clean_emit(k, c, cls);
}

static bool clean_romanian(struct clean *k, enum nz_lang lang, uint32_t c, uint8_t cls)
{
    if (lang != LANG_RO)
        return clean_emit(k, c, cls);
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
    return clean_emit(k, to, to == c ? cls : (to == 0x326 ? CL_NFC : 0));
}

/* The display pass over @s into @out. Returns false on out-of-memory. */
static bool clean_text(struct nz_run *r, const struct nz_stage *st, enum nz_lang lang,
                       const char *s, size_t n, struct nz_buf *out, bool *need_nfc, bool *suspect)
{
    /* Mojibake is looked for on the way: at each character a pattern needs. */
    bool check_moji = st->mojibake, moji = false;
    const unsigned char *u = (const unsigned char *)s;
    struct clean k = {.r = r, .out = out, .line_empty = true};
    unsigned *counts = r->counts;
    out->len = 0;
    if (!buf_reserve(r, out, n + 16))
        return false;
    size_t i = 0;
    while (i < n) {
        /* The common case: a run of characters kept as they are, with single spaces
         * between words, copied in one piece. */
        size_t j = i, last_at = i;
        while (j < n) {
            unsigned char x = u[j];
            if (x > 0x20 && x < 0x7F) {
                last_at = j++;
                continue;
            }
            if (x == ' ' && j > i && j + 1 < n) {
                unsigned char y = u[j + 1];
                if (y > 0x20 && y < 0x7F) {
                    j++;
                    continue;
                }
                if (y >= 0x80) {
                    uint32_t nc = peek_cp(u, n, j + 1);
                    if (nc < 0x10000 && (g_clean[nc] & CL_MASK) == CL_PASS) {
                        j++;
                        continue;
                    }
                }
                break;
            }
            if (x >= 0x80) {
                size_t t = j;
                uint32_t c = u8_next(u, n, &t);
                uint8_t cl = class_of(c);
                if ((cl & CL_MOJI) && check_moji && !moji)
                    moji = mb_bad_near(u, n, j);
                if ((cl & CL_MASK) == CL_PASS) {
                    if (cl & CL_NFC)
                        k.need_nfc = true;
                    last_at = j;
                    j = t;
                    continue;
                }
            }
            break;
        }
        if (j > i) {
            if (out->len + (j - i) + 8 > out->cap && !buf_reserve(r, out, (j - i) + 8))
                return false;
            clean_flush(&k);
            memcpy(out->p + out->len, s + i, j - i);
            out->len += j - i;
            size_t t = last_at;
            k.last = u8_next(u, n, &t);
            i = j;
            continue;
        }
        size_t start = i;
        uint32_t c = u8_next(u, n, &i);
        uint8_t cls = class_of(c);
        bool ok = true;
        if ((cls & CL_MOJI) && check_moji && !moji)
            moji = mb_bad_near(u, n, start);
        switch (cls & CL_MASK) {
            case CL_PASS:
                if (out->len + (i - start) + 8 > out->cap && !buf_reserve(r, out, (i - start) + 8))
                    return false;
                clean_flush(&k);
                memcpy(out->p + out->len, s + start, i - start);
                out->len += i - start;
                k.last = c;
                if (cls & CL_NFC)
                    k.need_nfc = true;
                break;
            case CL_HSPACE:
                clean_space(&k, c, false);
                break;
            case CL_NBSP:
                if (st->nbsp_space) {
                    clean_space(&k, c, false);
                } else {
                    clean_space(&k, c, true);
                }
                break;
            case CL_NEWLINE:
                clean_newline(&k, 1);
                break;
            case CL_CR:
                counts[NZ_OP_LINE_BREAKS]++;
                if (i < n && u[i] == '\n')
                    break; /* the \n that follows makes the break */
                clean_newline(&k, 1);
                break;
            case CL_LS:
                counts[NZ_OP_LINE_BREAKS]++;
                clean_newline(&k, 1);
                break;
            case CL_PS:
                counts[NZ_OP_LINE_BREAKS]++;
                clean_newline(&k, 2);
                break;
            case CL_ZW:
                if (c == 0x200B && !k.line_empty && !k.pend_space && is_zwsp_script(k.last))
                    ok = clean_emit(&k, c, cls);
                else
                    counts[NZ_OP_ZERO_WIDTH]++;
                break;
            case CL_ZWNJ: {
                uint32_t next = peek_cp(u, n, i);
                if (!k.line_empty && !k.pend_space && !k.pend_nl && is_joining_script(k.last) &&
                    is_joining_script(next))
                    ok = clean_emit(&k, c, cls);
                else
                    counts[NZ_OP_ZERO_WIDTH]++;
                break;
            }
            case CL_ZWJ: {
                uint32_t next = peek_cp(u, n, i);
                bool keep = !k.line_empty && !k.pend_space && !k.pend_nl &&
                            ((is_emoji_part((UChar32)k.last) && is_emoji_part((UChar32)next)) ||
                             (is_joining_script(k.last) && is_joining_script(next)));
                if (keep)
                    ok = clean_emit(&k, c, cls);
                else
                    counts[NZ_OP_ZERO_WIDTH]++;
                break;
            }
            case CL_BIDI:
                counts[NZ_OP_BIDI]++;
                break;
            case CL_SHY:
                counts[NZ_OP_SOFT_HYPHEN]++;
                break;
            case CL_CONTROL:
                counts[NZ_OP_CONTROLS]++;
                break;
            case CL_SQUOTE:
            case CL_DQUOTE:
                if (st->quotes_ascii) {
                    counts[NZ_OP_QUOTES]++;
                    ok = clean_emit(&k, (cls & CL_MASK) == CL_SQUOTE ? '\'' : '"', 0);
                } else {
                    ok = clean_emit(&k, c, cls);
                }
                break;
            case CL_ARABIC:
                ok = clean_arabic(&k, st, lang, c, peek_cp(u, n, i), cls);
                break;
            case CL_ROMANIAN:
                ok = clean_romanian(&k, lang, c, cls);
                break;
            default:
                ok = clean_emit(&k, c, cls);
                break;
        }
        if (!ok)
            return false;
    }
    if (k.pend_space)
        counts[NZ_OP_SPACES]++;
    *need_nfc = k.need_nfc;
    *suspect = moji;
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Match key                                                                              */

struct keyb {
    struct nz_run *r;
    struct nz_buf *out;
    bool pend_space;
    bool need_nfc;
};

static inline bool key_put(struct keyb *k, uint32_t c)
{
    if (k->out->len + 8 > k->out->cap && !buf_reserve(k->r, k->out, 8))
        return false;
    if (k->pend_space) {
        if (k->out->len)
            k->out->p[k->out->len++] = ' ';
        k->pend_space = false;
    }
    u8_put(k->out, c);
    return true;
}

static bool key_expand(struct keyb *k, uint32_t c)
{
    UChar buf[64];
    int32_t n = key_map_cp((UChar32)c, buf, 64);
    if (n < 0)
        return key_put(k, c); /* cannot happen with ICU's data; keep the character */
    for (int32_t i = 0; i < n;) {
        UChar32 d;
        U16_NEXT(buf, i, n, d);
        if (nfc_sensitive(d))
            k->need_nfc = true;
        if (!key_put(k, (uint32_t)d))
            return false;
    }
    return true;
}

static bool key_append(struct keyb *k, const char *s, size_t n, bool turkish)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char b = u[i];
        /* Fast path: a run of ASCII words and single spaces, and characters whose key
         * form is themselves. */
        if (!k->pend_space && b > 0x20 && b != 0x7F) {
            if (k->out->len + 2 * (n - i) + 8 > k->out->cap &&
                !buf_reserve(k->r, k->out, 2 * (n - i) + 8))
                return false;
            char *o = k->out->p + k->out->len;
            size_t j = i;
            while (j < n) {
                unsigned char x = u[j];
                unsigned char m = g_key_ascii[x];
                if (m && !(turkish && x == 'I')) {
                    *o++ = (char)m;
                    j++;
                } else if (x > 0x20 && x < 0x7F) {
                    if (x >= 'A' && x <= 'Z') {
                        if (turkish && x == 'I') {
                            *o++ = (char)0xC4; /* U+0131 dotless i */
                            *o++ = (char)0xB1;
                            j++;
                            continue;
                        }
                        x = (unsigned char)(x + 32);
                    }
                    *o++ = (char)x;
                    j++;
                } else if (x == ' ' && j + 1 < n && u[j + 1] > 0x20 && u[j + 1] != 0x7F) {
                    *o++ = ' ';
                    j++;
                } else if (x >= 0x80) {
                    size_t t = j;
                    uint32_t c = u8_next(u, n, &t);
                    if (c >= 0x10000)
                        break;
                    uint8_t kc = g_key[c];
                    if (kc == KEY_PASS) {
                        while (j < t)
                            *o++ = (char)u[j++];
                    } else if ((kc & 0x7F) == KEY_MAP1 && !(turkish && c == 0x130)) {
                        struct nz_buf tmp = {.p = o, .cap = 4};
                        u8_put(&tmp, g_keymap[c]);
                        o += tmp.len;
                        if (kc & KEY_NFC)
                            k->need_nfc = true;
                        j = t;
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            if (j > i) {
                k->out->len = (size_t)(o - k->out->p);
                i = j;
                continue;
            }
        }
        if (b < 0x80) {
            i++;
            if (b <= 0x20 || b == 0x7F) {
                k->pend_space = true; /* controls were removed by the display pass */
                continue;
            }
            uint32_t c = b;
            if (b >= 'A' && b <= 'Z')
                c = (turkish && b == 'I') ? 0x131 : (uint32_t)(b + 32);
            if (!key_put(k, c))
                return false;
            continue;
        }
        uint32_t c = u8_next(u, n, &i);
        if (turkish && c == 0x130) {
            if (!key_put(k, 'i'))
                return false;
            continue;
        }
        uint8_t kc = c < 0x10000 ? g_key[c] : KEY_ICU;
        bool ok = true;
        switch (kc & 0x7F) {
            case KEY_PASS:
                ok = key_put(k, c);
                break;
            case KEY_DROP:
                break;
            case KEY_SPACE:
                k->pend_space = true;
                break;
            case KEY_MAP1:
                ok = key_put(k, g_keymap[c]);
                break;
            default:
                ok = key_expand(k, c);
                break;
        }
        if (kc & KEY_NFC)
            k->need_nfc = true;
        if (!ok)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Storing results                                                                        */

/*
 * utf8_valid() - strict UTF-8 check (no overlongs, surrogates or values above U+10FFFF),
 * eight ASCII bytes at a time. Everything this stage writes is built from whole validated
 * characters or from code points it encodes itself, so this cannot fail unless the code
 * has a bug; it is here so that such a bug can never put invalid text into an item.
 * jansson's own check costs more than the whole display pass (measured: 7 ms of 21 ms
 * per 2 MB), which is why results are stored with the _nocheck setters after this one.
 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
        } else if (b < 0xE0) {
            if (b < 0xC2 || i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
        } else if (b < 0xF0) {
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return false;
            if ((b == 0xE0 && s[i + 1] < 0xA0) || (b == 0xED && s[i + 1] >= 0xA0))
                return false; /* overlong, surrogate */
            i += 3;
        } else {
            if (b > 0xF4 || i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return false;
            if ((b == 0xF0 && s[i + 1] < 0x90) || (b == 0xF4 && s[i + 1] >= 0x90))
                return false; /* overlong, above U+10FFFF */
            i += 4;
        }
    }
    return true;
}

/* A new JSON string of @s, or NULL when @s is not valid UTF-8 (or out of memory). */
static json_t *json_string_validated(const char *s, size_t n)
{
    if (!utf8_valid((const unsigned char *)s, n))
        return NULL;
    return json_stringn_nocheck(s, n); /* wp-style: validated just above */
}

/* Replace the text of string @v with @s; -1 when @s is not valid UTF-8. */
static int json_string_set_validated(json_t *v, const char *s, size_t n)
{
    if (!utf8_valid((const unsigned char *)s, n))
        return -1;
    return json_string_setn_nocheck(v, s, n); /* wp-style: validated just above */
}

/* ------------------------------------------------------------------------------------ */
/* The stage                                                                              */

/* Normalize one JSON string in place. Returns false only on out-of-memory. */
static bool normalize_string(struct nz_run *r, const struct nz_stage *st, enum nz_lang lang,
                             json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    char b_stack[NZ_STACK_BUF];
    struct nz_buf a = {0}, b = {b_stack, 0, sizeof(b_stack), false}, c = {0};
    const char *cur = s;
    size_t curn = n;
    bool ok = true;

    if (st->entities && memchr(cur, '&', curn)) {
        if (decode_entities(r, cur, curn, &a)) {
            cur = a.p;
            curn = a.len;
        }
    }
    if (!r->oom && st->cleanup) {
        /* The display pass also looks for mojibake patterns; only when it saw one does
         * the repair run, and when that repairs something the display pass is redone on
         * the repaired text. */
        unsigned before[NZ_OP_COUNT], after[NZ_OP_COUNT];
        bool need_nfc = false, suspect = false;
        memcpy(before, r->counts, sizeof(before));
        bool done = clean_text(r, st, lang, cur, curn, &b, &need_nfc, &suspect);
        if (done && st->mojibake && suspect) {
            memcpy(after, r->counts, sizeof(after));
            if (fix_mojibake(r, cur, curn, &c)) {
                unsigned moj = r->counts[NZ_OP_MOJIBAKE] - after[NZ_OP_MOJIBAKE];
                unsigned c1 = r->counts[NZ_OP_C1] - after[NZ_OP_C1];
                memcpy(r->counts, before, sizeof(before));
                r->counts[NZ_OP_MOJIBAKE] += moj;
                r->counts[NZ_OP_C1] += c1;
                buf_swap(&a, &c);
                cur = a.p;
                curn = a.len;
                done = clean_text(r, st, lang, cur, curn, &b, &need_nfc, &suspect);
            }
        }
        if (done && !r->oom) {
            int rc = need_nfc ? nfc_utf8(r, &b) : 0;
            if (rc >= 0) {
                if (rc > 0)
                    r->counts[NZ_OP_NFC]++;
                cur = b.p;
                curn = b.len;
            }
        }
    } else if (!r->oom && st->mojibake) {
        if (fix_mojibake(r, cur, curn, &b)) {
            buf_swap(&a, &b);
            cur = a.p;
            curn = a.len;
        }
    }
    if (r->oom) {
        ok = false;
    } else if (curn != n || memcmp(cur, s, n) != 0) {
        /* Checked again: a bug here cannot put invalid text in the item. */
        if (json_string_set_validated(v, cur, curn) != 0)
            r->counts[NZ_OP_SKIPPED]++;
    }
    buf_free(r, &a);
    buf_free(r, &b);
    buf_free(r, &c);
    return ok;
}

static bool set_match_key(struct nz_run *r, json_t *item, enum nz_lang lang)
{
    const json_t *h = json_object_get(item, WP_ITEM_HEADLINE);
    const json_t *body = json_object_get(item, WP_ITEM_BODY);
    if (!json_is_string(h) && !json_is_string(body))
        return true;
    char stack[NZ_STACK_BUF];
    struct nz_buf out = {stack, 0, sizeof(stack), false};
    struct keyb k = {.r = r, .out = &out};
    bool turkish = lang == LANG_TR;
    size_t total = json_string_length(h) + json_string_length(body) + 16;
    bool ok = buf_reserve(r, &out, total + total / 4);
    if (ok && json_is_string(h))
        ok = key_append(&k, json_string_value(h), json_string_length(h), turkish);
    k.pend_space = true;
    if (ok && json_is_string(body))
        ok = key_append(&k, json_string_value(body), json_string_length(body), turkish);
    if (ok && k.need_nfc)
        ok = nfc_utf8(r, &out) >= 0;
    if (ok)
        json_object_set_new(item, WP_ITEM_MATCH_KEY,
                            json_string_validated(out.p ? out.p : "", out.len));
    buf_free(r, &out);
    return ok || !r->oom;
}

static void record_changes(struct wp_ctx *ctx, struct nz_run *r, json_t *item)
{
    json_t *changes = json_object_get(item, WP_ITEM_CHANGES);
    if (!json_is_object(changes)) {
        if (changes)
            wp_log_warn(ctx, "item field '%s' is not an object; replaced", WP_ITEM_CHANGES);
        changes = json_object();
        json_object_set_new(item, WP_ITEM_CHANGES, changes);
    }
    json_t *rec = json_object();
    for (int op = 0; op < NZ_OP_COUNT; op++) {
        if (r->counts[op])
            json_object_set_new(rec, nz_op_names[op], json_integer(r->counts[op]));
    }
    json_object_set_new(changes, ctx->host->stage_id(ctx), rec);
    if (r->counts[NZ_OP_MOJIBAKE])
        ctx->host->metric_add(ctx, "mojibake", r->counts[NZ_OP_MOJIBAKE]);
}

static enum wp_outcome nz_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    const struct nz_stage *st = instance;
    struct nz_run r = {.host = ctx->host};
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "item is not a JSON object");
        return WP_OUTCOME_REJECT;
    }
    enum nz_lang lang = parse_lang(json_string_value(json_object_get(item, WP_ITEM_LANGUAGE)));
    for (size_t f = 0; f < st->n_fields; f++) {
        json_t *v = json_object_get(item, st->fields[f]);
        if (!v || json_is_null(v))
            continue;
        if (json_is_string(v)) {
            if (!normalize_string(&r, st, lang, v))
                goto oom;
        } else if (json_is_array(v)) {
            size_t idx;
            json_t *e;
            json_array_foreach(v, idx, e)
            {
                if (json_is_string(e)) {
                    if (!normalize_string(&r, st, lang, e))
                        goto oom;
                } else if (!json_is_null(e)) {
                    r.counts[NZ_OP_SKIPPED]++;
                }
            }
        } else {
            r.counts[NZ_OP_SKIPPED]++;
            wp_log_debug(ctx, "field '%s' is not a string; left as it is", st->fields[f]);
        }
    }
    if (st->match_key && !set_match_key(&r, item, lang))
        goto oom;
    record_changes(ctx, &r, item);
    return WP_OUTCOME_OK;
oom:
    wp_fail(ctx, WP_E_NOMEM, "out of memory while normalizing");
    return WP_OUTCOME_RETRY;
}

static const struct wp_stage_ops nz_ops = {
    .name = "normalize",
    .description = "NFC and display-safe cleanup, mojibake repair, per-language letter fixes, "
                   "match key",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = nz_config_keys,
    .create = nz_create,
    .process = nz_process,
    .destroy = nz_destroy,
};

static const struct wp_stage_ops *const nz_stages[] = {&nz_ops, NULL};

WP_PLUGIN_DEFINE(normalize, "0.1.0",
                 "Unicode normalization of story text: NFC, cleanup, mojibake repair, match key",
                 "MIT", nz_stages)
