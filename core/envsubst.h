/*
 * envsubst.h - ${VAR} substitution in pipeline string values.
 *
 * Forms: ${VAR} (an error when VAR is unset), ${VAR:-default} (default when VAR is unset
 * or empty), ${VAR:?message} (an error carrying message when VAR is unset or empty).
 * "$${" is a literal "${". A "$" anywhere else is kept as it is. The result is never
 * expanded again, and a default is taken literally up to the first "}".
 */
#ifndef WP_ENVSUBST_H
#define WP_ENVSUBST_H

#include <stdbool.h>
#include <stddef.h>

#include <wirepipe/status.h>

#include "diag.h"

/*
 * wp__envsubst() - expand the variables in @text.
 *
 * @where prefixes each diagnostic ("pipe.json: stages[0].config.url"). Variable values
 * are never printed. Every problem in @text is reported, not only the first.
 * Returns: WP_OK with *@out a new string (free with wp_free); WP_E_CONFIG with the
 *          problems added to @diags and *@out NULL; WP_E_NOMEM.
 */
enum wp_status wp__envsubst(const char *text, const char *where, struct wp_diags *diags,
                            char **out);

#endif /* WP_ENVSUBST_H */
