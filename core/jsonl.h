/*
 * jsonl.h - JSON Lines in and out: the reader behind --input and stdin, and the writer
 * that prints items leaving the last stage.
 */
#ifndef WP_JSONL_H
#define WP_JSONL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <wirepipe/status.h>

/* Lines longer than this are refused (and dead-lettered) rather than parsed. */
#define WP_JSONL_MAX_LINE (64u << 20)

/* Whole lines are handed on in runs of about this many bytes. */
#define WP_JSONL_CHUNK (64u << 10)

struct wp_jsonl_reader {
    FILE *in;
    char *buf; /* getline()'s line buffer */
    size_t cap;
    uint64_t line;       /* lines read so far */
    bool interactive;    /* hand on every line at once instead of filling a run */
    ssize_t pending_len; /* > 0: buf holds a line read but not yet handed on */
};

/*
 * wp__jsonl_reader_init() - read from @in (borrowed; not closed). @interactive: the
 * input may stall (a terminal, a pipe), so lines must not wait for a run to fill.
 */
void wp__jsonl_reader_init(struct wp_jsonl_reader *r, FILE *in, bool interactive);
void wp__jsonl_reader_release(struct wp_jsonl_reader *r);

/*
 * wp__jsonl_next_text() - the next run of whole lines as new text, *@line being the
 * number of its first line (struct wp_run_input.next_text); the host splits and parses
 * it. An over-long line returns WP_E_LIMIT on its own.
 */
enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err);

/* wp__jsonl_write_text() - write one encoded line to the FILE @out (write_text). */
enum wp_status wp__jsonl_write_text(void *out, const char *text, size_t len);

/* wp__jsonl_finish() - flush the FILE @out (struct wp_run_output.finish). */
enum wp_status wp__jsonl_finish(void *out);

#endif /* WP_JSONL_H */
