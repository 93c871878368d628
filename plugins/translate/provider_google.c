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
    struct wp_buf url, body;
    tr_request_begin(conf, &url, &body, "/language/translate/v2");
    wp_buf_adds(&body, "{\"q\":");
    tr_add_json_texts(&body, batch, "", "");
    wp_buf_adds(&body, ",\"target\":");
    tr_add_json(&body, batch->target, strlen(batch->target));
    if (batch->source) {
        wp_buf_adds(&body, ",\"source\":");
        tr_add_json(&body, batch->source, strlen(batch->source));
    }
    wp_buf_adds(&body, batch->markup ? ",\"format\":\"html\"}" : ",\"format\":\"text\"}");
    return tr_request_finish(conf, &url, &body, "application/json",
                             "X-goog-api-key: ", conf->api_key, out);
}

static const struct tr_reply_list google_reply = {
    .list = "data.translations",
    .text = "translatedText",
    .detected = {"data.translations.0.detectedSourceLanguage"},
    .list_name = "data.translations",
    .entry_name = "translations",
    .text_name = ".translatedText",
};

static enum wp_status google_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                   const char *body, size_t body_len, char **out, char *detected,
                                   size_t detected_size, struct wp_buf *err)
{
    return tr_parse_list(&google_reply, conf, batch, body, body_len, out, detected, detected_size,
                         err);
}

static const struct tr_error_reply google_error = {
    .who = "Google",
    .message = "error.message",
};

static bool is_one_of(const char *s, const char *a, const char *b)
{
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static enum wp_status google_classify(long status, const char *body, size_t body_len,
                                      struct wp_buf *err)
{
    json_t *root;
    enum wp_status code = tr_classify_reply(&google_error, status, body, body_len, err, &root);
    if (status == 403) {
        const char *message = json_string_value(tr_json_path(root, "error.message"));
        const char *reason = json_string_value(tr_json_path(root, "error.errors.0.reason"));
        bool rate = is_one_of(reason, "userRateLimitExceeded", "rateLimitExceeded");
        bool quota = is_one_of(reason, "dailyLimitExceeded", "quotaExceeded") ||
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
