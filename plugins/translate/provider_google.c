/*
 * provider_google.c - Google Cloud Translation v2 "Basic" (POST /language/translate/v2).
 *
 * format=text unless the batch carries no-translate spans: v2 defaults to HTML and then
 * escapes plain text. The key goes in the X-goog-api-key header, not in ?key=, so it never
 * lands in a URL that something might log. A 403 is a quota error only when its reason says
 * the daily limit is used up; a per-minute rate limit is transient.
 */
#include <string.h>

#include "translate.h"

static enum wp_status google_build(const struct tr_config *conf, const struct tr_batch *batch,
                                   struct tr_http *out)
{
    if (!conf->api_key)
        return WP_E_CONFIG;
    struct tr_buf url, body;
    tr_buf_init(&url, conf->host);
    tr_buf_init(&body, conf->host);
    tr_buf_adds(&url, conf->endpoint);
    tr_buf_adds(&url, "/language/translate/v2");
    tr_buf_adds(&body, "{\"q\":[");
    for (size_t i = 0; i < batch->count; i++) {
        if (i)
            tr_buf_adds(&body, ",");
        tr_buf_add_json(&body, batch->texts[i], batch->lens[i]);
    }
    tr_buf_adds(&body, "],\"target\":");
    tr_buf_add_json(&body, batch->target, strlen(batch->target));
    if (batch->source) {
        tr_buf_adds(&body, ",\"source\":");
        tr_buf_add_json(&body, batch->source, strlen(batch->source));
    }
    tr_buf_adds(&body, batch->markup ? ",\"format\":\"html\"}" : ",\"format\":\"text\"}");
    out->url = tr_buf_steal(&url, NULL);
    out->body = tr_buf_steal(&body, &out->body_len);
    if (!out->url || !out->body ||
        !tr_http_header(conf, out, 0, "Content-Type: ", "application/json") ||
        !tr_http_header(conf, out, 1, "X-goog-api-key: ", conf->api_key))
        return WP_E_NOMEM;
    return WP_OK;
}

static enum wp_status google_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                   const char *body, size_t body_len, char **out, char *detected,
                                   size_t detected_size, struct tr_buf *err)
{
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    json_t *list = json_object_get(json_object_get(root, "data"), "translations");
    if (!json_is_array(list) || json_array_size(list) != batch->count) {
        tr_buf_addf(err, "reply has no data.translations array of %zu entries", batch->count);
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        json_t *t = json_object_get(json_array_get(list, i), "translatedText");
        if (!json_is_string(t)) {
            tr_buf_addf(err, "translations[%zu].translatedText is not a string", i);
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
        json_string_value(json_object_get(json_array_get(list, 0), "detectedSourceLanguage")));
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

static enum wp_status google_classify(long status, const char *body, size_t body_len,
                                      struct tr_buf *err)
{
    json_t *root = json_loadb(body ? body : "", body ? body_len : 0, 0, NULL);
    json_t *error = json_object_get(root, "error");
    const char *message = json_string_value(json_object_get(error, "message"));
    const char *reason = json_string_value(
        json_object_get(json_array_get(json_object_get(error, "errors"), 0), "reason"));
    tr_buf_addf(err, "Google answered HTTP %ld", status);
    tr_err_excerpt(err, "", message);
    enum wp_status code = tr_classify_common(status);
    if (status == 403) {
        bool rate = reason && (strcmp(reason, "userRateLimitExceeded") == 0 ||
                               strcmp(reason, "rateLimitExceeded") == 0);
        bool quota = (reason && (strcmp(reason, "dailyLimitExceeded") == 0 ||
                                 strcmp(reason, "quotaExceeded") == 0)) ||
                     (message && strstr(message, "Daily Limit Exceeded"));
        code = rate ? WP_E_UNAVAILABLE : quota ? WP_E_QUOTA : WP_E_CONFIG;
    }
    json_decref(root);
    return code;
}

const struct translate_provider tr_provider_google = {
    .name = "google",
    .default_endpoint = "https://translation.googleapis.com",
    .default_key_env = "GOOGLE_API_KEY",
    .key_required = true,
    .max_chars = 5000,
    .max_segments = 128,
    .concurrency = 4,
    .protect = TR_PROTECT_HTML_SPAN,
    .can_detect = true,
    .build = google_build,
    .parse = google_parse,
    .classify = google_classify,
};
