/*
 * fetch_ninjs.c - IPTC ninjs objects (1.x and 2.x) as item fields.
 *
 * Mapping: uri -> uri (and the id), headlines[role main] or headline -> headline,
 * a text/plain body (bodies[] or body_text) -> body, else an HTML body (bodies[] or
 * body_html) -> content with content_type text/html for extract, else the text
 * description -> body; language -> language; versioncreated (else firstcreated) ->
 * published; by -> authors; subjects[].name and keywords[] -> keywords. The whole object
 * is kept under "ninjs" so publish can carry its other fields through.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/buf.h>

#include <jansson.h>

#include "fetch.h"

static const char *ninjs_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/* The value of the entry of @array (of {role, contenttype, value}) that fits best. */
static const char *ninjs_pick(const json_t *array, const char *role, const char *contenttype)
{
    if (!json_is_array(array))
        return NULL;
    const char *fallback = NULL;
    size_t i;
    const json_t *e;
    json_array_foreach(array, i, e)
    {
        const char *value = ninjs_str(e, "value");
        if (!value)
            continue;
        const char *ct = ninjs_str(e, "contenttype");
        const char *r = ninjs_str(e, "role");
        if (contenttype) {
            if (ct && strncasecmp(ct, contenttype, strlen(contenttype)) == 0)
                return value;
            if (!ct && r && role && strcmp(r, role) == 0)
                return value;
            continue;
        }
        if (role && r && strcmp(r, role) == 0)
            return value;
        if (!fallback)
            fallback = value;
    }
    return fallback;
}

/* fetch_ninjs_fill() - see fetch.h. */
bool fetch_ninjs_fill(const struct wp_host_api *host, const json_t *obj, json_t *item, char *err,
                      size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "not a ninjs object: a JSON %s",
                 json_is_array(obj)    ? "array"
                 : json_is_string(obj) ? "string"
                                       : "scalar");
        return false;
    }
    const char *uri = ninjs_str(obj, "uri");
    if (!uri) {
        snprintf(err, errlen, "not a ninjs object: no 'uri' string");
        return false;
    }
    static const char *const arrays[] = {"headlines", "bodies", "descriptions", "subjects",
                                         "keywords"};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
        const json_t *v = json_object_get(obj, arrays[i]);
        if (v && !json_is_array(v)) {
            snprintf(err, errlen, "not a ninjs object: '%s' is not an array", arrays[i]);
            return false;
        }
    }
    fetch_set_str(item, WP_ITEM_URI, uri);

    const char *headline = ninjs_pick(json_object_get(obj, "headlines"), "main", NULL);
    if (!headline)
        headline = ninjs_str(obj, "headline");
    if (headline)
        fetch_set_str(item, WP_ITEM_HEADLINE, headline);

    const char *text = ninjs_pick(json_object_get(obj, "bodies"), "text", "text/plain");
    if (!text)
        text = ninjs_str(obj, "body_text");
    const char *html = ninjs_pick(json_object_get(obj, "bodies"), "html", "text/html");
    if (!html)
        html = ninjs_str(obj, "body_html");
    if (!text && !html)
        text = ninjs_pick(json_object_get(obj, "descriptions"), "text", NULL);
    if (!text && !html)
        text = ninjs_str(obj, "description_text");
    if (text) {
        struct wp_buf b;
        wp_buf_init(&b, host);
        if (fetch_paragraphs(&b, text, strlen(text)))
            fetch_set_strn(item, WP_ITEM_BODY, b.data, b.len);
        wp_buf_release(&b);
    } else if (html) {
        fetch_set_str(item, WP_ITEM_CONTENT, html);
    }

    const char *language = ninjs_str(obj, "language");
    if (language)
        fetch_set_str(item, WP_ITEM_LANGUAGE, language);

    const char *when = ninjs_str(obj, "versioncreated");
    if (!when)
        when = ninjs_str(obj, "firstcreated");
    char date[32];
    if (when && fetch_normalize_date(when, date))
        fetch_set_str(item, WP_ITEM_PUBLISHED, date);

    const char *by = ninjs_str(obj, "by");
    if (by)
        json_object_set_new(item, WP_ITEM_AUTHORS, json_pack("[s]", by));

    json_t *keywords = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(obj, "subjects"), i, e)
    {
        const char *name = ninjs_str(e, "name");
        if (name)
            json_array_append_new(keywords, json_string(name));
    }
    json_array_foreach(json_object_get(obj, "keywords"), i, e)
    {
        if (json_is_string(e))
            json_array_append_new(keywords, json_string(json_string_value(e)));
    }
    if (json_array_size(keywords))
        json_object_set_new(item, WP_ITEM_KEYWORDS, keywords);
    else
        json_decref(keywords);

    json_object_set_new(item, "ninjs", json_deep_copy(obj));
    return true;
}
