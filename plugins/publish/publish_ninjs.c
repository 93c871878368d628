/*
 * publish_ninjs.c - an item as IPTC ninjs 2.1 objects.
 *
 * The original story is one object; every entry of item.translations becomes an object of
 * its own, in its language, linked both ways (the only links the 2.1 schema offers for
 * this without extension properties):
 *  - its uri is the original's uri plus "#translation-LANG" (or "-translation-LANG" when
 *    the original already has a fragment);
 *  - it carries altids {role "translation-of", value: original uri} and an association
 *    named "original" (uri, type, language, headline of the original);
 *  - the original carries one association per translation, named "translation-LANG".
 * Every object also has altids {role "wirepipe-id", value: item id} so a consumer can
 * group them, and "standard" naming ninjs 2.1.
 *
 * Fields copied from a ninjs source (item.ninjs, kept by fetch) are only those whose
 * value has the type the 2.1 schema requires, so output always validates.
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <wirepipe/lang.h>
#include <wirepipe/utf8.h>

#include <jansson.h>

#include "publish.h"

#define NINJS_SCHEMA "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json"

static const char *pub_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static bool pub_is_rfc3339(const char *s)
{
    /* The shape "YYYY-MM-DDTHH:MM:SS" followed by a zone is all the schema's format needs. */
    if (!s || strlen(s) < 20)
        return false;
    for (int i = 0; i < 19; i++) {
        char c = s[i];
        bool digit = c >= '0' && c <= '9';
        if ((i == 4 || i == 7)     ? c != '-'
            : i == 10              ? (c != 'T' && c != 't')
            : (i == 13 || i == 16) ? c != ':'
                                   : !digit)
            return false;
    }
    return true;
}

/*
 * A language tag ninjs, uris and file names can carry: a well-formed BCP 47 tag written
 * with '-' (ninjs wants BCP 47; wp_lang_tag_valid also takes POSIX's '_').
 */
static bool pub_is_lang(const char *s)
{
    return wp_lang_tag_valid(s) && !strchr(s, '_');
}

static void pub_add_entities(json_t *out, const json_t *entities)
{
    json_t *people = json_array(), *orgs = json_array(), *places = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(entities, i, e)
    {
        const char *type = pub_str(e, "type");
        const char *name = pub_str(e, "canonical");
        if (!name)
            name = pub_str(e, "mention");
        if (!type || !name)
            continue;
        json_t *target = NULL;
        if (strcasecmp(type, "person") == 0 || strcasecmp(type, "per") == 0)
            target = people;
        else if (strcasecmp(type, "organization") == 0 || strcasecmp(type, "organisation") == 0 ||
                 strcasecmp(type, "org") == 0)
            target = orgs;
        else if (strcasecmp(type, "place") == 0 || strcasecmp(type, "location") == 0 ||
                 strcasecmp(type, "loc") == 0 || strcasecmp(type, "gpe") == 0)
            target = places;
        if (!target)
            continue;
        /* One entry per name: mentions repeat. */
        bool dup = false;
        size_t k;
        const json_t *have;
        json_array_foreach(target, k, have)
        {
            if (strcmp(pub_str(have, "name"), name) == 0)
                dup = true;
        }
        if (dup)
            continue;
        json_t *entry = json_pack("{s:s,s:s}", "name", name, "rel", "mentioned");
        const char *qid = pub_str(e, "id");
        if (entry && qid && qid[0] == 'Q' && qid[1] &&
            strspn(qid + 1, "0123456789") == strlen(qid + 1)) {
            char uri[96];
            snprintf(uri, sizeof(uri), "http://www.wikidata.org/entity/%s", qid);
            json_object_set_new(entry, "uri", json_string(uri));
        }
        if (entry)
            json_array_append_new(target, entry);
    }
    if (json_array_size(people))
        json_object_set(out, "people", people);
    if (json_array_size(orgs))
        json_object_set(out, "organisations", orgs);
    if (json_array_size(places))
        json_object_set(out, "places", places);
    json_decref(people);
    json_decref(orgs);
    json_decref(places);
}

/* Copy from the source ninjs the scalar fields whose type matches the 2.1 schema. */
static void pub_copy_source_fields(json_t *out, const json_t *src)
{
    static const char *const strings[] = {"copyrightholder", "copyrightnotice", "usageterms",
                                          "ednote",          "slugline",        "profile"};
    if (!json_is_object(src))
        return;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        const char *v = pub_str(src, strings[i]);
        if (v)
            json_object_set_new(out, strings[i], json_string(v));
    }
    const char *pubstatus = pub_str(src, "pubstatus");
    if (pubstatus && (strcmp(pubstatus, "usable") == 0 || strcmp(pubstatus, "withheld") == 0 ||
                      strcmp(pubstatus, "canceled") == 0))
        json_object_set_new(out, "pubstatus", json_string(pubstatus));
    const json_t *urgency = json_object_get(src, "urgency");
    if (json_is_number(urgency))
        json_object_set_new(out, "urgency", json_deep_copy(urgency));
    const char *first = pub_str(src, "firstcreated");
    if (pub_is_rfc3339(first))
        json_object_set_new(out, "firstcreated", json_string(first));
    const char *embargoed = pub_str(src, "embargoed");
    if (pub_is_rfc3339(embargoed))
        json_object_set_new(out, "embargoed", json_string(embargoed));
}

/* The uri of the translation of @uri into @lang (see the header comment). */
static json_t *pub_translation_uri(const char *uri, const char *lang)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s%stranslation-%s", uri, strchr(uri, '#') ? "-" : "#", lang);
    return json_string(buf);
}

/* The fields every object of one item shares. */
static json_t *pub_ninjs_common(const json_t *item, json_t *uri, const char *id, const char *when)
{
    json_t *out = json_object();
    json_object_set(out, "uri", uri);
    json_object_set_new(out, "type", json_string("text"));
    const json_t *src = json_object_get(item, "ninjs");
    const char *version = pub_str(src, "version");
    json_object_set_new(out, "version", json_string(version ? version : "1"));
    json_object_set_new(out, "versioncreated", json_string(when));
    pub_copy_source_fields(out, src);
    const json_t *authors = json_object_get(item, WP_ITEM_AUTHORS);
    if (json_array_size(authors)) {
        char by[1024];
        size_t len = 0;
        size_t i;
        const json_t *a;
        json_array_foreach(authors, i, a)
        {
            if (!json_is_string(a) || len >= sizeof(by) - 1)
                continue;
            int n =
                snprintf(by + len, sizeof(by) - len, "%s%s", len ? ", " : "", json_string_value(a));
            if (n < 0)
                break;
            len += (size_t)n < sizeof(by) - len ? (size_t)n : sizeof(by) - len - 1;
        }
        /* A name cut at the buffer's end may end inside a UTF-8 sequence: json_stringn()
         * refuses it, so "by" is left out rather than broken. */
        json_t *v = len ? json_stringn(by, len) : NULL;
        if (v)
            json_object_set_new(out, "by", v);
    }
    json_t *subjects = json_array();
    size_t i;
    const json_t *k;
    json_array_foreach(json_object_get(item, WP_ITEM_KEYWORDS), i, k)
    {
        if (json_is_string(k) && json_string_length(k))
            json_array_append_new(subjects, json_pack("{s:O}", "name", k));
    }
    if (json_array_size(subjects))
        json_object_set(out, "subjects", subjects);
    json_decref(subjects);
    pub_add_entities(out, json_object_get(item, WP_ITEM_ENTITIES));
    const json_t *source = json_object_get(item, WP_ITEM_SOURCE);
    const char *source_name = pub_str(source, "name");
    if (source_name)
        json_object_set_new(out, "infosources", json_pack("[{s:s}]", "name", source_name));
    json_object_set_new(out, "altids",
                        json_pack("[{s:s,s:s}]", "role", "wirepipe-id", "value", id));
    json_object_set_new(
        out, "standard",
        json_pack("{s:s,s:s,s:s}", "name", "ninjs", "version", "2.1", "schema", NINJS_SCHEMA));
    return out;
}

static void pub_set_text(json_t *out, const char *headline, const char *body, const char *html)
{
    if (headline)
        json_object_set_new(out, "headlines",
                            json_pack("[{s:s,s:s}]", "role", "main", "value", headline));
    if (body)
        json_object_set_new(out, "bodies",
                            json_pack("[{s:s,s:s,s:s,s:I}]", "role", "text", "contenttype",
                                      "text/plain", "value", body, "charcount",
                                      (json_int_t)wp_utf8_count(body, strlen(body))));
    else if (html)
        json_object_set_new(out, "bodies",
                            json_pack("[{s:s,s:s,s:s}]", "role", "html", "contenttype", "text/html",
                                      "value", html));
}

/* A link from one object of the item to another, as a partial association. */
static json_t *pub_association(const char *name, json_t *uri, const char *lang,
                               const char *headline)
{
    json_t *a = json_pack("{s:s,s:O,s:s,s:s}", "name", name, "uri", uri, "type", "text",
                          "representationtype", "partial");
    if (a && lang)
        json_object_set_new(a, "language", json_string(lang));
    if (a && headline)
        json_object_set_new(a, "headlines",
                            json_pack("[{s:s,s:s}]", "role", "main", "value", headline));
    return a;
}

/* pub_ninjs() - see publish.h. */
json_t *pub_ninjs(const json_t *item, char *err, size_t errlen)
{
    const char *id = pub_str(item, WP_ITEM_ID);
    if (!id) {
        snprintf(err, errlen, "item has no 'id'");
        return NULL;
    }
    char fallback_uri[512];
    const char *uri = pub_str(item, WP_ITEM_URI);
    if (!uri) {
        snprintf(fallback_uri, sizeof(fallback_uri), "urn:wirepipe:%s", id);
        uri = fallback_uri;
    }
    const char *source_time = pub_str(json_object_get(item, WP_ITEM_SOURCE), "fetched_at");
    const char *when = pub_str(item, WP_ITEM_PUBLISHED);
    char now[32];
    if (!pub_is_rfc3339(when))
        when = pub_is_rfc3339(source_time) ? source_time : NULL;
    if (!when) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        when = now;
    }
    const char *language = pub_str(item, WP_ITEM_LANGUAGE);
    if (language && (strcmp(language, "und") == 0 || !pub_is_lang(language)))
        language = NULL;
    const char *headline = pub_str(item, WP_ITEM_HEADLINE);

    json_t *result = json_array();
    json_t *uri_json = json_string(uri);
    json_t *original = uri_json ? pub_ninjs_common(item, uri_json, id, when) : NULL;
    if (!result || !original || !uri_json) {
        json_decref(result);
        json_decref(original);
        json_decref(uri_json);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (language)
        json_object_set_new(original, "language", json_string(language));
    pub_set_text(original, headline, pub_str(item, WP_ITEM_BODY), pub_str(item, WP_ITEM_CONTENT));
    json_array_append_new(result, json_pack("{s:s,s:o}", "suffix", "", "doc", original));

    json_t *links = json_array();
    const char *lang;
    json_t *tr;
    json_object_foreach(json_object_get(item, WP_ITEM_TRANSLATIONS), lang, tr)
    {
        if (!json_is_object(tr) || !pub_is_lang(lang))
            continue;
        const char *tr_headline = pub_str(tr, "headline");
        const char *tr_body = pub_str(tr, "body");
        if (!tr_headline && !tr_body)
            continue;
        json_t *tr_uri = pub_translation_uri(uri, lang);
        json_t *doc = pub_ninjs_common(item, tr_uri, id, when);
        json_object_set_new(doc, "language", json_string(lang));
        pub_set_text(doc, tr_headline, tr_body, NULL);
        json_array_append_new(json_object_get(doc, "altids"),
                              json_pack("{s:s,s:O}", "role", "translation-of", "value", uri_json));
        json_object_set_new(
            doc, "associations",
            json_pack("[o]", pub_association("original", uri_json, language, headline)));
        const char *provider = pub_str(tr, "provider");
        char note[300];
        snprintf(note, sizeof(note), "Machine translation%s%.100s%s of %.120s",
                 provider ? " (" : "", provider ? provider : "", provider ? ")" : "", uri);
        json_object_set_new(doc, "ednote", json_string(note));
        char name[64], suffix[48];
        snprintf(name, sizeof(name), "translation-%s", lang);
        snprintf(suffix, sizeof(suffix), ".%s", lang);
        json_array_append_new(links, pub_association(name, tr_uri, lang, tr_headline));
        json_array_append_new(result, json_pack("{s:s,s:o}", "suffix", suffix, "doc", doc));
        json_decref(tr_uri);
    }
    if (json_array_size(links))
        json_object_set(original, "associations", links);
    json_decref(links);
    json_decref(uri_json);
    return result;
}
