/* Opening the UDP sockets of the SO_REUSEPORT groups. */
#ifndef STUNRING_IO_SOCKETS_H
#define STUNRING_IO_SOCKETS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "io/main/server.h"

/*
 * A non-blocking UDP socket bound to addr, with SO_REUSEPORT when asked,
 * PKTINFO for a wildcard address, IPV6_V6ONLY for IPv6, and the configured
 * buffer sizes. Returns 0 and *fd_out, or -errno.
 */
int sockets_open_udp(const struct sockaddr_storage *addr, const struct server_config *cfg,
                     bool reuseport, int *fd_out);

/* 0 when nobody holds addr's port; -EADDRINUSE (or another -errno) if not. */
int sockets_check_free(const struct sockaddr_storage *addr, const struct server_config *cfg);

/*
 * The SO_RCVBUF or SO_SNDBUF (name) a UDP socket gets for a wish of that
 * many bytes, as sockets_open_udp sets it (forced past the sysctl cap when
 * allowed); wish 0: the kernel's default. -1 if no socket can be opened.
 */
int sockets_buffer_granted(int name, int wish);

#endif
