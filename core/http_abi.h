/*
 * http_abi.h - the shared HTTP client as plugins see it: their request and response
 * structs may be smaller (built against older headers) or larger (newer headers) than
 * the host's. These wrappers read only the bytes the plugin declared, treat what it
 * lacks as zero, and never write past the size it declared.
 */
#ifndef WP_HTTP_ABI_H
#define WP_HTTP_ABI_H

#include <stddef.h>

#include <wirepipe/plugin.h>

/* The sizes at ABI 2.0: the smallest the loader accepts. */
#define WP_HTTP_REQUEST_MIN_SIZE  (offsetof(struct wp_http_request, user_agent) + sizeof(char *))
#define WP_HTTP_RESPONSE_MIN_SIZE (offsetof(struct wp_http_response, error) + WP_ERROR_TEXT_MAX)

/* A plugin's struct sizes, from its descriptor. */
struct wp_http_abi {
    size_t request_size;
    size_t response_size;
};

/* wp__http_abi_of() - the sizes @desc declares; the host's own when @desc is NULL. */
struct wp_http_abi wp__http_abi_of(const struct wp_plugin_desc *desc);

enum wp_status wp__http_perform_abi(struct wp_ctx *ctx, struct wp_http_abi abi,
                                    const struct wp_http_request *req,
                                    struct wp_http_response *resp);

enum wp_status wp__http_perform_many_abi(struct wp_ctx *ctx, struct wp_http_abi abi,
                                         const struct wp_http_request *reqs,
                                         struct wp_http_response *resps, size_t count,
                                         unsigned concurrency, unsigned per_host);

/* http_perform_each(): @on_reply gets each response at the plugin's size. */
enum wp_status wp__http_perform_each_abi(
    struct wp_ctx *ctx, struct wp_http_abi abi, const struct wp_http_request *reqs, size_t count,
    unsigned concurrency, unsigned per_host,
    bool (*on_reply)(void *arg, size_t index, const struct wp_http_response *resp), void *arg);

#endif /* WP_HTTP_ABI_H */
