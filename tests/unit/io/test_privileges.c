/*
 * --user's parts that need no root: NAME[:GROUP] looked up (an unknown
 * user or group, an empty or over-long part refused with its name), and
 * the check of every thread's ids refusing a process that is not yet who
 * it should be.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "io/main/privileges.h"

static struct privileges_user u;
static char err[512];

Test(privileges, a_user_alone_takes_its_own_group)
{
    cr_assert_eq(privileges_resolve("nobody", &u, err, sizeof(err)), 0, "%s", err);
    cr_assert(u.set);
    cr_assert_eq(u.uid, 65534); /* Debian's nobody */
    cr_assert_eq(u.gid, 65534);
    cr_assert_str_eq(u.name, "nobody");
    cr_assert_str_eq(u.group, "nogroup");
}

Test(privileges, a_group_named_replaces_the_users_own)
{
    cr_assert_eq(privileges_resolve("nobody:root", &u, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(u.uid, 65534);
    cr_assert_eq(u.gid, 0);
    cr_assert_str_eq(u.group, "root");
}

Test(privileges, unknown_names_refused_by_name)
{
    cr_assert_eq(privileges_resolve("no-such-user-x", &u, err, sizeof(err)), -1);
    cr_assert(strstr(err, "no user 'no-such-user-x'") != NULL, "%s", err);
    cr_assert_not(u.set);
    cr_assert_eq(privileges_resolve("nobody:no-such-group-x", &u, err, sizeof(err)), -1);
    cr_assert(strstr(err, "no group 'no-such-group-x'") != NULL, "%s", err);
    cr_assert_not(u.set);
}

Test(privileges, empty_or_long_parts_refused)
{
    char longname[PRIVILEGES_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = {"", ":", "nobody:", ":nogroup", longname};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(privileges_resolve(bad[i], &u, err, sizeof(err)), -1, "'%s'", bad[i]);
        cr_expect(strstr(err, "want NAME or NAME:GROUP") != NULL, "'%s': %s", bad[i], err);
    }
}

static void *idle(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

Test(privileges, the_check_refuses_ids_not_yet_changed)
{
    pthread_t t; /* a second thread, as the daemon's workers */
    cr_assert_eq(pthread_create(&t, NULL, idle, NULL), 0);
    uid_t other = getuid() + 1;
    cr_assert_eq(privileges_check(other, getgid(), err, sizeof(err)), -1);
    cr_assert(strstr(err, "still has Uid:") != NULL, "%s", err);
    cr_assert(strchr(err, '\t') == NULL, "one readable line: %s", err);
}
