/*
 * metrics.h - the service's window: Prometheus text at /metrics and a health check at
 * /health, served by libmicrohttpd on the address of the pipeline's "metrics" key.
 *
 * The endpoint outlives runs: a reload (SIGHUP) detaches the old run, whose final counters
 * are folded into running totals so every counter stays monotonic, and attaches the new
 * one. Between the two, /health answers 503 (draining).
 */
#ifndef WP_METRICS_H
#define WP_METRICS_H

#include <stdbool.h>

#include <wirepipe/status.h>

struct wp_metrics;
struct wp_run;

/*
 * wp__metrics_start() - listen on @listen ("ADDRESS:PORT").
 * Returns the endpoint, or NULL with the reason in @err (address in use, bad address).
 */
struct wp_metrics *wp__metrics_start(const char *listen, unsigned unhealthy_after_s,
                                     struct wp_error *err);

/* wp__metrics_attach() - serve the counters of @run from now on (borrowed until detach). */
void wp__metrics_attach(struct wp_metrics *m, struct wp_run *run);

/* wp__metrics_detach() - @run has ended: fold its counters into the totals, stop reading it. */
void wp__metrics_detach(struct wp_metrics *m, struct wp_run *run);

/* wp__metrics_stop() - stop serving and free (NULL-safe). */
void wp__metrics_stop(struct wp_metrics *m);

#endif /* WP_METRICS_H */
