/*
 * diag.h - a list of diagnostics (error lines) collected while checking something, so
 * every problem is reported, not only the first.
 *
 * Lines follow git style: lowercase, no final period, the place first
 * ("pipelines/x.json:3:7: ..." or "pipelines/x.json: stages[2].config.to: ...").
 */
#ifndef WP_DIAG_H
#define WP_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct wp_diags {
    char **lines;
    size_t count;
    size_t alloc;
    bool tempfail; /* the problem will pass (the state folder is in use): exit 75, not 78 */
};

void wp__diags_init(struct wp_diags *d);
void wp__diags_release(struct wp_diags *d);

/* wp__diags_add() - append one formatted line. On allocation failure the line is lost
 * but the list remembers that something failed (count still grows). */
void wp__diags_add(struct wp_diags *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* wp__diags_print() - write every line to @out, one per line. */
void wp__diags_print(const struct wp_diags *d, FILE *out);

#endif /* WP_DIAG_H */
