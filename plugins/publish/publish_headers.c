/*
 * publish_headers.c - the request headers of to=http: Content-Type, the "headers" object
 * of the config (values often come from ${ENV}, so every value is a secret) and
 * "Authorization: Bearer" from the variable that "bearer_token_env" names.
 *
 * Header lines are checked here once, at create(), because the HTTP client passes them to
 * the wire as they are: a CR or LF in a value would let a config (or a variable) inject
 * headers or a second request. Messages name the header or the variable, never a value,
 * and pub_scrub_secrets() keeps the values out of anything a webhook says back.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wirepipe/buf.h>

#include "publish.h"

/* Header names the client or the outbox set themselves, per request. */
static const char *const pub_reserved_headers[] = {
    "Idempotency-Key", "Content-Length", "Transfer-Encoding", "Host", "Expect", "Connection", NULL,
};

/* Longest value accepted: far above any token, far below what servers refuse. */
#define PUB_HEADER_VALUE_MAX 8192

/* RFC 9110 token characters, the only ones a field name may have. */
static bool pub_token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool pub_header_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 100)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!pub_token_char((unsigned char)name[i]))
            return false;
    }
    return true;
}

/* A field value: visible characters, spaces and tabs; no CR, LF, NUL or other controls. */
static bool pub_header_value_ok(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static bool pub_env_name_ok(const char *name)
{
    if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *c = name; *c; c++) {
        if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9')))
            return false;
    }
    return strlen(name) <= 128;
}

/*
 * Add the line "@name: @value" and remember where its value lies, as a secret when
 * @secret. False when out of memory (reported).
 */
static bool pub_headers_add(struct publish *p, struct wp_ctx *ctx, const char *name,
                            const char *prefix, const char *value, size_t len, bool secret)
{
    struct pub_headers *h = &p->headers;
    struct wp_buf b;
    wp_buf_init(&b, p->host);
    wp_buf_adds(&b, name);
    wp_buf_adds(&b, ": ");
    wp_buf_adds(&b, prefix);
    size_t value_at = b.len;
    wp_buf_add(&b, value, len);
    char *line = b.failed ? NULL : wp_buf_detach(&b, NULL);
    wp_buf_release(&b);
    if (!line) {
        wp_fail(ctx, WP_E_NOMEM, "out of memory");
        return false;
    }
    h->lines[h->count++] = line;
    if (secret && len > 0)
        h->secrets[h->secret_count++] = (struct pub_secret){line + value_at, len};
    return true;
}

static bool pub_name_is(const char *name, const char *other)
{
    return strcasecmp(name, other) == 0;
}

/* The "headers" object. Returns WP_OK or WP_E_CONFIG / WP_E_NOMEM (reported). */
static enum wp_status pub_headers_from_config(struct publish *p, struct wp_ctx *ctx,
                                              const json_t *headers, bool bearer,
                                              bool *content_type)
{
    if (!headers || json_is_null(headers))
        return WP_OK;
    if (!json_is_object(headers)) {
        wp_fail(ctx, WP_E_CONFIG, "headers: expected an object of header name -> string");
        return WP_E_CONFIG;
    }
    if (json_object_size(headers) > PUB_HEADERS_MAX) {
        wp_fail(ctx, WP_E_CONFIG, "headers: at most %d headers", PUB_HEADERS_MAX);
        return WP_E_CONFIG;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)headers, name, v)
    {
        if (!pub_header_name_ok(name)) {
            /* The name may hold the very bytes that make it invalid: show none of it. */
            wp_fail(ctx, WP_E_CONFIG,
                    "headers: a header name is not a valid HTTP field name (letters, digits "
                    "and !#$%%&'*+-.^_`|~ only, at most 100)");
            return WP_E_CONFIG;
        }
        for (size_t i = 0; pub_reserved_headers[i]; i++) {
            if (pub_name_is(name, pub_reserved_headers[i])) {
                wp_fail(ctx, WP_E_CONFIG, "headers: '%s' is set by publish itself", name);
                return WP_E_CONFIG;
            }
        }
        if (bearer && pub_name_is(name, "Authorization")) {
            wp_fail(ctx, WP_E_CONFIG,
                    "headers: 'Authorization' cannot be set together with bearer_token_env");
            return WP_E_CONFIG;
        }
        if (!json_is_string(v)) {
            wp_fail(ctx, WP_E_CONFIG, "headers: '%s': expected a string", name);
            return WP_E_CONFIG;
        }
        const char *value = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0) {
            /* The HTTP client would drop "Name:" silently; an empty ${VAR} is a mistake. */
            wp_fail(ctx, WP_E_CONFIG, "headers: '%s' is empty (an unset variable?)", name);
            return WP_E_CONFIG;
        }
        if (len > PUB_HEADER_VALUE_MAX || !pub_header_value_ok(value, len)) {
            wp_fail(ctx, WP_E_CONFIG,
                    "headers: '%s' must not contain CR, LF or other control characters, "
                    "and at most %d bytes",
                    name, PUB_HEADER_VALUE_MAX);
            return WP_E_CONFIG;
        }
        if (pub_name_is(name, "Content-Type"))
            *content_type = true;
        if (!pub_headers_add(p, ctx, name, "", value, len, true))
            return WP_E_NOMEM;
    }
    return WP_OK;
}

/* pub_headers_open() - see publish.h. */
enum wp_status pub_headers_open(struct publish *p, struct wp_ctx *ctx, const json_t *config)
{
    const json_t *env_key = json_object_get(config, "bearer_token_env");
    const char *env = json_string_value(env_key);
    if (env && !*env)
        env = NULL;
    const char *token = NULL;
    if (env) {
        if (!pub_env_name_ok(env)) {
            wp_fail(ctx, WP_E_CONFIG,
                    "bearer_token_env: expected the name of an environment variable "
                    "([A-Za-z_][A-Za-z0-9_]*)");
            return WP_E_CONFIG;
        }
        token = getenv(env);
        if (!token || !*token) {
            wp_fail(ctx, WP_E_CONFIG, "bearer_token_env: environment variable '%s' is %s", env,
                    token ? "empty" : "not set");
            return WP_E_CONFIG;
        }
        if (strlen(token) > PUB_HEADER_VALUE_MAX || !pub_header_value_ok(token, strlen(token))) {
            wp_fail(ctx, WP_E_CONFIG,
                    "bearer_token_env: the value of '%s' holds CR, LF or other control "
                    "characters, or is longer than %d bytes",
                    env, PUB_HEADER_VALUE_MAX);
            return WP_E_CONFIG;
        }
    }
    bool content_type = false;
    enum wp_status st = pub_headers_from_config(p, ctx, json_object_get(config, "headers"),
                                                token != NULL, &content_type);
    if (st != WP_OK)
        return st;
    if (!content_type) {
        const char *json = "application/json";
        if (!pub_headers_add(p, ctx, "Content-Type", "", json, strlen(json), false))
            return WP_E_NOMEM;
    }
    if (token && !pub_headers_add(p, ctx, "Authorization", "Bearer ", token, strlen(token), true))
        return WP_E_NOMEM;
    return WP_OK;
}

/* pub_headers_release() - see publish.h. */
void pub_headers_release(struct publish *p)
{
    struct pub_headers *h = &p->headers;
    for (size_t i = 0; i < h->count; i++) {
        /* Secrets should not linger in freed memory a later allocation may expose. */
        explicit_bzero(h->lines[i], strlen(h->lines[i]));
        p->host->free(h->lines[i]);
        h->lines[i] = NULL;
    }
    h->count = 0;
    h->secret_count = 0;
}

/* pub_scrub_secrets() - see publish.h. */
void pub_scrub_secrets(const struct publish *p, char *text)
{
    const struct pub_headers *h = &p->headers;
    for (size_t i = 0; i < h->secret_count; i++) {
        const struct pub_secret *s = &h->secrets[i];
        /* Shorter values would blank ordinary words; they protect nothing anyway. */
        if (s->len < 4)
            continue;
        /* Each value ends its header line, so s->text is NUL-terminated at s->len. */
        for (char *hit = strstr(text, s->text); hit; hit = strstr(hit + s->len, s->text))
            memset(hit, '*', s->len);
    }
}
