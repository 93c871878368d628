/*
 * json_hops.h - the builtin hops that turn input text into items and items into output
 * text, run by the runner like stages (struct wp_stage_rt.builtin).
 */
#ifndef WP_JSON_HOPS_H
#define WP_JSON_HOPS_H

#include "queue.h"
#include "stage.h"

/* Split each text entry into lines and parse each into an item; bad lines are
 * dead-lettered with what can be kept of them. */
void wp__decode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                      struct wp_entry_vec *results);

/* Print a batch of items as one run of JSON Lines text. */
void wp__encode_batch(struct wp_stage_rt *stage, struct wp_entry *batch, size_t count,
                      struct wp_entry_vec *results);

#endif /* WP_JSON_HOPS_H */
