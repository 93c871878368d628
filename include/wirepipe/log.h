/*
 * wirepipe/log.h - log levels shared by the host and plugins.
 *
 * Plugins log through ctx->host->log() (or the wp_log_*() macros in plugin.h); the host
 * prefixes each line with the pipeline and stage, rate-limits repeats and writes text or
 * JSON lines to stderr. Nothing secret may be passed to a log call.
 */
#ifndef WIREPIPE_LOG_H
#define WIREPIPE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum wp_log_level {
    WP_LOG_ERROR = 0,
    WP_LOG_WARN,
    WP_LOG_INFO,
    WP_LOG_DEBUG,
};

#ifdef __cplusplus
}
#endif

#endif /* WIREPIPE_LOG_H */
