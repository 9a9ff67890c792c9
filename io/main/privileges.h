/*
 * --user NAME[:GROUP]: once start-up succeeded (every socket bound, every
 * key and certificate read), the process becomes that user, in its group
 * or GROUP, with its supplementary groups, and with no capability left.
 *
 * Capabilities are per thread, and the workers and the front thread
 * already run when privileges drop. glibc's setgroups, setgid and setuid
 * apply to every thread of the process; the kernel empties the permitted,
 * effective and ambient sets of each thread whose uids all leave 0. The
 * inheritable set survives setuid, so it is emptied in the main thread
 * before any other starts (they inherit it). Then every thread is read
 * back from /proc/self/task/: one that kept an id or a capability stops
 * the start-up.
 */
#ifndef STUNRING_IO_PRIVILEGES_H
#define STUNRING_IO_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { PRIVILEGES_NAME_MAX = 64 };

struct privileges_user {
    bool set; /* --user given */
    uid_t uid;
    gid_t gid;
    char name[PRIVILEGES_NAME_MAX];  /* the user, for its supplementary groups */
    char group[PRIVILEGES_NAME_MAX]; /* the group's name, for the log */
};

/*
 * "NAME" or "NAME:GROUP" into *out, looked up in the passwd and group
 * databases (NAME's own group when GROUP is not given). 0, or -1 with why
 * in err: an unknown user or group, or a name too long.
 */
int privileges_resolve(const char *spec, struct privileges_user *out, char *err, size_t err_cap);

/*
 * In the main thread, before any other starts: empties the inheritable
 * and ambient capability sets and clears keep-capabilities, so that
 * threads started later inherit nothing a drop would leave behind.
 * 0 or -errno.
 */
int privileges_prepare(void);

/*
 * Becomes u: supplementary groups, group, then user (every thread), then
 * checks every thread (privileges_check). 0, or -1 with the reason in err.
 */
int privileges_drop(const struct privileges_user *u, char *err, size_t err_cap);

/*
 * privileges_drop, said in the log: one info line naming who the process
 * now is, or one error line saying why it could not be. 0 or -1.
 */
int privileges_become(const struct privileges_user *u);

/*
 * Whether every thread of this process has uid and gid as its real,
 * effective, saved and filesystem ids and empty inheritable, permitted,
 * effective and ambient capability sets, read from /proc/self/task/ *
 * /status. 0, or -1 with the first thread that does not in err.
 */
int privileges_check(uid_t uid, gid_t gid, char *err, size_t err_cap);

#endif
