/*
 * Helpers shared by the pipeline-definition unit tests: a scratch folder per test, a
 * pipeline file written into it, and assertions over the collected diagnostics.
 */
#ifndef WP_PIPELINE_TEST_UTIL_H
#define WP_PIPELINE_TEST_UTIL_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "diag.h"

struct pt_fixture {
    char dir[PATH_MAX];       /* realpath of the scratch folder */
    char path[PATH_MAX + 16]; /* dir + "/pipeline.json" */
    struct wp_diags diags;
};

static inline int pt_setup(void **state)
{
    struct pt_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    char templ[PATH_MAX];
    snprintf(templ, sizeof(templ), "%s/wp-pipeline-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(templ) || !realpath(templ, f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/pipeline.json", f->dir);
    wp__diags_init(&f->diags);
    *state = f;
    return 0;
}

static inline int pt_teardown(void **state)
{
    struct pt_fixture *f = *state;
    char cmd[PATH_MAX + 32];
    wp__diags_release(&f->diags);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static inline void pt_write_bytes(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static inline void pt_write(struct pt_fixture *f, const char *text)
{
    pt_write_bytes(f->path, text, strlen(text));
}

static inline void pt_dump(const struct pt_fixture *f)
{
    print_message("diagnostics (%zu):\n", f->diags.count);
    for (size_t i = 0; i < f->diags.count; i++)
        print_message("  %s\n", f->diags.lines[i] ? f->diags.lines[i] : "(lost)");
}

static inline bool pt_has(const struct pt_fixture *f, const char *needle)
{
    for (size_t i = 0; i < f->diags.count; i++)
        if (f->diags.lines[i] && strstr(f->diags.lines[i], needle))
            return true;
    return false;
}

/* Fails unless some diagnostic contains the text formatted from @fmt. */
static inline void pt_expect(const struct pt_fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void pt_expect(const struct pt_fixture *f, const char *fmt, ...)
{
    char needle[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(needle, sizeof(needle), fmt, ap);
    va_end(ap);
    if (!pt_has(f, needle)) {
        pt_dump(f);
        fail_msg("no diagnostic contains \"%s\"", needle);
    }
}

static inline void pt_expect_count(const struct pt_fixture *f, size_t count)
{
    if (f->diags.count != count) {
        pt_dump(f);
        fail_msg("expected %zu diagnostics, got %zu", count, f->diags.count);
    }
}

#endif /* WP_PIPELINE_TEST_UTIL_H */
