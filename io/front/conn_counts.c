/* Open stream connections per client prefix, in a fixed open-addressed table. */
#include "io/front/conn_counts.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    uint8_t ip[16];
    uint8_t family; /* 0: free */
    uint32_t open[CONN_KINDS];
};

struct conn_counts {
    struct slot *slots;
    uint32_t mask;
    uint32_t max_open, open; /* connections counted, all clients and kinds */
    uint64_t seed[2];        /* random: a client cannot aim its prefixes at one run */
};

static uint32_t home(const struct conn_counts *t, const uint8_t *ip, uint8_t family)
{
    uint64_t h = t->seed[0] ^ family;
    for (int i = 0; i < 16; i += 8) {
        uint64_t w;
        memcpy(&w, ip + i, 8);
        h = (h ^ w ^ t->seed[1]) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 31;
    }
    return (uint32_t)h & t->mask;
}

/* The client's slot, or the free slot where it would go. */
static struct slot *find(const struct conn_counts *t, const struct stun_addr *client)
{
    uint8_t ip[16] = {0};
    memcpy(ip, client->ip, stun_addr_ip_len(client));
    for (uint32_t i = home(t, ip, client->family);; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];
        if (s->family == 0 || (s->family == client->family && memcmp(s->ip, ip, 16) == 0))
            return s;
    }
}

/* Empties s, then moves back every later entry of its run that may fill
 * the gap, so that a look-up never stops early at a hole. */
static void remove_slot(struct conn_counts *t, struct slot *s)
{
    uint32_t gap = (uint32_t)(s - t->slots);
    for (uint32_t i = (gap + 1) & t->mask; t->slots[i].family != 0; i = (i + 1) & t->mask) {
        uint32_t want = home(t, t->slots[i].ip, t->slots[i].family);
        /* Movable when its home is not within (gap, i], cyclically. */
        if (((i - want) & t->mask) >= ((i - gap) & t->mask)) {
            t->slots[gap] = t->slots[i];
            gap = i;
        }
    }
    memset(&t->slots[gap], 0, sizeof(t->slots[gap]));
}

bool conn_counts_take(struct conn_counts *t, const struct stun_addr *client, unsigned kind,
                      unsigned cap)
{
    if (t->open >= t->max_open || kind >= CONN_KINDS)
        return false;
    struct slot *s = find(t, client);
    if (cap != 0 && s->open[kind] >= cap)
        return false;
    if (s->family == 0) {
        memcpy(s->ip, client->ip, stun_addr_ip_len(client));
        s->family = client->family;
    }
    s->open[kind]++;
    t->open++;
    return true;
}

void conn_counts_give_back(struct conn_counts *t, const struct stun_addr *client, unsigned kind)
{
    struct slot *s = find(t, client);
    if (s->family == 0 || kind >= CONN_KINDS || s->open[kind] == 0)
        return; /* nothing held: a caller's slip must not wrap a count */
    s->open[kind]--;
    t->open--;
    bool none = true;
    for (unsigned k = 0; k < CONN_KINDS; k++)
        none &= s->open[k] == 0;
    if (none)
        remove_slot(t, s);
}

unsigned conn_counts_held(const struct conn_counts *t, const struct stun_addr *client,
                          unsigned kind)
{
    const struct slot *s = find(t, client);
    return kind < CONN_KINDS ? s->open[kind] : 0;
}

int conn_counts_create(struct conn_counts **out, unsigned max_open)
{
    if (max_open > (1u << 24))
        return -EINVAL;
    struct conn_counts *t = calloc(1, sizeof(*t));
    uint32_t n = 2;
    while (n < 2 * max_open) /* at most half full: runs stay short, a free slot always exists */
        n <<= 1;
    if (t == NULL || (t->slots = calloc(n, sizeof(*t->slots))) == NULL ||
        RAND_bytes((unsigned char *)t->seed, sizeof(t->seed)) != 1) {
        conn_counts_destroy(t);
        return -ENOMEM;
    }
    t->mask = n - 1;
    t->max_open = max_open;
    *out = t;
    return 0;
}

void conn_counts_destroy(struct conn_counts *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t);
}
