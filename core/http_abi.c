#include "wp_internal.h"

#include "http_abi.h"

#include <string.h>

#include "http.h"

/* Every string a response owns lies inside the 2.0 size, so a plugin that declared
 * less than the host's struct loses no pointer when only its prefix is handed over. */
_Static_assert(offsetof(struct wp_http_response, effective_url) + sizeof(char *) <=
                   WP_HTTP_RESPONSE_MIN_SIZE,
               "owned response fields must stay inside the 2.0 size");

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void request_in(struct wp_http_request *dst, const void *src, size_t size)
{
    memset(dst, 0, sizeof(*dst));
    memcpy(dst, src, min_size(size, sizeof(*dst)));
}

static void response_out(void *dst, size_t size, const struct wp_http_response *src)
{
    memset(dst, 0, size);
    memcpy(dst, src, min_size(size, sizeof(*src)));
}

struct wp_http_abi wp__http_abi_of(const struct wp_plugin_desc *desc)
{
    if (!desc)
        return (struct wp_http_abi){.request_size = sizeof(struct wp_http_request),
                                    .response_size = sizeof(struct wp_http_response)};
    return (struct wp_http_abi){.request_size = desc->http_request_size,
                                .response_size = desc->http_response_size};
}

static bool abi_ok(struct wp_http_abi abi)
{
    return abi.request_size >= WP_HTTP_REQUEST_MIN_SIZE &&
           abi.response_size >= WP_HTTP_RESPONSE_MIN_SIZE;
}

enum wp_status wp__http_perform_abi(struct wp_ctx *ctx, struct wp_http_abi abi,
                                    const struct wp_http_request *req,
                                    struct wp_http_response *resp)
{
    if (!abi_ok(abi) || !req || !resp)
        return WP_E_INVALID;
    struct wp_http_request r;
    struct wp_http_response full;
    request_in(&r, req, abi.request_size);
    enum wp_status status = wp__http_perform(ctx, &r, &full);
    response_out(resp, abi.response_size, &full);
    return status;
}

enum wp_status wp__http_perform_many_abi(struct wp_ctx *ctx, struct wp_http_abi abi,
                                         const struct wp_http_request *reqs,
                                         struct wp_http_response *resps, size_t count,
                                         unsigned concurrency, unsigned per_host)
{
    if (!abi_ok(abi) || (count && (!reqs || !resps)))
        return WP_E_INVALID;
    if (abi.request_size == sizeof(struct wp_http_request) &&
        abi.response_size == sizeof(struct wp_http_response))
        return wp__http_perform_many(ctx, reqs, resps, count, concurrency, per_host);

    struct wp_http_request *r = wp_calloc(count ? count : 1, sizeof(*r));
    struct wp_http_response *full = wp_calloc(count ? count : 1, sizeof(*full));
    if (!r || !full) {
        wp_free(r);
        wp_free(full);
        return WP_E_NOMEM;
    }
    /* The plugin's arrays have its own stride. */
    for (size_t i = 0; i < count; i++)
        request_in(&r[i], (const char *)reqs + i * abi.request_size, abi.request_size);
    enum wp_status status = wp__http_perform_many(ctx, r, full, count, concurrency, per_host);
    for (size_t i = 0; i < count; i++)
        response_out((char *)resps + i * abi.response_size, abi.response_size, &full[i]);
    wp_free(r);
    wp_free(full);
    return status;
}

/* perform_each(): the plugin's callback gets each response at the size it declared. */
struct each_abi {
    bool (*on_reply)(void *arg, size_t index, const struct wp_http_response *resp);
    void *arg;
    size_t size;
    void *buf; /* a response of @size bytes, refilled for every reply */
};

static bool reply_at_plugin_size(void *arg, size_t index, const struct wp_http_response *resp)
{
    struct each_abi *a = arg;
    /* A shallow copy: the strings stay the host's, released after the callback. */
    response_out(a->buf, a->size, resp);
    return a->on_reply(a->arg, index, a->buf);
}

enum wp_status wp__http_perform_each_abi(
    struct wp_ctx *ctx, struct wp_http_abi abi, const struct wp_http_request *reqs, size_t count,
    unsigned concurrency, unsigned per_host,
    bool (*on_reply)(void *arg, size_t index, const struct wp_http_response *resp), void *arg)
{
    if (!abi_ok(abi) || !on_reply || (count && !reqs))
        return WP_E_INVALID;
    /* The requests are read at the plugin's stride and size by the client itself. */
    if (abi.response_size == sizeof(struct wp_http_response))
        return wp__http_perform_each(ctx, reqs, abi.request_size, count, concurrency, per_host,
                                     on_reply, arg);
    struct each_abi a = {.on_reply = on_reply, .arg = arg, .size = abi.response_size, .buf = NULL};
    if (count) {
        a.buf = wp_malloc(abi.response_size);
        if (!a.buf)
            return WP_E_NOMEM;
    }
    enum wp_status status = wp__http_perform_each(ctx, reqs, abi.request_size, count, concurrency,
                                                  per_host, reply_at_plugin_size, &a);
    wp_free(a.buf);
    return status;
}
