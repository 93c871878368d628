/*
 * jsonl.h - JSON Lines in and out: the reader behind --input and stdin, and the writer
 * that prints items leaving the last stage.
 */
#ifndef WP_JSONL_H
#define WP_JSONL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <wirepipe/status.h>

/* Lines longer than this are refused (and dead-lettered) rather than parsed. */
#define WP_JSONL_MAX_LINE (64u << 20)

/* Input is read this many bytes at a time and handed on as runs of whole lines. */
#define WP_JSONL_CHUNK (64u << 10)

/*
 * Reads with read(2), so memory stays bounded whatever the input (a line longer than
 * WP_JSONL_MAX_LINE is skipped, not buffered), and a terminal or pipe hands on each line
 * as soon as it arrives.
 */
struct wp_jsonl_reader {
    int fd;
    char *buf;  /* a partial line carried over, then fresh data */
    size_t len; /* bytes in @buf */
    size_t cap;
    uint64_t line; /* lines handed on (or skipped) so far */
    bool eof;
    bool skipping; /* inside an over-long line: drop bytes up to its newline */
};

/* wp__jsonl_reader_init() - read from file descriptor @fd (borrowed; not closed). */
void wp__jsonl_reader_init(struct wp_jsonl_reader *r, int fd);
void wp__jsonl_reader_release(struct wp_jsonl_reader *r);

/*
 * wp__jsonl_next_text() - the next run of whole lines as new text, *@line being the
 * number of its first line (struct wp_run_input.next_text); the host splits and parses
 * it. A last line without a newline counts. An over-long line returns WP_E_LIMIT with
 * its number; a read interrupted by a signal returns WP_E_CANCELLED.
 */
enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err);

/* wp__jsonl_write_text() - write one encoded line to the FILE @out (write_text). */
enum wp_status wp__jsonl_write_text(void *out, const char *text, size_t len);

/* wp__jsonl_finish() - flush the FILE @out (struct wp_run_output.finish). */
enum wp_status wp__jsonl_finish(void *out);

#endif /* WP_JSONL_H */
