/*
 * wirepipe/status.h - status codes, error details and stage outcomes.
 *
 * Two separate vocabularies live here:
 *
 *  - enum wp_status says whether a call worked and, if not, what kind of failure it
 *    was. It is append-only: a value is never renumbered or reused, so a plugin built
 *    against an older header reads the same meaning from the same number.
 *  - enum wp_outcome is what a stage answers for one item (DESIGN.md fixes the five).
 *
 * struct wp_error carries the human-readable detail of a failure in a fixed-size buffer
 * that never allocates, so it can be filled on an out-of-memory path.
 */
#ifndef WIREPIPE_STATUS_H
#define WIREPIPE_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The X-macro keeps the enum, wp_status_name() and wp_status_str() in step.
 * Add new codes at the end only.
 */
#define WP_STATUS_MAP(X)                                                                           \
    X(OK, "ok", "success")                                                                         \
    X(E_NOMEM, "nomem", "out of memory")                                                           \
    X(E_INVALID, "invalid", "invalid argument or input")                                           \
    X(E_CONFIG, "config", "configuration error")                                                   \
    X(E_ABI, "abi", "plugin ABI mismatch")                                                         \
    X(E_IO, "io", "input/output error")                                                            \
    X(E_HTTP, "http", "HTTP error")                                                                \
    X(E_TIMEOUT, "timeout", "timed out")                                                           \
    X(E_UNICODE, "unicode", "invalid or undecodable text")                                         \
    X(E_CANCELLED, "cancelled", "cancelled")                                                       \
    X(E_NOTFOUND, "notfound", "not found")                                                         \
    X(E_LIMIT, "limit", "size or count limit exceeded")                                            \
    X(E_PROTOCOL, "protocol", "unexpected reply from a remote service")                            \
    X(E_QUOTA, "quota", "quota exhausted")                                                         \
    X(E_UNAVAILABLE, "unavailable", "service temporarily unavailable")

enum wp_status {
#define WP_STATUS_ENUM_(sym, name, text) WP_##sym,
    WP_STATUS_MAP(WP_STATUS_ENUM_)
#undef WP_STATUS_ENUM_
};

/*
 * What a stage answers for one item.
 *
 * WP_OUTCOME_OK      the item was handled; see plugin.h for what reaches the next stage.
 * WP_OUTCOME_DROP    the item was intentionally removed (a filter); counted, not an error.
 * WP_OUTCOME_RETRY   a transient failure; the host offers the same item again after the
 *                    delay set with wp_host_api.retry_in(), up to the stage's max_attempts,
 *                    then dead-letters it.
 * WP_OUTCOME_REJECT  this item is bad; it goes to the dead-letter file with the reason set
 *                    through wp_host_api.fail().
 * WP_OUTCOME_FATAL   the stage cannot go on; the item is dead-lettered and the pipeline
 *                    stops taking input, drains and exits non-zero. (2.1) With the code
 *                    WP_E_CANCELLED set through fail(), the stage's destination went away
 *                    on purpose (a sink's stdout closed by `| head`): the run stops quietly
 *                    with status 0 and the item is left unacknowledged, not dead-lettered.
 */
enum wp_outcome {
    WP_OUTCOME_OK = 0,
    WP_OUTCOME_DROP,
    WP_OUTCOME_RETRY,
    WP_OUTCOME_REJECT,
    WP_OUTCOME_FATAL,
};

#define WP_ERROR_TEXT_MAX  200
#define WP_ERROR_STAGE_MAX 64

/*
 * Detail of a failure. @line is a 1-based line number when the failure has one
 * (a pipeline file, a JSON Lines input), else 0.
 */
struct wp_error {
    enum wp_status code;
    char stage[WP_ERROR_STAGE_MAX];
    char text[WP_ERROR_TEXT_MAX];
    int line;
};

/*
 * The name lookups are inline so a plugin can use them without linking the host (plugins
 * never do). Everything else about status codes that only the host needs lives in the
 * core's own headers.
 */

/*
 * wp_status_name() - short stable token for @status ("nomem", "http", ...).
 *
 * Returns: a static string; "unknown" for a value this build does not know.
 */
static inline const char *wp_status_name(enum wp_status status)
{
    switch (status) {
#define WP_STATUS_NAME_(sym, name, text)                                                           \
    case WP_##sym:                                                                                 \
        return name;
        WP_STATUS_MAP(WP_STATUS_NAME_)
#undef WP_STATUS_NAME_
    }
    return "unknown";
}

/*
 * wp_status_str() - one-line English description of @status.
 *
 * Returns: a static string; "unknown status" for a value this build does not know.
 */
static inline const char *wp_status_str(enum wp_status status)
{
    switch (status) {
#define WP_STATUS_TEXT_(sym, name, text)                                                           \
    case WP_##sym:                                                                                 \
        return text;
        WP_STATUS_MAP(WP_STATUS_TEXT_)
#undef WP_STATUS_TEXT_
    }
    return "unknown status";
}

/*
 * wp_outcome_name() - "ok", "drop", "retry", "reject" or "fatal"; "unknown" otherwise.
 */
static inline const char *wp_outcome_name(enum wp_outcome outcome)
{
    switch (outcome) {
        case WP_OUTCOME_OK:
            return "ok";
        case WP_OUTCOME_DROP:
            return "drop";
        case WP_OUTCOME_RETRY:
            return "retry";
        case WP_OUTCOME_REJECT:
            return "reject";
        case WP_OUTCOME_FATAL:
            return "fatal";
    }
    return "unknown";
}

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_STATUS_H */
