/*
 * parse.c - names of the names plugin: parsing a name into content tokens ("Surname,
 * Given" turned around, particles, legal forms and disambiguators dropped) and its keys.
 */
#include <stdio.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include "names.h"

bool nm_is_sep(UChar32 c)
{
    if (c == '-' || c == 0x2010 || c == 0x2011 || c == 0x2013 || c == '_' || c == '/')
        return true;
    if (c == '\'' || c == 0x2019 || c == 0x02BC || c == 0x2018 || c == 0x200C || c == 0x200D)
        return false; /* inside a token: Khamene'i, ZWNJ in Persian */
    return !u_isalnum(c) && !(U_GET_GC_MASK(c) & U_GC_M_MASK);
}

/* Drop company legal forms from @nm, unless nothing else would be left. */
static void nm_drop_legal(const struct nm_engine *e, struct nm_name *nm)
{
    bool drop[NM_MAX_TOKS] = {false};
    uint8_t kept = 0;
    for (uint8_t i = 0; i < nm->n; i++) {
        uint8_t l = e->toks[nm->tok[i]].legal;
        bool beside = (i > 0 && e->toks[nm->tok[i - 1]].legal) ||
                      (i + 1 < nm->n && e->toks[nm->tok[i + 1]].legal);
        drop[i] = l == 1 || (l == 2 && beside);
        kept = (uint8_t)(kept + !drop[i]);
    }
    if (kept == 0 || kept == nm->n)
        return;
    uint8_t k = 0;
    for (uint8_t i = 0; i < nm->n; i++) {
        if (!drop[i])
            nm->tok[k++] = nm->tok[i];
    }
    nm->n = k;
}

/*
 * Parse @s into content tokens. "Surname, Given" (one comma) is turned around first.
 * Returns false on no memory.
 */
bool nm_parse(struct nm_engine *e, const char *s, size_t len, struct nm_name *out)
{
    out->n = 0;
    const char *comma = memchr(s, ',', len);
    const char *paren = memchr(s, '(', len);
    if (paren && comma && paren < comma)
        comma = NULL;
    if (comma && !memchr(comma + 1, ',', len - (size_t)(comma - s) - 1)) {
        size_t l1 = (size_t)(comma - s);
        size_t l2 = len - l1 - 1;
        struct nm_name first;
        struct nm_name second;
        if (!nm_parse(e, comma + 1, l2, &first) || !nm_parse(e, s, l1, &second))
            return false;
        bool digits = false;
        for (size_t k = 0; k < l2; k++)
            digits = digits || (comma[1 + k] >= '0' && comma[1 + k] <= '9');
        if (second.n >= 2 || digits) {
            /* "William Whitelaw, 1st Viscount Whitelaw", "Walter B. Jones, Jr.": a suffix */
            *out = second.n ? second : first;
            return true;
        }
        if (first.n && second.n) {
            /* "Эрдоган, Реджеп Тайип": surname first */
            for (uint8_t i = 0; i < first.n && out->n < NM_MAX_TOKS; i++)
                out->tok[out->n++] = first.tok[i];
            for (uint8_t i = 0; i < second.n && out->n < NM_MAX_TOKS; i++)
                out->tok[out->n++] = second.tok[i];
            return true;
        }
    }
    int32_t i = 0;
    int32_t n = (int32_t)len;
    uint32_t parts[NM_MAX_TOKS];
    size_t nparts = 0;
    while (i < n && out->n < NM_MAX_TOKS) {
        int32_t start = i;
        UChar32 c;
        U8_NEXT(s, i, n, c);
        if (c == '(' || c == '[') {
            /* "John Wilson (Politiker, 1956)": a disambiguator, not the name */
            const char *close = memchr(s + i, c == '(' ? ')' : ']', (size_t)(n - i));
            i = close ? (int32_t)(close - s) + 1 : n;
            continue;
        }
        if (c < 0 || nm_is_sep(c))
            continue;
        int32_t end = i;
        while (i < n) {
            int32_t at = i;
            U8_NEXT(s, i, n, c);
            if (c < 0 || nm_is_sep(c)) {
                i = at;
                break;
            }
            end = i;
        }
        if (end < n && s[end] == ',')
            i = end; /* a second comma: just a separator */
        int64_t t = nm_tok_get(e, s + start, (size_t)(end - start));
        if (t < 0)
            return false;
        if (!e->toks[t].nforms)
            continue;
        if (e->toks[t].particle) {
            if (nparts < NM_MAX_TOKS)
                parts[nparts++] = (uint32_t)t;
            continue;
        }
        out->tok[out->n++] = (uint32_t)t;
        if (i < n && (s[i] == '.'))
            i++;
    }
    nm_drop_legal(e, out);
    if (out->n == 1 && nparts > 0 && out->n < NM_MAX_TOKS) {
        /* "Al Green": the particle is a given name here, not an article */
        uint32_t last = out->tok[0];
        out->tok[0] = parts[0];
        out->tok[1] = last;
        out->n = 2;
    }
    return true;
}

size_t nm_name_key(const struct nm_engine *e, const struct nm_name *nm, char *out, size_t cap)
{
    const char *parts[NM_MAX_TOKS];
    for (uint8_t i = 0; i < nm->n; i++)
        parts[i] = e->toks[nm->tok[i]].forms[0].skel;
    for (uint8_t i = 1; i < nm->n; i++) {
        const char *p = parts[i];
        int j = i - 1;
        while (j >= 0 && strcmp(parts[j], p) > 0) {
            parts[j + 1] = parts[j];
            j--;
        }
        parts[j + 1] = p;
    }
    size_t k = 0;
    out[0] = '\0';
    for (uint8_t i = 0; i < nm->n; i++) {
        int w = snprintf(out + k, cap - k, "%s%s", i ? " " : "", parts[i]);
        if (w < 0 || (size_t)w >= cap - k)
            break;
        k += (size_t)w;
    }
    return k;
}

bool nm_is_latin_text(const char *s, size_t len)
{
    int32_t i = 0;
    bool any = false;
    while (i < (int32_t)len) {
        UChar32 c;
        U8_NEXT(s, i, (int32_t)len, c);
        if (c < 0)
            return false;
        if (!u_isalpha(c))
            continue;
        UErrorCode st = U_ZERO_ERROR;
        if (uscript_getScript(c, &st) != USCRIPT_LATIN)
            return false;
        any = true;
    }
    return any;
}

/* How uncased text is matched, without fuzz. */
size_t nm_exact_key(const struct nm_engine *e, const struct nm_name *nm, char *out, size_t cap)
{
    size_t k = 0;
    for (uint8_t i = 0; i < nm->n; i++) {
        int w = snprintf(out + k, cap - k, "%s%s", i ? " " : "", e->toks[nm->tok[i]].rom);
        if (w < 0 || (size_t)w >= cap - k)
            return 0;
        k += (size_t)w;
    }
    return k;
}
