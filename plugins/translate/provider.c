/*
 * provider.c - the request and reply mechanics the provider files share.
 *
 * The JSON providers differ only in where their replies keep things and how their messages
 * name them, so each describes that in a table (struct tr_reply_list, struct tr_error_reply)
 * and the walking, copying and cleaning up on error is written once, here.
 */
#include <string.h>

#include "translate.h"

json_t *tr_json_path(json_t *root, const char *path)
{
    json_t *v = root;
    const char *p = path;
    while (v && *p) {
        size_t len = strcspn(p, ".");
        size_t digits = strspn(p, "0123456789");
        if (digits == len && len > 0 && len < 10) {
            size_t index = 0;
            for (size_t i = 0; i < len; i++)
                index = index * 10 + (size_t)(p[i] - '0');
            v = json_array_get(v, index);
        } else {
            v = json_object_getn(v, p, len);
        }
        p += len;
        if (*p == '.')
            p++;
    }
    return v;
}

void tr_request_begin(const struct tr_config *conf, struct wp_buf *url, struct wp_buf *body,
                      const char *path)
{
    wp_buf_init(url, conf->host);
    wp_buf_init(body, conf->host);
    wp_buf_adds(url, conf->endpoint);
    wp_buf_adds(url, path);
}

void tr_add_json_texts(struct wp_buf *b, const struct tr_batch *batch, const char *open,
                       const char *close)
{
    wp_buf_adds(b, "[");
    for (size_t i = 0; i < batch->count; i++) {
        if (i)
            wp_buf_adds(b, ",");
        wp_buf_adds(b, open);
        tr_add_json(b, batch->texts[i], batch->lens[i]);
        wp_buf_adds(b, close);
    }
    wp_buf_adds(b, "]");
}

enum wp_status tr_request_finish(const struct tr_config *conf, struct wp_buf *url,
                                 struct wp_buf *body, const char *type, const char *auth,
                                 const char *secret, struct tr_http *out)
{
    out->url = wp_buf_detach(url, NULL);
    out->body = wp_buf_detach(body, &out->body_len);
    if (!out->url || !out->body || !tr_http_header(conf, out, 0, "Content-Type: ", type))
        return WP_E_NOMEM;
    if (auth && !tr_http_header(conf, out, 1, auth, secret))
        return WP_E_NOMEM;
    return WP_OK;
}

static void free_texts(const struct tr_config *conf, char **out, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        conf->host->free(out[i]);
        out[i] = NULL;
    }
}

enum wp_status tr_parse_list(const struct tr_reply_list *fmt, const struct tr_config *conf,
                             const struct tr_batch *batch, const char *body, size_t body_len,
                             char **out, char *detected, size_t detected_size, struct wp_buf *err)
{
    json_t *root = tr_json_load(body, body_len, err);
    if (!root)
        return WP_E_PROTOCOL;
    enum wp_status status = WP_E_PROTOCOL;
    /* An entry that is itself the text makes the list one "of strings". */
    const char *unit = fmt->text[0] ? "entries" : "strings";
    json_t *list = tr_json_path(root, fmt->list);
    if (!json_is_array(list) || json_array_size(list) != batch->count) {
        if (fmt->list_name)
            wp_buf_addf(err, "reply has no %s array of %zu %s", fmt->list_name, batch->count, unit);
        else
            wp_buf_addf(err, "reply is not an array of %zu %s", batch->count, unit);
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        json_t *t = tr_json_path(json_array_get(list, i), fmt->text);
        if (!json_is_string(t)) {
            wp_buf_addf(err, "%s[%zu]%s is not a string", fmt->entry_name, i, fmt->text_name);
            free_texts(conf, out, batch->count);
            goto out;
        }
        out[i] = conf->host->strndup(json_string_value(t), json_string_length(t));
        if (!out[i]) {
            status = WP_E_NOMEM;
            free_texts(conf, out, batch->count);
            goto out;
        }
    }
    for (size_t k = 0; k < sizeof(fmt->detected) / sizeof(fmt->detected[0]); k++) {
        const char *lang =
            fmt->detected[k] ? json_string_value(tr_json_path(root, fmt->detected[k])) : NULL;
        if (lang) {
            tr_copy_lang(detected, detected_size, lang);
            break;
        }
    }
    for (char *p = detected; fmt->lower_detected && p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    status = WP_OK;
out:
    json_decref(root);
    return status;
}

enum wp_status tr_classify_reply(const struct tr_error_reply *fmt, long status, const char *body,
                                 size_t body_len, struct wp_buf *err, json_t **root_out)
{
    json_t *root = json_loadb(body ? body : "", body ? body_len : 0, 0, NULL);
    json_int_t code = fmt->code ? json_integer_value(tr_json_path(root, fmt->code)) : 0;
    wp_buf_addf(err, "%s answered HTTP %ld", fmt->who, status);
    if (code)
        wp_buf_addf(err, " (%lld)", (long long)code);
    tr_err_excerpt(err, "", json_string_value(tr_json_path(root, fmt->message)));
    if (root_out)
        *root_out = root;
    else
        json_decref(root);
    if ((fmt->quota_status && status == fmt->quota_status) ||
        (fmt->quota_code && code == fmt->quota_code))
        return WP_E_QUOTA;
    return tr_classify_common(status);
}
