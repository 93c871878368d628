/*
 * host_api.h - the table of services the host lends to plugins (struct wp_host_api).
 */
#ifndef WP_HOST_API_H
#define WP_HOST_API_H

#include <wirepipe/plugin.h>

extern const struct wp_host_api wp__host_api;

#endif /* WP_HOST_API_H */
