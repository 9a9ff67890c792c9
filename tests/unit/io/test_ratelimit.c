/* Per-source token buckets (io/ratelimit.c). */
#include <criterion/criterion.h>
#include <errno.h>

#include "io/ratelimit.h"

static struct stun_addr v4(uint8_t last)
{
    struct stun_addr a = {STUN_FAMILY_IPV4, 40000, {198, 51, 100, last}};
    return a;
}

static struct rate_limiter *make(unsigned sources, unsigned rate, unsigned burst)
{
    struct rate_limiter *rl = NULL;
    cr_assert_eq(rate_limiter_create(&rl, sources, rate, burst), 0);
    return rl;
}

/* How many of n attempts at one instant pass. */
static unsigned allowed(struct rate_limiter *rl, const struct stun_addr *a, unsigned n,
                        uint64_t now)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++)
        ok += rate_limiter_allow(rl, a, now);
    return ok;
}

Test(ratelimit, a_burst_then_the_rate)
{
    struct rate_limiter *rl = make(16, 2, 5);
    struct stun_addr a = v4(1);
    cr_assert_eq(allowed(rl, &a, 20, 1000), 5, "the burst");
    cr_assert_eq(allowed(rl, &a, 20, 1499), 0, "0.499 s refills less than one token");
    cr_assert_eq(allowed(rl, &a, 20, 1500), 1, "0.5 s at 2/s: one");
    cr_assert_eq(allowed(rl, &a, 20, 11500), 5, "a long pause refills the burst, no more");
    rate_limiter_destroy(rl);
}

Test(ratelimit, sources_are_independent_and_ports_do_not_matter)
{
    struct rate_limiter *rl = make(16, 1, 3);
    struct stun_addr a = v4(1), b = v4(2), a_other_port = v4(1);
    a_other_port.port = 1;
    cr_assert_eq(allowed(rl, &a, 10, 0), 3);
    cr_assert_eq(allowed(rl, &a_other_port, 10, 0), 0, "same IP, same bucket");
    cr_assert_eq(allowed(rl, &b, 10, 0), 3, "another IP has its own");
    struct stun_addr v6 = {STUN_FAMILY_IPV6, 1, {198, 51, 100, 1}};
    cr_assert_eq(allowed(rl, &v6, 10, 0), 3, "an IPv6 address sharing bytes is another source");
    rate_limiter_destroy(rl);
}

/* More sources than the table holds: each new one starts with a full
 * bucket (lenient), none is ever refused beyond its own bucket. */
Test(ratelimit, a_full_table_forgets_the_fullest)
{
    struct rate_limiter *rl = make(4, 1, 2);
    for (unsigned i = 0; i < 200; i++) {
        struct stun_addr a = v4((uint8_t)i);
        cr_assert_eq(allowed(rl, &a, 3, i), 2, "source %u: its burst, then refused", i);
    }
    rate_limiter_destroy(rl);
}

Test(ratelimit, bad_parameters_are_refused)
{
    struct rate_limiter *rl = NULL;
    cr_assert_eq(rate_limiter_create(&rl, 0, 1, 1), -EINVAL);
    cr_assert_eq(rate_limiter_create(&rl, 1, 1, 0), -EINVAL);
    cr_assert_null(rl);
}

static struct rate_limiter *make_spec(unsigned sources, uint64_t milli_rate, unsigned burst,
                                      unsigned prefix4, unsigned prefix6)
{
    struct rate_limit_spec spec = {sources, milli_rate, burst, prefix4, prefix6};
    struct rate_limiter *rl = NULL;
    cr_assert_eq(rate_limiter_new(&rl, &spec), 0);
    return rl;
}

static struct stun_addr v6(uint64_t high, uint64_t low)
{
    struct stun_addr a = {.family = STUN_FAMILY_IPV6, .port = 5000};
    for (int i = 0; i < 8; i++) {
        a.ip[i] = (uint8_t)(high >> (56 - 8 * i));
        a.ip[8 + i] = (uint8_t)(low >> (56 - 8 * i));
    }
    return a;
}

/* Issue 9: rotating the low 64 bits of an IPv6 source got 99,999 of
 * 100,000 mints through a whole-address limiter. Keyed by /64, the whole
 * subnet shares one bucket. */
Test(ratelimit, rotating_the_low_64_bits_shares_one_bucket)
{
    struct rate_limiter *rl = make_spec(1024, 1000, 10, 32, 64);
    unsigned ok = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        struct stun_addr a = v6(0x20010db800000001ull, i * 0x9e3779b97f4a7c15ull);
        ok += rate_limiter_allow(rl, &a, 5000);
    }
    cr_assert_eq(ok, 10, "one /64: one burst, got %u", ok);
    struct stun_addr next_subnet = v6(0x20010db800000002ull, 1);
    cr_assert_eq(allowed(rl, &next_subnet, 20, 5000), 10, "the next /64 is another client");
    rate_limiter_destroy(rl);
}

/* The whole-address limiter (rate_limiter_create) still tells them apart. */
Test(ratelimit, whole_address_keying_tells_the_low_bits_apart)
{
    struct rate_limiter *rl = make(1024, 1, 2);
    struct stun_addr a = v6(0x20010db800000001ull, 1), b = v6(0x20010db800000001ull, 2);
    cr_assert_eq(allowed(rl, &a, 5, 0), 2);
    cr_assert_eq(allowed(rl, &b, 5, 0), 2);
    rate_limiter_destroy(rl);
}

Test(ratelimit, ipv4_prefixes)
{
    struct rate_limiter *rl = make_spec(64, 1000, 3, 24, 64);
    struct stun_addr a = v4(1), b = v4(200), other = {STUN_FAMILY_IPV4, 1, {198, 51, 101, 1}};
    cr_assert_eq(allowed(rl, &a, 2, 0), 2);
    cr_assert_eq(allowed(rl, &b, 5, 0), 1, "same /24: the bucket's last token");
    cr_assert_eq(allowed(rl, &other, 5, 0), 3, "another /24: its own bucket");
    rate_limiter_destroy(rl);
}

/* Rates below one a second (the mint share's): 250 thousandths is one
 * token every 4 s, never sooner. */
Test(ratelimit, fractional_rates)
{
    struct rate_limiter *rl = make_spec(16, 250, 1, 32, 64);
    struct stun_addr a = v4(9);
    cr_assert_eq(allowed(rl, &a, 3, 0), 1);
    cr_assert_eq(allowed(rl, &a, 3, 3999), 0);
    cr_assert_eq(allowed(rl, &a, 3, 4000), 1);
    cr_assert_eq(allowed(rl, &a, 3, 4000 + 40000), 1, "the bucket holds one, no more");
    rate_limiter_destroy(rl);
}

/* A pause of years at a high rate neither overflows nor wraps the bucket. */
Test(ratelimit, long_pauses_do_not_overflow)
{
    struct rate_limiter *rl = make_spec(16, 1000000000ull, 5, 32, 64);
    struct stun_addr a = v4(3);
    cr_assert_eq(allowed(rl, &a, 10, 1), 5);
    cr_assert_eq(allowed(rl, &a, 10, UINT64_MAX / 2), 5);
    rate_limiter_destroy(rl);
}

/* A million distinct prefixes through a small table: the memory is what
 * was allocated, and a flooded prefix (touched on every packet) keeps its
 * bucket: its total stays within burst + rate x time. */
Test(ratelimit, a_churned_table_keeps_the_flooded_prefix)
{
    struct rate_limiter *rl = make_spec(256, 10000 * 1000, 20, 32, 64); /* 10,000 a second */
    struct stun_addr victim = v4(77);
    unsigned victim_ok = 0;
    for (uint32_t i = 0; i < 1000000; i++) {
        struct stun_addr churn = {
            STUN_FAMILY_IPV4, 1, {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}};
        uint64_t now = i / 1000; /* a thousand packets a ms: 1,000 ms in all */
        rate_limiter_allow(rl, &churn, now);
        victim_ok += rate_limiter_allow(rl, &victim, now);
    }
    cr_assert_leq(victim_ok, 20 + 10000 * 1, "burst + rate x 1 s, got %u", victim_ok);
    cr_assert_geq(victim_ok, 10000 - 10, "and it was served at its rate, got %u", victim_ok);
    rate_limiter_destroy(rl);
}

Test(ratelimit, table_bytes_are_stated)
{
    cr_assert_geq(rate_limiter_bytes(1000), 2048 * 32, "two slots a source, a power of 2");
    cr_assert_lt(rate_limiter_bytes(1000), 2048 * 64);
    struct rate_limit_spec too_many = {RATE_LIMIT_MAX_SOURCES + 1, 1000, 1, 32, 64};
    struct rate_limiter *rl = NULL;
    cr_assert_eq(rate_limiter_new(&rl, &too_many), -EINVAL);
}
