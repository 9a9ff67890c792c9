/* Open stream connections per client prefix (io/front/conn_counts.c). */
#include <criterion/criterion.h>
#include <errno.h>

#include "io/front/conn_counts.h"

static struct stun_addr v4(uint8_t a, uint8_t b)
{
    struct stun_addr x = {STUN_FAMILY_IPV4, 0, {10, a, b, 1}};
    return x;
}

static struct conn_counts *make(unsigned max_open)
{
    struct conn_counts *t = NULL;
    cr_assert_eq(conn_counts_create(&t, max_open), 0);
    return t;
}

Test(conn_counts, a_client_is_capped_per_kind_and_others_are_not)
{
    struct conn_counts *t = make(100);
    struct stun_addr a = v4(0, 1), b = v4(0, 2);
    for (int i = 0; i < 3; i++)
        cr_assert(conn_counts_take(t, &a, 0, 3));
    cr_assert_not(conn_counts_take(t, &a, 0, 3), "the fourth TCP connection");
    cr_assert_eq(conn_counts_held(t, &a, 0), 3, "a refusal counts nothing");
    cr_assert(conn_counts_take(t, &a, 1, 3), "the other kind has its own cap");
    cr_assert(conn_counts_take(t, &b, 0, 3), "another client is not affected");
    conn_counts_give_back(t, &a, 0);
    cr_assert(conn_counts_take(t, &a, 0, 3), "a closed connection frees its place");
    conn_counts_destroy(t);
}

Test(conn_counts, cap_0_is_no_cap_but_the_total_still_holds)
{
    struct conn_counts *t = make(5);
    struct stun_addr a = v4(0, 1);
    for (int i = 0; i < 5; i++)
        cr_assert(conn_counts_take(t, &a, 0, 0));
    cr_assert_not(conn_counts_take(t, &a, 1, 0), "max_open reached");
    conn_counts_destroy(t);
}

Test(conn_counts, ipv6_and_ipv4_sharing_bytes_are_different_clients)
{
    struct conn_counts *t = make(10);
    struct stun_addr a = v4(0, 1), six = a;
    six.family = STUN_FAMILY_IPV6;
    cr_assert(conn_counts_take(t, &a, 0, 1));
    cr_assert(conn_counts_take(t, &six, 0, 1));
    cr_assert_eq(conn_counts_held(t, &a, 0), 1);
    cr_assert_eq(conn_counts_held(t, &six, 0), 1);
    conn_counts_destroy(t);
}

/* Many clients come and go in an order unlike the one they came in: every
 * count stays exact (deletion never loses an entry further along a run),
 * and a full table empties back to nothing. */
Test(conn_counts, churn_keeps_every_count_exact)
{
    enum { N = 1000 };
    struct conn_counts *t = make(2 * N);
    for (unsigned i = 0; i < N; i++) {
        struct stun_addr a = v4((uint8_t)(i >> 8), (uint8_t)i);
        cr_assert(conn_counts_take(t, &a, 0, 2));
        cr_assert(conn_counts_take(t, &a, i % 2, 2));
    }
    for (unsigned step = 0; step < N; step++) {
        unsigned i = (step * 337) % N; /* 337 is prime to 1000: each once */
        struct stun_addr a = v4((uint8_t)(i >> 8), (uint8_t)i);
        cr_assert_eq(conn_counts_held(t, &a, 0), i % 2 ? 1 : 2, "client %u", i);
        conn_counts_give_back(t, &a, 0);
        conn_counts_give_back(t, &a, i % 2);
        cr_assert_eq(conn_counts_held(t, &a, 0) + conn_counts_held(t, &a, 1), 0);
        for (unsigned j = 0; j < N; j += 97) { /* the others are still found */
            struct stun_addr b = v4((uint8_t)(j >> 8), (uint8_t)j);
            bool gone = false;
            for (unsigned s = 0; s <= step; s++)
                gone |= (s * 337) % N == j;
            cr_assert_eq(conn_counts_held(t, &b, 0), gone ? 0 : (j % 2 ? 1 : 2), "client %u", j);
        }
    }
    conn_counts_destroy(t);
}

Test(conn_counts, giving_back_what_is_not_held_changes_nothing)
{
    struct conn_counts *t = make(4);
    struct stun_addr a = v4(0, 1), b = v4(0, 2);
    conn_counts_give_back(t, &a, 0);
    cr_assert(conn_counts_take(t, &b, 0, 1));
    conn_counts_give_back(t, &b, 1);
    cr_assert_eq(conn_counts_held(t, &b, 0), 1);
    for (int i = 0; i < 3; i++)
        cr_assert(conn_counts_take(t, &a, 0, 0), "the total was not disturbed");
    conn_counts_destroy(t);
}

Test(conn_counts, too_big_a_table_is_refused)
{
    struct conn_counts *t = NULL;
    cr_assert_eq(conn_counts_create(&t, (1u << 24) + 1), -EINVAL);
}
