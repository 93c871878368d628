/*
 * The plugin install folder, relative to the running executable (relocatable installs).
 */
#include "wp_internal.h"

#include "plugin_dir.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#ifndef WP_PLUGIN_DIR_FROM_BINDIR
#error "WP_PLUGIN_DIR_FROM_BINDIR must be defined by the build (core/CMakeLists.txt)"
#endif
#ifndef WP_PLUGIN_INSTALL_DIR
#error "WP_PLUGIN_INSTALL_DIR must be defined by the build (core/CMakeLists.txt)"
#endif

/*
 * Append the components of @path to the absolute path in @out (@len bytes used, no
 * trailing '/' except for the root), folding "." and "..".
 */
static size_t fold_append(char *out, size_t len, const char *path)
{
    while (*path) {
        size_t n = strcspn(path, "/");
        if (n == 0 || (n == 1 && path[0] == '.')) {
            /* empty or "." component: nothing */
        } else if (n == 2 && path[0] == '.' && path[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--; /* the '/' before the dropped component */
        } else {
            if (len > 1)
                out[len++] = '/';
            memcpy(out + len, path, n);
            len += n;
        }
        out[len] = '\0';
        path += n;
        if (*path == '/')
            path++;
    }
    return len;
}

char *wp__plugin_dir_from_exe(const char *exe, const char *relative)
{
    if (relative[0] == '/')
        return wp_strdup(relative);
    const char *slash = strrchr(exe, '/');
    if (!slash || exe[0] != '/')
        return NULL;
    size_t dir_len = (size_t)(slash - exe);
    /* Folding only shortens, so the two inputs plus a separator are room enough. */
    char *out = wp_malloc(dir_len + strlen(relative) + 3);
    if (!out)
        return NULL;
    out[0] = '/';
    out[1] = '\0';
    char *dir = wp_strndup(exe, dir_len);
    if (!dir) {
        wp_free(out);
        return NULL;
    }
    size_t len = fold_append(out, 1, dir);
    fold_append(out, len, relative);
    wp_free(dir);
    return out;
}

char *wp__default_plugin_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0 && (size_t)n < sizeof(exe) - 1) {
        exe[n] = '\0';
        char *dir = wp__plugin_dir_from_exe(exe, WP_PLUGIN_DIR_FROM_BINDIR);
        if (dir)
            return dir;
    }
    return wp_strdup(WP_PLUGIN_INSTALL_DIR);
}
