#include "wp_internal.h"

#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_abi.h"
#include "plugin_dir.h"

#define MAX_PLUGINS     256
#define MAX_SEARCH_DIRS 64

static void free_copies(struct plugin_copies *c);

struct wp_loader {
    char *dirs[MAX_SEARCH_DIRS + 1];
    size_t dir_count;
    struct wp_plugin *plugins[MAX_PLUGINS];
    size_t plugin_count;
};

static void add_dir(struct wp_loader *loader, const char *dir, size_t len)
{
    if (len == 0 || loader->dir_count == MAX_SEARCH_DIRS)
        return;
    for (size_t i = 0; i < loader->dir_count; i++) {
        if (strlen(loader->dirs[i]) == len && memcmp(loader->dirs[i], dir, len) == 0)
            return; /* already searched earlier */
    }
    char *copy = wp_strndup(dir, len);
    if (copy)
        loader->dirs[loader->dir_count++] = copy;
}

static void add_dir_list(struct wp_loader *loader, const char *list)
{
    while (list && *list) {
        size_t len = strcspn(list, ":");
        add_dir(loader, list, len);
        list += len;
        if (*list == ':')
            list++;
    }
}

/* The plugins folder of a build tree: <build>/core/wirepipe -> <build>/plugins. */
static void add_build_tree_dir(struct wp_loader *loader)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    char candidate[PATH_MAX + 16];
    snprintf(candidate, sizeof(candidate), "%s/../plugins", exe);
    char resolved[PATH_MAX];
    struct stat st;
    if (realpath(candidate, resolved) && stat(resolved, &st) == 0 && S_ISDIR(st.st_mode))
        add_dir(loader, resolved, strlen(resolved));
}

struct wp_loader *wp__loader_new(const char *const *extra_dirs, size_t extra_count)
{
    struct wp_loader *loader = wp_calloc(1, sizeof(*loader));
    if (!loader)
        return NULL;
    for (size_t i = 0; i < extra_count; i++)
        add_dir_list(loader, extra_dirs[i]);
    add_dir_list(loader, getenv("WIREPIPE_PLUGIN_PATH"));
    add_build_tree_dir(loader);
    char *installed = wp__default_plugin_dir(); /* <exe>/../lib/wirepipe/plugins */
    if (installed)
        add_dir(loader, installed, strlen(installed));
    wp_free(installed);
    return loader;
}

void wp__loader_free(struct wp_loader *loader)
{
    if (!loader)
        return;
    for (size_t i = 0; i < loader->dir_count; i++)
        wp_free(loader->dirs[i]);
    /* The handles stay open on purpose: code of a closed plugin may still be referenced
     * by leak reports and late destructors. */
    for (size_t i = 0; i < loader->plugin_count; i++) {
        wp_free(loader->plugins[i]->name);
        wp_free(loader->plugins[i]->path);
        free_copies(loader->plugins[i]->copies);
        wp_free(loader->plugins[i]);
    }
    wp_free(loader);
}

const char *const *wp__loader_search_dirs(struct wp_loader *loader)
{
    return (const char *const *)loader->dirs;
}

static bool is_path(const char *s)
{
    size_t len = strlen(s);
    return strchr(s, '/') || (len > 3 && strcmp(s + len - 3, ".so") == 0);
}

static bool valid_plugin_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    }
    return true;
}

/* The plugin name a file must declare: its basename without ".so". */
static void name_from_path(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0)
        len -= 3;
    snprintf(out, size, "%.*s", (int)len, base);
}

static struct wp_plugin *find_loaded(struct wp_loader *loader, const char *name)
{
    for (size_t i = 0; i < loader->plugin_count; i++) {
        if (strcmp(loader->plugins[i]->name, name) == 0)
            return loader->plugins[i];
    }
    return NULL;
}

/*
 * The 2.0 sizes: the smallest struct a plugin may declare. A plugin built against later
 * headers declares more; the host reads what it knows of that and ignores the rest.
 */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define DESC_MIN_SIZE        END_OF(struct wp_plugin_desc, reserved)
#define STAGE_OPS_MIN_SIZE   END_OF(struct wp_stage_ops, reserved)
#define CONFIG_KEY_MIN_SIZE  END_OF(struct wp_config_key, min_items)
#define MAX_STAGES           64
#define MAX_CONFIG_KEYS      256

/* The host's copies of what a plugin declared, at the host's struct sizes. */
struct plugin_copies {
    struct wp_plugin_desc desc;
    struct wp_stage_ops ops[MAX_STAGES];
    const struct wp_stage_ops *stage_list[MAX_STAGES + 1];
    struct wp_config_key *keys[MAX_STAGES];
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static bool all_null(void *const *slots, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (slots[i])
            return false;
    }
    return true;
}

/* The version and size checks, before anything else of the descriptor is read. */
static bool check_abi(const struct wp_plugin_desc *desc, const char *name, const char *place,
                      struct wp_diags *diags)
{
    if (desc->abi_major != WP_ABI_MAJOR) {
        wp__diags_add(diags, "%s: plugin '%s' was built for ABI %u.%u, host has %d.%d", place, name,
                      desc->abi_major, desc->abi_minor, WP_ABI_MAJOR, WP_ABI_MINOR);
        return false;
    }
    if (desc->struct_size < DESC_MIN_SIZE) {
        wp__diags_add(diags, "%s: plugin '%s' has a descriptor of %u bytes; ABI %d.0 needs %zu",
                      place, name, desc->struct_size, WP_ABI_MAJOR, DESC_MIN_SIZE);
        return false;
    }
    if (desc->min_host_minor > WP_ABI_MINOR) {
        wp__diags_add(diags, "%s: plugin '%s' needs host ABI %u.%u or newer, host has %d.%d", place,
                      name, desc->abi_major, desc->min_host_minor, WP_ABI_MAJOR, WP_ABI_MINOR);
        return false;
    }
    const struct {
        const char *what;
        uint32_t declared;
        size_t least;
    } sizes[] = {
        {"struct wp_stage_ops", desc->stage_ops_size, STAGE_OPS_MIN_SIZE},
        {"struct wp_config_key", desc->config_key_size, CONFIG_KEY_MIN_SIZE},
        {"struct wp_http_request", desc->http_request_size, WP_HTTP_REQUEST_MIN_SIZE},
        {"struct wp_http_response", desc->http_response_size, WP_HTTP_RESPONSE_MIN_SIZE},
    };
    for (size_t i = 0; i < WP_ARRAY_SIZE(sizes); i++) {
        if (sizes[i].declared < sizes[i].least) {
            wp__diags_add(diags, "%s: plugin '%s' declares %s of %u bytes; ABI %d.0 needs %zu",
                          place, name, sizes[i].what, sizes[i].declared, WP_ABI_MAJOR,
                          sizes[i].least);
            return false;
        }
    }
    return true;
}

/* Copy the config keys of one stage, read with the plugin's stride, up to the NULL name. */
static struct wp_config_key *copy_keys(const struct wp_plugin_desc *desc,
                                       const struct wp_config_key *keys, const char *name,
                                       const char *stage, const char *place, struct wp_diags *diags)
{
    size_t count = 0;
    const char *base = (const char *)keys;
    while (keys && count < MAX_CONFIG_KEYS &&
           ((const struct wp_config_key *)(base + count * desc->config_key_size))->name)
        count++;
    if (count == MAX_CONFIG_KEYS) {
        wp__diags_add(diags,
                      "%s: plugin '%s' stage '%s' has no end to its config keys (at most %d)",
                      place, name, stage, MAX_CONFIG_KEYS);
        return NULL;
    }
    struct wp_config_key *copy = wp_calloc(count + 1, sizeof(*copy));
    if (!copy) {
        wp__diags_add(diags, "%s: out of memory", place);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(&copy[i], base + i * desc->config_key_size,
               min_size(desc->config_key_size, sizeof(*copy)));
    return copy;
}

static void free_copies(struct plugin_copies *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MAX_STAGES; i++)
        wp_free(c->keys[i]);
    wp_free(c);
}

/*
 * Check the descriptor and make the host's copies of it, its stages and their keys.
 * Returns NULL with a diagnostic on refusal.
 */
static struct plugin_copies *adopt_descriptor(const struct wp_plugin_desc *desc,
                                              const char *expected_name, const char *path,
                                              const char *place, struct wp_diags *diags)
{
    if (!check_abi(desc, expected_name, place, diags))
        return NULL;
    struct plugin_copies *c = wp_calloc(1, sizeof(*c));
    if (!c) {
        wp__diags_add(diags, "%s: out of memory", place);
        return NULL;
    }
    memcpy(&c->desc, desc, min_size(desc->struct_size, sizeof(c->desc)));
    const struct wp_plugin_desc *d = &c->desc;
    if (d->reserved16 || !all_null(d->reserved, WP_ARRAY_SIZE(d->reserved))) {
        wp__diags_add(diags, "%s: plugin '%s' sets a reserved descriptor slot; they must be zero",
                      place, expected_name);
        goto refuse;
    }
    if (!d->name || strcmp(d->name, expected_name) != 0) {
        wp__diags_add(diags, "%s: plugin file '%s' declares the name '%s'; it must be '%s'", place,
                      path, d->name ? d->name : "(none)", expected_name);
        goto refuse;
    }
    if (!d->version || !*d->version || !d->description || !d->license) {
        wp__diags_add(diags, "%s: plugin '%s' leaves version, description or license empty", place,
                      expected_name);
        goto refuse;
    }
    if (!d->stages || !d->stages[0]) {
        wp__diags_add(diags, "%s: plugin '%s' declares no stages", place, expected_name);
        goto refuse;
    }
    size_t n = 0;
    for (; d->stages[n]; n++) {
        if (n == MAX_STAGES) {
            wp__diags_add(diags, "%s: plugin '%s' declares more than %d stages", place,
                          expected_name, MAX_STAGES);
            goto refuse;
        }
        struct wp_stage_ops *ops = &c->ops[n];
        memcpy(ops, d->stages[n], min_size(d->stage_ops_size, sizeof(*ops)));
        if (!ops->name || !*ops->name || !ops->create || !ops->process) {
            wp__diags_add(diags, "%s: plugin '%s' stage %zu lacks a name, create or process", place,
                          expected_name, n);
            goto refuse;
        }
        if (!all_null(ops->reserved, WP_ARRAY_SIZE(ops->reserved))) {
            wp__diags_add(diags,
                          "%s: plugin '%s' stage '%s' sets a reserved slot; they must be NULL",
                          place, expected_name, ops->name);
            goto refuse;
        }
        if (ops->config) {
            c->keys[n] = copy_keys(d, ops->config, expected_name, ops->name, place, diags);
            if (!c->keys[n])
                goto refuse;
            ops->config = c->keys[n];
        }
        c->stage_list[n] = ops;
    }
    c->desc.stages = c->stage_list;
    return c;

refuse:
    free_copies(c);
    return NULL;
}

static struct wp_plugin *open_plugin(struct wp_loader *loader, const char *path, const char *place,
                                     struct wp_diags *diags)
{
    char name[80];
    name_from_path(path, name, sizeof(name));
    if (!valid_plugin_name(name)) {
        wp__diags_add(diags, "%s: '%s' is not a valid plugin file name (want [a-z0-9_]+.so)", place,
                      path);
        return NULL;
    }
    char resolved[PATH_MAX];
    if (!realpath(path, resolved)) {
        wp__diags_add(diags, "%s: cannot open plugin '%s': %s", place, path, strerror(errno));
        return NULL;
    }
    struct wp_plugin *same = find_loaded(loader, name);
    if (same) {
        if (strcmp(same->path, resolved) == 0)
            return same;
        wp__diags_add(diags, "%s: plugin '%s' is already loaded from '%s'; refusing '%s'", place,
                      name, same->path, resolved);
        return NULL;
    }
    if (loader->plugin_count == MAX_PLUGINS) {
        wp__diags_add(diags, "%s: too many plugins (at most %d)", place, MAX_PLUGINS);
        return NULL;
    }

    void *handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        wp__diags_add(diags,
                      "%s: cannot load '%s': %s (is it a shared object built for this "
                      "machine? check missing libraries with ldd)",
                      place, resolved, why ? why : "unknown error");
        return NULL;
    }
    char symbol[96];
    snprintf(symbol, sizeof(symbol), "wp_plugin_%s", name);
    dlerror();
    const struct wp_plugin_desc *(*entry)(void);
    *(void **)&entry = dlsym(handle, symbol);
    if (!entry) {
        wp__diags_add(diags, "%s: '%s' has no entry symbol '%s' (is it a wirepipe plugin?)", place,
                      resolved, symbol);
        return NULL;
    }
    const struct wp_plugin_desc *desc = entry();
    if (!desc) {
        wp__diags_add(diags, "%s: plugin '%s' returned no descriptor", place, name);
        return NULL;
    }
    struct plugin_copies *copies = adopt_descriptor(desc, name, resolved, place, diags);
    if (!copies)
        return NULL;

    struct wp_plugin *plugin = wp_calloc(1, sizeof(*plugin));
    if (!plugin) {
        free_copies(copies);
        wp__diags_add(diags, "%s: out of memory", place);
        return NULL;
    }
    plugin->name = wp_strdup(name);
    plugin->path = wp_strdup(resolved);
    if (!plugin->name || !plugin->path) {
        wp_free(plugin->name);
        wp_free(plugin->path);
        wp_free(plugin);
        free_copies(copies);
        wp__diags_add(diags, "%s: out of memory", place);
        return NULL;
    }
    plugin->copies = copies;
    plugin->desc = &copies->desc;
    plugin->handle = handle;
    loader->plugins[loader->plugin_count++] = plugin;
    return plugin;
}

const struct wp_plugin *wp__loader_get(struct wp_loader *loader, const char *name_or_path,
                                       const char *place, struct wp_diags *diags)
{
    if (!name_or_path || !*name_or_path || strlen(name_or_path) >= PATH_MAX) {
        wp__diags_add(diags, "%s: empty or overlong plugin name", place);
        return NULL;
    }
    if (is_path(name_or_path))
        return open_plugin(loader, name_or_path, place, diags);

    struct wp_plugin *loaded = find_loaded(loader, name_or_path);
    if (loaded)
        return loaded;
    if (!valid_plugin_name(name_or_path)) {
        wp__diags_add(diags, "%s: '%s' is not a valid plugin name (want [a-z0-9_]+)", place,
                      name_or_path);
        return NULL;
    }
    for (size_t i = 0; i < loader->dir_count; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s.so", loader->dirs[i], name_or_path);
        if (access(path, F_OK) == 0)
            return open_plugin(loader, path, place, diags);
    }
    char searched[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < loader->dir_count && used < sizeof(searched); i++) {
        int n = snprintf(searched + used, sizeof(searched) - used, "%s%s", i ? ", " : "",
                         loader->dirs[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    wp__diags_add(diags, "%s: no plugin '%s' (searched: %s)", place, name_or_path,
                  loader->dir_count ? searched : "no folders");
    return NULL;
}

const struct wp_stage_ops *wp__loader_find_stage(const struct wp_plugin *plugin,
                                                 const char *stage_name)
{
    if (!stage_name)
        return plugin->desc->stages[0];
    for (size_t i = 0; plugin->desc->stages[i]; i++) {
        if (strcmp(plugin->desc->stages[i]->name, stage_name) == 0)
            return plugin->desc->stages[i];
    }
    return NULL;
}

/*
 * Open @path in a child process first, so that a library whose constructor crashes,
 * aborts or exits cannot take the listing down with it: only a child that got as far as
 * returning a descriptor reports "loaded". The parent then loads the file itself for the
 * real checks and their messages. False (with a diagnostic) when the child died.
 */
static bool survives_loading(const char *path, struct wp_diags *diags)
{
    char name[80];
    name_from_path(path, name, sizeof(name));
    int fds[2];
    if (pipe(fds) != 0)
        return true; /* cannot isolate: load it as before */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return true;
    }
    if (pid == 0) {
        close(fds[0]);
        void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        char symbol[96];
        snprintf(symbol, sizeof(symbol), "wp_plugin_%s", name);
        const struct wp_plugin_desc *(*entry)(void) = NULL;
        if (handle)
            *(void **)&entry = dlsym(handle, symbol);
        if (entry)
            (void)entry();
        /* Loaded, or refused in an ordinary way: the parent says which. */
        if (write(fds[1], "ok", 2) != 2)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    char token[2] = {0};
    ssize_t got = read(fds[0], token, sizeof(token));
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got == 2 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFSIGNALED(status))
        wp__diags_add(diags, "%s: crashed while loading (signal %d: %s); skipped", path,
                      WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        wp__diags_add(diags, "%s: exited while loading (status %d); skipped", path,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return false;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t wp__loader_load_all(struct wp_loader *loader, const struct wp_plugin *const **plugins,
                           struct wp_diags *diags)
{
    for (size_t i = 0; i < loader->dir_count; i++) {
        DIR *dir = opendir(loader->dirs[i]);
        if (!dir)
            continue;
        char *names[MAX_PLUGINS];
        size_t count = 0;
        struct dirent *entry;
        while ((entry = readdir(dir)) && count < MAX_PLUGINS) {
            size_t len = strlen(entry->d_name);
            if (len > 3 && strcmp(entry->d_name + len - 3, ".so") == 0)
                names[count++] = wp_strdup(entry->d_name);
        }
        closedir(dir);
        qsort(names, count, sizeof(names[0]), compare_names);
        for (size_t j = 0; j < count; j++) {
            char name[80];
            if (!names[j])
                continue;
            name_from_path(names[j], name, sizeof(name));
            /* An earlier folder wins, as it does when a pipeline names the plugin. */
            if (!find_loaded(loader, name)) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", loader->dirs[i], names[j]);
                if (survives_loading(path, diags))
                    open_plugin(loader, path, path, diags);
            }
            wp_free(names[j]);
        }
    }
    *plugins = (const struct wp_plugin *const *)loader->plugins;
    return loader->plugin_count;
}
