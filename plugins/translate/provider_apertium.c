/*
 * provider_apertium.c - Apertium APy (POST /translate, form body, one q per request).
 *
 * APy silently truncates long input with HTTP 200, so requests stay under 1,000
 * characters, and every request ends with a sentinel line whose absence marks a cut
 * reply. Short segments are packed into one q, separated by a line APy passes through
 * unchanged (checked against APy 0.11.7 with eng-spa), because APy serialises the requests
 * of one language pair: fewer, fuller requests are what makes it faster, not concurrency.
 */
#include <string.h>

#include "translate.h"

#define APY_SEPARATOR "ZXQ7SEP"
#define APY_SENTINEL  "ZQENDZQ"

static enum wp_status apy_build(const struct tr_config *conf, const struct tr_batch *batch,
                                struct tr_http *out)
{
    if (!batch->source)
        return WP_E_INVALID;
    struct wp_buf url, body;
    tr_request_begin(conf, &url, &body, "/translate");
    wp_buf_adds(&body, "markUnknown=no&langpair=");
    tr_add_form(&body, batch->source, strlen(batch->source));
    wp_buf_adds(&body, "%7C");
    tr_add_form(&body, batch->target, strlen(batch->target));
    wp_buf_adds(&body, "&q=");
    for (size_t i = 0; i < batch->count; i++) {
        if (i)
            tr_add_form(&body, "\n\n" APY_SEPARATOR "\n\n", 11);
        tr_add_form(&body, batch->texts[i], batch->lens[i]);
    }
    tr_add_form(&body, "\n\n" APY_SENTINEL, 9);
    return tr_request_finish(conf, &url, &body, "application/x-www-form-urlencoded", NULL, NULL,
                             out);
}

static bool blank(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static char *trimmed_copy(const struct wp_host_api *host, const char *s, size_t len)
{
    while (len && blank((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && blank((unsigned char)s[len - 1]))
        len--;
    return host->strndup(s, len);
}

static enum wp_status apy_parse(const struct tr_config *conf, const struct tr_batch *batch,
                                const char *body, size_t body_len, char **out, char *detected,
                                size_t detected_size, struct wp_buf *err)
{
    (void)detected;
    (void)detected_size;
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    json_t *text = json_object_get(json_object_get(root, "responseData"), "translatedText");
    if (!json_is_string(text)) {
        tr_err_excerpt(err, "reply has no responseData.translatedText", NULL);
        goto out;
    }
    const char *s = json_string_value(text);
    size_t len = json_string_length(text);
    while (len && blank((unsigned char)s[len - 1]))
        len--;
    size_t slen = strlen(APY_SENTINEL);
    if (len < slen || memcmp(s + len - slen, APY_SENTINEL, slen) != 0) {
        tr_err_excerpt(err, "reply lost its end sentinel (truncated by the server)", NULL);
        goto out;
    }
    len -= slen;
    size_t n = 0, pos = 0;
    while (n < batch->count) {
        const char *sep = memmem(s + pos, len - pos, APY_SEPARATOR, strlen(APY_SEPARATOR));
        size_t end = sep ? (size_t)(sep - s) : len;
        if ((sep != NULL) != (n + 1 < batch->count))
            break;
        out[n] = trimmed_copy(conf->host, s + pos, end - pos);
        if (!out[n]) {
            status = WP_E_NOMEM;
            goto out;
        }
        n++;
        pos = sep ? end + strlen(APY_SEPARATOR) : len;
    }
    if (n != batch->count) {
        for (size_t i = 0; i < n; i++) {
            conf->host->free(out[i]);
            out[i] = NULL;
        }
        wp_buf_addf(err, "reply has a different number of segments than the %zu sent",
                    batch->count);
        goto out;
    }
    status = WP_OK;
out:
    json_decref(root);
    return status;
}

static const struct tr_error_reply apy_error = {
    .who = "APy",
    .message = "explanation",
};

static enum wp_status apy_classify(long status, const char *body, size_t body_len,
                                   struct wp_buf *err)
{
    return tr_classify_reply(&apy_error, status, body, body_len, err, NULL);
}

const struct translate_provider tr_provider_apertium = {
    .name = "apertium",
    .default_endpoint = "http://127.0.0.1:2737",
    .default_key_env = NULL,
    .key_required = false,
    .max_chars = 1000,
    .max_segments = 64,
    .concurrency = 1,
    .protect = TR_PROTECT_PLACEHOLDER,
    .can_detect = false,
    .build = apy_build,
    .parse = apy_parse,
    .classify = apy_classify,
};
