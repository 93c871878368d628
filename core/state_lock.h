/*
 * state_lock.h - one process per state folder.
 *
 * Two runs on one folder (an overlapping cron job, a second service) would both fetch
 * what neither has acknowledged yet and publish it twice. The first run to use the folder
 * holds an exclusive flock(2) on <dir>/lock, which also records its PID for the message
 * the second one prints. The kernel drops the lock when the holder exits, however it dies,
 * so a stale lock file never blocks anyone.
 */
#ifndef WP_STATE_LOCK_H
#define WP_STATE_LOCK_H

#include <sys/types.h>

#include <wirepipe/status.h>

struct wp_state_lock;

/*
 * wp__state_lock() - lock folder @dir (which must exist).
 * Returns: WP_OK with *@out set; WP_E_UNAVAILABLE when another process holds it (its PID
 * in *@holder, 0 when unknown); WP_E_IO with the reason in @err otherwise.
 */
enum wp_status wp__state_lock(const char *dir, struct wp_state_lock **out, pid_t *holder,
                              struct wp_error *err);
void wp__state_unlock(struct wp_state_lock *lock);

#endif /* WP_STATE_LOCK_H */
