/*
 * HTTP requests by host and final status (see http_stats.h).
 *
 * One mutex: a request costs milliseconds, a locked look-up in a table of at most 128
 * rows well under a microsecond.
 */
#include "wp_internal.h"

#include "http_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wp_http_stat rows[WP_HTTP_STATS_ROWS];
static size_t row_count;
static size_t host_count;
/* Pairs that found no free row even as host "other": counted as ("other", "other"). */
static unsigned long long overflow;

/* "https://example.com:443" -> "example.com"; "http://h:8080" -> "h:8080". */
static void host_label(const char *key, char *out, size_t size)
{
    const char *host = strstr(key, "://");
    size_t scheme_len = host ? (size_t)(host - key) : 0;
    host = host ? host + 3 : key;
    size_t len = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon) {
        const char *port = colon + 1;
        bool is_default =
            (scheme_len == 4 && strncmp(key, "http", 4) == 0 && strcmp(port, "80") == 0) ||
            (scheme_len == 5 && strncmp(key, "https", 5) == 0 && strcmp(port, "443") == 0);
        if (is_default)
            len = (size_t)(colon - host);
    }
    if (len >= size)
        len = size - 1;
    memcpy(out, host, len);
    out[len] = '\0';
}

static bool host_known(const char *host)
{
    for (size_t i = 0; i < row_count; i++) {
        if (strcmp(rows[i].host, host) == 0)
            return true;
    }
    return false;
}

/* The row of (@host, @status), made if there is room; NULL when the table is full. */
static struct wp_http_stat *row_get(const char *host, int status)
{
    for (size_t i = 0; i < row_count; i++) {
        if (rows[i].status == status && strcmp(rows[i].host, host) == 0)
            return &rows[i];
    }
    if (row_count == WP_HTTP_STATS_ROWS)
        return NULL;
    struct wp_http_stat *r = &rows[row_count++];
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->status = status;
    r->count = 0;
    return r;
}

void wp__http_stats_count(const char *host_key, enum wp_status code, long status)
{
    char host[WP_HTTP_STATS_HOST_MAX];
    host_label(host_key ? host_key : "", host, sizeof(host));
    int st = -(int)code;
    if (code == WP_OK) /* outside 100..599: not an HTTP answer, whatever curl read */
        st = status >= 100 && status <= 599 ? (int)status : -(int)WP_E_PROTOCOL;

    pthread_mutex_lock(&stats_lock);
    bool known = host_known(host);
    if (!known && host_count >= WP_HTTP_STATS_HOSTS)
        snprintf(host, sizeof(host), "other");
    struct wp_http_stat *r = row_get(host, st);
    if (r && !known && strcmp(host, "other") != 0)
        host_count++;
    if (!r && strcmp(host, "other") != 0)
        r = row_get("other", st);
    if (r)
        r->count++;
    else
        overflow++;
    pthread_mutex_unlock(&stats_lock);
}

size_t wp__http_stats_read(struct wp_http_stat *out, size_t max)
{
    pthread_mutex_lock(&stats_lock);
    size_t n = row_count < max ? row_count : max;
    memcpy(out, rows, n * sizeof(*out));
    if (overflow && n < max) {
        snprintf(out[n].host, sizeof(out[n].host), "other");
        out[n].status = 0; /* "other" */
        out[n].count = overflow;
        n++;
    }
    pthread_mutex_unlock(&stats_lock);
    return n;
}

const char *wp__http_stats_status_label(int status, char *buf, size_t size)
{
    if (status > 0)
        snprintf(buf, size, "%d", status);
    else if (status < 0)
        snprintf(buf, size, "%s", wp_status_name((enum wp_status) - status));
    else
        snprintf(buf, size, "other");
    return buf;
}
