/*
 * Per-source token buckets: how often one client address may do something
 * costly (mint a credential). A fixed table allocated at creation; a check
 * is O(1), allocates nothing and is for one thread.
 *
 * Sources are IP addresses (the port is the client's to change). The
 * table holds a bounded number of sources: a source that finds no room
 * takes the slot of the least recently seen one among its candidates, which
 * forgets that one's history (it starts again with a full bucket): an
 * attacker churning addresses makes the limiter more lenient, never stricter
 * for anybody else.
 */
#ifndef STUNRING_IO_RATELIMIT_H
#define STUNRING_IO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/attr.h"

struct rate_limiter;

/*
 * A limiter allowing each source rate_per_s actions a second on average and
 * bursts of burst (>= 1), tracking up to about `sources` addresses at once.
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int rate_limiter_create(struct rate_limiter **out, unsigned sources, unsigned rate_per_s,
                        unsigned burst);

void rate_limiter_destroy(struct rate_limiter *rl);

/* Takes one token for src at now_ms (monotonic); false when it has none. */
bool rate_limiter_allow(struct rate_limiter *rl, const struct stun_addr *src, uint64_t now_ms);

#endif
