/*
 * normalize.h - private interfaces of the normalize plugin.
 *
 * The stage (normalize.c) runs each field through these steps, one file each:
 *   entities.c        HTML entities left in text
 *   mojibake_rules.c  the badness rules that say a line looks like mojibake
 *   mojibake.c        the repair itself, per line (ftfy's method)
 *   display.c         the display pass: spaces, line breaks, invisibles, controls, quotes
 *   letters.c         per-language rules: Persian/Arabic letters and digits, Romanian
 *                     comma-below, the scripts that keep ZWNJ/ZWJ/ZWSP, language tags
 *   nfc.c             ICU's NFC on UTF-8, only when the display pass saw a character
 *                     that can take part in composition
 *   matchkey.c        the lossy match key (NFKC_Casefold, marks stripped, Turkish i)
 * and tables.c builds the per-code-point tables they all read, once per process.
 *
 * Text handed between the steps is valid UTF-8: jansson checks what arrives, and every step
 * writes whole characters it decoded or code points it encodes itself. Results are still
 * checked before they go back into the item (normalize.c).
 *
 * Buffers are struct wp_buf. The hot loops reserve with wp_buf_grow() and then write into
 * @data directly; they restore the trailing NUL (nz_buf_end()) before the buffer is read.
 */
#ifndef NORMALIZE_PRIVATE_H
#define NORMALIZE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>
#include <wirepipe/utf8.h>

#include <jansson.h>
#include <unicode/unorm2.h>
#include <unicode/utf8.h>

/* Everything declared here stays inside normalize.so: direct access, no GOT or PLT. */
#pragma GCC visibility push(hidden)

/* ---- operations counted in item.changes.<stage id> --------------------------------- */

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

/* ---- the stage and one call of process() -------------------------------------------- */

/* What the item's language asks for (letters.c, nz_lang_of). */
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

/*
 * One process() call: its counts, and work buffers reused from field to field: @text holds
 * a field between steps, @out the display pass's result and then the match key, @repair
 * the mojibake repair's result.
 */
struct nz_run {
    const struct wp_host_api *host;
    bool oom;
    unsigned counts[NZ_OP_COUNT];
    struct wp_buf text, out, repair;
};

/*
 * nz_json_string() - a new JSON string of @s, or NULL when @s is not valid UTF-8 (a bug)
 * or memory ran out. (normalize.c)
 */
json_t *nz_json_string(const char *s, size_t n);

/*
 * nz_reserve() - room for @extra more bytes (and the NUL) in @b; false, noted in @r, on
 * failure. The test in front is wp_buf_grow()'s without its look at @failed: a failed
 * buffer keeps its memory, writes stay inside it, and @r->oom discards the result.
 */
static inline bool nz_reserve(struct nz_run *r, struct wp_buf *b, size_t extra)
{
    if (b->cap - b->len > extra) /* false while @data is NULL: @cap is 0 */
        return true;
    if (wp_buf_grow(b, extra))
        return true;
    r->oom = true;
    return false;
}

/* nz_put() - append @c to @b as UTF-8, after a reserve of 4 bytes; no NUL is written. */
static inline void nz_put(struct wp_buf *b, uint32_t c)
{
    b->len += wp_utf8_encode(c, b->data + b->len);
}

/* nz_buf_end() - restore the NUL after direct writes (wp_buf's invariant). */
static inline void nz_buf_end(struct wp_buf *b)
{
    if (b->data)
        b->data[b->len] = '\0';
}

/*
 * nz_next() - decode the character at @s[*@i] (@n bytes, valid UTF-8) and move past it.
 * ICU's U8_NEXT_UNSAFE while four bytes are left (a whole sequence is there, so it reads
 * nothing past @n), its checked U8_NEXT_OR_FFFD near the end (U+FFFD for an ill-formed
 * sequence, which valid text never has).
 */
static inline __attribute__((always_inline)) uint32_t nz_next(const unsigned char *s, size_t n,
                                                              size_t *i)
{
    UChar32 c;
    size_t k = *i;
    if (n - k >= 4)
        U8_NEXT_UNSAFE(s, k, c);
    else
        U8_NEXT_OR_FFFD(s, k, n, c);
    *i = k;
    return (uint32_t)c;
}

/* ---- tables.c: per-code-point tables, built once ------------------------------------ */

/* Display-pass classes (low 5 bits) and flags. */
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
    KEY_MAP1, /* nz_keymap holds the one replacement (BMP) */
    KEY_ICU,  /* expands: computed at run time */
    KEY_NFC = 0x80,
};

extern uint8_t nz_clean_class[0x10000]; /* CL_* of each BMP code point */
extern uint8_t nz_key_class[0x10000];   /* KEY_* of each BMP code point */
extern uint16_t nz_keymap[0x10000];     /* the replacement of a KEY_MAP1 code point */
extern unsigned char nz_key_ascii[256]; /* printable ASCII -> key byte, else 0 */
extern const UNormalizer2 *nz_nfc;

/* nz_tables_ready() - build the tables on first use; false when ICU's data is missing. */
bool nz_tables_ready(void);

/* nz_nfc_sensitive() - can @c take part in composition or reordering? */
bool nz_nfc_sensitive(UChar32 c);

/*
 * nz_key_map_cp() - the key form of one code point: NFKD_Casefold, nonspacing marks
 * dropped, overrides applied, recomposed (NFC). Writes up to @cap UTF-16 units to @out;
 * returns the length, or -1 on an ICU error.
 */
int32_t nz_key_map_cp(UChar32 c, UChar *out, int32_t cap);

/* ---- letters.c: languages and scripts ------------------------------------------------ */

/* nz_lang_of() - the rules the item's language tag @tag (may be NULL) asks for. */
enum nz_lang nz_lang_of(const char *tag);

bool nz_is_emoji_part(UChar32 c);
/* Scripts whose words carry ZWNJ/ZWJ as spelling: Arabic and Indic. */
bool nz_is_joining_script(uint32_t c);
/* Scripts written without spaces, where ZWSP marks word breaks. */
bool nz_is_zwsp_script(uint32_t c);

/* ---- display.c: the display pass ----------------------------------------------------- */

/* State of the display pass, shared with the per-language rules of letters.c. */
struct nz_clean {
    struct nz_run *r;
    struct wp_buf *out;
    uint32_t pend_space; /* 0, ' ' or the no-break space kept */
    unsigned pend_nl;
    bool line_empty;
    uint32_t last; /* last character written */
    bool need_nfc;
};

/*
 * nz_clean_flush() - write what whitespace is pending before the next visible character;
 * the caller reserved 8 bytes.
 */
static inline void nz_clean_flush(struct nz_clean *k)
{
    if (k->pend_nl) {
        if (k->out->len) {
            k->out->data[k->out->len++] = '\n';
            if (k->pend_nl >= 2)
                k->out->data[k->out->len++] = '\n';
        }
        k->pend_nl = 0;
        k->pend_space = 0;
    } else if (k->pend_space) {
        nz_put(k->out, k->pend_space);
        k->pend_space = 0;
    }
    k->line_empty = false;
}

/* nz_clean_emit() - write @c (display class @cls) after any pending whitespace. */
static inline bool nz_clean_emit(struct nz_clean *k, uint32_t c, uint8_t cls)
{
    if (!nz_reserve(k->r, k->out, 8))
        return false;
    nz_clean_flush(k);
    nz_put(k->out, c);
    k->last = c;
    if (cls & CL_NFC)
        k->need_nfc = true;
    return true;
}

/* The Arabic-script rules for @c (class CL_ARABIC), @next the character after it. */
bool nz_clean_arabic(struct nz_clean *k, const struct nz_stage *st, enum nz_lang lang, uint32_t c,
                     uint32_t next, uint8_t cls);
/* The Romanian comma-below rules for @c (class CL_ROMANIAN). */
bool nz_clean_romanian(struct nz_clean *k, enum nz_lang lang, uint32_t c, uint8_t cls);

/*
 * nz_clean_text() - the display pass over @s into @out. Sets *@need_nfc when the result
 * holds a character NFC may change, and *@suspect when a mojibake pattern was seen (only
 * looked for when the stage repairs mojibake). Returns false on out-of-memory.
 */
bool nz_clean_text(struct nz_run *r, const struct nz_stage *st, enum nz_lang lang, const char *s,
                   size_t n, struct wp_buf *out, bool *need_nfc, bool *suspect);

/* ---- entities.c ----------------------------------------------------------------------- */

/* nz_decode_entities() - true when something was decoded (the result in @out). */
bool nz_decode_entities(struct nz_run *r, const char *s, size_t n, struct wp_buf *out);

/* ---- nfc.c ---------------------------------------------------------------------------- */

/* nz_nfc_utf8() - NFC of @b in place. Returns 1 when it changed, 0 when not, -1 on failure. */
int nz_nfc_utf8(struct nz_run *r, struct wp_buf *b);

/* ---- matchkey.c ----------------------------------------------------------------------- */

/* nz_set_match_key() - set item.match_key from headline and body. False on out-of-memory. */
bool nz_set_match_key(struct nz_run *r, json_t *item, enum nz_lang lang);

/* ---- mojibake_rules.c: does text look like mojibake? ---------------------------------- */

/* Character classes of the badness rules. */
enum {
    MB_C1 = 1 << 0,
    MB_BAD = 1 << 1,
    MB_LAW = 1 << 2,
    MB_CUR = 1 << 3,
    MB_START = 1 << 4,
    MB_END = 1 << 5,
    MB_NUM = 1 << 6,
    MB_KAO = 1 << 7,
    MB_UPA = 1 << 8,
    MB_LOWA = 1 << 9,
    MB_UPC = 1 << 10,
    MB_LOWC = 1 << 11,
    MB_BOX = 1 << 12,
    MB_COMMON = 1 << 13,
    MB_GATE = 1 << 14, /* letters that start a Cyrillic-mojibake pattern on their own */
};

/* Classes that make a line worth the full rule scan (letters of ordinary text are not). */
#define MB_GATE_MASK  ((uint16_t) ~(MB_UPC | MB_LOWC | MB_COMMON))
#define MB_TABLE_SIZE 0x2600

extern uint16_t nz_mb_class_table[MB_TABLE_SIZE];

static inline unsigned mb_class(uint32_t c)
{
    if (c < MB_TABLE_SIZE)
        return nz_mb_class_table[c];
    if (c == 0xF8FF)
        return MB_START; /* the Apple logo in MacRoman */
    if (c == 0xFFFD)
        return MB_BAD;
    return 0;
}

static inline bool mb_ascii_lower(uint32_t c)
{
    return c >= 'a' && c <= 'z';
}

/* nz_mb_init_classes() - fill nz_mb_class_table (once, from nz_tables_ready()). */
void nz_mb_init_classes(void);

/*
 * nz_mb_badness() - count the unlikely-neighbour patterns in @c[0..@n). With @first_only,
 * stop at the first (returns 0 or 1).
 */
unsigned nz_mb_badness(const uint32_t *c, size_t n, bool first_only);

/* nz_mb_is_bad_utf8() - nz_mb_badness(..., true) straight on valid UTF-8. */
bool nz_mb_is_bad_utf8(const unsigned char *u, size_t n);

/*
 * nz_mb_bad_near() - is there a mojibake pattern starting at the character at byte @at,
 * or at one of the two characters before it? For the display pass, which visits every
 * character and calls this at those whose class is in MB_GATE_MASK.
 */
bool nz_mb_bad_near(const unsigned char *u, size_t n, size_t at);

/* ---- mojibake.c: the repair ------------------------------------------------------------ */

/* nz_mb_init_codecs() - the single-byte codec tables, from ICU. False when one is missing. */
bool nz_mb_init_codecs(void);

/* nz_mb_cp1252() - the character windows-1252 gives byte @b (0x80-0xFF). */
uint32_t nz_mb_cp1252(unsigned char b);

/*
 * nz_fix_mojibake() - repair each line of @s that looks like mojibake. Returns true when
 * something was repaired (the text in @out); counts the repairs in @r.
 */
bool nz_fix_mojibake(struct nz_run *r, const char *s, size_t n, struct wp_buf *out);

#pragma GCC visibility pop

#endif /* NORMALIZE_PRIVATE_H */
