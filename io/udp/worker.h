/*
 * A UDP worker: one thread, pinned to its CPU, owning one socket in every
 * SO_REUSEPORT group (each family x each endpoint), its buffers and its
 * counters. Workers never talk to each other.
 */
#ifndef STUNRING_IO_WORKER_H
#define STUNRING_IO_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "io/counters.h"
#include "io/main/server.h"

struct rate_limiter;

struct worker {
    unsigned worker_id;
    int cpu; /* -1: not pinned */
    const struct server_shared *shared;
    int fd[SERVER_MAX_FAMILIES][STUN_EP_COUNT]; /* -1 where there is no socket */
    int wake_fd;                                /* eventfd: written once to stop */
    enum io_backend backend;                    /* uring or mmsg, never auto */
    uint32_t kernel_drops_seen[SERVER_MAX_FAMILIES][STUN_EP_COUNT]; /* last SO_RXQ_OVFL */
    pthread_t thread;
    int failed;             /* set (release) when its loop died after start-up */
    uint64_t batch_wall_ms; /* wall clock when this batch began; read only with --auth */
    /* The reflection cap (--rate-limit): this worker's share of every
     * client prefix's answers; NULL when off. batch_mono_ms: its clock,
     * read once a batch. */
    struct rate_limiter *reflect_limit;
    uint64_t batch_mono_ms;
    /* --shed-above: requests seen in the second shed_second (of
     * batch_mono_ms); past the limit they are answered 300. */
    uint64_t shed_second;
    unsigned shed_count;
    struct io_counters counters;
};

/* One answer ready to send: a socket, a destination, an optional source IP. */
struct tx_meta {
    int fd;
    struct sockaddr_storage dest;
    socklen_t dest_len;
    bool set_source;         /* wildcard socket: send from source.ip via PKTINFO */
    struct stun_addr source; /* the address the request arrived at */
};

/*
 * Handles one datagram received on socket (family, ep) from src, arrived at
 * local (the socket's address, or for a wildcard socket the one PKTINFO
 * gave). Writes the answer into out and its routing into *meta. Returns the
 * answer's length, 0 for none. Counts the outcome. Runs per packet.
 */
size_t worker_handle(struct worker *w, unsigned family, enum stun_endpoint ep, const uint8_t *data,
                     size_t len, const struct sockaddr_storage *src, const struct stun_addr *local,
                     uint8_t *out, struct tx_meta *meta);

/*
 * Builds the control message that sets the source address of a send from
 * a wildcard socket (IP_PKTINFO / IPV6_PKTINFO). buf holds CMSG_SPACE of an
 * in6_pktinfo; returns the control length to put in msg_controllen.
 */
size_t worker_source_cmsg(const struct tx_meta *meta, void *buf, size_t cap);

/*
 * Reads the control messages of a datagram received on (family, ep): the
 * arrival address into *local (the socket's, unless PKTINFO says
 * otherwise) and the socket's kernel drop count into the counters.
 */
void worker_read_cmsg(struct worker *w, unsigned family, enum stun_endpoint ep, struct msghdr *msg,
                      struct stun_addr *local);

/*
 * Backends call this exactly once, when their set-up succeeded (err 0) or
 * failed (-errno): server_run waits for every worker before it says ready.
 */
void worker_report_ready(struct worker *w, int err);

/* Backends call this before handling a batch of datagrams: one clock read
 * a batch, not one a packet, for the credential and nonce expiries and
 * for the reflection cap. */
void worker_begin_batch(struct worker *w);

/* Backend loops: run until shared->stop; return 0 or -errno. */
int worker_run_mmsg(struct worker *w);
int worker_run_uring(struct worker *w);

/* Probes whether io_uring with multishot receive works here; 0 or -errno. */
int uring_probe(void);

bool worker_should_stop(const struct worker *w);

#endif
