/* --user: who the process becomes once start-up succeeded (io/main/privileges.h). */
#include "io/main/privileges.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io/log.h"

/* "NAME" into out (cap bytes): 0, or -1 when it does not fit. */
static int copy_name(char *out, size_t cap, const char *name, size_t len)
{
    if (len == 0 || len >= cap)
        return -1;
    memcpy(out, name, len);
    out[len] = '\0';
    return 0;
}

int privileges_resolve(const char *spec, struct privileges_user *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof(*out));
    const char *colon = strchr(spec, ':');
    size_t user_len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (copy_name(out->name, sizeof(out->name), spec, user_len) != 0 ||
        (colon && copy_name(out->group, sizeof(out->group), colon + 1, strlen(colon + 1)) != 0)) {
        snprintf(err, err_cap, "want NAME or NAME:GROUP of 1 to %d characters each, got '%s'",
                 PRIVILEGES_NAME_MAX - 1, spec);
        return -1;
    }
    const struct passwd *pw = getpwnam(out->name);
    if (pw == NULL) {
        snprintf(err, err_cap, "no user '%s' on this system", out->name);
        return -1;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    const struct group *gr = colon ? getgrnam(out->group) : getgrgid(out->gid);
    if (gr == NULL && colon) {
        snprintf(err, err_cap, "no group '%s' on this system", out->group);
        return -1;
    }
    if (gr != NULL) {
        out->gid = gr->gr_gid;
        snprintf(out->group, sizeof(out->group), "%s", gr->gr_name);
    } else { /* a primary group with no name: its number */
        snprintf(out->group, sizeof(out->group), "%u", (unsigned)out->gid);
    }
    out->set = true;
    return 0;
}

int privileges_prepare(void)
{
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &head, data) != 0)
        return -errno;
    data[0].inheritable = data[1].inheritable = 0;
    if (syscall(SYS_capset, &head, data) != 0)
        return -errno;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -errno; /* EINVAL: a kernel before ambient capabilities (4.3) */
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
        return -errno;
    return 0;
}

int privileges_drop(const struct privileges_user *u, char *err, size_t err_cap)
{
    /* Groups first: once the uid is not 0, they can no longer change. */
    if (initgroups(u->name, u->gid) != 0) {
        snprintf(err, err_cap, "setting the groups of %s: %s", u->name, strerror(errno));
        return -1;
    }
    if (setgid(u->gid) != 0) {
        snprintf(err, err_cap, "setgid %u: %s", (unsigned)u->gid, strerror(errno));
        return -1;
    }
    if (setuid(u->uid) != 0) {
        snprintf(err, err_cap, "setuid %u: %s", (unsigned)u->uid, strerror(errno));
        return -1;
    }
    return privileges_check(u->uid, u->gid, err, err_cap);
}

int privileges_become(const struct privileges_user *u)
{
    char err[512];
    if (privileges_drop(u, err, sizeof(err)) != 0) {
        log_msg(LOG_ERROR, "--user %s: dropping privileges failed: %s", u->name, err);
        return -1;
    }
    log_msg(LOG_INFO, "running as user %s (%u), group %s (%u), no capabilities", u->name,
            (unsigned)u->uid, u->group, (unsigned)u->gid);
    return 0;
}

/* Whether a "Uid:" or "Gid:" line's four ids (real, effective, saved,
 * filesystem) all are want. */
static bool ids_are(const char *values, unsigned long want)
{
    char *end;
    for (int i = 0; i < 4; i++) {
        unsigned long id = strtoul(values, &end, 10);
        if (end == values || id != want)
            return false;
        values = end;
    }
    return true;
}

/* Whether a "CapXxx:" line's set (hex) is empty. */
static bool caps_empty(const char *values)
{
    char *end;
    unsigned long long set = strtoull(values, &end, 16);
    return end != values && set == 0;
}

/* Which of the six lines checked line is (its bit; 0: another line), and
 * in *ok whether it holds what it must. */
static unsigned check_line(const char *line, uid_t uid, gid_t gid, bool *ok)
{
    static const char *const caps[] = {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"};
    *ok = true;
    if (strncmp(line, "Uid:", 4) == 0) {
        *ok = ids_are(line + 4, uid);
        return 1;
    }
    if (strncmp(line, "Gid:", 4) == 0) {
        *ok = ids_are(line + 4, gid);
        return 2;
    }
    for (unsigned i = 0; i < 4; i++) {
        if (strncmp(line, caps[i], 7) == 0) {
            *ok = caps_empty(line + 7);
            return 4u << i;
        }
    }
    return 0;
}

/* One thread's status text: 0, or -1 with what is wrong in err. */
static int check_status(const char *tid, char *text, uid_t uid, gid_t gid, char *err,
                        size_t err_cap)
{
    unsigned found = 0; /* the bits of the lines seen */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        bool ok;
        found |= check_line(line, uid, gid, &ok);
        if (!ok) {
            for (char *tab = strchr(line, '\t'); tab != NULL; tab = strchr(tab, '\t'))
                *tab = ' ';
            snprintf(err, err_cap, "thread %s still has %s", tid, line);
            return -1;
        }
    }
    if (found != 0x3F) {
        snprintf(err, err_cap, "thread %s: its status lacks a Uid, Gid or Cap line", tid);
        return -1;
    }
    return 0;
}

/* /proc/self/task/TID/status into text (cap bytes): 0 or -errno. */
static int read_status(const char *tid, char *text, size_t cap)
{
    char path[300]; /* a d_name is at most 255 bytes */
    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    size_t n = fread(text, 1, cap - 1, f);
    fclose(f);
    text[n] = '\0';
    return 0;
}

int privileges_check(uid_t uid, gid_t gid, char *err, size_t err_cap)
{
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL) {
        snprintf(err, err_cap, "/proc/self/task: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    unsigned threads = 0;
    for (const struct dirent *e; rc == 0 && (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char text[4096];
        int read_err = read_status(e->d_name, text, sizeof(text));
        if (read_err == -ENOENT)
            continue; /* a thread that ended meanwhile */
        if (read_err != 0) {
            snprintf(err, err_cap, "reading the status of thread %s: %s", e->d_name,
                     strerror(-read_err));
            rc = -1;
        } else {
            rc = check_status(e->d_name, text, uid, gid, err, err_cap);
            threads++;
        }
    }
    closedir(dir);
    if (rc == 0 && threads == 0) {
        snprintf(err, err_cap, "/proc/self/task lists no thread");
        rc = -1;
    }
    return rc;
}
