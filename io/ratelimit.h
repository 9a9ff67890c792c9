/*
 * Per-client token buckets: how often one client may do something costly
 * (be answered over UDP, mint a credential). A fixed table allocated at
 * creation; a check is O(1), allocates nothing, takes no lock and is for
 * one thread.
 *
 * A client is an address prefix (core/attr.h stun_addr_prefix): the
 * leading prefix4 bits of an IPv4 address, prefix6 of an IPv6 one; the
 * port is the client's to change. The table holds a bounded number of
 * prefixes: one that finds no room takes, among its PROBES candidate slots
 * (picked by a hash under a random seed, so a client cannot aim at a slot),
 * a free one, else the one holding the most tokens, and forgets that
 * one's history (it would start again with a full bucket). Eviction can
 * only make the limiter more lenient, never stricter for anybody else; it
 * gives away nothing when the bucket forgotten was full, and a prefix being
 * flooded holds no tokens, so it is the last of its candidates to go.
 */
#ifndef STUNRING_IO_RATELIMIT_H
#define STUNRING_IO_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"

struct rate_limiter;

struct rate_limit_spec {
    unsigned sources;    /* prefixes tracked at once, 1 to RATE_LIMIT_MAX_SOURCES */
    uint64_t milli_rate; /* tokens a second, in thousandths: 1000 is one a second */
    unsigned burst;      /* the bucket: tokens held at most, >= 1 */
    unsigned prefix4;    /* bits of an IPv4 address that name one client (32: all) */
    unsigned prefix6;    /* bits of an IPv6 address likewise (128: all) */
};

enum { RATE_LIMIT_MAX_SOURCES = 1u << 24 };

/* A limiter as spec says. Returns 0 or -ENOMEM / -EINVAL. */
int rate_limiter_new(struct rate_limiter **out, const struct rate_limit_spec *spec);

/*
 * A limiter of whole addresses (prefixes /32 and /128) allowing rate_per_s
 * actions a second and bursts of burst (>= 1), for about `sources`
 * addresses at once. Returns 0 or -ENOMEM / -EINVAL.
 */
int rate_limiter_create(struct rate_limiter **out, unsigned sources, unsigned rate_per_s,
                        unsigned burst);

/* Bytes the table for `sources` takes (what rate_limiter_new allocates). */
size_t rate_limiter_bytes(unsigned sources);

void rate_limiter_destroy(struct rate_limiter *rl);

/* Takes one token for src's prefix at now_ms (monotonic); false when it has none. */
bool rate_limiter_allow(struct rate_limiter *rl, const struct stun_addr *src, uint64_t now_ms);

#endif
