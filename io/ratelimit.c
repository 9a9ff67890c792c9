/* Per-source token buckets in an open-addressed table. */
#include "io/ratelimit.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

enum {
    PROBES = 4,   /* candidate slots per source */
    MILLI = 1000, /* tokens are kept in thousandths */
};

struct bucket {
    uint8_t ip[16];
    uint8_t family; /* 0: free */
    uint64_t last_ms;
    uint64_t milli_tokens;
};

struct rate_limiter {
    struct bucket *slots;
    uint64_t mask;
    uint64_t seed; /* random: a client cannot aim its addresses at one slot */
    uint64_t rate_per_s, burst;
};

static uint64_t hash_ip(const struct rate_limiter *rl, const struct stun_addr *a)
{
    uint64_t h = rl->seed ^ a->family;
    for (size_t i = 0; i < stun_addr_ip_len(a); i++)
        h = (h ^ a->ip[i]) * 0x100000001b3ull; /* FNV-1a step, seeded */
    return h ^ (h >> 29);
}

static bool same_source(const struct bucket *b, const struct stun_addr *a)
{
    return b->family == a->family && memcmp(b->ip, a->ip, stun_addr_ip_len(a)) == 0;
}

/* The source's bucket, or a fresh one in the best slot for it. */
static struct bucket *find(struct rate_limiter *rl, const struct stun_addr *a, uint64_t now_ms)
{
    uint64_t h = hash_ip(rl, a);
    struct bucket *oldest = NULL; /* a free candidate, else the least recently seen */
    for (unsigned i = 0; i < PROBES; i++) {
        struct bucket *b = &rl->slots[(h + i) & rl->mask];
        if (same_source(b, a))
            return b;
        bool better = oldest == NULL ||
                      (oldest->family != 0 && (b->family == 0 || b->last_ms < oldest->last_ms));
        if (better)
            oldest = b;
    }
    memset(oldest, 0, sizeof(*oldest));
    oldest->family = a->family;
    memcpy(oldest->ip, a->ip, stun_addr_ip_len(a));
    oldest->last_ms = now_ms;
    oldest->milli_tokens = rl->burst * MILLI;
    return oldest;
}

bool rate_limiter_allow(struct rate_limiter *rl, const struct stun_addr *src, uint64_t now_ms)
{
    struct bucket *b = find(rl, src, now_ms);
    uint64_t elapsed = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
    uint64_t cap = rl->burst * MILLI;
    uint64_t refill = elapsed * rl->rate_per_s; /* thousandths: ms x tokens/s */
    b->milli_tokens = cap - b->milli_tokens < refill ? cap : b->milli_tokens + refill;
    b->last_ms = now_ms;
    if (b->milli_tokens < MILLI)
        return false;
    b->milli_tokens -= MILLI;
    return true;
}

int rate_limiter_create(struct rate_limiter **out, unsigned sources, unsigned rate_per_s,
                        unsigned burst)
{
    if (sources == 0 || burst == 0 || sources > (1u << 24))
        return -EINVAL;
    struct rate_limiter *rl = calloc(1, sizeof(*rl));
    uint64_t n = 1;
    while (n < 2ull * sources)
        n <<= 1;
    if (rl == NULL || (rl->slots = calloc(n, sizeof(*rl->slots))) == NULL ||
        RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
        rate_limiter_destroy(rl);
        return -ENOMEM;
    }
    rl->mask = n - 1;
    rl->rate_per_s = rate_per_s;
    rl->burst = burst;
    *out = rl;
    return 0;
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
    if (rl == NULL)
        return;
    free(rl->slots);
    free(rl);
}
