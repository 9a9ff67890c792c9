/*
 * The load generator's threads. Each worker owns a share of the socket
 * slots (one UDP socket each, one TCP connection when the mix has tcp,
 * one TLS connection when it has tls), one epoll, one tally and one latency histogram; workers
 * share nothing writable but their progress counters, which the main thread reads.
 *
 * UDP goes out in sendmmsg batches per socket and comes back through
 * recvmmsg batches, non-blocking, woken by the worker's epoll. Closed
 * loop: each socket keeps --window requests outstanding, refilled as soon
 * as answers come. Open loop: the worker's share of --rate is paced from
 * the clock, spread round-robin over its sockets.
 *
 * Timeline (CLOCK_MONOTONIC ns, in the plan): sending starts at t_start,
 * counting at t_measure, sending stops at t_end, and requests still
 * outstanding at t_stop (t_end + the timeout) are lost.
 */
#ifndef STUNRING_BENCH_ENGINE_H
#define STUNRING_BENCH_ENGINE_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/loadgen/histogram.h"
#include "bench/loadgen/options.h"
#include "bench/loadgen/validate.h"

/* What every worker reads and none writes, once they run. */
struct bench_plan {
    const struct bench_options *opt;
    struct sockaddr_storage local; /* source address of every socket (port 0) */
    struct bench_endpoints ep;     /* server, other; self_* filled per slot */
    bool connect_udp;              /* no change-request: connect() the UDP sockets */
    bool use_tcp;
    bool use_tls;     /* a TLS connection per slot to ep.server_tls */
    SSL_CTX *tls_ctx; /* use_tls: the client context every connection is made from */
    bool gso;         /* UDP_SEGMENT: runs of equal-size requests in one sendmsg */
    uint32_t nonce;   /* this run's, in every transaction id */
    uint32_t ring_cap;
    uint32_t cum_weight[BENCH_KIND_COUNT]; /* cumulative --mix weights */
    uint32_t total_weight;
    int single_kind; /* the only kind with a weight, or -1 */
    /* short-term-auth: minted once for the run, before it (mint.h); every
     * flow of every thread signs with it. has_cred false: none. */
    struct bench_credential cred;
    bool has_cred;
    /* long-term-auth: learned from one 401 before the run (challenge.h);
     * every flow signs with it and starts from its NONCE. */
    struct bench_longterm lt;
    bool has_lt;
    uint64_t timeout_ns, tick_ns;
    uint64_t t_start, t_measure, t_end, t_stop;
    atomic_bool interrupted; /* SIGINT/SIGTERM: stop sending now, drain */
};

struct bench_progress {
    uint64_t sent, valid, invalid, lost, stray;
};

struct bench_slot; /* engine.c: one socket slot */
struct bench_io;   /* engine.c: the worker's batches */

struct bench_worker {
    const struct bench_plan *plan;
    unsigned id;
    int cpu; /* -1: not pinned */
    struct bench_slot *slots;
    unsigned n_slots;
    int epoll_fd;
    pthread_t thread;
    bool started;

    /* Results, the owner's alone until done. */
    struct bench_tally tally;
    struct bench_hist hist;
    uint64_t unsent;       /* open loop: due but not sent (ring full, socket full, late) */
    uint64_t send_errors;  /* sendmmsg/send failures other than a full buffer */
    uint64_t tcp_failures; /* TCP or TLS connections that broke (their requests are lost) */
    uint64_t socket_drops; /* datagrams our own sockets dropped (SO_MEMINFO) */
    uint64_t end_ns;       /* when sending stopped */
    char tcp_failure[128]; /* the first failure, for the report */

    /* For the progress line: stored by the owner, loaded by the main thread. */
    _Atomic uint64_t pub[5]; /* sent, valid, invalid, lost, stray */
    atomic_bool done;

    /* Scratch for the worker loop. */
    uint64_t rng;
    struct bench_io *io;
};

/*
 * Creates the worker's sockets (slots first_socket .. + n_sockets) and its
 * epoll. 0, or -1 with a message in err.
 */
int bench_worker_init(struct bench_worker *w, const struct bench_plan *plan, unsigned id,
                      unsigned first_socket, unsigned n_sockets, char *err, size_t err_cap);

/* Starts the thread: 0 or -errno. */
int bench_worker_start(struct bench_worker *w);

void bench_worker_join(struct bench_worker *w);

/* Closes and frees what init made; safe on a partly initialised worker. */
void bench_worker_fini(struct bench_worker *w);

/* A snapshot of the counts so far (any thread). */
void bench_worker_progress(struct bench_worker *w, struct bench_progress *out);

uint64_t bench_now_ns(void);

#endif
