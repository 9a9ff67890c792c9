/*
 * Open stream connections per client, per kind (TCP, TLS): what the front
 * thread (io/front/tcp.c) needs for --stream-max-per-client. A client is the
 * prefix of its address (core/attr.h stun_addr_prefix); the caller passes
 * the prefix.
 *
 * A fixed table allocated at creation for at most max_open connections in
 * all: every client in it holds at least one, so it never holds more than
 * max_open clients, and at half load at most it never fills. Linear
 * probing from a seeded hash (a client cannot aim its addresses at one
 * run); a client whose last connection closes leaves the table at once
 * (backward-shift deletion: no tombstones, no rehash). Nothing is
 * allocated after creation; one thread.
 */
#ifndef STUNRING_IO_CONN_COUNTS_H
#define STUNRING_IO_CONN_COUNTS_H

#include <stdbool.h>

#include "core/attr.h"

enum { CONN_KINDS = 2 }; /* io/front/tcp.c's TCP and TLS */

struct conn_counts;

/* A table for up to max_open connections at once. 0 or -ENOMEM. */
int conn_counts_create(struct conn_counts **out, unsigned max_open);

void conn_counts_destroy(struct conn_counts *t);

/*
 * One more connection of kind for client, unless it holds cap of that
 * kind already (cap 0: no cap): false, and nothing counted. Also false if
 * the caller would pass max_open connections in all.
 */
bool conn_counts_take(struct conn_counts *t, const struct stun_addr *client, unsigned kind,
                      unsigned cap);

/* The connection of kind that client held is closed. */
void conn_counts_give_back(struct conn_counts *t, const struct stun_addr *client, unsigned kind);

/* Connections of kind client holds now. */
unsigned conn_counts_held(const struct conn_counts *t, const struct stun_addr *client,
                          unsigned kind);

#endif
