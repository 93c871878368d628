/*
 * gazetteer.c - the gazetteer: persons (QID, canonical name, spellings) that seed the
 * clusters, and a token lexicon of Latin spellings for tokens of other scripts. Files are
 * TSV, layered in order over the shipped one (data/gazetteer.tsv, see data/SOURCE.md):
 *   P <TAB> QID or "" <TAB> canonical <TAB> language <TAB> spelling
 *   T <TAB> token <TAB> Latin spelling <TAB> count
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wirepipe/utf8.h>

#include "names.h"

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
            char id[NM_ID_MAX];
            nm_hash_id(canonical, strlen(canonical), id);
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
    char key[NM_KEY_MAX];
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

/*
 * One line of a gazetteer file (tabs become NULs); pass 0 takes the token lexicon ("T"
 * lines), pass 1 the persons ("P" lines). Returns false for a malformed line; sets *@stop
 * when loading must stop (no memory).
 */
static bool nm_gaz_line(struct nm_engine *e, char *line, size_t len, int pass, bool *stop)
{
    char *fields[6] = {NULL};
    size_t n = nm_split_tabs(line, fields, 6);
    char kind = fields[0][0];
    if (!wp_utf8_valid(line, len) || (kind == 'P' && n != 5) || (kind == 'T' && n != 4) ||
        (kind != 'P' && kind != 'T') || fields[0][1])
        return false;
    if (pass == 0 && kind == 'T') {
        char *end;
        errno = 0;
        unsigned long cnt = strtoul(fields[3], &end, 10);
        if (errno || *end || !fields[1][0] || !fields[2][0])
            return false;
        nm_lex_add(e, fields[1], strlen(fields[1]), fields[2],
                   cnt > 1000000 ? 1000000 : (uint32_t)cnt);
    } else if (pass == 1 && kind == 'P') {
        if (!fields[2][0] || !fields[4][0] ||
            (fields[1][0] &&
             (fields[1][0] != 'Q' || strspn(fields[1] + 1, "0123456789") != strlen(fields[1] + 1))))
            return false;
        *stop = !nm_gaz_person(e, fields[1], fields[2], fields[4]);
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
    bool stop = false;
    while (!stop && fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        bool ok;
        if (len && line[len - 1] != '\n' && !feof(f)) {
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            ok = false; /* longer than the buffer */
        } else {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (!len || line[0] == '#')
                continue;
            ok = nm_gaz_line(e, line, len, pass, &stop);
            stop = stop || e->oom;
        }
        if (!ok) {
            bad++;
            first_bad = first_bad ? first_bad : lineno;
        }
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
    static const char anchor = 0; /* any object of this .so tells dladdr() where it is */
    Dl_info info;
    if (!dladdr(&anchor, &info) || !info.dli_fname)
        return false;
    const char *slash = strrchr(info.dli_fname, '/');
    int dirlen = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    int w = snprintf(out, cap, "%.*s/names/%s", dirlen, dir, NM_GAZ_FILE);
    return w > 0 && (size_t)w < cap;
}

enum wp_status nm_gazetteer_load(struct nm_engine *e, struct wp_ctx *ctx, const json_t *config)
{
    const char *paths[64];
    size_t npaths = 0;
    char shipped[4096];
    if (!json_is_true(json_object_get(config, "no_gazetteer"))) {
        if (!nm_default_gazetteer(shipped, sizeof(shipped))) {
            wp_fail(ctx, WP_E_CONFIG, "cannot locate the shipped gazetteer");
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
            return WP_E_CONFIG;
        }
        paths[npaths++] = json_string_value(v);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t p = 0; p < npaths; p++) {
            enum wp_status st = nm_gaz_load(e, ctx, paths[p], pass);
            if (st != WP_OK)
                return st;
        }
    }
    return WP_OK;
}
