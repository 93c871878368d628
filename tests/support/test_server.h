/*
 * test_server.h - run tests/servers/scripted_http.py from a C test: start it with a routes
 * script, read the port it chose on 127.0.0.1, read its request log, stop it.
 *
 * Header-only (static inline), so a test needs no extra source file: just include it
 * (tests/support is on the include path of every wp_add_cmocka_test target).
 *
 *     struct wp_test_server srv;
 *     assert_int_equal(wp_test_server_start(&srv,
 *         "{\"/x\": [{\"status\": 503}, {\"status\": 200, \"body\": \"ok\"}]}"), 0);
 *     char url[256];
 *     wp_test_server_url(&srv, "/x", url, sizeof(url));   // http://127.0.0.1:PORT/x
 *     ... run the plugin or wp__http_perform() against url ...
 *     assert_int_equal(wp_test_server_count(&srv, "/x"), 2);
 *     wp_test_server_stop(&srv);
 *
 * The routes format is documented at the top of tests/servers/scripted_http.py. The script
 * is found through $WP_TEST_SERVERS (set by ctest), else "tests/servers". The server dies
 * with the test process (PR_SET_PDEATHSIG) even when the test crashes before stopping it.
 * Starting a server also sets no_proxy=127.0.0.1,localhost unless already set, so a proxy
 * in the environment cannot intercept loopback requests.
 */
#ifndef WP_TEST_SERVER_H
#define WP_TEST_SERVER_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

struct wp_test_server {
    pid_t pid;             /* the python process, 0 when stopped */
    int port;              /* on 127.0.0.1 */
    char base_url[64];     /* "http://127.0.0.1:PORT" (https with TLS), no trailing slash */
    char dir[256];         /* temporary folder, removed by wp_test_server_stop() */
    char routes_path[512]; /* the routes file in use */
    char log_path[512];    /* JSON Lines request log, in @dir */
    int own_routes;        /* routes_path was written into @dir */
};

/*
 * wp_test_server_start_file_args() - start the server with the routes file @routes_path
 * (body_file entries resolve against its folder) and up to 16 @extra_args for the script
 * (NULL-terminated, or NULL), e.g. {"--tls-cert", cert, "--tls-key", key, NULL}; with
 * --tls-cert, @base_url starts with "https://". Returns 0, or -1 with a message on stderr.
 */
static inline int wp_test_server_start_file_args(struct wp_test_server *s, const char *routes_path,
                                                 const char *const *extra_args)
{
    memset(s, 0, sizeof(*s));
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/wp-srv-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "test_server: mkdtemp '%s': %s\n", s->dir, strerror(errno));
        return -1;
    }
    snprintf(s->routes_path, sizeof(s->routes_path), "%s", routes_path);
    snprintf(s->log_path, sizeof(s->log_path), "%s/requests.jsonl", s->dir);

    /* a proxy from the environment must not capture requests meant for loopback */
    setenv("no_proxy", "127.0.0.1,localhost", 0);
    setenv("NO_PROXY", "127.0.0.1,localhost", 0);

    const char *servers = getenv("WP_TEST_SERVERS");
    char script[512];
    snprintf(script, sizeof(script), "%s/scripted_http.py",
             servers && *servers ? servers : "tests/servers");

    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "test_server: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "test_server: fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        const char *argv[24] = {"python3",      script,  "--routes",
                                s->routes_path, "--log", s->log_path};
        size_t argc = 6;
        for (const char *const *a = extra_args; a && *a && argc < 22; a++)
            argv[argc++] = *a;
        argv[argc] = NULL;
        /* execvp() takes char *const[]; it does not modify the strings */
        execvp("python3", (char *const *)(uintptr_t)argv);
        fprintf(stderr, "test_server: cannot run python3 '%s': %s\n", script, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;

    /* The first line of the server's stdout is its port; allow a slow start (15 s). */
    char line[32] = {0};
    size_t used = 0;
    while (used < sizeof(line) - 1 && !memchr(line, '\n', used)) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int ready = poll(&pfd, 1, 15000);
        if (ready <= 0)
            break;
        ssize_t n = read(fds[0], line + used, sizeof(line) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fds[0]);
    char *end = NULL;
    long port = strtol(line, &end, 10);
    if (end == line || port <= 0 || port > 65535) {
        fprintf(stderr, "test_server: '%s' did not report a port (routes '%s')\n", script,
                s->routes_path);
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        return -1;
    }
    s->port = (int)port;
    bool tls = false;
    for (const char *const *a = extra_args; a && *a; a++)
        tls = tls || strcmp(*a, "--tls-cert") == 0;
    snprintf(s->base_url, sizeof(s->base_url), "%s://127.0.0.1:%d", tls ? "https" : "http",
             s->port);
    return 0;
}

/* wp_test_server_start_file() - wp_test_server_start_file_args() without extra arguments. */
static inline int wp_test_server_start_file(struct wp_test_server *s, const char *routes_path)
{
    return wp_test_server_start_file_args(s, routes_path, NULL);
}

/*
 * wp_test_server_start_args() - like wp_test_server_start_file_args() with the routes given
 * as JSON text, written to a temporary file (use absolute body_file paths with it).
 */
static inline int wp_test_server_start_args(struct wp_test_server *s, const char *routes_json,
                                            const char *const *extra_args)
{
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/wp-routes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "test_server: mkdtemp '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/routes.json", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(routes_json, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "test_server: cannot write '%s'\n", path);
        return -1;
    }
    int rc = wp_test_server_start_file_args(s, path, extra_args);
    if (rc == 0)
        s->own_routes = 1;
    else {
        unlink(path);
        rmdir(dir);
    }
    return rc;
}

/* wp_test_server_start() - start the server with the routes given as JSON text. */
static inline int wp_test_server_start(struct wp_test_server *s, const char *routes_json)
{
    return wp_test_server_start_args(s, routes_json, NULL);
}

/* wp_test_server_url() - "http://127.0.0.1:PORT" followed by @path into @buf. */
static inline void wp_test_server_url(const struct wp_test_server *s, const char *path, char *buf,
                                      size_t size)
{
    snprintf(buf, size, "%s%s", s->base_url, path ? path : "");
}

/*
 * wp_test_server_requests() - the request log so far as a new JSON array of
 * {time, method, path, headers, body, index} objects (empty when nothing was logged).
 */
static inline json_t *wp_test_server_requests(const struct wp_test_server *s)
{
    json_t *all = json_array();
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *entry = json_loads(line, 0, NULL);
        if (entry)
            json_array_append_new(all, entry);
    }
    free(line);
    fclose(f);
    return all;
}

/*
 * wp_test_server_count() - how many requests reached @path (compared without the query
 * string unless @path has one); @path NULL counts every request.
 */
static inline size_t wp_test_server_count(const struct wp_test_server *s, const char *path)
{
    json_t *all = wp_test_server_requests(s);
    size_t n = 0, i;
    json_t *entry;
    json_array_foreach(all, i, entry)
    {
        const char *p = json_string_value(json_object_get(entry, "path"));
        if (!path) {
            n++;
            continue;
        }
        if (!p)
            continue;
        size_t len = strchr(path, '?') ? strlen(p) : strcspn(p, "?");
        if (len == strlen(path) && strncmp(p, path, len) == 0)
            n++;
    }
    json_decref(all);
    return n;
}

/* wp_test_server_stop() - SIGTERM, wait for it, remove the temporary files. Idempotent. */
static inline void wp_test_server_stop(struct wp_test_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->log_path[0])
        unlink(s->log_path);
    if (s->dir[0])
        rmdir(s->dir);
    if (s->own_routes && s->routes_path[0]) {
        unlink(s->routes_path);
        char *slash = strrchr(s->routes_path, '/');
        if (slash) {
            *slash = '\0';
            rmdir(s->routes_path);
        }
    }
    s->log_path[0] = s->dir[0] = s->routes_path[0] = '\0';
    s->own_routes = 0;
}

#endif /* WP_TEST_SERVER_H */
