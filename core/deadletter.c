/*
 * The dead-letter file: one JSON line per item that could not go on, with the stage,
 * the reason and the attempts, so nothing is lost silently and `--input` can replay it.
 */
#include "wp_internal.h"

#include "deadletter.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsutil.h"
#include "item.h"
#include "log.h"
#include "runner.h"
#include "utf8.h"

static FILE *open_dead_file(struct wp_run *run)
{
    if (run->dead_file || run->dead_open_failed)
        return run->dead_file;
    const char *path = run->options && run->options->dead_letter_path
                           ? run->options->dead_letter_path
                           : run->def->dead_letter;
    if (wp__mkdir_parents(path) != 0 || !(run->dead_file = fopen(path, "a"))) {
        wp__log(WP_LOG_ERROR, run->def->name, "cannot open dead-letter file '%s': %s", path,
                strerror(errno));
        run->dead_open_failed = true;
    }
    return run->dead_file;
}

void wp__dead_letter(struct wp_run *run, const char *stage_id, const char *plugin,
                     const json_t *item, enum wp_status code, const char *message,
                     unsigned attempts, uint64_t line)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* The message may hold text a plugin cut mid-character: keep it, repaired. */
    const char *why = message ? message : "";
    json_t *record = json_pack("{s:s,s:s,s:s,s:s,s:i,s:{s:s,s:o}}", "time", stamp, "pipeline",
                               run->def->name, "stage", stage_id, "plugin", plugin ? plugin : "",
                               "attempts", (int)attempts, "error", "code", wp_status_name(code),
                               "message", wp__json_string_lossy(why, strlen(why)));
    if (record && line)
        json_object_set_new(record, "line", json_integer((json_int_t)line));
    if (record && item)
        json_object_set_new(record, "item", json_deep_copy(item)); /* rare path: copy is fine */
    char *text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);

    atomic_fetch_add(&run->n_dead, 1);
    atomic_store(&run->failed, true);
    /* Every warning about an item names it: by its id, and its input line when it has one. */
    char id[96];
    wp__item_log_id(item, id);
    json_t *fields = wp__item_log_fields(stage_id, item);
    if (fields && line)
        json_object_set_new(fields, "line", json_integer((json_int_t)line));
    if (line)
        wp__log_fields(WP_LOG_WARN, stage_id, fields, "dead-lettered input line %llu%s%s%s: %s",
                       (unsigned long long)line, id[0] ? " (item '" : "", id, id[0] ? "')" : "",
                       why);
    else
        wp__log_fields(WP_LOG_WARN, stage_id, fields, "dead-lettered item '%s': %s",
                       id[0] ? id : "(no id)", why);
    json_decref(fields);

    pthread_mutex_lock(&run->dead_lock);
    FILE *out = open_dead_file(run);
    if (out && text) {
        fputs(text, out);
        fputc('\n', out);
        fflush(out);
    } else {
        /* The file is unusable (or memory ran out): the record goes to stderr whole, past
         * the logger's rate limit and line length, rather than be lost. */
        wp__log_raw("dead letter not written to its file: ");
        wp__log_raw(text ? text : why);
        wp__log_raw("\n");
    }
    pthread_mutex_unlock(&run->dead_lock);
    wp_free(text);
}

void wp__dead_letter_close(struct wp_run *run)
{
    if (run->dead_file) {
        fclose(run->dead_file);
        run->dead_file = NULL;
    }
}
