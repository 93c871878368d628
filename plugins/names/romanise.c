/*
 * romanise.c - tokens of the names plugin: romanisation with one ICU rule transliterator,
 * phonetic forms with script-aware classes, and the token cache.
 */
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#include "names.h"

/* ---------------------------------------------------------------------------------------
 * Romanisation rules (ICU 72). Arabic/Persian letter variants are unified and invisible
 * marks stripped first, Cyrillic and Greek get digraphs Any-Latin would lose (ж, х, ντ),
 * then Any-Latin; Latin-ASCII; Lower, then the modifier letters Latin-ASCII keeps.
 * ------------------------------------------------------------------------------------- */
static const char nm_rules[] =
    ":: NFKC ;"
    "\\u064A > \\u06CC ; \\u0649 > \\u06CC ; \\u0643 > \\u06A9 ;"
    "[\\u0623\\u0625\\u0622\\u0671] > \\u0627 ; \\u0629 > \\u0647 ;"
    "[\\u200B-\\u200F\\u0640\\u00AD\\u2060\\uFEFF] > ;"
    "[\\u064B-\\u0652\\u0670] > ;"
    /* Urdu and Punjabi letters: yeh barree, heh goal, do-chashmi heh, retroflexes, noon ghunna */
    "\\u06D2 > \\u06CC ; [\\u06C1\\u06BE] > \\u0647 ; \\u0679 > \\u062A ; \\u0688 > \\u062F ;"
    "\\u0691 > \\u0631 ; \\u06BA > \\u0646 ;"
    ":: Lower ;"
    "\\u0434\\u0436 > j ; \\u0436 > zh ; \\u0445 > kh ; \\u0446 > ts ; \\u0447 > ch ;"
    "\\u0449 > shch ; \\u0448 > sh ; \\u0439 > y ; \\u044E > yu ; \\u044F > ya ;"
    "\\u0451 > yo ; \\u044D > e ; \\u044B > y ; [\\u044C\\u044A] > ; \\u0454 > ye ;"
    "\\u0457 > yi ; \\u0456 > i ; \\u0491 > g ;"
    /* schwa and the Tajik, Kazakh, Bashkir letters Any-Latin leaves as they are */
    "[\\u0259\\u04D9] > a ; \\u04B7 > j ; [\\u04B3\\u04BB] > h ; [\\u04AF\\u04B1\\u04EF] > u ;"
    "\\u04E9 > o ; \\u0493 > gh ; \\u049B > q ; \\u04A3 > ng ; \\u04E3 > i ; \\u0499 > z ;"
    "\\u04AB > s ;"
    /* Hebrew geresh letters (ג׳ j, ז׳ zh, צ׳ ch) and pe as f inside a word */
    "\\u05D2[\\u05F3\\u0027] > j ; \\u05D6[\\u05F3\\u0027] > zh ;"
    "[\\u05E6\\u05E5][\\u05F3\\u0027] > ch ; \\u05E3 > f ; [\\u05D0-\\u05EA] { \\u05E4 > f ;"
    /*
     * Slavic, Baltic and Turkish hachek letters as the digraphs Cyrillic gets (č ч → ch);
     * ç as s (French, Portuguese; Turkish ç is ch, which s is confusable with)
     */
    "[\\u010D\\u0107\\u045B] > ch ; [\\u0161\\u015B\\u015F] > sh ; \\u00E7 > s ;"
    "[\\u017E\\u017C\\u017A] > zh ; \\u0452 > dj ; \\u045F > j ;"
    "\\u03C7 > kh ; \\u03BD\\u03C4 > d ; \\u03BC\\u03C0 > b ;"
    "\\u03B3\\u03BA > g ; \\u03C4\\u03B6 > j ;"
    "\\u03B3 } [\\u03B9\\u03AF\\u03B5\\u03AD\\u03B7\\u03AE\\u03C5\\u03CD] > y ;"
    ":: Any-Latin ; :: Latin-ASCII ; :: Lower ;"
    "[\\u02B9-\\u02BF\\u2018\\u2019\\u0027\\u0060\\u00B4] > ;";

enum wp_status nm_trans_open(struct nm_engine *e, struct wp_ctx *ctx)
{
    UChar rules[sizeof(nm_rules)];
    int32_t rlen = 0;
    UErrorCode st = U_ZERO_ERROR;
    UParseError perr;
    u_strFromUTF8(rules, (int32_t)sizeof(nm_rules), &rlen, nm_rules, -1, &st);
    static const UChar rid[] = {'w', 'p', '-', 'n', 'a', 'm', 'e', 's', 0};
    if (U_SUCCESS(st))
        e->trans = utrans_openU(rid, -1, UTRANS_FORWARD, rules, rlen, &perr, &st);
    if (U_FAILURE(st)) {
        wp_fail(ctx, WP_E_CONFIG, "cannot open the ICU transliterator: %s (rule offset %d)",
                u_errorName(st), (int)perr.offset);
        return WP_E_CONFIG;
    }
    return WP_OK;
}

/* ---------------------------------------------------------------------------------------
 * Tokens: romanisation and phonetic forms
 * ------------------------------------------------------------------------------------- */

enum nm_script nm_script_of(const char *s, size_t len)
{
    int32_t i = 0;
    while (i < (int32_t)len) {
        UChar32 c;
        U8_NEXT(s, i, (int32_t)len, c);
        if (c < 0 || !u_isalpha(c))
            continue;
        UErrorCode st = U_ZERO_ERROR;
        UScriptCode sc = uscript_getScript(c, &st);
        switch (sc) {
            case USCRIPT_LATIN:
                return NM_LATIN;
            case USCRIPT_CYRILLIC:
                return NM_CYRILLIC;
            case USCRIPT_GREEK:
                return NM_GREEK;
            case USCRIPT_ARABIC:
            case USCRIPT_SYRIAC:
                return NM_ARABIC;
            case USCRIPT_HEBREW:
                return NM_HEBREW;
            case USCRIPT_HAN:
            case USCRIPT_HIRAGANA:
            case USCRIPT_KATAKANA:
            case USCRIPT_HANGUL:
                return NM_CJK;
            default:
                return NM_OTHER;
        }
    }
    return NM_OTHER;
}

/* Romanise @s into @out (ASCII lower-case letters only). Returns the length. */
static size_t nm_romanise(struct nm_engine *e, const char *s, size_t len, char *out, size_t cap)
{
    UChar buf[256];
    int32_t ulen = 0;
    UErrorCode st = U_ZERO_ERROR;
    size_t n = 0;
    if (len > 120)
        len = 120;
    u_strFromUTF8Lenient(buf, 128, &ulen, s, (int32_t)len, &st);
    if (U_FAILURE(st) || ulen > 128)
        return 0;
    int32_t limit = ulen;
    utrans_transUChars(e->trans, buf, &ulen, (int32_t)(sizeof(buf) / sizeof(buf[0])), 0, &limit,
                       &st);
    if (U_FAILURE(st))
        return 0;
    for (int32_t i = 0; i < ulen && n + 1 < cap; i++) {
        UChar c = buf[i];
        if (c >= 'a' && c <= 'z')
            out[n++] = (char)c;
        else if (c >= 'A' && c <= 'Z')
            out[n++] = (char)(c - 'A' + 'a');
    }
    out[n] = '\0';
    return n;
}

/*
 * Build the phonetic form of romanised @rom. Classes: ch is its own class 'C' in
 * variant 0 (English /tS/) and 'h' in variant 1 (German Chamenei); c reads s before
 * e/i/y and k otherwise in variant 0, j (Turkish Recep) in variant 1; x is "ks" or h.
 */
static void nm_phonetic(const char *rom, enum nm_script script, int variant, struct nm_form *f)
{
    char tmp[NM_MAX_TOKLEN];
    size_t n = 0;
    size_t len = strlen(rom);
    const char *s = rom;
    bool arabic = script == NM_ARABIC || script == NM_HEBREW;
    if (arabic && len >= 5 && s[0] == 'a' && s[1] == 'l') {
        s += 2; /* the article: "alasd" is al-Assad */
        len -= 2;
    }
#define NM_PUT(ch)                                                                                 \
    do {                                                                                           \
        if (n + 1 < sizeof(tmp))                                                                   \
            tmp[n++] = (ch);                                                                       \
    } while (0)
#define NM_AT(str) (strncmp(s + i, (str), strlen(str)) == 0)
    for (size_t i = 0; i < len;) {
        char c = s[i];
        char next = i + 1 < len ? s[i + 1] : '\0';
        if (NM_AT("sch")) {
            NM_PUT('s');
            i += 3;
        } else if (NM_AT("dzh") || NM_AT("dsh")) {
            NM_PUT('j');
            i += 3;
        } else if (NM_AT("tch") || (NM_AT("tsh") && (script != NM_ARABIC || variant == 2))) {
            /* Arabic writes ch as tsh (تشيني), Persian has t + sh too (زرتشت): variant 2 */
            NM_PUT(variant == 1 ? 'h' : 'C');
            i += 3;
        } else if (NM_AT("ch")) {
            NM_PUT(variant == 1 ? 'h' : 'C');
            i += 2;
        } else if (NM_AT("dj") || NM_AT("dz") || NM_AT("zh")) {
            NM_PUT('j');
            i += 2;
        } else if (NM_AT("kh") || NM_AT("gh") || NM_AT("ck")) {
            NM_PUT(c == 'k' ? 'h' : 'g');
            i += 2;
        } else if (variant == 2 && (NM_AT("th") || NM_AT("dh"))) {
            NM_PUT('s'); /* Persian and Turkish read tha and dhal as s and z (Osman) */
            i += 2;
        } else if (NM_AT("sh") || NM_AT("ph") || NM_AT("th") || NM_AT("dh")) {
            NM_PUT(c == 'p' ? 'f' : c);
            i += 2;
        } else if (NM_AT("ou") || NM_AT("oo")) {
            NM_PUT('u');
            i += 2;
        } else if (NM_AT("ee")) {
            NM_PUT('i');
            i += 2;
        } else if (NM_AT("ts") && script == NM_CYRILLIC) {
            NM_PUT('c');
            i += 2;
        } else {
            switch (c) {
                case 'q':
                case 'k':
                    NM_PUT('g');
                    break;
                case 'c':
                    if (variant == 1)
                        NM_PUT('j');
                    else
                        NM_PUT(next == 'e' || next == 'i' || next == 'y' ? 's' : 'g');
                    break;
                case 'x':
                    if (variant == 1) {
                        NM_PUT('h');
                    } else {
                        NM_PUT('g');
                        NM_PUT('s');
                    }
                    break;
                case 'w':
                    NM_PUT('v');
                    break;
                case 'z':
                    NM_PUT('s');
                    break;
                case 'y':
                    NM_PUT('i');
                    break;
                default:
                    NM_PUT(c);
                    break;
            }
            i++;
        }
    }
#undef NM_AT
#undef NM_PUT
    tmp[n] = '\0';
    /* collapse doubles */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || tmp[i] != f->ph[k - 1])
            f->ph[k++] = tmp[i];
    }
    f->ph[k] = '\0';
    /* skeleton: no vowels; Arabic-script w/y are vowel letters too; v~f, p~b */
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        char c = f->ph[i];
        if (nm_is_vowel(c))
            continue;
        if (arabic && c == 'v' && i > 0 && variant != 2)
            continue; /* waw inside a word is a vowel letter; at the start, v/w (variant 2: v) */
        if (c == 'v')
            c = 'f';
        else if (c == 'p')
            c = 'b';
        if (m == 0 || f->skel[m - 1] != c)
            f->skel[m++] = c;
    }
    f->skel[m] = '\0';
    if (m == 0) {
        /* a vowel-only token ("ai"): its first letter keeps it apart from nothing */
        f->skel[0] = k ? f->ph[0] : '_';
        f->skel[1] = '\0';
    }
    f->vowelless = arabic;
    /*
     * The coarse key finds candidates whose skeletons differ by a confusable letter
     * (Jakovčić/Јаковчић, Davies/دیویس): h, and v inside a word, dropped (silent h,
     * waw read as a vowel); sibilants, velars, labials and dentals merged.
     */
    size_t q = 0;
    f->coarse[q++] = '#';
    for (size_t i = 0; i < k && q + 1 < sizeof(f->coarse); i++) {
        char c = f->ph[i];
        if (nm_is_vowel(c) || ((c == 'h' || c == 'v') && i > 0))
            continue;
        switch (c) {
            case 'C':
            case 'j':
            case 'z':
                c = 's';
                break;
            case 'k':
            case 'q':
                c = 'g';
                break;
            case 'f':
            case 'v':
            case 'p':
                c = 'b';
                break;
            case 'd':
                c = 't';
                break;
            default:
                break;
        }
        if (f->coarse[q - 1] != c)
            f->coarse[q++] = c;
    }
    f->coarse[q < 3 ? 0 : q] = '\0';
}

static void nm_add_form(struct nm_tok *t, const char *rom, enum nm_script script, int variant)
{
    if (t->nforms >= NM_MAX_FORMS || !rom[0])
        return;
    struct nm_form *f = &t->forms[t->nforms];
    nm_phonetic(rom, script, variant, f);
    for (uint8_t i = 0; i < t->nforms; i++) {
        if (strcmp(t->forms[i].ph, f->ph) == 0 && t->forms[i].vowelless == f->vowelless &&
            strcmp(t->forms[i].skel, f->skel) == 0)
            return;
    }
    t->nforms++;
}

size_t nm_fold(const char *s, size_t len, char *out, size_t cap)
{
    UChar u[160];
    UChar l[160];
    int32_t ulen = 0;
    int32_t olen = 0;
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(u, 160, &ulen, s, (int32_t)len, &st);
    if (U_FAILURE(st) || ulen >= 160)
        return 0;
    int32_t llen = u_strToLower(l, 160, u, ulen, "", &st);
    if (U_FAILURE(st) || llen >= 160)
        return 0;
    u_strToUTF8(out, (int32_t)cap, &olen, l, llen, &st);
    if (U_FAILURE(st) || (size_t)olen >= cap)
        return 0;
    return (size_t)olen;
}

/* Romanisation and forms are computed once per distinct token. */
int64_t nm_tok_get(struct nm_engine *e, const char *s, size_t len)
{
    struct nm_slot *slot = nm_map_find(&e->tokmap, s, len);
    if (slot)
        return slot->val;
    if (!nm_grow(e, (void **)&e->toks, &e->captoks, e->ntoks + 1, sizeof(*e->toks)))
        return -1;
    char rom[NM_MAX_TOKLEN];
    enum nm_script script = nm_script_of(s, len);
    size_t rlen = nm_romanise(e, s, len, rom, sizeof(rom));
    struct nm_tok *t = &e->toks[e->ntoks];
    memset(t, 0, sizeof(*t));
    t->rom = nm_strndup(e, rom, rlen);
    if (!t->rom)
        return -1;
    t->script = (uint8_t)script;
    t->particle = rlen > 0 && nm_in_list(nm_particles, rom, rlen);
    t->legal = rlen == 0                               ? 0
               : nm_in_list(nm_legal_forms, rom, rlen) ? 1
               : nm_in_list(nm_legal_words, rom, rlen) ? 2
                                                       : 0;
    t->initial = rlen == 1;
    if (rlen) {
        nm_add_form(t, rom, script, 0);
        nm_add_form(t, rom, script, 1);
        if (script == NM_ARABIC || script == NM_HEBREW)
            nm_add_form(t, rom, script, 2); /* waw as v: دیوید David, not "dd" */
        /* Latvian and Latin add endings to foreign names: Baidens, Gregorius, Stephanus */
        if (script == NM_LATIN && rlen >= 6 && rom[rlen - 1] == 's' && rom[rlen - 2] == 'u') {
            char cut[NM_MAX_TOKLEN];
            memcpy(cut, rom, rlen - 2);
            cut[rlen - 2] = '\0';
            nm_add_form(t, cut, script, 0);
        } else if (script == NM_LATIN && rlen >= 5 && rom[rlen - 1] == 's' &&
                   !nm_is_vowel(rom[rlen - 2]) && rom[rlen - 2] != 's') {
            char cut[NM_MAX_TOKLEN];
            memcpy(cut, rom, rlen - 1);
            cut[rlen - 1] = '\0';
            nm_add_form(t, cut, script, 0);
        }
    }
    if (rlen > 1) {
        char low[256];
        size_t llen = nm_fold(s, len, low, sizeof(low));
        struct nm_slot *ls = llen ? nm_map_find(&e->lexmap, low, llen) : NULL;
        if (ls) {
            struct nm_lex *lx = &e->lex[ls->val];
            for (int i = 0; i < 3 && lx->alt[i]; i++)
                nm_add_form(t, lx->alt[i], NM_LATIN, 0);
        }
    }
    if (!nm_map_put(e, &e->tokmap, s, len, (uint32_t)e->ntoks, NULL)) {
        nm_free(e, t->rom);
        return -1;
    }
    return (int64_t)e->ntoks++;
}
