/*
 * --steer: which worker's socket of a SO_REUSEPORT group gets a datagram.
 *
 * A classic BPF program (SO_ATTACH_REUSEPORT_CBPF) on each group returns
 * the index of a socket in the group; socket i of every group is worker
 * i's (io/main/server.c opens them in worker order). An index past the group,
 * or no program, leaves the choice to the kernel's hash of the 4-tuple.
 *
 *   cpu:    the worker pinned to the CPU that received the datagram (no
 *           cross-CPU wake-up); a CPU no worker runs on: CPU mod workers.
 *   source: the worker of a hash of the source's --rate-prefix4/6 prefix,
 *           so every per-source limit of one worker sees all of a client.
 *   none:   the kernel's hash.
 */
#ifndef STUNRING_IO_STEER_H
#define STUNRING_IO_STEER_H

#include <stdbool.h>

enum steer_mode {
    STEER_NONE,
    STEER_CPU,
    STEER_SOURCE,
};

const char *steer_mode_name(enum steer_mode mode);

/* The mode a --steer value names, or -1. */
int steer_mode_parse(const char *text);

/* One SO_REUSEPORT group: a socket of it and its address family. */
struct steer_group {
    int fd;
    int family; /* AF_INET or AF_INET6 */
};

/* What the programs need to know of the server. */
struct steer_plan {
    enum steer_mode mode;
    unsigned workers;
    const int *cpus;           /* CPU of worker i (-1: not pinned), for cpu */
    unsigned prefix4, prefix6; /* bits of a client, for source */
};

/*
 * Attaches the plan's program to every group (call it once every worker's
 * socket is in). True when the mode is in effect on every group; false for
 * none, or after one warning saying why not (CPUs not one per worker, the
 * kernel refusing the program), with every group left on the kernel's hash.
 */
bool steer_groups(const struct steer_plan *plan, const struct steer_group *groups,
                  unsigned n_groups);

#endif
