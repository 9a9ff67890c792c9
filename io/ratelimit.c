/* Per-prefix token buckets in an open-addressed table. */
#include "io/ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum {
    PROBES = 4,      /* candidate slots per prefix */
    MICRO = 1000000, /* tokens are kept in millionths */
    SLOTS_PER_SOURCE = 2,
};

/* A client: its address's prefix as two words, and the family. */
struct prefix_key {
    uint64_t word[2];
    uint8_t family;
};

struct bucket {
    struct prefix_key key; /* family 0: free */
    uint64_t last_ms;
    uint64_t micro_tokens;
};

struct rate_limiter {
    struct bucket *slots;
    uint64_t mask;
    uint64_t seed[3]; /* random: a client cannot aim its addresses at one slot */
    unsigned shift;   /* 64 - log2(slots) */
    uint64_t milli_rate, micro_cap;
    uint64_t keep[2][2]; /* [IPv6?][word]: the bits of a prefix, from stun_addr_prefix */
};

/* The prefix of a's IP, masked in two loads (no per-byte loop per packet). */
static struct prefix_key key_of(const struct rate_limiter *rl, const struct stun_addr *a)
{
    const uint64_t *keep = rl->keep[a->family == STUN_FAMILY_IPV6];
    struct prefix_key k = {.family = a->family};
    memcpy(k.word, a->ip, sizeof(k.word));
    k.word[0] &= keep[0];
    k.word[1] &= keep[1];
    return k;
}

/*
 * Multiply-add-shift (Dietzfelbinger) under random odd multipliers: the
 * top bits of the sum, which every key bit reaches, pick the slot.
 */
static uint64_t slot_of(const struct rate_limiter *rl, const struct prefix_key *k)
{
    uint64_t h = rl->seed[0] * k->word[0] + rl->seed[1] * (k->word[1] ^ k->family) + rl->seed[2];
    return h >> rl->shift;
}

static bool same_key(const struct prefix_key *a, const struct prefix_key *b)
{
    return a->family == b->family && a->word[0] == b->word[0] && a->word[1] == b->word[1];
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
 * it is the last to go. The first candidate was checked already (the
 * packet path, kept short); it is looked at again here, as a victim.
 */
__attribute__((noinline)) static struct bucket *
find_beyond_first(struct rate_limiter *rl, struct prefix_key key, uint64_t h, uint64_t now_ms)
{
    const struct prefix_key *k = &key;
    struct bucket *victim = NULL;
    uint64_t victim_tokens = 0;
    for (unsigned i = 0; i < PROBES; i++) {
        struct bucket *b = &rl->slots[(h + i) & rl->mask];
        if (same_key(&b->key, k))
            return b;
        uint64_t tokens = b->key.family == 0 ? UINT64_MAX : tokens_now(rl, b, now_ms);
        if (victim == NULL || tokens > victim_tokens) {
            victim = b;
            victim_tokens = tokens;
        }
    }
    victim->key = *k;
    victim->last_ms = now_ms;
    victim->micro_tokens = rl->micro_cap;
    return victim;
}

bool rate_limiter_allow(struct rate_limiter *rl, const struct stun_addr *src, uint64_t now_ms)
{
    struct prefix_key k = key_of(rl, src);
    uint64_t h = slot_of(rl, &k);
    struct bucket *b = &rl->slots[h];
    if (__builtin_expect(!same_key(&b->key, &k), 0))
        b = find_beyond_first(rl, k, h, now_ms);
    uint64_t tokens = b->micro_tokens;
    if (now_ms > b->last_ms) {
        tokens = tokens_now(rl, b, now_ms);
        b->last_ms = now_ms;
    }
    bool allowed = tokens >= MICRO;
    b->micro_tokens = allowed ? tokens - MICRO : tokens;
    return allowed;
}

/* Writes every page of the table now: its memory is resident (and counted
 * in RSS) from the start, and no packet takes a page fault for it. */
static void touch_pages(void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 4096)
        ((volatile uint8_t *)p)[i] = 0;
}

/* The bits stun_addr_prefix keeps of an IPv4 and of an IPv6 address. */
static void set_prefix_masks(struct rate_limiter *rl, unsigned prefix4, unsigned prefix6)
{
    struct stun_addr all = {.family = STUN_FAMILY_IPV4};
    memset(all.ip, 0xff, sizeof(all.ip));
    struct stun_addr kept = stun_addr_prefix(&all, prefix4, prefix6);
    memcpy(rl->keep[0], kept.ip, sizeof(rl->keep[0]));
    all.family = STUN_FAMILY_IPV6;
    kept = stun_addr_prefix(&all, prefix4, prefix6);
    memcpy(rl->keep[1], kept.ip, sizeof(rl->keep[1]));
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
        getrandom(rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed)) {
        rate_limiter_destroy(rl);
        return -ENOMEM;
    }
    touch_pages(rl->slots, n * sizeof(*rl->slots));
    rl->mask = n - 1;
    rl->shift = 64 - (unsigned)__builtin_ctzll(n);
    rl->seed[0] |= 1;
    rl->seed[1] |= 1;
    rl->milli_rate = spec->milli_rate;
    rl->micro_cap = (uint64_t)spec->burst * MICRO;
    set_prefix_masks(rl, spec->prefix4, spec->prefix6);
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
