/*
 * item.h - core helpers for the item fields of <wirepipe/item.h>.
 */
#ifndef WP_CORE_ITEM_H
#define WP_CORE_ITEM_H

#include <wirepipe/status.h>

#include <jansson.h>

/*
 * wp__item_append_error() - append {stage, code, message, attempts} to @item's "errors"
 * array, creating the array when missing (or replacing a field of another type).
 * Returns: WP_OK or WP_E_NOMEM. Ownership: @item is borrowed; strings are copied.
 */
enum wp_status wp__item_append_error(json_t *item, const char *stage, enum wp_status code,
                                     const char *message, unsigned attempts);

/*
 * wp__item_log_id() - @item's id made safe for a log line: at most 80 bytes (cut on a
 * character boundary), control characters as '?'; "" when it has none.
 */
void wp__item_log_id(const json_t *item, char out[96]);

/*
 * wp__item_log_fields() - {"stage": @stage, "item_id": ...} for a JSON log line about one
 * item, or NULL when logs are text (nothing to build). New reference.
 */
json_t *wp__item_log_fields(const char *stage, const json_t *item);

#endif /* WP_CORE_ITEM_H */
