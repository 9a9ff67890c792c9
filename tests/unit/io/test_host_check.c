/*
 * Start-up warnings about kernel settings (io/main/host_check.c): what the flags
 * need (UDP buffer bytes over every socket, descriptors for the connection
 * caps), and one warning for each limit below its need, none at or above
 * it, none for a limit that could not be read.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "io/main/host_check.h"

static struct server_config config(unsigned workers, bool alternate, bool two_families)
{
    struct server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.workers = workers;
    cfg.n_families = two_families ? 2 : 1;
    cfg.family[0].has_alternate = alternate;
    cfg.family[1].has_alternate = false;
    cfg.rcvbuf = 4 << 20;
    cfg.tcp = true;
    cfg.tcp_max_conns = 1024;
    cfg.tls_max_conns = 1024;
    return cfg;
}

Test(host_needs, counts_every_udp_socket_of_every_worker)
{
    struct server_config cfg = config(8, true, true); /* 4 endpoints + 1 */
    struct host_needs need = host_needs_of(&cfg);
    cr_assert_eq(need.udp_sockets, 8 * 5);
    cr_assert_eq(need.udp_buffer_bytes, 40LL * (4 << 20));
}

Test(host_needs, descriptors_cover_the_caps_that_are_served)
{
    struct server_config cfg = config(2, false, false);
    struct host_needs tcp_only = host_needs_of(&cfg);
    cr_assert_geq(tcp_only.descriptors, 1024 + 2 + 2, "TCP's cap, the sockets, the rings");
    cr_assert_lt(tcp_only.descriptors, 1024 + 1024, "TLS is off without --cert");
    cfg.cert = "cert.pem";
    struct host_needs with_tls = host_needs_of(&cfg);
    cr_assert_eq(with_tls.descriptors, tcp_only.descriptors + 1024);
    cfg.tcp = false;
    cr_assert_eq(host_needs_of(&cfg).descriptors, tcp_only.descriptors);
}

Test(host_check, warns_about_udp_mem_below_the_buffers)
{
    struct host_needs need = {.udp_buffer_bytes = 64LL << 20, .udp_sockets = 16, .descriptors = 10};
    struct host_limits have = {
        .udp_mem_max_pages = (64 << 20) / 4096 - 1, .page_bytes = 4096, .nofile = 1024};
    cr_assert_eq(host_check_warn(&have, &need), 1);
    have.udp_mem_max_pages += 1; /* exactly enough */
    cr_assert_eq(host_check_warn(&have, &need), 0);
}

Test(host_check, warns_about_an_open_files_limit_below_the_caps)
{
    struct host_needs need = {.udp_buffer_bytes = 1, .udp_sockets = 1, .descriptors = 2200};
    struct host_limits have = {.udp_mem_max_pages = 1 << 20, .page_bytes = 4096, .nofile = 1024};
    cr_assert_eq(host_check_warn(&have, &need), 1);
    have.nofile = 2200;
    cr_assert_eq(host_check_warn(&have, &need), 0);
    have.udp_mem_max_pages = 0;
    have.nofile = 10;
    cr_assert_eq(host_check_warn(&have, &need), 2, "both, one line each");
}

Test(host_check, says_nothing_of_what_it_could_not_read)
{
    struct host_needs need = {
        .udp_buffer_bytes = 1LL << 40, .udp_sockets = 1, .descriptors = 1 << 30};
    struct host_limits have = {.udp_mem_max_pages = -1, .page_bytes = 4096, .nofile = -1};
    cr_assert_eq(host_check_warn(&have, &need), 0);
}

Test(host_check, reads_this_host)
{
    struct host_limits have = host_limits_read();
    cr_assert_gt(have.page_bytes, 0);
    cr_assert_gt(have.nofile, 0);
    cr_assert_gt(have.udp_mem_max_pages, 0, "Linux has /proc/sys/net/ipv4/udp_mem");
}
