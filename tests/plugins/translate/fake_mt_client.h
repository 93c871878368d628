/*
 * fake_mt_client.h - start and stop tests/servers/fake_mt.py from a C test.
 */
#ifndef FAKE_MT_CLIENT_H
#define FAKE_MT_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct fake_mt {
    pid_t pid;
    int port;
    char url[64];
    char log[256];
};

/*
 * fake_mt_start() - run fake_mt.py with the comma-separated action queue @script (NULL:
 * always "ok") and, when @key is set, FAKE_MT_KEY=@key. Returns 0 once the port is known.
 */
int fake_mt_start(struct fake_mt *f, const char *script, const char *key);
void fake_mt_stop(struct fake_mt *f);

/* The request log as a new JSON array of objects (empty when nothing was logged). */
json_t *fake_mt_requests(const struct fake_mt *f);
size_t fake_mt_count(const struct fake_mt *f);

/* Whole file @path as a new NUL-terminated string, or NULL. */
char *fake_mt_slurp(const char *path);

#endif /* FAKE_MT_CLIENT_H */
