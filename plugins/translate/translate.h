/*
 * translate.h - private interfaces of the translate plugin.
 *
 * The stage (translate.c) cuts each field into segments (text.c), protects names with
 * placeholders, looks segments up in the cache and sends the rest to one provider. Every
 * provider is one file with a const struct translate_provider that only knows its wire
 * format: how to turn a batch of segments into an HTTP request and a reply back into
 * segment translations, and what its error statuses mean. Retries, backoff and the
 * circuit breaker belong to the host's HTTP client.
 *
 * Inside the plugin a protected name is the placeholder token <prefix><n> (for example
 * "ZXNE0"); providers whose engines understand markup replace the token by the name wrapped
 * in their no-translate markup on the way out, and turn the markup back into the token on
 * the way in (tr_to_wire / tr_from_wire), so caching and restoring work the same for all.
 */
#ifndef TRANSLATE_PRIVATE_H
#define TRANSLATE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include <wirepipe/buf.h>
#include <wirepipe/plugin.h>
#include <wirepipe/utf8.h>

#include <jansson.h>

/* Appenders to the one growable buffer (struct wp_buf) for the wire formats. */

/* Percent-encode @s for application/x-www-form-urlencoded. */
void tr_add_form(struct wp_buf *b, const char *s, size_t len);
/* Append @s as a JSON string literal (quotes included). */
void tr_add_json(struct wp_buf *b, const char *s, size_t len);

/* How a provider keeps names untranslated. */
enum tr_protect_style {
    TR_PROTECT_PLACEHOLDER, /* send the opaque token itself (rule-based engines) */
    TR_PROTECT_XML_TAG,     /* <x>name</x> with the text XML-escaped (DeepL ignore_tags) */
    TR_PROTECT_HTML_SPAN,   /* <span translate="no">name</span> in HTML mode */
};

/* The stage configuration a provider needs to build requests. */
struct tr_config {
    const struct wp_host_api *host;
    const struct translate_provider *provider;
    char *endpoint;  /* base URL without trailing slash */
    char *api_key;   /* from the environment; NULL when unset; never logged */
    char *region;    /* Azure region, or NULL */
    char *formality; /* DeepL formality, or NULL */
    long timeout_ms; /* per attempt */
    unsigned max_attempts;
    unsigned retry_cap_ms;
    size_t max_chars;    /* characters per request (code points) */
    size_t max_segments; /* segments per request */
};

/* Segments of one request, already in wire form. */
struct tr_batch {
    const char *source; /* primary language subtag, or NULL to let the provider detect */
    const char *target;
    bool markup;        /* the texts carry no-translate markup (HTML or XML mode) */
    char *const *texts; /* borrowed */
    const size_t *lens;
    size_t count;
};

/* A request as built by a provider; all strings owned by the plugin (host allocator). */
struct tr_http {
    char *url;
    char *body;
    size_t body_len;
    char *headers[6]; /* NULL-terminated "Name: value" lines */
};

struct translate_provider {
    const char *name;
    const char *default_endpoint;
    const char *default_key_env; /* NULL: the provider needs no key */
    bool key_required;
    size_t max_chars;     /* characters per request */
    size_t max_segments;  /* segments per request */
    unsigned concurrency; /* default requests in flight per item */
    enum tr_protect_style protect;
    bool can_detect; /* the provider detects the source language when none is given */

    /* Fill @out from @batch. Returns WP_OK or WP_E_NOMEM / WP_E_INVALID. */
    enum wp_status (*build)(const struct tr_config *conf, const struct tr_batch *batch,
                            struct tr_http *out);

    /*
     * Parse a 2xx reply into @batch->count new strings in @out (wire form, unescaped by
     * the caller), and the detected source language into @detected when the reply names
     * one. Returns WP_OK, or WP_E_PROTOCOL with @err describing what was wrong (invalid
     * JSON, wrong count, missing sentinel), or WP_E_NOMEM.
     */
    enum wp_status (*parse)(const struct tr_config *conf, const struct tr_batch *batch,
                            const char *body, size_t body_len, char **out, char *detected,
                            size_t detected_size, struct wp_buf *err);

    /*
     * Classify a non-2xx reply: WP_E_QUOTA (never retried), WP_E_CONFIG (bad key),
     * WP_E_INVALID (this text is refused), WP_E_UNAVAILABLE (retries ran out). Writes a
     * short message from the reply, without secrets, into @err.
     */
    enum wp_status (*classify)(long status, const char *body, size_t body_len, struct wp_buf *err);
};

extern const struct translate_provider tr_provider_apertium;
extern const struct translate_provider tr_provider_libretranslate;
extern const struct translate_provider tr_provider_deepl;
extern const struct translate_provider tr_provider_google;
extern const struct translate_provider tr_provider_azure;

/* ---- text.c: segmentation ---------------------------------------------------------- */

/* One piece of a field sent to the provider: text[start, end) after trimming. */
struct tr_segment {
    size_t para;       /* paragraph index */
    size_t lead_start; /* byte offsets into the protected field text */
    size_t start;
    size_t end;
    size_t trail_end;
};

struct tr_segments {
    struct tr_segment *items;
    size_t count;
    size_t cap;
};

/*
 * tr_segment_text() - cut @text (protected UTF-8) into paragraphs on "\n\n" and each
 * paragraph longer than @max_chars code points into chunks of whole sentences (ICU), words,
 * or, as a last resort, code points. Whitespace around each segment is left out of
 * [start, end) so providers that trim it cannot lose it. Blank paragraphs get no segment.
 * Returns WP_OK, WP_E_NOMEM, or WP_E_UNICODE.
 */
enum wp_status tr_segment_text(const struct wp_host_api *host, const char *text, size_t len,
                               size_t max_chars, struct tr_segments *out);
void tr_segments_release(const struct wp_host_api *host, struct tr_segments *segs);

/* ---- text.c: name protection ------------------------------------------------------- */

struct tr_names {
    char prefix[8];   /* placeholder prefix, absent from the source text */
    char **originals; /* originals[i] replaced by <prefix><i> */
    size_t count;
    size_t cap;
};

/*
 * tr_protect() - replace the names in @text by placeholders: entities of @field (the
 * "entities" array of the item, borrowed, may be NULL) and every occurrence of each string
 * of @protect (borrowed array, may be NULL). Returns the protected text (new) in @out.
 */
enum wp_status tr_protect(const struct wp_host_api *host, const char *field, const char *text,
                          size_t len, const json_t *entities, const json_t *protect,
                          struct tr_names *names, struct wp_buf *out);
void tr_names_release(const struct wp_host_api *host, struct tr_names *names);

/*
 * tr_restore() - replace each placeholder in @text by its original. Every placeholder of
 * @source (the segment that was sent) must come back exactly once and no other may
 * appear; otherwise WP_E_PROTOCOL.
 */
enum wp_status tr_restore(const struct tr_names *names, const char *text, size_t len,
                          const char *source, size_t source_len, struct wp_buf *out);

/* tr_to_wire() - the segment as the provider gets it (markup style, escaping). */
void tr_to_wire(const struct tr_names *names, enum tr_protect_style style, bool markup,
                const char *text, size_t len, struct wp_buf *out);

/* tr_from_wire() - back to the plugin's form: markup to placeholders, unescape. */
enum wp_status tr_from_wire(const struct tr_names *names, enum tr_protect_style style, bool markup,
                            const char *text, size_t len, struct wp_buf *out);

/* True when @text[0, len) holds a placeholder token of @names. */
bool tr_has_placeholder(const struct tr_names *names, const char *text, size_t len);

/* ---- helpers shared by providers --------------------------------------------------- */

/* Copy a short, printable excerpt of a reply's message into @err (no secrets there). */
void tr_err_excerpt(struct wp_buf *err, const char *what, const char *msg);

/* Common HTTP status classes for providers without special codes. */
enum wp_status tr_classify_common(long status);

/* Load @body as JSON; on failure write "invalid JSON reply: ..." to @err. */
json_t *tr_json_load(const char *body, size_t len, struct wp_buf *err);

/* Set out->headers[i] to a new copy of @line; false when out of memory. */
bool tr_http_header(const struct tr_config *conf, struct tr_http *out, size_t i, const char *a,
                    const char *b);

/* Copy the string @s into @dst of @size bytes, truncated; a no-op when @s is NULL. */
void tr_copy_lang(char *dst, size_t size, const char *s);

/* ---- provider.c: request and reply mechanics of the JSON providers ---------------- */

/*
 * tr_json_path() - the value at @path below @root: member names separated by '.', where a
 * segment of digits indexes an array ("data.translations.0.text"); "" is @root itself.
 * Returns a borrowed reference, or NULL when a step is missing or of the wrong type (also
 * when @root is NULL).
 */
json_t *tr_json_path(json_t *root, const char *path);

/*
 * tr_request_begin() - initialise @url to the endpoint followed by @path and @body to empty,
 * both on the host's allocator, for tr_request_finish() to hand over.
 */
void tr_request_begin(const struct tr_config *conf, struct wp_buf *url, struct wp_buf *body,
                      const char *path);

/*
 * tr_add_json_texts() - append the texts of @batch as a JSON array, each one written
 * as @open, the JSON string, @close (both "" for a plain array of strings).
 */
void tr_add_json_texts(struct wp_buf *b, const struct tr_batch *batch, const char *open,
                       const char *close);

/*
 * tr_request_finish() - move @url and @body into @out (the buffers are left empty) and add
 * the headers "Content-Type: @type" and, when @auth is not NULL, @auth followed by @secret
 * (for example "X-goog-api-key: " and the key).
 * Returns: WP_OK or WP_E_NOMEM; what was already moved stays in @out for the caller to free.
 */
enum wp_status tr_request_finish(const struct tr_config *conf, struct wp_buf *url,
                                 struct wp_buf *body, const char *type, const char *auth,
                                 const char *secret, struct tr_http *out);

/* Where a JSON reply keeps one translation per segment, and how messages name the places. */
struct tr_reply_list {
    const char *list;        /* path of the array from the root ("" = the root itself) */
    const char *text;        /* path of the translation in an entry ("" = the entry itself) */
    const char *detected[2]; /* paths of the detected language, tried in turn; NULL: none */
    bool lower_detected;     /* lower-case the detected code (DeepL answers "EN") */
    const char *list_name;   /* "reply has no <list_name> array of N entries"; NULL: "reply is
                                not an array of N entries" ("strings" when @text is "") */
    const char *entry_name;  /* "<entry_name>[i]<text_name> is not a string" */
    const char *text_name;
};

/*
 * tr_parse_list() - the parse() of a provider whose reply holds an array with one entry per
 * segment, as @fmt describes it; the arguments after @fmt are those of parse().
 * Returns: WP_OK with @out filled, or WP_E_PROTOCOL / WP_E_NOMEM with @out all NULL.
 */
enum wp_status tr_parse_list(const struct tr_reply_list *fmt, const struct tr_config *conf,
                             const struct tr_batch *batch, const char *body, size_t body_len,
                             char **out, char *detected, size_t detected_size, struct wp_buf *err);

/* How a provider's error replies read, and which of them mean the quota is used up. */
struct tr_error_reply {
    const char *who;      /* "DeepL" in "DeepL answered HTTP 456: ..." */
    const char *message;  /* path of the reply's message */
    const char *code;     /* path of a numeric error code written as " (N)", or NULL */
    long quota_status;    /* HTTP status meaning the quota is used up, or 0 */
    long long quota_code; /* value at @code meaning the same, or 0 */
};

/*
 * tr_classify_reply() - the classify() of a provider as @fmt describes it: writes "<who>
 * answered HTTP <status> (<code>): <message>" (code and message when present) to @err.
 * Returns: WP_E_QUOTA for the quota status or code, else tr_classify_common(@status).
 * Ownership: when @root_out is not NULL it gets the parsed reply (new reference, NULL when the
 * body is not JSON) for rules of the provider's own.
 */
enum wp_status tr_classify_reply(const struct tr_error_reply *fmt, long status, const char *body,
                                 size_t body_len, struct wp_buf *err, json_t **root_out);

#endif /* TRANSLATE_PRIVATE_H */
