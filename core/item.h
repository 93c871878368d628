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

#endif /* WP_CORE_ITEM_H */
