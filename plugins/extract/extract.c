/*
 * extract - turn a fetched page ("content") into headline, body and metadata.
 *
 * HTML goes through libxml2's error-tolerant HTML parser. The body comes from JSON-LD
 * articleBody when that is about as complete as what the page shows, otherwise from a
 * readability-style scoring of blocks by text length, commas, link density and class/id
 * hints, followed by conditional cleaning of boilerplate inside the chosen container.
 * Plain text pages (copies of web pages as text) are cleaned line by line with general
 * rules: line length, sentence punctuation, counters, date lines and a small table of
 * chrome phrases.
 *
 * This file is the stage: configuration, deciding what the content is, and putting what
 * the page yields on the item. extract.h says where the rest lives.
 */
#include "extract.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>
#include <wirepipe/utf8.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

/*
 * The host checks types, choices and bounds and fills in defaults before create(), which
 * checks the bounds again (within_bounds) for hosts that do not enforce them.
 */
static const struct wp_config_key ex_config[] = {
    {.name = "mode",
     .type = WP_CONFIG_STRING,
     .default_json = "\"auto\"",
     .doc = "how to read content: by content type and sniffing, always HTML, or always plain text",
     .choices = "auto|html|text"},
    {.name = "min_paragraph_chars",
     .type = WP_CONFIG_INT,
     .default_json = "40",
     .doc = "plain text: shortest line kept as a paragraph on its own (shorter lines survive only "
            "between paragraphs)",
     WP_CONFIG_RANGE(1, 10000)},
    {.name = "min_body_chars",
     .type = WP_CONFIG_INT,
     .default_json = "1",
     .doc = "reject the item when the extracted body has fewer characters than this",
     /* A body has no more characters than the page has bytes, at most INT32_MAX. */
     WP_CONFIG_RANGE(0, INT32_MAX)},
    {.name = "max_content_bytes",
     .type = WP_CONFIG_INT,
     .default_json = "16777216",
     .doc = "reject pages larger than this many bytes instead of parsing them",
     WP_CONFIG_RANGE(1, INT32_MAX)},
    {.name = "keep_content",
     .type = WP_CONFIG_BOOL,
     .default_json = "false",
     .doc = "keep the raw 'content' field on the item"},
    {.name = "json_ld_body",
     .type = WP_CONFIG_BOOL,
     .default_json = "true",
     .doc = "use a JSON-LD articleBody when it is about as long as the body found in the page"},
    {.name = "json_ld_min_ratio",
     .type = WP_CONFIG_NUMBER,
     .default_json = "0.8",
     .doc = "JSON-LD articleBody must be at least this share of the page body's length to be used",
     WP_CONFIG_RANGE(0, 10)},
    {.name = "max_link_density",
     .type = WP_CONFIG_NUMBER,
     .default_json = "0.33",
     .doc = "blocks inside the article whose text is more than this share of link text are dropped",
     /* 0 itself is refused by create(): the range cannot say "above 0". */
     WP_CONFIG_RANGE(0, 1)},
    {0},
};

struct ex_instance {
    const struct wp_host_api *host;
    struct ex_conf conf;
};

/* Does @s look like HTML? Needs a document tag or several common element tags. */
static bool sniff_html(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i < n && s[i] == '<') {
        const char *p = s + i;
        if (ex_istarts(p, "<!doctype html") || ex_istarts(p, "<html") || ex_istarts(p, "<head") ||
            ex_istarts(p, "<body") || ex_istarts(p, "<!--"))
            return true;
    }
    static const char *const tags[] = {"<p>",     "<p ",    "<div",   "<br",    "<a href", "<span",
                                       "</p>",    "</div>", "<li>",   "<table", "<h1",     "<h2",
                                       "<script", "<meta",  "<title", NULL};
    size_t hits = 0;
    size_t limit = n < 65536 ? n : 65536;
    for (size_t k = 0; k < limit; k++) {
        if (s[k] != '<')
            continue;
        for (size_t t = 0; tags[t]; t++) {
            size_t tl = strlen(tags[t]);
            if (k + tl <= n && strncasecmp(s + k, tags[t], tl) == 0) {
                hits++;
                break;
            }
        }
        if (hits >= 3)
            return true;
    }
    return false;
}

static bool type_is_html(const char *ct)
{
    return ct && (ex_istarts(ct, "text/html") || ex_istarts(ct, "application/xhtml"));
}

static bool type_is_text(const char *ct)
{
    return ct && ex_istarts(ct, "text/plain");
}

/* Types no page text can have: binary formats fetched by mistake. */
static bool type_is_binary(const char *ct)
{
    static const char *const bins[] = {"image/",
                                       "audio/",
                                       "video/",
                                       "font/",
                                       "application/pdf",
                                       "application/zip",
                                       "application/octet-stream",
                                       "application/gzip",
                                       NULL};
    if (!ct)
        return false;
    for (size_t i = 0; bins[i]; i++) {
        if (ex_istarts(ct, bins[i]))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------
 * Stage operations
 * ------------------------------------------------------------------------------------- */

/*
 * The bounds of ex_config, checked again for hosts that do not enforce them (the host's
 * own check runs first and has the same limits).
 */
static bool within_bounds(struct wp_ctx *ctx, const json_t *config)
{
    for (const struct wp_config_key *k = ex_config; k->name; k++) {
        if (!k->bounded)
            continue;
        double x = json_number_value(json_object_get(config, k->name));
        if (x >= k->min && x <= k->max)
            continue;
        if (k->type == WP_CONFIG_INT)
            wp_fail(ctx, WP_E_CONFIG, "%s: expected %.0f..%.0f", k->name, k->min, k->max);
        else
            wp_fail(ctx, WP_E_CONFIG, "%s: expected %g..%g", k->name, k->min, k->max);
        return false;
    }
    return true;
}

static enum wp_status ex_create(struct wp_ctx *ctx, const json_t *config, void **instance)
{
    const char *mode = json_string_value(json_object_get(config, "mode"));
    struct ex_conf c = {
        .mode = EX_MODE_AUTO,
        .min_paragraph_chars =
            (long)json_integer_value(json_object_get(config, "min_paragraph_chars")),
        .min_body_chars = (long)json_integer_value(json_object_get(config, "min_body_chars")),
        .max_content_bytes = (long)json_integer_value(json_object_get(config, "max_content_bytes")),
        .keep_content = json_is_true(json_object_get(config, "keep_content")),
        .json_ld_body = json_is_true(json_object_get(config, "json_ld_body")),
        .json_ld_min_ratio = json_number_value(json_object_get(config, "json_ld_min_ratio")),
        .max_link_density = json_number_value(json_object_get(config, "max_link_density")),
    };
    if (mode && strcmp(mode, "html") == 0) {
        c.mode = EX_MODE_HTML;
    } else if (mode && strcmp(mode, "text") == 0) {
        c.mode = EX_MODE_TEXT;
    } else if (mode && strcmp(mode, "auto") != 0) {
        wp_fail(ctx, WP_E_CONFIG, "mode: expected 'auto', 'html' or 'text', got '%s'", mode);
        return WP_E_CONFIG;
    }
    if (!within_bounds(ctx, config))
        return WP_E_CONFIG;
    /* The one bound a range cannot say: 0 would drop every block with any link text. */
    if (c.max_link_density <= 0) {
        wp_fail(ctx, WP_E_CONFIG, "max_link_density: expected a number in (0, 1]");
        return WP_E_CONFIG;
    }
    struct ex_instance *in = ctx->host->calloc(1, sizeof(*in));
    if (!in) {
        wp_fail(ctx, WP_E_NOMEM, "cannot allocate the extract stage");
        return WP_E_NOMEM;
    }
    in->host = ctx->host;
    in->conf = c;
    *instance = in;
    return WP_OK;
}

static void ex_destroy(void *instance)
{
    struct ex_instance *in = instance;
    if (in)
        in->host->free(in);
}

static void set_str(json_t *item, const struct wp_host_api *host, const char *key, const char *s)
{
    json_t *v = ex_json_text(host, s, strlen(s));
    if (v)
        json_object_set_new(item, key, v);
}

static enum wp_outcome ex_html(struct ex_instance *in, struct wp_ctx *ctx, json_t *item,
                               struct ex_result *r, const char *content, size_t len,
                               const char *url)
{
    xmlDoc *doc = htmlReadMemory(content, (int)len, url, "UTF-8",
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                     HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
    if (!doc) {
        wp_fail(ctx, WP_E_INVALID, "cannot parse the page as HTML (%zu bytes)", len);
        return WP_OUTCOME_REJECT;
    }
    /*
     * The parser's depth limit protects it (and xmlFreeDoc) from hostile nesting; what
     * lies deeper is lost, so say so on the item.
     */
    xmlNode *root = xmlDocGetRootElement(doc);
    unsigned depth = root ? ex_dom_depth(root) : 0;
    r->depth_cut = depth >= EX_LIBXML2_MAX_DEPTH - 1;
    if (r->depth_cut)
        ctx->host->item_add_error(ctx, item, WP_E_LIMIT,
                                  "page nests elements %u deep; text below depth %d is lost", depth,
                                  EX_LIBXML2_MAX_DEPTH);
    ex_html_meta(r, doc, url);
    ex_html_body(r, doc, &in->conf);
    xmlFreeDoc(doc);
    /* JSON-LD articleBody is cleaner than the DOM when it is complete. */
    if (in->conf.json_ld_body && r->ld_body) {
        size_t dom = ex_body_chars(r);
        size_t ld = wp_utf8_count(r->ld_body, r->ld_body_len);
        if (ld >= 200 && (double)ld >= in->conf.json_ld_min_ratio * (double)dom) {
            wp_buf_truncate(&r->body, 0);
            wp_buf_add(&r->body, r->ld_body, r->ld_body_len);
            r->method = "json-ld";
            ctx->host->metric_add(ctx, "json_ld_body", 1);
        }
    }
    return WP_OUTCOME_OK;
}

static enum wp_outcome ex_process(void *instance, struct wp_ctx *ctx, json_t *item)
{
    struct ex_instance *in = instance;
    const struct wp_host_api *host = ctx->host;
    json_t *content = json_object_get(item, WP_ITEM_CONTENT);
    if (!content) {
        if (json_is_string(json_object_get(item, WP_ITEM_BODY)))
            return WP_OUTCOME_OK;
        wp_fail(ctx, WP_E_INVALID, "item has neither 'content' nor 'body'");
        return WP_OUTCOME_REJECT;
    }
    if (!json_is_string(content)) {
        wp_fail(ctx, WP_E_INVALID, "'content' is not a string");
        return WP_OUTCOME_REJECT;
    }
    const char *text = json_string_value(content);
    size_t len = json_string_length(content);
    if (len > (size_t)in->conf.max_content_bytes) {
        wp_fail(ctx, WP_E_LIMIT, "page of %zu bytes is over max_content_bytes (%ld)", len,
                in->conf.max_content_bytes);
        return WP_OUTCOME_REJECT;
    }
    size_t visible = len;
    ex_trim(text, &visible);
    if (visible == 0) {
        wp_fail(ctx, WP_E_INVALID, "page is empty (%zu bytes of whitespace)", len);
        return WP_OUTCOME_REJECT;
    }
    json_t *source = json_object_get(item, WP_ITEM_SOURCE);
    const char *ct = json_string_value(json_object_get(source, "content_type"));
    const char *url = json_string_value(json_object_get(source, "url"));
    if (!url)
        url = json_string_value(json_object_get(item, WP_ITEM_URI));

    bool html;
    if (in->conf.mode == EX_MODE_HTML) {
        html = true;
    } else if (in->conf.mode == EX_MODE_TEXT) {
        html = false;
    } else {
        bool looks_html = sniff_html(text, len);
        if (type_is_binary(ct) && !looks_html) {
            wp_fail(ctx, WP_E_INVALID, "content type '%s' is not a page extract can read", ct);
            return WP_OUTCOME_REJECT;
        }
        html = looks_html;
        if (type_is_html(ct) && !looks_html) {
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "content labelled '%s' has no HTML markup; read as plain text",
                                 ct);
            host->metric_add(ctx, "type_mismatch", 1);
        } else if (type_is_text(ct) && looks_html) {
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "content labelled '%s' is HTML; parsed as HTML", ct);
            host->metric_add(ctx, "type_mismatch", 1);
        }
    }
    /* libxml2 stops at a NUL byte; say so rather than lose the rest silently. */
    size_t nul = strnlen(text, len);
    if (nul < len) {
        host->item_add_error(ctx, item, WP_E_UNICODE,
                             "content has a NUL byte at offset %zu; text after it is ignored", nul);
        len = nul;
    }

    struct ex_result r;
    ex_result_init(&r, host);
    enum wp_outcome out = WP_OUTCOME_OK;
    if (html)
        out = ex_html(in, ctx, item, &r, text, len, url);
    else
        ex_text_extract(&r, text, len, &in->conf);
    if (out != WP_OUTCOME_OK)
        goto out_free;
    if (r.body.failed || !r.authors || !r.keywords) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory while extracting");
        out = WP_OUTCOME_RETRY;
        goto out_free;
    }
    size_t chars = ex_body_chars(&r);
    if (chars == 0 || chars < (size_t)in->conf.min_body_chars) {
        wp_fail(ctx, WP_E_INVALID, "no article text found in %s content (%zu bytes%s%s)%s",
                html ? "HTML" : "plain-text", len, ct ? ", " : "", ct ? ct : "",
                r.depth_cut ? "; elements nested deeper than 256 were cut by the parser" : "");
        out = WP_OUTCOME_REJECT;
        goto out_free;
    }
    host->metric_add(ctx, html ? "html" : "text", 1);
    if (r.headline && *r.headline)
        set_str(item, host, WP_ITEM_HEADLINE, r.headline);
    json_t *body = ex_json_text(host, r.body.data ? r.body.data : "", r.body.len);
    if (!body) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory while storing the body");
        out = WP_OUTCOME_RETRY;
        goto out_free;
    }
    json_object_set_new(item, WP_ITEM_BODY, body);
    if (r.language)
        set_str(item, host, WP_ITEM_LANGUAGE, r.language);
    if (r.published_raw) {
        char iso[EX_DATE_SIZE];
        if (ex_parse_date(r.published_raw, iso))
            set_str(item, host, WP_ITEM_PUBLISHED, iso);
        else
            host->item_add_error(ctx, item, WP_E_INVALID,
                                 "publication date not understood; left out");
    }
    if (json_array_size(r.authors))
        json_object_set(item, WP_ITEM_AUTHORS, r.authors);
    if (json_array_size(r.keywords))
        json_object_set(item, WP_ITEM_KEYWORDS, r.keywords);
    if (r.canonical)
        set_str(item, host, WP_ITEM_URI, r.canonical);
    if (!in->conf.keep_content)
        json_object_del(item, WP_ITEM_CONTENT);
    if (host->log_enabled(ctx, WP_LOG_DEBUG))
        wp_log_debug(ctx, "body of %zu characters in %zu paragraphs from %s", chars, r.paragraphs,
                     r.method ? r.method : "?");
out_free:
    ex_result_release(&r);
    return out;
}

static const struct wp_stage_ops extract_ops = {
    .name = "extract",
    .description = "HTML or plain-text page to headline, body paragraphs and metadata",
    .flags = WP_STAGE_THREAD_SAFE,
    .config = ex_config,
    .create = ex_create,
    .process = ex_process,
    .destroy = ex_destroy,
};

static const struct wp_stage_ops *const extract_stages[] = {&extract_ops, NULL};

WP_PLUGIN_DEFINE(extract, "0.1.0", "Article extraction: headline, body and metadata of a page",
                 "MIT", extract_stages)
