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
static void add_lang(struct tr_buf *b, const char *lang, bool target)
{
    char up[16];
    size_t n = 0;
    for (; lang[n] && n + 1 < sizeof(up); n++)
        up[n] = (char)(lang[n] >= 'a' && lang[n] <= 'z' ? lang[n] - 32 : lang[n]);
    up[n] = '\0';
    if (target && strcmp(up, "EN") == 0)
        tr_buf_add_json(b, "EN-GB", 5);
    else if (target && strcmp(up, "PT") == 0)
        tr_buf_add_json(b, "PT-PT", 5);
    else
        tr_buf_add_json(b, up, n);
}

static enum wp_status deepl_build(const struct tr_config *conf, const struct tr_batch *batch,
                                  struct tr_http *out)
{
    if (!conf->api_key)
        return WP_E_CONFIG;
    struct tr_buf url, body;
    tr_buf_init(&url, conf->host);
    tr_buf_init(&body, conf->host);
    tr_buf_adds(&url, conf->endpoint);
    tr_buf_adds(&url, "/v2/translate");
    tr_buf_adds(&body, "{\"text\":[");
    for (size_t i = 0; i < batch->count; i++) {
        if (i)
            tr_buf_adds(&body, ",");
        tr_buf_add_json(&body, batch->texts[i], batch->lens[i]);
    }
    tr_buf_adds(&body, "],\"target_lang\":");
    add_lang(&body, batch->target, true);
    if (batch->source) {
        tr_buf_adds(&body, ",\"source_lang\":");
        add_lang(&body, batch->source, false);
    }
    if (batch->markup)
        tr_buf_adds(&body, ",\"tag_handling\":\"xml\",\"ignore_tags\":[\"x\"]");
    if (conf->formality) {
        tr_buf_adds(&body, ",\"formality\":");
        tr_buf_add_json(&body, conf->formality, strlen(conf->formality));
    }
    tr_buf_adds(&body, "}");
    out->url = tr_buf_steal(&url, NULL);
    out->body = tr_buf_steal(&body, &out->body_len);
    if (!out->url || !out->body ||
        !tr_http_header(conf, out, 0, "Content-Type: ", "application/json") ||
        !tr_http_header(conf, out, 1, "Authorization: DeepL-Auth-Key ", conf->api_key))
        return WP_E_NOMEM;
    return WP_OK;
}

static enum wp_status deepl_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                  const char *body, size_t body_len, char **out, char *detected,
                                  size_t detected_size, struct tr_buf *err)
{
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    json_t *list = json_object_get(root, "translations");
    if (!json_is_array(list) || json_array_size(list) != batch->count) {
        tr_buf_addf(err, "reply has no translations array of %zu entries", batch->count);
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        json_t *t = json_object_get(json_array_get(list, i), "text");
        if (!json_is_string(t)) {
            tr_buf_addf(err, "translations[%zu].text is not a string", i);
            goto out_free;
        }
        out[i] = conf->host->strndup(json_string_value(t), json_string_length(t));
        if (!out[i]) {
            status = WP_E_NOMEM;
            goto out_free;
        }
    }
    tr_copy_lang(
        detected, detected_size,
        json_string_value(json_object_get(json_array_get(list, 0), "detected_source_language")));
    for (char *p = detected; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
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

static enum wp_status deepl_classify(long status, const char *body, size_t body_len,
                                     struct tr_buf *err)
{
    json_t *root = json_loadb(body ? body : "", body ? body_len : 0, 0, NULL);
    tr_buf_addf(err, "DeepL answered HTTP %ld", status);
    tr_err_excerpt(err, "", json_string_value(json_object_get(root, "message")));
    json_decref(root);
    if (status == 456)
        return WP_E_QUOTA;
    return tr_classify_common(status);
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
