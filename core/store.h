/*
 * store.h - the one state store: a key/value map in SQLite at <state_dir>/state.db,
 * behind wp_host_api.store_*. Safe to use from several threads; WAL mode so a second
 * wirepipe process reading the same folder does not block.
 */
#ifndef WP_STORE_H
#define WP_STORE_H

#include <stddef.h>

#include <wirepipe/status.h>

struct wp_store;

/*
 * wp__store_open() - open (creating @dir and the database when missing).
 * Returns: WP_OK with *@out set, or WP_E_IO with the reason in @err.
 */
enum wp_status wp__store_open(const char *dir, struct wp_store **out, struct wp_error *err);
void wp__store_close(struct wp_store *store);

enum wp_status wp__store_get(struct wp_store *store, const char *ns, const char *key,
                             size_t key_len, char **value, size_t *value_len);
enum wp_status wp__store_put(struct wp_store *store, const char *ns, const char *key,
                             size_t key_len, const char *value, size_t value_len, long long ttl_s);
enum wp_status wp__store_delete(struct wp_store *store, const char *ns, const char *key,
                                size_t key_len);

#endif /* WP_STORE_H */
