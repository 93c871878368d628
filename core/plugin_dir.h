/*
 * plugin_dir.h - where the installed plugins are, found from the running executable so
 * that an install tree works wherever it is copied or installed (cmake --install
 * --prefix X), not only at the prefix configure was given.
 */
#ifndef WP_PLUGIN_DIR_H
#define WP_PLUGIN_DIR_H

/*
 * wp__default_plugin_dir() - the install folder of the plugins: the folder of
 * /proc/self/exe joined with WP_PLUGIN_DIR_FROM_BINDIR (the path from the install's bin
 * folder to its plugin folder, "../lib/wirepipe/plugins" by default, set at configure time
 * from CMAKE_INSTALL_BINDIR and CMAKE_INSTALL_LIBDIR), with "." and ".." folded away.
 *
 * When that path is absolute (an absolute CMAKE_INSTALL_LIBDIR), or the executable cannot
 * be found, it is the folder configured at build time, WP_PLUGIN_INSTALL_DIR. The folder
 * need not exist.
 *
 * Returns: a new string (free with wp_free), or NULL when out of memory.
 * Thread safety: safe; reads no global state but /proc/self/exe.
 */
char *wp__default_plugin_dir(void);

/*
 * wp__plugin_dir_from_exe() - the same for an executable at @exe (an absolute path), for
 * tests: @exe's folder joined with @relative, folded. An absolute @relative is returned
 * as it is.
 *
 * Returns: a new string (free with wp_free), or NULL when out of memory or @exe has no '/'.
 */
char *wp__plugin_dir_from_exe(const char *exe, const char *relative);

#endif /* WP_PLUGIN_DIR_H */
