/*
 * extract_eval_driver - run the extract stage over JSON Lines pages for scripts/eval-extract.
 *
 * Reads one {"id", "content", "content_type", "url"} object per line on stdin, runs it
 * through extract.so with the mock host, and writes {"id", "outcome", "body", "headline",
 * "ms"} per line on stdout. Not a test: scoring lives in the script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wirepipe/plugin.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "mock_host.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *config = argc > 1 ? argv[1] : NULL;
    xmlInitParser();
    struct wp_mock m;
    wp_mock_init(&m);
    if (wp_mock_create(&m, "extract", NULL, config) != WP_OK) {
        fprintf(stderr, "extract_eval_driver: cannot create the stage: %s\n", m.fail_text);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        json_error_t err;
        json_t *in = json_loadb(line, (size_t)got, 0, &err);
        if (!in) {
            fprintf(stderr, "extract_eval_driver: bad input line: %s\n", err.text);
            status = 1;
            continue;
        }
        json_t *item = json_pack("{s:O, s:{s:O, s:O}}", "content", json_object_get(in, "content"),
                                 "source", "content_type", json_object_get(in, "content_type"),
                                 "url", json_object_get(in, "url"));
        m.fail_text[0] = '\0';
        double t0 = now_ms();
        enum wp_outcome out = wp_mock_process(&m, item);
        double ms = now_ms() - t0;
        json_t *res = json_pack("{s:O, s:s, s:f, s:s}", "id", json_object_get(in, "id"), "outcome",
                                wp_outcome_name(out), "ms", ms, "reason", m.fail_text);
        const char *keys[] = {"body",    "headline", "language", "published",
                              "authors", "keywords", "uri",      "errors"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_t *v = json_object_get(item, keys[i]);
            if (v)
                json_object_set(res, keys[i], v);
        }
        char *s = json_dumps(res, JSON_COMPACT);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(res);
        json_decref(item);
        json_decref(in);
    }
    free(line);
    wp_mock_release(&m);
    return status;
}
