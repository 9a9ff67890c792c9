/*
 * The Prometheus and health endpoint (--metrics ADDR:PORT): a small
 * HTTP/1.1 server on a thread of its own, never on a worker.
 *
 *   GET /metrics  the counters in the text exposition format 0.0.4
 *   GET /healthz  200 while every worker is armed and the server is not
 *                 draining, 503 otherwise
 *
 * Anything else gets 400, 404 or 405, and every answer closes its
 * connection. A scrape reads the per-worker counters with relaxed loads
 * (counters_add): the packet path takes no lock and no shared atomic
 * read-modify-write for it. Bounded: METRICS_MAX_CONNS connections (a new
 * one evicts the oldest), METRICS_REQUEST_MAX bytes of request, and
 * METRICS_DEADLINE_MS from accept to the last byte written; sockets are
 * non-blocking, so a slow or hostile scraper stalls no one.
 *
 * Every counter SIGUSR1 prints is one series, or the sum of several, of
 * /metrics: the table in metrics.c says which (metrics_print_map).
 */
#ifndef STUNRING_IO_METRICS_H
#define STUNRING_IO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/counters.h"

struct server_shared;
struct worker;
struct tcp_front;
struct metrics;

enum {
    METRICS_MAX_CONNS = 8,
    METRICS_REQUEST_MAX = 2048, /* request line and headers */
    METRICS_DEADLINE_MS = 2000, /* accept to last byte out */
};

/* What a scrape reads; all owned by the server, alive until metrics_stop. */
struct metrics_sources {
    const struct server_shared *shared; /* cfg, credentials, draining, stop */
    const struct worker *workers;
    unsigned n_workers;
    const struct tcp_front *front;       /* NULL: no TCP or TLS */
    const struct io_counters *main_only; /* the main thread's (reload failures) */
};

/* Process figures for the standard process_* metrics. */
struct metrics_process {
    double cpu_seconds;
    uint64_t resident_bytes;
    unsigned open_fds;
    uint64_t max_fds;
    double start_time_seconds; /* since the epoch */
};

/* One scrape's reading of everything, rendered by metrics_render. */
struct metrics_view {
    struct io_counters total; /* every worker, the front and the main thread */
    unsigned workers;
    bool has_credentials;
    unsigned credentials;
    bool draining;
    bool has_heap;
    uint64_t heap_mallocs;
    const uint64_t *worker_rx, *worker_tx; /* per worker; NULL: no per-worker series */
    struct metrics_process process;
    const uint64_t *http; /* the endpoint's own answers by route (METRICS_HTTP_*); NULL: none */
};

/* What a request asks for, or why it gets none. */
enum metrics_route {
    METRICS_INCOMPLETE, /* no end of headers yet */
    METRICS_METRICS,
    METRICS_HEALTHZ,
    METRICS_NOT_FOUND,   /* 404 */
    METRICS_BAD_METHOD,  /* 405: not GET */
    METRICS_BAD_REQUEST, /* 400: not an HTTP/1.x request line */
    METRICS_TOO_LARGE,   /* 431: no end of headers within METRICS_REQUEST_MAX */
    METRICS_ROUTE_COUNT
};

/* /healthz: every worker armed (none failed), not draining, not stopping. */
bool metrics_healthy(const struct metrics_sources *src);

/* The route of the bytes received so far (len of them). Pure. */
enum metrics_route metrics_parse_request(const char *req, size_t len);

/* The exposition text of v. */
void metrics_render(FILE *out, const struct metrics_view *v);

/*
 * One line per SIGUSR1 counter: "NAME METRIC{LABELS}", the series whose
 * labels include LABELS summed give NAME's value; "N" in NAME and LABELS
 * stands for any worker id or ERROR-CODE.
 */
void metrics_print_map(FILE *out);

/*
 * Binds addr (a struct sockaddr_storage *), starts the thread. per_worker:
 * also each worker's datagrams received and answers sent. 0, or -errno
 * after logging the address that failed.
 */
int metrics_start(const void *addr, bool per_worker, const struct metrics_sources *src,
                  struct metrics **out);

/* Stops the thread, closes every connection, frees; NULL does nothing. */
void metrics_stop(struct metrics *m);

#endif
