/*
 * http_stats.h - requests of the HTTP client counted by host and final status, for
 * /metrics: one count per request (after its retries), whatever plugin made it.
 *
 * A small fixed table, so a pipeline that fetches from thousands of hosts (followed
 * links) costs no memory and no label explosion: the first WP_HTTP_STATS_HOSTS hosts get
 * their own rows, later ones count as host "other". Process-wide, so counts stay monotonic
 * across reloads. Thread-safe.
 */
#ifndef WP_HTTP_STATS_H
#define WP_HTTP_STATS_H

#include <stddef.h>

#include <wirepipe/status.h>

#define WP_HTTP_STATS_HOSTS    32  /* distinct hosts with their own rows */
#define WP_HTTP_STATS_ROWS     128 /* (host, status) pairs */
#define WP_HTTP_STATS_HOST_MAX 80

struct wp_http_stat {
    char host[WP_HTTP_STATS_HOST_MAX]; /* "example.com", "127.0.0.1:8080", or "other" */
    /* The HTTP status (100..599) of the final answer, or for a request that got none,
     * minus the enum wp_status of its failure (-WP_E_TIMEOUT...). */
    int status;
    unsigned long long count;
};

/*
 * wp__http_stats_count() - count one finished request to @host_key ("scheme://host:port",
 * as the client keys hosts) that ended with @code and, when @code is WP_OK, HTTP @status.
 * The scheme and its default port are left out of the host label.
 */
void wp__http_stats_count(const char *host_key, enum wp_status code, long status);

/*
 * wp__http_stats_read() - copy up to @max rows into @out, in the order they first
 * appeared. Returns how many were copied.
 */
size_t wp__http_stats_read(struct wp_http_stat *out, size_t max);

/* wp__http_stats_status_label() - @status as a label value: "200", or "timeout", "http"... */
const char *wp__http_stats_status_label(int status, char *buf, size_t size);

#endif /* WP_HTTP_STATS_H */
