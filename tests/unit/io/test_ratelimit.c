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
Test(ratelimit, a_full_table_forgets_the_least_recent)
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
