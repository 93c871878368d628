/*
 * normalize - display-safe Unicode cleanup of story text, mojibake repair, per-language
 * letter fixes and a lossy match key. README.md states the policy. This file is the stage:
 * its configuration, the order of the steps on each field, and storing the results; the
 * steps are one file each (see normalize.h).
 *
 * Speed: the display pass is one loop over UTF-8 with a 64K-entry class table; ASCII
 * runs are copied wholesale. ICU's NFC runs only on fields that contain a character that
 * can take part in composition or reordering (precomputed per code point), and the match
 * key uses a precomputed per-code-point NFKC_Casefold+strip-marks mapping, falling back
 * to ICU for the rare characters that expand.
 */
#include "normalize.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>
#include <wirepipe/utf8.h>

#include <jansson.h>

static const char *const nz_op_names[NZ_OP_COUNT] = {
#define NZ_OP_NAME_(sym, name) name,
    NZ_OPS(NZ_OP_NAME_)
#undef NZ_OP_NAME_
};

/* ------------------------------------------------------------------------------------ */
/* Configuration                                                                          */

static const struct wp_config_key nz_config_keys[] = {
    {.name = "fields",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[\"headline\",\"body\"]",
     .doc = "item fields normalized in place; an array field (keywords, authors) has each string "
            "normalized"},
    {.name = "quotes",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "curly quotes: keep them, or straighten \u2018\u2019\u201c\u201d to ASCII",
     .choices = "keep|ascii"},
    {.name = "nbsp",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc =
         "no-break spaces (U+00A0, U+2007, U+202F): keep one where a run has only those, or fold "
         "to U+0020",
     .choices = "keep|space"},
    {.name = "mojibake",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc =
         "repair UTF-8 misread as windows-125x/latin-1/MacRoman/cp437 (ftfy's method), per line"},
    {.name = "entities",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "decode HTML entities left in text (&amp;, &#8217;, ...)"},
    {.name = "arabic_letters",
     .type = WP_CONFIG_STRING,
     .default_json = "\"auto\"",
     .doc = "auto: by item language, Persian forms of yeh/kaf for fa, Arabic forms for ar, tatweel "
            "removed in Arabic-script languages; off: never",
     .choices = "auto|off"},
    {.name = "harakat",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "Arabic diacritics (U+064B-U+065F, U+0670)",
     .choices = "keep|strip"},
    {.name = "digits",
     .type = WP_CONFIG_STRING,
     .default_json = "\"keep\"",
     .doc = "Arabic-Indic and Persian digits: keep (unified per language), or ASCII",
     .choices = "keep|ascii"},
    {.name = "match_key",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "set match_key: lossy key of headline+body (NFKC_Casefold, marks stripped, "
            "Turkish-aware)"},
    {.name = "cleanup",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "NFC plus space/control/invisible-character cleanup; false leaves only the steps above "
            "(scripts/eval-mojibake scores the repair alone)"},
    {0},
};

static bool cfg_str_is(const json_t *config, const char *key, const char *value)
{
    const char *s = json_string_value(json_object_get(config, key));
    return s && strcmp(s, value) == 0;
}

static bool cfg_bool(const json_t *config, const char *key, bool dflt)
{
    const json_t *v = json_object_get(config, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static void nz_destroy(void *instance)
{
    struct nz_stage *st = instance;
    if (st)
        st->host->free(st);
}

static enum wp_status nz_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    if (!nz_tables_ready()) {
        wp_fail(ctx, WP_E_UNICODE, "cannot load ICU normalization data or charset tables");
        return WP_E_UNICODE;
    }
    const json_t *fields = json_object_get(config, "fields");
    size_t n = json_array_size(fields);
    size_t bytes = sizeof(struct nz_stage) + n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(fields, i));
        if (!f || !*f) {
            wp_fail(ctx, WP_E_CONFIG, "fields[%zu]: expected a non-empty field name", i);
            return WP_E_CONFIG;
        }
        bytes += strlen(f) + 1;
    }
    /* One block holds the stage, the field-name pointers and the names. */
    struct nz_stage *st = ctx->host->calloc(1, bytes);
    if (!st) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return WP_E_NOMEM;
    }
    st->fields = (char **)(st + 1);
    char *names = (char *)(st->fields + n);
    for (size_t i = 0; i < n; i++) {
        const char *f = json_string_value(json_array_get(fields, i));
        size_t len = strlen(f) + 1;
        memcpy(names, f, len);
        st->fields[i] = names;
        names += len;
    }
    st->n_fields = n;
    st->host = ctx->host;
    st->quotes_ascii = cfg_str_is(config, "quotes", "ascii");
    st->nbsp_space = cfg_str_is(config, "nbsp", "space");
    st->mojibake = cfg_bool(config, "mojibake", true);
    st->entities = cfg_bool(config, "entities", true);
    st->letters = !cfg_str_is(config, "arabic_letters", "off");
    st->harakat_strip = cfg_str_is(config, "harakat", "strip");
    st->digits_ascii = cfg_str_is(config, "digits", "ascii");
    st->match_key = cfg_bool(config, "match_key", true);
    st->cleanup = cfg_bool(config, "cleanup", true);
    *instance = st;
    return WP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Storing results                                                                        */

/*
 * text_valid() - strict UTF-8 check with ICU's U8_NEXT (measured as fast as a check
 * eight ASCII bytes at a time, and twice as fast as wp_utf8_valid() on this text).
 * Everything this stage writes is built from whole validated characters or from code
 * points it encodes itself, so this cannot fail unless the code has a bug; it is here so
 * that such a bug can never put invalid text into an item. jansson's own check costs more
 * than the whole display pass (measured: 7 ms of 21 ms per 2 MB), which is why results
 * are stored with the _nocheck setters after this one.
 */
static bool text_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(u, i, n, c);
        if (c < 0)
            return false;
    }
    return true;
}

json_t *nz_json_string(const char *s, size_t n)
{
    if (!text_valid(s, n))
        return NULL;
    return json_stringn_nocheck(s, n); /* wp-style: validated just above */
}

/* Replace the text of string @v with @s; -1 when @s is not valid UTF-8. */
static int json_string_set_validated(json_t *v, const char *s, size_t n)
{
    if (!text_valid(s, n))
        return -1;
    return json_string_setn_nocheck(v, s, n); /* wp-style: validated just above */
}

static void buf_swap(struct wp_buf *a, struct wp_buf *b)
{
    struct wp_buf t = *a;
    *a = *b;
    *b = t;
}

/* ------------------------------------------------------------------------------------ */
/* The stage                                                                              */

/* Normalize one JSON string in place. Returns false only on out-of-memory. */
static bool normalize_string(struct nz_run *r, const struct nz_stage *st, enum nz_lang lang,
                             json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    struct wp_buf *a = &r->text, *b = &r->out, *c = &r->repair;
    const char *cur = s;
    size_t curn = n;
    bool ok = true;

    if (st->entities && memchr(cur, '&', curn)) {
        if (nz_decode_entities(r, cur, curn, a)) {
            cur = a->data;
            curn = a->len;
        }
    }
    if (!r->oom && st->cleanup) {
        /* The display pass also looks for mojibake patterns; only when it saw one does
         * the repair run, and when that repairs something the display pass is redone on
         * the repaired text. */
        unsigned before[NZ_OP_COUNT], after[NZ_OP_COUNT];
        bool need_nfc = false, suspect = false;
        memcpy(before, r->counts, sizeof(before));
        bool done = nz_clean_text(r, st, lang, cur, curn, b, &need_nfc, &suspect);
        if (done && st->mojibake && suspect) {
            memcpy(after, r->counts, sizeof(after));
            if (nz_fix_mojibake(r, cur, curn, c)) {
                unsigned moj = r->counts[NZ_OP_MOJIBAKE] - after[NZ_OP_MOJIBAKE];
                unsigned c1 = r->counts[NZ_OP_C1] - after[NZ_OP_C1];
                memcpy(r->counts, before, sizeof(before));
                r->counts[NZ_OP_MOJIBAKE] += moj;
                r->counts[NZ_OP_C1] += c1;
                buf_swap(a, c);
                cur = a->data;
                curn = a->len;
                done = nz_clean_text(r, st, lang, cur, curn, b, &need_nfc, &suspect);
            }
        }
        if (done && !r->oom) {
            int rc = need_nfc ? nz_nfc_utf8(r, b) : 0;
            if (rc >= 0) {
                if (rc > 0)
                    r->counts[NZ_OP_NFC]++;
                cur = b->data;
                curn = b->len;
            }
        }
    } else if (!r->oom && st->mojibake) {
        if (nz_fix_mojibake(r, cur, curn, b)) {
            buf_swap(a, b);
            cur = a->data;
            curn = a->len;
        }
    }
    if (r->oom) {
        ok = false;
    } else if (curn != n || memcmp(cur, s, n) != 0) {
        /* Checked again: a bug here cannot put invalid text in the item. */
        if (json_string_set_validated(v, cur, curn) != 0)
            r->counts[NZ_OP_SKIPPED]++;
    }
    return ok;
}

static void record_changes(struct wp_ctx *ctx, struct nz_run *r, json_t *item)
{
    json_t *changes = json_object_get(item, WP_ITEM_CHANGES);
    if (!json_is_object(changes)) {
        if (changes)
            wp_log_warn(ctx, "item field '%s' is not an object; replaced", WP_ITEM_CHANGES);
        changes = json_object();
        json_object_set_new(item, WP_ITEM_CHANGES, changes);
    }
    json_t *rec = json_object();
    for (int op = 0; op < NZ_OP_COUNT; op++) {
        if (r->counts[op])
            json_object_set_new(rec, nz_op_names[op], json_integer(r->counts[op]));
    }
    json_object_set_new(changes, ctx->host->stage_id(ctx), rec);
    if (r->counts[NZ_OP_MOJIBAKE])
        ctx->host->metric_add(ctx, "mojibake", r->counts[NZ_OP_MOJIBAKE]);
}

static enum wp_outcome nz_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    const struct nz_stage *st = instance;
    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "item is not a JSON object");
        return WP_OUTCOME_REJECT;
    }
    struct nz_run r = {.host = ctx->host};
    wp_buf_init(&r.text, ctx->host);
    wp_buf_init(&r.out, ctx->host);
    wp_buf_init(&r.repair, ctx->host);
    enum wp_outcome outcome = WP_OUTCOME_OK;
    enum nz_lang lang = nz_lang_of(json_string_value(json_object_get(item, WP_ITEM_LANGUAGE)));
    if (st->cleanup || st->match_key) {
        /*
         * One block serves the display pass of every field and then the match key, sized
         * once for headline and body together with the key's margin: most items need no
         * other allocation (growing buffers field by field cost 8% of the stage's time).
         */
        size_t total = json_string_length(json_object_get(item, WP_ITEM_HEADLINE)) +
                       json_string_length(json_object_get(item, WP_ITEM_BODY)) + 16;
        if (!nz_reserve(&r, &r.out, total + total / 4))
            goto oom;
    }
    for (size_t f = 0; f < st->n_fields; f++) {
        json_t *v = json_object_get(item, st->fields[f]);
        if (!v || json_is_null(v))
            continue;
        if (json_is_string(v)) {
            if (!normalize_string(&r, st, lang, v))
                goto oom;
        } else if (json_is_array(v)) {
            size_t idx;
            json_t *e;
            json_array_foreach(v, idx, e)
            {
                if (json_is_string(e)) {
                    if (!normalize_string(&r, st, lang, e))
                        goto oom;
                } else if (!json_is_null(e)) {
                    r.counts[NZ_OP_SKIPPED]++;
                }
            }
        } else {
            r.counts[NZ_OP_SKIPPED]++;
            wp_log_debug(ctx, "field '%s' is not a string; left as it is", st->fields[f]);
        }
    }
    if (st->match_key && !nz_set_match_key(&r, item, lang))
        goto oom;
    record_changes(ctx, &r, item);
    goto out;
oom:
    wp_fail(ctx, WP_E_NOMEM, "out of memory while normalizing");
    outcome = WP_OUTCOME_RETRY;
out:
    wp_buf_release(&r.text);
    wp_buf_release(&r.out);
    wp_buf_release(&r.repair);
    return outcome;
}

static const struct wp_stage_ops nz_ops = {
    .name = "normalize",
    .description = "NFC and display-safe cleanup, mojibake repair, per-language letter fixes, "
                   "match key",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = nz_config_keys,
    .create = nz_create,
    .process = nz_process,
    .destroy = nz_destroy,
};

static const struct wp_stage_ops *const nz_stages[] = {&nz_ops, NULL};

WP_PLUGIN_DEFINE(normalize, "0.1.0",
                 "Unicode normalization of story text: NFC, cleanup, mojibake repair, match key",
                 "MIT", nz_stages)
