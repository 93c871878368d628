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

/* Builtin hop: print a batch of items as one run of JSON Lines. */
void wp__encode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                      struct wp_entry_vec *results)
{
    size_t cap = 2048 * count, used = 0, items = 0;
    char *text = wp_malloc(cap);
    /* The text entry stands for the items it holds: written, they are all delivered. */
    struct wp_track *tracks[64];
    size_t n_tracks = 0;
    for (size_t i = 0; i < count; i++) {
        size_t need = text ? json_dumpb(batch[i].item, text + used, cap - used,
                                        JSON_COMPACT | JSON_REAL_PRECISION(10))
                           : 0;
        if (text && need + 1 > cap - used) {
            size_t grown_cap = (used + need + 1) * 2;
            char *grown = wp_realloc(text, grown_cap);
            if (grown) {
                text = grown;
                cap = grown_cap;
                need = json_dumpb(batch[i].item, text + used, cap - used,
                                  JSON_COMPACT | JSON_REAL_PRECISION(10));
            }
        }
        if (!text || need == 0 || need + 1 > cap - used) {
            wp__dead_letter(stage->run, "output", NULL, batch[i].item, WP_E_NOMEM,
                            "cannot encode the item as JSON", 1, batch[i].line);
            wp__track_end(batch[i].track, WP_TRACK_DEAD_LETTERED);
        } else {
            used += need;
            text[used++] = '\n';
            items++;
            if (batch[i].track && n_tracks < WP_ARRAY_SIZE(tracks))
                tracks[n_tracks++] = batch[i].track;
            else
                wp__track_end(batch[i].track, WP_TRACK_UNFINISHED); /* more than a batch */
        }
        batch[i].track = NULL;
        wp__entry_release(&batch[i]);
    }
    struct wp_track *group = wp__track_group(tracks, n_tracks, 1);
    if (items)
        wp__entry_vec_push(results, (struct wp_entry){.text = text,
                                                      .text_len = used,
                                                      .text_items = items,
                                                      .line = batch[0].line,
                                                      .track = group});
    else
        wp_free(text);
}
