/*
 * names - find person names in items and cluster spellings of one person across
 * transliterations and scripts. The plugin's descriptor; names.h says where the rest is.
 */
#include "names.h"

#include <stddef.h>

#include <wirepipe/plugin.h>

static const struct wp_stage_ops *const nm_stages[] = {
    &nm_names_ops, &nm_cluster_ops, &nm_lines_ops, &nm_tsv_ops, NULL,
};

WP_PLUGIN_DEFINE(names, "0.1.0", "person names across transliterations and scripts", "MIT",
                 nm_stages)
