/*
 * One process per state folder: see state_lock.h.
 */
#include "wp_internal.h"

#include "state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct wp_state_lock {
    int fd;
};

/* The PID the holder wrote, or 0 (it may be writing it right now). */
static pid_t read_holder(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end;
    long pid = strtol(text, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? (pid_t)pid : 0;
}

enum wp_status wp__state_lock(const char *dir, struct wp_state_lock **out, pid_t *holder,
                              struct wp_error *err)
{
    *out = NULL;
    *holder = 0;
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path)) {
        snprintf(err->text, sizeof(err->text), "state folder path too long");
        return WP_E_IO;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err->text, sizeof(err->text), "cannot open '%.120s/lock': %s", dir,
                 strerror(errno));
        return WP_E_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            *holder = read_holder(fd);
        else
            snprintf(err->text, sizeof(err->text), "cannot lock '%.120s/lock': %s", dir,
                     strerror(e));
        close(fd);
        return e == EWOULDBLOCK ? WP_E_UNAVAILABLE : WP_E_IO;
    }
    struct wp_state_lock *lock = wp_malloc(sizeof(*lock));
    if (!lock) {
        close(fd);
        snprintf(err->text, sizeof(err->text), "out of memory");
        return WP_E_IO;
    }
    lock->fd = fd;
    /* Only for the message a second process prints; the lock itself is the flock. */
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* Not fatal: the lock holds; a second process just cannot name us. */
    }
    *out = lock;
    return WP_OK;
}

void wp__state_unlock(struct wp_state_lock *lock)
{
    if (!lock)
        return;
    close(lock->fd); /* releases the flock; the file stays, harmlessly */
    wp_free(lock);
}
