/*
 * cluster.c - clusters (persons) of the names engine: the blocking index of token
 * skeletons, look-up, assignment of a name, the canonical spelling and the second-chance
 * merge of small clusters.
 */
#include <string.h>

#include "names.h"

int64_t nm_cluster_new(struct nm_engine *e, const char *id, const char *canonical, bool gazetteer)
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

bool nm_cluster_add_name(struct nm_engine *e, uint32_t cluster, const struct nm_name *nm,
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

bool nm_cluster_add_spelling(struct nm_engine *e, uint32_t cluster, const char *text, size_t len,
                             uint32_t count)
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

static bool nm_has(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == x)
            return true;
    }
    return false;
}

/*
 * Count token @tok of the name being looked up as shared by cluster @c, once per token
 * whatever its forms (@only_seen: only for a cluster another token found already).
 * e->cand_mark[c] holds epoch << 12 | (last token that counted + 1) << 8 | shared count
 * for the current look-up. Returns the new count, or 0 when the token did not count.
 */
NM_ALWAYS_INLINE uint32_t nm_mark_shared(struct nm_engine *e, uint32_t c, uint32_t tok,
                                         bool only_seen)
{
    uint32_t mark = e->cand_mark[c];
    bool now = (mark >> 12) == e->epoch;
    uint32_t cnt = now ? (mark & 0xff) : 0;
    if ((only_seen && cnt == 0) || cnt == 0xff || (now && ((mark >> 8) & 0xf) == tok + 1))
        return 0;
    cnt++;
    e->cand_mark[c] = (e->epoch << 12) | (tok + 1) << 8 | cnt;
    return cnt;
}

/*
 * One candidate pass of nm_lookup(): skeleton keys only, or (@coarse) coarse keys too,
 * skipping the @nskip clusters in @skip. The clusters scored go to @scored (NM_MAX_CANDS).
 * Candidates come from the blocking index: a cluster must share two skeletons with the
 * name, or one rare one. Returns the best cluster, or -1 with *@score the best seen.
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
            if (!s || nm_has(seen_lists, nseen_lists, s->val))
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
                uint32_t cnt = nm_mark_shared(e, c, i, false);
                if (cnt && (cnt == need || (rare && cnt == 1)) && ncand < NM_MAX_CANDS &&
                    !nm_has(cands, ncand, c))
                    cands[ncand++] = c;
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
            if (nm_mark_shared(e, c, common_tok[k], true) == need && !nm_has(cands, ncand, c))
                cands[ncand++] = c;
        }
    }
    int64_t best = -1;
    for (size_t i = 0; i < ncand; i++) {
        if ((int64_t)cands[i] == e->exclude || nm_has(skip, nskip, cands[i]))
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
int64_t nm_lookup(struct nm_engine *e, const struct nm_name *nm, double *score, unsigned *rep_n)
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

int64_t nm_assign(struct nm_engine *e, struct wp_ctx *ctx, const char *text, size_t len,
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
    char key[NM_KEY_MAX];
    size_t klen = nm_name_key(e, &nm, key, sizeof(key));
    nm_store_load(e, ctx, &nm, key, klen);
    int64_t c = nm_lookup(e, &nm, score, NULL);
    if (c < 0) {
        char id[NM_ID_MAX];
        nm_hash_id(key, klen, id);
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
const char *nm_canonical(struct nm_engine *e, uint32_t cluster)
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

/*
 * Clustering one name at a time depends on order: a spelling that came before its
 * person's cluster took shape founded a cluster of its own. Second chance: every small
 * cluster that did not come from the gazetteer looks again for a home among the others.
 * @fwd[c] receives the cluster @c was merged into (itself when kept).
 */
bool nm_merge_small(struct nm_engine *e, uint32_t *fwd, size_t ncl)
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
            char key[NM_KEY_MAX];
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
