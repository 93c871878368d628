#include "wp_internal.h"

#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "envsubst.h"
#include "utf8.h"

/* Limits from notes/pipeline-hosts.md 5.4: jansson itself caps neither size nor depth. */
#define PIPELINE_MAX_BYTES ((size_t)1024 * 1024)
#define PIPELINE_MAX_DEPTH 32
/* A stage id must fit struct wp_error's stage field. */
#define STAGE_ID_MAX       (WP_ERROR_STAGE_MAX - 1)
#define WORKERS_MAX        64
#define ATTEMPTS_MAX       100
#define QUEUE_SIZE_MAX     65536
#define QUEUE_SIZE_DEF     256
#define GRACE_PERIOD_DEF_S 30
#define GRACE_PERIOD_MAX_S 3600
#define ATTEMPTS_DEF       3

/* ------------------------------------------------------------------------------------
 * Small helpers: JSON paths for messages, quoting outside text
 * ---------------------------------------------------------------------------------- */

/*
 * A JSON path such as "stages[3].config.targets", built while walking the tree. Text
 * that does not fit is cut and marked with "...".
 */
struct jpath {
    char buf[240 + 4];
    size_t len; /* virtual length: may exceed what buf holds */
};

#define JPATH_CAP 240

static size_t jpath_put(struct jpath *p, const char *s, size_t n)
{
    size_t saved = p->len;
    for (size_t i = 0; i < n; i++, p->len++) {
        if (p->len < JPATH_CAP) {
            unsigned char c = (unsigned char)s[i];
            p->buf[p->len] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
    }
    if (p->len <= JPATH_CAP) {
        p->buf[p->len] = '\0';
    } else {
        memcpy(p->buf + JPATH_CAP, "...", 4);
    }
    return saved;
}

static size_t jpath_key(struct jpath *p, const char *key)
{
    size_t saved = p->len;
    if (p->len)
        jpath_put(p, ".", 1);
    jpath_put(p, key, strlen(key));
    return saved;
}

static size_t jpath_index(struct jpath *p, size_t index)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "[%zu]", index);
    return jpath_put(p, tmp, (size_t)n);
}

static void jpath_restore(struct jpath *p, size_t saved)
{
    p->len = saved;
    if (p->len <= JPATH_CAP)
        p->buf[p->len] = '\0';
}

/* Copy outside text into @buf for a message: control characters become '?', long text
 * is cut with "...". */
static const char *quote_text(char *buf, size_t size, const char *s)
{
    size_t max = size - 4, i = 0;
    for (; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i]) {
        /* Do not cut a UTF-8 sequence in half. */
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
        memcpy(buf + i, "...", 4);
    } else {
        buf[i] = '\0';
    }
    return buf;
}

struct quoted {
    char text[80];
};

static const char *quote(struct quoted *q, const char *s)
{
    return quote_text(q->text, sizeof(q->text), s);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "real";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        case JSON_NULL:
            return "null";
    }
    return "unknown";
}

/* "'a', 'b' or 'c'" into @buf. */
static void join_choices(char *buf, size_t size, const char *const *names, size_t count)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && len < size; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
        int n = snprintf(buf + len, size - len, "%s'%s'", sep, names[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* ------------------------------------------------------------------------------------
 * The loader's state and its message function
 * ---------------------------------------------------------------------------------- */

struct loader {
    const char *file; /* as given: the prefix of every message */
    const char *dir;  /* absolute folder of the file */
    struct wp_diags *diags;
    size_t errors;
    bool nomem;
};

static void report(struct loader *L, const struct jpath *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct loader *L, const struct jpath *p, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p && p->len)
        wp__diags_add(L->diags, "%s: %s: %s", L->file, p->buf, msg);
    else
        wp__diags_add(L->diags, "%s: %s", L->file, msg);
    L->errors++;
}

static void report_nomem(struct loader *L)
{
    if (!L->nomem)
        wp__diags_add(L->diags, "%s: out of memory", L->file);
    L->nomem = true;
}

/* An unknown key in the object at @p: a suggestion when one is close, else the list. */
static void report_unknown_key(struct loader *L, const struct jpath *p, const char *key,
                               const char *const *allowed, size_t count, const char *owner)
{
    struct quoted q;
    const char *hint = wp__suggest(key, allowed, count);
    if (hint) {
        report(L, p, "unknown key '%s'; did you mean '%s'?", quote(&q, key), hint);
    } else if (count == 0) {
        report(L, p, "unknown key '%s' (%s takes no config keys)", quote(&q, key), owner);
    } else {
        char list[768];
        size_t len = 0;
        list[0] = '\0';
        for (size_t i = 0; i < count && len < sizeof(list); i++) {
            int n = snprintf(list + len, sizeof(list) - len, "%s'%s'", i ? ", " : "", allowed[i]);
            if (n < 0)
                break;
            len += (size_t)n;
        }
        report(L, p, "unknown key '%s' (allowed: %s)", quote(&q, key), list);
    }
}

/* @rel made absolute against @dir ("./" prefixes dropped); @rel itself when absolute. */
static char *path_join(const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return wp_strdup(rel);
    while (rel[0] == '.' && rel[1] == '/') {
        rel += 2;
        while (*rel == '/')
            rel++;
    }
    if (rel[0] == '\0' || strcmp(rel, ".") == 0)
        return wp_strdup(dir);
    size_t dl = strlen(dir);
    return wp_asprintf("%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", rel);
}

/* True for "scheme://..." and for "-" (stdin/stdout), which are not files to resolve. */
static bool is_url_or_dash(const char *s)
{
    if (strcmp(s, "-") == 0)
        return true;
    const char *p = s;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '.' || *p == '-')
        p++;
    return strncmp(p, "://", 3) == 0;
}

/* ------------------------------------------------------------------------------------
 * Reading and parsing the file
 * ---------------------------------------------------------------------------------- */

static enum wp_status read_file(const char *path, struct wp_diags *diags, char **data, size_t *len)
{
    struct quoted q;
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wp__diags_add(diags, "cannot open pipeline '%s': %s", quote(&q, path), strerror(errno));
        return WP_E_IO;
    }
    enum wp_status st = WP_OK;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        wp__diags_add(diags, "cannot read pipeline '%s': %s", quote(&q, path), strerror(EISDIR));
        st = WP_E_IO;
        goto out_close;
    }
    /* Read at most one byte past the limit, so pipes and growing files are capped too. */
    size_t alloc = (size_t)64 * 1024, used = 0;
    char *buf = wp_malloc(alloc);
    if (!buf) {
        st = WP_E_NOMEM;
        goto out_close;
    }
    for (;;) {
        if (used == alloc) {
            if (alloc > PIPELINE_MAX_BYTES)
                break;
            size_t want = alloc * 2 > PIPELINE_MAX_BYTES + 1 ? PIPELINE_MAX_BYTES + 1 : alloc * 2;
            char *grown = wp_realloc(buf, want);
            if (!grown) {
                st = WP_E_NOMEM;
                goto out_free;
            }
            buf = grown;
            alloc = want;
        }
        ssize_t n = read(fd, buf + used, alloc - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wp__diags_add(diags, "cannot read pipeline '%s': %s", quote(&q, path), strerror(errno));
            st = WP_E_IO;
            goto out_free;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > PIPELINE_MAX_BYTES) {
        wp__diags_add(diags, "%s: file is too large (more than %zu bytes)", path,
                      PIPELINE_MAX_BYTES);
        st = WP_E_CONFIG;
        goto out_free;
    }
    *data = buf;
    *len = used;
    goto out_close;
out_free:
    wp_free(buf);
    if (st == WP_E_NOMEM)
        wp__diags_add(diags, "%s: out of memory", path);
out_close:
    close(fd);
    return st;
}

static json_t *parse_json(struct loader *L, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root)
        return root;

    char where[64] = "";
    if (jerr.line > 0)
        snprintf(where, sizeof(where), ":%d:%d", jerr.line, jerr.column);
    switch (json_error_code(&jerr)) {
        case json_error_invalid_utf8:
            /* jansson's text would echo the broken bytes. */
            wp__diags_add(L->diags, "%s%s: invalid UTF-8", L->file, where);
            break;
        case json_error_null_character:
            wp__diags_add(L->diags, "%s%s: '\\u0000' is not allowed in a string", L->file, where);
            break;
        case json_error_stack_overflow:
            wp__diags_add(L->diags, "%s%s: nesting is deeper than %d levels", L->file, where,
                          PIPELINE_MAX_DEPTH);
            break;
        case json_error_out_of_memory:
            report_nomem(L);
            return NULL;
        default: {
            char text[JSON_ERROR_TEXT_LENGTH + 4];
            quote_text(text, sizeof(text), jerr.text);
            if (!wp__utf8_valid(text, strlen(text))) {
                for (char *c = text; *c; c++)
                    if ((unsigned char)*c >= 0x80)
                        *c = '?';
            }
            wp__diags_add(L->diags, "%s%s: %s", L->file, where, text);
            break;
        }
    }
    L->errors++;
    return NULL;
}

/* Reports the first container nested deeper than the limit; true when none is. */
static bool check_depth(struct loader *L, json_t *v, int depth, struct jpath *p)
{
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth > PIPELINE_MAX_DEPTH) {
        report(L, p, "nesting is deeper than %d levels", PIPELINE_MAX_DEPTH);
        return false;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            size_t saved = jpath_key(p, key);
            bool ok = check_depth(L, child, depth + 1, p);
            jpath_restore(p, saved);
            if (!ok)
                return false;
        }
    } else {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            size_t saved = jpath_index(p, i);
            bool ok = check_depth(L, child, depth + 1, p);
            jpath_restore(p, saved);
            if (!ok)
                return false;
        }
    }
    return true;
}

/* ${VAR} in every string value below @v (keys are left alone). */
static void subst_tree(struct loader *L, json_t *v, struct jpath *p)
{
    if (json_is_string(v)) {
        const char *text = json_string_value(v);
        if (!strchr(text, '$'))
            return;
        char prefix[JPATH_CAP + 300];
        if (p->len)
            snprintf(prefix, sizeof(prefix), "%s: %s", L->file, p->buf);
        else
            snprintf(prefix, sizeof(prefix), "%s", L->file);
        char *out = NULL;
        size_t before = L->diags->count;
        enum wp_status st = wp__envsubst(text, prefix, L->diags, &out);
        if (st == WP_E_NOMEM) {
            report_nomem(L);
        } else if (st != WP_OK) {
            L->errors += L->diags->count - before;
        } else {
            if (json_string_set(v, out) != 0)
                report_nomem(L);
            wp_free(out);
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            size_t saved = jpath_key(p, key);
            subst_tree(L, child, p);
            jpath_restore(p, saved);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            size_t saved = jpath_index(p, i);
            subst_tree(L, child, p);
            jpath_restore(p, saved);
        }
    }
}

/* ------------------------------------------------------------------------------------
 * Checking values
 * ---------------------------------------------------------------------------------- */

/* The string at @key of @obj into *@out (borrowed; NULL when absent). False on a
 * wrong type, reported. */
static bool take_string(struct loader *L, json_t *obj, const char *key, struct jpath *p,
                        bool nonempty, const char **out)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v)
        return true;
    size_t saved = jpath_key(p, key);
    bool ok = false;
    if (!json_is_string(v))
        report(L, p, "expected %sstring, got %s", nonempty ? "non-empty " : "", type_name(v));
    else if (nonempty && json_string_length(v) == 0)
        report(L, p, "expected non-empty string, got an empty one");
    else
        ok = true;
    jpath_restore(p, saved);
    if (ok)
        *out = json_string_value(v);
    return ok;
}

/* The integer at @key of @obj within lo..hi into *@out, left alone when absent. */
static bool take_int(struct loader *L, json_t *obj, const char *key, struct jpath *p, json_int_t lo,
                     json_int_t hi, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return true;
    size_t saved = jpath_key(p, key);
    bool ok = false;
    if (!json_is_integer(v))
        report(L, p, "expected integer %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT ", got %s",
               lo, hi, type_name(v));
    else if (json_integer_value(v) < lo || json_integer_value(v) > hi)
        report(L, p,
               "expected integer %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT
               ", got %" JSON_INTEGER_FORMAT,
               lo, hi, json_integer_value(v));
    else
        ok = true;
    jpath_restore(p, saved);
    if (ok)
        *out = json_integer_value(v);
    return ok;
}

static void check_keys(struct loader *L, json_t *obj, struct jpath *p, const char *const *allowed,
                       size_t count, const char *owner);

static const char *const metrics_keys[] = {"listen", "unhealthy_after_s"};

/*
 * "metrics": {"listen": "[ADDRESS:]PORT", "unhealthy_after_s": N}. A bare port listens on
 * the loopback only: exposing counters to the network is a choice the file must spell out.
 */
static void load_metrics(struct loader *L, json_t *m, struct jpath *p, struct wp_pipeline_def *def)
{
    if (!m)
        return;
    size_t saved = jpath_key(p, "metrics");
    if (!json_is_object(m)) {
        report(L, p, "expected object, got %s", type_name(m));
        jpath_restore(p, saved);
        return;
    }
    check_keys(L, m, p, metrics_keys, WP_ARRAY_SIZE(metrics_keys), "metrics");
    const char *listen = NULL;
    if (take_string(L, m, "listen", p, true, &listen) && !listen) {
        size_t at = jpath_key(p, "listen");
        report(L, p, "missing required key (\"[ADDRESS:]PORT\", e.g. \"127.0.0.1:9464\")");
        jpath_restore(p, at);
    }
    if (listen) {
        const char *colon = strrchr(listen, ':');
        const char *port = colon ? colon + 1 : listen;
        char *end = NULL;
        long n = strtol(port, &end, 10);
        if (!*port || *end || n < 1 || n > 65535 || (colon && colon == listen)) {
            size_t at = jpath_key(p, "listen");
            report(L, p, "expected \"[ADDRESS:]PORT\" with a port 1..65535, got \"%s\"", listen);
            jpath_restore(p, at);
        } else {
            size_t len = strlen(listen) + sizeof("127.0.0.1:");
            def->metrics_listen = wp_malloc(len);
            if (!def->metrics_listen)
                report_nomem(L);
            else
                snprintf(def->metrics_listen, len, "%s%s", colon ? "" : "127.0.0.1:", listen);
        }
    }
    json_int_t after = 0;
    take_int(L, m, "unhealthy_after_s", p, 0, 7 * 24 * 3600, &after);
    def->unhealthy_after_s = (unsigned)after;
    jpath_restore(p, saved);
}

static void check_keys(struct loader *L, json_t *obj, struct jpath *p, const char *const *allowed,
                       size_t count, const char *owner)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < count && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known)
            report_unknown_key(L, p, key, allowed, count, owner);
    }
}

static bool plugin_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool stage_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > STAGE_ID_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return false;
    return true;
}

static bool is_plugin_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n >= 3 && strcmp(s + n - 3, ".so") == 0);
}

static const char *const top_keys[] = {"name",       "description",    "state_dir", "dead_letter",
                                       "queue_size", "grace_period_s", "metrics",   "stages"};

static const char *const stage_keys[] = {"plugin",   "id",      "stage",       "config",
                                         "on_error", "workers", "max_attempts"};
static const char *const on_error_names[] = {"dead-letter", "skip", "fail"};

/* Fills @sd from stage object @obj at @p; reports every problem. *id_given says whether
 * the id came from the file. */
static void load_stage(struct loader *L, json_t *obj, struct jpath *p, struct wp_stage_def *sd,
                       bool *id_given)
{
    struct quoted q;
    *id_given = false;
    if (!json_is_object(obj)) {
        report(L, p, "expected object, got %s", type_name(obj));
        return;
    }
    check_keys(L, obj, p, stage_keys, WP_ARRAY_SIZE(stage_keys), "a stage");

    const char *plugin = NULL;
    if (!json_object_get(obj, "plugin")) {
        report(L, p, "missing required key 'plugin'");
    } else if (take_string(L, obj, "plugin", p, true, &plugin) && plugin) {
        size_t saved = jpath_key(p, "plugin");
        if (is_plugin_path(plugin)) {
            sd->plugin = path_join(L->dir, plugin);
        } else if (plugin_name_ok(plugin)) {
            sd->plugin = wp_strdup(plugin);
        } else {
            report(L, p,
                   "invalid plugin name '%s' (expected lowercase letters, digits and '_', or a "
                   "path to a .so file)",
                   quote(&q, plugin));
            plugin = NULL;
        }
        jpath_restore(p, saved);
        if (plugin && !sd->plugin)
            report_nomem(L);
    }

    const char *id = NULL;
    if (take_string(L, obj, "id", p, true, &id) && id) {
        size_t saved = jpath_key(p, "id");
        if (!stage_id_ok(id)) {
            report(L, p,
                   "invalid stage id '%s' (expected at most %d letters, digits, '_', '.' or "
                   "'-')",
                   quote(&q, id), STAGE_ID_MAX);
        } else {
            sd->id = wp_strdup(id);
            *id_given = true;
            if (!sd->id)
                report_nomem(L);
        }
        jpath_restore(p, saved);
    } else if (!id && !json_object_get(obj, "id") && sd->plugin) {
        /* A plugin path names the plugin by its file: ".../names.so" is "names". */
        const char *base = strrchr(sd->plugin, '/');
        base = base ? base + 1 : sd->plugin;
        size_t n = strlen(base);
        if (n >= 3 && strcmp(base + n - 3, ".so") == 0)
            n -= 3;
        sd->id = wp_strndup(base, n);
        if (!sd->id)
            report_nomem(L);
        else if (!stage_id_ok(sd->id))
            report(L, p, "cannot use plugin file name '%s' as stage id; set 'id'",
                   quote(&q, sd->id));
    }

    const char *stage = NULL;
    if (take_string(L, obj, "stage", p, true, &stage) && stage) {
        sd->stage = wp_strdup(stage);
        if (!sd->stage)
            report_nomem(L);
    }

    json_t *config = json_object_get(obj, "config");
    if (config && !json_is_object(config)) {
        size_t saved = jpath_key(p, "config");
        report(L, p, "expected object, got %s", type_name(config));
        jpath_restore(p, saved);
    } else if (config) {
        sd->config = json_incref(config);
    } else {
        sd->config = json_object();
        if (!sd->config)
            report_nomem(L);
    }

    const char *on_error = NULL;
    sd->on_error = WP_ON_ERROR_DEAD_LETTER;
    if (take_string(L, obj, "on_error", p, false, &on_error) && on_error) {
        bool found = false;
        for (size_t i = 0; i < WP_ARRAY_SIZE(on_error_names) && !found; i++) {
            if (strcmp(on_error, on_error_names[i]) == 0) {
                sd->on_error = (enum wp_on_error)i;
                found = true;
            }
        }
        if (!found) {
            size_t saved = jpath_key(p, "on_error");
            const char *hint = wp__suggest(on_error, on_error_names, 3);
            report(L, p, "invalid value '%s' (expected 'dead-letter', 'skip' or 'fail')%s%s%s",
                   quote(&q, on_error), hint ? "; did you mean '" : "", hint ? hint : "",
                   hint ? "'?" : "");
            jpath_restore(p, saved);
        }
    }

    json_int_t workers = 1, attempts = ATTEMPTS_DEF;
    take_int(L, obj, "workers", p, 1, WORKERS_MAX, &workers);
    take_int(L, obj, "max_attempts", p, 1, ATTEMPTS_MAX, &attempts);
    sd->workers = (unsigned)workers;
    sd->max_attempts = (unsigned)attempts;
}

static void stage_def_release(struct wp_stage_def *sd)
{
    wp_free(sd->id);
    wp_free(sd->plugin);
    wp_free(sd->stage);
    json_decref(sd->config);
}

void wp__pipeline_def_free(struct wp_pipeline_def *def)
{
    if (!def)
        return;
    for (size_t i = 0; i < def->stage_count; i++)
        stage_def_release(&def->stages[i]);
    wp_free(def->stages);
    wp_free(def->path);
    wp_free(def->dir);
    wp_free(def->name);
    wp_free(def->description);
    wp_free(def->state_dir);
    wp_free(def->dead_letter);
    wp_free(def->metrics_listen);
    wp_free(def);
}

/* The pipeline file's folder as an absolute, symlink-free path. */
static char *pipeline_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *folder =
        slash ? wp_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : wp_strdup(".");
    if (!folder)
        return NULL;
    char real[PATH_MAX];
    char *resolved = realpath(folder, real);
    int saved_errno = errno;
    wp_free(folder);
    errno = saved_errno;
    return resolved ? wp_strdup(real) : NULL;
}

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    return wp_strndup(base, n);
}

/* Distinct stage ids; two stages of one plugin without "id" collide here. */
static void check_duplicate_ids(struct loader *L, struct wp_pipeline_def *def, const bool *id_given)
{
    struct quoted q;
    /* id -> first stage index; a hash keeps this linear in the number of stages. */
    json_t *seen = json_object();
    if (!seen) {
        report_nomem(L);
        return;
    }
    for (size_t i = 0; i < def->stage_count; i++) {
        const char *id = def->stages[i].id;
        if (!id)
            continue;
        json_t *first = json_object_get(seen, id);
        if (!first) {
            if (json_object_set_new(seen, id, json_integer((json_int_t)i)) != 0) {
                report_nomem(L);
                break;
            }
            continue;
        }
        size_t j = (size_t)json_integer_value(first);
        struct jpath p = {.len = 0};
        jpath_key(&p, "stages");
        jpath_index(&p, i);
        if (id_given[i]) {
            jpath_key(&p, "id");
            report(L, &p, "duplicate stage id '%s' (also used by stages[%zu])", quote(&q, id), j);
        } else {
            report(L, &p,
                   "duplicate stage id '%s' (also used by stages[%zu]); give the stage an 'id'",
                   quote(&q, id), j);
        }
    }
    json_decref(seen);
}

/* The value of an override as JSON: parsed when it is JSON, else the text as a string. */
static json_t *override_value(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    return v ? v : json_string(text);
}

static bool override_is_top_level(const struct wp_config_override *ov)
{
    return !ov->stage_id || strcmp(ov->stage_id, "metrics") == 0;
}

/*
 * --set KEY=VALUE and --set metrics.KEY=VALUE: into the file's top-level object before it
 * is checked, so the value is checked like one written in the file ("did you mean" for a
 * misspelt key, relative paths against the pipeline's folder). One file serves several
 * desks this way.
 */
static void apply_top_overrides(struct loader *L, json_t *root, const struct wp_config_override *ov,
                                size_t count)
{
    struct quoted q;
    for (size_t k = 0; k < count; k++) {
        if (!override_is_top_level(&ov[k]))
            continue;
        const char *text = ov[k].value ? ov[k].value : "";
        if (!wp__utf8_valid(text, strlen(text))) {
            report(L, NULL, "--set '%s': value is not valid UTF-8", quote(&q, ov[k].key));
            continue;
        }
        if (strcmp(ov[k].key, "stages") == 0) {
            report(L, NULL, "--set cannot replace 'stages'; use STAGE.KEY=VALUE");
            continue;
        }
        json_t *target = root;
        if (ov[k].stage_id) {
            target = json_object_get(root, "metrics");
            if (!json_is_object(target)) {
                target = json_object();
                if (!target || json_object_set_new(root, "metrics", target) != 0) {
                    report_nomem(L);
                    continue;
                }
            }
        }
        json_t *v = override_value(text);
        struct jpath p = {.len = 0};
        p.buf[0] = '\0';
        if (!v || json_object_set_new(target, ov[k].key, v) != 0)
            report_nomem(L);
        else if (!check_depth(L, v, ov[k].stage_id ? 3 : 2, &p))
            json_object_del(target, ov[k].key);
    }
}

static void apply_overrides(struct loader *L, struct wp_pipeline_def *def,
                            const struct wp_config_override *ov, size_t count)
{
    struct quoted q1, q2;
    for (size_t k = 0; k < count; k++) {
        if (override_is_top_level(&ov[k]))
            continue; /* applied to the file's object already */
        const char *sid = ov[k].stage_id ? ov[k].stage_id : "";
        const char *key = ov[k].key ? ov[k].key : "";
        struct wp_stage_def *sd = NULL;
        for (size_t i = 0; i < def->stage_count && !sd; i++)
            if (def->stages[i].id && strcmp(def->stages[i].id, sid) == 0)
                sd = &def->stages[i];
        if (!sd) {
            const char **ids = wp_calloc(def->stage_count, sizeof(*ids));
            if (!ids) {
                report_nomem(L);
                return;
            }
            for (size_t i = 0; i < def->stage_count; i++)
                ids[i] = def->stages[i].id;
            const char *hint = wp__suggest(sid, ids, def->stage_count);
            report(L, NULL, "--set '%s.%s': no stage '%s'%s%s%s", quote(&q1, sid), quote(&q2, key),
                   q1.text, hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
            wp_free(ids);
            continue;
        }
        if (!*key) {
            report(L, NULL, "--set '%s.': missing config key after the stage id", quote(&q1, sid));
            continue;
        }
        if (!sd->config)
            continue;
        const char *text = ov[k].value ? ov[k].value : "";
        /* The value is never printed: it may be a secret. */
        if (!wp__utf8_valid(text, strlen(text))) {
            report(L, NULL, "--set '%s.%s': value is not valid UTF-8", quote(&q1, sid),
                   quote(&q2, key));
            continue;
        }
        json_t *v = override_value(text);
        struct jpath p = {.len = 0};
        p.buf[0] = '\0';
        jpath_key(&p, "stages");
        jpath_index(&p, (size_t)(sd - def->stages));
        jpath_key(&p, "config");
        jpath_key(&p, key);
        /* The root, "stages", the stage and "config" hold the value: it starts at 5. */
        if (v && !check_depth(L, v, 5, &p)) {
            json_decref(v);
            continue;
        }
        if (!v || json_object_set_new(sd->config, key, v) != 0)
            report_nomem(L);
    }
}

bool wp__config_override_parse(char *arg, struct wp_config_override *out)
{
    char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    char *dot = NULL;
    for (char *c = arg; c < eq; c++)
        if (*c == '.')
            dot = c;
    if (!dot) {
        if (eq == arg)
            return false;
        *eq = '\0';
        *out = (struct wp_config_override){.key = arg, .value = eq + 1};
        return true;
    }
    if (dot == arg || dot + 1 == eq)
        return false;
    *dot = '\0';
    *eq = '\0';
    out->stage_id = arg;
    out->key = dot + 1;
    out->value = eq + 1;
    return true;
}

enum wp_status wp__pipeline_def_load(const char *path, const struct wp_config_override *overrides,
                                     size_t override_count, struct wp_pipeline_def **out,
                                     struct wp_diags *diags)
{
    struct loader L = {.file = path, .diags = diags};
    struct wp_pipeline_def *def = NULL;
    bool *id_given = NULL;
    char *data = NULL;
    size_t len = 0;
    json_t *root = NULL;

    *out = NULL;
    enum wp_status st = read_file(path, diags, &data, &len);
    if (st != WP_OK)
        return st;
    root = parse_json(&L, data, len);
    wp_free(data);
    if (!root)
        return L.nomem ? WP_E_NOMEM : WP_E_CONFIG;

    struct jpath p = {.len = 0};
    p.buf[0] = '\0';
    if (!json_is_object(root)) {
        report(&L, NULL, "expected an object at the top level, got %s", type_name(root));
        goto out_root;
    }
    if (!check_depth(&L, root, 1, &p))
        goto out_root;

    def = wp_calloc(1, sizeof(*def));
    if (!def) {
        report_nomem(&L);
        goto out_root;
    }
    def->path = wp_strdup(path);
    def->dir = pipeline_dir(path);
    if (!def->path || !def->dir) {
        struct quoted q;
        if (def->path && errno != ENOMEM)
            report(&L, NULL, "cannot resolve the folder of '%s': %s", quote(&q, path),
                   strerror(errno));
        else
            report_nomem(&L);
        goto out_root;
    }
    L.dir = def->dir;

    subst_tree(&L, root, &p);
    apply_top_overrides(&L, root, overrides, override_count);
    check_keys(&L, root, &p, top_keys, WP_ARRAY_SIZE(top_keys), "the pipeline");

    const char *name = NULL, *description = NULL, *state_dir = NULL, *dead_letter = NULL;
    take_string(&L, root, "name", &p, true, &name);
    take_string(&L, root, "description", &p, false, &description);
    take_string(&L, root, "state_dir", &p, true, &state_dir);
    take_string(&L, root, "dead_letter", &p, true, &dead_letter);
    json_int_t queue_size = QUEUE_SIZE_DEF;
    take_int(&L, root, "queue_size", &p, 1, QUEUE_SIZE_MAX, &queue_size);
    def->queue_size = (size_t)queue_size;
    json_int_t grace = GRACE_PERIOD_DEF_S;
    take_int(&L, root, "grace_period_s", &p, 0, GRACE_PERIOD_MAX_S, &grace);
    def->grace_period_s = (unsigned)grace;
    load_metrics(&L, json_object_get(root, "metrics"), &p, def);
    def->name = name ? wp_strdup(name) : default_name(path);
    def->description = description ? wp_strdup(description) : NULL;
    def->state_dir = state_dir ? path_join(def->dir, state_dir) : path_join(def->dir, ".wirepipe");
    if (def->state_dir)
        def->dead_letter = dead_letter ? path_join(def->dir, dead_letter)
                                       : path_join(def->state_dir, "dead-letter.jsonl");
    if (!def->name || (description && !def->description) || !def->state_dir || !def->dead_letter)
        report_nomem(&L);

    json_t *stages = json_object_get(root, "stages");
    if (!stages) {
        report(&L, NULL, "missing required key 'stages'");
    } else if (!json_is_array(stages)) {
        size_t saved = jpath_key(&p, "stages");
        report(&L, &p, "expected array, got %s", type_name(stages));
        jpath_restore(&p, saved);
    } else if (json_array_size(stages) > 0) {
        /* An empty list is allowed: items are read, checked and written unchanged. */
        size_t n = json_array_size(stages);
        def->stages = wp_calloc(n, sizeof(*def->stages));
        id_given = wp_calloc(n, sizeof(*id_given));
        if (!def->stages || !id_given) {
            report_nomem(&L);
            goto out_root;
        }
        def->stage_count = n;
        size_t saved = jpath_key(&p, "stages");
        for (size_t i = 0; i < n; i++) {
            size_t at = jpath_index(&p, i);
            load_stage(&L, json_array_get(stages, i), &p, &def->stages[i], &id_given[i]);
            jpath_restore(&p, at);
        }
        jpath_restore(&p, saved);
        check_duplicate_ids(&L, def, id_given);
        apply_overrides(&L, def, overrides, override_count);
    }

out_root:
    json_decref(root);
    wp_free(id_given);
    if (L.nomem || L.errors) {
        wp__pipeline_def_free(def);
        return L.nomem ? WP_E_NOMEM : WP_E_CONFIG;
    }
    *out = def;
    return WP_OK;
}

/* ------------------------------------------------------------------------------------
 * A stage's config against the keys its plugin declares
 * ---------------------------------------------------------------------------------- */

/* Splits "a|b|c" into @names (pointers into @buf). */
static size_t split_choices(const char *choices, char *buf, size_t size, const char **names,
                            size_t max)
{
    size_t count = 0;
    snprintf(buf, size, "%s", choices);
    char *s = buf;
    while (count < max) {
        names[count++] = s;
        char *bar = strchr(s, '|');
        if (!bar)
            break;
        *bar = '\0';
        s = bar + 1;
    }
    return count;
}

static void check_choice(struct loader *L, const struct jpath *p, const struct wp_config_key *k,
                         const char *value)
{
    if (!k->choices)
        return;
    char buf[512];
    const char *names[32];
    size_t n = split_choices(k->choices, buf, sizeof(buf), names, WP_ARRAY_SIZE(names));
    for (size_t i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0)
            return;
    char list[600];
    join_choices(list, sizeof(list), names, n);
    if (k->flags & WP_CONFIG_SECRET) {
        report(L, p, "invalid value (expected %s)", list);
        return;
    }
    struct quoted q;
    const char *hint = wp__suggest(value, names, n);
    report(L, p, "invalid value '%s' (expected %s)%s%s%s", quote(&q, value), list,
           hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
}

/* The declared bounds of a number key; reported, but the shape is still right. */
static void check_bounds(struct loader *L, const struct jpath *p, const struct wp_config_key *k,
                         json_t *v)
{
    if (!k->bounded)
        return;
    double x = json_number_value(v);
    if (x >= k->min && x <= k->max)
        return;
    if (k->type == WP_CONFIG_INT)
        report(L, p, "expected an integer from %.0f to %.0f, got %" JSON_INTEGER_FORMAT, k->min,
               k->max, json_integer_value(v));
    else
        report(L, p, "expected a number from %g to %g, got %g", k->min, k->max, x);
}

static bool check_string_array(struct loader *L, struct jpath *p, const struct wp_config_key *k,
                               json_t *v, bool paths)
{
    if (!json_is_array(v)) {
        report(L, p, "expected array of %s, got %s", paths ? "paths" : "strings", type_name(v));
        return false;
    }
    if (json_array_size(v) < k->min_items)
        report(L, p, "expected at least %zu %s, got %zu", k->min_items,
               k->min_items == 1 ? "entry" : "entries", json_array_size(v));
    bool ok = true;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        size_t saved = jpath_index(p, i);
        if (!json_is_string(item)) {
            report(L, p, "expected %s, got %s", paths ? "path string" : "string", type_name(item));
            ok = false;
        } else if (paths && json_string_length(item) == 0) {
            report(L, p, "expected non-empty path, got an empty string");
            ok = false;
        } else if (!paths) {
            check_choice(L, p, k, json_string_value(item));
        }
        jpath_restore(p, saved);
    }
    return ok;
}

/* Type and choice check of one value; true when it has the declared shape. */
static bool check_config_value(struct loader *L, struct jpath *p, const struct wp_config_key *k,
                               json_t *v)
{
    switch (k->type) {
        case WP_CONFIG_STRING:
            if (!json_is_string(v))
                break;
            check_choice(L, p, k, json_string_value(v));
            return true;
        case WP_CONFIG_INT:
            if (!json_is_integer(v))
                break;
            check_bounds(L, p, k, v);
            return true;
        case WP_CONFIG_NUMBER:
            if (!json_is_number(v))
                break;
            check_bounds(L, p, k, v);
            return true;
        case WP_CONFIG_BOOL:
            if (!json_is_boolean(v))
                break;
            return true;
        case WP_CONFIG_OBJECT:
            if (!json_is_object(v))
                break;
            return true;
        case WP_CONFIG_ANY:
            return true;
        case WP_CONFIG_STRINGS:
            return check_string_array(L, p, k, v, false);
        case WP_CONFIG_PATHS:
            return check_string_array(L, p, k, v, true);
        case WP_CONFIG_PATH:
            if (!json_is_string(v)) {
                report(L, p, "expected path string, got %s", type_name(v));
                return false;
            }
            if (json_string_length(v) == 0) {
                report(L, p, "expected non-empty path, got an empty string");
                return false;
            }
            return true;
        default:
            report(L, p, "the plugin declares an unknown type (%d) for this key", (int)k->type);
            return false;
    }
    static const char *const names[] = {"",        "string", "integer", "number", "boolean",
                                        "strings", "object", "any",     "path",   "paths"};
    report(L, p, "expected %s, got %s", names[k->type], type_name(v));
    return false;
}

/* A relative path made absolute; URLs, "-" and absolute paths are kept. */
static bool resolve_path_value(struct loader *L, json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || s[0] == '/' || is_url_or_dash(s))
        return true;
    char *abs = path_join(L->dir, s);
    if (!abs || json_string_set(v, abs) != 0) {
        wp_free(abs);
        report_nomem(L);
        return false;
    }
    wp_free(abs);
    return true;
}

enum wp_status wp__config_validate(struct wp_pipeline_def *def, size_t index,
                                   const struct wp_config_key *keys, struct wp_diags *diags)
{
    if (!def || index >= def->stage_count || !def->stages[index].config)
        return WP_E_INVALID;
    struct wp_stage_def *sd = &def->stages[index];
    struct loader L = {.file = def->path, .dir = def->dir, .diags = diags};
    struct jpath p = {.len = 0};
    p.buf[0] = '\0';
    jpath_key(&p, "stages");
    jpath_index(&p, index);
    jpath_key(&p, "config");

    size_t count = 0;
    while (keys && keys[count].name)
        count++;
    const char **names = wp_calloc(count ? count : 1, sizeof(*names));
    if (!names) {
        report_nomem(&L);
        return WP_E_NOMEM;
    }
    for (size_t i = 0; i < count; i++)
        names[i] = keys[i].name;
    bool *valid = wp_calloc(count ? count : 1, sizeof(*valid));
    if (!valid) {
        wp_free(names);
        report_nomem(&L);
        return WP_E_NOMEM;
    }

    char owner[128];
    struct quoted q;
    snprintf(owner, sizeof(owner), "stage '%s'", quote(&q, sd->id ? sd->id : "?"));
    const char *key;
    json_t *v;
    json_object_foreach(sd->config, key, v)
    {
        size_t i = 0;
        while (i < count && strcmp(key, keys[i].name) != 0)
            i++;
        if (i == count) {
            report_unknown_key(&L, &p, key, names, count, owner);
            continue;
        }
        size_t saved = jpath_key(&p, key);
        valid[i] = check_config_value(&L, &p, &keys[i], v);
        jpath_restore(&p, saved);
    }

    for (size_t i = 0; i < count; i++) {
        const struct wp_config_key *k = &keys[i];
        json_t *cur = json_object_get(sd->config, k->name);
        size_t saved = jpath_key(&p, k->name);
        if (!cur && (k->flags & WP_CONFIG_REQUIRED)) {
            jpath_restore(&p, saved);
            report(&L, &p, "missing required key '%s'", k->name);
            continue;
        }
        if (!cur && k->default_json) {
            json_error_t jerr;
            json_t *dflt = json_loads(k->default_json, JSON_DECODE_ANY, &jerr);
            if (!dflt) {
                report(&L, &p, "the plugin's default is not valid JSON: %s", jerr.text);
            } else if (json_object_set_new(sd->config, k->name, dflt) != 0) {
                report_nomem(&L);
            } else {
                cur = dflt;
                valid[i] = true;
            }
        }
        jpath_restore(&p, saved);
        if (!cur || !valid[i])
            continue;
        if (k->type == WP_CONFIG_PATH) {
            resolve_path_value(&L, cur);
        } else if (k->type == WP_CONFIG_PATHS) {
            size_t j;
            json_t *item;
            json_array_foreach(cur, j, item) resolve_path_value(&L, item);
        }
    }
    wp_free(valid);
    wp_free(names);
    if (L.nomem)
        return WP_E_NOMEM;
    return L.errors ? WP_E_CONFIG : WP_OK;
}
