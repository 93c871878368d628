/*
 * fetch_files.c - local sources: files, folders (their regular, non-hidden files, one
 * level, in byte order) and glob patterns, all from the pipeline's own configuration
 * (never from a redirect, a feed link or an --input item). Relative paths are taken
 * against the pipeline's folder. A file's type is guessed from its name.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, glob */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wirepipe/buf.h>

#include <libxml/uri.h>

#include "fetch.h"

/* The media type a file name suggests, or NULL. */
static const char *fetch_guess_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    static const struct {
        const char *ext;
        const char *type;
    } map[] = {
        {".html", "text/html"},
        {".htm", "text/html"},
        {".xhtml", "application/xhtml+xml"},
        {".txt", "text/plain"},
        {".json", "application/json"},
        {".jsonl", "application/x-ndjson"},
        {".ndjson", "application/x-ndjson"},
        {".rss", "application/rss+xml"},
        {".atom", "application/atom+xml"},
        {".xml", "application/xml"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(dot, map[i].ext) == 0)
            return map[i].type;
    }
    return NULL;
}

/* file:// URI of an absolute path, for uri/source.url and the id. */
static char *fetch_file_uri(const struct wp_host_api *host, const char *path)
{
    xmlChar *escaped = xmlURIEscapeStr((const xmlChar *)path, (const xmlChar *)"/");
    struct wp_buf b;
    wp_buf_init(&b, host);
    wp_buf_addf(&b, "file://%s", escaped ? (const char *)escaped : path);
    if (escaped)
        xmlFree(escaped);
    return wp_buf_detach(&b, NULL);
}

/* fetch_file() - see fetch.h. */
bool fetch_file(struct fetch_run *run, const char *path)
{
    struct fetch *f = run->f;
    char *uri = fetch_file_uri(f->host, path);
    const char *where = uri ? uri : path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *data = NULL;
    bool read_ok = false;
    if (fd < 0) {
        fetch_source_failure(run, where, WP_E_IO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fetch_source_failure(run, where, WP_E_IO, "'%s' is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > f->max_body) {
        fetch_source_failure(run, where, WP_E_LIMIT,
                             "'%s' is %lld bytes, larger than max_body (%zu)", path,
                             (long long)st.st_size, f->max_body);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = f->host->malloc(size + 1);
    if (!data) {
        fetch_failure(run, where, NULL, WP_E_NOMEM, "'%s': out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fetch_source_failure(run, where, WP_E_IO, "cannot read '%s': %s", path,
                                 strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    const char *base = strrchr(path, '/');
    struct fetch_doc doc = {
        .url = where,
        .content_type = fetch_guess_type(path),
        .http_status = 0,
        .data = data,
        .len = got,
        .fallback_name = base ? base + 1 : path,
    };
    f->host->metric_add(run->ctx, "files", 1);
    read_ok = true;
    fetch_handle_doc(run, &doc);
out:
    if (fd >= 0)
        close(fd);
    if (data)
        f->host->free(data);
    if (uri)
        f->host->free(uri);
    return read_ok;
}

static int fetch_cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The regular, non-hidden files of folder @dir, one level, in byte order. False when the
 * folder cannot be opened; an empty folder, or one whose files fail, still answered.
 */
static bool fetch_folder(struct fetch_run *run, const char *dir)
{
    struct fetch *f = run->f;
    DIR *d = opendir(dir);
    if (!d) {
        fetch_source_failure(run, dir, WP_E_IO, "cannot open folder '%s': %s", dir,
                             strerror(errno));
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **p = f->host->realloc(names, ncap * sizeof(*names));
            if (!p)
                break;
            names = p;
            cap = ncap;
        }
        struct wp_buf b;
        wp_buf_init(&b, f->host);
        wp_buf_addf(&b, "%s/%s", dir, e->d_name);
        char *name = wp_buf_detach(&b, NULL);
        if (!name)
            break;
        names[n++] = name;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), fetch_cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!f->host->cancelled(run->ctx) && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            fetch_file(run, names[i]);
        f->host->free(names[i]);
    }
    if (names)
        f->host->free(names);
    return true;
}

/* fetch_path() - see fetch.h. */
bool fetch_path(struct fetch_run *run, const char *configured)
{
    struct fetch *f = run->f;
    struct wp_buf abs;
    wp_buf_init(&abs, f->host);
    const char *base = f->host->pipeline_dir(run->ctx);
    if (configured[0] != '/' && base && base[0])
        wp_buf_addf(&abs, "%s/%s", base, configured);
    else
        wp_buf_adds(&abs, configured);
    if (abs.failed || !abs.data) {
        wp_buf_release(&abs);
        fetch_failure(run, configured, NULL, WP_E_NOMEM, "out of memory");
        return false;
    }
    const char *path = abs.data;
    bool answered = true;
    if (strpbrk(configured, "*?[")) {
        glob_t g;
        int rc = glob(path, GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            wp_log_warn(run->ctx, "pattern '%s' matches no file", configured);
        } else if (rc != 0) {
            fetch_source_failure(run, path, WP_E_IO, "cannot expand pattern '%s'", configured);
            answered = false;
        } else {
            for (size_t i = 0; i < g.gl_pathc && !f->host->cancelled(run->ctx); i++) {
                struct stat st;
                if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
                    fetch_file(run, g.gl_pathv[i]);
            }
        }
        if (rc == 0)
            globfree(&g);
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            answered = fetch_folder(run, path);
        else
            answered = fetch_file(run, path);
    }
    wp_buf_release(&abs);
    return answered;
}
