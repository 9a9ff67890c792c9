/*
 * The front thread: STUN over TCP (RFC 8489 §6.2.2 framing: each message
 * is its 20-byte header plus the length the header gives) on the primary
 * port of every primary address. Non-blocking sockets under one epoll;
 * several requests per connection, requests split across reads, pipelined
 * requests answered in order; a cap on connections, one per client, a
 * TLS handshake rate per client, and an idle deadline; a message over
 * 2,048 bytes answered 400 and skipped; a connection that sends something
 * that is not STUN is closed, and only that one. The same over TLS on
 * --tls-port, where RFC 3489 Shared Secret Requests are also served (this
 * thread mints credentials).
 */
#ifndef STUNRING_IO_TCP_H
#define STUNRING_IO_TCP_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "io/counters.h"
#include "io/main/server.h"

struct tcp_front;

/*
 * Binds a listener on (primary address, cfg->port) of each family when
 * cfg->tcp, and on (primary address, cfg->tls_port) when tls_ctx is not
 * NULL (the front takes it over), and starts the thread. Returns 0, or
 * -errno after logging the address that failed (nothing is left open).
 */
int tcp_front_start(const struct server_shared *shared, SSL_CTX *tls_ctx, struct tcp_front **out);

/* Main thread: hands over a reloaded TLS context (taken over) for new
 * connections; the thread swaps it in at its next wake-up. */
void tcp_front_reload_tls(struct tcp_front *front, SSL_CTX *ctx);

/* Whether the front serves TLS. */
bool tcp_front_has_tls(const struct tcp_front *front);

/*
 * Stops the thread (it sees shared->stop after a wake-up), joins, adds its
 * final counters into *final (if not NULL), closes and frees everything.
 */
void tcp_front_stop(struct tcp_front *front, struct io_counters *final);

/* Adds the front thread's counters into sum. */
void tcp_front_counters(const struct tcp_front *front, struct io_counters *sum);

#endif
