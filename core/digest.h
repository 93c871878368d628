/*
 * digest.h - the one SHA-256 of the tree, lent to plugins as host->sha256_hex.
 */
#ifndef WP_DIGEST_H
#define WP_DIGEST_H

#include <stddef.h>

#include <wirepipe/status.h>

/* wp__sha256_hex() - lower-case hex SHA-256 of @len bytes at @data into @out. */
enum wp_status wp__sha256_hex(const void *data, size_t len, char out[65]);

#endif /* WP_DIGEST_H */
