/* UDP sockets: one SO_REUSEPORT group per local address:port. */
#include "io/udp/sockets.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "io/addr.h"
#include "io/log.h"

static int set_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

/* The buffer size fd has now, as a wish would be stated (the kernel
 * doubles a wish for its bookkeeping and reports the double), or -1. */
static int buffer_size(int fd, int name)
{
    int value;
    socklen_t len = sizeof(value);
    return getsockopt(fd, SOL_SOCKET, name, &value, &len) < 0 ? -1 : value / 2;
}

/*
 * Buffer sizes are a wish the kernel caps at net.core.rmem_max/wmem_max,
 * unless we may force them (CAP_NET_ADMIN): not fatal either way. Returns
 * what was granted.
 */
static int set_buffer(int fd, int name, int wish)
{
    int force = name == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
    if (set_int(fd, SOL_SOCKET, force, wish) != 0)
        set_int(fd, SOL_SOCKET, name, wish);
    return buffer_size(fd, name);
}

/* Says once (the main thread opens every socket) when a buffer was capped. */
static void warn_capped(const char *flag, const char *sysctl, int wish, int granted)
{
    static bool said[2];
    bool *once = &said[sysctl[0] == 'w'];
    if (granted < 0 || granted >= wish || *once)
        return;
    *once = true;
    log_msg(LOG_WARN,
            "%s %d: the kernel gives %d, capped by net.core.%s (no CAP_NET_ADMIN to "
            "force it)",
            flag, wish, granted, sysctl);
}

static int set_options(int fd, const struct sockaddr_storage *addr, const struct server_config *cfg,
                       bool reuseport)
{
    bool v6 = addr->ss_family == AF_INET6;
    int err = reuseport ? set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) : 0;
    if (err == 0 && v6)
        err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    /* A wildcard socket must learn the address each datagram arrived at. */
    if (err == 0 && addr_is_wildcard(addr))
        err = v6 ? set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
                 : set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
    /* Every datagram the kernel drops for a full queue is counted. */
    if (err == 0)
        err = set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);
    if (err == 0 && cfg->rcvbuf > 0) {
        int granted = set_buffer(fd, SO_RCVBUF, cfg->rcvbuf);
        if (reuseport)
            warn_capped("--rcvbuf", "rmem_max", cfg->rcvbuf, granted);
    }
    if (err == 0 && cfg->sndbuf > 0) {
        int granted = set_buffer(fd, SO_SNDBUF, cfg->sndbuf);
        if (reuseport)
            warn_capped("--sndbuf", "wmem_max", cfg->sndbuf, granted);
    }
    return err;
}

int sockets_open_udp(const struct sockaddr_storage *addr, const struct server_config *cfg,
                     bool reuseport, int *fd_out)
{
    int fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = set_options(fd, addr, cfg, reuseport);
    if (err == 0 && bind(fd, (const struct sockaddr *)addr, addr_len(addr)) < 0)
        err = -errno;
    if (err != 0) {
        close(fd);
        return err;
    }
    *fd_out = fd;
    return 0;
}

int sockets_check_free(const struct sockaddr_storage *addr, const struct server_config *cfg)
{
    /* Without SO_REUSEPORT this bind fails if anyone, even another
     * stunringd that would otherwise share the group, holds the port. */
    int fd = -1;
    int err = sockets_open_udp(addr, cfg, false, &fd);
    if (err == 0)
        close(fd);
    return err;
}

int sockets_buffer_granted(int name, int wish)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int granted;
    if (wish > 0) {
        granted = set_buffer(fd, name, wish);
    } else {
        /* A fresh socket reports the default itself, not doubled. */
        granted = buffer_size(fd, name);
        granted = granted < 0 ? -1 : granted * 2;
    }
    close(fd);
    return granted;
}
