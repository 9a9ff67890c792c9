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
    IO_RX,                /* datagrams received */
    IO_TX,                /* answers handed to the kernel */
    IO_TX_FAILED,         /* sends the kernel refused */
    IO_TX_SYNC,           /* of tx, sent with a plain sendmsg: every ring slot was busy */
    IO_RX_TRUNCATED,      /* datagrams larger than a receive buffer: dropped */
    IO_RX_ERRORS,         /* receive errors other than "no data" */
    IO_RX_KERNEL_DROPS,   /* datagrams the kernel dropped, socket queue full (SO_RXQ_OVFL) */
    IO_RING_REARM,        /* multishot receives re-armed after ending */
    IO_RING_NOBUFS,       /* receives that found the buffer ring empty */
    IO_RING_CQ_DROPPED,   /* completions the kernel dropped (cq.koverflow) */
    IO_RING_ENTER_ERRORS, /* io_uring_enter failures survived (ENOMEM, ...), then retried */
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
    IO_TLS_ERRORS,                 /* established connections closed on a TLS error */
    IO_TLS_RELOADS,                /* certificates swapped in on SIGHUP */
    IO_TLS_RELOAD_FAILURES,        /* SIGHUPs whose certificate or key failed to load */
    IO_USERS_RELOAD_FAILURES,      /* SIGHUPs whose --users file failed to load */
    IO_SECRET_KEY_RELOAD_FAILURES, /* SIGHUPs whose --secret-key failed to load */
    /* Streams (io/front/tcp.c). */
    IO_STREAM_TOO_LONG,    /* messages over 2,048 bytes: discarded, a request answered 400 */
    IO_TCP_REFUSED_CLIENT, /* TCP connections over --stream-max-per-client */
    IO_TLS_REFUSED_CLIENT, /* TLS connections over --stream-max-per-client */
    IO_TLS_REFUSED_HANDSHAKE_RATE, /* TLS connections over --tls-handshake-rate */
    IO_DROP_RATE_LIMITED,          /* UDP answers not sent: the reflection cap (--rate-limit) */
    /* Stream messages received, by transport (the metrics' requests by
     * transport; UDP's are rx): each whole or over-long message, and the
     * bytes that end a connection as not STUN. */
    IO_TCP_MESSAGES,
    IO_TLS_MESSAGES,
    IO_EVENT_COUNT
};

/* ERROR-CODE values a STUN message can carry (RFC 8489 §14.8: 300-699),
 * each counted where it is sent. */
enum { COUNTERS_CODE_MIN = 300, COUNTERS_CODE_SLOTS = 400 };

struct io_counters {
    _Alignas(64) uint64_t status[STUN_STATUS_COUNT]; /* outcome of each message */
    uint64_t event[IO_EVENT_COUNT];
    uint64_t code[COUNTERS_CODE_SLOTS]; /* error answers sent, by ERROR-CODE - 300 */
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

/* An error answer with ERROR-CODE code was sent; 0 (a success) counts nothing. */
static inline void counters_code(struct io_counters *c, unsigned code)
{
    if (code - COUNTERS_CODE_MIN < COUNTERS_CODE_SLOTS)
        counter_bump(&c->code[code - COUNTERS_CODE_MIN]);
}

/* The SIGUSR1 name of an event ("rx", ...). */
const char *counters_event_name(enum io_event e);

/* Adds src into sum, reading src as another thread may be writing it. */
void counters_add(struct io_counters *sum, const struct io_counters *src);

/*
 * Prints "stats NAME VALUE" lines: every status and event, error_CODE for
 * every code the handler can send (stun_status_error_code over every
 * status, both styles) and any other code counted, then the totals
 * answered_success, answered_error and dropped.
 */
void counters_print(FILE *out, const char *prefix, const struct io_counters *c);

#endif
