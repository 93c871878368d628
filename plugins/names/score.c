/*
 * score.c - comparing tokens and names: weighted edit distances over phonetic forms, a
 * per-pair cache, and the name score that aligns tokens regardless of order.
 */
#include <pthread.h>
#include <string.h>

#include "names.h"

/* Substitution costs between phonetic letters: equal 0, vowels 0.4, confusables 0.5, else 1. */
static float nm_cost[128][128];
static pthread_once_t nm_cost_once = PTHREAD_ONCE_INIT;

static void nm_cost_fill(void)
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

void nm_score_init(void)
{
    pthread_once(&nm_cost_once, nm_cost_fill);
}

/*
 * Substitution cost of phonetic letter @x of a token written without short vowels
 * (Arabic, Hebrew: a, i, v are alef, yeh and waw) for @y of one written with vowels.
 */
NM_ALWAYS_INLINE float nm_vowelless_sub(unsigned char x, unsigned char y)
{
    bool xv = nm_is_vowel((char)x);
    bool yv = nm_is_vowel((char)y);
    if (xv && yv)
        return x == y ? 0.0f : 0.05f;
    if (x == 'v' && (y == 'o' || y == 'u'))
        return 0.1f;
    return nm_cost[x][y];
}

/*
 * The weighted edit distance of @a (@na letters) and @b (@nb letters). Leaving a[i - 1]
 * unmatched costs @drop_a[i], leaving b[j - 1] unmatched @drop_b[j]; before the first
 * match each costs 1 (@unit_edges) or the same. Substitutions cost nm_cost, or
 * nm_vowelless_sub() when @a has no written short vowels (@vowelless).
 */
NM_ALWAYS_INLINE float nm_edit_distance(const char *a, size_t na, const char *b, size_t nb,
                                        const float *drop_a, const float *drop_b, bool unit_edges,
                                        bool vowelless)
{
    float row0[NM_MAX_TOKLEN + 1];
    float row1[NM_MAX_TOKLEN + 1];
    float *prev = row0;
    float *cur = row1;
    prev[0] = 0.0f;
    for (size_t j = 1; j <= nb; j++)
        prev[j] = prev[j - 1] + (unit_edges ? 1.0f : drop_b[j]);
    for (size_t i = 1; i <= na; i++) {
        unsigned char x = (unsigned char)a[i - 1] & 0x7f;
        float ins = drop_a[i];
        cur[0] = prev[0] + (unit_edges ? 1.0f : ins);
        for (size_t j = 1; j <= nb; j++) {
            unsigned char y = (unsigned char)b[j - 1] & 0x7f;
            float v = prev[j - 1] + (vowelless ? nm_vowelless_sub(x, y) : nm_cost[x][y]);
            if (prev[j] + ins < v)
                v = prev[j] + ins;
            if (cur[j - 1] + drop_b[j] < v)
                v = cur[j - 1] + drop_b[j];
            cur[j] = v;
        }
        float *t = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
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
    /* vowels (spelled or not) and h (silent in John, Sarah) are cheap to drop */
    float drop_a[NM_MAX_TOKLEN + 1];
    float drop_b[NM_MAX_TOKLEN + 1];
    for (size_t i = 1; i <= la; i++) {
        char x = (char)(a[i - 1] & 0x7f);
        drop_a[i] = (nm_is_vowel(x) && !skeleton) ? 0.6f : x == 'h' ? 0.5f : 1.0f;
    }
    for (size_t j = 1; j <= lb; j++) {
        char y = (char)(b[j - 1] & 0x7f);
        drop_b[j] = (nm_is_vowel(y) && !skeleton) ? 0.6f : y == 'h' ? 0.5f : 1.0f;
    }
    double d = nm_edit_distance(a, la, b, lb, drop_a, drop_b, true, false);
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
    float drop_a[NM_MAX_TOKLEN + 1];
    float drop_b[NM_MAX_TOKLEN + 1];
    for (size_t i = 1; i <= na; i++) {
        char x = (char)(a[i - 1] & 0x7f);
        /* final heh is a vowel letter too (مولہ, גי מולה) */
        drop_a[i] = nm_is_vowel(x) || x == 'v' || (x == 'h' && i == na) ? 0.3f
                    : x == 'h'                                          ? 0.5f
                                                                        : 1.0f;
    }
    for (size_t j = 1; j <= nb; j++) {
        char y = (char)(b[j - 1] & 0x7f);
        drop_b[j] = nm_is_vowel(y) ? 0.15f : y == 'h' ? 0.3f : 1.0f;
    }
    double d = nm_edit_distance(a, na, b, nb, drop_a, drop_b, false, true);
    double l = (double)(la > lb ? la : lb);
    if (l < 1.0)
        l = 1.0;
    if (l <= 2.0 && d > 0.35)
        return 0.0;
    double sim = 1.0 - d / l;
    return sim < 0.0 ? 0.0 : sim;
}

/* A match of skeletons is less sure than one of spellings, and a short one ("l") weak. */
static double nm_skeleton_weight(size_t len)
{
    return len >= 3 ? 0.95 : len == 2 ? 0.88 : 0.75;
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
                s = nm_strsim(fa->skel, fb->skel, true) * nm_skeleton_weight(sl);
                if (fa->vowelless != fb->vowelless && s < 0.9) {
                    const struct nm_form *fv = fa->vowelless ? fa : fb;
                    const struct nm_form *fl = fa->vowelless ? fb : fa;
                    size_t lv = strlen(fv->skel);
                    size_t ll = strlen(fl->skel);
                    size_t lm = lv > ll ? lv : ll;
                    double s2 = nm_vlsim(fv->ph, fl->ph, lv, ll) * nm_skeleton_weight(lm);
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
double nm_tok_sim(struct nm_engine *e, uint32_t ia, uint32_t ib)
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
 * nm_name_score() - how likely @a and @b name one person, 0..1.
 *
 * Tokens are aligned greedily regardless of order. Every token of the shorter name must
 * find a partner ("Mohammad Bagheri" vs "Ali Bagheri Kani" fails on the given name);
 * extra tokens in the longer name (middle names) cost little. A one-token name can only
 * be the other's surname (its last token).
 */
double nm_name_score(struct nm_engine *e, const struct nm_name *a, const struct nm_name *b)
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
