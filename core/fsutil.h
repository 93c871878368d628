/*
 * fsutil.h - small file-system helpers shared by the core.
 */
#ifndef WP_FSUTIL_H
#define WP_FSUTIL_H

/* wp__mkdir_p() - create folder @dir and its parents (mode 0755); 0 or -1 with errno. */
int wp__mkdir_p(const char *dir);

/* wp__mkdir_parents() - create the folders above file @path; 0 or -1 with errno. */
int wp__mkdir_parents(const char *path);

#endif /* WP_FSUTIL_H */
