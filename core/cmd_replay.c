/*
 * `wirepipe replay DEADLETTER.jsonl PIPELINE.json`: re-run each dead-lettered item from
 * the stage that failed it, then rewrite the dead-letter file without the records that
 * now went through.
 *
 * 1. Read: the file is mapped, split into lines and each line checked. A line that cannot
 *    be replayed (not JSON, not a record, no object "item", stage "input" or "output",
 *    a stage the pipeline does not have, another pipeline's record, over-long) is kept
 *    byte for byte and reported. Blank lines hold nothing and are dropped.
 * 2. Replay: one run per stage that has records, in pipeline order, with the records'
 *    items as input entering at that stage (start_stage), so earlier stages do not see
 *    them twice, and with the run's dead letters going to a pass file beside the
 *    dead-letter file (never to the file being replayed, even when it is the pipeline's
 *    own "dead_letter").
 * 3. Rewrite: kept records (unreplayable ones, and those no pass took), what was appended
 *    to the file meanwhile, then the pass files, go to a new file that is fsynced and
 *    renamed over the old one.
 *
 * Crash safety (at-least-once: an item may be replayed twice, never lost). Until the
 * rename the dead-letter file is not written, so a crash or kill at any point before it
 * (reading, during or after a pass, while writing the new file) leaves every record in
 * place: the next replay re-runs the items that had already gone through (sinks are
 * idempotent by id) and the leftover ".NAME.replay-PID.*" files beside it only hold
 * copies of records that are still in the file (the next replay removes them). A crash
 * after the rename leaves the new file complete (it was fsynced first), at worst with
 * pass files left over that are copies of records in it. A pass whose outcome is uncertain (the
 * output failed, or the run gave up items in flight) keeps its records as they were.
 *
 * Two replays of one file would each rewrite it: an exclusive flock() on the file keeps a
 * second one out (exit 75). A pipeline run appending to the file while it is replayed is
 * not locked out: what it appended before the rename is carried over; a record written
 * to the old file after the rename is lost, so do not replay a file a running pipeline
 * still writes.
 */
#include "wp_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"
#include "log.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "runner.h"

#define SOURCE "wirepipe replay"
/* Reasons shown for records that cannot be replayed; the rest are only counted. */
#define REASONS_SHOWN 5
#define NO_RECORD     SIZE_MAX

enum record_state {
    RECORD_KEPT,    /* cannot be replayed: written back as it is */
    RECORD_PENDING, /* replayable, not (yet) taken by a pass: written back as it is */
    RECORD_TAKEN,   /* taken by a pass: gone, or back as the pass dead-lettered it */
};

struct record {
    size_t offset, length; /* the line in the file, without its newline */
    size_t next;           /* the next record of the same stage, or NO_RECORD */
    enum record_state state;
};

struct replay {
    const char *path; /* as given, for messages */
    char *real;       /* the file itself (symbolic links resolved): what is renamed over */
    char *temp_base;  /* "<dir>/.<name>.replay-<pid>" */
    int fd;
    struct stat st;
    void *mapping;
    const char *map; /* @mapping, read-only */
    size_t size;     /* bytes read, mapped */
    struct wp_pipeline_def *def;
    struct record *records;
    size_t count, alloc;
    size_t *first, *last; /* per stage: its chain of records */
    size_t unreplayable;
    size_t replayable;
};

/* The input of one pass: the chain of one stage's records. */
struct pass {
    struct replay *rp;
    size_t cursor;
    size_t taken;
    bool output_failed;
};

/* ---------------------------------------------------------------------------------- */
/* Reading and checking the records                                                    */
/* ---------------------------------------------------------------------------------- */

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    }
    return true;
}

static size_t stage_index(const struct wp_pipeline_def *def, const char *id)
{
    for (size_t i = 0; i < def->stage_count; i++) {
        if (strcmp(def->stages[i].id, id) == 0)
            return i;
    }
    return NO_RECORD;
}

/*
 * Which stage record @text can be replayed from, or NO_RECORD with the reason in @why.
 * Record strings go into the reason cut short: the file may hold anything.
 */
static size_t check_record(const struct wp_pipeline_def *def, const char *text, size_t len,
                           char *why, size_t why_size)
{
    if (len > WP_JSONL_MAX_LINE) {
        snprintf(why, why_size, "line longer than the limit of %u bytes", WP_JSONL_MAX_LINE);
        return NO_RECORD;
    }
    json_error_t jerr;
    json_t *record = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    size_t index = NO_RECORD;
    const char *stage = json_string_value(json_object_get(record, "stage"));
    const char *pipeline = json_string_value(json_object_get(record, "pipeline"));
    if (!record)
        snprintf(why, why_size, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    else if (!json_is_object(record))
        snprintf(why, why_size, "not a dead-letter record (expected a JSON object)");
    else if (!stage)
        snprintf(why, why_size, "not a dead-letter record (no \"stage\" string)");
    else if (strcmp(stage, "input") == 0)
        snprintf(why, why_size,
                 "the input line could not be read (stage 'input'); fix it and "
                 "run it with --input");
    else if (strcmp(stage, "output") == 0)
        snprintf(why, why_size, "the item could not be written (stage 'output')");
    else if (pipeline && strcmp(pipeline, def->name) != 0)
        /* Pipelines of one folder share a dead-letter file by default: each replays its
         * own. An edited copy replays them when it keeps the "name". */
        snprintf(why, why_size, "the record is from pipeline '%.64s', not '%.64s'", pipeline,
                 def->name);
    else if (stage_index(def, stage) == NO_RECORD) {
        /* A hint from the first stages only: enough for a misspelt id. */
        const char *ids[64];
        size_t n = def->stage_count < WP_ARRAY_SIZE(ids) ? def->stage_count : WP_ARRAY_SIZE(ids);
        for (size_t i = 0; i < n; i++)
            ids[i] = def->stages[i].id;
        const char *hint = wp__suggest(stage, ids, n);
        snprintf(why, why_size, "pipeline '%.64s' has no stage '%.64s'%s%.64s%s", def->name, stage,
                 hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    } else if (!json_object_get(record, "item"))
        snprintf(why, why_size, "the record has no \"item\"");
    else if (!json_is_object(json_object_get(record, "item")))
        snprintf(why, why_size, "the record's \"item\" is not a JSON object");
    else
        index = stage_index(def, stage);
    json_decref(record);
    return index;
}

static bool add_record(struct replay *rp, size_t offset, size_t length, size_t stage)
{
    if (rp->count == rp->alloc) {
        size_t alloc = rp->alloc ? rp->alloc * 2 : 256;
        struct record *grown = wp_realloc(rp->records, alloc * sizeof(*grown));
        if (!grown)
            return false;
        rp->records = grown;
        rp->alloc = alloc;
    }
    size_t i = rp->count++;
    rp->records[i] = (struct record){.offset = offset,
                                     .length = length,
                                     .next = NO_RECORD,
                                     .state = stage == NO_RECORD ? RECORD_KEPT : RECORD_PENDING};
    if (stage == NO_RECORD) {
        rp->unreplayable++;
        return true;
    }
    rp->replayable++;
    if (rp->first[stage] == NO_RECORD)
        rp->first[stage] = i;
    else
        rp->records[rp->last[stage]].next = i;
    rp->last[stage] = i;
    return true;
}

/* Split the mapped file into records; linear in its size. False when out of memory. */
static bool read_records(struct replay *rp)
{
    uint64_t line = 0;
    for (size_t at = 0; at < rp->size;) {
        const char *nl = memchr(rp->map + at, '\n', rp->size - at);
        size_t len = nl ? (size_t)(nl - (rp->map + at)) : rp->size - at;
        line++;
        if (!blank(rp->map + at, len)) {
            char why[256];
            size_t stage = check_record(rp->def, rp->map + at, len, why, sizeof(why));
            if (stage == NO_RECORD && rp->unreplayable < REASONS_SHOWN)
                wp__log(WP_LOG_WARN, SOURCE, "%s:%llu: %s; kept", rp->path,
                        (unsigned long long)line, why);
            if (!add_record(rp, at, len, stage))
                return false;
        }
        at += len + 1;
    }
    if (rp->unreplayable > REASONS_SHOWN)
        wp__log(WP_LOG_WARN, SOURCE, "%s: %zu more records that cannot be replayed; kept", rp->path,
                rp->unreplayable - REASONS_SHOWN);
    return true;
}

/* ---------------------------------------------------------------------------------- */
/* The passes                                                                          */
/* ---------------------------------------------------------------------------------- */

/* struct wp_run_input.next: the next item of the pass's stage, as it was dead-lettered. */
static enum wp_status pass_next(void *arg, json_t **item, uint64_t *line, struct wp_error *err)
{
    (void)err;
    struct pass *p = arg;
    while (p->cursor != NO_RECORD) {
        struct record *r = &p->rp->records[p->cursor];
        p->cursor = r->next;
        json_t *record =
            json_loadb(p->rp->map + r->offset, r->length, JSON_REJECT_DUPLICATES, NULL);
        json_t *value = json_object_get(record, "item");
        if (!json_is_object(value)) {
            /* Checked when read, so only memory can run out here: the record stays. */
            json_decref(record);
            continue;
        }
        /* The line of the run that dead-lettered it, so a new record says the same. */
        json_int_t at = json_integer_value(json_object_get(record, "line"));
        *line = at > 0 ? (uint64_t)at : 0;
        *item = json_incref(value);
        json_decref(record);
        r->state = RECORD_TAKEN;
        p->taken++;
        return WP_OK;
    }
    return WP_E_NOTFOUND;
}

static enum wp_status pass_write_text(void *arg, const char *text, size_t len)
{
    struct pass *p = arg;
    enum wp_status status = wp__jsonl_write_text(stdout, text, len);
    if (status != WP_OK)
        p->output_failed = true;
    return status;
}

static enum wp_status pass_finish(void *arg)
{
    struct pass *p = arg;
    enum wp_status status = wp__jsonl_finish(stdout);
    if (status != WP_OK)
        p->output_failed = true;
    return status;
}

static char *pass_path(const struct replay *rp, size_t stage)
{
    return wp_asprintf("%s.%zu", rp->temp_base, stage);
}

/* An empty file at @path: the run appends to it. */
static bool create_empty(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || close(fd) != 0) {
        wp__log(WP_LOG_ERROR, SOURCE, "cannot create '%s': %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* Put the records a pass took back as they were, and forget what it dead-lettered. */
static void pass_undo(struct replay *rp, size_t stage)
{
    for (size_t i = rp->first[stage]; i != NO_RECORD; i = rp->records[i].next) {
        if (rp->records[i].state == RECORD_TAKEN)
            rp->records[i].state = RECORD_PENDING;
    }
}

struct replay_outcome {
    int status;           /* WP_EXIT_* that ends the replay early, or -1 */
    bool *pass_ok;        /* per stage: its pass file goes into the new file */
    size_t taken;         /* items handed to passes that count */
    bool incomplete;      /* a pass stopped before taking all its records */
    bool pass_went_wrong; /* a pass's records were kept because its outcome is uncertain */
};

/*
 * One pass: run the records of @stage through the pipeline from that stage on. Returns
 * false when no further pass should run.
 */
static bool run_pass(struct replay *rp, size_t stage, struct wp_loader *loader,
                     const struct wp_replay_args *args, struct replay_outcome *out)
{
    struct wp_pipeline_def *def = rp->def;
    char *dead = pass_path(rp, stage);
    if (!dead || !create_empty(dead)) {
        wp_free(dead);
        out->status = WP_EXIT_ITEMS_FAILED;
        return false;
    }
    wp__log(WP_LOG_INFO, SOURCE, "replaying the records of stage '%s' (%zu of %zu)",
            def->stages[stage].id, stage + 1, def->stage_count);

    struct wp_diags diags = {0};
    wp__diags_init(&diags);
    struct wp_run *run = wp__run_prepare(def, loader, &diags);
    wp__diags_print(&diags, stderr);
    bool tempfail = diags.tempfail;
    wp__diags_release(&diags);
    if (!run) {
        wp_free(dead);
        out->status = tempfail ? WP_EXIT_TEMPFAIL : WP_EXIT_CONFIG;
        return false;
    }
    struct pass p = {.rp = rp, .cursor = rp->first[stage]};
    struct wp_run_options options = {
        .use_input = true,
        .input = {.next = pass_next, .arg = &p, .name = rp->path},
        .output = {.write_text = pass_write_text, .finish = pass_finish, .arg = &p},
        .progress = args->progress,
        .summary = args->verbosity >= 0,
        .show_metrics = args->verbosity >= 1,
        .handle_signals = true,
        .start_stage = stage,
        .dead_letter_path = dead,
    };
    int status = wp__run_execute(run, &options);
    /* Items given up in flight or lost after an output failure are neither through nor
     * dead-lettered, and which they were is not known: the whole pass is kept. */
    bool uncertain = p.output_failed || atomic_load(&run->n_lost) > 0 ||
                     atomic_load(&run->cancelling) || atomic_load(&run->state_busy);
    bool stopped = atomic_load(&run->stopping);
    wp__run_free(run);
    wp_free(dead);

    if (uncertain) {
        wp__log(WP_LOG_ERROR, SOURCE,
                "the pass of stage '%s' did not finish cleanly; its %zu records are kept",
                def->stages[stage].id, p.taken);
        pass_undo(rp, stage);
        out->pass_went_wrong = true;
    } else {
        out->pass_ok[stage] = true;
        out->taken += p.taken;
    }
    if (status == WP_EXIT_TEMPFAIL)
        out->status = WP_EXIT_TEMPFAIL;
    if (p.cursor != NO_RECORD || stopped) {
        /* A signal, a fatal stage, on_error "fail": the records not taken stay. */
        out->incomplete = out->incomplete || p.cursor != NO_RECORD;
        return false;
    }
    return out->status < 0;
}

/* ---------------------------------------------------------------------------------- */
/* Rewriting the file                                                                  */
/* ---------------------------------------------------------------------------------- */

static size_t count_newlines(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *end = s + len; (s = memchr(s, '\n', (size_t)(end - s))); s++)
        n++;
    return n;
}

/* Append bytes [@from, EOF) of @fd to @out; *@lines counts the lines. False on error. */
static bool copy_from(int fd, off_t from, FILE *out, size_t *lines)
{
    char buf[1 << 16];
    ssize_t n;
    char last = '\n';
    while ((n = pread(fd, buf, sizeof(buf), from)) > 0) {
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
            return false;
        *lines += count_newlines(buf, (size_t)n);
        last = buf[n - 1];
        from += n;
    }
    if (n < 0)
        return false;
    if (last != '\n') {
        (*lines)++;
        return fputc('\n', out) != EOF;
    }
    return true;
}

/* Append the file at @path to @out (see copy_from). */
static bool copy_file(const char *path, FILE *out, size_t *lines)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = copy_from(fd, 0, out, lines);
    close(fd);
    return ok;
}

static void sync_dir(const char *file)
{
    const char *slash = strrchr(file, '/');
    char *dir = slash ? wp_strndup(file, slash > file ? (size_t)(slash - file) : 1) : NULL;
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd); /* best effort: the rename itself is already atomic */
        close(fd);
    }
    wp_free(dir);
}

struct rewrite_counts {
    size_t failed_again; /* records the passes dead-lettered */
    size_t appended;     /* records appended to the file while it was replayed */
    size_t left;         /* records in the new file */
};

/* Write the new file beside the old one, fsync it and rename it over. */
static bool rewrite(struct replay *rp, const bool *pass_ok, struct rewrite_counts *c)
{
    char *path = wp_asprintf("%s.new", rp->temp_base);
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = out != NULL;
    if (!out && fd >= 0)
        close(fd);
    /* The permissions of the old file: the new one takes its place. */
    if (ok)
        ok = fchmod(fd, rp->st.st_mode & 07777) == 0;
    for (size_t i = 0; ok && i < rp->count; i++) {
        const struct record *r = &rp->records[i];
        if (r->state == RECORD_TAKEN)
            continue;
        ok = fwrite(rp->map + r->offset, 1, r->length, out) == r->length && fputc('\n', out) != EOF;
        c->left++;
    }
    /* Appended since the file was read (a pipeline run writing to it): carried over. */
    struct stat now;
    if (ok && fstat(rp->fd, &now) == 0 && (size_t)now.st_size > rp->size)
        ok = copy_from(rp->fd, (off_t)rp->size, out, &c->appended);
    for (size_t s = 0; ok && s < rp->def->stage_count; s++) {
        if (!pass_ok[s])
            continue;
        char *dead = pass_path(rp, s);
        ok = dead && copy_file(dead, out, &c->failed_again);
        wp_free(dead);
    }
    c->left += c->appended + c->failed_again;
    if (ok)
        ok = fflush(out) == 0 && fsync(fd) == 0;
    if (out && fclose(out) != 0)
        ok = false;
    if (ok)
        ok = rename(path, rp->real) == 0;
    if (!ok) {
        wp__log(WP_LOG_ERROR, SOURCE, "cannot write the new '%s': %s; it is left as it was",
                rp->path, strerror(errno));
        if (path)
            unlink(path);
    } else {
        sync_dir(rp->real);
    }
    wp_free(path);
    return ok;
}

static void remove_pass_files(const struct replay *rp)
{
    for (size_t s = 0; s < rp->def->stage_count; s++) {
        if (rp->first[s] == NO_RECORD)
            continue;
        char *dead = pass_path(rp, s);
        if (dead)
            unlink(dead);
        wp_free(dead);
    }
}

/*
 * Under the lock no other replay of this file runs, so files named like its temporary
 * files were left by one that was killed: copies of records still in the file.
 */
static void remove_stale(const struct replay *rp)
{
    const char *slash = strrchr(rp->real, '/');
    char *dir = wp_strndup(rp->real, slash > rp->real ? (size_t)(slash - rp->real) : 1);
    char *prefix = wp_asprintf(".%s.replay-", slash + 1);
    DIR *d = dir && prefix ? opendir(dir) : NULL;
    size_t removed = 0;
    size_t len = prefix ? strlen(prefix) : 0;
    const struct dirent *e;
    while (d && (e = readdir(d))) {
        /* ".NAME.replay-" PID "." ...: nothing else is taken for one. */
        bool ours = strncmp(e->d_name, prefix, len) == 0;
        const char *rest = ours ? e->d_name + len : "";
        size_t digits = strspn(rest, "0123456789");
        if (digits > 0 && rest[digits] == '.' && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    if (d)
        closedir(d);
    if (removed)
        wp__log(WP_LOG_INFO, SOURCE, "removed %zu files left by a replay that did not finish",
                removed);
    wp_free(dir);
    wp_free(prefix);
}

/* ---------------------------------------------------------------------------------- */
/* The command                                                                         */
/* ---------------------------------------------------------------------------------- */

/* Open, lock and map the dead-letter file. Returns -1 to go on, or an exit status. */
static int replay_open(struct replay *rp)
{
    rp->fd = open(rp->path, O_RDONLY | O_CLOEXEC);
    if (rp->fd < 0) {
        wp__log(WP_LOG_ERROR, SOURCE, "cannot open '%s': %s", rp->path, strerror(errno));
        return WP_EXIT_USAGE;
    }
    if (fstat(rp->fd, &rp->st) != 0 || !S_ISREG(rp->st.st_mode)) {
        wp__log(WP_LOG_ERROR, SOURCE, "'%s' is not a regular file; replay rewrites it in place",
                rp->path);
        return WP_EXIT_USAGE;
    }
    if (flock(rp->fd, LOCK_EX | LOCK_NB) != 0) {
        wp__log(WP_LOG_ERROR, SOURCE, "'%s' is being replayed by another process", rp->path);
        return errno == EWOULDBLOCK ? WP_EXIT_TEMPFAIL : WP_EXIT_ITEMS_FAILED;
    }
    char real[PATH_MAX];
    rp->real = realpath(rp->path, real) ? wp_strdup(real) : NULL;
    const char *slash = rp->real ? strrchr(rp->real, '/') : NULL;
    if (slash)
        rp->temp_base = wp_asprintf("%.*s/.%s.replay-%ld", (int)(slash - rp->real), rp->real,
                                    slash + 1, (long)getpid());
    size_t stages = rp->def->stage_count ? rp->def->stage_count : 1;
    rp->first = wp_malloc(stages * sizeof(*rp->first));
    rp->last = wp_malloc(stages * sizeof(*rp->last));
    if (!rp->real || !rp->temp_base || !rp->first || !rp->last) {
        wp__log(WP_LOG_ERROR, SOURCE, "cannot set up the replay of '%s'", rp->path);
        return WP_EXIT_ITEMS_FAILED;
    }
    for (size_t s = 0; s < stages; s++)
        rp->first[s] = rp->last[s] = NO_RECORD;
    remove_stale(rp);
    rp->size = (size_t)rp->st.st_size;
    if (rp->size == 0)
        return -1;
    void *map = mmap(NULL, rp->size, PROT_READ, MAP_PRIVATE, rp->fd, 0);
    if (map == MAP_FAILED) {
        wp__log(WP_LOG_ERROR, SOURCE, "cannot read '%s': %s", rp->path, strerror(errno));
        return WP_EXIT_ITEMS_FAILED;
    }
    madvise(map, rp->size, MADV_SEQUENTIAL);
    rp->mapping = map;
    rp->map = map;
    return -1;
}

static void replay_release(struct replay *rp)
{
    if (rp->mapping)
        munmap(rp->mapping, rp->size);
    if (rp->fd >= 0)
        close(rp->fd); /* and the lock with it */
    wp_free(rp->real);
    wp_free(rp->temp_base);
    wp_free(rp->records);
    wp_free(rp->first);
    wp_free(rp->last);
    wp__pipeline_def_free(rp->def);
}

/* Run the passes, rewrite the file, print the summary line. */
static int replay_run(struct replay *rp, struct wp_loader *loader,
                      const struct wp_replay_args *args)
{
    size_t stages = rp->def->stage_count;
    struct replay_outcome out = {.status = -1, .pass_ok = wp_calloc(stages ? stages : 1, 1)};
    if (!out.pass_ok) {
        wp__log(WP_LOG_ERROR, SOURCE, "out of memory");
        return WP_EXIT_ITEMS_FAILED;
    }
    for (size_t s = 0; s < stages; s++) {
        if (rp->first[s] != NO_RECORD && !run_pass(rp, s, loader, args, &out))
            break;
    }
    size_t not_taken = 0;
    for (size_t i = 0; i < rp->count; i++)
        not_taken += rp->records[i].state == RECORD_PENDING;

    struct rewrite_counts c = {0};
    bool rewritten = true;
    if (out.taken > 0)
        rewritten = rewrite(rp, out.pass_ok, &c);
    else
        c.left = rp->count;
    /* Now copies of records in the file, or of records of an attempt that was undone. */
    remove_pass_files(rp);
    wp_free(out.pass_ok);
    if (!rewritten)
        return WP_EXIT_ITEMS_FAILED;

    if (c.appended)
        wp__log(WP_LOG_WARN, SOURCE, "%zu records appended to '%s' during the replay are kept",
                c.appended, rp->path);
    if (not_taken)
        wp__log(WP_LOG_WARN, SOURCE, "%zu records were not replayed and are kept", not_taken);
    /* With fan-out one item can fail more than once: "succeeded" is at least 0. */
    size_t succeeded = out.taken > c.failed_again ? out.taken - c.failed_again : 0;
    wp__log(WP_LOG_INFO, SOURCE,
            "replayed %zu, succeeded %zu, failed again %zu, kept %zu unreplayable; '%s' holds "
            "%zu records",
            out.taken, succeeded, c.failed_again, rp->unreplayable, rp->path, c.left);
    if (out.status >= 0)
        return out.status;
    /* Exit 0 only when the file is left empty: anything in it still needs a look. */
    bool clean = c.left == 0 && !out.incomplete && !out.pass_went_wrong;
    return clean ? WP_EXIT_OK : WP_EXIT_ITEMS_FAILED;
}

int wp__cmd_replay(const struct wp_replay_args *args, struct wp_loader *loader)
{
    struct replay rp = {.path = args->dead_letter, .fd = -1};
    struct wp_diags diags = {0};
    wp__diags_init(&diags);
    enum wp_status loaded = wp__pipeline_def_load(args->pipeline, args->overrides,
                                                  args->override_count, &rp.def, &diags);
    wp__diags_print(&diags, stderr);
    wp__diags_release(&diags);
    if (loaded != WP_OK)
        return WP_EXIT_CONFIG;

    int status = replay_open(&rp);
    if (status < 0 && !read_records(&rp)) {
        wp__log(WP_LOG_ERROR, SOURCE, "out of memory reading '%s'; it is left as it was", rp.path);
        status = WP_EXIT_ITEMS_FAILED;
    }
    if (status < 0 && rp.count == 0) {
        wp__log(WP_LOG_INFO, SOURCE, "'%s' holds no records: nothing to replay", rp.path);
        status = WP_EXIT_OK;
    }
    if (status < 0)
        status = replay_run(&rp, loader, args);
    replay_release(&rp);
    return status;
}
