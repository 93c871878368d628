/*
 * test_store.c - the SQLite state store: round trips, namespaces, binary keys and values,
 * expiry, persistence across reopen, concurrent writers, and error messages.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wirepipe/status.h>

#include <sqlite3.h>

#include "alloc.h"
#include "store.h"
#include "wp_cmocka.h"

struct fixture {
    char root[256];
    char dir[300];
    struct wp_store *store;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/wp-store-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    /* a folder that does not exist yet: open must create it */
    snprintf(f->dir, sizeof(f->dir), "%s/a/b/state", f->root);
    struct wp_error err = {0};
    if (wp__store_open(f->dir, &f->store, &err) != WP_OK) {
        fprintf(stderr, "open: %s\n", err.text);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wp__store_close(f->store);
    nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void check_value(struct wp_store *s, const char *ns, const char *key, size_t key_len,
                        const char *want, size_t want_len)
{
    char *value = NULL;
    size_t len = 0;
    assert_int_equal(wp__store_get(s, ns, key, key_len, &value, &len), WP_OK);
    assert_non_null(value);
    assert_int_equal(len, want_len);
    assert_memory_equal(value, want, want_len);
    assert_int_equal(value[len], '\0');
    wp_free(value);
}

static void check_missing(struct wp_store *s, const char *ns, const char *key, size_t key_len)
{
    char *value = (char *)1;
    size_t len = 99;
    assert_int_equal(wp__store_get(s, ns, key, key_len, &value, &len), WP_E_NOTFOUND);
    assert_null(value);
    assert_int_equal(len, 0);
}

static void test_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct wp_store *s = f->store;
    check_missing(s, "fetch.etag", "k", 1);
    assert_int_equal(wp__store_put(s, "fetch.etag", "k", 1, "\"v1\"", 4, 0), WP_OK);
    check_value(s, "fetch.etag", "k", 1, "\"v1\"", 4);
    /* replace */
    assert_int_equal(wp__store_put(s, "fetch.etag", "k", 1, "second", 6, 0), WP_OK);
    check_value(s, "fetch.etag", "k", 1, "second", 6);
    assert_int_equal(wp__store_delete(s, "fetch.etag", "k", 1), WP_OK);
    check_missing(s, "fetch.etag", "k", 1);
    /* deleting what is not there is fine */
    assert_int_equal(wp__store_delete(s, "fetch.etag", "k", 1), WP_OK);

    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_namespaces(void **state)
{
    struct wp_store *s = ((struct fixture *)*state)->store;
    assert_int_equal(wp__store_put(s, "a", "key", 3, "in a", 4, 0), WP_OK);
    assert_int_equal(wp__store_put(s, "b", "key", 3, "in b", 4, 0), WP_OK);
    check_value(s, "a", "key", 3, "in a", 4);
    check_value(s, "b", "key", 3, "in b", 4);
    check_missing(s, "c", "key", 3);
    assert_int_equal(wp__store_delete(s, "a", "key", 3), WP_OK);
    check_missing(s, "a", "key", 3);
    check_value(s, "b", "key", 3, "in b", 4);
}

static void test_binary(void **state)
{
    struct wp_store *s = ((struct fixture *)*state)->store;
    const char key[] = {'k', '\0', 'x', (char)0xff};
    const char key2[] = {'k', '\0', 'y', (char)0xff};
    const char value[] = {'\0', '\1', (char)0xfe, '\0', 'z'};
    assert_int_equal(wp__store_put(s, "bin", key, sizeof(key), value, sizeof(value), 0), WP_OK);
    check_value(s, "bin", key, sizeof(key), value, sizeof(value));
    /* keys differing only after a NUL are different keys */
    check_missing(s, "bin", key2, sizeof(key2));
    check_missing(s, "bin", "k", 1);
    /* empty key and empty value */
    assert_int_equal(wp__store_put(s, "bin", NULL, 0, NULL, 0, 0), WP_OK);
    check_value(s, "bin", "", 0, "", 0);
    /* a large value */
    size_t big_len = 3u << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 31u);
    assert_int_equal(wp__store_put(s, "bin", "big", 3, big, big_len, 0), WP_OK);
    check_value(s, "bin", "big", 3, big, big_len);
    free(big);
}

static void test_invalid(void **state)
{
    struct wp_store *s = ((struct fixture *)*state)->store;
    char *value = NULL;
    size_t len = 0;
    assert_int_equal(wp__store_put(s, NULL, "k", 1, "v", 1, 0), WP_E_INVALID);
    assert_int_equal(wp__store_put(s, "ns", NULL, 3, "v", 1, 0), WP_E_INVALID);
    assert_int_equal(wp__store_put(s, "ns", "k", 1, NULL, 4, 0), WP_E_INVALID);
    assert_int_equal(wp__store_get(s, NULL, "k", 1, &value, &len), WP_E_INVALID);
    assert_int_equal(wp__store_get(NULL, "ns", "k", 1, &value, &len), WP_E_INVALID);
    assert_int_equal(wp__store_get(s, "ns", "k", 1, NULL, &len), WP_E_INVALID);
    assert_int_equal(wp__store_delete(s, NULL, "k", 1), WP_E_INVALID);
}

/* Plant a row that expired an hour ago, the way an old run would have left it. */
static void plant_expired(const char *dir, const char *ns, const char *key)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/state.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO kv VALUES (%Q, CAST(%Q AS BLOB), "
                                "CAST('old' AS BLOB), %lld)",
                                ns, key, (long long)time(NULL) - 3600);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_free(sql);
    sqlite3_close(db);
}

static long long count_rows(const char *dir, const char *ns)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/state.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM kv WHERE ns = ?1", -1, &stmt, NULL),
        SQLITE_OK);
    sqlite3_bind_text(stmt, 1, ns, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
}

static void test_ttl(void **state)
{
    struct fixture *f = *state;
    struct wp_store *s = f->store;
    /* an expired row is not returned, and the read removes it */
    plant_expired(f->dir, "ttl", "old");
    assert_int_equal(count_rows(f->dir, "ttl"), 1);
    check_missing(s, "ttl", "old", 3);
    assert_int_equal(count_rows(f->dir, "ttl"), 0);

    /* a live TTL entry is returned until it expires (expiry has 1 s resolution) */
    assert_int_equal(wp__store_put(s, "ttl", "short", 5, "v", 1, 1), WP_OK);
    assert_int_equal(wp__store_put(s, "ttl", "long", 4, "v", 1, 3600), WP_OK);
    assert_int_equal(wp__store_put(s, "ttl", "huge", 4, "v", 1, 9223372036854775807LL), WP_OK);
    assert_int_equal(wp__store_put(s, "ttl", "never", 5, "v", 1, -5), WP_OK);
    check_value(s, "ttl", "long", 4, "v", 1);
    time_t start = time(NULL);
    while (time(NULL) < start + 2) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    check_missing(s, "ttl", "short", 5);
    check_value(s, "ttl", "long", 4, "v", 1);
    check_value(s, "ttl", "huge", 4, "v", 1);
    check_value(s, "ttl", "never", 5, "v", 1);
}

static void test_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(wp__store_put(f->store, "keep", "k", 1, "persisted", 9, 0), WP_OK);
    wp__store_close(f->store);
    f->store = NULL;
    struct wp_error err = {0};
    /* a trailing slash names the same folder */
    char dir[320];
    snprintf(dir, sizeof(dir), "%s/", f->dir);
    assert_int_equal(wp__store_open(dir, &f->store, &err), WP_OK);
    check_value(f->store, "keep", "k", 1, "persisted", 9);
}

struct worker {
    struct wp_store *store;
    int id;
    int failures;
};

static void *put_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 300; i++) {
        char key[32], value[64];
        int klen = snprintf(key, sizeof(key), "t%d-%d", w->id, i);
        int vlen = snprintf(value, sizeof(value), "value of %d from thread %d", i, w->id);
        if (wp__store_put(w->store, "conc", key, (size_t)klen, value, (size_t)vlen, 0) != WP_OK)
            w->failures++;
        char *got = NULL;
        size_t len = 0;
        if (wp__store_get(w->store, "conc", key, (size_t)klen, &got, &len) != WP_OK ||
            len != (size_t)vlen || memcmp(got, value, len) != 0)
            w->failures++;
        wp_free(got);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fixture *f = *state;
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.store = f->store, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, put_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(count_rows(f->dir, "conc"), 1200);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    char file[300], below[400];
    snprintf(file, sizeof(file), "%s/plain-file", f->root);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(below, sizeof(below), "%s/sub", file);
    struct wp_store *s = NULL;
    struct wp_error err = {0};
    assert_int_equal(wp__store_open(below, &s, &err), WP_E_IO);
    assert_null(s);
    assert_non_null(strstr(err.text, "cannot open state store '"));
    assert_non_null(strstr(err.text, "/plain-file/sub/state.db'"));

    /* a state.db that is not a database */
    char bad_dir[300], bad_db[320];
    snprintf(bad_dir, sizeof(bad_dir), "%s/bad", f->root);
    mkdir(bad_dir, 0700);
    snprintf(bad_db, sizeof(bad_db), "%s/state.db", bad_dir);
    fp = fopen(bad_db, "w");
    assert_non_null(fp);
    fputs("this is not an SQLite database, just some text that is long enough to be a header\n",
          fp);
    fclose(fp);
    memset(&err, 0, sizeof(err));
    assert_int_equal(wp__store_open(bad_dir, &s, &err), WP_E_IO);
    assert_null(s);
    assert_non_null(strstr(err.text, "cannot open state store '"));
    assert_non_null(strstr(err.text, "/bad/state.db': "));

    assert_int_equal(wp__store_open("", &s, &err), WP_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
