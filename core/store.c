/*
 * store.c - the state store: one SQLite table kv(ns, key, value, expires) in
 * <state_dir>/state.db.
 *
 * One connection shared by every thread behind a mutex. SQLite lets only one writer in at a
 * time anyway, and with one connection a writer never sleeps in the busy handler waiting for
 * another of our own threads; the measured figures are in the helper's report. WAL keeps a
 * second wirepipe process on the same folder from blocking readers; busy_timeout covers it
 * as a writer.
 */
#include "wp_internal.h"

#include "store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "fsutil.h"
#include "status.h"

/* Purge expired rows at most this often (seconds); reads already skip them. */
#define STORE_PURGE_INTERVAL_S 60

struct wp_store {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *get;
    sqlite3_stmt *put;
    sqlite3_stmt *del;
    sqlite3_stmt *del_expired_one;
    sqlite3_stmt *purge;
    long long last_purge;
    char *path;
};

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS kv ("
    " ns TEXT NOT NULL,"
    " key BLOB NOT NULL,"
    " value BLOB NOT NULL,"
    " expires INTEGER NOT NULL DEFAULT 0," /* unix seconds; 0 = never */
    " PRIMARY KEY (ns, key)"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS kv_expires ON kv(expires) WHERE expires > 0;";

static long long store_now(void)
{
    return (long long)time(NULL);
}

static int store_prepare(struct wp_store *s, const char *sql, sqlite3_stmt **stmt)
{
    return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
}

void wp__store_close(struct wp_store *store)
{
    if (!store)
        return;
    sqlite3_finalize(store->get);
    sqlite3_finalize(store->put);
    sqlite3_finalize(store->del);
    sqlite3_finalize(store->del_expired_one);
    sqlite3_finalize(store->purge);
    if (store->db)
        sqlite3_close_v2(store->db);
    pthread_mutex_destroy(&store->lock);
    wp_free(store->path);
    wp_free(store);
}

enum wp_status wp__store_open(const char *dir, struct wp_store **out, struct wp_error *err)
{
    *out = NULL;
    if (!dir || !*dir) {
        wp__error_set(err, WP_E_INVALID, "cannot open state store: no state folder given");
        return WP_E_INVALID;
    }
    struct wp_store *s = wp_calloc(1, sizeof(*s));
    if (!s) {
        wp__error_set(err, WP_E_NOMEM, "cannot open state store in '%s': out of memory", dir);
        return WP_E_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    s->path = wp_asprintf("%.*s/state.db", (int)dlen, dir);
    if (!s->path) {
        wp__error_set(err, WP_E_NOMEM, "cannot open state store in '%s': out of memory", dir);
        wp__store_close(s);
        return WP_E_NOMEM;
    }
    /* 0700: the store holds fetched pages' validators and paid-for translations. */
    if (wp__mkdir_p(dir, 0700) != 0) {
        wp__error_set(err, WP_E_IO, "cannot open state store '%s': cannot create folder: %s",
                      s->path, strerror(errno));
        wp__store_close(s);
        return WP_E_IO;
    }

    /* We serialise calls ourselves, so SQLite's own per-connection mutex is not needed. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int src = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (src == SQLITE_OK) {
        /* It caches fetched pages and translations: private to the user, before the WAL
         * and shared-memory files are made (SQLite gives them the database's mode). */
        chmod(s->path, 0600);
        sqlite3_busy_timeout(s->db, 5000);
        sqlite3_extended_result_codes(s->db, 1);
        /* journal_mode answers with a row; exec ignores it */
        src = sqlite3_exec(s->db,
                           "PRAGMA journal_mode=WAL;"
                           "PRAGMA synchronous=NORMAL;",
                           NULL, NULL, NULL);
    }
    if (src == SQLITE_OK)
        src = sqlite3_exec(s->db, store_schema, NULL, NULL, NULL);
    if (src == SQLITE_OK)
        src = store_prepare(s, "SELECT value, expires FROM kv WHERE ns = ?1 AND key = ?2", &s->get);
    if (src == SQLITE_OK)
        src = store_prepare(s,
                            "INSERT OR REPLACE INTO kv (ns, key, value, expires) "
                            "VALUES (?1, ?2, ?3, ?4)",
                            &s->put);
    if (src == SQLITE_OK)
        src = store_prepare(s, "DELETE FROM kv WHERE ns = ?1 AND key = ?2", &s->del);
    if (src == SQLITE_OK)
        src = store_prepare(s,
                            "DELETE FROM kv WHERE ns = ?1 AND key = ?2 "
                            "AND expires > 0 AND expires <= ?3",
                            &s->del_expired_one);
    if (src == SQLITE_OK)
        src = store_prepare(s, "DELETE FROM kv WHERE expires > 0 AND expires <= ?1", &s->purge);
    if (src != SQLITE_OK) {
        const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src);
        wp__error_set(err, WP_E_IO, "cannot open state store '%s': %s", s->path, msg);
        wp__store_close(s);
        return WP_E_IO;
    }
    *out = s;
    return WP_OK;
}

/* Bind a possibly empty byte string; SQLite binds NULL for a NULL pointer, which the
 * NOT NULL columns would refuse. */
static int bind_bytes(sqlite3_stmt *stmt, int index, const char *data, size_t len)
{
    if (len > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_blob(stmt, index, data ? data : "", (int)len, SQLITE_STATIC);
}

static int bind_ns_key(sqlite3_stmt *stmt, const char *ns, const char *key, size_t key_len)
{
    int rc = sqlite3_bind_text(stmt, 1, ns, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = bind_bytes(stmt, 2, key, key_len);
    return rc;
}

static void stmt_done(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static enum wp_status status_of(int rc)
{
    switch (rc & 0xff) {
        case SQLITE_NOMEM:
            return WP_E_NOMEM;
        case SQLITE_TOOBIG:
            return WP_E_LIMIT;
        default:
            return WP_E_IO;
    }
}

static bool args_ok(const struct wp_store *store, const char *ns, const char *key, size_t key_len)
{
    return store && ns && (key || key_len == 0);
}

enum wp_status wp__store_get(struct wp_store *store, const char *ns, const char *key,
                             size_t key_len, char **value, size_t *value_len)
{
    if (value)
        *value = NULL;
    if (value_len)
        *value_len = 0;
    if (!args_ok(store, ns, key, key_len) || !value)
        return WP_E_INVALID;

    enum wp_status st = WP_E_NOTFOUND;
    long long now = store_now();
    bool expired = false;
    pthread_mutex_lock(&store->lock);
    int rc = bind_ns_key(store->get, ns, key, key_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(store->get);
    if (rc == SQLITE_ROW) {
        long long expires = sqlite3_column_int64(store->get, 1);
        if (expires > 0 && expires <= now) {
            expired = true;
        } else {
            const void *blob = sqlite3_column_blob(store->get, 0);
            size_t len = (size_t)sqlite3_column_bytes(store->get, 0);
            char *copy = wp_malloc(len + 1);
            if (!copy) {
                st = WP_E_NOMEM;
            } else {
                if (len)
                    memcpy(copy, blob, len);
                copy[len] = '\0';
                *value = copy;
                if (value_len)
                    *value_len = len;
                st = WP_OK;
            }
        }
    } else if (rc != SQLITE_DONE) {
        st = status_of(rc);
    }
    stmt_done(store->get);
    if (expired) {
        /* lazily drop what a reader found stale; a failure here only delays the purge */
        if (bind_ns_key(store->del_expired_one, ns, key, key_len) == SQLITE_OK &&
            sqlite3_bind_int64(store->del_expired_one, 3, now) == SQLITE_OK)
            sqlite3_step(store->del_expired_one);
        stmt_done(store->del_expired_one);
    }
    pthread_mutex_unlock(&store->lock);
    return st;
}

enum wp_status wp__store_put(struct wp_store *store, const char *ns, const char *key,
                             size_t key_len, const char *value, size_t value_len, long long ttl_s)
{
    if (!args_ok(store, ns, key, key_len) || (!value && value_len))
        return WP_E_INVALID;
    long long now = store_now();
    long long expires = 0;
    if (ttl_s > 0)
        expires = ttl_s > LLONG_MAX - now ? LLONG_MAX : now + ttl_s;

    pthread_mutex_lock(&store->lock);
    int rc = bind_ns_key(store->put, ns, key, key_len);
    if (rc == SQLITE_OK)
        rc = bind_bytes(store->put, 3, value, value_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(store->put, 4, expires);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(store->put);
    stmt_done(store->put);
    if (rc == SQLITE_DONE && now - store->last_purge >= STORE_PURGE_INTERVAL_S) {
        store->last_purge = now;
        if (sqlite3_bind_int64(store->purge, 1, now) == SQLITE_OK)
            sqlite3_step(store->purge);
        stmt_done(store->purge);
    }
    pthread_mutex_unlock(&store->lock);
    return rc == SQLITE_DONE ? WP_OK : status_of(rc);
}

enum wp_status wp__store_delete(struct wp_store *store, const char *ns, const char *key,
                                size_t key_len)
{
    if (!args_ok(store, ns, key, key_len))
        return WP_E_INVALID;
    pthread_mutex_lock(&store->lock);
    int rc = bind_ns_key(store->del, ns, key, key_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(store->del);
    stmt_done(store->del);
    pthread_mutex_unlock(&store->lock);
    /* deleting a key that is not there is not an error: the caller's wish holds */
    return rc == SQLITE_DONE ? WP_OK : status_of(rc);
}
