/*
 * metrics_text.h - the Prometheus text exposition format (0.0.4) of everything /metrics
 * reports: the stage series, the acknowledgement histogram, the HTTP request table.
 */
#ifndef WP_METRICS_TEXT_H
#define WP_METRICS_TEXT_H

#include <stdbool.h>

#include <wirepipe/buf.h>

#include "metrics_series.h"

/*
 * wp__metrics_text() - append the exposition of @s to @out (whose allocator is the
 * host's). Call with the endpoint's lock held. False when out of memory.
 */
bool wp__metrics_text(const struct wp_series *s, struct wp_buf *out);

/*
 * wp__metrics_label_escape() - append @value as a label value: backslash, double quote
 * and newline escaped as the format wants, and any byte that is not part of well-formed
 * UTF-8 replaced by U+FFFD (stage ids are user text, plugin metric names plugin text).
 */
void wp__metrics_label_escape(struct wp_buf *out, const char *value);

#endif /* WP_METRICS_TEXT_H */
