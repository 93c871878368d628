/*
 * torture_fetch_publish.c - one fetch -> publish run over local fixtures, for
 * torture_fetch_publish.sh, which reruns it with WP_FAIL_ALLOC_AT=1, 2, 3, ... in a
 * WP_FAULT_INJECTION build: every allocation through the host table fails once in turn,
 * and the run must still end cleanly (no crash, no leak under ASan), whatever it produced.
 *
 * Prints "emitted=N dead=M published=P" so the script can see when N is past the last
 * allocation (the output then equals the run without injected failures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "mock_host.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    /*
     * WP_TORTURE_JANSSON=1: jansson allocates through the host as in the wirepipe binary,
     * so its allocations fail too. Off by default: jansson 2.14 itself crashes in
     * json_loadb() when its allocator fails mid-parse (found by this program).
     */
    if (getenv("WP_TORTURE_JANSSON"))
        json_set_alloc_funcs(wp_malloc, wp_free);
    const char *fx = getenv("WP_TEST_FIXTURES");
    if (!fx)
        fx = "tests/fixtures";
    char p1[512], p2[512], p3[512], p4[512], p5[512], p6[512];
    snprintf(p1, sizeof(p1), "%s/fetch/feeds/*.xml", fx);
    snprintf(p2, sizeof(p2), "%s/fetch/charsets/*.html", fx);
    snprintf(p3, sizeof(p3), "%s/fetch/charsets/*.txt", fx);
    snprintf(p4, sizeof(p4), "%s/fetch/json", fx);
    snprintf(p5, sizeof(p5), "%s/fetch/ninjs/*.json", fx);
    snprintf(p6, sizeof(p6), "%s/fetch/misc", fx);
    json_t *config = json_pack("{s:[s,s,s,s,s,s]}", "paths", p1, p2, p3, p4, p5, p6);
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);

    struct wp_mock fetch;
    wp_mock_init(&fetch);
    size_t emitted = 0, dead = 0, published = 0, logs = 0;
    if (wp_mock_create(&fetch, "fetch", NULL, text) == WP_OK) {
        wp_mock_generate(&fetch);
        emitted = json_array_size(fetch.emitted);
        dead = json_array_size(fetch.dead_letters);
        json_t *pc = json_pack("{s:s,s:s,s:s}", "to", "dir", "path", argv[1], "format", "ninjs");
        char *pc_text = json_dumps(pc, JSON_COMPACT);
        json_decref(pc);
        struct wp_mock pub;
        wp_mock_init(&pub);
        if (wp_mock_create(&pub, "publish", NULL, pc_text) == WP_OK) {
            size_t i;
            json_t *item;
            json_array_foreach(fetch.emitted, i, item)
            {
                /* Give some items a translation so the ninjs linking runs too. */
                if (i % 2 == 0)
                    json_object_set_new(
                        item, "translations",
                        json_pack("{s:{s:s,s:s}}", "es", "headline", "Titular", "body", "Cuerpo."));
                if (wp_mock_process(&pub, item) == WP_OUTCOME_OK)
                    published++;
            }
            wp_mock_flush(&pub);
            logs += json_array_size(pub.logs);
        }
        wp_mock_release(&pub);
        free(pc_text);
    }
    logs += json_array_size(fetch.logs);
    wp_mock_release(&fetch);
    free(text);
    /* Log lines show failures that change nothing else (a state store write, say). */
    printf("emitted=%zu dead=%zu published=%zu logs=%zu\n", emitted, dead, published, logs);
    return 0;
}
