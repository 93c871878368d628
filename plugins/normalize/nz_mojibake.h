/*
 * nz_mojibake.h - repair of UTF-8 text that was decoded with a single-byte codec.
 *
 * Included once, by normalize.c only, so the plugin stays one translation unit in which
 * everything but the entry symbol is static.
 *
 * The method follows ftfy (rspeer/python-ftfy, Apache-2.0): a line is touched only when
 * it contains an "unlikely neighbour" pattern typical of mojibake; then it is re-encoded
 * with each candidate codec and decoded as UTF-8, and the first valid decoding wins (one
 * that is valid only after undoing known damage must also score no worse); failing that,
 * only the substrings that look like UTF-8 read as windows-1252 are repaired (and undone
 * if the line still looks garbled); C1 controls left over become windows-1252 characters.
 * The classes and rules below were written for wirepipe from that description and tuned
 * on ftfy's public test cases.
 */
#ifndef NZ_MOJIBAKE_H
#define NZ_MOJIBAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/ucnv.h>

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

static uint16_t g_mb_class[MB_TABLE_SIZE];

static inline unsigned mb_class(uint32_t c)
{
    if (c < MB_TABLE_SIZE)
        return g_mb_class[c];
    if (c == 0xF8FF)
        return MB_START; /* the Apple logo in MacRoman */
    if (c == 0xFFFD)
        return MB_BAD;
    return 0;
}

static void mb_set(const uint16_t *list, size_t n, unsigned bits)
{
    for (size_t i = 0; i < n; i++)
        g_mb_class[list[i]] |= (uint16_t)bits;
}

static void mb_set_range(uint32_t lo, uint32_t hi, unsigned bits)
{
    for (uint32_t c = lo; c <= hi; c++)
        g_mb_class[c] |= (uint16_t)bits;
}

#define MB_SET(list, bits) mb_set((list), sizeof(list) / sizeof((list)[0]), (bits))

static void mb_init_classes(void)
{
    /* Symbols that almost only occur as pieces of mojibake. */
    static const uint16_t bad[] = {0xA6,   0xA4,   0xA8,   0xAC,  0xAF,  0xB8,   0x192,
                                   0x2C6,  0x2C7,  0x2D8,  0x2DB, 0x2DC, 0x2020, 0x2021,
                                   0x2030, 0x2310, 0x25CA, 0xAA,  0xBA};
    static const uint16_t law[] = {0xB6, 0xA7};
    static const uint16_t cur[] = {0xA2, 0xA3, 0xA5, 0x20A7, 0x20AC};
    static const uint16_t start[] = {0xA1,   0xAB,   0xBF,   0xA9,   0x384,  0x385,
                                     0x2018, 0x201A, 0x201C, 0x201E, 0x2022, 0x2039};
    static const uint16_t end[] = {0xAE, 0xBB, 0x2DD, 0x201D, 0x203A, 0x2122};
    static const uint16_t num[] = {0xB2,   0xB3,   0xB9,   0xB1,   0xBC,   0xBD,   0xBE,
                                   0xD7,   0xB5,   0xF7,   0x2044, 0x2202, 0x2206, 0x220F,
                                   0x2211, 0x221A, 0x221E, 0x2229, 0x222B, 0x2248, 0x2260,
                                   0x2261, 0x2264, 0x2265, 0x2116};
    static const uint16_t kao[] = {0x150, 0x14C, 0x16A, 0x172, 0xB0};
    static const uint16_t upa[] = {0xD8,  0xDC,  0xDD,  0x102, 0x100, 0x104, 0x106, 0x10C,
                                   0x10E, 0x110, 0x118, 0x11A, 0x112, 0x116, 0x11E, 0x122,
                                   0x130, 0x12A, 0x136, 0x139, 0x13D, 0x141, 0x13B, 0x143,
                                   0x147, 0x145, 0x152, 0x158, 0x15A, 0x15E, 0x160, 0x162,
                                   0x164, 0x16E, 0x170, 0x178, 0x179, 0x17B, 0x17D, 0x490};
    static const uint16_t lowa[] = {0xDF,  0x103, 0x105, 0x101, 0x107, 0x10D, 0x10F, 0x111,
                                    0x119, 0x11B, 0x113, 0x117, 0x11F, 0x123, 0x12F, 0x12B,
                                    0x137, 0x13A, 0x13E, 0x142, 0x13C, 0x153, 0x155, 0x15B,
                                    0x15F, 0x161, 0x165, 0xFC,  0x17A, 0x17C, 0x17E, 0x491};
    static const uint16_t upc[] = {0xDE,  0x386, 0x388, 0x389, 0x38A,
                                   0x38C, 0x38E, 0x38F, 0x3AA, 0x3AB};
    static const uint16_t lowc[] = {0x3AC, 0x3AD, 0x3AE, 0x3AF, 0x3B0};
    static const uint16_t box[] = {0x2502, 0x250C, 0x2510, 0x2518, 0x251C, 0x2524, 0x252C, 0x253C,
                                   0x2580, 0x2584, 0x2588, 0x258C, 0x2590, 0x2591, 0x2592, 0x2593};
    static const uint16_t common[] = {0xA0,   0xAD,   0xB7,   0xB4,  0x2013,
                                      0x2014, 0x2015, 0x2026, 0x2019};

    memset(g_mb_class, 0, sizeof(g_mb_class));
    mb_set_range(0x80, 0x9F, MB_C1);
    MB_SET(bad, MB_BAD);
    MB_SET(law, MB_LAW);
    MB_SET(cur, MB_CUR);
    MB_SET(start, MB_START);
    MB_SET(end, MB_END);
    MB_SET(num, MB_NUM);
    /* Letters that also make faces (kaomoji), so they may sit next to symbols. */
    mb_set_range(0xD2, 0xD6, MB_KAO);
    mb_set_range(0xD9, 0xDC, MB_KAO);
    mb_set_range(0xF2, 0xF6, MB_KAO);
    mb_set_range(0xF8, 0xFC, MB_KAO);
    MB_SET(kao, MB_KAO);
    mb_set_range(0xC0, 0xD1, MB_UPA);
    MB_SET(upa, MB_UPA);
    mb_set_range(0xE0, 0xF1, MB_LOWA);
    MB_SET(lowa, MB_LOWA);
    mb_set_range(0x391, 0x3A9, MB_UPC);
    mb_set_range(0x401, 0x42F, MB_UPC);
    MB_SET(upc, MB_UPC);
    mb_set_range(0x3B1, 0x3C9, MB_LOWC);
    mb_set_range(0x430, 0x45F, MB_LOWC);
    MB_SET(lowc, MB_LOWC);
    mb_set_range(0x2550, 0x256C, MB_BOX);
    MB_SET(box, MB_BOX);
    MB_SET(common, MB_COMMON);
    g_mb_class[0x402] |= MB_GATE; /* Ђ: "вЂ" is windows-1251 mojibake of U+20xx */
    g_mb_class[0x3B2] |= MB_GATE; /* β: "β€" is windows-1253 mojibake of U+20xx */
}

static inline bool mb_is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 ||
           (c > 0x7F && u_isUWhiteSpace((UChar32)c));
}

static inline bool mb_is_word(uint32_t c)
{
    return c == '_' ||
           (c < 0x80 ? ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9')
                     : (u_isalnum((UChar32)c) != 0));
}

static inline bool mb_ascii_lower(uint32_t c)
{
    return c >= 'a' && c <= 'z';
}

static inline bool mb_ascii_alpha(uint32_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool mb_in(uint32_t c, const char16_t *set)
{
    for (; *set; set++) {
        if (c == *set)
            return true;
    }
    return false;
}

/*
 * mb_rule_at() - does an unlikely-neighbour pattern start at @a, followed by @b, @d, @e
 * (0 past the end)? @first: @a starts the text.
 */
static inline bool mb_rule_at(uint32_t a, uint32_t b, uint32_t d, uint32_t e, bool first)
{
    const unsigned acc_sym =
        MB_BAD | MB_LOWA | MB_UPA | MB_BOX | MB_START | MB_END | MB_CUR | MB_NUM | MB_LAW;
    const unsigned arabic_mid = MB_COMMON | MB_CUR | MB_BAD | MB_NUM | MB_START;
    unsigned ka = mb_class(a), kb = mb_class(b);
    /* Every pattern has a classed character in its first two places, except
     * "[a-z] Ã " with a space, which has one in the third. */
    if (!ka && !kb && d != 0xC3 && d != 0xC2)
        return false;
    unsigned kd = mb_class(d);
    bool hit = false;

    if (ka & MB_C1)
        hit = true;
    else if ((ka & acc_sym) && (kb & MB_BAD))
        hit = true;
    else if (mb_ascii_alpha(a) && (kb & (MB_LOWC | MB_UPC)) && (kd & MB_BAD))
        hit = true;
    else if ((ka & MB_BAD) && (kb & (acc_sym & ~MB_BAD)))
        hit = true;
    else if ((ka & (MB_LOWA | MB_LOWC | MB_BOX | MB_END | MB_CUR | MB_NUM)) && (kb & MB_UPA))
        hit = true;
    else if ((ka & (MB_BOX | MB_END | MB_CUR | MB_NUM)) && (kb & MB_LOWA))
        hit = true;
    else if ((ka & (MB_LOWA | MB_BOX | MB_END)) && (kb & MB_CUR))
        hit = true;
    else if ((kb & MB_UPA) && (kd & MB_CUR) && mb_is_space(a))
        hit = true;
    else if ((ka & (MB_UPA | MB_BOX)) && (kb & (MB_NUM | MB_LAW)))
        hit = true;
    else if ((ka & (MB_LOWA | MB_UPA | MB_BOX | MB_CUR | MB_END)) && (kb & MB_START) &&
             (kd & MB_NUM))
        hit = true;
    else if ((ka & (MB_LOWA | MB_UPA | MB_CUR | MB_NUM | MB_BOX | MB_LAW)) && (kb & MB_END) &&
             (kd & MB_START))
        hit = true;
    else if ((ka & (MB_CUR | MB_NUM | MB_BOX)) && (kb & MB_START))
        hit = true;
    else if (mb_ascii_lower(a) && (kb & MB_UPA) && (kd & (MB_START | MB_CUR)))
        hit = true;
    else if ((ka & MB_BOX) && (kb & MB_KAO))
        hit = true;
    else if ((ka & (MB_LOWA | MB_UPA | MB_CUR | MB_NUM | MB_START | MB_END | MB_LAW)) &&
             (kb & MB_BOX))
        hit = true;
    else if ((ka & MB_BOX) && (kb & MB_END))
        hit = true;
    else if ((ka & (MB_LOWA | MB_UPA)) && (kb & (MB_START | MB_END)) && d && mb_is_word(d))
        hit = true;
    else if ((a == 0x152 || a == 0x153) && b && !mb_ascii_alpha(b))
        hit = true;
    else if ((ka & MB_UPA) && b == 0xB0)
        hit = true;
    else if ((a == 0xC2 || a == 0xC3 || a == 0xCE || a == 0xD0) &&
             ((kb & (MB_START | MB_END)) ||
              mb_in(b, u"\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae"
                       u"\u00a9\u00b0\u00b7\u00bb\u2013\u2014\u00b4")))
        hit = true;
    else if (a == 0xD7 && (b == 0xB2 || b == 0xB3))
        hit = true;
    else if ((a == 0xD8 || a == 0xD9) && e &&
             ((kb & arabic_mid) || mb_in(b, u"\u0178\u0160\u00ae\u00b0\u00b5\u00bb")) &&
             (d == 0xD8 || d == 0xD9) &&
             ((mb_class(e) & arabic_mid) || mb_in(e, u"\u0178\u0160\u00ae\u00b0\u00b5\u00bb")))
        hit = true;
    else if (a == 0xE0 && mb_in(b, u"\u00b2\u00b5\u00b9\u00bc\u00bd\u00be"))
        hit = true;
    else if (a == 0x221A &&
             mb_in(b, u"\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5"
                      u"\u00f8"))
        hit = true;
    else if (a == 0x2248 && (b == 0xB0 || b == 0xA2))
        hit = true;
    else if (a == 0x201A && b == 0xC4 &&
             mb_in(d, u"\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2"
                      u"\u03c0"))
        hit = true;
    else if (a == 0x201A && (b == 0xE2 || b == 0xF3) &&
             (d == 0xE0 || d == 0xE4 || d == 0xB0 || d == 0xEA))
        hit = true;
    else if (a == 0x432 && b == 0x402)
        hit = true;
    else if ((a == 0x412 || a == 0x413 || a == 0x420 || a == 0x421) &&
             ((kb & (MB_C1 | MB_BAD | MB_START | MB_END | MB_CUR)) || b == 0xB0 || b == 0xB5) &&
             (d == 0x412 || d == 0x413 || d == 0x420 || d == 0x421))
        hit = true;
    else if (a == 0xC3 && (b == 0xA0 || b == 0xA1))
        hit = true;
    else if (mb_ascii_lower(a) && (((b == 0xC3 || b == 0xC2) && d == ' ') ||
                                   ((d == 0xC3 || d == 0xC2) && e == ' ' && mb_is_space(b))))
        hit = true;
    else if (first && (a == 0xC3 || a == 0xC2) && b == ' ')
        hit = true;
    else if ((mb_in(a, u".,?!") || mb_ascii_lower(a) || (ka & MB_END)) && b == 0xC2 &&
             (d == ' ' || (kd & (MB_COMMON | MB_END))))
        hit = true;
    else if (a == 0x3B2 && b == 0x20AC && mb_in(d, u"\u2122\u00a0\u0386\u00ad\u00ae\u00b0"))
        hit = true;
    else if ((a == 0x392 || a == 0x393 || a == 0x39E || a == 0x39F) &&
             ((kb & (MB_C1 | MB_BAD | MB_START | MB_END | MB_CUR)) || b == 0xB0) &&
             (d == 0x392 || d == 0x393 || d == 0x39E || d == 0x39F))
        hit = true;
    else if (a == 0x101 && b == 0x20AC)
        hit = true;

    return hit;
}

/*
 * mb_badness() - count the unlikely-neighbour patterns in @c[0..@n). With @first_only,
 * stop at the first (returns 0 or 1).
 */
static unsigned mb_badness(const uint32_t *c, size_t n, bool first_only)
{
    unsigned count = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b = i + 1 < n ? c[i + 1] : 0;
        uint32_t d = i + 2 < n ? c[i + 2] : 0;
        uint32_t e = i + 3 < n ? c[i + 3] : 0;
        if (mb_rule_at(c[i], b, d, e, i == 0)) {
            count++;
            if (first_only)
                return count;
        }
    }
    return count;
}

/* Decode up to 4 code points of valid UTF-8 from @u[@i..@n) into @w; returns how many. */
static size_t mb_window(const unsigned char *u, size_t n, size_t i, uint32_t w[4])
{
    size_t k = 0;
    while (k < 4 && i < n) {
        unsigned char x = u[i];
        if (x < 0x80) {
            w[k] = x;
            i++;
        } else if (x < 0xE0 && i + 1 < n) {
            w[k] = ((uint32_t)(x & 0x1F) << 6) | (u[i + 1] & 0x3F);
            i += 2;
        } else if (x < 0xF0 && i + 2 < n) {
            w[k] = ((uint32_t)(x & 0x0F) << 12) | ((uint32_t)(u[i + 1] & 0x3F) << 6) |
                   (u[i + 2] & 0x3F);
            i += 3;
        } else if (i + 3 < n) {
            w[k] = ((uint32_t)(x & 0x07) << 18) | ((uint32_t)(u[i + 1] & 0x3F) << 12) |
                   ((uint32_t)(u[i + 2] & 0x3F) << 6) | (u[i + 3] & 0x3F);
            i += 4;
        } else {
            w[k] = 0xFFFD;
            i++;
        }
        k++;
    }
    for (size_t j = k; j < 4; j++)
        w[j] = 0;
    return k;
}

/*
 * mb_is_bad_utf8() - mb_badness(..., true) straight on valid UTF-8, for the common case
 * of clean text. Every pattern has, among its first three characters, one whose class is
 * in MB_GATE_MASK, so only the starts up to two characters before such a character are
 * tried; text without one (ASCII, Arabic script, CJK, most Cyrillic) costs one table
 * lookup per character.
 */
static bool mb_is_bad_utf8(const unsigned char *u, size_t n)
{
    size_t prev1 = SIZE_MAX, prev2 = SIZE_MAX; /* byte offsets of the two previous chars */
    size_t unchecked = 0;                      /* starts below this offset were tried */
    unsigned kp1 = 0, kp2 = 0;                 /* classes of the two previous chars */
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        unsigned char x = u[i];
        if (x < 0x80 || (x >= 0xD3 && x <= 0xE1) || (x >= 0xE3 && x <= 0xEE) || x >= 0xF0) {
            /* ASCII, and lead bytes of blocks without classed characters (Armenian to
             * NKo, U+3000 and up but U+F8FF/U+FFFD, supplementary planes): skip. */
            i += x < 0x80 ? 1 : x < 0xE0 ? 2 : x < 0xF0 ? 3 : 4;
            if (i > n)
                i = n;
            kp2 = kp1;
            kp1 = 0;
        } else {
            uint32_t w[4];
            uint32_t c;
            if (x < 0xE0 && i + 1 < n) {
                c = ((uint32_t)(x & 0x1F) << 6) | (u[i + 1] & 0x3F);
                i += 2;
            } else if (x < 0xF0 && i + 2 < n) {
                c = ((uint32_t)(x & 0x0F) << 12) | ((uint32_t)(u[i + 1] & 0x3F) << 6) |
                    (u[i + 2] & 0x3F);
                i += 3;
            } else {
                c = 0x10000; /* supplementary: no class */
                i += (x >= 0xF0 && i + 3 < n) ? 4 : 1;
            }
            unsigned kc = mb_class(c);
            if ((kc & MB_GATE_MASK) && !(kc & MB_C1) && c != 0xC2 && c != 0xC3 && c != 0x152 &&
                c != 0x153) {
                /* Apart from C1, "Ã "/"Â " and "Œ"+non-letter, every pattern pairs two
                 * classed characters at most two apart: a lone accented letter between
                 * plain ones (most Latin text) needs no rule. */
                uint32_t w2[4];
                mb_window(u, n, i, w2);
                if (!(kp1 | kp2 | mb_class(w2[0]) | mb_class(w2[1])))
                    kc = 0;
            }
            kp2 = kp1;
            kp1 = mb_class(c);
            if (kc & MB_GATE_MASK) {
                const size_t starts[3] = {prev2, prev1, at};
                for (int k = 0; k < 3; k++) {
                    if (starts[k] == SIZE_MAX || starts[k] < unchecked)
                        continue;
                    mb_window(u, n, starts[k], w);
                    if (mb_rule_at(w[0], w[1], w[2], w[3], starts[k] == 0))
                        return true;
                }
                unchecked = i;
            }
        }
        prev2 = prev1;
        prev1 = at;
    }
    return false;
}

/* Start of the character before the one starting at @i (valid UTF-8), or SIZE_MAX at the
 * start of the text or of the line. */
static inline size_t mb_prev_start(const unsigned char *u, size_t i)
{
    if (i == 0 || u[i - 1] == '\n')
        return SIZE_MAX;
    size_t k = i - 1;
    while (k > 0 && (u[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/*
 * mb_bad_near() - is there a mojibake pattern starting at the character at byte @at, or
 * at one of the two characters before it? For callers that already visit every
 * character and see one whose class is in MB_GATE_MASK: together those calls find what
 * mb_is_bad_utf8() finds (lines are the unit, as in the repair).
 */
static bool mb_bad_near(const unsigned char *u, size_t n, size_t at)
{
    uint32_t w[4];
    size_t p1 = mb_prev_start(u, at);
    size_t p2 = p1 == SIZE_MAX ? SIZE_MAX : mb_prev_start(u, p1);
    mb_window(u, n, at, w);
    unsigned kc = mb_class(w[0]);
    if (!(kc & MB_C1) && w[0] != 0xC2 && w[0] != 0xC3 && w[0] != 0x152 && w[0] != 0x153) {
        /* As in mb_is_bad_utf8(): a lone classed character needs no rule. */
        uint32_t q[4];
        unsigned near = mb_class(w[1]) | mb_class(w[2]);
        if (p1 != SIZE_MAX) {
            mb_window(u, n, p1, q);
            near |= mb_class(q[0]);
        }
        if (p2 != SIZE_MAX) {
            mb_window(u, n, p2, q);
            near |= mb_class(q[0]);
        }
        if (!near)
            return false;
    }
    const size_t starts[3] = {p2, p1, at};
    for (int k = 0; k < 3; k++) {
        if (starts[k] == SIZE_MAX)
            continue;
        mb_window(u, n, starts[k], w);
        if (mb_rule_at(w[0], w[1], w[2], w[3], starts[k] == 0 || u[starts[k] - 1] == '\n'))
            return true;
    }
    return false;
}

/* ---- single-byte codecs, tables taken from ICU ---- */

struct mb_pair {
    uint32_t cp;
    uint8_t byte;
};

struct mb_codec {
    const char *icu_name;
    bool sloppy;             /* windows-125x: U+FFFD (a byte lost earlier) encodes as 0x1A */
    bool no_a0;              /* MacRoman, cp437: never try to restore lost 0xA0 bytes */
    uint32_t dec[256];       /* byte -> code point ("sloppy": undefined bytes -> U+00xx) */
    struct mb_pair enc[128]; /* code point -> byte for bytes 0x80..0xFF, sorted by cp */
    size_t n_enc;
};

enum { MB_LATIN1, MB_CP1252, MB_NCODECS = 10 };

static struct mb_codec g_codecs[MB_NCODECS] = {
    {.icu_name = "ISO-8859-1"},
    {.icu_name = "windows-1252", .sloppy = true},
    {.icu_name = "windows-1251", .sloppy = true},
    {.icu_name = "windows-1250", .sloppy = true},
    {.icu_name = "windows-1253", .sloppy = true},
    {.icu_name = "windows-1254", .sloppy = true},
    {.icu_name = "windows-1257", .sloppy = true},
    {.icu_name = "ISO-8859-2"},
    {.icu_name = "macintosh", .no_a0 = true},
    {.icu_name = "ibm-437", .no_a0 = true},
};

static int mb_pair_cmp(const void *a, const void *b)
{
    const struct mb_pair *x = a, *y = b;
    return x->cp < y->cp ? -1 : x->cp > y->cp ? 1 : (int)x->byte - (int)y->byte;
}

/* Returns false when ICU cannot open a converter. */
static bool mb_init_codecs(void)
{
    for (size_t k = 0; k < MB_NCODECS; k++) {
        struct mb_codec *cc = &g_codecs[k];
        UErrorCode err = U_ZERO_ERROR;
        UConverter *conv = ucnv_open(cc->icu_name, &err);
        if (U_FAILURE(err))
            return false;
        ucnv_setToUCallBack(conv, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &err);
        for (unsigned b = 0; b < 256; b++) {
            cc->dec[b] = b;
            if (b < 0x80)
                continue;
            UChar out[4];
            char in = (char)b;
            err = U_ZERO_ERROR;
            ucnv_reset(conv);
            int32_t len = ucnv_toUChars(conv, out, 4, &in, 1, &err);
            if (U_SUCCESS(err) && len == 1 && out[0] != 0xFFFD && out[0] != 0x1A)
                cc->dec[b] = out[0];
        }
        ucnv_close(conv);
        cc->n_enc = 0;
        for (unsigned b = 0x80; b < 256; b++)
            cc->enc[cc->n_enc++] = (struct mb_pair){cc->dec[b], (uint8_t)b};
        qsort(cc->enc, cc->n_enc, sizeof(cc->enc[0]), mb_pair_cmp);
    }
    return true;
}

/* Byte for @cp in codec @cc, or -1 when the codec cannot encode it. */
static inline int mb_encode_cp(const struct mb_codec *cc, uint32_t cp)
{
    if (cp < 0x80)
        return (int)cp;
    if (cp == 0xFFFD)
        return cc->sloppy ? 0x1A : -1;
    size_t lo = 0, hi = cc->n_enc;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cc->enc[mid].cp == cp)
            return cc->enc[mid].byte;
        if (cc->enc[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/*
 * mb_utf8_decode() - strict UTF-8 (plus CESU-8 surrogate pairs, as emoji often arrive)
 * from @b[0..@n) into @out; returns the number of code points or (size_t)-1.
 */
static size_t mb_utf8_decode(const uint8_t *b, size_t n, uint32_t *out)
{
    size_t i = 0, k = 0;
    while (i < n) {
        uint8_t x = b[i];
        uint32_t cp;
        size_t len;
        if (x < 0x80) {
            out[k++] = x;
            i++;
            continue;
        } else if (x >= 0xC2 && x <= 0xDF) {
            len = 2;
            cp = x & 0x1F;
        } else if (x >= 0xE0 && x <= 0xEF) {
            len = 3;
            cp = x & 0x0F;
        } else if (x >= 0xF0 && x <= 0xF4) {
            len = 4;
            cp = x & 0x07;
        } else {
            return (size_t)-1;
        }
        if (i + len > n)
            return (size_t)-1;
        for (size_t j = 1; j < len; j++) {
            if ((b[i + j] & 0xC0) != 0x80)
                return (size_t)-1;
            cp = (cp << 6) | (b[i + j] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return (size_t)-1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* CESU-8: a high surrogate must be followed by an encoded low surrogate. */
            if (i + 6 > n || b[i + 3] != 0xED || (b[i + 4] & 0xF0) != 0xB0 ||
                (b[i + 5] & 0xC0) != 0x80)
                return (size_t)-1;
            uint32_t lo = 0xDC00 | ((uint32_t)(b[i + 4] & 0x0F) << 6) | (b[i + 5] & 0x3F);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            len = 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return (size_t)-1;
        }
        out[k++] = cp;
        i += len;
    }
    return k;
}

/*
 * mb_restore_a0() - a UTF-8 sequence whose 0xA0 byte became a space (NBSP folded by some
 * earlier step). Rewrites @b in place into @out (same or one byte longer per fix);
 * returns the new length, or 0 when nothing was restored.
 */
static size_t mb_restore_a0(const uint8_t *b, size_t n, uint8_t *out)
{
    size_t k = 0;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = b[i];
        if (x == 0xC3 && i + 1 < n && b[i + 1] == ' ') {
            /* "à" (C3 A0) lost its A0. Glued to the next word ("àquele", "às") or before a
             * second space, the space was the A0; otherwise the word "à" lost both. */
            const uint8_t *rest = b + i + 2;
            size_t rn = n - i - 2;
            bool glued =
                (rn >= 1 && rest[0] == ' ') || (rn >= 2 && rest[0] == 's' && rest[1] == ' ') ||
                (rn >= 4 && (memcmp(rest, "quel", 4) == 0 || memcmp(rest, "quil", 4) == 0));
            out[k++] = 0xC3;
            out[k++] = 0xA0;
            if (!glued)
                out[k++] = ' ';
            i++;
            changed = true;
            continue;
        }
        if ((x == 0xC2 || x == 0xC5 || x == 0xCE || x == 0xD0 || x == 0xD9) && i + 1 < n &&
            b[i + 1] == ' ') {
            out[k++] = x;
            out[k++] = 0xA0;
            i++;
            changed = true;
            continue;
        }
        if (x >= 0xE0 && x <= 0xE3 && i + 2 < n) {
            uint8_t y = b[i + 1], z = b[i + 2];
            bool y_ok = (y & 0xC0) == 0x80, z_ok = (z & 0xC0) == 0x80;
            if ((y == ' ' && z_ok) || (y_ok && z == ' ')) {
                out[k++] = x;
                out[k++] = y == ' ' ? 0xA0 : y;
                out[k++] = z == ' ' ? 0xA0 : z;
                i += 2;
                changed = true;
                continue;
            }
        }
        out[k++] = x;
    }
    return changed ? k : 0;
}

/*
 * mb_mark_lossy() - a byte lost in an earlier misreading shows as '?' or U+FFFD (0x1A
 * here) where a UTF-8 sequence needed a continuation byte. Such a sequence becomes
 * U+FFFD, as a decoder would have made it. Returns the new length, 0 when none found.
 */
static size_t mb_mark_lossy(const uint8_t *b, size_t n, uint8_t *out)
{
    size_t k = 0;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = b[i];
        size_t need = x >= 0xC2 && x <= 0xDF   ? 1
                      : x >= 0xE0 && x <= 0xEF ? 2
                      : x >= 0xF0 && x <= 0xF4 ? 3
                                               : 0;
        if (need) {
            bool lossy = false, shape = true;
            for (size_t j = 1; j <= need && shape; j++) {
                uint8_t y = i + j < n ? b[i + j] : 0;
                if (y == '?' || y == 0x1A)
                    lossy = true;
                else if ((y & 0xC0) != 0x80)
                    shape = false;
            }
            if (shape && lossy) {
                out[k++] = 0xEF;
                out[k++] = 0xBF;
                out[k++] = 0xBD;
                i += need;
                changed = true;
                continue;
            }
        }
        if (x == 0x1A) {
            out[k++] = 0xEF;
            out[k++] = 0xBF;
            out[k++] = 0xBD;
            changed = true;
            continue;
        }
        out[k++] = x;
    }
    return changed ? k : 0;
}

/* Work buffers for one repair; sized for the line at hand. */
struct mb_work {
    uint32_t *cps; /* current text of the line */
    size_t n;
    uint32_t *tmp;   /* decoded candidate, capacity >= cap */
    uint8_t *bytes;  /* encoded candidate, capacity >= 2 * cap */
    uint8_t *bytes2; /* capacity >= 2 * cap */
    uint8_t *bytes3; /* capacity >= 6 * cap */
    uint32_t *orig;  /* the line before repair, capacity >= cap */
    size_t cap;
};

/* Encode the whole line with @cc; false when some character has no byte. */
static bool mb_encode_all(const struct mb_codec *cc, const uint32_t *c, size_t n, uint8_t *out,
                          bool *high)
{
    *high = false;
    for (size_t i = 0; i < n; i++) {
        int b = mb_encode_cp(cc, c[i]);
        if (b < 0)
            return false;
        out[i] = (uint8_t)b;
        if (b >= 0x80)
            *high = true;
    }
    return true;
}

/* Decode @b as UTF-8, trying the two known kinds of damage when it is not valid. */
static size_t mb_decode_damaged(struct mb_work *w, const struct mb_codec *cc, const uint8_t *b,
                                size_t n, bool *damaged)
{
    size_t m = mb_utf8_decode(b, n, w->tmp);
    *damaged = false;
    if (m != (size_t)-1)
        return m;
    *damaged = true;
    /* Lost 0xA0 bytes: only for the codecs whose text ever carried NBSP this way. */
    size_t rn = cc->no_a0 ? 0 : mb_restore_a0(b, n, w->bytes2);
    if (rn) {
        m = mb_utf8_decode(w->bytes2, rn, w->tmp);
        if (m != (size_t)-1)
            return m;
    }
    if (!cc->sloppy)
        return (size_t)-1;
    size_t ln = rn ? mb_mark_lossy(w->bytes2, rn, w->bytes3) : mb_mark_lossy(b, n, w->bytes3);
    if (!ln)
        return (size_t)-1;
    return mb_utf8_decode(w->bytes3, ln, w->tmp);
}

static bool mb_try_whole(struct mb_work *w)
{
    unsigned before = mb_badness(w->cps, w->n, false);
    for (size_t k = 0; k < MB_NCODECS; k++) {
        bool high;
        if (!mb_encode_all(&g_codecs[k], w->cps, w->n, w->bytes, &high) || !high)
            continue;
        bool damaged;
        size_t m = mb_decode_damaged(w, &g_codecs[k], w->bytes, w->n, &damaged);
        if (m == (size_t)-1)
            continue;
        /* A whole line that is valid UTF-8 once re-encoded is strong evidence by itself
         * (text rarely is by chance); a reading that needed repairs must also score no
         * worse than the text it replaces. */
        if (damaged && mb_badness(w->tmp, m, false) > before)
            continue;
        memcpy(w->cps, w->tmp, m * sizeof(uint32_t));
        w->n = m;
        return true;
    }
    return false;
}

/* Byte a character had before it was misread as windows-1252 or latin-1, or -1. */
static inline int mb_byte_1252(uint32_t c)
{
    int b = mb_encode_cp(&g_codecs[MB_CP1252], c);
    if (b < 0 && c >= 0x80 && c <= 0xFF)
        b = (int)c;
    return b;
}

/* Length of a UTF-8-as-1252 sequence starting at @i (0 when none). */
static size_t mb_seq_at(const uint32_t *c, size_t n, size_t i)
{
    /* "Ã " after a lowercase word: the word "à" whose 0xA0 became a space. */
    if (c[i] == 0xC3 && i + 1 < n && c[i + 1] == ' ' && i > 0 &&
        (mb_ascii_lower(c[i - 1]) || (c[i - 1] == ' ' && i > 1 && mb_ascii_lower(c[i - 2]))))
        return 2;
    int lead = mb_byte_1252(c[i]);
    size_t need;
    if (lead >= 0xC2 && lead <= 0xDF)
        need = 1;
    else if (lead >= 0xE0 && lead <= 0xEF)
        need = 2;
    else if (lead >= 0xF0 && lead <= 0xF4)
        need = 3;
    else
        return 0;
    if (i + need >= n)
        return 0;
    for (size_t j = 1; j <= need; j++) {
        int cb = mb_byte_1252(c[i + j]);
        if (cb < 0x80 || cb > 0xBF)
            return 0;
    }
    return need + 1;
}

/* Repair only the runs that look like UTF-8 read as windows-1252 (mixed lines). */
static bool mb_try_runs(struct mb_work *w)
{
    size_t out = 0;
    bool changed = false;
    size_t i = 0;
    while (i < w->n) {
        size_t start = i, len;
        while (i < w->n && (len = mb_seq_at(w->cps, w->n, i)) > 0)
            i += len;
        if (i > start) {
            size_t rl = i - start;
            size_t m = (size_t)-1;
            if (rl < w->n && mb_badness(w->cps + start, rl, true)) {
                for (size_t j = 0; j < rl; j++)
                    w->bytes[j] = (uint8_t)mb_byte_1252(w->cps[start + j]);
                m = mb_utf8_decode(w->bytes, rl, w->tmp);
                if (m == (size_t)-1) {
                    size_t rn = mb_restore_a0(w->bytes, rl, w->bytes2);
                    if (rn)
                        m = mb_utf8_decode(w->bytes2, rn, w->tmp);
                }
            }
            if (m != (size_t)-1) {
                memcpy(w->cps + out, w->tmp, m * sizeof(uint32_t));
                out += m;
                changed = true;
            } else {
                memmove(w->cps + out, w->cps + start, rl * sizeof(uint32_t));
                out += rl;
            }
            continue;
        }
        w->cps[out++] = w->cps[i++];
    }
    w->n = out;
    return changed;
}

/* Leftover C1 controls: what windows-1252 means by those bytes. Returns how many. */
static unsigned mb_fix_c1(uint32_t *c, size_t n)
{
    unsigned fixed = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i] >= 0x80 && c[i] <= 0x9F) {
            uint32_t to = g_codecs[MB_CP1252].dec[c[i]];
            if (to != c[i]) {
                c[i] = to;
                fixed++;
            }
        }
    }
    return fixed;
}

/*
 * mb_repair() - repair the line in @w in place. Adds to *@repairs for every decoding
 * step taken and to *@c1 for C1 controls mapped.
 */
static void mb_repair(struct mb_work *w, unsigned *repairs, unsigned *c1)
{
    bool by_runs = false;
    unsigned steps = 0;
    size_t n0 = w->n;
    memcpy(w->orig, w->cps, n0 * sizeof(uint32_t));
    for (int round = 0; round < 4; round++) {
        if (!mb_badness(w->cps, w->n, true))
            break;
        if (mb_try_whole(w)) {
            steps++;
            continue;
        }
        if (mb_try_runs(w)) {
            by_runs = true;
            steps++;
            continue;
        }
        break;
    }
    unsigned fixed_c1 = mb_fix_c1(w->cps, w->n);
    /* Piecewise repairs that leave the line garbled were guesses: undo them. */
    if (by_runs && mb_badness(w->cps, w->n, true)) {
        memcpy(w->cps, w->orig, n0 * sizeof(uint32_t));
        w->n = n0;
        steps = 0;
        fixed_c1 = mb_fix_c1(w->cps, w->n);
    }
    *repairs += steps;
    *c1 += fixed_c1;
}

#endif /* NZ_MOJIBAKE_H */
