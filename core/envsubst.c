#include "wp_internal.h"

#include "envsubst.h"

#include <stdlib.h>
#include <string.h>

#include <wirepipe/buf.h>

#include "host_api.h"
#include "utf8.h"

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* Substitute one ${...} whose inside is @inner (@len bytes, no closing brace). */
static bool expand_one(const char *inner, size_t len, const char *where, struct wp_diags *diags,
                       struct wp_buf *b)
{
    size_t n = 0;
    while (n < len && name_char(inner[n]))
        n++;
    if (n == 0 || !name_start(inner[0]) || (n < len && inner[n] != ':') ||
        (n < len && (n + 1 >= len || (inner[n + 1] != '-' && inner[n + 1] != '?')))) {
        /* Show the whole reference so the user finds it; it is pipeline text, not a value. */
        wp__diags_add(diags, "%s: invalid variable reference '${%.*s}'", where,
                      (int)(len > 80 ? 80 : len), inner);
        return false;
    }
    char name[256];
    if (n >= sizeof(name)) {
        wp__diags_add(diags, "%s: variable name '%.40s...' is too long", where, inner);
        return false;
    }
    memcpy(name, inner, n);
    name[n] = '\0';
    const char *value = getenv(name);
    char op = n < len ? inner[n + 1] : '\0';
    const char *word = inner + n + 2;
    size_t word_len = n < len ? len - n - 2 : 0;

    if (op == '\0') {
        if (!value) {
            wp__diags_add(diags, "%s: environment variable '%s' is not set", where, name);
            return false;
        }
    } else if (!value || !*value) {
        if (op == '-') {
            wp_buf_add(b, word, word_len);
            return true;
        }
        if (word_len)
            wp__diags_add(diags, "%s: environment variable '%s' is not set: %.*s", where, name,
                          (int)word_len, word);
        else
            wp__diags_add(diags, "%s: environment variable '%s' is not set", where, name);
        return false;
    }
    size_t value_len = strlen(value);
    if (!wp__utf8_valid(value, value_len)) {
        wp__diags_add(diags, "%s: environment variable '%s' is not valid UTF-8", where, name);
        return false;
    }
    wp_buf_add(b, value, value_len);
    return true;
}

enum wp_status wp__envsubst(const char *text, const char *where, struct wp_diags *diags, char **out)
{
    struct wp_buf b;
    wp_buf_init(&b, &wp__host_api);
    bool ok = true;
    const char *p = text;

    *out = NULL;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            wp_buf_add(&b, p, strlen(p));
            break;
        }
        wp_buf_add(&b, p, (size_t)(dollar - p));
        if (dollar[1] == '$' && dollar[2] == '{') {
            wp_buf_add(&b, "${", 2);
            p = dollar + 3;
            continue;
        }
        if (dollar[1] != '{') {
            wp_buf_add(&b, "$", 1);
            p = dollar + 1;
            continue;
        }
        const char *inner = dollar + 2;
        const char *close = strchr(inner, '}');
        if (!close) {
            wp__diags_add(diags, "%s: unterminated '${' (write '$${' for a literal '${')", where);
            ok = false;
            break;
        }
        if (!expand_one(inner, (size_t)(close - inner), where, diags, &b))
            ok = false;
        p = close + 1;
    }
    if (!ok) {
        wp_buf_release(&b);
        return WP_E_CONFIG;
    }
    *out = wp_buf_detach(&b, NULL);
    return *out ? WP_OK : WP_E_NOMEM;
}
