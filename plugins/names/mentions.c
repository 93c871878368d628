/*
 * mentions.c - person mentions in text, for the stage "names": words with byte and code
 * point offsets, capitalised runs with role-word and speech-verb cues in cased scripts,
 * known spellings in uncased ones (Arabic, Hebrew), and their resolution to clusters
 * (short mentions follow the story's full names). README.md lists the rules.
 */
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "names.h"

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
        int32_t k = w->b1;
        for (int32_t letters = 0; k > w->b0 && letters <= 4; letters++) {
            UChar32 last;
            U8_PREV(text, w->b0, k, last); /* k moves to the start of @last */
            if (last == '\'' || last == 0x2019) {
                if (letters >= 1 && k > w->b0 + 1) {
                    w->c1 -= letters + 1;
                    w->b1 = k;
                    w->punct = true;
                    w->suffix = true;
                }
                break;
            }
            if (k == w->b0 || !u_islower(last))
                break;
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

bool nm_scan_field(struct nm_item_stage *st, int field, const char *text, size_t len)
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
bool nm_resolve(struct nm_item_stage *st, struct wp_ctx *ctx, const char *const texts[2])
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
