/*
 * plugin_loader.h - find, open and check stage plugins.
 *
 * Search order for a plugin named by the pipeline: each --plugin-path folder, each folder
 * of WIREPIPE_PLUGIN_PATH, the build tree's plugins folder next to the executable, then
 * the install folder. A stage may instead name a .so path. Plugins are opened
 * RTLD_NOW | RTLD_LOCAL and never closed while the process runs.
 *
 * Every refusal is one line in @diags, in git style, and the caller exits with 78.
 */
#ifndef WP_PLUGIN_LOADER_H
#define WP_PLUGIN_LOADER_H

#include <stddef.h>

#include <wirepipe/plugin.h>

#include "diag.h"

struct plugin_copies;

struct wp_plugin {
    char *name;
    char *path; /* absolute path of the .so */
    /*
     * The host's copy of the plugin's descriptor, at the host's struct sizes: fields the
     * plugin's headers lacked are zero. Its stages and their config keys are copies too,
     * so the rest of the core reads host-sized structs only. The plugin's own struct
     * sizes stay in @desc (stage_ops_size, http_request_size, ...).
     */
    const struct wp_plugin_desc *desc;
    struct plugin_copies *copies;
    void *handle;
};

struct wp_loader;

/* wp__loader_new() - @extra_dirs from --plugin-path (borrowed, may be NULL). */
struct wp_loader *wp__loader_new(const char *const *extra_dirs, size_t extra_count);
void wp__loader_free(struct wp_loader *loader);

/*
 * wp__loader_get() - the plugin named @name_or_path, loading it on first use.
 * @place prefixes diagnostics ("sputnik.json: stages[2].plugin").
 * Returns: a borrowed plugin, or NULL with the reason added to @diags.
 */
const struct wp_plugin *wp__loader_get(struct wp_loader *loader, const char *name_or_path,
                                       const char *place, struct wp_diags *diags);

/* wp__loader_find_stage() - stage @stage_name of @plugin (NULL: its first); NULL if none. */
const struct wp_stage_ops *wp__loader_find_stage(const struct wp_plugin *plugin,
                                                 const char *stage_name);

/*
 * wp__loader_search_dirs() - the folders searched, in order; a borrowed NULL-terminated
 * array valid until the loader is freed.
 */
const char *const *wp__loader_search_dirs(struct wp_loader *loader);

/*
 * wp__loader_load_all() - load every *.so in the search folders (for --list-plugins);
 * refusals go to @diags. Returns the loaded plugins through *@plugins (borrowed array).
 */
size_t wp__loader_load_all(struct wp_loader *loader, const struct wp_plugin *const **plugins,
                           struct wp_diags *diags);

#endif /* WP_PLUGIN_LOADER_H */
