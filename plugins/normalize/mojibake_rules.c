/*
 * mojibake_rules.c - does a line look like UTF-8 text that was decoded with a single-byte
 * codec? The "unlikely neighbour" rules of ftfy (rspeer/python-ftfy, Apache-2.0), written
 * for wirepipe from its description and tuned on ftfy's public test cases: character
 * classes, the rules over a window of four characters, and two scans that find a rule
 * quickly in clean text. The repair that follows a hit is mojibake.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uchar.h>

#include <unicode/uchar.h>

#include "normalize.h"

uint16_t nz_mb_class_table[MB_TABLE_SIZE];

static void mb_set(const uint16_t *list, size_t n, unsigned bits)
{
    for (size_t i = 0; i < n; i++)
        nz_mb_class_table[list[i]] |= (uint16_t)bits;
}

static void mb_set_range(uint32_t lo, uint32_t hi, unsigned bits)
{
    for (uint32_t c = lo; c <= hi; c++)
        nz_mb_class_table[c] |= (uint16_t)bits;
}

#define MB_SET(list, bits) mb_set((list), sizeof(list) / sizeof((list)[0]), (bits))

void nz_mb_init_classes(void)
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

    memset(nz_mb_class_table, 0, sizeof(nz_mb_class_table));
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
    nz_mb_class_table[0x402] |= MB_GATE; /* Ђ: "вЂ" is windows-1251 mojibake of U+20xx */
    nz_mb_class_table[0x3B2] |= MB_GATE; /* β: "β€" is windows-1253 mojibake of U+20xx */
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

unsigned nz_mb_badness(const uint32_t *c, size_t n, bool first_only)
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
    if (n - i >= 16) {
        /* Four whole characters are there: no bound to test on the way. */
        for (; k < 4; k++) {
            UChar32 c;
            U8_NEXT_UNSAFE(u, i, c);
            w[k] = (uint32_t)c;
        }
        return 4;
    }
    for (; k < 4 && i < n; k++)
        w[k] = nz_next(u, n, &i);
    for (size_t j = k; j < 4; j++)
        w[j] = 0;
    return k;
}

/*
 * nz_mb_is_bad_utf8(), for the common case of clean text: every pattern has, among its
 * first three characters, one whose class is in MB_GATE_MASK, so only the starts up to two
 * characters before such a character are tried; text without one (ASCII, Arabic script,
 * CJK, most Cyrillic) costs one table lookup per character.
 */
bool nz_mb_is_bad_utf8(const unsigned char *u, size_t n)
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
            U8_FWD_1(u, i, n);
            kp2 = kp1;
            kp1 = 0;
        } else {
            uint32_t w[4];
            uint32_t c = nz_next(u, n, &i);
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
    while (k > 0 && U8_IS_TRAIL(u[k]))
        k--;
    return k;
}

/*
 * Together, the display pass's calls find what nz_mb_is_bad_utf8() finds (lines are the
 * unit, as in the repair).
 */
bool nz_mb_bad_near(const unsigned char *u, size_t n, size_t at)
{
    uint32_t w[4];
    size_t p1 = mb_prev_start(u, at);
    size_t p2 = p1 == SIZE_MAX ? SIZE_MAX : mb_prev_start(u, p1);
    mb_window(u, n, at, w);
    unsigned kc = mb_class(w[0]);
    if (!(kc & MB_C1) && w[0] != 0xC2 && w[0] != 0xC3 && w[0] != 0x152 && w[0] != 0x153) {
        /* As in nz_mb_is_bad_utf8(): a lone classed character needs no rule. */
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
