/* The destination policy (core/destination.h): the defaults, the
 * operator's rules, and IPv4 addresses embedded in IPv6 ones. */
#include "core/destination.h"

#include <string.h>

#define V4(a, b, c, d, len)                                                                        \
    {                                                                                              \
        STUN_FAMILY_IPV4, len, { a, b, c, d }                                                      \
    }
#define V6(len, ...)                                                                               \
    {                                                                                              \
        STUN_FAMILY_IPV6, len, { __VA_ARGS__ }                                                     \
    }

/* Special-purpose ranges no client may aim the server at (RFC 6890 and
 * its updates): nothing on them is a client of a public STUN server. */
static const struct stun_cidr default_denied[] = {
    V4(0, 0, 0, 0, 8),           /* "this network" */
    V4(10, 0, 0, 0, 8),          /* private (RFC 1918) */
    V4(100, 64, 0, 0, 10),       /* carrier-grade NAT (RFC 6598) */
    V4(127, 0, 0, 0, 8),         /* loopback */
    V4(169, 254, 0, 0, 16),      /* link-local */
    V4(172, 16, 0, 0, 12),       /* private */
    V4(192, 0, 0, 0, 24),        /* IETF protocol assignments */
    V4(192, 0, 2, 0, 24),        /* TEST-NET-1 */
    V4(192, 168, 0, 0, 16),      /* private */
    V4(198, 18, 0, 0, 15),       /* benchmarking */
    V4(198, 51, 100, 0, 24),     /* TEST-NET-2 */
    V4(203, 0, 113, 0, 24),      /* TEST-NET-3 */
    V4(224, 0, 0, 0, 4),         /* multicast */
    V4(240, 0, 0, 0, 4),         /* reserved, and the broadcast address */
    V6(128),                     /* ::, unspecified */
    V6(128, [15] = 1),           /* ::1, loopback */
    V6(7, 0xfc),                 /* unique local */
    V6(10, 0xfe, 0x80),          /* link-local */
    V6(8, 0xff),                 /* multicast */
    V6(96, 0, 0x64, 0xff, 0x9b), /* NAT64: reaches IPv4 through a local translator */
    V6(64, 0x01, 0x00),          /* discard-only (RFC 6666) */
};

enum { N_DEFAULT_DENIED = sizeof(default_denied) / sizeof(default_denied[0]) };

const struct stun_cidr *stun_dest_default_denied(size_t *n)
{
    *n = N_DEFAULT_DENIED;
    return default_denied;
}

static unsigned family_bits(uint8_t family) { return family == STUN_FAMILY_IPV6 ? 128 : 32; }

/* Whether the first bits bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool stun_cidr_make(const struct stun_addr *ip, unsigned bits, struct stun_cidr *out)
{
    unsigned max = family_bits(ip->family);
    if ((ip->family != STUN_FAMILY_IPV4 && ip->family != STUN_FAMILY_IPV6) || bits > max)
        return false;
    for (unsigned i = 0; i < max / 8; i++) { /* no bit set past the prefix */
        unsigned kept = bits <= i * 8 ? 0 : bits - i * 8 >= 8 ? 8 : bits - i * 8;
        uint8_t mask = kept == 0 ? 0 : (uint8_t)(0xFF << (8 - kept));
        if (ip->ip[i] & (uint8_t)~mask)
            return false;
    }
    memset(out, 0, sizeof(*out));
    out->family = ip->family;
    out->bits = (uint8_t)bits;
    memcpy(out->ip, ip->ip, max / 8);
    return true;
}

bool stun_cidr_contains(const struct stun_cidr *net, const struct stun_addr *a)
{
    return net->family == a->family && prefix_equal(net->ip, a->ip, net->bits);
}

void stun_dest_policy_init(struct stun_dest_policy *p) { memset(p, 0, sizeof(*p)); }

bool stun_dest_add_rule(struct stun_dest_policy *p, const struct stun_cidr *net, bool allow)
{
    if (p->n_rules == STUN_DEST_MAX_RULES)
        return false;
    p->rules[p->n_rules].net = *net;
    p->rules[p->n_rules].allow = allow;
    p->n_rules++;
    return true;
}

static bool ip_unspecified(const struct stun_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, stun_addr_ip_len(a)) == 0;
}

bool stun_dest_add_own(struct stun_dest_policy *p, const struct stun_addr *a)
{
    if (ip_unspecified(a))
        return true;
    if (p->n_own == STUN_DEST_MAX_OWN)
        return false;
    p->own[p->n_own++] = *a;
    return true;
}

/* Writes IPv4 address bytes at v4 into out, keeping port from dest. */
static void set_v4(const struct stun_addr *dest, const uint8_t *v4, struct stun_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->family = STUN_FAMILY_IPV4;
    out->port = dest->port;
    memcpy(out->ip, v4, 4);
}

bool stun_dest_embedded_v4(const struct stun_addr *dest, struct stun_addr *v4)
{
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t compatible[12];
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    const uint8_t *ip = dest->ip;
    if (dest->family != STUN_FAMILY_IPV6)
        return false;
    if (memcmp(ip, mapped, 12) == 0 || memcmp(ip, compatible, 12) == 0 ||
        memcmp(ip, nat64, 12) == 0) {
        set_v4(dest, ip + 12, v4);
        return true;
    }
    if (ip[0] == 0x20 && ip[1] == 0x02) { /* 6to4: 2002:AABB:CCDD::/48 */
        set_v4(dest, ip + 2, v4);
        return true;
    }
    return false;
}

/* Step 1: the operator's longest matching rule, a deny winning a tie.
 * Returns 1 allow, 0 deny, -1 no rule matched. */
static int rule_verdict(const struct stun_dest_policy *p, const struct stun_addr *a)
{
    int best_bits = -1, verdict = -1;
    for (unsigned i = 0; p != NULL && i < p->n_rules; i++) {
        const struct stun_dest_rule *r = &p->rules[i];
        if (!stun_cidr_contains(&r->net, a))
            continue;
        if (r->net.bits > best_bits || (r->net.bits == best_bits && !r->allow)) {
            best_bits = r->net.bits;
            verdict = r->allow ? 1 : 0;
        }
    }
    return verdict;
}

static bool same_ip(const struct stun_addr *a, const struct stun_addr *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, stun_addr_ip_len(a)) == 0;
}

/* An own address, in either of its spellings (a dual-stack socket may
 * report an IPv4 arrival as ::ffff:a.b.c.d). */
static bool is_own(const struct stun_addr *own, const struct stun_addr *a)
{
    struct stun_addr v4;
    if (same_ip(own, a))
        return true;
    return stun_dest_embedded_v4(own, &v4) && same_ip(&v4, a);
}

/* Step 2: the defaults. */
static bool default_denies(const struct stun_dest_policy *p, const struct stun_addr *a,
                           const struct stun_addr *arrived_at)
{
    for (size_t i = 0; i < N_DEFAULT_DENIED; i++)
        if (stun_cidr_contains(&default_denied[i], a))
            return true;
    if (arrived_at != NULL && is_own(arrived_at, a))
        return true;
    for (unsigned i = 0; p != NULL && i < p->n_own; i++)
        if (is_own(&p->own[i], a))
            return true;
    return false;
}

/* The verdict on one spelling of an address. */
static bool one_allowed(const struct stun_dest_policy *p, const struct stun_addr *a,
                        const struct stun_addr *arrived_at)
{
    int rule = rule_verdict(p, a);
    if (rule >= 0)
        return rule == 1;
    return !default_denies(p, a, arrived_at);
}

bool stun_dest_allowed(const struct stun_dest_policy *p, const struct stun_addr *dest,
                       const struct stun_addr *arrived_at)
{
    struct stun_addr v4;
    if (dest->family != STUN_FAMILY_IPV4 && dest->family != STUN_FAMILY_IPV6)
        return false;
    if (!one_allowed(p, dest, arrived_at))
        return false;
    return !stun_dest_embedded_v4(dest, &v4) || one_allowed(p, &v4, arrived_at);
}
