/*
 * fetch_state.c - what fetch remembers between runs, in the host's state store:
 *  - "fetch.seen": the id of every item the host acknowledged, with its revision (or when
 *    it was emitted), so a rerun skips stories already delivered and passes on new
 *    versions;
 *  - "fetch.http": the ETag / Last-Modified of every URL whose items are all done, by
 *    canonical URL, for the next conditional GET.
 * Both are written from acknowledgements only (see fetch_pending.c), and read only by
 * generate(): process() has no acknowledgements, so it neither skips nor records.
 * Store failures are logged and otherwise ignored: they cost a duplicate or a full fetch,
 * never an item.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fetch.h"

/* fetch_seen() - see fetch.h. */
bool fetch_seen(struct fetch_run *run, const json_t *item, bool *update)
{
    struct fetch *f = run->f;
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    *update = false;
    if (!f->dedup || !id || run->input)
        return false;
    char *seen = NULL;
    size_t seen_len = 0;
    enum wp_status st =
        f->host->store_get(run->ctx, FETCH_NS_SEEN, id, strlen(id), &seen, &seen_len);
    if (st != WP_OK) {
        if (st != WP_E_NOTFOUND)
            wp_log_warn(run->ctx, "state store: cannot read seen id (%s)",
                        f->host->status_name(st));
        return false;
    }
    const char *revision = json_string_value(json_object_get(item, FETCH_REVISION));
    bool same = true;
    if (revision) {
        size_t n = strlen(revision);
        same =
            seen_len == n + 4 && memcmp(seen, "rev:", 4) == 0 && memcmp(seen + 4, revision, n) == 0;
    }
    f->host->free(seen);
    *update = !same;
    return same;
}

/* fetch_seen_mark() - see fetch.h. */
void fetch_seen_mark(const json_t *item, char *out, size_t size)
{
    const char *revision = json_string_value(json_object_get(item, FETCH_REVISION));
    if (revision && strlen(revision) + 4 < size) {
        snprintf(out, size, "rev:%s", revision);
    } else {
        char now[32];
        fetch_format_time(time(NULL), now);
        snprintf(out, size, "%s", now);
    }
}

/* fetch_record_seen() - see fetch.h. */
void fetch_record_seen(struct fetch *f, struct wp_ctx *ctx, const char *id, const char *mark)
{
    if (!f->dedup)
        return;
    enum wp_status st =
        f->host->store_put(ctx, FETCH_NS_SEEN, id, strlen(id), mark, strlen(mark), 0);
    if (st != WP_OK)
        wp_log_warn(ctx, "state store: cannot remember seen id (%s)", f->host->status_name(st));
}

/* fetch_load_validators() - see fetch.h. */
json_t *fetch_load_validators(struct fetch_run *run, const char *key)
{
    struct fetch *f = run->f;
    if (!f->conditional || !key || run->input)
        return NULL;
    char *value = NULL;
    size_t len = 0;
    if (f->host->store_get(run->ctx, FETCH_NS_HTTP, key, strlen(key), &value, &len) != WP_OK)
        return NULL;
    json_t *v = json_loadb(value, len, 0, NULL);
    f->host->free(value);
    return v;
}

/* fetch_validators_text() - see fetch.h. */
char *fetch_validators_text(struct fetch *f, const struct wp_http_response *resp)
{
    json_t *v = json_object();
    if (!v)
        return NULL;
    if (resp->etag)
        json_object_set_new(v, "etag", json_string(resp->etag));
    if (resp->last_modified)
        json_object_set_new(v, "last_modified", json_string(resp->last_modified));
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        return NULL;
    /* json_dumps() text belongs to jansson's allocator; the caller frees with the host's. */
    char *copy = f->host->strndup(text, strlen(text));
    fetch_json_free(text);
    return copy;
}

/* fetch_store_validators() - see fetch.h. */
void fetch_store_validators(struct fetch *f, struct wp_ctx *ctx, const char *key, const char *text)
{
    enum wp_status st =
        f->host->store_put(ctx, FETCH_NS_HTTP, key, strlen(key), text, strlen(text), 0);
    if (st != WP_OK)
        wp_log_warn(ctx, "state store: cannot remember validators (%s)", f->host->status_name(st));
}
