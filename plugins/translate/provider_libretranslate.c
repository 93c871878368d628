/*
 * provider_libretranslate.c - LibreTranslate (POST /translate, JSON, q as an array).
 *
 * The key travels in the body as "api_key" (spelled so; "apiKey" is ignored by the server).
 * Names are kept with format=html and <span translate="no">.
 */
#include <string.h>

#include "translate.h"

static enum wp_status lt_build(const struct tr_config *conf, const struct tr_batch *batch,
                               struct tr_http *out)
{
    struct wp_buf url, body;
    tr_request_begin(conf, &url, &body, "/translate");
    wp_buf_adds(&body, "{\"q\":");
    tr_add_json_texts(&body, batch, "", "");
    wp_buf_adds(&body, ",\"source\":");
    const char *source = batch->source ? batch->source : "auto";
    tr_add_json(&body, source, strlen(source));
    wp_buf_adds(&body, ",\"target\":");
    tr_add_json(&body, batch->target, strlen(batch->target));
    wp_buf_adds(&body, batch->markup ? ",\"format\":\"html\"" : ",\"format\":\"text\"");
    if (conf->api_key) {
        wp_buf_adds(&body, ",\"api_key\":");
        tr_add_json(&body, conf->api_key, strlen(conf->api_key));
    }
    wp_buf_adds(&body, "}");
    return tr_request_finish(conf, &url, &body, "application/json", NULL, NULL, out);
}

/* One q gives one object, an array of q an array of them. */
static const struct tr_reply_list lt_reply = {
    .list = "translatedText",
    .text = "",
    .detected = {"detectedLanguage.0.language", "detectedLanguage.language"},
    .list_name = "translatedText",
    .entry_name = "translatedText",
    .text_name = "",
};

static enum wp_status lt_parse(const struct tr_config *conf, const struct tr_batch *batch,
                               const char *body, size_t body_len, char **out, char *detected,
                               size_t detected_size, struct wp_buf *err)
{
    return tr_parse_list(&lt_reply, conf, batch, body, body_len, out, detected, detected_size, err);
}

static const struct tr_error_reply lt_error = {
    .who = "LibreTranslate",
    .message = "error",
};

static enum wp_status lt_classify(long status, const char *body, size_t body_len,
                                  struct wp_buf *err)
{
    return tr_classify_reply(&lt_error, status, body, body_len, err, NULL);
}

const struct translate_provider tr_provider_libretranslate = {
    .name = "libretranslate",
    .default_endpoint = "http://127.0.0.1:5000",
    .default_key_env = "LIBRETRANSLATE_API_KEY",
    .key_required = false,
    .max_chars = 2000,
    .max_segments = 25,
    .concurrency = 4,
    .protect = TR_PROTECT_HTML_SPAN,
    .can_detect = true,
    .build = lt_build,
    .parse = lt_parse,
    .classify = lt_classify,
};
