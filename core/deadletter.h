/*
 * deadletter.h - the dead-letter file: one JSON line per item that could not go on.
 */
#ifndef WP_DEADLETTER_H
#define WP_DEADLETTER_H

#include <stdint.h>

#include <wirepipe/status.h>

#include <jansson.h>

struct wp_run;

/*
 * wp__dead_letter() - append {time, pipeline, stage, plugin, attempts, error, line, item};
 * @plugin may be NULL (the host's own input and output). Ownership: @item is borrowed.
 */
void wp__dead_letter(struct wp_run *run, const char *stage_id, const char *plugin,
                     const json_t *item, enum wp_status code, const char *message,
                     unsigned attempts, uint64_t line);
void wp__dead_letter_close(struct wp_run *run);

#endif /* WP_DEADLETTER_H */
