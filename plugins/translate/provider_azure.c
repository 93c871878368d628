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
    struct tr_buf url, body;
    tr_buf_init(&url, conf->host);
    tr_buf_init(&body, conf->host);
    tr_buf_adds(&url, conf->endpoint);
    tr_buf_adds(&url, "/translate?api-version=3.0&to=");
    tr_buf_add_form(&url, batch->target, strlen(batch->target));
    if (batch->source) {
        tr_buf_adds(&url, "&from=");
        tr_buf_add_form(&url, batch->source, strlen(batch->source));
    }
    if (batch->markup)
        tr_buf_adds(&url, "&textType=html");
    tr_buf_adds(&body, "[");
    for (size_t i = 0; i < batch->count; i++) {
        tr_buf_adds(&body, i ? ",{\"Text\":" : "{\"Text\":");
        tr_buf_add_json(&body, batch->texts[i], batch->lens[i]);
        tr_buf_adds(&body, "}");
    }
    tr_buf_adds(&body, "]");
    out->url = tr_buf_steal(&url, NULL);
    out->body = tr_buf_steal(&body, &out->body_len);
    if (!out->url || !out->body ||
        !tr_http_header(conf, out, 0, "Content-Type: ", "application/json") ||
        !tr_http_header(conf, out, 1, "Ocp-Apim-Subscription-Key: ", conf->api_key))
        return WP_E_NOMEM;
    if (conf->region &&
        !tr_http_header(conf, out, 2, "Ocp-Apim-Subscription-Region: ", conf->region))
        return WP_E_NOMEM;
    return WP_OK;
}

static enum wp_status azure_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                  const char *body, size_t body_len, char **out, char *detected,
                                  size_t detected_size, struct tr_buf *err)
{
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    if (!json_is_array(root) || json_array_size(root) != batch->count) {
        tr_buf_addf(err, "reply is not an array of %zu entries", batch->count);
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        json_t *t = json_object_get(
            json_array_get(json_object_get(json_array_get(root, i), "translations"), 0), "text");
        if (!json_is_string(t)) {
            tr_buf_addf(err, "[%zu].translations[0].text is not a string", i);
            goto out_free;
        }
        out[i] = conf->host->strndup(json_string_value(t), json_string_length(t));
        if (!out[i]) {
            status = WP_E_NOMEM;
            goto out_free;
        }
    }
    tr_copy_lang(detected, detected_size,
                 json_string_value(json_object_get(
                     json_object_get(json_array_get(root, 0), "detectedLanguage"), "language")));
    status = WP_OK;
    goto out;
out_free:
    for (size_t i = 0; i < batch->count; i++) {
        conf->host->free(out[i]);
        out[i] = NULL;
    }
out:
    json_decref(root);
    return status;
}

static enum wp_status azure_classify(long status, const char *body, size_t body_len,
                                     struct tr_buf *err)
{
    json_t *root = json_loadb(body ? body : "", body ? body_len : 0, 0, NULL);
    json_t *error = json_object_get(root, "error");
    json_int_t code = json_integer_value(json_object_get(error, "code"));
    tr_buf_addf(err, "Azure answered HTTP %ld", status);
    if (code)
        tr_buf_addf(err, " (%lld)", (long long)code);
    tr_err_excerpt(err, "", json_string_value(json_object_get(error, "message")));
    json_decref(root);
    if (code == 403001)
        return WP_E_QUOTA;
    return tr_classify_common(status);
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
