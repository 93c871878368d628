/*
 * http.h - the one HTTP client (libcurl), behind wp_host_api.http_perform*.
 *
 * Policy (shared by every plugin): http and https only, at most 5 redirects and never to
 * another protocol, TLS verification on, gzip/deflate accepted, proxy from the usual
 * environment variables, a body limit enforced while reading, retries with wp__backoff_ms()
 * honouring a clamped Retry-After, an optional per-host circuit breaker. One CURL easy
 * handle per thread is reused so connections stay alive.
 */
#ifndef WP_HTTP_H
#define WP_HTTP_H

#include <wirepipe/plugin.h>

/* Called once by main() before any thread starts, and once at exit. */
enum wp_status wp__http_global_init(void);
void wp__http_global_cleanup(void);

/*
 * wp__http_perform() - see wp_host_api.http_perform. @ctx may be NULL (tests); when set
 * it is used for cancellation between attempts and for debug logging (URLs only, never
 * headers or bodies).
 */
enum wp_status wp__http_perform(struct wp_ctx *ctx, const struct wp_http_request *req,
                                struct wp_http_response *resp);

/*
 * wp__http_perform_many() - see wp_host_api.http_perform_many: wp__http_perform_each()
 * storing each response in @resps.
 */
enum wp_status wp__http_perform_many(struct wp_ctx *ctx, const struct wp_http_request *reqs,
                                     struct wp_http_response *resps, size_t count,
                                     unsigned concurrency, unsigned per_host);

/*
 * The callback of the streaming client: @resp is borrowed for the call. Return false to
 * stop the batch.
 */
typedef bool wp__http_reply_fn(void *arg, size_t index, const struct wp_http_response *resp);

/*
 * wp__http_perform_each() - see wp_host_api.http_perform_each. The requests are read at a
 * stride of @req_size bytes: sizeof(struct wp_http_request) from the host, a plugin's own
 * size through http_abi.c (fields past @req_size count as zero). Requests are set up only
 * a few per unit of @concurrency ahead of the transfers running, so memory follows the
 * concurrency, not @count. @on_reply runs between turns of the transfer loop, so while it
 * works nothing moves: a transport failure of an attempt the callback held up for a good
 * part of its time is retried without counting against max_attempts (at most 3 times).
 * Returns WP_OK, WP_E_CANCELLED (stopped by @on_reply or cancellation), WP_E_NOMEM, or
 * WP_E_INVALID for a NULL @reqs or @on_reply.
 */
enum wp_status wp__http_perform_each(struct wp_ctx *ctx, const void *reqs, size_t req_size,
                                     size_t count, unsigned concurrency, unsigned per_host,
                                     wp__http_reply_fn *on_reply, void *arg);

/* wp__http_response_release() - free what a response owns and zero it. */
void wp__http_response_release(struct wp_http_response *resp);

#endif /* WP_HTTP_H */
