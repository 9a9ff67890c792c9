/*
 * Per-worker counters. Each worker owns one struct, aligned to its own
 * cache lines, and is its only writer (relaxed load + store: plain moves,
 * no locked instruction on the packet path). Readers (SIGUSR1, exit) sum
 * them with relaxed loads: a sum taken while workers run may lag by a few
 * packets, never tears.
 */
#ifndef STUNRING_IO_COUNTERS_H
#define STUNRING_IO_COUNTERS_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

enum io_event {
    IO_RX,              /* datagrams received */
    IO_TX,              /* answers handed to the kernel */
    IO_TX_FAILED,       /* sends the kernel refused */
    IO_TX_SYNC,         /* of tx, sent with a plain sendmsg: every ring slot was busy */
    IO_RX_TRUNCATED,    /* datagrams larger than a receive buffer: dropped */
    IO_RX_ERRORS,       /* receive errors other than "no data" */
    IO_RX_KERNEL_DROPS, /* datagrams the kernel dropped, socket queue full (SO_RXQ_OVFL) */
    IO_RING_REARM,      /* multishot receives re-armed after ending */
    IO_RING_NOBUFS,     /* receives that found the buffer ring empty */
    IO_RING_CQ_DROPPED, /* completions the kernel dropped (cq.koverflow) */
    IO_TCP_ACCEPTED,
    IO_TCP_REFUSED, /* connections over --tcp-max-conns */
    IO_TCP_IDLE_CLOSED,
    IO_TCP_GARBAGE_CLOSED,
    IO_TLS_ACCEPTED,
    IO_TLS_REFUSED,           /* connections over --tls-max-conns */
    IO_TLS_HANDSHAKES,        /* handshakes completed */
    IO_TLS_HANDSHAKE_FAILED,  /* handshakes the peer or OpenSSL broke off */
    IO_TLS_HANDSHAKE_TIMEOUT, /* handshakes not done within --tls-handshake-ms */
    IO_TLS_IDLE_CLOSED,
    IO_TLS_ERRORS,        /* established connections closed on a TLS error */
    IO_TLS_RELOADS,       /* certificates swapped in on SIGHUP */
    IO_DROP_RATE_LIMITED, /* UDP answers not sent: the reflection cap (--rate-limit) */
    IO_EVENT_COUNT
};

struct io_counters {
    _Alignas(64) uint64_t status[STUN_STATUS_COUNT]; /* outcome of each message */
    uint64_t event[IO_EVENT_COUNT];
};

/* One writer: a relaxed load and store, no locked instruction, no data race. */
static inline void counter_bump(uint64_t *p)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline void counter_add(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void counters_status(struct io_counters *c, enum stun_status s)
{
    counter_bump(&c->status[s]);
}

static inline void counters_event(struct io_counters *c, enum io_event e)
{
    counter_bump(&c->event[e]);
}

/* Adds src into sum, reading src as another thread may be writing it. */
void counters_add(struct io_counters *sum, const struct io_counters *src);

/*
 * Prints "stats NAME VALUE" lines: every status and event, then derived
 * totals (answered_success, answered_error, error_CODE, dropped).
 */
void counters_print(FILE *out, const char *prefix, const struct io_counters *c);

#endif
