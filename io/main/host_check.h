#ifndef STUNRING_IO_HOST_CHECK_H
#define STUNRING_IO_HOST_CHECK_H

#include <stdbool.h>

#include "io/main/server.h"

/*
 * Start-up warnings about kernel settings below what the flags ask for
 * (deploy/sysctl/90-stunring.conf raises them). A --rcvbuf or --sndbuf
 * past net.core.rmem_max/wmem_max is io/udp/sockets.c's warning (it knows
 * whether CAP_NET_ADMIN forced the size); this adds what no single
 * socket can see:
 * - net.ipv4.udp_mem: the pages all UDP sockets together may hold. Below
 *   the sum of our sockets' --rcvbuf the kernel drops under a flood while
 *   each buffer still has room.
 * - RLIMIT_NOFILE (LimitNOFILE= in the unit): below the descriptors the
 *   connection caps and the sockets need, connections are refused with
 *   EMFILE before --tcp-max-conns or --tls-max-conns is reached.
 */

/* What the host grants; -1: unknown (unreadable), never warned about. */
struct host_limits {
    long long udp_mem_max_pages; /* third field of net.ipv4.udp_mem */
    long long page_bytes;
    long long nofile; /* RLIMIT_NOFILE, soft */
};

/* What the flags ask of it. */
struct host_needs {
    long long udp_buffer_bytes; /* --rcvbuf times the UDP sockets */
    unsigned udp_sockets;
    long long descriptors; /* connection caps, sockets, rings, margin */
};

struct host_needs host_needs_of(const struct server_config *cfg);

/* Reads the limits from /proc/sys and getrlimit. */
struct host_limits host_limits_read(void);

/* Warns about each limit below its need; returns how many were. */
unsigned host_check_warn(const struct host_limits *have, const struct host_needs *need);

/* host_check_warn() on this host, for cfg. */
void host_check(const struct server_config *cfg);

#endif
