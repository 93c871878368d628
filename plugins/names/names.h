/*
 * names.h - private interfaces of the names plugin.
 *
 * Two stages share one engine (struct nm_engine), and two more let `wirepipe names` run as
 * an ordinary pipeline (names-tsv.json):
 *  - "names" (stage_names.c) finds mentions in headline and body (mentions.c), resolves
 *    each to a cluster (a person) and writes "entities" and ninjs "people";
 *  - "names_cluster" (stage_cluster.c) holds {line, name} items and, at flush, clusters
 *    them all and emits {line, input, canonical, cluster, score} in input order;
 *  - "names_lines" (stage_lines.c) reads one name per line from standard input and makes
 *    those {line, name} items ({line, error} for a line that is not a name);
 *  - "names_tsv" (stage_tsv.c) writes input<TAB>canonical<TAB>cluster<TAB>score rows.
 *
 * The engine: every token is romanised once with one ICU rule transliterator (cached per
 * distinct token, since ICU is the slow part) and turned into phonetic forms with
 * script-aware equivalence classes (romanise.c); names are parsed into tokens and match
 * keys (parse.c); tokens are indexed by consonant skeleton, which only finds candidate
 * clusters, and a weighted token comparison decides (score.c, cluster.c). The gazetteer
 * (gazetteer.c) seeds clusters and a token lexicon; persist.c keeps learnt clusters in the
 * host's state store. engine.c holds memory, the hash map and the engine's life cycle,
 * words.c the word lists.
 *
 * An engine belongs to one stage instance and is used by one thread at a time (neither
 * stage declares WP_STAGE_THREAD_SAFE: ICU transliterators are not thread-safe). Every
 * allocation goes through the host table; a failed one sets e->oom, which callers test.
 */
#ifndef NAMES_PRIVATE_H
#define NAMES_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <unicode/umachine.h>
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
#define NM_ID_MAX      32  /* "wp:" + 16 hex digits, and room */
#define NM_KEY_MAX     256 /* bytes of a match key, NUL included */

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

enum nm_script { NM_LATIN, NM_CYRILLIC, NM_GREEK, NM_ARABIC, NM_HEBREW, NM_CJK, NM_OTHER };

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

/* Stage "names": words and mentions of one item. */
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
    char key[NM_KEY_MAX];
};

struct nm_item_stage {
    struct nm_engine *e;
    bool rewrite;
    struct nm_word *words;
    size_t capwords;
    struct nm_mention *ments;
    size_t nments, capments;
};

/* For the few small functions of the innermost loops: inlined, and specialised per call. */
#if defined(__GNUC__)
#define NM_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define NM_ALWAYS_INLINE static inline
#endif

static inline bool nm_is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* ---- engine.c: memory, the hash map, the engine's life cycle ------------------------- */

/* Allocation through the host; a failure sets e->oom. */
void *nm_alloc(struct nm_engine *e, size_t size);
void nm_free(struct nm_engine *e, void *p);
char *nm_strndup(struct nm_engine *e, const char *s, size_t len);
/* Grow the array *@arr of *@cap elements of @elem bytes to hold @need (geometric). */
bool nm_grow(struct nm_engine *e, void **arr, size_t *cap, size_t need, size_t elem);

/* FNV-1a: the hash of the map and of "wp:<16 hex>" cluster ids (stable across runs). */
uint64_t nm_hash64(const char *s, size_t len);
/* The id of a cluster without a QID: "wp:" and 16 hex digits of nm_hash64(@s). */
void nm_hash_id(const char *s, size_t len, char out[NM_ID_MAX]);

struct nm_slot *nm_map_find(const struct nm_map *m, const char *key, size_t len);
/* Insert @key (copied) with @val unless present; returns the slot, NULL on no memory. */
struct nm_slot *nm_map_put(struct nm_engine *e, struct nm_map *m, const char *key, size_t len,
                           uint32_t val, bool *created);
void nm_map_clear(struct nm_engine *e, struct nm_map *m);

/*
 * nm_engine_new() - build an engine from the config keys both stages share: gazetteer,
 * no_gazetteer, persist, threshold. Returns WP_OK, or an error after ctx->host->fail().
 */
enum wp_status nm_engine_new(struct wp_ctx *ctx, const json_t *config, struct nm_engine **out);
void nm_engine_free(struct nm_engine *e);

/* ---- words.c: word lists ----------------------------------------------------------- */

extern const char *const nm_particles[];   /* carry no identity: "al", "bin", "van" */
extern const char *const nm_titles[];      /* titles and roles: a name may follow */
extern const char *const nm_stopwords[];   /* capitalised words that are never names */
extern const char *const nm_legal_forms[]; /* company legal forms, always dropped */
extern const char *const nm_legal_words[]; /* legal words, dropped beside another */
extern const char *const nm_speech[];      /* verbs that make a capitalised pair a person */

/* True when the @len bytes at @word are an entry of the NULL-terminated @list. */
bool nm_in_list(const char *const *list, const char *word, size_t len);

/* ---- romanise.c: tokens, romanisation and phonetic forms ----------------------------- */

/* Open the engine's ICU transliterator; WP_E_CONFIG after ctx->host->fail() on failure. */
enum wp_status nm_trans_open(struct nm_engine *e, struct wp_ctx *ctx);
/* The script of the first letter of @s (NM_OTHER when none). */
enum nm_script nm_script_of(const char *s, size_t len);
/* Lower-case @s (UTF-8) into @out for lexicon look-ups; returns the length or 0. */
size_t nm_fold(const char *s, size_t len, char *out, size_t cap);
/* The token cache: the index of token @s in e->toks, made on first use; -1 on no memory. */
int64_t nm_tok_get(struct nm_engine *e, const char *s, size_t len);

/* ---- score.c: comparison ----------------------------------------------------------- */

/* Fill the letter substitution costs (once per process; any thread). */
void nm_score_init(void);
/* Similarity 0..1 of tokens @ia and @ib (cached per pair). */
double nm_tok_sim(struct nm_engine *e, uint32_t ia, uint32_t ib);
/* How likely @a and @b name one person, 0..1 (may be below 0 for clear misses). */
double nm_name_score(struct nm_engine *e, const struct nm_name *a, const struct nm_name *b);

/* ---- parse.c: names and their keys ------------------------------------------------- */

/* Whether @c separates tokens (not apostrophes and joiners, which stay inside). */
bool nm_is_sep(UChar32 c);
/* Parse @s into content tokens; false on no memory. */
bool nm_parse(struct nm_engine *e, const char *s, size_t len, struct nm_name *out);
/* The match key: token skeletons, sorted, space-separated. Returns its length. */
size_t nm_name_key(const struct nm_engine *e, const struct nm_name *nm, char *out, size_t cap);
/* The romanised tokens in their order (0 when they do not fit @cap). */
size_t nm_exact_key(const struct nm_engine *e, const struct nm_name *nm, char *out, size_t cap);
/* True when @s has letters and all are Latin script. */
bool nm_is_latin_text(const char *s, size_t len);

/* ---- cluster.c: clusters, the blocking index, look-up and assignment ----------------- */

/* A new cluster; its index, or -1 on no memory. @id and @canonical are copied. */
int64_t nm_cluster_new(struct nm_engine *e, const char *id, const char *canonical, bool gazetteer);
/* Add @nm (match key @key) as a compared spelling of @cluster and index its skeletons. */
bool nm_cluster_add_name(struct nm_engine *e, uint32_t cluster, const struct nm_name *nm,
                         const char *key, size_t keylen);
/* Count @count sightings of spelling @text for @cluster. */
bool nm_cluster_add_spelling(struct nm_engine *e, uint32_t cluster, const char *text, size_t len,
                             uint32_t count);
/* The cluster @nm belongs to, or -1; *@score is the best comparison score. */
int64_t nm_lookup(struct nm_engine *e, const struct nm_name *nm, double *score, unsigned *rep_n);
/*
 * Assign one name to a cluster (joining the best or founding one). Returns the cluster
 * or -1 (no content tokens, or no memory: see e->oom).
 */
int64_t nm_assign(struct nm_engine *e, struct wp_ctx *ctx, const char *text, size_t len,
                  double *score, bool count_spelling);
/* The cluster's canonical spelling; borrowed, valid until the cluster gains a spelling. */
const char *nm_canonical(struct nm_engine *e, uint32_t cluster);
/* Second-chance merge of small clusters; @fwd[c] receives where cluster c went. */
bool nm_merge_small(struct nm_engine *e, uint32_t *fwd, size_t ncl);

/* ---- persist.c: clusters in the state store ---------------------------------------- */

/* Bring every stored cluster that @nm (match key @key) could join into memory. */
void nm_store_load(struct nm_engine *e, struct wp_ctx *ctx, const struct nm_name *nm,
                   const char *key, size_t len);
/* Write every cluster that gained spellings, with its full-name and token keys. */
void nm_store_save(struct nm_engine *e, struct wp_ctx *ctx);

/* ---- gazetteer.c ------------------------------------------------------------------- */

/*
 * Load the shipped gazetteer (unless no_gazetteer) and the "gazetteer" files of @config:
 * first every file's token lexicon, then every file's persons, in order.
 */
enum wp_status nm_gazetteer_load(struct nm_engine *e, struct wp_ctx *ctx, const json_t *config);

/* ---- mentions.c: mentions in text (stage "names") ---------------------------------- */

/* Find the candidate mentions of field @field (0 headline, 1 body) into st->ments. */
bool nm_scan_field(struct nm_item_stage *st, int field, const char *text, size_t len);
/* Resolve st->ments to clusters; keep the resolved ones, in text order. */
bool nm_resolve(struct nm_item_stage *st, struct wp_ctx *ctx, const char *const texts[2]);

/* ---- the stages -------------------------------------------------------------------- */

/* Config keys both clustering stages take (inside a struct wp_config_key table). */
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
        .doc = "lowest name-comparison score (0..1] that joins two spellings",                     \
        WP_CONFIG_RANGE(0, 1)                                                                      \
    }

extern const struct wp_stage_ops nm_names_ops;   /* stage_names.c */
extern const struct wp_stage_ops nm_cluster_ops; /* stage_cluster.c */
extern const struct wp_stage_ops nm_lines_ops;   /* stage_lines.c */
extern const struct wp_stage_ops nm_tsv_ops;     /* stage_tsv.c */

#endif /* NAMES_PRIVATE_H */
