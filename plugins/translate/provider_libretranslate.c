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
    struct tr_buf url, body;
    tr_buf_init(&url, conf->host);
    tr_buf_init(&body, conf->host);
    tr_buf_adds(&url, conf->endpoint);
    tr_buf_adds(&url, "/translate");
    tr_buf_adds(&body, "{\"q\":[");
    for (size_t i = 0; i < batch->count; i++) {
        if (i)
            tr_buf_adds(&body, ",");
        tr_buf_add_json(&body, batch->texts[i], batch->lens[i]);
    }
    tr_buf_adds(&body, "],\"source\":");
    const char *source = batch->source ? batch->source : "auto";
    tr_buf_add_json(&body, source, strlen(source));
    tr_buf_adds(&body, ",\"target\":");
    tr_buf_add_json(&body, batch->target, strlen(batch->target));
    tr_buf_adds(&body, batch->markup ? ",\"format\":\"html\"" : ",\"format\":\"text\"");
    if (conf->api_key) {
        tr_buf_adds(&body, ",\"api_key\":");
        tr_buf_add_json(&body, conf->api_key, strlen(conf->api_key));
    }
    tr_buf_adds(&body, "}");
    out->url = tr_buf_steal(&url, NULL);
    out->body = tr_buf_steal(&body, &out->body_len);
    if (!out->url || !out->body ||
        !tr_http_header(conf, out, 0, "Content-Type: ", "application/json"))
        return WP_E_NOMEM;
    return WP_OK;
}

static enum wp_status lt_parse(const struct tr_config *conf, const struct tr_batch *batch,
                               const char *body, size_t body_len, char **out, char *detected,
                               size_t detected_size, struct tr_buf *err)
{
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    json_t *texts = json_object_get(root, "translatedText");
    if (!json_is_array(texts) || json_array_size(texts) != batch->count) {
        tr_buf_addf(err, "reply has no translatedText array of %zu strings", batch->count);
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        json_t *t = json_array_get(texts, i);
        if (!json_is_string(t)) {
            tr_buf_addf(err, "translatedText[%zu] is not a string", i);
            goto out_free;
        }
        out[i] = conf->host->strndup(json_string_value(t), json_string_length(t));
        if (!out[i]) {
            status = WP_E_NOMEM;
            goto out_free;
        }
    }
    json_t *det = json_object_get(root, "detectedLanguage");
    if (json_is_array(det))
        det = json_array_get(det, 0);
    tr_copy_lang(detected, detected_size, json_string_value(json_object_get(det, "language")));
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

static enum wp_status lt_classify(long status, const char *body, size_t body_len,
                                  struct tr_buf *err)
{
    json_t *root = json_loadb(body ? body : "", body ? body_len : 0, 0, NULL);
    tr_buf_addf(err, "LibreTranslate answered HTTP %ld", status);
    tr_err_excerpt(err, "", json_string_value(json_object_get(root, "error")));
    json_decref(root);
    return tr_classify_common(status);
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
