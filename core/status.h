/*
 * status.h - core helpers around the public status vocabulary (<wirepipe/status.h>).
 */
#ifndef WP_CORE_STATUS_H
#define WP_CORE_STATUS_H

#include <wirepipe/status.h>

/*
 * wp__error_set() - fill @err with @code and a formatted message (truncated to fit).
 * Accepts @err == NULL. Never allocates. Leaves @err->stage and @err->line alone.
 */
void wp__error_set(struct wp_error *err, enum wp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* WP_CORE_STATUS_H */
