/*
 * names_driver - run the names plugin's stages through the mock host, for
 * scripts/eval-names and scripts/bench-names (which use `wirepipe names` when asked to, and
 * this driver for --pairs, --items and timings without the runner).
 *
 *   names_driver [--gazetteer FILE]... [--no-gazetteer] [--state DIR] [--threshold X]
 *                [--items] [FILE|-]
 *
 * Default mode reads one name per line and prints input<TAB>canonical<TAB>cluster<TAB>score
 * (the `wirepipe names` format); --items reads JSON Lines items and prints them after the
 * "names" stage. Timing of the work itself (without loading) goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mock_host.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --pairs: cluster each "a<TAB>b" line on its own; print same<TAB>score. */
static int run_pairs(struct wp_mock *m, char *cfg, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", m->state_dir);
    while ((len = getline(&line, &cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) {
            puts("0\t0");
            continue;
        }
        *tab = '\0';
        if (wp_mock_create(m, "names", "names_cluster", cfg) != WP_OK) {
            fprintf(stderr, "names_driver: create failed: %s\n", m->fail_text);
            return 78;
        }
        json_t *a = json_pack("{s:i,s:s}", "line", 1, "name", line);
        json_t *b = json_pack("{s:i,s:s}", "line", 2, "name", tab + 1);
        if (a)
            wp_mock_process(m, a);
        if (b)
            wp_mock_process(m, b);
        json_decref(a);
        json_decref(b);
        wp_mock_flush(m);
        json_t *ra = json_array_get(m->emitted, 0);
        json_t *rb = json_array_get(m->emitted, 1);
        const char *ca = json_string_value(json_object_get(ra, "cluster"));
        const char *cb = json_string_value(json_object_get(rb, "cluster"));
        int same = ca && cb && strcmp(ca, cb) == 0;
        printf("%d\t%.3f\n", same, same ? json_number_value(json_object_get(rb, "score")) : 0.0);
        m->ops->destroy(m->instance);
        m->ops = NULL;
        json_array_clear(m->emitted);
    }
    free(line);
    free(cfg);
    m->state_dir[0] = '\0';
    wp_mock_release(m);
    rmdir(dir);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: names_driver [--gazetteer FILE]... [--no-gazetteer] [--state DIR] "
                    "[--threshold X] [--items] [FILE|-]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    json_t *config = json_object();
    json_t *gaz = json_array();
    const char *state = NULL;
    const char *input = "-";
    int items_mode = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gazetteer") == 0 && i + 1 < argc)
            json_array_append_new(gaz, json_string(argv[++i]));
        else if (strcmp(argv[i], "--no-gazetteer") == 0)
            json_object_set_new(config, "no_gazetteer", json_true());
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            state = argv[++i];
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
            json_object_set_new(config, "threshold", json_real(strtod(argv[++i], NULL)));
        else if (strcmp(argv[i], "--items") == 0)
            items_mode = 1;
        else if (strcmp(argv[i], "--rewrite") == 0)
            json_object_set_new(config, "rewrite", json_true());
        else if (strcmp(argv[i], "--pairs") == 0)
            items_mode = 2;
        else if (argv[i][0] == '-' && argv[i][1])
            usage();
        else
            input = argv[i];
    }
    json_object_set_new(config, "gazetteer", gaz);
    json_object_set_new(config, "persist", state ? json_true() : json_false());
    if (!items_mode)
        json_object_del(config, "rewrite");
    FILE *in = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
    if (!in) {
        perror(input);
        return 1;
    }
    setenv("WP_MOCK_VERBOSE", "1", 0);
    struct wp_mock m;
    wp_mock_init(&m);
    if (state) {
        rmdir(m.state_dir);
        snprintf(m.state_dir, sizeof(m.state_dir), "%s", state);
    }
    char *cfg = json_dumps(config, 0);
    json_decref(config);
    if (items_mode == 2)
        return run_pairs(&m, cfg, in);
    double t0 = now_s();
    enum wp_status st = wp_mock_create(&m, "names", items_mode ? "names" : "names_cluster", cfg);
    free(cfg);
    if (st != WP_OK) {
        fprintf(stderr, "names_driver: create failed: %s\n", m.fail_text);
        return 78;
    }
    double t1 = now_s();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    long count = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (items_mode) {
            json_error_t jerr;
            json_t *item = json_loadb(line, (size_t)len, 0, &jerr);
            if (!item) {
                fprintf(stderr, "line %ld: %s\n", lineno, jerr.text);
                continue;
            }
            if (wp_mock_process(&m, item) == WP_OUTCOME_OK) {
                char *out = json_dumps(item, JSON_COMPACT | JSON_ENSURE_ASCII * 0);
                puts(out);
                free(out);
            } else {
                fprintf(stderr, "line %ld: %s\n", lineno, m.fail_text);
            }
            json_decref(item);
            count++;
            continue;
        }
        json_t *name = json_stringn(line, (size_t)len);
        json_t *item;
        if (!name || len == 0 || len > 1024) {
            const char *why = !name ? "invalid UTF-8" : len == 0 ? "empty line" : "line too long";
            fprintf(stderr, "line %ld: %s\n", lineno, why);
            item = json_pack("{s:I,s:s}", "line", (json_int_t)lineno, "error", why);
            json_decref(name);
        } else {
            item = json_pack("{s:I,s:o}", "line", (json_int_t)lineno, "name", name);
        }
        wp_mock_process(&m, item);
        json_decref(item);
        count++;
    }
    free(line);
    if (in != stdin)
        fclose(in);
    wp_mock_flush(&m);
    double t2 = now_s();
    size_t i;
    json_t *out;
    json_array_foreach(m.emitted, i, out)
    {
        if (json_object_get(out, "error")) {
            printf("\t\t\t\n");
            continue;
        }
        printf("%s\t%s\t%s\t%.3f\n", json_string_value(json_object_get(out, "input")),
               json_string_value(json_object_get(out, "canonical")),
               json_string_value(json_object_get(out, "cluster")),
               json_number_value(json_object_get(out, "score")));
    }
    fprintf(stderr, "names_driver: load %.3f s, %ld lines in %.3f s (%.0f/s)\n", t1 - t0, count,
            t2 - t1, t2 > t1 ? (double)count / (t2 - t1) : 0.0);
    if (state)
        m.state_dir[0] = '\0'; /* the caller's folder: keep it */
    wp_mock_release(&m);
    return 0;
}
