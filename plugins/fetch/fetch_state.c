/*
 * fetch_state.c - what fetch remembers between runs, in the host's state store:
 *  - "fetch.seen": the id of every item emitted, with its revision (or when it was
 *    emitted), so a rerun skips stories already published and passes on new versions;
 *  - "fetch.http": the ETag / Last-Modified of every URL fetched, by canonical URL, for
 *    the next conditional GET.
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
    if (!f->dedup || !id)
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

/* fetch_emit() - see fetch.h. */
void fetch_emit(struct fetch_run *run, json_t *item)
{
    struct fetch *f = run->f;
    struct wp_ctx *ctx = run->ctx;
    const char *id_value = json_string_value(json_object_get(item, WP_ITEM_ID));
    char id[FETCH_ID_LEN + 1] = "";
    if (id_value)
        snprintf(id, sizeof(id), "%s", id_value);
    bool update = false;
    if (id[0] && fetch_seen(run, item, &update)) {
        f->host->metric_add(ctx, "duplicates", 1);
        wp_log_debug(ctx, "skipping '%s': already emitted by an earlier run", id);
        json_decref(item);
        return;
    }
    /* What is remembered: the revision when there is one, else when it was emitted. */
    char mark[300];
    const char *revision = json_string_value(json_object_get(item, FETCH_REVISION));
    if (revision && strlen(revision) < sizeof(mark) - 4) {
        snprintf(mark, sizeof(mark), "rev:%s", revision);
    } else {
        char now[32];
        fetch_format_time(time(NULL), now);
        snprintf(mark, sizeof(mark), "%s", now);
    }
    json_object_del(item, FETCH_REVISION);
    if (update) {
        f->host->metric_add(ctx, "updates", 1);
        wp_log_info(ctx, "'%s' is a new version of a story seen before", id);
    }
    if (wp_emit(ctx, item) != WP_OK)
        return;
    run->emitted++;
    f->host->metric_add(ctx, "items", 1);
    if (f->dedup && id[0]) {
        enum wp_status st =
            f->host->store_put(ctx, FETCH_NS_SEEN, id, strlen(id), mark, strlen(mark), 0);
        if (st != WP_OK)
            wp_log_warn(ctx, "state store: cannot remember seen id (%s)", f->host->status_name(st));
    }
}

/* fetch_load_validators() - see fetch.h. */
json_t *fetch_load_validators(struct fetch_run *run, const char *key)
{
    struct fetch *f = run->f;
    if (!f->conditional || !key)
        return NULL;
    char *value = NULL;
    size_t len = 0;
    if (f->host->store_get(run->ctx, FETCH_NS_HTTP, key, strlen(key), &value, &len) != WP_OK)
        return NULL;
    json_t *v = json_loadb(value, len, 0, NULL);
    f->host->free(value);
    return v;
}

/* fetch_remember_validators() - see fetch.h. */
void fetch_remember_validators(struct fetch_run *run, const char *key,
                               const struct wp_http_response *resp)
{
    struct fetch *f = run->f;
    if (!f->conditional || !key || (!resp->etag && !resp->last_modified))
        return;
    json_t *v = json_object();
    if (resp->etag)
        json_object_set_new(v, "etag", json_string(resp->etag));
    if (resp->last_modified)
        json_object_set_new(v, "last_modified", json_string(resp->last_modified));
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text)
        return;
    enum wp_status st =
        f->host->store_put(run->ctx, FETCH_NS_HTTP, key, strlen(key), text, strlen(text), 0);
    fetch_json_free(text);
    if (st != WP_OK)
        wp_log_warn(run->ctx, "state store: cannot remember validators (%s)",
                    f->host->status_name(st));
}
