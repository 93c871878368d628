/*
 * fetch_test.h - helpers shared by the fetch plugin tests (header-only, test code).
 */
#ifndef FETCH_TEST_H
#define FETCH_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* cmocka needs the headers above first. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>

#include "mock_host.h"

/* Room for an item id: "sha256:" and 64 hex digits, with some to spare. */
#define ID_MAX 96

static inline const char *fixtures(void)
{
    const char *dir = getenv("WP_TEST_FIXTURES");
    return dir ? dir : "tests/fixtures";
}

/* "<fixtures>/fetch/<rel>" in a static buffer (one at a time). */
static inline const char *fixture(const char *rel)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/fetch/%s", fixtures(), rel);
    return path;
}

/* Read a whole file as a NUL-terminated string (malloc'd), trailing newline removed. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    char *out = malloc(n + 1);
    memcpy(out, buf, n + 1);
    return out;
}

/* Create the fetch stage with @config (a JSON object, stolen). */
static inline void fetch_create_with(struct wp_mock *m, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    wp_mock_init(m);
    enum wp_status st = wp_mock_create(m, "fetch", NULL, text);
    if (st != WP_OK)
        fprintf(stderr, "create failed: %s\n", m->fail_text);
    assert_int_equal(st, WP_OK);
    free(text);
}

static inline const char *item_str(const json_t *item, const char *key)
{
    return json_string_value(json_object_get(item, key));
}

static inline const char *source_str(const json_t *item, const char *key)
{
    return json_string_value(json_object_get(json_object_get(item, "source"), key));
}

static inline json_int_t source_int(const json_t *item, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(item, "source"), key));
}

static inline json_int_t metric(const struct wp_mock *m, const char *name)
{
    return json_integer_value(json_object_get(m->metrics, name));
}

static inline const char *dead_message(const struct wp_mock *m, size_t i)
{
    return json_string_value(json_object_get(json_array_get(m->dead_letters, i), "message"));
}

static inline void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) {
        fprintf(stderr, "expected to find\n  '%s'\nin\n  '%s'\n", needle, hay ? hay : "(null)");
        fail();
    }
}

/* The first emitted item whose source.url is @url, or NULL (items come in completion order). */
static inline json_t *emitted_from(const struct wp_mock *m, const char *url)
{
    size_t i;
    json_t *item;
    json_array_foreach(m->emitted, i, item)
    {
        if (source_str(item, "url") && strcmp(source_str(item, "url"), url) == 0)
            return item;
    }
    return NULL;
}

/* How many dead letters have a message containing @needle. */
static inline size_t dead_with(const struct wp_mock *m, const char *needle)
{
    size_t i, n = 0;
    json_t *d;
    json_array_foreach(m->dead_letters, i, d)
    {
        const char *msg = json_string_value(json_object_get(d, "message"));
        n += msg && strstr(msg, needle) ? 1 : 0;
    }
    return n;
}

/* How many dead letters have the status name @code. */
static inline size_t dead_with_code(const struct wp_mock *m, const char *code)
{
    size_t i, n = 0;
    json_t *d;
    json_array_foreach(m->dead_letters, i, d)
    {
        const char *c = json_string_value(json_object_get(d, "code"));
        n += c && strcmp(c, code) == 0 ? 1 : 0;
    }
    return n;
}

/* Acknowledge, as the host would once they are done, the items emitted from @from on. */
static inline void ack_emitted(struct wp_mock *m, size_t from, enum wp_ack_outcome outcome)
{
    assert_non_null(m->ops->ack);
    for (size_t i = from; i < json_array_size(m->emitted); i++) {
        const char *id = item_str(json_array_get(m->emitted, i), "id");
        m->ops->ack(m->instance, &m->ctx, id ? id : "", outcome);
    }
}

/* The next run on the same state folder (see wp_mock_restart()). */
static inline void restart(struct wp_mock *m)
{
    enum wp_status st = wp_mock_restart(m);
    if (st != WP_OK)
        fprintf(stderr, "restart failed: %s\n", m->fail_text);
    assert_int_equal(st, WP_OK);
}

static inline void dump_json(const char *label, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(1));
    fprintf(stderr, "%s: %s\n", label, s ? s : "?");
    free(s);
}

#endif /* FETCH_TEST_H */
