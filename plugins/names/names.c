/*
 * names - find person names in items and cluster spellings of one person across
 * transliterations and scripts.
 *
 * Two stages share one engine:
 *  - "names" finds mentions in headline and body, resolves each to a cluster (a person)
 *    and writes "entities" and ninjs "people";
 *  - "names_cluster" holds {line, name} items and, at flush, clusters them all and emits
 *    {line, input, canonical, cluster, score} in input order (the `wirepipe names` command).
 *
 * The engine: every token is romanised once with one ICU rule transliterator (cached per
 * distinct token, since ICU is the slow part), turned into phonetic forms with
 * script-aware equivalence classes, and indexed by its consonant skeleton. Skeletons only
 * find candidate clusters; a weighted token comparison decides (see name_score()).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unicode/utrans.h>

#define NM_MAX_TOKS    8
#define NM_MAX_FORMS   6
#define NM_MAX_TOKLEN  64   /* bytes of one romanised token kept for comparison */
#define NM_MAX_REPS    24   /* distinct spellings compared per cluster */
#define NM_MAX_CANDS   48   /* clusters scored per name */
#define NM_COMMON_KEY  400  /* a skeleton shared by more clusters than this blocks nothing */
#define NM_RARE_KEY    24   /* one shared skeleton this rare is enough to be a candidate */
#define NM_COMMON_SCAN 4000 /* entries of a common skeleton's list scanned for counting */
#define NM_MAX_NAME    1024
#define NM_STORE_NS    "names.cluster"
#define NM_GAZ_FILE    "gazetteer.tsv"
#define NM_PAIR_BITS   16

/* Scoring weights, tuned on the training persons (scripts/eval-names --split train). */
#ifndef NM_ORDER_PENALTY
#define NM_ORDER_PENALTY 0.1 /* per token, when the alignment crosses */
#endif
#ifndef NM_DRIFT
#define NM_DRIFT 0.2 /* how far below the threshold a founder may be */
#endif
#ifndef NM_MERGE_MARGIN
#define NM_MERGE_MARGIN 0.1 /* a second-chance merge must beat the threshold by this */
#endif
#ifndef NM_WEAK_PAIR
#define NM_WEAK_PAIR 0.7 /* a matched token pair below this costs extra */
#endif
#ifndef NM_INITIAL_PENALTY
#define NM_INITIAL_PENALTY 0.3 /* an initial matched while a full token went spare */
#endif
#ifndef NM_WEAK_PENALTY
#define NM_WEAK_PENALTY 1.0
#endif

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

enum nm_script { NM_LATIN, NM_CYRILLIC, NM_GREEK, NM_ARABIC, NM_HEBREW, NM_CJK, NM_OTHER };

/* Particles never carry identity on their own: dropped from comparison and keys. */
static const char *const nm_particles[] = {
    "al",    "el",  "as",  "ad",  "ash", "ar",  "an",  "at",  "az",  "bin", "ibn", "ben", "bint",
    "bn",    "bnt", "abu", "abw", "de",  "van", "von", "der", "den", "da",  "di",  "du",  "del",
    "della", "la",  "le",  "dos", "das", "ter", "ten", "y",   "zu",  "mac", NULL};

/* Titles and roles: a cue that a name follows. Compared lower-case, without the period. */
static const char *const nm_titles[] = {
    "president", "gen", "general", "maj", "major", "lt", "lieutenant", "col", "colonel", "brig",
    "brigadier", "adm", "admiral", "ayatollah", "grand", "hojatoleslam", "sheikh", "shaikh",
    "sheik", "dr", "mr", "mrs", "ms", "prof", "professor", "minister", "prime", "chief", "staff",
    "king", "queen", "prince", "princess", "emir", "sultan", "leader", "supreme", "spokesman",
    "spokeswoman", "secretary", "senator", "sen", "rep", "governor", "gov", "mayor", "ambassador",
    "commander", "cmdr", "imam", "pope", "vice", "deputy", "speaker", "chairman", "chairwoman",
    "marshal", "field", "sgt", "sergeant", "capt", "captain", "cardinal", "rabbi", "sir", "lord",
    "lady", "crown", "chancellor", "premier", "foreign", "defense", "defence", "interior", "envoy",
    "judge", "justice", "mullah", "chief-of-staff", "excellency", "his", "her", "former", "late",
    "presidential",
    /* other languages' role words (compared after Unicode lower-casing) */
    "genelkurmay", "başkanı", "başkan", "orgeneral", "korgeneral", "tümgeneral", "tuğgeneral",
    "cumhurbaşkanı", "bakanı", "bakan", "präsident", "präsidenten", "revolutionsführer",
    "generalstabschef", "kanzler", "kanzlerin", "ministerpräsident", "außenminister", "président",
    "presidente", "ministre", "général", "jenderal", "президент", "президента", "президентом",
    "генерал", "генерал-майор", "министр", "министра", "премьер", "премьер-министр", "лидер",
    "лидером", "аятолла", "начальник", "глава", "главой", "верховный", "верховным", NULL};

/* Capitalised words that start sentences or headlines and are never given names. */
static const char *const nm_stopwords[] = {
    "the",       "a",         "an",       "in",        "on",        "at",        "of",
    "and",       "but",       "or",       "for",       "to",        "from",      "by",
    "with",      "after",     "before",   "according", "as",        "if",        "when",
    "while",     "this",      "that",     "these",     "those",     "he",        "she",
    "they",      "we",        "it",       "his",       "her",       "their",     "our",
    "why",       "how",       "what",     "who",       "where",     "monday",    "tuesday",
    "wednesday", "thursday",  "friday",   "saturday",  "sunday",    "january",   "february",
    "march",     "april",     "june",     "july",      "august",    "september", "october",
    "november",  "december",  "iranian",  "turkish",   "russian",   "american",  "iraqi",
    "syrian",    "israeli",   "saudi",    "egyptian",  "french",    "german",    "british",
    "chinese",   "ukrainian", "kurdish",  "arab",      "emirati",   "qatari",    "lebanese",
    "afghan",    "pakistani", "indian",   "european",  "us",        "u.s",       "un",
    "nato",      "then",      "now",      "also",      "meanwhile", "however",   "later",
    "today",     "yesterday", "tomorrow", "there",     "here",      "so",        "thus",
    "still",     "since",     "under",    "over",      "about",     "against",   "between",
    "during",    "without",   "within",   "all",       "some",      "many",      "most",
    "both",      "each",      "every",    "no",        "not",       "new",       "top",
    "last",      "next",      "only",     "even",      "once",      "will",      "would",
    "can",       "could",     "should",   "may",       "might",     "must",      "i",
    "you",       NULL};

/* Verbs that make a bare capitalised pair a person ("Hulusi Akar said"). */
/*
 * Company legal forms say nothing about which company it is ("Siemens AG" / "Siemens
 * Aktiengesellschaft"): dropped from comparison, always (forms) or when next to another
 * legal word ("Joint Stock Company", "Gesellschaft mit beschränkter Haftung").
 */
static const char *const nm_legal_forms[] = {"ag",          "gmbh",         "aktiengesellschaft",
                                             "ltd",         "limited",      "llc",
                                             "inc",         "incorporated", "corp",
                                             "corporation", "co",           "company",
                                             "jsc",         "ojsc",         "pjsc",
                                             "cjsc",        "oao",          "zao",
                                             "ooo",         "pao",          "srl",
                                             "sarl",        "spa",          "plc",
                                             "bv",          "nv",           "llp",
                                             "kg",          "ohg",          "oyj",
                                             NULL};
static const char *const nm_legal_words[] = {"joint",
                                             "stock",
                                             "open",
                                             "closed",
                                             "public",
                                             "private",
                                             "liability",
                                             "gesellschaft",
                                             "mit",
                                             "beschrankter",
                                             "haftung",
                                             "societatea",
                                             "cu",
                                             "raspundere",
                                             "limitata",
                                             "obshchestvo",
                                             "ogranichennoy",
                                             "otvetstvennostyu",
                                             "aktsionernoe",
                                             "otkrytoe",
                                             "zakrytoe",
                                             "publichnoe",
                                             NULL};

static const char *const nm_speech[] = {"said",  "says",      "told",     "stated", "added",
                                        "noted", "announced", "stressed", "warned", NULL};

static bool nm_in_list(const char *const *list, const char *word, size_t len)
{
    for (size_t i = 0; list[i]; i++) {
        /* the first letter rules out nearly all entries before strlen runs */
        if (len && list[i][0] == word[0] && strlen(list[i]) == len &&
            memcmp(list[i], word, len) == 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * A string-keyed open-addressing hash table mapping to uint32 values.
 * ------------------------------------------------------------------------------------- */
struct nm_slot {
    char *key; /* NULL: empty */
    uint32_t len;
    uint32_t hash;
    uint32_t val;
};

struct nm_map {
    struct nm_slot *slots;
    size_t cap; /* power of two */
    size_t len;
};

static uint64_t nm_hash64(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

struct nm_engine;
static void *nm_alloc(struct nm_engine *e, size_t size);
static void nm_free(struct nm_engine *e, void *p);
static bool nm_grow(struct nm_engine *e, void **arr, size_t *cap, size_t need, size_t elem);

static struct nm_slot *nm_map_find(const struct nm_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    uint32_t h = (uint32_t)nm_hash64(key, len);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct nm_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

/* Insert @key (copied) with @val unless present; returns the slot, NULL on no memory. */
static struct nm_slot *nm_map_put(struct nm_engine *e, struct nm_map *m, const char *key,
                                  size_t len, uint32_t val, bool *created)
{
    if (created)
        *created = false;
    if ((m->len + 1) * 4 >= m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        struct nm_slot *ns = nm_alloc(e, ncap * sizeof(*ns));
        if (!ns)
            return NULL;
        memset(ns, 0, ncap * sizeof(*ns));
        for (size_t i = 0; i < m->cap; i++) {
            struct nm_slot *s = &m->slots[i];
            if (!s->key)
                continue;
            size_t j = s->hash & (ncap - 1);
            while (ns[j].key)
                j = (j + 1) & (ncap - 1);
            ns[j] = *s;
        }
        nm_free(e, m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    uint32_t h = (uint32_t)nm_hash64(key, len);
    size_t i = h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        struct nm_slot *s = &m->slots[i];
        if (!s->key)
            break;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
    char *copy = nm_alloc(e, len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, key, len);
    copy[len] = '\0';
    m->slots[i] = (struct nm_slot){.key = copy, .len = (uint32_t)len, .hash = h, .val = val};
    m->len++;
    if (created)
        *created = true;
    return &m->slots[i];
}

static void nm_map_clear(struct nm_engine *e, struct nm_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        nm_free(e, m->slots[i].key);
    nm_free(e, m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------------------------
 * Engine data
 * ------------------------------------------------------------------------------------- */

/* One phonetic reading of a token: @ph keeps vowels, @skel is the consonant skeleton. */
struct nm_form {
    char ph[NM_MAX_TOKLEN];
    char skel[NM_MAX_TOKLEN];
    char coarse[NM_MAX_TOKLEN]; /* blocking only: "#" + skeleton of merged classes, or "" */
    bool vowelless;             /* from Arabic or Hebrew script: compare skeletons only */
};

struct nm_tok {
    char *rom; /* ICU romanisation, ASCII lower-case letters */
    uint8_t script;
    bool particle;
    uint8_t legal; /* company legal form: 1 always ("gmbh"), 2 only beside another ("stock") */
    bool initial;
    uint8_t nforms;
    struct nm_form forms[NM_MAX_FORMS];
};

struct nm_name {
    uint32_t tok[NM_MAX_TOKS]; /* content tokens, particles left out */
    uint8_t n;
};

struct nm_spell {
    char *text;
    uint32_t count;
    bool latin;
};

struct nm_rep {
    struct nm_name name;
    uint64_t keyhash;
};

struct nm_cluster {
    char *id;        /* QID, or "wp:<hash>" */
    char *canonical; /* from the gazetteer, or NULL: computed from @spell */
    bool gazetteer;
    bool dirty;       /* gained spellings since it was loaded or stored */
    bool canon_valid; /* @canonical is up to date with @spell */
    struct nm_rep *reps;
    size_t nreps, capreps;
    struct nm_spell *spell;
    size_t nspell, capspell;
};

struct nm_list {
    uint32_t *v;
    uint32_t n, cap;
};

struct nm_lex {
    char *alt[3];
    uint32_t cnt[3];
};

struct nm_seen {
    uint32_t cluster;
    float score;
};

struct nm_pair {
    uint64_t key; /* (a << 32 | b) + 1; 0 is empty */
    float sim;
};

struct nm_engine {
    const struct wp_host_api *host;
    struct nm_pair pairs[1u << NM_PAIR_BITS];
    UTransliterator *trans;
    double threshold;
    bool oom;

    struct nm_map tokmap; /* raw token -> index into toks */
    struct nm_tok *toks;
    size_t ntoks, captoks;

    struct nm_map lexmap; /* non-Latin token (lower) -> index into lex */
    struct nm_lex *lex;
    size_t nlex, caplex;

    struct nm_map keymap; /* token skeleton -> index into lists (clusters holding it) */
    struct nm_list *lists;
    size_t nlists, caplists;

    struct nm_map gazmap;   /* QID or "=canonical" -> cluster */
    struct nm_map givenmap; /* phonetic form of known given names */
    struct nm_map namemap;  /* exact input string -> index into seen */
    struct nm_map exactmap; /* romanised spelling of every known name -> cluster */
    struct nm_seen *seen;
    size_t nseen, capseen;

    struct nm_cluster *cl;
    size_t ncl, capcl;

    /* persistence */
    bool persist;
    bool store_warned;
    struct nm_map loaded; /* full keys already looked up in the store */

    /* a cluster nm_lookup() must not return (-1: none) */
    int64_t exclude;

    /* scratch for candidate collection */
    uint32_t *cand_mark;
    size_t cap_mark;
    size_t mark_len; /* entries of cand_mark initialised */
    uint32_t epoch;
};

static void *nm_alloc(struct nm_engine *e, size_t size)
{
    void *p = e->host->malloc(size ? size : 1);
    if (!p)
        e->oom = true;
    return p;
}

static void nm_free(struct nm_engine *e, void *p)
{
    if (p)
        e->host->free(p);
}

static char *nm_strndup(struct nm_engine *e, const char *s, size_t len)
{
    char *p = nm_alloc(e, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static bool nm_grow(struct nm_engine *e, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = e->host->realloc(*arr, ncap * elem);
    if (!p) {
        e->oom = true;
        return false;
    }
    *arr = p;
    *cap = ncap;
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Tokens: romanisation and phonetic forms
 * ------------------------------------------------------------------------------------- */

static enum nm_script nm_script_of(const char *s, size_t len)
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

static bool nm_is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
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

/* Lower-case @s (UTF-8) into @out for lexicon look-ups; returns the length or 0. */
static size_t nm_fold(const char *s, size_t len, char *out, size_t cap)
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

/* The token cache: romanisation and forms are computed once per distinct token. */
static int64_t nm_tok_get(struct nm_engine *e, const char *s, size_t len)
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

/* ---------------------------------------------------------------------------------------
 * Comparison
 * ------------------------------------------------------------------------------------- */

/* Substitution costs between phonetic letters: equal 0, vowels 0.4, confusables 0.5, else 1. */
static float nm_cost[128][128];
static pthread_once_t nm_cost_once = PTHREAD_ONCE_INIT;

static void nm_cost_init(void)
{
    static const char *const pairs[] = {"Ch", "Cj", "Cs", "gj", "gh", "js", "fv", "bp",
                                        "dt", "sj", "hx", "bf", "pf", "bv", "ij", NULL};
    for (int a = 0; a < 128; a++) {
        for (int b = 0; b < 128; b++) {
            float c = 1.0f;
            if (a == b)
                c = 0.0f;
            else if (nm_is_vowel((char)a) && nm_is_vowel((char)b))
                c = 0.4f;
            nm_cost[a][b] = c;
        }
    }
    for (size_t i = 0; pairs[i]; i++) {
        unsigned char a = (unsigned char)pairs[i][0];
        unsigned char b = (unsigned char)pairs[i][1];
        nm_cost[a][b] = nm_cost[b][a] = 0.5f;
    }
}

/* Weighted Levenshtein similarity: vowel and confusable substitutions are cheap. */
static double nm_strsim(const char *a, const char *b, bool skeleton)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la == 0 || lb == 0)
        return 0.0;
    if (la == lb && memcmp(a, b, la) == 0)
        return 1.0;
    double l = (double)(la > lb ? la : lb);
    double gap = (double)(la > lb ? la - lb : lb - la);
    if (1.0 - 0.5 * gap / l < 0.5)
        return 0.0; /* the length difference alone rules it out */
    float row0[NM_MAX_TOKLEN + 1];
    float row1[NM_MAX_TOKLEN + 1];
    float *prev = row0;
    float *cur = row1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (float)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned char x = (unsigned char)a[i - 1] & 0x7f;
        /* vowels (spelled or not) and h (silent in John, Sarah) are cheap to drop */
        float ins = (nm_is_vowel((char)x) && !skeleton) ? 0.6f : x == 'h' ? 0.5f : 1.0f;
        cur[0] = (float)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned char y = (unsigned char)b[j - 1] & 0x7f;
            float del = (nm_is_vowel((char)y) && !skeleton) ? 0.6f : y == 'h' ? 0.5f : 1.0f;
            float v = prev[j - 1] + nm_cost[x][y];
            if (prev[j] + ins < v)
                v = prev[j] + ins;
            if (cur[j - 1] + del < v)
                v = cur[j - 1] + del;
            cur[j] = v;
        }
        float *t = prev;
        prev = cur;
        cur = t;
    }
    double d = prev[lb];
    if (skeleton && l <= 2.0 && d > 0.0)
        return 0.0; /* two-consonant skeletons must agree exactly */
    double sim = 1.0 - d / l;
    return sim < 0.0 ? 0.0 : sim;
}

/*
 * Similarity of the phonetic form @a of an Arabic- or Hebrew-script token (short vowels
 * unwritten; a, i, v are alef, yeh and waw) with the form @b of a token written with
 * vowels. Dropping @b's vowels is cheap, alef, yeh and waw may stand for @b's vowels or
 * for nothing, and a silent h is cheap; the distance is taken relative to the number of
 * consonants (@la, @lb: the skeleton lengths).
 */
static double nm_vlsim(const char *a, const char *b, size_t la, size_t lb)
{
    size_t na = strlen(a);
    size_t nb = strlen(b);
    if (na == 0 || nb == 0 || na > NM_MAX_TOKLEN || nb > NM_MAX_TOKLEN)
        return 0.0;
    float row0[NM_MAX_TOKLEN + 1];
    float row1[NM_MAX_TOKLEN + 1];
    float *prev = row0;
    float *cur = row1;
    prev[0] = 0.0f;
    for (size_t j = 1; j <= nb; j++) {
        char y = b[j - 1];
        prev[j] = prev[j - 1] + (nm_is_vowel(y) ? 0.15f : y == 'h' ? 0.3f : 1.0f);
    }
    for (size_t i = 1; i <= na; i++) {
        unsigned char x = (unsigned char)a[i - 1] & 0x7f;
        bool xv = nm_is_vowel((char)x);
        /* final heh is a vowel letter too (مولہ, גי מולה) */
        float ins = xv || x == 'v' || (x == 'h' && i == na) ? 0.3f : x == 'h' ? 0.5f : 1.0f;
        cur[0] = prev[0] + ins;
        for (size_t j = 1; j <= nb; j++) {
            unsigned char y = (unsigned char)b[j - 1] & 0x7f;
            bool yv = nm_is_vowel((char)y);
            float sub;
            if (xv && yv)
                sub = x == y ? 0.0f : 0.05f;
            else if (x == 'v' && (y == 'o' || y == 'u'))
                sub = 0.1f;
            else
                sub = nm_cost[x][y];
            float del = yv ? 0.15f : y == 'h' ? 0.3f : 1.0f;
            float v = prev[j - 1] + sub;
            if (prev[j] + ins < v)
                v = prev[j] + ins;
            if (cur[j - 1] + del < v)
                v = cur[j - 1] + del;
            cur[j] = v;
        }
        float *t = prev;
        prev = cur;
        cur = t;
    }
    double d = prev[nb];
    double l = (double)(la > lb ? la : lb);
    if (l < 1.0)
        l = 1.0;
    if (l <= 2.0 && d > 0.35)
        return 0.0;
    double sim = 1.0 - d / l;
    return sim < 0.0 ? 0.0 : sim;
}

static double nm_tok_sim_uncached(const struct nm_engine *e, uint32_t ia, uint32_t ib)
{
    const struct nm_tok *a = &e->toks[ia];
    const struct nm_tok *b = &e->toks[ib];
    if (!a->nforms || !b->nforms)
        return 0.0;
    if (a->initial || b->initial) {
        if (a->initial && b->initial)
            return a->rom[0] == b->rom[0] ? 0.9 : 0.0;
        return a->rom[0] == b->rom[0] ? 0.85 : 0.0;
    }
    double best = 0.0;
    /* lexicon forms (written with vowels) come last: without them a skeleton caps the score */
    bool capped = a->forms[a->nforms - 1].vowelless || b->forms[b->nforms - 1].vowelless;
    for (uint8_t i = 0; i < a->nforms; i++) {
        for (uint8_t j = 0; j < b->nforms; j++) {
            const struct nm_form *fa = &a->forms[i];
            const struct nm_form *fb = &b->forms[j];
            double s;
            if (fa->vowelless || fb->vowelless) {
                /*
                 * A skeleton match cannot be as sure as a spelling match, and a short
                 * skeleton ("l" for Ali) is weak evidence.
                 */
                size_t sl =
                    strlen(fa->skel) < strlen(fb->skel) ? strlen(fa->skel) : strlen(fb->skel);
                s = nm_strsim(fa->skel, fb->skel, true) * (sl >= 3 ? 0.95 : sl == 2 ? 0.88 : 0.75);
                if (fa->vowelless != fb->vowelless && s < 0.9) {
                    const struct nm_form *fv = fa->vowelless ? fa : fb;
                    const struct nm_form *fl = fa->vowelless ? fb : fa;
                    size_t lv = strlen(fv->skel);
                    size_t ll = strlen(fl->skel);
                    size_t lm = lv > ll ? lv : ll;
                    double s2 = nm_vlsim(fv->ph, fl->ph, lv, ll) * (lm >= 3   ? 0.95
                                                                    : lm == 2 ? 0.88
                                                                              : 0.75);
                    if (s2 > s)
                        s = s2;
                }
            } else {
                s = nm_strsim(fa->ph, fb->ph, false);
                size_t la = strlen(fa->ph);
                size_t lb = strlen(fb->ph);
                size_t lmin = la < lb ? la : lb;
                /* short forms of given names: Vic/Victor, Alex/Alexander */
                if (s < 0.8 && lmin >= 3 && la != lb && strncmp(fa->ph, fb->ph, lmin) == 0)
                    s = 0.8;
            }
            if (s > best)
                best = s;
            if (best >= 1.0 || (best >= 0.95 && capped))
                return best; /* nothing can beat it */
        }
    }
    return best;
}

/* Token pairs repeat (given names above all): a direct-mapped cache of their similarity. */
static double nm_tok_sim(struct nm_engine *e, uint32_t ia, uint32_t ib)
{
    if (ia == ib)
        return 1.0;
    if (ia > ib) {
        uint32_t t = ia;
        ia = ib;
        ib = t;
    }
    uint64_t key = ((uint64_t)ia << 32 | ib) + 1;
    size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - NM_PAIR_BITS));
    struct nm_pair *p = &e->pairs[slot];
    if (p->key == key)
        return p->sim;
    double s = nm_tok_sim_uncached(e, ia, ib);
    p->key = key;
    p->sim = (float)s;
    return s;
}

/*
 * name_score() - how likely @a and @b name one person, 0..1.
 *
 * Tokens are aligned greedily regardless of order. Every token of the shorter name must
 * find a partner ("Mohammad Bagheri" vs "Ali Bagheri Kani" fails on the given name);
 * extra tokens in the longer name (middle names) cost little. A one-token name can only
 * be the other's surname (its last token).
 */
static double nm_name_score(struct nm_engine *e, const struct nm_name *a, const struct nm_name *b)
{
    if (!a->n || !b->n)
        return 0.0;
    if (a->n == 1 || b->n == 1) {
        const struct nm_name *one = a->n == 1 ? a : b;
        const struct nm_name *many = a->n == 1 ? b : a;
        double s = nm_tok_sim(e, one->tok[0], many->tok[many->n - 1]);
        if (e->toks[one->tok[0]].initial)
            return 0.0;
        if (many->n == 1)
            return s;
        return s * 0.92;
    }
    double sim[NM_MAX_TOKS][NM_MAX_TOKS];
    for (uint8_t i = 0; i < a->n; i++) {
        for (uint8_t j = 0; j < b->n; j++)
            sim[i][j] = nm_tok_sim(e, a->tok[i], b->tok[j]);
    }
    bool used_a[NM_MAX_TOKS] = {false};
    bool used_b[NM_MAX_TOKS] = {false};
    double sum = 0.0;
    unsigned matched = 0;
    unsigned full = 0; /* matches that are not initials */
    double worst = 1.0;
    int match_of[NM_MAX_TOKS];
    for (uint8_t i = 0; i < NM_MAX_TOKS; i++)
        match_of[i] = -1;
    for (;;) {
        double best = 0.62;
        int bi = -1;
        int bj = -1;
        for (uint8_t i = 0; i < a->n; i++) {
            if (used_a[i])
                continue;
            for (uint8_t j = 0; j < b->n; j++) {
                if (!used_b[j] && sim[i][j] >= best) {
                    best = sim[i][j];
                    bi = i;
                    bj = j;
                }
            }
        }
        if (bi < 0)
            break;
        used_a[bi] = used_b[bj] = true;
        match_of[bi] = bj;
        sum += best;
        if (best < worst)
            worst = best;
        matched++;
        if (!e->toks[a->tok[bi]].initial && !e->toks[b->tok[bj]].initial)
            full++;
    }
    /* crossing alignments ("Paul Ryan" / "Ron Paul") are rarely one person */
    bool crossed = false;
    for (uint8_t i = 0; i < a->n && !crossed; i++) {
        for (uint8_t k = (uint8_t)(i + 1); k < a->n && !crossed; k++) {
            if (match_of[i] >= 0 && match_of[k] >= 0 && match_of[i] > match_of[k])
                crossed = true;
        }
    }
    if (crossed)
        sum -= NM_ORDER_PENALTY * (a->n < b->n ? a->n : b->n);
    if (worst < NM_WEAK_PAIR)
        sum -= (NM_WEAK_PAIR - worst) * NM_WEAK_PENALTY; /* one doubtful token taints it all */
    unsigned shorter = a->n < b->n ? a->n : b->n;
    unsigned longer = a->n < b->n ? b->n : a->n;
    if (full == 0)
        return 0.0;
    if (full < matched) {
        /*
         * An initial stood in for a written-out token while a written-out token of the
         * other name found no partner: "Lawrence J. Smith" is not "Jacqui Smith", nor
         * "John C. Danforth" "John Carter".
         */
        bool spare = false;
        for (uint8_t i = 0; i < a->n; i++)
            spare = spare || (!used_a[i] && !e->toks[a->tok[i]].initial);
        for (uint8_t j = 0; j < b->n; j++)
            spare = spare || (!used_b[j] && !e->toks[b->tok[j]].initial);
        if (spare)
            sum -= NM_INITIAL_PENALTY;
    }
    if (matched < shorter)
        return sum / shorter - 0.25 * (shorter - matched);
    return sum / shorter - 0.03 * (longer - shorter);
}

/* ---------------------------------------------------------------------------------------
 * Names and keys
 * ------------------------------------------------------------------------------------- */

static bool nm_is_sep(UChar32 c)
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
static bool nm_parse(struct nm_engine *e, const char *s, size_t len, struct nm_name *out)
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

/* The name's match key: its token skeletons, sorted, space-separated. */
static size_t nm_name_key(const struct nm_engine *e, const struct nm_name *nm, char *out,
                          size_t cap)
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

static bool nm_is_latin_text(const char *s, size_t len)
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

/* ---------------------------------------------------------------------------------------
 * Clusters and the blocking index
 * ------------------------------------------------------------------------------------- */

static int64_t nm_cluster_new(struct nm_engine *e, const char *id, const char *canonical,
                              bool gazetteer)
{
    if (!nm_grow(e, (void **)&e->cl, &e->capcl, e->ncl + 1, sizeof(*e->cl)))
        return -1;
    struct nm_cluster *c = &e->cl[e->ncl];
    memset(c, 0, sizeof(*c));
    if (id && !(c->id = nm_strndup(e, id, strlen(id))))
        return -1;
    if (canonical && !(c->canonical = nm_strndup(e, canonical, strlen(canonical)))) {
        nm_free(e, c->id);
        return -1;
    }
    c->gazetteer = gazetteer;
    return (int64_t)e->ncl++;
}

static bool nm_index_key(struct nm_engine *e, const char *key, uint32_t cluster)
{
    bool created;
    struct nm_slot *s = nm_map_put(e, &e->keymap, key, strlen(key), 0, &created);
    if (!s)
        return false;
    if (created) {
        if (!nm_grow(e, (void **)&e->lists, &e->caplists, e->nlists + 1, sizeof(*e->lists)))
            return false;
        memset(&e->lists[e->nlists], 0, sizeof(e->lists[0]));
        s->val = (uint32_t)e->nlists++;
    }
    struct nm_list *l = &e->lists[s->val];
    for (uint32_t i = l->n; i > 0 && i + 8 > l->n; i--) {
        if (l->v[i - 1] == cluster)
            return true;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap;
        void *v = l->v;
        if (!nm_grow(e, &v, &cap, (size_t)l->n + 1, sizeof(uint32_t)))
            return false;
        l->v = v;
        l->cap = (uint32_t)cap;
    }
    l->v[l->n++] = cluster;
    return true;
}

/* The romanised tokens in their order: how uncased text is matched, without fuzz. */
static size_t nm_exact_key(const struct nm_engine *e, const struct nm_name *nm, char *out,
                           size_t cap)
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

/* Add @nm as a compared spelling of @cluster (if new) and index its skeletons. */
static bool nm_cluster_add_name(struct nm_engine *e, uint32_t cluster, const struct nm_name *nm,
                                const char *key, size_t keylen)
{
    struct nm_cluster *c = &e->cl[cluster];
    char exact[512];
    size_t elen = nm_exact_key(e, nm, exact, sizeof(exact));
    if (elen && !nm_map_put(e, &e->exactmap, exact, elen, cluster, NULL))
        return false;
    uint64_t kh = nm_hash64(key, keylen);
    for (size_t i = 0; i < c->nreps; i++) {
        if (c->reps[i].keyhash == kh)
            return true;
    }
    if (c->nreps >= NM_MAX_REPS)
        return true;
    if (!nm_grow(e, (void **)&c->reps, &c->capreps, c->nreps + 1, sizeof(*c->reps)))
        return false;
    c->reps[c->nreps++] = (struct nm_rep){.name = *nm, .keyhash = kh};
    for (uint8_t i = 0; i < nm->n; i++) {
        const struct nm_tok *t = &e->toks[nm->tok[i]];
        if (t->initial)
            continue;
        for (uint8_t f = 0; f < t->nforms; f++) {
            if (!nm_index_key(e, t->forms[f].skel, cluster))
                return false;
            if (t->forms[f].coarse[0] && !nm_index_key(e, t->forms[f].coarse, cluster))
                return false;
        }
    }
    return true;
}

static bool nm_cluster_add_spelling(struct nm_engine *e, uint32_t cluster, const char *text,
                                    size_t len, uint32_t count)
{
    struct nm_cluster *c = &e->cl[cluster];
    c->dirty = true;
    c->canon_valid = false;
    for (size_t i = 0; i < c->nspell; i++) {
        if (strlen(c->spell[i].text) == len && memcmp(c->spell[i].text, text, len) == 0) {
            c->spell[i].count += count;
            return true;
        }
    }
    if (c->nspell >= 64)
        return true;
    if (!nm_grow(e, (void **)&c->spell, &c->capspell, c->nspell + 1, sizeof(*c->spell)))
        return false;
    char *copy = nm_strndup(e, text, len);
    if (!copy)
        return false;
    c->spell[c->nspell++] = (struct nm_spell){copy, count, nm_is_latin_text(text, len)};
    return true;
}

/*
 * The best cluster for @nm, or -1 with *@score the best seen. Candidates come from the
 * blocking index: a cluster must share two skeletons with the name, or one rare one.
 */
/*
 * One candidate pass of nm_lookup(): skeleton keys only, or (@coarse) coarse keys too,
 * skipping the @nskip clusters in @skip. The clusters scored go to @scored (NM_MAX_CANDS).
 */
static int64_t nm_lookup_pass(struct nm_engine *e, const struct nm_name *nm, double *score,
                              unsigned *rep_n, bool coarse, const uint32_t *skip, size_t nskip,
                              uint32_t *scored, size_t *nscored)
{
    *score = 0.0;
    if (rep_n)
        *rep_n = 0;
    if (!nm->n)
        return -1;
    if (!nm_grow(e, (void **)&e->cand_mark, &e->cap_mark, e->ncl + 1, sizeof(uint32_t)))
        return -1;
    uint32_t cands[NM_MAX_CANDS];
    size_t ncand = 0;
    /*
     * cand_mark[c] holds epoch << 12 | (last token that counted + 1) << 8 | shared count
     * for the current look-up: each token counts once, whatever its forms.
     */
    e->epoch++;
    if (e->epoch >= (1u << 19)) {
        memset(e->cand_mark, 0, e->mark_len * sizeof(uint32_t));
        e->epoch = 1;
    }
    if (e->mark_len < e->cap_mark) {
        memset(e->cand_mark + e->mark_len, 0, (e->cap_mark - e->mark_len) * sizeof(uint32_t));
        e->mark_len = e->cap_mark;
    }
    uint32_t need = nm->n >= 2 ? 2 : 1;
    uint32_t common[NM_MAX_TOKS * 2];
    uint32_t common_tok[NM_MAX_TOKS * 2];
    size_t ncommon = 0;
    for (uint8_t i = 0; i < nm->n; i++) {
        const struct nm_tok *t = &e->toks[nm->tok[i]];
        if (t->initial)
            continue;
        uint32_t seen_lists[2 * NM_MAX_FORMS];
        size_t nseen_lists = 0;
        for (uint8_t f = 0; f < 2 * t->nforms; f += coarse ? 1 : 2) {
            const char *k = f & 1 ? t->forms[f / 2].coarse : t->forms[f / 2].skel;
            struct nm_slot *s = k[0] ? nm_map_find(&e->keymap, k, strlen(k)) : NULL;
            if (!s)
                continue;
            bool dup = false;
            for (size_t q = 0; q < nseen_lists; q++)
                dup = dup || seen_lists[q] == s->val;
            if (dup)
                continue;
            seen_lists[nseen_lists++] = s->val;
            const struct nm_list *l = &e->lists[s->val];
            if (l->n > NM_COMMON_KEY) {
                if (f & 1)
                    continue; /* a common coarse key is no evidence worth a scan */
                if (ncommon < NM_MAX_TOKS * 2) {
                    common_tok[ncommon] = i;
                    common[ncommon++] = s->val;
                }
                continue;
            }
            bool rare = l->n <= NM_RARE_KEY;
            for (uint32_t j = 0; j < l->n; j++) {
                uint32_t c = l->v[j];
                uint32_t mark = e->cand_mark[c];
                bool now = (mark >> 12) == e->epoch;
                uint32_t cnt = now ? (mark & 0xff) : 0;
                if (cnt == 0xff || (now && ((mark >> 8) & 0xf) == (uint32_t)i + 1))
                    continue;
                cnt++;
                e->cand_mark[c] = (e->epoch << 12) | ((uint32_t)i + 1) << 8 | cnt;
                if ((cnt == need || (rare && cnt == 1)) && ncand < NM_MAX_CANDS) {
                    bool dup2 = false;
                    for (size_t q = 0; q < ncand; q++)
                        dup2 = dup2 || cands[q] == c;
                    if (!dup2)
                        cands[ncand++] = c;
                }
            }
        }
    }
    /*
     * A common skeleton ("jn" for John) finds nothing on its own, but it still counts
     * for clusters another skeleton of the name found ("John Young" / "جان یانگ").
     */
    for (size_t k = 0; k < ncommon && ncand < NM_MAX_CANDS; k++) {
        const struct nm_list *l = &e->lists[common[k]];
        uint32_t from = l->n > NM_COMMON_SCAN ? l->n - NM_COMMON_SCAN : 0;
        for (uint32_t j = from; j < l->n && ncand < NM_MAX_CANDS; j++) {
            uint32_t c = l->v[j];
            uint32_t mark = e->cand_mark[c];
            uint32_t cnt = (mark >> 12) == e->epoch ? (mark & 0xff) : 0;
            if (cnt == 0 || cnt == 0xff || ((mark >> 8) & 0xf) == common_tok[k] + 1)
                continue;
            cnt++;
            e->cand_mark[c] = (e->epoch << 12) | (common_tok[k] + 1) << 8 | cnt;
            if (cnt == need) {
                bool dup = false;
                for (size_t q = 0; q < ncand; q++)
                    dup = dup || cands[q] == c;
                if (!dup)
                    cands[ncand++] = c;
            }
        }
    }
    int64_t best = -1;
    for (size_t i = 0; i < ncand; i++) {
        if ((int64_t)cands[i] == e->exclude)
            continue;
        bool done = false;
        for (size_t q = 0; q < nskip && !done; q++)
            done = skip[q] == cands[i];
        if (done)
            continue;
        if (scored)
            scored[(*nscored)++] = cands[i];
        const struct nm_cluster *c = &e->cl[cands[i]];
        /*
         * Chains drift: a name must still resemble the cluster's first spelling with
         * vowels (an Arabic-script skeleton is too vague an anchor).
         */
        const struct nm_rep *anchor = NULL;
        for (size_t r = 0; r < c->nreps && !anchor; r++) {
            bool vowels = true;
            for (uint8_t k = 0; k < c->reps[r].name.n; k++)
                vowels = vowels && !e->toks[c->reps[r].name.tok[k]].forms[0].vowelless;
            if (vowels)
                anchor = &c->reps[r];
        }
        if (c->nreps > 1 && anchor && nm_name_score(e, nm, &anchor->name) < e->threshold - NM_DRIFT)
            continue;
        for (size_t r = 0; r < c->nreps; r++) {
            double s = nm_name_score(e, nm, &c->reps[r].name);
            if (s > *score ||
                (s == *score && best >= 0 && c->gazetteer && !e->cl[best].gazetteer)) {
                *score = s;
                best = cands[i];
                if (rep_n)
                    *rep_n = c->reps[r].name.n;
            }
        }
    }
    return *score >= e->threshold ? best : -1;
}

/*
 * The cluster @nm belongs to, or -1; @score is the best comparison score. Coarse keys are
 * only consulted when the skeleton keys found no cluster: most names do not need them.
 */
static int64_t nm_lookup(struct nm_engine *e, const struct nm_name *nm, double *score,
                         unsigned *rep_n)
{
    uint32_t scored[NM_MAX_CANDS];
    size_t nscored = 0;
    int64_t best = nm_lookup_pass(e, nm, score, rep_n, false, NULL, 0, scored, &nscored);
    if (best >= 0 || !nm->n)
        return best;
    double s2;
    unsigned r2;
    int64_t b2 = nm_lookup_pass(e, nm, &s2, &r2, true, scored, nscored, NULL, NULL);
    if (s2 > *score) {
        *score = s2;
        if (rep_n)
            *rep_n = r2;
    }
    return b2;
}

static void nm_store_warn(struct nm_engine *e, struct wp_ctx *ctx, enum wp_status st)
{
    if (!e->store_warned && ctx)
        wp_log_warn(ctx, "state store unavailable (%s): name clusters are not persisted",
                    e->host->status_name(st));
    e->store_warned = true;
    e->persist = false;
}

/*
 * The store holds, in namespace "names.cluster":
 *   "#<id>"       -> {"canonical", "id", "variants": {spelling: count}}  one cluster
 *   "<match key>" -> "<id>"                                             a full name
 *   "~<skeleton>" -> ["<id>", ...]                                      a name token
 * so a later "Bāqerī" (key "bgr") finds yesterday's "Mohammad Bagheri" through its token.
 */
static bool nm_store_get_json(struct nm_engine *e, struct wp_ctx *ctx, const char *key, size_t len,
                              json_t **out)
{
    *out = NULL;
    if (!e->persist)
        return false;
    char *value = NULL;
    size_t vlen = 0;
    enum wp_status st = e->host->store_get(ctx, NM_STORE_NS, key, len, &value, &vlen);
    if (st == WP_E_NOTFOUND)
        return false;
    if (st != WP_OK) {
        nm_store_warn(e, ctx, st);
        return false;
    }
    json_error_t jerr;
    *out = json_loadb(value, vlen, JSON_DECODE_ANY, &jerr);
    nm_free(e, value);
    if (!*out)
        wp_log_warn(ctx, "ignoring a malformed stored value for key '%.*s'", (int)len, key);
    return *out != NULL;
}

/* Load stored cluster @id into memory (once). */
static void nm_store_load_id(struct nm_engine *e, struct wp_ctx *ctx, const char *id)
{
    char key[300];
    int klen = snprintf(key, sizeof(key), "#%s", id);
    bool created;
    if (klen <= 0 || (size_t)klen >= sizeof(key) ||
        !nm_map_put(e, &e->loaded, key, (size_t)klen, 0, &created) || !created)
        return;
    json_t *rec;
    if (!nm_store_get_json(e, ctx, key, (size_t)klen, &rec))
        return;
    json_t *variants = json_object_get(rec, "variants");
    if (!json_is_object(variants)) {
        json_decref(rec);
        return;
    }
    int64_t c = -1;
    struct nm_slot *g = nm_map_find(&e->gazmap, id, strlen(id));
    if (g)
        c = g->val;
    for (size_t i = 0; c < 0 && i < e->ncl; i++) {
        if (e->cl[i].id && strcmp(e->cl[i].id, id) == 0)
            c = (int64_t)i;
    }
    if (c < 0)
        c = nm_cluster_new(e, id, NULL, false);
    const char *spelling;
    json_t *count;
    json_object_foreach(variants, spelling, count)
    {
        struct nm_name nm;
        char k[256];
        size_t slen = strlen(spelling);
        if (c < 0 || !json_is_integer(count) || !nm_parse(e, spelling, slen, &nm) || !nm.n)
            continue;
        size_t kl = nm_name_key(e, &nm, k, sizeof(k));
        json_int_t n = json_integer_value(count);
        nm_cluster_add_name(e, (uint32_t)c, &nm, k, kl);
        nm_cluster_add_spelling(e, (uint32_t)c, spelling, slen,
                                n > 0 && n < 1000000 ? (uint32_t)n : 1);
    }
    if (c >= 0)
        e->cl[c].dirty = false;
    json_decref(rec);
}

/* Bring every stored cluster that @nm could join into memory (its key and its tokens). */
static void nm_store_load(struct nm_engine *e, struct wp_ctx *ctx, const struct nm_name *nm,
                          const char *key, size_t len)
{
    bool created;
    if (!e->persist || !nm_map_put(e, &e->loaded, key, len, 0, &created) || !created)
        return;
    json_t *v;
    if (nm_store_get_json(e, ctx, key, len, &v)) {
        if (json_is_string(v))
            nm_store_load_id(e, ctx, json_string_value(v));
        json_decref(v);
    }
    for (uint8_t i = 0; i < nm->n && e->persist; i++) {
        const char *skel = e->toks[nm->tok[i]].forms[0].skel;
        char tk[NM_MAX_TOKLEN + 2];
        int tl = snprintf(tk, sizeof(tk), "~%s", skel);
        if (e->toks[nm->tok[i]].initial || tl <= 0 || (size_t)tl >= sizeof(tk) ||
            !nm_map_put(e, &e->loaded, tk, (size_t)tl, 0, &created) || !created)
            continue;
        if (!nm_store_get_json(e, ctx, tk, (size_t)tl, &v))
            continue;
        size_t idx;
        json_t *id;
        json_array_foreach(v, idx, id)
        {
            if (json_is_string(id))
                nm_store_load_id(e, ctx, json_string_value(id));
        }
        json_decref(v);
    }
}

/*
 * Assign one name to a cluster (joining the best or founding one). Returns the cluster
 * or -1 (no content tokens, or no memory: see e->oom).
 */
static int64_t nm_assign(struct nm_engine *e, struct wp_ctx *ctx, const char *text, size_t len,
                         double *score, bool count_spelling)
{
    struct nm_slot *seen = nm_map_find(&e->namemap, text, len);
    if (seen) {
        struct nm_seen *sn = &e->seen[seen->val];
        *score = sn->score;
        if (count_spelling)
            nm_cluster_add_spelling(e, sn->cluster, text, len, 1);
        return sn->cluster;
    }
    struct nm_name nm;
    if (!nm_parse(e, text, len, &nm) || !nm.n)
        return -1;
    char key[256];
    size_t klen = nm_name_key(e, &nm, key, sizeof(key));
    nm_store_load(e, ctx, &nm, key, klen);
    int64_t c = nm_lookup(e, &nm, score, NULL);
    if (c < 0) {
        char id[32];
        snprintf(id, sizeof(id), "wp:%016llx", (unsigned long long)nm_hash64(key, klen));
        c = nm_cluster_new(e, id, NULL, false);
        *score = 1.0;
        if (c < 0)
            return -1;
    }
    if (*score > 1.0)
        *score = 1.0;
    if (!nm_cluster_add_name(e, (uint32_t)c, &nm, key, klen) ||
        (count_spelling && !nm_cluster_add_spelling(e, (uint32_t)c, text, len, 1)))
        return -1;
    if (nm_grow(e, (void **)&e->seen, &e->capseen, e->nseen + 1, sizeof(*e->seen)) &&
        nm_map_put(e, &e->namemap, text, len, (uint32_t)e->nseen, NULL))
        e->seen[e->nseen++] = (struct nm_seen){(uint32_t)c, (float)*score};
    return c;
}

/* Title-case an ASCII romanisation: "mhmd bagheri" -> "Mhmd Bagheri". */
static char *nm_titlecase_rom(struct nm_engine *e, const char *text)
{
    struct nm_name nm;
    char out[512];
    size_t k = 0;
    if (!nm_parse(e, text, strlen(text), &nm))
        return NULL;
    for (uint8_t i = 0; i < nm.n; i++) {
        const char *r = e->toks[nm.tok[i]].rom;
        int w = snprintf(out + k, sizeof(out) - k, "%s%c%s", i ? " " : "",
                         r[0] >= 'a' && r[0] <= 'z' ? r[0] - 'a' + 'A' : r[0], r[0] ? r + 1 : "");
        if (w < 0 || (size_t)w >= sizeof(out) - k)
            break;
        k += (size_t)w;
    }
    return nm_strndup(e, out, k);
}

/* How many other spellings of the cluster share each token of @sp, averaged per token. */
static double nm_support(struct nm_engine *e, const struct nm_cluster *c, const struct nm_spell *sp,
                         unsigned *ntok)
{
    struct nm_name a;
    *ntok = 0;
    if (!nm_parse(e, sp->text, strlen(sp->text), &a) || !a.n)
        return 0.0;
    *ntok = a.n;
    double total = 0.0;
    for (size_t k = 0; k < c->nspell; k++) {
        struct nm_name b;
        if (&c->spell[k] == sp || !nm_parse(e, c->spell[k].text, strlen(c->spell[k].text), &b))
            continue;
        for (uint8_t i = 0; i < a.n; i++) {
            for (uint8_t j = 0; j < b.n; j++) {
                if (nm_tok_sim(e, a.tok[i], b.tok[j]) >= 0.85) {
                    total += c->spell[k].count;
                    break;
                }
            }
        }
    }
    return total / a.n;
}

/*
 * The canonical spelling: the gazetteer's; else the most frequent Latin-script spelling
 * (ties: the one whose tokens the other spellings share most, then the shorter); else
 * the ICU romanisation. Borrowed; cached until the cluster gains a spelling.
 */
static const char *nm_canonical(struct nm_engine *e, uint32_t cluster)
{
    struct nm_cluster *c = &e->cl[cluster];
    if (c->canonical && (c->gazetteer || c->canon_valid))
        return c->canonical;
    const struct nm_spell *best = NULL;
    double best_support = 0.0;
    unsigned best_full = 0;
    for (size_t i = 0; i < c->nspell; i++) {
        const struct nm_spell *sp = &c->spell[i];
        if (!sp->latin || (best && sp->count < best->count))
            continue;
        unsigned ntok;
        double support = nm_support(e, c, sp, &ntok);
        unsigned full = ntok >= 2; /* a full name beats a lone surname */
        bool better = !best || sp->count > best->count;
        if (!better && full != best_full)
            better = full > best_full;
        else if (!better && support != best_support)
            better = support > best_support;
        else if (!better)
            better = strlen(sp->text) < strlen(best->text);
        if (better) {
            best = sp;
            best_support = support;
            best_full = full;
        }
    }
    nm_free(e, c->canonical);
    c->canonical = NULL;
    if (best)
        c->canonical = nm_strndup(e, best->text, strlen(best->text));
    else if (c->nspell)
        c->canonical = nm_titlecase_rom(e, c->spell[0].text);
    c->canon_valid = c->canonical != NULL;
    return c->canonical ? c->canonical : "";
}

static void nm_store_put_value(struct nm_engine *e, struct wp_ctx *ctx, const char *key,
                               size_t klen, json_t *value)
{
    size_t vlen = value ? json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) : 0;
    char *buf = vlen ? nm_alloc(e, vlen) : NULL;
    if (buf && json_dumpb(value, buf, vlen, JSON_COMPACT | JSON_ENCODE_ANY) == vlen) {
        enum wp_status st = e->host->store_put(ctx, NM_STORE_NS, key, klen, buf, vlen, 0);
        if (st != WP_OK)
            nm_store_warn(e, ctx, st);
    } else {
        e->oom = true;
    }
    nm_free(e, buf);
}

/* Write every cluster that gained spellings, with its full-name and token keys. */
static void nm_store_save(struct nm_engine *e, struct wp_ctx *ctx)
{
    for (size_t i = 0; i < e->ncl && e->persist && !e->oom; i++) {
        struct nm_cluster *c = &e->cl[i];
        if (!c->dirty || !c->nspell || !c->id)
            continue;
        json_t *variants = json_object();
        for (size_t s = 0; s < c->nspell && s < 32; s++)
            json_object_set_new(variants, c->spell[s].text, json_integer(c->spell[s].count));
        json_t *rec = json_pack("{s:s,s:s,s:o}", "canonical", nm_canonical(e, (uint32_t)i), "id",
                                c->id, "variants", variants);
        char key[300];
        int kl = snprintf(key, sizeof(key), "#%s", c->id);
        if (kl > 0 && (size_t)kl < sizeof(key))
            nm_store_put_value(e, ctx, key, (size_t)kl, rec);
        json_decref(rec);
        json_t *idv = json_string(c->id);
        for (size_t s = 0; s < c->nspell && e->persist; s++) {
            struct nm_name nm;
            if (!nm_parse(e, c->spell[s].text, strlen(c->spell[s].text), &nm) || !nm.n)
                continue;
            size_t klen = nm_name_key(e, &nm, key, sizeof(key));
            nm_store_put_value(e, ctx, key, klen, idv);
            for (uint8_t t = 0; t < nm.n && e->persist; t++) {
                const struct nm_tok *tok = &e->toks[nm.tok[t]];
                char tk[NM_MAX_TOKLEN + 2];
                int tl = snprintf(tk, sizeof(tk), "~%s", tok->forms[0].skel);
                if (tok->initial || tl <= 0 || (size_t)tl >= sizeof(tk))
                    continue;
                json_t *ids;
                if (!nm_store_get_json(e, ctx, tk, (size_t)tl, &ids) || !json_is_array(ids)) {
                    json_decref(ids);
                    ids = json_array();
                }
                bool have = false;
                size_t idx;
                json_t *id;
                json_array_foreach(ids, idx, id) have = have || json_equal(id, idv);
                if (!have && json_array_size(ids) < 32) {
                    json_array_append(ids, idv);
                    nm_store_put_value(e, ctx, tk, (size_t)tl, ids);
                }
                json_decref(ids);
            }
        }
        json_decref(idv);
        c->dirty = false;
    }
}

/* ---------------------------------------------------------------------------------------
 * Gazetteer
 * ------------------------------------------------------------------------------------- */

static void nm_lex_add(struct nm_engine *e, const char *tok, size_t tlen, const char *lat,
                       uint32_t count)
{
    char low[256];
    size_t llen = nm_fold(tok, tlen, low, sizeof(low));
    bool created;
    if (!llen)
        return;
    struct nm_slot *s = nm_map_put(e, &e->lexmap, low, llen, 0, &created);
    if (!s)
        return;
    if (created) {
        if (!nm_grow(e, (void **)&e->lex, &e->caplex, e->nlex + 1, sizeof(*e->lex)))
            return;
        memset(&e->lex[e->nlex], 0, sizeof(e->lex[0]));
        s->val = (uint32_t)e->nlex++;
    }
    struct nm_lex *lx = &e->lex[s->val];
    for (int i = 0; i < 3; i++) {
        if (lx->alt[i] && strcmp(lx->alt[i], lat) == 0) {
            lx->cnt[i] += count;
            return;
        }
    }
    /* keep the three most frequent spellings */
    int slot = -1;
    for (int i = 0; i < 3 && slot < 0; i++) {
        if (!lx->alt[i])
            slot = i;
    }
    if (slot < 0) {
        int low_i = 0;
        for (int i = 1; i < 3; i++) {
            if (lx->cnt[i] < lx->cnt[low_i])
                low_i = i;
        }
        if (lx->cnt[low_i] >= count)
            return;
        nm_free(e, lx->alt[low_i]);
        lx->alt[low_i] = NULL;
        slot = low_i;
    }
    lx->alt[slot] = nm_strndup(e, lat, strlen(lat));
    lx->cnt[slot] = count;
}

/* Split @line at tabs into at most @max fields; returns the count. */
static size_t nm_split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static bool nm_gaz_person(struct nm_engine *e, const char *qid, const char *canonical,
                          const char *variant)
{
    char gk[512];
    if (qid[0])
        snprintf(gk, sizeof(gk), "%s", qid);
    else
        snprintf(gk, sizeof(gk), "=%s", canonical);
    bool created;
    struct nm_slot *s = nm_map_put(e, &e->gazmap, gk, strlen(gk), 0, &created);
    if (!s)
        return false;
    if (created) {
        int64_t c = nm_cluster_new(e, qid[0] ? qid : NULL, canonical, true);
        if (c < 0)
            return false;
        if (!qid[0]) {
            char id[32];
            snprintf(id, sizeof(id), "wp:%016llx",
                     (unsigned long long)nm_hash64(canonical, strlen(canonical)));
            e->cl[c].id = nm_strndup(e, id, strlen(id));
        }
        s->val = (uint32_t)c;
    } else if (canonical[0]) {
        /* a later layer renames the person */
        struct nm_cluster *c = &e->cl[s->val];
        if (!c->canonical || strcmp(c->canonical, canonical) != 0) {
            nm_free(e, c->canonical);
            c->canonical = nm_strndup(e, canonical, strlen(canonical));
        }
    }
    uint32_t c = s->val;
    struct nm_name nm;
    char key[256];
    size_t vlen = strlen(variant);
    if (!nm_parse(e, variant, vlen, &nm))
        return false;
    if (!nm.n)
        return true;
    size_t klen = nm_name_key(e, &nm, key, sizeof(key));
    if (!nm_cluster_add_name(e, c, &nm, key, klen))
        return false;
    if (!nm_cluster_add_spelling(e, c, variant, vlen, 1))
        return false;
    e->cl[c].dirty = false;
    const struct nm_tok *first = &e->toks[nm.tok[0]];
    if (nm.n >= 2 && !first->initial && first->script != NM_ARABIC && first->script != NM_HEBREW &&
        first->nforms) {
        const char *ph = first->forms[0].ph;
        if (!nm_map_put(e, &e->givenmap, ph, strlen(ph), 0, NULL))
            return false;
    }
    return true;
}

/* Load one gazetteer file; pass 0 reads the token lexicon, pass 1 the persons. */
static enum wp_status nm_gaz_load(struct nm_engine *e, struct wp_ctx *ctx, const char *path,
                                  int pass)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        wp_fail(ctx, WP_E_CONFIG, "cannot open gazetteer '%s': %s", path, strerror(errno));
        return WP_E_CONFIG;
    }
    char line[4096];
    unsigned long lineno = 0;
    unsigned long bad = 0;
    unsigned long first_bad = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            bad++;
            first_bad = first_bad ? first_bad : lineno;
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char *fields[6] = {NULL};
        size_t n = nm_split_tabs(line, fields, 6);
        json_t *check = json_stringn(line, len); /* valid UTF-8 only */
        bool utf8 = check != NULL;
        json_decref(check);
        if (!utf8 || (fields[0][0] == 'P' && n != 5) || (fields[0][0] == 'T' && n != 4) ||
            (fields[0][0] != 'P' && fields[0][0] != 'T') || fields[0][1]) {
            bad++;
            first_bad = first_bad ? first_bad : lineno;
            continue;
        }
        if (pass == 0 && fields[0][0] == 'T') {
            char *end;
            errno = 0;
            unsigned long cnt = strtoul(fields[3], &end, 10);
            if (errno || *end || !fields[1][0] || !fields[2][0]) {
                bad++;
                first_bad = first_bad ? first_bad : lineno;
                continue;
            }
            nm_lex_add(e, fields[1], strlen(fields[1]), fields[2],
                       cnt > 1000000 ? 1000000 : (uint32_t)cnt);
        } else if (pass == 1 && fields[0][0] == 'P') {
            if (!fields[2][0] || !fields[4][0] ||
                (fields[1][0] && (fields[1][0] != 'Q' ||
                                  strspn(fields[1] + 1, "0123456789") != strlen(fields[1] + 1)))) {
                bad++;
                first_bad = first_bad ? first_bad : lineno;
                continue;
            }
            if (!nm_gaz_person(e, fields[1], fields[2], fields[4]))
                break;
        }
        if (e->oom)
            break;
    }
    fclose(f);
    if (e->oom) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory loading gazetteer '%s'", path);
        return WP_E_NOMEM;
    }
    if (bad && pass == 1)
        wp_log_warn(ctx, "gazetteer '%s': skipped %lu malformed line(s), the first at line %lu",
                    path, bad, first_bad);
    return WP_OK;
}

/* The shipped gazetteer sits in "names/" next to this plugin's .so (build and install). */
static bool nm_default_gazetteer(char *out, size_t cap)
{
    Dl_info info;
    if (!dladdr(nm_rules, &info) || !info.dli_fname)
        return false;
    const char *slash = strrchr(info.dli_fname, '/');
    int dirlen = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    int w = snprintf(out, cap, "%.*s/names/%s", dirlen, dir, NM_GAZ_FILE);
    return w > 0 && (size_t)w < cap;
}

/* ---------------------------------------------------------------------------------------
 * Engine life cycle
 * ------------------------------------------------------------------------------------- */

static void nm_engine_free(struct nm_engine *e)
{
    if (!e)
        return;
    if (e->trans)
        utrans_close(e->trans);
    for (size_t i = 0; i < e->ntoks; i++)
        nm_free(e, e->toks[i].rom);
    nm_free(e, e->toks);
    for (size_t i = 0; i < e->nlex; i++) {
        for (int j = 0; j < 3; j++)
            nm_free(e, e->lex[i].alt[j]);
    }
    nm_free(e, e->lex);
    for (size_t i = 0; i < e->nlists; i++)
        nm_free(e, e->lists[i].v);
    nm_free(e, e->lists);
    for (size_t i = 0; i < e->ncl; i++) {
        struct nm_cluster *c = &e->cl[i];
        nm_free(e, c->id);
        nm_free(e, c->canonical);
        nm_free(e, c->reps);
        for (size_t s = 0; s < c->nspell; s++)
            nm_free(e, c->spell[s].text);
        nm_free(e, c->spell);
    }
    nm_free(e, e->cl);
    nm_free(e, e->seen);
    nm_free(e, e->cand_mark);
    nm_map_clear(e, &e->tokmap);
    nm_map_clear(e, &e->lexmap);
    nm_map_clear(e, &e->keymap);
    nm_map_clear(e, &e->gazmap);
    nm_map_clear(e, &e->givenmap);
    nm_map_clear(e, &e->namemap);
    nm_map_clear(e, &e->exactmap);
    nm_map_clear(e, &e->loaded);
    e->host->free(e);
}

/* Build the engine from the common config keys: gazetteer, no_gazetteer, persist, threshold. */
static enum wp_status nm_engine_new(struct wp_ctx *ctx, const json_t *config,
                                    struct nm_engine **out)
{
    struct nm_engine *e = ctx->host->malloc(sizeof(*e));
    if (!e) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    memset(e, 0, sizeof(*e));
    e->host = ctx->host;
    e->threshold = 0.8;
    e->exclude = -1;
    pthread_once(&nm_cost_once, nm_cost_init);
    json_t *th = json_object_get(config, "threshold");
    if (json_is_number(th))
        e->threshold = json_number_value(th);
    if (e->threshold <= 0.0 || e->threshold > 1.0) {
        wp_fail(ctx, WP_E_CONFIG, "threshold: expected a number in (0, 1], got %g", e->threshold);
        nm_engine_free(e);
        return WP_E_CONFIG;
    }
    e->persist = json_is_true(json_object_get(config, "persist"));

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
        nm_engine_free(e);
        return WP_E_CONFIG;
    }

    const char *paths[64];
    size_t npaths = 0;
    char shipped[4096];
    if (!json_is_true(json_object_get(config, "no_gazetteer"))) {
        if (!nm_default_gazetteer(shipped, sizeof(shipped))) {
            wp_fail(ctx, WP_E_CONFIG, "cannot locate the shipped gazetteer");
            nm_engine_free(e);
            return WP_E_CONFIG;
        }
        paths[npaths++] = shipped;
    }
    json_t *list = json_object_get(config, "gazetteer");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v) || npaths >= sizeof(paths) / sizeof(paths[0])) {
            wp_fail(ctx, WP_E_CONFIG, "gazetteer[%zu]: expected a file path (at most 63)", i);
            nm_engine_free(e);
            return WP_E_CONFIG;
        }
        paths[npaths++] = json_string_value(v);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t p = 0; p < npaths; p++) {
            enum wp_status gs = nm_gaz_load(e, ctx, paths[p], pass);
            if (gs != WP_OK) {
                nm_engine_free(e);
                return gs;
            }
        }
    }
    *out = e;
    return WP_OK;
}

/*
 * Clustering one name at a time depends on order: a spelling that came before its
 * person's cluster took shape founded a cluster of its own. Second chance: every small
 * cluster that did not come from the gazetteer looks again for a home among the others.
 * @fwd[c] receives the cluster @c was merged into (itself when kept).
 */
static bool nm_merge_small(struct nm_engine *e, uint32_t *fwd, size_t ncl)
{
    for (size_t c = 0; c < ncl; c++)
        fwd[c] = (uint32_t)c;
    for (size_t c = 0; c < ncl; c++) {
        struct nm_cluster *cl = &e->cl[c];
        if (cl->gazetteer || cl->nreps > 2 || !cl->nreps)
            continue;
        e->exclude = (int64_t)c;
        int64_t best = -1;
        double best_score = 0.0;
        for (size_t r = 0; r < cl->nreps; r++) {
            double score;
            int64_t t = nm_lookup(e, &cl->reps[r].name, &score, NULL);
            if (t >= 0 && score >= e->threshold + NM_MERGE_MARGIN && score > best_score) {
                best = t;
                best_score = score;
            }
        }
        e->exclude = -1;
        while (best >= 0 && fwd[best] != (uint32_t)best)
            best = fwd[best];
        if (best < 0 || best == (int64_t)c)
            continue;
        /* move the spellings over; the emptied cluster drops out of look-ups */
        for (size_t r = 0; r < cl->nreps; r++) {
            char key[256];
            size_t klen = nm_name_key(e, &cl->reps[r].name, key, sizeof(key));
            if (!nm_cluster_add_name(e, (uint32_t)best, &cl->reps[r].name, key, klen))
                return false;
        }
        for (size_t s = 0; s < cl->nspell; s++) {
            if (!nm_cluster_add_spelling(e, (uint32_t)best, cl->spell[s].text,
                                         strlen(cl->spell[s].text), cl->spell[s].count))
                return false;
        }
        cl->nreps = 0;
        cl->dirty = false;
        fwd[c] = (uint32_t)best;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Stage "names_cluster": cluster every name of the input together
 * ------------------------------------------------------------------------------------- */

struct nm_cluster_stage {
    struct nm_engine *e;
    json_t *held; /* items in input order */
};

static enum wp_status nm_cluster_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct nm_cluster_stage *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->held = json_array();
    enum wp_status s = st->held ? nm_engine_new(ctx, config, &st->e) : WP_E_NOMEM;
    if (s != WP_OK) {
        json_decref(st->held);
        ctx->host->free(st);
        return s;
    }
    *instance = st;
    return WP_OK;
}

static enum wp_outcome nm_cluster_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct nm_cluster_stage *st = instance;
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "expected an object {line, name}");
        return WP_OUTCOME_REJECT;
    }
    if (!json_object_get(item, "error")) {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!name) {
            wp_fail(ctx, WP_E_INVALID, "item has neither a 'name' string nor an 'error'");
            return WP_OUTCOME_REJECT;
        }
        if (json_string_length(json_object_get(item, "name")) > NM_MAX_NAME) {
            /* absurdly long: passed through as a bad line, like the CLI's own checks */
            json_t *bad = json_deep_copy(item);
            if (!bad || json_object_set_new(bad, "error", json_string("name too long")) ||
                json_array_append_new(st->held, bad)) {
                wp_fail(ctx, WP_E_NOMEM, "out of memory");
                return WP_OUTCOME_FATAL;
            }
            return WP_OUTCOME_OK; /* held: WP_STAGE_EMIT_ONLY passes nothing on now */
        }
    }
    if (json_array_append(st->held, item)) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_OUTCOME_FATAL;
    }
    /* held back until flush, which emits every line in input order */
    return WP_OUTCOME_OK;
}

static enum wp_outcome nm_cluster_flush(void *instance, struct wp_ctx *ctx)
{
    struct nm_cluster_stage *st = instance;
    struct nm_engine *e = st->e;
    size_t n = json_array_size(st->held);
    struct nm_seen *res = n ? ctx->host->malloc(n * sizeof(*res)) : NULL;
    if (n && !res) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_OUTCOME_FATAL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(st->held, i);
        res[i].cluster = UINT32_MAX;
        res[i].score = 0.0f;
        if (json_object_get(item, "error"))
            continue;
        json_t *name = json_object_get(item, "name");
        double score = 0.0;
        int64_t c =
            nm_assign(e, ctx, json_string_value(name), json_string_length(name), &score, true);
        if (e->oom) {
            ctx->host->free(res);
            wp_fail(ctx, WP_E_NOMEM, "out of memory clustering names");
            return WP_OUTCOME_FATAL;
        }
        if (c >= 0) {
            res[i].cluster = (uint32_t)c;
            res[i].score = (float)score;
        }
        if (ctx->host->cancelled(ctx))
            break;
    }
    uint32_t *fwd = e->ncl ? ctx->host->malloc(e->ncl * sizeof(*fwd)) : NULL;
    if ((e->ncl && !fwd) || (fwd && !nm_merge_small(e, fwd, e->ncl))) {
        ctx->host->free(fwd);
        ctx->host->free(res);
        wp_fail(ctx, WP_E_NOMEM, "out of memory clustering names");
        return WP_OUTCOME_FATAL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t c = res[i].cluster;
        while (c != UINT32_MAX && fwd[c] != c)
            c = fwd[c];
        res[i].cluster = c;
    }
    ctx->host->free(fwd);
    if (e->persist)
        nm_store_save(e, ctx);
    enum wp_outcome outcome = WP_OUTCOME_OK;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(st->held, i);
        json_t *out;
        /* Emitted items share nothing with st->held: another thread owns them at once. */
        if (json_object_get(item, "error")) {
            out = json_deep_copy(item);
        } else {
            json_t *name = json_object_get(item, "name");
            const char *canonical = json_string_value(name);
            char idbuf[32];
            const char *id;
            if (res[i].cluster != UINT32_MAX) {
                canonical = nm_canonical(e, res[i].cluster);
                id = e->cl[res[i].cluster].id;
            } else {
                /* nothing to compare (no letters): the line is its own cluster */
                snprintf(idbuf, sizeof(idbuf), "wp:%016llx",
                         (unsigned long long)nm_hash64(canonical, strlen(canonical)));
                id = idbuf;
            }
            double score = (double)(long)(res[i].score * 1000.0 + 0.5) / 1000.0;
            out = json_pack("{s:I,s:s,s:s,s:s,s:f}", "line",
                            json_integer_value(json_object_get(item, "line")), "input",
                            json_string_value(name), "canonical", canonical, "cluster", id, "score",
                            score);
        }
        if (!out || ctx->host->emit(ctx, out) != WP_OK) {
            outcome = out ? WP_OUTCOME_OK : WP_OUTCOME_FATAL;
            if (!out)
                wp_fail(ctx, WP_E_NOMEM, "out of memory");
            break;
        }
    }
    ctx->host->free(res);
    json_array_clear(st->held);
    return outcome;
}

static void nm_cluster_destroy(void *instance)
{
    struct nm_cluster_stage *st = instance;
    if (!st)
        return;
    const struct wp_host_api *host = st->e->host;
    json_decref(st->held);
    nm_engine_free(st->e);
    host->free(st);
}

/* ---------------------------------------------------------------------------------------
 * Stage "names": find mentions in headline and body
 * ------------------------------------------------------------------------------------- */

struct nm_word {
    int32_t b0, b1; /* bytes in the field */
    int32_t c0, c1; /* code points */
    uint8_t script;
    bool cap;    /* starts with a capital (also "al-Assad") */
    bool lower;  /* all lower-case */
    bool dot;    /* a period right after it */
    bool punct;  /* other punctuation, digits or a paragraph break before the next word */
    bool suffix; /* a possessive or case suffix was cut off ("Tahran'da") */
};

struct nm_mention {
    int field; /* 0 headline, 1 body */
    int32_t b0, b1, c0, c1;
    bool cue;
    struct nm_name nm;
    int64_t cluster;
    double score;
    char key[256];
};

struct nm_item_stage {
    struct nm_engine *e;
    bool rewrite;
    struct nm_word *words;
    size_t capwords;
    struct nm_mention *ments;
    size_t nments, capments;
};

static bool nm_is_wordchar(UChar32 c)
{
    return u_isalpha(c) || (U_GET_GC_MASK(c) & U_GC_M_MASK) || c == 0x200C || c == 0x200D;
}

static bool nm_is_apos(UChar32 c)
{
    return c == '\'' || c == 0x2019 || c == 0x02BC;
}

/* Split @text into words with byte and code point offsets. Returns the count, or -1. */
static long nm_words(struct nm_item_stage *st, const char *text, int32_t len)
{
    struct nm_engine *e = st->e;
    long n = 0;
    int32_t i = 0;
    int32_t cp = 0;
    int newlines = 0;
    while (i < len) {
        int32_t at = i;
        UChar32 c;
        U8_NEXT(text, i, len, c);
        if (!nm_is_wordchar(c)) {
            if (n > 0) {
                struct nm_word *w = &st->words[n - 1];
                if (c == '\n')
                    newlines++;
                if (c == '.' && at == w->b1 && !w->dot)
                    w->dot = true;
                else if (!u_isspace(c) || newlines >= 2)
                    w->punct = true;
            }
            cp++;
            continue;
        }
        if (!nm_grow(e, (void **)&st->words, &st->capwords, (size_t)n + 1, sizeof(*st->words)))
            return -1;
        struct nm_word *w = &st->words[n++];
        memset(w, 0, sizeof(*w));
        newlines = 0;
        w->b0 = at;
        w->c0 = cp++;
        bool has_upper = u_isupper(c) || u_istitle(c);
        bool has_lower = u_islower(c);
        w->cap = has_upper;
        bool after_hyphen = false;
        while (i < len) {
            int32_t at2 = i;
            UChar32 d;
            U8_NEXT(text, i, len, d);
            bool inner = (nm_is_apos(d) || d == '-') && i < len;
            if (inner) {
                /* an apostrophe or hyphen stays inside only before a letter */
                int32_t peek = i;
                UChar32 nx;
                U8_NEXT(text, peek, len, nx);
                inner = nx >= 0 && u_isalpha(nx);
            }
            if (!inner && !nm_is_wordchar(d)) {
                i = at2;
                break;
            }
            cp++;
            if (d == '-') {
                after_hyphen = true;
                continue;
            }
            if (after_hyphen && (u_isupper(d) || u_istitle(d)))
                w->cap = true; /* al-Assad, bin-Salman */
            after_hyphen = false;
            has_upper = has_upper || u_isupper(d);
            has_lower = has_lower || u_islower(d);
        }
        w->b1 = i;
        w->c1 = cp;
        w->lower = !has_upper;
        if (has_upper && !has_lower && w->c1 - w->c0 > 1)
            w->cap = false; /* MOSCOW, NATO */
        w->script = (uint8_t)nm_script_of(text + w->b0, (size_t)(w->b1 - w->b0));
        /*
         * A possessive or a Turkish case suffix ends the name: "Erdogan's",
         * "Erdoğan'ın", "Tahran'da" (but not "O'Brien": upper-case after the mark).
         */
        for (int32_t k = w->b1 - 1, letters = 0; k > w->b0 && letters <= 4; k--) {
            unsigned char ch = (unsigned char)text[k];
            if (ch == '\'' || (ch == 0x99 && k >= w->b0 + 2 && (unsigned char)text[k - 1] == 0x80 &&
                               (unsigned char)text[k - 2] == 0xE2)) {
                int32_t mark = ch == '\'' ? k : k - 2;
                if (letters >= 1 && mark > w->b0 + 1) {
                    w->c1 -= letters + 1;
                    w->b1 = mark;
                    w->punct = true;
                    w->suffix = true;
                }
                break;
            }
            if ((ch & 0xC0) != 0x80) {
                int32_t pos = k;
                UChar32 cp0;
                U8_NEXT(text, pos, w->b1, cp0);
                if (!u_islower(cp0))
                    break;
                letters++;
            }
        }
    }
    return n;
}

/* Lower-case ASCII copy of a word without trailing period, for list look-ups. */
static size_t nm_word_low(const char *text, const struct nm_word *w, char *out, size_t cap)
{
    char tmp[128];
    size_t len = (size_t)(w->b1 - w->b0);
    if (len >= sizeof(tmp))
        return 0;
    size_t n = nm_fold(text + w->b0, len, tmp, sizeof(tmp));
    if (!n || n >= cap)
        return 0;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

static bool nm_word_in(const char *text, const struct nm_word *w, const char *const *list)
{
    char low[128];
    size_t n = nm_word_low(text, w, low, sizeof(low));
    return n && nm_in_list(list, low, n);
}

static bool nm_push_mention(struct nm_item_stage *st, int field, const char *text,
                            const struct nm_word *first, const struct nm_word *last, bool cue)
{
    struct nm_engine *e = st->e;
    if (!nm_grow(e, (void **)&st->ments, &st->capments, st->nments + 1, sizeof(*st->ments)))
        return false;
    struct nm_mention *m = &st->ments[st->nments];
    memset(m, 0, sizeof(*m));
    m->field = field;
    m->b0 = first->b0;
    m->b1 = last->b1;
    m->c0 = first->c0;
    m->c1 = last->c1;
    m->cue = cue;
    m->cluster = -1;
    if (!nm_parse(e, text + m->b0, (size_t)(m->b1 - m->b0), &m->nm))
        return false;
    if (!m->nm.n)
        return true;
    nm_name_key(e, &m->nm, m->key, sizeof(m->key));
    st->nments++;
    return true;
}

/* Decide whether a capitalised run names a person; see README for the rules. */
static bool nm_consider_run(struct nm_item_stage *st, int field, const char *text,
                            struct nm_word *w, long nw, long i, long j)
{
    struct nm_engine *e = st->e;
    bool cue = false;
    long start = i;
    if (i > 0 && !w[i - 1].punct && w[i - 1].lower && nm_word_in(text, &w[i - 1], nm_titles))
        cue = true; /* "supreme leader Ayatollah ...", "president Hassan ..." */
    for (long k = i; k < j; k++) {
        if (nm_word_in(text, &w[k], nm_titles)) {
            start = k + 1;
            cue = true;
        }
    }
    while (start < j && nm_word_in(text, &w[start], nm_stopwords))
        start++;
    long end = j;
    while (end > start && w[end - 1].lower)
        end--; /* a trailing particle is not part of the name */
    if (start >= end || end - start > 5)
        return true;
    size_t before = st->nments;
    if (!nm_push_mention(st, field, text, &w[start], &w[end - 1], cue))
        return false;
    if (st->nments == before)
        return true;
    struct nm_mention *m = &st->ments[st->nments - 1];
    if (m->nm.n == 1)
        return true; /* a short mention: resolved against the story's full names later */
    /* a role word alone is trusted in Latin text only ("Начальник Генштаба Ирана" is not) */
    bool ok = cue && w[start].script == NM_LATIN && !w[end - 1].suffix;
    if (!ok) {
        const struct nm_tok *t = &e->toks[m->nm.tok[0]];
        ok = t->nforms && nm_map_find(&e->givenmap, t->forms[0].ph, strlen(t->forms[0].ph));
    }
    if (!ok && end < nw && !w[end - 1].punct && nm_word_in(text, &w[end], nm_speech))
        ok = true;
    if (!ok) {
        double score;
        int64_t c = nm_lookup(e, &m->nm, &score, NULL);
        ok = c >= 0 && e->cl[c].gazetteer;
    }
    if (!ok)
        st->nments--;
    return true;
}

static bool nm_scan_field(struct nm_item_stage *st, int field, const char *text, size_t len)
{
    struct nm_engine *e = st->e;
    if (len > INT32_MAX / 2)
        len = INT32_MAX / 2;
    long nw = nm_words(st, text, (int32_t)len);
    if (nw < 0)
        return false;
    struct nm_word *w = st->words;
    for (long i = 0; i < nw;) {
        bool cased =
            w[i].script == NM_LATIN || w[i].script == NM_CYRILLIC || w[i].script == NM_GREEK;
        if (cased) {
            if (!w[i].cap) {
                i++;
                continue;
            }
            long j = i + 1;
            bool stop = w[i].punct ||
                        (w[i].dot && w[i].c1 - w[i].c0 > 1 && !nm_word_in(text, &w[i], nm_titles));
            while (!stop && j < nw) {
                bool particle = w[j].lower && j + 1 < nw && w[j + 1].cap &&
                                nm_word_in(text, &w[j], nm_particles);
                if (!w[j].cap && !particle)
                    break;
                bool abbrev =
                    w[j].dot && (w[j].c1 - w[j].c0 == 1 || nm_word_in(text, &w[j], nm_titles));
                j++;
                if (w[j - 1].punct || (w[j - 1].dot && !abbrev))
                    stop = true;
            }
            if (!nm_consider_run(st, field, text, w, nw, i, j))
                return false;
            i = j;
            continue;
        }
        if (w[i].script != NM_ARABIC && w[i].script != NM_HEBREW) {
            i++;
            continue;
        }
        /* uncased scripts: the longest n-gram that a known person matches */
        long maxj = i;
        while (maxj < nw && maxj - i < 4 && w[maxj].script == w[i].script) {
            maxj++;
            if (w[maxj - 1].punct || w[maxj - 1].dot)
                break;
        }
        bool found = false;
        for (long j = maxj; j > i + 1 && !found; j--) {
            struct nm_name nm;
            if (!nm_parse(e, text + w[i].b0, (size_t)(w[j - 1].b1 - w[i].b0), &nm))
                return false;
            if (nm.n < 2)
                continue;
            char exact[512];
            size_t elen = nm_exact_key(e, &nm, exact, sizeof(exact));
            /* no context cue here: only a spelling already known, letter for letter */
            if (elen && nm.n == j - i && nm_map_find(&e->exactmap, exact, elen)) {
                if (!nm_push_mention(st, field, text, &w[i], &w[j - 1], false))
                    return false;
                i = j;
                found = true;
            }
        }
        if (!found) {
            /* a lone word may still be a later short mention of a full name */
            if (!nm_push_mention(st, field, text, &w[i], &w[i], false))
                return false;
            i++;
        }
    }
    return true;
}

static int nm_mention_cmp(const void *pa, const void *pb)
{
    const struct nm_mention *a = pa;
    const struct nm_mention *b = pb;
    if (a->field != b->field)
        return a->field - b->field;
    return a->c0 < b->c0 ? -1 : a->c0 > b->c0;
}

/*
 * Drop leading words of @m that no spelling of @cluster contains ("Genelkurmay Başkanı
 * Orgeneral Hulusi Akar", an Arabic preposition before a name). Keeps two tokens at least.
 */
static bool nm_trim_mention(struct nm_engine *e, struct nm_mention *m, const char *text,
                            uint32_t cluster)
{
    const struct nm_cluster *c = &e->cl[cluster];
    while (m->nm.n > 2) {
        uint32_t t = m->nm.tok[0];
        double best = 0.0;
        for (size_t r = 0; r < c->nreps && best < 0.62; r++) {
            for (uint8_t k = 0; k < c->reps[r].name.n; k++) {
                double s = nm_tok_sim(e, t, c->reps[r].name.tok[k]);
                best = s > best ? s : best;
            }
        }
        if (best >= 0.62)
            break;
        /* skip the first word and the separators after it */
        int32_t i = m->b0;
        int32_t cp = m->c0;
        bool in_word = true;
        while (i < m->b1) {
            int32_t at = i;
            UChar32 ch;
            U8_NEXT(text, i, m->b1, ch);
            bool sep = ch < 0 || nm_is_sep(ch);
            if (!in_word && !sep) {
                i = at;
                break;
            }
            in_word = in_word && !sep;
            cp++;
        }
        if (i >= m->b1)
            break;
        m->b0 = i;
        m->c0 = cp;
        if (!nm_parse(e, text + m->b0, (size_t)(m->b1 - m->b0), &m->nm))
            return false;
        nm_name_key(e, &m->nm, m->key, sizeof(m->key));
    }
    return true;
}

/* Resolve mentions: full names through the engine, short ones to the story's full names. */
static bool nm_resolve(struct nm_item_stage *st, struct wp_ctx *ctx, const char *const texts[2])
{
    struct nm_engine *e = st->e;
    for (size_t i = 0; i < st->nments; i++) {
        struct nm_mention *m = &st->ments[i];
        if (m->nm.n < 2)
            continue;
        double known_score;
        int64_t known = nm_lookup(e, &m->nm, &known_score, NULL);
        if (known >= 0 && !nm_trim_mention(e, m, texts[m->field], (uint32_t)known))
            return false;
        m->cluster =
            nm_assign(e, ctx, texts[m->field] + m->b0, (size_t)(m->b1 - m->b0), &m->score, true);
        if (e->oom)
            return false;
    }
    for (size_t i = 0; i < st->nments; i++) {
        struct nm_mention *m = &st->ments[i];
        if (m->nm.n != 1)
            continue;
        double best = 0.0;
        int64_t bc = -1;
        for (size_t j = 0; j < st->nments; j++) {
            const struct nm_mention *f = &st->ments[j];
            if (f->nm.n < 2 || f->cluster < 0)
                continue;
            double s = nm_name_score(e, &m->nm, &f->nm);
            bool earlier = f->field < m->field || (f->field == m->field && f->c0 < m->c0);
            if (s > best || (s == best && earlier)) {
                best = s;
                bc = f->cluster;
            }
        }
        if (bc >= 0 && best >= 0.75) {
            m->cluster = bc;
            m->score = best;
        } else if (m->cue) {
            double score;
            int64_t c = nm_lookup(e, &m->nm, &score, NULL);
            if (c >= 0) {
                m->cluster = c;
                m->score = score;
            } else {
                m->cluster = nm_assign(e, ctx, texts[m->field] + m->b0, (size_t)(m->b1 - m->b0),
                                       &m->score, true);
            }
        }
        if (e->oom)
            return false;
    }
    /* keep resolved mentions only, in text order */
    size_t k = 0;
    for (size_t i = 0; i < st->nments; i++) {
        if (st->ments[i].cluster >= 0)
            st->ments[k++] = st->ments[i];
    }
    st->nments = k;
    if (st->nments > 1) /* ments is NULL while nothing was found */
        qsort(st->ments, st->nments, sizeof(*st->ments), nm_mention_cmp);
    return true;
}

/* Replace mentions in field @f of @item by canonical spellings and fix the offsets. */
static bool nm_rewrite_field(struct nm_item_stage *st, json_t *item, const char *key, int f,
                             const char *text, size_t len)
{
    struct nm_engine *e = st->e;
    size_t cap = len + 1;
    for (size_t i = 0; i < st->nments; i++) {
        if (st->ments[i].field == f)
            cap += strlen(nm_canonical(e, (uint32_t)st->ments[i].cluster)) + 1;
    }
    char *out = nm_alloc(e, cap);
    if (!out)
        return false;
    size_t o = 0;
    int32_t pos = 0;
    int32_t shift = 0; /* code points gained so far */
    for (size_t i = 0; i < st->nments; i++) {
        struct nm_mention *m = &st->ments[i];
        if (m->field != f)
            continue;
        const char *canon = nm_canonical(e, (uint32_t)m->cluster);
        size_t clen = strlen(canon);
        memcpy(out + o, text + pos, (size_t)(m->b0 - pos));
        o += (size_t)(m->b0 - pos);
        memcpy(out + o, canon, clen);
        o += clen;
        pos = m->b1;
        int32_t ccp = 0;
        for (size_t b = 0; b < clen; b++)
            ccp += ((unsigned char)canon[b] & 0xC0) != 0x80;
        m->c0 += shift;
        shift += ccp - (m->c1 - (m->c0 - shift));
        m->c1 = m->c0 + ccp;
    }
    memcpy(out + o, text + pos, len - (size_t)pos);
    o += len - (size_t)pos;
    json_t *s = json_stringn(out, o);
    nm_free(e, out);
    return s && json_object_set_new(item, key, s) == 0;
}

static enum wp_status nm_item_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    struct nm_item_stage *st = ctx->host->malloc(sizeof(*st));
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    memset(st, 0, sizeof(*st));
    st->rewrite = json_is_true(json_object_get(config, "rewrite"));
    enum wp_status s = nm_engine_new(ctx, config, &st->e);
    if (s != WP_OK) {
        ctx->host->free(st);
        return s;
    }
    *instance = st;
    return WP_OK;
}

static enum wp_outcome nm_item_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct nm_item_stage *st = instance;
    struct nm_engine *e = st->e;
    static const char *const keys[2] = {WP_ITEM_HEADLINE, WP_ITEM_BODY};
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "item is not an object");
        return WP_OUTCOME_REJECT;
    }
    const char *texts[2] = {"", ""};
    size_t lens[2] = {0, 0};
    /* rewriting replaces the strings: the originals stay alive for "mention" */
    json_t *hold[2] = {NULL, NULL};
    st->nments = 0;
    for (int f = 0; f < 2; f++) {
        json_t *v = json_object_get(item, keys[f]);
        if (!json_is_string(v))
            continue;
        hold[f] = json_incref(v);
        texts[f] = json_string_value(v);
        lens[f] = json_string_length(v);
        if (!nm_scan_field(st, f, texts[f], lens[f]))
            goto out_nomem;
    }
    if (!nm_resolve(st, ctx, texts))
        goto out_nomem;
    if (st->rewrite) {
        for (int f = 0; f < 2; f++) {
            if (hold[f] && !nm_rewrite_field(st, item, keys[f], f, texts[f], lens[f]))
                goto out_nomem;
        }
    }
    json_t *entities = json_array();
    json_t *people = json_array();
    json_t *old = json_object_get(item, WP_ITEM_ENTITIES);
    size_t idx;
    json_t *ent;
    json_array_foreach(old, idx, ent)
    {
        /* entities of other types (and other stages) stay */
        const char *type = json_string_value(json_object_get(ent, "type"));
        if (entities && (!type || strcmp(type, "person") != 0))
            json_array_append(entities, ent);
    }
    for (size_t i = 0; i < st->nments && entities && people; i++) {
        const struct nm_mention *m = &st->ments[i];
        const struct nm_cluster *c = &e->cl[m->cluster];
        const char *canonical = nm_canonical(e, (uint32_t)m->cluster);
        const char *qid = c->id && c->id[0] == 'Q' ? c->id : NULL;
        double score = (double)(long)(m->score * 1000.0 + 0.5) / 1000.0;
        json_t *mention = json_stringn(texts[m->field] + m->b0, (size_t)(m->b1 - m->b0));
        json_array_append_new(entities,
                              json_pack("{s:s,s:s,s:o,s:i,s:i,s:s,s:s?,s:s,s:f}", "type", "person",
                                        "field", keys[m->field], "mention", mention, "start",
                                        (json_int_t)m->c0, "end", (json_int_t)m->c1, "canonical",
                                        canonical, "id", qid, "key", m->key, "score", score));
        if (!qid)
            json_object_set_new(json_array_get(entities, json_array_size(entities) - 1), "id",
                                json_null());
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = st->ments[j].cluster == m->cluster;
        if (!dup) {
            json_t *p = json_pack("{s:s,s:s}", "name", canonical, "rel", "mentioned");
            if (p && qid) {
                char uri[64];
                snprintf(uri, sizeof(uri), "http://www.wikidata.org/entity/%s", qid);
                json_object_set_new(p, "uri", json_string(uri));
            }
            json_array_append_new(people, p);
        }
    }
    if (!entities || !people || json_object_set_new(item, WP_ITEM_ENTITIES, entities) ||
        json_object_set_new(item, "people", people))
        goto out_nomem;
    if (e->persist)
        nm_store_save(e, ctx);
    ctx->host->metric_add(ctx, "mentions", (long long)st->nments);
    json_decref(hold[0]);
    json_decref(hold[1]);
    return WP_OUTCOME_OK;

out_nomem:
    json_decref(hold[0]);
    json_decref(hold[1]);
    wp_fail(ctx, WP_E_NOMEM, "out of memory finding names");
    return WP_OUTCOME_FATAL;
}

static void nm_item_destroy(void *instance)
{
    struct nm_item_stage *st = instance;
    if (!st)
        return;
    const struct wp_host_api *host = st->e->host;
    nm_free(st->e, st->words);
    nm_free(st->e, st->ments);
    nm_engine_free(st->e);
    host->free(st);
}

/* ---------------------------------------------------------------------------------------
 * Descriptor
 * ------------------------------------------------------------------------------------- */

#define NM_COMMON_KEYS                                                                             \
    {.name = "gazetteer",                                                                          \
     .type = WP_CONFIG_PATHS,                                                                      \
     .default_json = "[]",                                                                         \
     .doc = "extra gazetteer files layered over the shipped one, in order"},                       \
        {.name = "no_gazetteer",                                                                   \
         .type = WP_CONFIG_BOOL,                                                                   \
         .default_json = "false",                                                                  \
         .doc = "do not load the shipped gazetteer"},                                              \
    {                                                                                              \
        .name = "threshold", .type = WP_CONFIG_NUMBER, .default_json = "0.8",                      \
        .doc = "lowest name-comparison score (0..1] that joins two spellings"                      \
    }

static const struct wp_config_key nm_item_config[] = {
    NM_COMMON_KEYS,
    {.name = "rewrite",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "rewrite mentions in headline and body to the canonical spelling"},
    {.name = "persist",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "learn clusters into the state store across runs"},
    {0},
};

static const struct wp_config_key nm_cluster_config[] = {
    NM_COMMON_KEYS,
    {.name = "persist",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "learn clusters into the state store across runs"},
    {0},
};

static const struct wp_stage_ops nm_item_ops = {
    .name = "names",
    .description = "find person names in headline and body and canonicalise them",
    .flags = 0,
    .config = nm_item_config,
    .create = nm_item_create,
    .process = nm_item_process,
    .destroy = nm_item_destroy,
};

static const struct wp_stage_ops nm_cluster_ops = {
    .name = "names_cluster",
    .description = "cluster {line, name} items across scripts; emits them at flush",
    .flags = WP_STAGE_EMIT_ONLY,
    .config = nm_cluster_config,
    .create = nm_cluster_create,
    .process = nm_cluster_process,
    .flush = nm_cluster_flush,
    .destroy = nm_cluster_destroy,
};

static const struct wp_stage_ops *const nm_stages[] = {&nm_item_ops, &nm_cluster_ops, NULL};

WP_PLUGIN_DEFINE(names, "0.1.0", "person names across transliterations and scripts", "MIT",
                 nm_stages)
