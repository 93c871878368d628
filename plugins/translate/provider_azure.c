/*
 * provider_azure.c - Microsoft Azure Translator v3 (POST /translate?api-version=3.0).
 *
 * Body [{"Text": ...}, ...]; one target per request so limits stay per target. Names are
 * kept with textType=html and translate="no". A 403 with code 403001 is the free quota.
 */
#include <string.h>

#include "translate.h"

static enum wp_status azure_build(const struct tr_config *conf, const struct tr_batch *batch,
                                  struct tr_http *out)
{
    if (!conf->api_key)
        return WP_E_CONFIG;
    struct wp_buf url, body;
    tr_request_begin(conf, &url, &body, "/translate?api-version=3.0&to=");
    tr_add_form(&url, batch->target, strlen(batch->target));
    if (batch->source) {
        wp_buf_adds(&url, "&from=");
        tr_add_form(&url, batch->source, strlen(batch->source));
    }
    if (batch->markup)
        wp_buf_adds(&url, "&textType=html");
    tr_add_json_texts(&body, batch, "{\"Text\":", "}");
    enum wp_status status = tr_request_finish(conf, &url, &body, "application/json",
                                              "Ocp-Apim-Subscription-Key: ", conf->api_key, out);
    if (status == WP_OK && conf->region &&
        !tr_http_header(conf, out, 2, "Ocp-Apim-Subscription-Region: ", conf->region))
        return WP_E_NOMEM;
    return status;
}

static const struct tr_reply_list azure_reply = {
    .list = "",
    .text = "translations.0.text",
    .detected = {"0.detectedLanguage.language"},
    .list_name = NULL,
    .entry_name = "",
    .text_name = ".translations[0].text",
};

static enum wp_status azure_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                  const char *body, size_t body_len, char **out, char *detected,
                                  size_t detected_size, struct wp_buf *err)
{
    return tr_parse_list(&azure_reply, conf, batch, body, body_len, out, detected, detected_size,
                         err);
}

static const struct tr_error_reply azure_error = {
    .who = "Azure",
    .message = "error.message",
    .code = "error.code",
    .quota_code = 403001,
};

static enum wp_status azure_classify(long status, const char *body, size_t body_len,
                                     struct wp_buf *err)
{
    return tr_classify_reply(&azure_error, status, body, body_len, err, NULL);
}

const struct translate_provider tr_provider_azure = {
    .name = "azure",
    .default_endpoint = "https://api.cognitive.microsofttranslator.com",
    .default_key_env = "AZURE_TRANSLATOR_KEY",
    .key_required = true,
    .max_chars = 10000,
    .max_segments = 100,
    .concurrency = 4,
    .protect = TR_PROTECT_HTML_SPAN,
    .can_detect = true,
    .build = azure_build,
    .parse = azure_parse,
    .classify = azure_classify,
};
