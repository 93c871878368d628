/*
 * mojibake.c - repair of UTF-8 text that was decoded with a single-byte codec.
 *
 * The method follows ftfy (rspeer/python-ftfy, Apache-2.0): a line is touched only when
 * it contains an "unlikely neighbour" pattern typical of mojibake (mojibake_rules.c); then
 * it is re-encoded with each candidate codec and decoded as UTF-8, and the first valid
 * decoding wins (one that is valid only after undoing known damage must also score no
 * worse); failing that, only the substrings that look like UTF-8 read as windows-1252 are
 * repaired (and undone if the line still looks garbled); C1 controls left over become
 * windows-1252 characters. Written for wirepipe from that description and tuned on ftfy's
 * public test cases.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucnv.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include "normalize.h"

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

static struct mb_codec codecs[MB_NCODECS] = {
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

bool nz_mb_init_codecs(void)
{
    for (size_t k = 0; k < MB_NCODECS; k++) {
        struct mb_codec *cc = &codecs[k];
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

uint32_t nz_mb_cp1252(unsigned char b)
{
    return codecs[MB_CP1252].dec[b];
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
 * mb_cesu_pair() - the code point of a surrogate pair written as two three-byte sequences
 * (CESU-8, as emoji often arrive) at @b (@n bytes), or -1.
 */
static int32_t mb_cesu_pair(const uint8_t *b, size_t n)
{
    if (n < 6 || b[0] != 0xED || (b[1] & 0xF0) != 0xA0 || !U8_IS_TRAIL(b[2]) || b[3] != 0xED ||
        (b[4] & 0xF0) != 0xB0 || !U8_IS_TRAIL(b[5]))
        return -1;
    uint32_t hi = 0xD800 | ((uint32_t)(b[1] & 0x0F) << 6) | (b[2] & 0x3F);
    uint32_t lo = 0xDC00 | ((uint32_t)(b[4] & 0x0F) << 6) | (b[5] & 0x3F);
    return (int32_t)U16_GET_SUPPLEMENTARY(hi, lo);
}

/*
 * mb_utf8_decode() - strict UTF-8 (ICU's U8_NEXT), plus CESU-8 surrogate pairs, from
 * @b[0..@n) into @out; returns the number of code points or (size_t)-1.
 */
static size_t mb_utf8_decode(const uint8_t *b, size_t n, uint32_t *out)
{
    size_t i = 0, k = 0;
    while (i < n) {
        size_t at = i;
        UChar32 c;
        U8_NEXT(b, i, n, c);
        if (c < 0) {
            c = mb_cesu_pair(b + at, n - at);
            if (c < 0)
                return (size_t)-1;
            i = at + 6;
        }
        out[k++] = (uint32_t)c;
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
            bool y_ok = U8_IS_TRAIL(y), z_ok = U8_IS_TRAIL(z);
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
        size_t need = U8_COUNT_TRAIL_BYTES(x);
        if (need) {
            bool lossy = false, shape = true;
            for (size_t j = 1; j <= need && shape; j++) {
                uint8_t y = i + j < n ? b[i + j] : 0;
                if (y == '?' || y == 0x1A)
                    lossy = true;
                else if (!U8_IS_TRAIL(y))
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
    unsigned before = nz_mb_badness(w->cps, w->n, false);
    for (size_t k = 0; k < MB_NCODECS; k++) {
        bool high;
        if (!mb_encode_all(&codecs[k], w->cps, w->n, w->bytes, &high) || !high)
            continue;
        bool damaged;
        size_t m = mb_decode_damaged(w, &codecs[k], w->bytes, w->n, &damaged);
        if (m == (size_t)-1)
            continue;
        /* A whole line that is valid UTF-8 once re-encoded is strong evidence by itself
         * (text rarely is by chance); a reading that needed repairs must also score no
         * worse than the text it replaces. */
        if (damaged && nz_mb_badness(w->tmp, m, false) > before)
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
    int b = mb_encode_cp(&codecs[MB_CP1252], c);
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
    size_t need = lead >= 0 ? U8_COUNT_TRAIL_BYTES(lead) : 0;
    if (need == 0)
        return 0;
    if (i + need >= n)
        return 0;
    for (size_t j = 1; j <= need; j++) {
        int cb = mb_byte_1252(c[i + j]);
        if (cb < 0 || !U8_IS_TRAIL(cb))
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
            if (rl < w->n && nz_mb_badness(w->cps + start, rl, true)) {
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
            uint32_t to = codecs[MB_CP1252].dec[c[i]];
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
        if (!nz_mb_badness(w->cps, w->n, true))
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
    if (by_runs && nz_mb_badness(w->cps, w->n, true)) {
        memcpy(w->cps, w->orig, n0 * sizeof(uint32_t));
        w->n = n0;
        steps = 0;
        fixed_c1 = mb_fix_c1(w->cps, w->n);
    }
    *repairs += steps;
    *c1 += fixed_c1;
}

/* ---- per line ---- */

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

bool nz_fix_mojibake(struct nz_run *r, const char *s, size_t n, struct wp_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    struct mb_work w = {0};
    bool changed = false;
    size_t copied = 0;
    wp_buf_reset(out);
    if (!nz_mb_is_bad_utf8(u, n))
        return false; /* the usual case: nothing on any line */
    for (size_t ls = 0; ls < n;) {
        const char *nl = memchr(s + ls, '\n', n - ls);
        size_t le = nl ? (size_t)(nl - s) : n;
        size_t next = nl ? le + 1 : n;
        if (!nz_mb_is_bad_utf8(u + ls, le - ls)) {
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
            w.cps[w.n++] = nz_next(u, le, &i);
        unsigned repairs = 0, c1 = 0;
        mb_repair(&w, &repairs, &c1);
        if (repairs == 0 && c1 == 0) {
            ls = next;
            continue;
        }
        r->counts[NZ_OP_MOJIBAKE] += repairs;
        r->counts[NZ_OP_C1] += c1;
        if (!nz_reserve(r, out, (ls - copied) + w.n * 4 + 1))
            break;
        memcpy(out->data + out->len, s + copied, ls - copied);
        out->len += ls - copied;
        for (size_t k = 0; k < w.n; k++)
            nz_put(out, w.cps[k]);
        copied = le;
        changed = true;
        ls = next;
    }
    mb_work_free(r->host, &w);
    if (!changed || r->oom)
        return false;
    if (!wp_buf_add(out, s + copied, n - copied)) {
        r->oom = true;
        return false;
    }
    return true;
}
