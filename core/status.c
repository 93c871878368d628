#include "wp_internal.h"

#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *wp_status_name(enum wp_status status)
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

const char *wp_status_str(enum wp_status status)
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

const char *wp_outcome_name(enum wp_outcome outcome)
{
    static const char *const names[] = {"ok", "drop", "retry", "reject", "fatal"};
    if ((unsigned)outcome < WP_ARRAY_SIZE(names))
        return names[outcome];
    return "unknown";
}

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
