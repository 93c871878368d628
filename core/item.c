#include "wp_internal.h"

#include "item.h"

#include <string.h>

#include "utf8.h"

enum wp_status wp__item_append_error(json_t *item, const char *stage, enum wp_status code,
                                     const char *message, unsigned attempts)
{
    json_t *errors = json_object_get(item, WP_ITEM_ERRORS);
    if (!json_is_array(errors)) {
        errors = json_array();
        if (!errors || json_object_set_new(item, WP_ITEM_ERRORS, errors) != 0)
            return WP_E_NOMEM;
    }
    json_t *entry =
        json_pack("{s:s,s:s,s:o,s:i}", "stage", stage, "code", wp_status_name(code), "message",
                  wp__json_string_lossy(message, strlen(message)), "attempts", (int)attempts);
    if (!entry || json_array_append_new(errors, entry) != 0)
        return WP_E_NOMEM;
    return WP_OK;
}
