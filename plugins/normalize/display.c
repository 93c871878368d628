/*
 * display.c - the display pass: one loop over UTF-8 with a 64K-entry class table, ASCII
 * runs copied wholesale. Spaces are folded and collapsed, line breaks unified, invisible
 * and control characters dropped (ZWNJ, ZWJ and ZWSP kept where a script spells with
 * them), quotes straightened on request; the per-language letter rules are in letters.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "normalize.h"

static inline uint8_t class_of(uint32_t c)
{
    if (c < 0x10000)
        return nz_clean_class[c];
    return (uint8_t)(CL_PASS | (nz_nfc_sensitive((UChar32)c) ? CL_NFC : 0));
}

static inline void clean_newline(struct nz_clean *k, unsigned count)
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

static void clean_space(struct nz_clean *k, uint32_t c, bool nbsp_kept)
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

/* The character at @i, or 0 at the end. Inlined: the run loop peeks past every space. */
static inline __attribute__((always_inline)) uint32_t peek_cp(const unsigned char *u, size_t n,
                                                              size_t i)
{
    return i < n ? nz_next(u, n, &i) : 0;
}

bool nz_clean_text(struct nz_run *r, const struct nz_stage *st, enum nz_lang lang, const char *s,
                   size_t n, struct wp_buf *out, bool *need_nfc, bool *suspect)
{
    /* Mojibake is looked for on the way: at each character a pattern needs. */
    bool check_moji = st->mojibake, moji = false;
    const unsigned char *u = (const unsigned char *)s;
    struct nz_clean k = {.r = r, .out = out, .line_empty = true};
    unsigned *counts = r->counts;
    wp_buf_reset(out);
    if (!nz_reserve(r, out, n + 16))
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
                    if (nc < 0x10000 && (nz_clean_class[nc] & CL_MASK) == CL_PASS) {
                        j++;
                        continue;
                    }
                }
                break;
            }
            if (x >= 0x80) {
                size_t t = j;
                uint32_t c = nz_next(u, n, &t);
                uint8_t cl = class_of(c);
                if ((cl & CL_MOJI) && check_moji && !moji)
                    moji = nz_mb_bad_near(u, n, j);
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
            if (!nz_reserve(r, out, (j - i) + 8))
                return false;
            nz_clean_flush(&k);
            memcpy(out->data + out->len, s + i, j - i);
            out->len += j - i;
            size_t t = last_at;
            k.last = nz_next(u, n, &t);
            i = j;
            continue;
        }
        size_t start = i;
        uint32_t c = nz_next(u, n, &i);
        uint8_t cls = class_of(c);
        bool ok = true;
        if ((cls & CL_MOJI) && check_moji && !moji)
            moji = nz_mb_bad_near(u, n, start);
        switch (cls & CL_MASK) {
            case CL_PASS:
                if (!nz_reserve(r, out, (i - start) + 8))
                    return false;
                nz_clean_flush(&k);
                memcpy(out->data + out->len, s + start, i - start);
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
                if (c == 0x200B && !k.line_empty && !k.pend_space && nz_is_zwsp_script(k.last))
                    ok = nz_clean_emit(&k, c, cls);
                else
                    counts[NZ_OP_ZERO_WIDTH]++;
                break;
            case CL_ZWNJ: {
                uint32_t next = peek_cp(u, n, i);
                if (!k.line_empty && !k.pend_space && !k.pend_nl && nz_is_joining_script(k.last) &&
                    nz_is_joining_script(next))
                    ok = nz_clean_emit(&k, c, cls);
                else
                    counts[NZ_OP_ZERO_WIDTH]++;
                break;
            }
            case CL_ZWJ: {
                uint32_t next = peek_cp(u, n, i);
                bool keep =
                    !k.line_empty && !k.pend_space && !k.pend_nl &&
                    ((nz_is_emoji_part((UChar32)k.last) && nz_is_emoji_part((UChar32)next)) ||
                     (nz_is_joining_script(k.last) && nz_is_joining_script(next)));
                if (keep)
                    ok = nz_clean_emit(&k, c, cls);
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
                    ok = nz_clean_emit(&k, (cls & CL_MASK) == CL_SQUOTE ? '\'' : '"', 0);
                } else {
                    ok = nz_clean_emit(&k, c, cls);
                }
                break;
            case CL_ARABIC:
                ok = nz_clean_arabic(&k, st, lang, c, peek_cp(u, n, i), cls);
                break;
            case CL_ROMANIAN:
                ok = nz_clean_romanian(&k, lang, c, cls);
                break;
            default:
                ok = nz_clean_emit(&k, c, cls);
                break;
        }
        if (!ok)
            return false;
    }
    if (k.pend_space)
        counts[NZ_OP_SPACES]++;
    nz_buf_end(out);
    *need_nfc = k.need_nfc;
    *suspect = moji;
    return true;
}
