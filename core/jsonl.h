/*
 * jsonl.h - JSON Lines in and out: the reader behind --input and stdin, and the writer
 * that prints items leaving the last stage.
 */
#ifndef WP_JSONL_H
#define WP_JSONL_H

#include <stdint.h>
#include <stdio.h>

#include <wirepipe/status.h>

/* Lines longer than this are refused (and dead-lettered) rather than parsed. */
#define WP_JSONL_MAX_LINE (64u << 20)

struct wp_jsonl_reader {
    FILE *in;
    char *buf;
    size_t cap;
    uint64_t line;
};

/* wp__jsonl_reader_init() - read from @in (borrowed; not closed). */
void wp__jsonl_reader_init(struct wp_jsonl_reader *r, FILE *in);
void wp__jsonl_reader_release(struct wp_jsonl_reader *r);

/*
 * wp__jsonl_next_text() - the next non-blank line as new text (struct
 * wp_run_input.next_text); the host parses it. Over-long lines return WP_E_LIMIT.
 */
enum wp_status wp__jsonl_next_text(void *reader, char **text, size_t *len, uint64_t *line,
                                   struct wp_error *err);

/* wp__jsonl_write_text() - write one encoded line to the FILE @out (write_text). */
enum wp_status wp__jsonl_write_text(void *out, const char *text, size_t len);

/* wp__jsonl_finish() - flush the FILE @out (struct wp_run_output.finish). */
enum wp_status wp__jsonl_finish(void *out);

#endif /* WP_JSONL_H */
