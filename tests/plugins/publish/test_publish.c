/*
 * test_publish.c - the publish stage: stdout, file, dir (atomic, never outside its
 * folder), webhooks (retries, idempotency keys, batches, a webhook that never answers),
 * and ninjs 2.1 output validated against the official schema.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>

#include "mock_host.h"
#include "test_server.h"

#ifndef PUBLISH_TEST_DIR
#define PUBLISH_TEST_DIR "tests/plugins/publish"
#endif

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle)) {
        fprintf(stderr, "expected to find '%s' in '%s'\n", needle, hay ? hay : "(null)");
        fail();
    }
}

static const char *fixtures(void)
{
    const char *dir = getenv("WP_TEST_FIXTURES");
    return dir ? dir : "tests/fixtures";
}

static void make_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/wp-publish-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Names in @dir, sorted, joined by '|' into @out. */
static void list_dir(const char *dir, char *out, size_t size)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            size_t len = strlen(out);
            snprintf(out + len, size - len, "%s%s", len ? "|" : "", names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
}

static void create_publish(struct wp_mock *m, json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    wp_mock_init(m);
    enum wp_status st = wp_mock_create(m, "publish", NULL, text);
    if (st != WP_OK)
        fprintf(stderr, "create failed: %s\n", m->fail_text);
    assert_int_equal(st, WP_OK);
    free(text);
}

static json_t *story(const char *id)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "uri", "http://wire.example/story/1",
                     "headline", "Türkiye ve İran askeri işbirliğini genişletiyor", "body",
                     "Paragraf bir.\n\nParagraf iki.", "language", "tr");
}

static void test_stdout_json_lines(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/stdout.jsonl", dir);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s}", "to", "stdout"));
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    json_t *a = story("a"), *b = story("b");
    enum wp_outcome oa = wp_mock_process(&m, a);
    enum wp_outcome ob = wp_mock_process(&m, b);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(oa, WP_OUTCOME_OK);
    assert_int_equal(ob, WP_OUTCOME_OK);
    /* A sink emits nothing: what it writes is the output. */
    assert_int_equal(json_array_size(m.emitted), 0);
    FILE *f = fopen(path, "r");
    char line[4096];
    assert_non_null(fgets(line, sizeof(line), f));
    json_t *got = json_loads(line, 0, NULL);
    assert_true(json_equal(got, a));
    json_decref(got);
    assert_non_null(fgets(line, sizeof(line), f));
    got = json_loads(line, 0, NULL);
    assert_true(json_equal(got, b));
    json_decref(got);
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    json_decref(a);
    json_decref(b);
    wp_mock_release(&m);
    rm_rf(dir);
}

static void test_file_appends(void **state)
{
    (void)state;
    char dir[64], path[160];
    make_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/nested/out/items.jsonl", dir);
    for (int run = 0; run < 2; run++) {
        struct wp_mock m;
        create_publish(&m, json_pack("{s:s,s:s,s:s}", "to", "file", "path", path, "fsync",
                                     run ? "always" : "batch"));
        json_t *item = story(run ? "second" : "first");
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
        json_decref(item);
        wp_mock_release(&m);
    }
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *got = json_loads(line, 0, NULL);
        assert_non_null(got);
        assert_string_equal(json_string_value(json_object_get(got, "id")),
                            n == 0 ? "first" : "second");
        json_decref(got);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 2);
    rm_rf(dir);
}

static void test_dir_atomic_writes(void **state)
{
    (void)state;
    char dir[64], out[128], names[1024];
    make_tmpdir(dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/out", dir);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s}", "to", "dir", "path", out));
    json_t *item = story("sha256:0123abcd");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    /* Written again: replaced in one rename, no temporary file left behind. */
    json_object_set_new(item, "headline", json_string("updated"));
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    list_dir(out, names, sizeof(names));
    assert_string_equal(names, "sha256_0123abcd.json");
    char path[256];
    snprintf(path, sizeof(path), "%s/sha256_0123abcd.json", out);
    json_t *got = json_load_file(path, 0, NULL);
    assert_true(json_equal(got, item));
    json_decref(got);
    json_decref(item);
    wp_mock_release(&m);
    rm_rf(dir);
}

/* Ids that differ only in bytes a file name cannot hold still get files of their own. */
static void test_dir_ids_never_share_a_file(void **state)
{
    (void)state;
    char dir[64], out[128], names[2048];
    make_tmpdir(dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/out", dir);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s}", "to", "dir", "path", out));
    const char *ids[] = {"sha256:ab", "sha256_ab", "sha256/ab", "sha256 ab", "plain-id"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        json_t *item = story(ids[i]);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    list_dir(out, names, sizeof(names));
    size_t files = 1;
    for (const char *c = names; *c; c++)
        files += *c == '|';
    assert_int_equal(files, 5);
    assert_non_null(strstr(names, "sha256_ab.json")); /* the canonical form keeps its name */
    assert_non_null(strstr(names, "plain-id.json"));
    wp_mock_release(&m);
    rm_rf(dir);
}

static void test_dir_never_writes_outside(void **state)
{
    (void)state;
    char dir[64], out[128], names[4096], outside[160];
    make_tmpdir(dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(outside, sizeof(outside), "%s/outside.json", dir);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s}", "to", "dir", "path", out));
    /* A symlink planted under a final name, pointing outside the folder. */
    FILE *f = fopen(outside, "w");
    fputs("untouched\n", f);
    fclose(f);
    char link[200];
    snprintf(link, sizeof(link), "%s/victim.json", out);
    assert_int_equal(symlink(outside, link), 0);

    char long_id[301];
    memset(long_id, 'a', 300);
    long_id[300] = '\0';
    const char *ids[] = {"../x", "/etc/wirepipe-escape", "a/../../x", ".hidden", long_id};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        json_t *item = story(ids[i]);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    json_t *victim = story("victim");
    assert_int_equal(wp_mock_process(&m, victim), WP_OUTCOME_REJECT);
    assert_contains(m.fail_text, "symlink");
    json_decref(victim);

    /* The parent holds only what the test made; the symlink's target is unchanged. */
    list_dir(dir, names, sizeof(names));
    assert_string_equal(names, "out|outside.json");
    f = fopen(outside, "r");
    char text[64] = "";
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_string_equal(text, "untouched\n");
    assert_int_equal(access("/etc/wirepipe-escape.json", F_OK), -1);
    assert_int_equal(access("/etc/wirepipe-escape", F_OK), -1);
    list_dir(out, names, sizeof(names));
    /* Unsafe ids get their unsafe bytes as '_' and a '~' + 16-hex hash: never a clash. */
    const char *stems[] = {"_._x~", "_etc_wirepipe-escape~", "_hidden~", "a_.._.._x~"};
    for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) {
        const char *at = strstr(names, stems[i]);
        assert_non_null(at);
        assert_int_equal(strspn(at + strlen(stems[i]), "0123456789abcdef"), 16);
        assert_memory_equal(at + strlen(stems[i]) + 16, ".json", 5);
    }
    /* The long name: 183 bytes of the id, '~', 16 hex digits of its hash, ".json". */
    const char *longname = strstr(names, "aaaa");
    assert_non_null(longname);
    assert_int_equal(strcspn(longname, "|"), 200 + 5);
    assert_int_equal(longname[183], '~');
    assert_contains(names, "|victim.json");
    /* A warning names each suspicious id. */
    char *logs = json_dumps(m.logs, 0);
    assert_contains(logs, "id '../x' is not a safe file name");
    free(logs);
    wp_mock_release(&m);
    rm_rf(dir);
}

static json_t *translated_story(void)
{
    json_error_t err;
    json_t *item = json_loads(
        "{\"id\": \"sha256:5f0c\", \"uri\": \"http://wire.example/story/1\","
        " \"language\": \"tr\", \"headline\": \"Türkiye ve İran anlaştı\","
        " \"body\": \"Birinci paragraf.\\n\\nİkinci paragraf.\","
        " \"published\": \"2021-06-22T20:35:00Z\","
        " \"authors\": [\"Ayşe Yılmaz\", \"Sputnik\"], \"keywords\": [\"savunma\", \"İran\"],"
        " \"source\": {\"name\": \"sputnik\", \"url\": \"http://wire.example/story/1\","
        "   \"fetched_at\": \"2021-06-22T21:00:00Z\"},"
        " \"entities\": ["
        "   {\"type\": \"person\", \"mention\": \"Erdoğan\", \"canonical\": \"Recep Tayyip "
        "Erdoğan\", \"id\": \"Q39723\"},"
        "   {\"type\": \"person\", \"mention\": \"Erdogan\", \"canonical\": \"Recep Tayyip "
        "Erdoğan\", \"id\": \"Q39723\"},"
        "   {\"type\": \"place\", \"mention\": \"Tahran\", \"canonical\": \"Tehran\"},"
        "   {\"type\": \"organization\", \"mention\": \"NATO\", \"canonical\": \"NATO\","
        "    \"id\": \"not-a-qid\"}],"
        " \"translations\": {"
        "   \"es\": {\"headline\": \"Turquía e Irán acuerdan\", \"body\": \"Primer párrafo.\","
        "     \"provider\": \"apertium\"},"
        "   \"en\": {\"headline\": \"Turkey and Iran agree\", \"body\": \"First paragraph.\"}},"
        " \"ninjs\": {\"uri\": \"x\", \"urgency\": 3, \"pubstatus\": \"usable\","
        "   \"copyrightholder\": \"Sputnik\", \"headline\": \"ninjs 1.x field not copied\"}}",
        0, &err);
    if (!item)
        fprintf(stderr, "bad test json: %s\n", err.text);
    assert_non_null(item);
    return item;
}

static int validate(const char *files)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "python3 '%s/validate_ninjs.py' '%s/publish/ninjs-schema_2.1.json' %s",
             PUBLISH_TEST_DIR, fixtures(), files);
    return system(cmd);
}

static void test_ninjs_translations_validate(void **state)
{
    (void)state;
    char dir[64], names[1024], files[2048];
    make_tmpdir(dir, sizeof(dir));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:s}", "to", "dir", "path", dir, "format", "ninjs"));
    json_t *item = translated_story();
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    json_decref(item);
    wp_mock_release(&m);
    list_dir(dir, names, sizeof(names));
    assert_string_equal(names, "sha256_5f0c.en.json|sha256_5f0c.es.json|sha256_5f0c.json");
    snprintf(files, sizeof(files),
             "%s/sha256_5f0c.json %s/sha256_5f0c.es.json %s/sha256_5f0c.en.json", dir, dir, dir);
    assert_int_equal(validate(files), 0);

    char path[256];
    snprintf(path, sizeof(path), "%s/sha256_5f0c.json", dir);
    json_t *orig = json_load_file(path, 0, NULL);
    snprintf(path, sizeof(path), "%s/sha256_5f0c.es.json", dir);
    json_t *es = json_load_file(path, 0, NULL);
    assert_non_null(orig);
    assert_non_null(es);
    assert_string_equal(json_string_value(json_object_get(orig, "uri")),
                        "http://wire.example/story/1");
    assert_string_equal(json_string_value(json_object_get(orig, "language")), "tr");
    assert_string_equal(json_string_value(json_object_get(orig, "by")), "Ayşe Yılmaz, Sputnik");
    assert_int_equal(json_integer_value(json_object_get(orig, "urgency")), 3);
    json_t *people = json_object_get(orig, "people");
    assert_int_equal(json_array_size(people), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(people, 0), "uri")),
                        "http://www.wikidata.org/entity/Q39723");
    assert_null(json_object_get(json_array_get(json_object_get(orig, "organisations"), 0), "uri"));
    /* Linked both ways. */
    json_t *assoc = json_object_get(orig, "associations");
    assert_int_equal(json_array_size(assoc), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(assoc, 0), "name")),
                        "translation-es");
    assert_string_equal(json_string_value(json_object_get(json_array_get(assoc, 0), "uri")),
                        "http://wire.example/story/1#translation-es");
    assert_string_equal(json_string_value(json_object_get(es, "uri")),
                        "http://wire.example/story/1#translation-es");
    assert_string_equal(json_string_value(json_object_get(es, "language")), "es");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(es, "headlines"), 0), "value")),
                        "Turquía e Irán acuerdan");
    json_t *back = json_array_get(json_object_get(es, "associations"), 0);
    assert_string_equal(json_string_value(json_object_get(back, "name")), "original");
    assert_string_equal(json_string_value(json_object_get(back, "uri")),
                        "http://wire.example/story/1");
    assert_string_equal(json_string_value(json_object_get(back, "language")), "tr");
    json_t *altid = json_array_get(json_object_get(es, "altids"), 1);
    assert_string_equal(json_string_value(json_object_get(altid, "role")), "translation-of");
    assert_contains(json_string_value(json_object_get(es, "ednote")), "apertium");
    json_decref(orig);
    json_decref(es);
    rm_rf(dir);
}

/* fetch reads the four agency examples; publish writes them back as ninjs that validates. */
static void test_ninjs_round_trip_of_agency_examples(void **state)
{
    (void)state;
    char dir[64], pattern[512], files[4096], names[2048];
    make_tmpdir(dir, sizeof(dir));
    snprintf(pattern, sizeof(pattern), "%s/fetch/ninjs/*.json", fixtures());
    struct wp_mock fetch;
    wp_mock_init(&fetch);
    json_t *fc = json_pack("{s:[s]}", "paths", pattern);
    char *fc_text = json_dumps(fc, 0);
    json_decref(fc);
    assert_int_equal(wp_mock_create(&fetch, "fetch", NULL, fc_text), WP_OK);
    free(fc_text);
    assert_int_equal(wp_mock_generate(&fetch), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(fetch.emitted), 4);
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:s}", "to", "dir", "path", dir, "format", "ninjs"));
    size_t i;
    json_t *item;
    json_array_foreach(fetch.emitted, i, item)
    {
        /* An HTML body (dpa) that no extract stage turned into text still goes out. */
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    }
    wp_mock_release(&m);
    wp_mock_release(&fetch);
    list_dir(dir, names, sizeof(names));
    files[0] = '\0';
    for (char *name = strtok(names, "|"); name; name = strtok(NULL, "|")) {
        size_t len = strlen(files);
        snprintf(files + len, sizeof(files) - len, " '%s/%s'", dir, name);
    }
    assert_int_equal(validate(files), 0);
    rm_rf(dir);
}

static const char *header(const json_t *request, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(request, "headers"), key, v)
    {
        if (strcasecmp(key, name) == 0)
            return json_string_value(v);
    }
    return NULL;
}

static void test_webhook_retries_with_idempotency_key(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(
        wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 503, \"headers\": {\"Retry-After\":"
                                   " \"0\"}}, {\"status\": 202}]}"),
        0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:s}", "to", "http", "url", url, "format", "ninjs"));
    json_t *item = translated_story();
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    json_decref(item);
    wp_mock_release(&m);
    json_t *reqs = wp_test_server_requests(&srv);
    /* 503 then 202 for the original; then es and en. */
    assert_int_equal(json_array_size(reqs), 4);
    assert_string_equal(header(json_array_get(reqs, 0), "Idempotency-Key"), "sha256:5f0c");
    assert_string_equal(header(json_array_get(reqs, 1), "Idempotency-Key"), "sha256:5f0c");
    assert_string_equal(header(json_array_get(reqs, 2), "Idempotency-Key"), "sha256:5f0c/es");
    assert_string_equal(header(json_array_get(reqs, 3), "Idempotency-Key"), "sha256:5f0c/en");
    assert_contains(header(json_array_get(reqs, 0), "Content-Type"), "application/json");
    json_t *body =
        json_loads(json_string_value(json_object_get(json_array_get(reqs, 2), "body")), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "language")), "es");
    json_decref(body);
    json_decref(reqs);
    wp_test_server_stop(&srv);
}

/*
 * A webhook that never answers in time: the document stays in the outbox for the next
 * run instead of failing its item (test_outbox.c has the rest of the outbox).
 */
static void test_webhook_never_answers(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/hook\": [{\"status\": 200, \"delay_ms\":"
                                                " 20000}]}"),
                     0);
    char url[256];
    wp_test_server_url(&srv, "/hook", url, sizeof(url));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:i,s:i}", "to", "http", "url", url, "timeout_ms",
                                 300, "max_attempts", 2, "drain_timeout_s", 0));
    json_t *item = story("slow-1");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
    /* The client tried twice within the round, then the outbox kept the document. */
    assert_int_equal(wp_test_server_count(&srv, "/hook"), 2);
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 0);
    char *logs = json_dumps(m.logs, 0);
    assert_non_null(strstr(logs, "timed out"));
    assert_non_null(strstr(logs, "1 document(s) wait in the outbox"));
    free(logs);
    json_decref(item);
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_webhook_batches(void **state)
{
    (void)state;
    struct wp_test_server srv;
    assert_int_equal(wp_test_server_start(&srv, "{\"/ok\": [{\"status\": 200}],"
                                                " \"/bad\": [{\"status\": 400}]}"),
                     0);
    char ok[256], bad[256];
    wp_test_server_url(&srv, "/ok", ok, sizeof(ok));
    wp_test_server_url(&srv, "/bad", bad, sizeof(bad));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s,s:i}", "to", "http", "url", ok, "batch_size", 2));
    const char *ids[] = {"b1", "b2", "b3"};
    for (int i = 0; i < 3; i++) {
        json_t *item = story(ids[i]);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
        assert_int_equal(wp_test_server_count(&srv, "/ok"), i >= 1 ? 1 : 0);
    }
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    wp_mock_release(&m);
    json_t *reqs = wp_test_server_requests(&srv);
    assert_int_equal(json_array_size(reqs), 2);
    json_t *first =
        json_loads(json_string_value(json_object_get(json_array_get(reqs, 0), "body")), 0, NULL);
    assert_true(json_is_array(first));
    assert_int_equal(json_array_size(first), 2);
    json_decref(first);
    assert_memory_equal(header(json_array_get(reqs, 0), "Idempotency-Key"), "batch-", 6);
    assert_string_not_equal(header(json_array_get(reqs, 0), "Idempotency-Key"),
                            header(json_array_get(reqs, 1), "Idempotency-Key"));
    json_decref(reqs);

    /* A batch the webhook refuses: every item in it is dead-lettered, the run goes on. */
    create_publish(&m, json_pack("{s:s,s:s,s:i,s:i}", "to", "http", "url", bad, "batch_size", 5,
                                 "max_attempts", 1));
    for (int i = 0; i < 3; i++) {
        json_t *item = story(ids[i]);
        assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_OK);
        json_decref(item);
    }
    assert_int_equal(wp_mock_flush(&m), WP_OUTCOME_OK);
    assert_int_equal(json_array_size(m.dead_letters), 3);
    assert_contains(
        json_string_value(json_object_get(json_array_get(m.dead_letters, 0), "message")),
        "http 400");
    wp_mock_release(&m);
    wp_test_server_stop(&srv);
}

static void test_config_errors(void **state)
{
    (void)state;
    struct wp_mock m;
    wp_mock_init(&m);
    assert_int_equal(wp_mock_create(&m, "publish", NULL, "{\"to\": \"file\"}"), WP_E_CONFIG);
    assert_contains(m.fail_text, "path: required when to is 'file'");
    wp_mock_release(&m);
    wp_mock_init(&m);
    assert_int_equal(
        wp_mock_create(&m, "publish", NULL, "{\"to\": \"http\", \"url\": \"ftp://x\"}"),
        WP_E_CONFIG);
    assert_contains(m.fail_text, "url: an http or https URL is required");
    wp_mock_release(&m);
    wp_mock_init(&m);
    assert_int_equal(
        wp_mock_create(&m, "publish", NULL, "{\"to\": \"dir\", \"path\": \"/proc/self/nope/out\"}"),
        WP_E_IO);
    assert_contains(m.fail_text, "cannot open folder");
    wp_mock_release(&m);
}

static void test_item_without_id(void **state)
{
    (void)state;
    char dir[64];
    make_tmpdir(dir, sizeof(dir));
    struct wp_mock m;
    create_publish(&m, json_pack("{s:s,s:s}", "to", "dir", "path", dir));
    json_t *item = json_pack("{s:s}", "headline", "no id");
    assert_int_equal(wp_mock_process(&m, item), WP_OUTCOME_REJECT);
    assert_contains(m.fail_text, "no usable 'id'");
    json_decref(item);
    wp_mock_release(&m);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_json_lines),
        cmocka_unit_test(test_file_appends),
        cmocka_unit_test(test_dir_atomic_writes),
        cmocka_unit_test(test_dir_ids_never_share_a_file),
        cmocka_unit_test(test_dir_never_writes_outside),
        cmocka_unit_test(test_ninjs_translations_validate),
        cmocka_unit_test(test_ninjs_round_trip_of_agency_examples),
        cmocka_unit_test(test_webhook_retries_with_idempotency_key),
        cmocka_unit_test(test_webhook_never_answers),
        cmocka_unit_test(test_webhook_batches),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_item_without_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
