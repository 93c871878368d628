/*
 * log.h - the host's logger: leveled lines on stderr, as text or JSON, one writer at a
 * time, with repeats of the same message per source rate-limited.
 */
#ifndef WP_LOG_H
#define WP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <wirepipe/log.h>

#include <jansson.h>

enum wp_log_format {
    WP_LOG_FORMAT_TEXT = 0,
    WP_LOG_FORMAT_JSON,
};

/* wp__log_setup() - threshold and format; call before threads start. */
void wp__log_setup(enum wp_log_level threshold, enum wp_log_format format);

bool wp__log_enabled(enum wp_log_level level);

/*
 * wp__log_v() - write one line "<source>: <message>" (text) or a JSON object with
 * time, level, source and message. @source may be NULL ("wirepipe" is used).
 * At most 20 lines per second per @source at error/warn level; the rest are counted and
 * reported as one "suppressed" line.
 */
void wp__log_v(enum wp_log_level level, const char *source, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/*
 * wp__log_fields() - like wp__log(), and with --log-format json the members of @fields
 * (borrowed; NULL for none) become members of the line's object beside "message", for
 * tools that read counters and item ids without parsing text.
 */
void wp__log_fields(enum wp_log_level level, const char *source, json_t *fields, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
void wp__log_fields_v(enum wp_log_level level, const char *source, json_t *fields, const char *fmt,
                      va_list ap);
/* wp__log_json() - whether lines are JSON objects (then fields are worth building). */
bool wp__log_json(void);

void wp__log(enum wp_log_level level, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * wp__log_raw() - write @text to stderr as it is: no prefix, no rate limit, no length cap
 * (for records that must not be lost, such as dead letters whose file failed).
 */
void wp__log_raw(const char *text);

/* Progress lines on a terminal: a line rewritten in place, cleared by the next log line. */
void wp__log_progress(const char *text);
void wp__log_progress_end(void);

#endif /* WP_LOG_H */
