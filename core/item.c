#include "wp_internal.h"

#include "item.h"

#include <string.h>

#include "log.h"
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

void wp__item_log_id(const json_t *item, char out[96])
{
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    size_t n = id ? strlen(id) : 0;
    if (n > 80) {
        n = 80;
        while (n > 0 && ((unsigned char)id[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)id[i] < 0x20 || id[i] == 0x7f ? '?' : id[i];
    out[n] = '\0';
}

json_t *wp__item_log_fields(const char *stage, const json_t *item)
{
    if (!wp__log_json())
        return NULL;
    const char *id = json_string_value(json_object_get(item, WP_ITEM_ID));
    return json_pack("{s:s,s:s?}", "stage", stage ? stage : "", "item_id", id);
}
