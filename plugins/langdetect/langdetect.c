/*
 * langdetect - set "language" (BCP 47) and "language_confidence" on items whose source
 * did not say, using CLD2 (through cld2_shim.cc). The rule is written out in README.md;
 * keep the two in step.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <wirepipe/lang.h>
#include <wirepipe/plugin.h>

#include <jansson.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include "cld2_shim.h"

/*
 * Only the start of very long items is looked at: a few thousand letters settle the
 * language, and the cap bounds the time one item can take.
 */
#define LD_MAX_BYTES (64 * 1024)

/* The ckb rule gives at most this confidence: it reads letters, it is not a model. */
#define LD_CKB_MAX_CONFIDENCE 0.9

#define LD_TAG_MAX 16

struct langdetect {
    const struct wp_host_api *host; /* for destroy(), which gets no ctx */
    char **fields;
    size_t nfields;
    long long min_chars;
    double min_confidence;
    bool override;
};

/* What the text is made of, counted in code points. */
struct ld_letters {
    size_t letters;      /* alphabetic code points (ICU u_isalpha) */
    size_t arabic;       /* of which Arabic script */
    size_t sorani_marks; /* of which letters only Kurdish (Sorani) spelling uses */
    size_t uyghur_marks; /* of which letters Uyghur/Pashto use and Sorani does not */
};

struct ld_verdict {
    char tag[LD_TAG_MAX];
    double confidence;
    const char *why; /* for the debug log when tag is "und" */
    char guess[LD_TAG_MAX];
};

static const struct wp_config_key ld_config[] = {
    {.name = "fields",
     .type = WP_CONFIG_STRINGS,
     .default_json = "[\"headline\", \"body\"]",
     .doc = "item fields whose text is joined and detected (non-string fields are skipped)",
     .min_items = 1},
    {.name = "min_chars",
     .type = WP_CONFIG_INT,
     .default_json = "20",
     .doc = "fewer letters than this gives \"und\"",
     WP_CONFIG_RANGE(0, LD_MAX_BYTES)},
    {.name = "min_confidence",
     .type = WP_CONFIG_NUMBER,
     .default_json = "0.7",
     .doc = "a guess below this confidence (0..1) gives \"und\"",
     WP_CONFIG_RANGE(0, 1)},
    {.name = "override",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "also detect when the source set a language; a confident result replaces it"},
    {0},
};

/*
 * CLD2 codes that are not the BCP 47 tag for the same language. CLD2 keeps Google's old
 * codes ("iw", "jw"); the joke languages of its extended API and its script-only results
 * ("xx-Latn") are not languages.
 */
static const struct {
    const char *cld2;
    const char *bcp47;
} ld_code_map[] = {
    {"iw", "he"},   {"jw", "jv"},   {"sr-ME", "cnr"}, {"blu", "hmn"},
    {"un", "und"},  {"xxx", "und"}, {"zzb", "und"},   {"zzp", "und"},
    {"zzh", "und"}, {"zze", "und"}, {"tlh", "und"},
};

static void ld_set_tag(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= LD_TAG_MAX) {
        n = LD_TAG_MAX - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * A CLD2 code that can be written out as a tag: well-formed (wp_lang_tag_valid), with '-'
 * as the only separator, and short enough for ld_verdict. (Every code of Debian's CLD2
 * passes but "" and those ld_code_map turns into "und".)
 */
static bool ld_tag_ok(const char *code)
{
    return wp_lang_tag_valid(code) && strchr(code, '_') == NULL && strlen(code) < LD_TAG_MAX;
}

/* Turn a CLD2 code into a BCP 47 tag ("und" for anything that is not a language). */
static void ld_map_code(const char *cld2, const struct ld_letters *lt, char *tag)
{
    if (!ld_tag_ok(cld2) || strncmp(cld2, "xx-", 3) == 0) {
        ld_set_tag(tag, "und");
        return;
    }
    for (size_t i = 0; i < sizeof(ld_code_map) / sizeof(ld_code_map[0]); i++) {
        if (strcmp(cld2, ld_code_map[i].cld2) == 0) {
            ld_set_tag(tag, ld_code_map[i].bcp47);
            return;
        }
    }
    /*
     * CLD2 has one "ku" for Kurdish in either script. Arabic-script Kurdish in the news is
     * Central Kurdish (Sorani, "ckb"); Latin-script Kurdish is Northern Kurdish (Kurmanji),
     * which keeps the macrolanguage tag "ku" that sources and the names stage use.
     */
    if (strcmp(cld2, "ku") == 0 && lt->arabic * 2 > lt->letters) {
        ld_set_tag(tag, "ckb");
        return;
    }
    ld_set_tag(tag, cld2);
}

static bool ld_is_sorani_mark(UChar32 c)
{
    /* RREH, LAM WITH SMALL V, YEH WITH SMALL V, AE, OE */
    return c == 0x0695 || c == 0x06B5 || c == 0x06CE || c == 0x06D5 || c == 0x06C6;
}

static bool ld_is_uyghur_mark(UChar32 c)
{
    /* E, U, YU, VE: Uyghur and Pashto letters that Sorani spelling does not use */
    return c == 0x06D0 || c == 0x06C7 || c == 0x06C8 || c == 0x06CB;
}

static void ld_count_letters(const char *text, size_t len, struct ld_letters *lt)
{
    memset(lt, 0, sizeof(*lt));
    const uint8_t *s = (const uint8_t *)text;
    int32_t i = 0;
    int32_t n = (int32_t)len; /* len <= LD_MAX_BYTES */
    while (i < n) {
        UChar32 c;
        U8_NEXT(s, i, n, c);
        if (c < 0 || !u_isalpha(c)) {
            continue;
        }
        lt->letters++;
        UErrorCode err = U_ZERO_ERROR;
        if (uscript_getScript(c, &err) == USCRIPT_ARABIC && U_SUCCESS(err)) {
            lt->arabic++;
            if (ld_is_sorani_mark(c)) {
                lt->sorani_marks++;
            } else if (ld_is_uyghur_mark(c)) {
                lt->uyghur_marks++;
            }
        }
    }
}

/*
 * CLD2's compact tables have no model for Sorani: it answers "unknown", or "fa" for a
 * short Sorani headline. Sorani spelling is easy to tell from Persian, Arabic and Urdu by
 * letters those never use (a Kurdish place name inside a Persian story stays far below the
 * 4% share asked for); Uyghur shares two of them but has its own vowels, which rule it out.
 */
static bool ld_looks_sorani(const struct ld_letters *lt)
{
    return lt->arabic * 2 > lt->letters && lt->sorani_marks >= 3 &&
           lt->sorani_marks * 25 >= lt->arabic && lt->uyghur_marks * 4 < lt->sorani_marks;
}

static double ld_round3(double x)
{
    return (double)(long long)(x * 1000.0 + 0.5) / 1000.0;
}

/* The decision rule of README.md ("How the language is chosen"). */
static void ld_decide(const struct langdetect *ld, const struct lang_cld2_result *res,
                      const struct ld_letters *lt, struct ld_verdict *v)
{
    char guess[LD_TAG_MAX];
    double confidence = 0.0;

    ld_map_code(res->code, lt, guess);
    if (ld_looks_sorani(lt)) {
        ld_set_tag(guess, "ckb");
        confidence = LD_CKB_MAX_CONFIDENCE * (double)lt->arabic / (double)lt->letters;
    } else if (strcmp(guess, "und") != 0) {
        confidence = (double)res->percent / 100.0 * (res->reliable ? 1.0 : 0.5);
    }
    if (confidence > 1.0) {
        confidence = 1.0;
    }
    v->confidence = ld_round3(confidence);
    ld_set_tag(v->guess, guess);
    ld_set_tag(v->tag, "und");
    if ((long long)lt->letters < ld->min_chars) {
        v->why = "too few letters";
    } else if (strcmp(guess, "und") == 0) {
        v->why = "no language recognised";
    } else if (v->confidence < ld->min_confidence) {
        v->why = res->reliable ? "mixed languages" : "guess not reliable";
    } else {
        ld_set_tag(v->tag, guess);
        v->why = NULL;
    }
}

/* The source's tag, or NULL when it gave none ("und", empty or not a string). */
static const char *ld_declared_language(const json_t *item)
{
    const char *lang = json_string_value(json_object_get(item, WP_ITEM_LANGUAGE));
    if (lang == NULL || lang[0] == '\0' || strcmp(lang, "und") == 0 || strcmp(lang, "UND") == 0) {
        return NULL;
    }
    return lang;
}

static const char *ld_item_id(const json_t *item)
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    return id ? id : "(no id)";
}

/*
 * Join the configured fields with blank lines into a new buffer (freed by the caller
 * with host->free), cut at LD_MAX_BYTES on a code point boundary.
 */
static char *ld_collect_text(const struct langdetect *ld, struct wp_ctx *ctx, const json_t *item,
                             size_t *out_len)
{
    char *buf = ctx->host->malloc(LD_MAX_BYTES + 1);
    if (buf == NULL) {
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < ld->nfields && used < LD_MAX_BYTES; i++) {
        const json_t *value = json_object_get(item, ld->fields[i]);
        if (value == NULL || json_is_null(value)) {
            continue;
        }
        if (!json_is_string(value)) {
            wp_log_debug(ctx, "item '%s': field '%s' is not a string; not used for detection",
                         ld_item_id(item), ld->fields[i]);
            ctx->host->metric_add(ctx, "field_not_string", 1);
            continue;
        }
        size_t n = json_string_length(value);
        if (n == 0) {
            continue;
        }
        if (used > 0) {
            size_t sep = LD_MAX_BYTES - used < 2 ? LD_MAX_BYTES - used : 2;
            memcpy(buf + used, "\n\n", sep);
            used += sep;
        }
        if (n > LD_MAX_BYTES - used) {
            n = LD_MAX_BYTES - used;
        }
        memcpy(buf + used, json_string_value(value), n);
        used += n;
    }
    /* Do not hand CLD2 half a character: drop a cut-off UTF-8 sequence. */
    if (used == LD_MAX_BYTES) {
        const uint8_t *u = (const uint8_t *)buf;
        int32_t end = (int32_t)used;
        U8_TRUNCATE_IF_INCOMPLETE(u, 0, end);
        used = (size_t)end;
    }
    buf[used] = '\0';
    *out_len = used;
    return buf;
}

static enum wp_outcome ld_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    const struct langdetect *ld = instance;

    if (!json_is_object(item)) {
        wp_fail(ctx, WP_E_INVALID, "item is not a JSON object");
        return WP_OUTCOME_REJECT;
    }
    const char *declared = ld_declared_language(item);
    if (declared != NULL && !ld->override) {
        ctx->host->metric_add(ctx, "kept", 1);
        return WP_OUTCOME_OK;
    }

    size_t len = 0;
    char *text = ld_collect_text(ld, ctx, item, &len);
    if (text == NULL) {
        wp_fail(ctx, WP_E_NOMEM, "item '%s': out of memory collecting text", ld_item_id(item));
        return WP_OUTCOME_RETRY;
    }
    struct ld_letters letters;
    ld_count_letters(text, len, &letters);
    struct lang_cld2_result res;
    memset(&res, 0, sizeof(res));
    memcpy(res.code, "un", 3);
    if (letters.letters > 0 && lang_cld2_detect(text, len, &res) != 0) {
        ctx->host->free(text);
        wp_fail(ctx, WP_E_NOMEM, "item '%s': language detector failed (out of memory)",
                ld_item_id(item));
        return WP_OUTCOME_RETRY;
    }
    ctx->host->free(text);

    struct ld_verdict v;
    ld_decide(ld, &res, &letters, &v);
    if (v.why != NULL) {
        wp_log_debug(ctx, "item '%s': language 'und' (%s; best guess '%s' at %.3f, %zu letters)",
                     ld_item_id(item), v.why, v.guess, v.confidence, letters.letters);
    }

    if (declared != NULL && strcmp(v.tag, "und") == 0) {
        /* override: an undetermined result never replaces what the source said */
        ctx->host->metric_add(ctx, "kept", 1);
        return WP_OUTCOME_OK;
    }
    json_t *tag = json_string(v.tag);
    json_t *conf = json_real(v.confidence);
    if (json_object_set_new(item, WP_ITEM_LANGUAGE, tag) != 0 ||
        json_object_set_new(item, WP_ITEM_LANGUAGE_CONFIDENCE, conf) != 0) {
        wp_fail(ctx, WP_E_NOMEM, "item '%s': out of memory setting the language", ld_item_id(item));
        return WP_OUTCOME_RETRY;
    }
    ctx->host->metric_add(ctx, strcmp(v.tag, "und") == 0 ? "undetermined" : "detected", 1);
    return WP_OUTCOME_OK;
}

static void ld_free(struct langdetect *ld)
{
    if (ld == NULL) {
        return;
    }
    for (size_t i = 0; i < ld->nfields; i++) {
        ld->host->free(ld->fields[i]);
    }
    ld->host->free(ld->fields);
    ld->host->free(ld);
}

static void ld_destroy(void *instance)
{
    ld_free(instance);
}

static enum wp_status ld_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    const struct wp_host_api *host = ctx->host;
    const json_t *fields = json_object_get(config, "fields");
    const json_t *min_chars = json_object_get(config, "min_chars");
    const json_t *min_conf = json_object_get(config, "min_confidence");
    const json_t *override = json_object_get(config, "override");

    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        wp_fail(ctx, WP_E_CONFIG, "fields: expected a non-empty array of field names");
        return WP_E_CONFIG;
    }
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const char *name = json_string_value(json_array_get(fields, i));
        if (name == NULL || name[0] == '\0') {
            wp_fail(ctx, WP_E_CONFIG, "fields[%zu]: expected a non-empty field name", i);
            return WP_E_CONFIG;
        }
    }
    if (!json_is_integer(min_chars) || json_integer_value(min_chars) < 0 ||
        json_integer_value(min_chars) > LD_MAX_BYTES) {
        wp_fail(ctx, WP_E_CONFIG, "min_chars: expected an integer from 0 to %d", LD_MAX_BYTES);
        return WP_E_CONFIG;
    }
    if (!json_is_number(min_conf) || json_number_value(min_conf) < 0.0 ||
        json_number_value(min_conf) > 1.0) {
        wp_fail(ctx, WP_E_CONFIG, "min_confidence: expected a number from 0 to 1");
        return WP_E_CONFIG;
    }
    if (!json_is_boolean(override)) {
        wp_fail(ctx, WP_E_CONFIG, "override: expected true or false");
        return WP_E_CONFIG;
    }

    struct langdetect *ld = host->calloc(1, sizeof(*ld));
    if (ld == NULL) {
        goto out_nomem;
    }
    ld->host = host;
    ld->min_chars = json_integer_value(min_chars);
    ld->min_confidence = json_number_value(min_conf);
    ld->override = json_is_true(override);
    ld->fields = host->calloc(json_array_size(fields), sizeof(*ld->fields));
    if (ld->fields == NULL) {
        goto out_free;
    }
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *name = json_array_get(fields, i);
        ld->fields[i] = host->strndup(json_string_value(name), json_string_length(name));
        if (ld->fields[i] == NULL) {
            goto out_free;
        }
        ld->nfields++;
    }
    *instance = ld;
    return WP_OK;

out_free:
    ld_free(ld);
out_nomem:
    wp_fail(ctx, WP_E_NOMEM, "out of memory");
    return WP_E_NOMEM;
}

static const struct wp_stage_ops ld_ops = {
    .name = "langdetect",
    .description = "Set language (BCP 47) and language_confidence when the source did not",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = ld_config,
    .create = ld_create,
    .process = ld_process,
    .destroy = ld_destroy,
};

static const struct wp_stage_ops *const ld_stages[] = {&ld_ops, NULL};

WP_PLUGIN_DEFINE(langdetect, "0.1.0", "Language detection with CLD2", "MIT", ld_stages)
