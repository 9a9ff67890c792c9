/*
 * The server: configuration, start-up, the run loop of the main thread.
 *
 * Threads: N workers (io/udp/worker.h) answer UDP, one front thread
 * (io/front/tcp.h) answers STUN over TCP, and the main thread waits for
 * signals: SIGTERM/SIGINT stop, SIGUSR1 prints the counters, SIGHUP
 * reloads, SIGUSR2 toggles drain (300 Try Alternate, core/handler.h).
 */
#ifndef STUNRING_IO_SERVER_H
#define STUNRING_IO_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/handler.h"
#include "io/main/privileges.h"
#include "io/udp/steer.h"

struct credentials;
struct longterm;

enum {
    SERVER_MAX_WORKERS = 1024,
    SERVER_MAX_FAMILIES = 2, /* one IPv4 and one IPv6 primary address */
    RX_BUF_SIZE = 2048,      /* bigger datagrams are truncated, counted, dropped */
    TX_BUF_SIZE = 2048,
    SERVER_MAX_BATCH = 1024,
    SERVER_MAX_RING_ENTRIES = 16384, /* CQ = 4 x entries, and the kernel caps a CQ at 65536 */
};

enum io_backend {
    IO_BACKEND_AUTO,
    IO_BACKEND_URING,
    IO_BACKEND_MMSG,
};

const char *io_backend_name(enum io_backend b);

/* One address family's addresses, as given on the command line. */
struct server_family {
    struct sockaddr_storage primary;   /* A1, --listen */
    struct sockaddr_storage alternate; /* A2, --alt-address */
    bool has_alternate;
};

struct server_config {
    struct server_family family[SERVER_MAX_FAMILIES];
    unsigned n_families;
    uint16_t port, alt_port;
    unsigned workers;
    int cpus[SERVER_MAX_WORKERS]; /* CPU of worker i; n_cpus == 0: i-th online CPU */
    unsigned n_cpus;
    enum io_backend backend;
    unsigned batch;        /* datagrams per recvmmsg/sendmmsg, completions per pass */
    unsigned ring_entries; /* io_uring submission queue and buffer ring size */
    int rcvbuf, sndbuf;    /* SO_RCVBUF/SO_SNDBUF; 0 keeps the kernel's default */
    const char *software;  /* SOFTWARE attribute text, NULL for none */
    bool tcp;              /* serve STUN over TCP on the primary port */
    unsigned tcp_max_conns;
    unsigned tcp_idle_ms; /* TCP and TLS */
    uint16_t tls_port;
    const char *cert, *key; /* PEM files; TLS is served when both are set */
    unsigned tls_max_conns;
    unsigned tls_handshake_ms;
    enum stun_auth_mode auth;
    unsigned credential_ttl_s;
    unsigned max_credentials;
    unsigned mint_rate;                   /* credentials a second per client IP; 0: unlimited */
    bool response_address;                /* honour RESPONSE-ADDRESS in authenticated requests */
    const char *secret_key_file;          /* NULL: a random key per process, no fleet */
    const char *secret_key_previous_file; /* also accepted, during a rollover; NULL: none */
    const char *realm;                    /* long-term credentials: REALM, with users_file */
    const char *users_file;
    unsigned nonce_ttl_s;
    /* What one client is to every per-source limit (the reflection cap,
     * minting, streams): this many leading bits of its IPv4 or IPv6
     * address (core/attr.h stun_addr_prefix). */
    unsigned rate_prefix4, rate_prefix6;
    /* Given on the command line, not defaulted: a start-up warning when the
     * backend in use ignores them. */
    bool batch_given, ring_entries_given;
    /* Streams, per client (io/front/tcp.c): open TCP and, apart, open TLS
     * connections at most (0: no cap); TLS handshakes begun a second, in
     * bursts of as many (0: no limit). */
    unsigned stream_max_per_client;
    unsigned tls_handshake_rate;
    /* --allow-peer / --deny-peer: where RESPONSE-ADDRESS (and TURN peers)
     * may point, over the defaults of core/destination.h. */
    struct stun_dest_rule peer_rules[STUN_DEST_MAX_RULES];
    unsigned n_peer_rules;
    /* The reflection cap: answers a second (0: off) and burst one client
     * prefix may be sent over UDP for unauthenticated requests, for the
     * whole server: each of the workers enforces its 1/workers share
     * (io/udp/worker.c), or all of it under --steer source. rate_table:
     * prefixes each worker's table tracks. */
    unsigned rate_limit, rate_burst, rate_table;
    /* The share of max_credentials one client prefix may hold, percent. */
    unsigned mint_share;
    /* --user: who the process becomes once every socket is bound and
     * every file read, before it says ready (io/main/privileges.h). */
    struct privileges_user user;
    /* --metrics: the Prometheus and health endpoint (io/main/metrics.h), off
     * while metrics_addr.ss_family is AF_UNSPEC; --metrics-per-worker adds
     * a worker label to each worker's datagrams received and answers sent. */
    struct sockaddr_storage metrics_addr;
    bool metrics_per_worker;
    /* --steer: which worker a datagram goes to (io/udp/steer.h); with source in
     * effect each worker enforces the whole reflection cap, not 1/workers. */
    enum steer_mode steer;
    /* Drain and shedding (RFC 8489 §10): where a 300 Try Alternate sends
     * clients, [0] IPv4 and [1] IPv6, family 0 for none; ALTERNATE-DOMAIN
     * over TLS (NULL: none); requests a second per worker beyond which it
     * answers 300 (0: off). */
    struct stun_addr alternate_server[2];
    const char *alternate_domain;
    unsigned shed_above;
};

/* What every thread reads, built once at start-up, then immutable. */
struct server_shared {
    const struct server_config *cfg;
    struct stun_handler_config handler;
    struct stun_endpoints eps[SERVER_MAX_FAMILIES]; /* per family, index as cfg->family */
    bool wildcard[SERVER_MAX_FAMILIES];             /* primary bound to a wildcard */
    struct stun_dest_policy destinations;           /* the peer rules and our own addresses */
    struct credentials *creds; /* Shared Secret credentials; written by the front thread */
    struct longterm *longterm; /* --users and the nonce key; replaced on SIGHUP */
    int stop;                  /* set (release) to stop every thread */
    /* SIGUSR2 toggles it (main thread, release store); workers and the
     * front read it per request (acquire): non-zero answers 300, and
     * /healthz says 503. */
    int draining;
};

/*
 * Blocks SIGTERM, SIGINT, SIGUSR1, SIGHUP and SIGUSR2 in the calling thread (threads it
 * starts inherit the mask; server_run takes them with sigwait) and puts
 * them in *set. main() calls it first, so a signal sent while the process
 * starts up is held, not fatal.
 */
void server_block_signals(sigset_t *set);

/*
 * Binds everything, starts the threads, serves until SIGTERM/SIGINT, then
 * drains and prints the counters. Returns the process exit code (already
 * logged, nothing left open): 0 after a clean stop, 2 when a file a flag
 * names fails to load, 1 for any other failure (io/main/cli.h).
 */
int server_run(const struct server_config *cfg);

#endif
