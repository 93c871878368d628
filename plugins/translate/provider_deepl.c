/*
 * provider_deepl.c - DeepL API v2 (POST /v2/translate, JSON, text as an array).
 *
 * The key goes only in the Authorization header ("DeepL-Auth-Key"): DeepL refuses it in
 * the body or query since 2026. Names are kept with tag_handling=xml and ignore_tags=x.
 * 456 means the quota is used up and is never retried.
 */
#include <string.h>

#include "translate.h"

/* DeepL wants upper-case codes; plain "EN" and "PT" are deprecated as targets. */
static void add_lang(struct wp_buf *b, const char *lang, bool target)
{
    char up[16];
    size_t n = 0;
    for (; lang[n] && n + 1 < sizeof(up); n++)
        up[n] = (char)(lang[n] >= 'a' && lang[n] <= 'z' ? lang[n] - 32 : lang[n]);
    up[n] = '\0';
    if (target && strcmp(up, "EN") == 0)
        tr_add_json(b, "EN-GB", 5);
    else if (target && strcmp(up, "PT") == 0)
        tr_add_json(b, "PT-PT", 5);
    else
        tr_add_json(b, up, n);
}

static enum wp_status deepl_build(const struct tr_config *conf, const struct tr_batch *batch,
                                  struct tr_http *out)
{
    if (!conf->api_key)
        return WP_E_CONFIG;
    struct wp_buf url, body;
    tr_request_begin(conf, &url, &body, "/v2/translate");
    wp_buf_adds(&body, "{\"text\":");
    tr_add_json_texts(&body, batch, "", "");
    wp_buf_adds(&body, ",\"target_lang\":");
    add_lang(&body, batch->target, true);
    if (batch->source) {
        wp_buf_adds(&body, ",\"source_lang\":");
        add_lang(&body, batch->source, false);
    }
    if (batch->markup)
        wp_buf_adds(&body, ",\"tag_handling\":\"xml\",\"ignore_tags\":[\"x\"]");
    if (conf->formality) {
        wp_buf_adds(&body, ",\"formality\":");
        tr_add_json(&body, conf->formality, strlen(conf->formality));
    }
    wp_buf_adds(&body, "}");
    return tr_request_finish(conf, &url, &body, "application/json",
                             "Authorization: DeepL-Auth-Key ", conf->api_key, out);
}

static const struct tr_reply_list deepl_reply = {
    .list = "translations",
    .text = "text",
    .detected = {"translations.0.detected_source_language"},
    .lower_detected = true,
    .list_name = "translations",
    .entry_name = "translations",
    .text_name = ".text",
};

static enum wp_status deepl_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                  const char *body, size_t body_len, char **out, char *detected,
                                  size_t detected_size, struct wp_buf *err)
{
    return tr_parse_list(&deepl_reply, conf, batch, body, body_len, out, detected, detected_size,
                         err);
}

static const struct tr_error_reply deepl_error = {
    .who = "DeepL",
    .message = "message",
    .quota_status = 456,
};

static enum wp_status deepl_classify(long status, const char *body, size_t body_len,
                                     struct wp_buf *err)
{
    return tr_classify_reply(&deepl_error, status, body, body_len, err, NULL);
}

const struct translate_provider tr_provider_deepl = {
    .name = "deepl",
    .default_endpoint = "https://api.deepl.com",
    .default_key_env = "DEEPL_API_KEY",
    .key_required = true,
    .max_chars = 30000,
    .max_segments = 50,
    .concurrency = 4,
    .protect = TR_PROTECT_XML_TAG,
    .can_detect = true,
    .build = deepl_build,
    .parse = deepl_parse,
    .classify = deepl_classify,
};
