/*
 * The host's own hops: JSON Lines text in and out, parsed and printed on several threads
 * because JSON is the costly part of a light pipeline.
 */
#include "wp_internal.h"

#include "json_hops.h"

#include <string.h>

#include "deadletter.h"
#include "runner.h"
#include "track.h"
#include "utf8.h"

/* One line of input that is not a JSON object: dead-letter it, keeping what we can. */
static void decode_failed(struct wp_run *run, const char *text, size_t len, uint64_t line,
                          json_t *value, const json_error_t *jerr)
{
    char message[WP_ERROR_TEXT_MAX + 64];
    if (!value)
        snprintf(message, sizeof(message), "%s:%llu:%d: invalid JSON: %s", run->options->input.name,
                 (unsigned long long)line, jerr->column, jerr->text);
    else
        snprintf(message, sizeof(message), "%s:%llu: expected a JSON object, got %s",
                 run->options->input.name, (unsigned long long)line,
                 json_is_array(value) ? "an array" : "a scalar");
    /* Keep the record in the dead letter: as JSON when it parsed, else as text. */
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    json_t *kept = value ? json_incref(value) : wp__json_string_lossy(text, len);
    wp__dead_letter(run, "input", NULL, kept, WP_E_INVALID, message, 1, line);
    json_decref(kept);
}

static bool blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

/* Builtin hop: split each text entry into lines and parse each into an item. */
void wp__decode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                      struct wp_entry_vec *results)
{
    struct wp_run *run = stage->run;
    for (size_t i = 0; i < count; i++) {
        const char *p = batch[i].text;
        const char *end = p + batch[i].text_len;
        uint64_t line = batch[i].line;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            if (!blank_line(p, len)) {
                atomic_fetch_add(&run->n_read, 1);
                json_error_t jerr;
                json_t *value = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
                if (json_is_object(value))
                    wp__entry_vec_push(results, (struct wp_entry){.item = value, .line = line});
                else {
                    decode_failed(run, p, len, line, value, &jerr);
                    json_decref(value);
                }
            }
            p += len;
            line++;
        }
        wp__entry_release(&batch[i]);
    }
}

/*
 * A run of output lines being built, and the tracks of the items it holds: once written,
 * they are all delivered. A run is cut at ENCODE_TEXT_MAX bytes, so a batch of large
 * stories (pages of 200 KB) never sits in memory as one block per encoder.
 */
#define ENCODE_TEXT_MAX (256 * 1024)

struct encoded {
    char *text;
    size_t cap, used, items;
    uint64_t line;
    struct wp_track *tracks[64]; /* a batch has at most 64 entries */
    size_t n_tracks;
};

/* Hand the run built so far on as one text entry, and start a new one. */
static void encoded_push(struct encoded *e, struct wp_entry_vec *results)
{
    struct wp_track *group = wp__track_group(e->tracks, e->n_tracks, 1);
    if (e->items)
        wp__entry_vec_push(results, (struct wp_entry){.text = e->text,
                                                      .text_len = e->used,
                                                      .text_items = e->items,
                                                      .line = e->line,
                                                      .track = group});
    else
        wp_free(e->text);
    e->text = NULL;
    e->cap = e->used = e->items = e->n_tracks = 0;
}

/* Append @item as one line; false when it cannot be encoded (out of memory). */
static bool encoded_add(struct encoded *e, const json_t *item)
{
    const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(10);
    size_t need = e->text ? json_dumpb(item, e->text + e->used, e->cap - e->used, flags)
                          : json_dumpb(item, NULL, 0, flags);
    if (need == 0)
        return false;
    if (!e->text || need + 1 > e->cap - e->used) {
        size_t grown_cap = (e->used + need + 1) * 2;
        char *grown = wp_realloc(e->text, grown_cap);
        if (!grown)
            return false;
        e->text = grown;
        e->cap = grown_cap;
        need = json_dumpb(item, e->text + e->used, e->cap - e->used, flags);
        if (need == 0 || need + 1 > e->cap - e->used)
            return false;
    }
    e->used += need;
    e->text[e->used++] = '\n';
    e->items++;
    return true;
}

/* Builtin hop: print a batch of items as runs of JSON Lines. */
void wp__encode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                      struct wp_entry_vec *results)
{
    struct encoded e = {.cap = 2048 * count};
    e.text = wp_malloc(e.cap);
    if (!e.text)
        e.cap = 0;
    for (size_t i = 0; i < count; i++) {
        if (e.items == 0)
            e.line = batch[i].line;
        if (!encoded_add(&e, batch[i].item)) {
            wp__dead_letter(stage->run, "output", NULL, batch[i].item, WP_E_NOMEM,
                            "cannot encode the item as JSON", 1, batch[i].line);
            wp__track_end(batch[i].track, WP_TRACK_DEAD_LETTERED);
        } else if (batch[i].track) {
            e.tracks[e.n_tracks++] = batch[i].track;
        }
        batch[i].track = NULL;
        wp__entry_release(&batch[i]);
        if (e.used >= ENCODE_TEXT_MAX)
            encoded_push(&e, results);
    }
    encoded_push(&e, results);
}
