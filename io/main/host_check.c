#include "io/main/host_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/log.h"

/* Descriptors beyond the connections and sockets: listeners, the eventfds,
 * the log, the files a reload opens, the metrics endpoint's clients. */
enum { DESCRIPTOR_MARGIN = 64 };

struct host_needs host_needs_of(const struct server_config *cfg)
{
    unsigned per_worker = 0;
    for (unsigned f = 0; f < cfg->n_families; f++)
        per_worker += cfg->family[f].has_alternate ? STUN_EP_COUNT : 1;
    struct host_needs need = {.udp_sockets = per_worker * cfg->workers};
    need.udp_buffer_bytes = (long long)cfg->rcvbuf * need.udp_sockets;
    long long streams = (cfg->tcp ? cfg->tcp_max_conns : 0) +
                        (cfg->cert != NULL ? (long long)cfg->tls_max_conns : 0);
    /* Each worker: its UDP sockets and an io_uring (or none). */
    need.descriptors = streams + need.udp_sockets + cfg->workers + DESCRIPTOR_MARGIN;
    return need;
}

/* The third number of /proc/sys/net/ipv4/udp_mem, in pages, or -1. */
static long long read_udp_mem_max(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/udp_mem", "re");
    if (f == NULL)
        return -1;
    long long low, pressure, high;
    int got = fscanf(f, "%lld %lld %lld", &low, &pressure, &high);
    fclose(f);
    return got == 3 ? high : -1;
}

struct host_limits host_limits_read(void)
{
    struct rlimit nofile;
    struct host_limits have = {
        .udp_mem_max_pages = read_udp_mem_max(),
        .page_bytes = sysconf(_SC_PAGESIZE),
        .nofile = -1,
    };
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        have.nofile = nofile.rlim_cur == RLIM_INFINITY ? INT64_MAX : (long long)nofile.rlim_cur;
    return have;
}

unsigned host_check_warn(const struct host_limits *have, const struct host_needs *need)
{
    unsigned said = 0;
    long long udp_mem_bytes = have->udp_mem_max_pages * have->page_bytes;
    if (have->udp_mem_max_pages >= 0 && have->page_bytes > 0 &&
        udp_mem_bytes < need->udp_buffer_bytes) {
        log_msg(LOG_WARN,
                "net.ipv4.udp_mem: all UDP sockets together may hold %lld MiB, less than "
                "--rcvbuf for our %u sockets (%lld MiB): under a flood the kernel drops "
                "before the buffers fill (see deploy/sysctl/90-stunring.conf)",
                udp_mem_bytes >> 20, need->udp_sockets, need->udp_buffer_bytes >> 20);
        said++;
    }
    if (have->nofile >= 0 && have->nofile < need->descriptors) {
        log_msg(LOG_WARN,
                "open files limit %lld is below the %lld descriptors --tcp-max-conns, "
                "--tls-max-conns and the sockets need: connections past it are refused "
                "(raise ulimit -n, or LimitNOFILE= in the unit)",
                have->nofile, need->descriptors);
        said++;
    }
    return said;
}

void host_check(const struct server_config *cfg)
{
    struct host_limits have = host_limits_read();
    struct host_needs need = host_needs_of(cfg);
    host_check_warn(&have, &need);
}
