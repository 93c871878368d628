/*
 * The metrics endpoint (see metrics.h): libmicrohttpd on its own polling thread, a small
 * connection limit, GET and HEAD of /metrics and /health only.
 *
 * One lock guards the attached run and the series. A request holds it while it reads
 * (microseconds: atomics and each stage's metrics_lock), so detach, which takes it too,
 * waits for a request in flight and the run can then be freed.
 */
#include "wp_internal.h"

#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <wirepipe/buf.h>

#include "host_api.h"
#include "log.h"
#include "metrics_series.h"
#include "metrics_text.h"
#include "runner.h"

/* Prometheus scrapes one at a time; a few more for health checks and people. */
#define METRICS_CONNECTIONS 16
#define METRICS_TIMEOUT_S   10

struct wp_metrics {
    struct MHD_Daemon *daemon;
    unsigned unhealthy_after_s;
    pthread_mutex_t lock;
    struct wp_series series;
    /* While starting: MHD's reason for failing (it logs before it returns NULL), kept
     * only from the starting thread. */
    atomic_bool starting;
    pthread_t starter;
    char start_error[WP_ERROR_TEXT_MAX];
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct wp_metrics *m = cls;
    char line[WP_ERROR_TEXT_MAX];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (atomic_load(&m->starting) && pthread_equal(pthread_self(), m->starter) &&
        !m->start_error[0]) {
        snprintf(m->start_error, sizeof(m->start_error), "%s", line);
        return;
    }
    /* Connection-level trouble (a client that hangs up): not worth a warning. */
    wp__log(WP_LOG_DEBUG, "metrics", "%s", line);
}

/* ------------------------------------------------------------------------------------ */
/* Health                                                                                */
/* ------------------------------------------------------------------------------------ */

/* Under m->lock: 200 with "ok", or 503 with the reason in @why. */
static unsigned health(struct wp_metrics *m, char *why, size_t size)
{
    struct wp_run *run = m->series.run;
    if (!run) {
        snprintf(why, size, "not running\n");
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    if (atomic_load(&run->stopping)) {
        snprintf(why, size, "draining\n");
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    struct wp_stage_rt *src = run->stage_count ? &run->stages[0] : NULL;
    if (m->unhealthy_after_s && src && src->ops && src->ops->generate) {
        unsigned long long since = atomic_load(&src->failing_since_ns);
        uint64_t now = wp__now_ns();
        uint64_t limit = (uint64_t)m->unhealthy_after_s * 1000000000u;
        if (since && now > since && now - since > limit) {
            snprintf(why, size, "source '%s' failing for %llu s\n", src->def->id,
                     (unsigned long long)((now - since) / 1000000000u));
            return MHD_HTTP_SERVICE_UNAVAILABLE;
        }
    }
    snprintf(why, size, "ok\n");
    return MHD_HTTP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Requests                                                                              */
/* ------------------------------------------------------------------------------------ */

static void body_free(void *data)
{
    wp_free(data);
}

/* Queue @body (@len bytes, a wp_malloc'd block that the response takes, or static). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             bool owned, const char *type)
{
    struct MHD_Response *r =
        owned ? MHD_create_response_from_buffer_with_free_callback(len, body, body_free)
              : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            wp_free(body);
        return MHD_NO; /* MHD closes the connection */
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *text)
{
    /* MHD_RESPMEM_PERSISTENT: MHD only reads the text, though its parameter is not const. */
    return reply(c, status, (char *)(uintptr_t)text, strlen(text), false,
                 "text/plain; charset=utf-8");
}

static enum MHD_Result reply_metrics(struct wp_metrics *m, struct MHD_Connection *c)
{
    struct wp_buf b;
    wp_buf_init(&b, &wp__host_api);
    pthread_mutex_lock(&m->lock);
    bool ok = wp__metrics_text(&m->series, &b);
    pthread_mutex_unlock(&m->lock);
    size_t len = 0;
    char *text = ok ? wp_buf_detach(&b, &len) : NULL;
    if (!text) {
        wp_buf_release(&b);
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return reply(c, MHD_HTTP_OK, text, len, true, "text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result reply_health(struct wp_metrics *m, struct MHD_Connection *c)
{
    char why[WP_ERROR_TEXT_MAX];
    pthread_mutex_lock(&m->lock);
    unsigned status = health(m, why, sizeof(why));
    pthread_mutex_unlock(&m->lock);
    char *body = wp_strdup(why);
    if (!body)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, status, body, strlen(body), true, "text/plain; charset=utf-8");
}

/*
 * Every request is answered at its first call, before any upload is read: nothing here
 * takes a body, and MHD closes a connection whose body was left unread.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    struct wp_metrics *m = cls;
    bool is_metrics = strcmp(url, "/metrics") == 0;
    bool is_health = strcmp(url, "/health") == 0;
    if (!is_metrics && !is_health)
        return reply_static(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /health\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    return is_metrics ? reply_metrics(m, c) : reply_health(m, c);
}

/* ------------------------------------------------------------------------------------ */
/* Life cycle                                                                            */
/* ------------------------------------------------------------------------------------ */

/* "ADDRESS:PORT", "[v6]:PORT" -> one address to bind, or NULL with the reason in @err. */
static struct addrinfo *resolve(const char *listen, struct wp_error *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1]) {
        snprintf(err->text, sizeof(err->text), "'%.64s': expected ADDRESS:PORT", listen);
        return NULL;
    }
    char host[256];
    size_t len = (size_t)(colon - listen);
    const char *start = listen;
    if (len >= 2 && listen[0] == '[' && listen[len - 1] == ']') {
        start++;
        len -= 2;
    }
    if (len >= sizeof(host)) {
        snprintf(err->text, sizeof(err->text), "'%.64s...': address too long", listen);
        return NULL;
    }
    memcpy(host, start, len);
    host[len] = '\0';
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err->text, sizeof(err->text), "cannot listen on '%.64s': %s", listen,
                 rc ? gai_strerror(rc) : "no address");
        if (res)
            freeaddrinfo(res);
        return NULL;
    }
    return res;
}

static uint16_t addr_port(const struct addrinfo *addr)
{
    if (addr->ai_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)addr->ai_addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)addr->ai_addr)->sin_port);
}

struct wp_metrics *wp__metrics_start(const char *listen, unsigned unhealthy_after_s,
                                     struct wp_error *err)
{
    struct addrinfo *addr = resolve(listen, err);
    if (!addr)
        return NULL;
    struct wp_metrics *m = wp_calloc(1, sizeof(*m));
    if (!m) {
        freeaddrinfo(addr);
        snprintf(err->text, sizeof(err->text), "out of memory");
        return NULL;
    }
    m->unhealthy_after_s = unhealthy_after_s;
    pthread_mutex_init(&m->lock, NULL);

    /*
     * The server's thread inherits the signal mask: with every signal blocked there, a
     * SIGTERM or SIGHUP always reaches the run's signal thread and never the server's,
     * where its default action would end the process.
     */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->starter = pthread_self();
    atomic_store(&m->starting, true);
    /* The logger first: MHD reports options given before it on stderr. The port is
     * only for its messages: it binds @addr. */
    m->daemon = MHD_start_daemon(flags, addr_port(addr), NULL, NULL, on_request, m,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m, MHD_OPTION_SOCK_ADDR,
                                 addr->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    freeaddrinfo(addr);
    if (!m->daemon) {
        snprintf(err->text, sizeof(err->text), "cannot listen on '%.64s': %.110s", listen,
                 m->start_error[0] ? m->start_error : "the HTTP server did not start");
        pthread_mutex_destroy(&m->lock);
        wp_free(m);
        return NULL;
    }
    atomic_store(&m->starting, false);
    wp__log(WP_LOG_INFO, "metrics", "serving /metrics and /health on %s", listen);
    return m;
}

void wp__metrics_attach(struct wp_metrics *m, struct wp_run *run)
{
    if (!m || !run)
        return;
    pthread_mutex_lock(&m->lock);
    wp__series_detach(&m->series); /* a run not detached: its counts are kept */
    wp__series_attach(&m->series, run);
    pthread_mutex_unlock(&m->lock);
}

void wp__metrics_detach(struct wp_metrics *m, struct wp_run *run)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->series.run == run)
        wp__series_detach(&m->series);
    pthread_mutex_unlock(&m->lock);
}

void wp__metrics_stop(struct wp_metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->daemon); /* joins its thread: no request is left running */
    wp__series_release(&m->series);
    pthread_mutex_destroy(&m->lock);
    wp_free(m);
}
