#include "wp_internal.h"

#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_BURST_PER_SECOND 20

static enum wp_log_level log_threshold = WP_LOG_INFO;
static enum wp_log_format log_format = WP_LOG_FORMAT_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool progress_shown;

/* A small table of recent sources for rate limiting; a collision only shares a budget. */
struct log_budget {
    char source[64];
    time_t second;
    unsigned lines;
    unsigned suppressed;
};
static struct log_budget budgets[32];

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void wp__log_setup(enum wp_log_level threshold, enum wp_log_format format)
{
    log_threshold = threshold;
    log_format = format;
}

bool wp__log_enabled(enum wp_log_level level)
{
    return level <= log_threshold;
}

bool wp__log_json(void)
{
    return log_format == WP_LOG_FORMAT_JSON;
}

static unsigned source_hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

/* Returns false when the line must be dropped; *@report gets a count to announce. */
static bool budget_take(const char *source, time_t now, unsigned *report)
{
    struct log_budget *b = &budgets[source_hash(source) % WP_ARRAY_SIZE(budgets)];
    *report = 0;
    if (strcmp(b->source, source) != 0 || b->second != now) {
        *report = b->suppressed;
        snprintf(b->source, sizeof(b->source), "%s", source);
        b->second = now;
        b->lines = 0;
        b->suppressed = 0;
    }
    if (b->lines >= LOG_BURST_PER_SECOND) {
        b->suppressed++;
        return false;
    }
    b->lines++;
    return true;
}

static void write_json_string(FILE *out, const char *s)
{
    json_t *str = json_string(s);
    char *dumped = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    fputs(dumped ? dumped : "\"(unprintable)\"", out);
    wp_free(dumped); /* jansson allocates through wp_malloc (set in main) */
    json_decref(str);
}

static void clear_progress(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        progress_shown = false;
    }
}

static void emit_line(enum wp_log_level level, const char *source, const char *message,
                      json_t *fields)
{
    if (log_format == WP_LOG_FORMAT_JSON && fields) {
        /* The fixed keys first, then the fields (which cannot replace them). */
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *line = json_pack("{s:s,s:s,s:s,s:s}", "time", stamp, "level", level_names[level],
                                 "source", source, "message", message);
        if (line)
            json_object_update_missing(line, fields);
        char *text =
            line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
                 : NULL;
        json_decref(line);
        if (text) {
            fputs(text, stderr);
            fputc('\n', stderr);
            wp_free(text);
            return;
        }
    }
    if (log_format == WP_LOG_FORMAT_JSON) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"source\":", stamp, level_names[level]);
        write_json_string(stderr, source);
        fputs(",\"message\":", stderr);
        write_json_string(stderr, message);
        fputs("}\n", stderr);
    } else if (level <= WP_LOG_WARN) {
        fprintf(stderr, "%s: %s: %s\n", source, level_names[level], message);
    } else {
        fprintf(stderr, "%s: %s\n", source, message);
    }
}

void wp__log_v(enum wp_log_level level, const char *source, const char *fmt, va_list ap)
{
    wp__log_fields_v(level, source, NULL, fmt, ap);
}

void wp__log_fields(enum wp_log_level level, const char *source, json_t *fields, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    wp__log_fields_v(level, source, fields, fmt, ap);
    va_end(ap);
}

void wp__log_fields_v(enum wp_log_level level, const char *source, json_t *fields, const char *fmt,
                      va_list ap)
{
    if (!wp__log_enabled(level))
        return;
    if (!source)
        source = "wirepipe";
    char message[2048];
    vsnprintf(message, sizeof(message), fmt, ap);

    pthread_mutex_lock(&log_lock);
    unsigned suppressed = 0;
    bool keep = level > WP_LOG_WARN || budget_take(source, time(NULL), &suppressed);
    clear_progress();
    if (suppressed) {
        char note[96];
        snprintf(note, sizeof(note), "%u similar lines suppressed in the last second", suppressed);
        emit_line(WP_LOG_WARN, source, note, NULL);
    }
    if (keep)
        emit_line(level, source, message, fields);
    pthread_mutex_unlock(&log_lock);
}

void wp__log(enum wp_log_level level, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wp__log_v(level, source, fmt, ap);
    va_end(ap);
}

void wp__log_raw(const char *text)
{
    pthread_mutex_lock(&log_lock);
    clear_progress();
    fputs(text, stderr);
    pthread_mutex_unlock(&log_lock);
}

void wp__log_progress(const char *text)
{
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "\r\033[K%s", text);
    fflush(stderr);
    progress_shown = true;
    pthread_mutex_unlock(&log_lock);
}

void wp__log_progress_end(void)
{
    pthread_mutex_lock(&log_lock);
    clear_progress();
    pthread_mutex_unlock(&log_lock);
}
