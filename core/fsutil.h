/*
 * fsutil.h - small file-system helpers shared by the core.
 */
#ifndef WP_FSUTIL_H
#define WP_FSUTIL_H

#include <sys/types.h>

/*
 * wp__mkdir_p() - create folder @dir and its parents with @mode (existing folders are left
 * as they are), and check that @dir is a folder. Returns 0, or -1 with errno set.
 */
int wp__mkdir_p(const char *dir, mode_t mode);

/* wp__mkdir_parents() - create the folders above file @path (0755); 0 or -1 with errno. */
int wp__mkdir_parents(const char *path);

#endif /* WP_FSUTIL_H */
