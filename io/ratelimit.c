/* Per-prefix token buckets in an open-addressed table. */
#include "io/ratelimit.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

enum {
    PROBES = 4,      /* candidate slots per prefix */
    MICRO = 1000000, /* tokens are kept in millionths */
    SLOTS_PER_SOURCE = 2,
};

struct bucket {
    uint8_t ip[16];
    uint8_t family; /* 0: free */
    uint64_t last_ms;
    uint64_t micro_tokens;
};

struct rate_limiter {
    struct bucket *slots;
    uint64_t mask;
    uint64_t seed; /* random: a client cannot aim its addresses at one slot */
    uint64_t milli_rate, micro_cap;
    unsigned prefix4, prefix6;
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

/* b's tokens refilled up to now_ms, in millionths, at most the cap. */
static uint64_t tokens_now(const struct rate_limiter *rl, const struct bucket *b, uint64_t now_ms)
{
    uint64_t elapsed = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
    uint64_t room = rl->micro_cap - b->micro_tokens;
    /* ms x thousandths a second = millionths; 128 bits: no overflow after
     * any pause, at any rate. */
    unsigned __int128 refill = (unsigned __int128)elapsed * rl->milli_rate;
    return refill >= room ? rl->micro_cap : b->micro_tokens + (uint64_t)refill;
}

/*
 * The prefix's bucket, or a fresh (full) one in the best slot for it: a
 * free candidate, else the one holding the most tokens now. Forgetting a
 * full bucket gives nothing away (a new one starts full); forgetting a
 * fuller one gives away the least; a prefix being flooded holds none, so
 * it is the last to go.
 */
static struct bucket *find(struct rate_limiter *rl, const struct stun_addr *a, uint64_t now_ms)
{
    uint64_t h = hash_ip(rl, a);
    struct bucket *victim = NULL;
    uint64_t victim_tokens = 0;
    for (unsigned i = 0; i < PROBES; i++) {
        struct bucket *b = &rl->slots[(h + i) & rl->mask];
        if (same_source(b, a))
            return b;
        uint64_t tokens = b->family == 0 ? UINT64_MAX : tokens_now(rl, b, now_ms);
        if (victim == NULL || tokens > victim_tokens) {
            victim = b;
            victim_tokens = tokens;
        }
    }
    memset(victim, 0, sizeof(*victim));
    victim->family = a->family;
    memcpy(victim->ip, a->ip, stun_addr_ip_len(a));
    victim->last_ms = now_ms;
    victim->micro_tokens = rl->micro_cap;
    return victim;
}

bool rate_limiter_allow(struct rate_limiter *rl, const struct stun_addr *src, uint64_t now_ms)
{
    struct stun_addr prefix = stun_addr_prefix(src, rl->prefix4, rl->prefix6);
    struct bucket *b = find(rl, &prefix, now_ms);
    b->micro_tokens = tokens_now(rl, b, now_ms);
    b->last_ms = now_ms;
    if (b->micro_tokens < MICRO)
        return false;
    b->micro_tokens -= MICRO;
    return true;
}

/* Writes every page of the table now: its memory is resident (and counted
 * in RSS) from the start, and no packet takes a page fault for it. */
static void touch_pages(void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 4096)
        ((volatile uint8_t *)p)[i] = 0;
}

static uint64_t slot_count(unsigned sources)
{
    uint64_t n = 1;
    while (n < (uint64_t)SLOTS_PER_SOURCE * sources)
        n <<= 1;
    return n;
}

size_t rate_limiter_bytes(unsigned sources)
{
    return sizeof(struct rate_limiter) + slot_count(sources) * sizeof(struct bucket);
}

int rate_limiter_new(struct rate_limiter **out, const struct rate_limit_spec *spec)
{
    if (spec->sources == 0 || spec->burst == 0 || spec->sources > RATE_LIMIT_MAX_SOURCES)
        return -EINVAL;
    struct rate_limiter *rl = calloc(1, sizeof(*rl));
    uint64_t n = slot_count(spec->sources);
    if (rl == NULL || (rl->slots = calloc(n, sizeof(*rl->slots))) == NULL ||
        RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
        rate_limiter_destroy(rl);
        return -ENOMEM;
    }
    touch_pages(rl->slots, n * sizeof(*rl->slots));
    rl->mask = n - 1;
    rl->milli_rate = spec->milli_rate;
    rl->micro_cap = (uint64_t)spec->burst * MICRO;
    rl->prefix4 = spec->prefix4;
    rl->prefix6 = spec->prefix6;
    *out = rl;
    return 0;
}

int rate_limiter_create(struct rate_limiter **out, unsigned sources, unsigned rate_per_s,
                        unsigned burst)
{
    struct rate_limit_spec spec = {
        .sources = sources,
        .milli_rate = (uint64_t)rate_per_s * 1000,
        .burst = burst,
        .prefix4 = 32,
        .prefix6 = 128,
    };
    return rate_limiter_new(out, &spec);
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
    if (rl == NULL)
        return;
    free(rl->slots);
    free(rl);
}
