/*
 * Placeholder until the endpoint lands (issue 10): refuses to start.
 */
#include "wp_internal.h"

#include "metrics.h"

#include <stdio.h>

struct wp_metrics *wp__metrics_start(const char *listen, unsigned unhealthy_after_s,
                                     struct wp_error *err)
{
    (void)unhealthy_after_s;
    snprintf(err->text, sizeof(err->text), "cannot serve metrics on %s: not built in", listen);
    return NULL;
}

void wp__metrics_attach(struct wp_metrics *m, struct wp_run *run)
{
    (void)m, (void)run;
}

void wp__metrics_detach(struct wp_metrics *m, struct wp_run *run)
{
    (void)m, (void)run;
}

void wp__metrics_stop(struct wp_metrics *m)
{
    (void)m;
}
