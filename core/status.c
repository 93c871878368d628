/*
 * Filling struct wp_error, the fixed-size detail of a failure.
 */
#include "wp_internal.h"

#include "status.h"

#include <stdarg.h>
#include <stdio.h>

void wp__error_set(struct wp_error *err, enum wp_status code, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}
