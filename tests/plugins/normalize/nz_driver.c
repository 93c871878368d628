/*
 * nz_driver - run the normalize stage outside a pipeline, for scripts/eval-mojibake and
 * scripts/bench-normalize (not a test by itself).
 *
 *   nz_driver [CONFIG_JSON]           items as JSON Lines on stdin -> normalized on stdout
 *   nz_driver --bench FILE [CONFIG]   load FILE (JSON Lines), then time process() alone
 *                                     over every item (thread CPU time and wall time,
 *                                     best of 5); prints one JSON line
 *
 * The plugin is found on WIREPIPE_PLUGIN_PATH, as in the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mock_host.h"

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t text_bytes(const json_t *item)
{
    return json_string_length(json_object_get(item, "headline")) +
           json_string_length(json_object_get(item, "body"));
}

static int run_bench(struct wp_mock *m, const char *path)
{
    json_error_t jerr;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "nz_driver: cannot open '%s'\n", path);
        return 1;
    }
    json_t *items = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t bytes = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_t *item = json_loadb(line, (size_t)got, 0, &jerr);
        if (!item)
            continue;
        bytes += text_bytes(item);
        json_array_append_new(items, item);
    }
    free(line);
    fclose(f);
    /* The machine may be shared: the thread's CPU time is the one-core figure; the wall
     * time is printed beside it. Best of 5 rounds each. */
    double best = 1e30, best_wall = 1e30;
    for (int round = 0; round < 5; round++) {
        json_t *copy = json_deep_copy(items);
        double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        double w0 = now_s(CLOCK_MONOTONIC);
        size_t idx;
        json_t *item;
        json_array_foreach(copy, idx, item)
        {
            if (wp_mock_process(m, item) != WP_OUTCOME_OK) {
                fprintf(stderr, "nz_driver: item %zu failed: %s\n", idx, m->fail_text);
                return 1;
            }
        }
        double t = now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
        double wt = now_s(CLOCK_MONOTONIC) - w0;
        if (t < best)
            best = t;
        if (wt < best_wall)
            best_wall = wt;
        json_decref(copy);
    }
    double mb = (double)bytes / (1024.0 * 1024.0);
    printf("{\"items\":%zu,\"bytes\":%zu,\"cpu_seconds\":%.6f,\"mb_per_s\":%.1f,"
           "\"wall_seconds\":%.6f,\"wall_mb_per_s\":%.1f}\n",
           json_array_size(items), bytes, best, mb / best, best_wall, mb / best_wall);
    json_decref(items);
    return 0;
}

static int run_lines(struct wp_mock *m)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    json_error_t jerr;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        json_t *item = json_loadb(line, (size_t)got, 0, &jerr);
        if (!item) {
            printf("{\"error\":\"bad json line\"}\n");
            continue;
        }
        enum wp_outcome out = wp_mock_process(m, item);
        if (out != WP_OUTCOME_OK)
            json_object_set_new(item, "x_driver_outcome", json_string(wp_outcome_name(out)));
        char *text = json_dumps(item, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(item);
    }
    free(line);
    return 0;
}

int main(int argc, char **argv)
{
    const char *bench = NULL;
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
            bench = argv[++i];
        else
            config = argv[i];
    }
    struct wp_mock m;
    wp_mock_init(&m);
    if (wp_mock_create(&m, "normalize", NULL, config) != WP_OK) {
        fprintf(stderr, "nz_driver: create failed: %s\n", m.fail_text);
        wp_mock_release(&m);
        return 2;
    }
    int rc = bench ? run_bench(&m, bench) : run_lines(&m);
    wp_mock_release(&m);
    return rc;
}
