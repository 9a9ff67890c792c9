/*
 * The destination policy (core/destination.h): both edges of every default
 * range and their outer neighbours, each IPv6 spelling of an IPv4 address,
 * the server's own addresses, the operator's rules and their precedence.
 * Addresses are written as text and read with inet_pton, independently of
 * the code under test.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/destination.h"

static struct stun_addr ip(const char *text)
{
    struct stun_addr a = {.port = 3478};
    bool v6 = strchr(text, ':') != NULL;
    a.family = v6 ? STUN_FAMILY_IPV6 : STUN_FAMILY_IPV4;
    cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, text, a.ip), 1, "bad test address %s", text);
    return a;
}

static struct stun_cidr cidr(const char *text, unsigned bits)
{
    struct stun_cidr net;
    struct stun_addr a = ip(text);
    cr_assert(stun_cidr_make(&a, bits, &net), "%s/%u", text, bits);
    return net;
}

static bool allowed(const struct stun_dest_policy *p, const char *text)
{
    struct stun_addr a = ip(text);
    return stun_dest_allowed(p, &a, NULL);
}

#define assert_denied(p, text) cr_assert_not(allowed(p, text), "%s should be denied", text)
#define assert_allowed(p, text) cr_assert(allowed(p, text), "%s should be allowed", text)

static void add(struct stun_dest_policy *p, const char *text, unsigned bits, bool allow)
{
    struct stun_cidr net = cidr(text, bits);
    cr_assert(stun_dest_add_rule(p, &net, allow));
}

/* One default range: its first and last address, and the addresses just
 * outside it (NULL: none; denied_*: the neighbour is in another range). */
struct edge {
    const char *range;
    const char *below;
    bool denied_below;
    const char *first, *last;
    const char *above;
    bool denied_above;
};

static const struct edge edges[] = {
    {"0.0.0.0/8", NULL, false, "0.0.0.0", "0.255.255.255", "1.0.0.0", false},
    {"10.0.0.0/8", "9.255.255.255", false, "10.0.0.0", "10.255.255.255", "11.0.0.0", false},
    {"100.64.0.0/10", "100.63.255.255", false, "100.64.0.0", "100.127.255.255", "100.128.0.0",
     false},
    {"127.0.0.0/8", "126.255.255.255", false, "127.0.0.0", "127.255.255.255", "128.0.0.0", false},
    {"169.254.0.0/16", "169.253.255.255", false, "169.254.0.0", "169.254.255.255", "169.255.0.0",
     false},
    {"172.16.0.0/12", "172.15.255.255", false, "172.16.0.0", "172.31.255.255", "172.32.0.0", false},
    {"192.0.0.0/24", "191.255.255.255", false, "192.0.0.0", "192.0.0.255", "192.0.1.0", false},
    {"192.0.2.0/24", "192.0.1.255", false, "192.0.2.0", "192.0.2.255", "192.0.3.0", false},
    {"192.168.0.0/16", "192.167.255.255", false, "192.168.0.0", "192.168.255.255", "192.169.0.0",
     false},
    {"198.18.0.0/15", "198.17.255.255", false, "198.18.0.0", "198.19.255.255", "198.20.0.0", false},
    {"198.51.100.0/24", "198.51.99.255", false, "198.51.100.0", "198.51.100.255", "198.51.101.0",
     false},
    {"203.0.113.0/24", "203.0.112.255", false, "203.0.113.0", "203.0.113.255", "203.0.114.0",
     false},
    {"224.0.0.0/4", "223.255.255.255", false, "224.0.0.0", "239.255.255.255", "240.0.0.0", true},
    {"240.0.0.0/4", "239.255.255.255", true, "240.0.0.0", "255.255.255.255", NULL, false},
    /* ::2 is the IPv4-compatible form of 0.0.0.2, in 0.0.0.0/8. */
    {"::/128", NULL, false, "::", "::", "::1", true},
    {"::1/128", "::", true, "::1", "::1", "::2", true},
    {"fc00::/7", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::", false},
    {"fe80::/10", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::", false},
    {"ff00::/8", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, false},
    {"64:ff9b::/96", "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "64:ff9b::", "64:ff9b::ffff:ffff", "64:ff9b::1:0:0", false},
    {"100::/64", "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false,
     "100::", "100::ffff:ffff:ffff:ffff", "100:0:0:1::", false},
};

Test(destination, every_default_range_at_both_edges)
{
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        const struct edge *e = &edges[i];
        cr_assert_not(allowed(NULL, e->first), "%s: first %s", e->range, e->first);
        cr_assert_not(allowed(NULL, e->last), "%s: last %s", e->range, e->last);
        if (e->below != NULL)
            cr_assert_eq(allowed(NULL, e->below), !e->denied_below, "%s: below %s", e->range,
                         e->below);
        if (e->above != NULL)
            cr_assert_eq(allowed(NULL, e->above), !e->denied_above, "%s: above %s", e->range,
                         e->above);
    }
}

Test(destination, the_default_table_is_the_issue_list)
{
    size_t n;
    const struct stun_cidr *list = stun_dest_default_denied(&n);
    cr_assert_eq(n, sizeof(edges) / sizeof(edges[0]));
    /* Each range's first address is its network, with its length. */
    for (size_t i = 0; i < n; i++) {
        char text[64];
        const char *slash = strchr(edges[i].range, '/');
        memcpy(text, edges[i].range, (size_t)(slash - edges[i].range));
        text[slash - edges[i].range] = '\0';
        struct stun_cidr want = cidr(text, (unsigned)strtoul(slash + 1, NULL, 10));
        bool found = false;
        for (size_t j = 0; j < n; j++)
            found |= memcmp(&list[j], &want, sizeof(want)) == 0;
        cr_assert(found, "%s missing from the defaults", edges[i].range);
    }
}

Test(destination, public_addresses_are_allowed)
{
    static const char *const public[] = {
        "8.8.8.8",         "1.1.1.1",    "100.128.0.1", "223.255.255.254", "2001:4860:4860::8888",
        "2606:4700::1111", "2001:db8::1"};
    for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
        assert_allowed(NULL, public[i]);
}

Test(destination, embedded_ipv4_forms_are_judged_as_ipv4)
{
    /* IPv4-mapped, IPv4-compatible, 6to4 and NAT64 spellings of loopback,
     * private and public addresses. */
    assert_denied(NULL, "::ffff:127.0.0.1");
    assert_denied(NULL, "::ffff:10.1.2.3");
    assert_allowed(NULL, "::ffff:8.8.8.8");
    assert_denied(NULL, "::127.0.0.1");
    assert_denied(NULL, "::192.168.1.1");
    assert_allowed(NULL, "::8.8.8.8");
    assert_denied(NULL, "2002:7f00:1::1");   /* 127.0.0.1 */
    assert_denied(NULL, "2002:c0a8:101::1"); /* 192.168.1.1 */
    assert_denied(NULL, "2002:e000:1::");    /* 224.0.0.1 */
    assert_allowed(NULL, "2002:808:808::1"); /* 8.8.8.8 */
    /* NAT64 is denied as a range even for a public IPv4 inside. */
    assert_denied(NULL, "64:ff9b::8.8.8.8");
}

Test(destination, embedded_v4_extraction_keeps_the_port)
{
    static const struct {
        const char *v6, *v4;
    } cases[] = {
        {"::ffff:1.2.3.4", "1.2.3.4"},
        {"::1.2.3.4", "1.2.3.4"},
        {"2002:102:304:99::7", "1.2.3.4"},
        {"64:ff9b::1.2.3.4", "1.2.3.4"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stun_addr in = ip(cases[i].v6), want = ip(cases[i].v4), got;
        in.port = 5555;
        cr_assert(stun_dest_embedded_v4(&in, &got), "%s", cases[i].v6);
        cr_assert_eq(got.family, STUN_FAMILY_IPV4);
        cr_assert_eq(got.port, 5555);
        cr_assert_arr_eq(got.ip, want.ip, 4, "%s", cases[i].v6);
    }
    struct stun_addr plain = ip("2001:db8::1"), v4 = ip("1.2.3.4"), out;
    cr_assert_not(stun_dest_embedded_v4(&plain, &out));
    cr_assert_not(stun_dest_embedded_v4(&v4, &out));
}

Test(destination, allow_peer_overrides_a_default)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    add(&p, "127.0.0.0", 8, true);
    assert_allowed(&p, "127.0.0.1");
    assert_allowed(&p, "127.255.255.255");
    assert_allowed(&p, "::ffff:127.0.0.1"); /* every spelling */
    assert_denied(&p, "10.0.0.1");          /* the other defaults stay */
    assert_denied(&p, "::1");               /* IPv6 loopback is its own rule */
}

Test(destination, deny_peer_reaches_every_spelling)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    add(&p, "8.8.8.0", 24, false);
    assert_denied(&p, "8.8.8.8");
    assert_denied(&p, "::ffff:8.8.8.8");
    assert_denied(&p, "::8.8.8.8");
    assert_denied(&p, "2002:808:808::1");
    assert_allowed(&p, "8.8.4.4");
}

Test(destination, allowing_an_ipv6_spelling_does_not_open_the_ipv4_inside)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    add(&p, "::ffff:0.0.0.0", 96, true);
    add(&p, "64:ff9b::", 96, true);
    assert_denied(&p, "::ffff:10.0.0.1");
    assert_denied(&p, "64:ff9b::127.0.0.1");
    assert_allowed(&p, "64:ff9b::8.8.8.8");
}

Test(destination, longest_prefix_wins_whatever_the_order)
{
    for (int order = 0; order < 2; order++) {
        struct stun_dest_policy p;
        stun_dest_policy_init(&p);
        if (order == 0) {
            add(&p, "10.0.0.0", 8, true);
            add(&p, "10.1.0.0", 16, false);
        } else {
            add(&p, "10.1.0.0", 16, false);
            add(&p, "10.0.0.0", 8, true);
        }
        assert_allowed(&p, "10.2.3.4");
        assert_denied(&p, "10.1.2.3");
        assert_allowed(&p, "10.0.255.255");
        assert_denied(&p, "10.1.255.255");
    }
}

Test(destination, a_longer_allow_opens_a_hole_in_a_deny)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    add(&p, "8.0.0.0", 8, false);
    add(&p, "8.8.8.0", 24, true);
    assert_allowed(&p, "8.8.8.8");
    assert_denied(&p, "8.8.4.4");
    assert_denied(&p, "8.255.0.1");
}

Test(destination, deny_wins_a_tie_whatever_the_order)
{
    for (int order = 0; order < 2; order++) {
        struct stun_dest_policy p;
        stun_dest_policy_init(&p);
        add(&p, "10.0.0.0", 8, order == 0);
        add(&p, "10.0.0.0", 8, order != 0);
        assert_denied(&p, "10.0.0.1");
    }
}

Test(destination, deny_peer_zero_length_denies_everything_not_allowed)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    add(&p, "0.0.0.0", 0, false);
    add(&p, "::", 0, false);
    add(&p, "8.8.8.8", 32, true);
    assert_allowed(&p, "8.8.8.8");
    assert_denied(&p, "8.8.8.9");
    assert_denied(&p, "2001:4860:4860::8888");
}

Test(destination, own_addresses_are_denied_on_every_port)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    struct stun_addr a1 = ip("1.2.3.4"), a6 = ip("2001:4860::1"), wildcard = ip("0.0.0.0");
    cr_assert(stun_dest_add_own(&p, &a1));
    cr_assert(stun_dest_add_own(&p, &a6));
    cr_assert(stun_dest_add_own(&p, &wildcard)); /* ignored: not a table entry */
    cr_assert_eq(p.n_own, 2);
    struct stun_addr other_port = a1;
    other_port.port = 53;
    cr_assert_not(stun_dest_allowed(&p, &other_port, NULL));
    assert_denied(&p, "::ffff:1.2.3.4");
    assert_denied(&p, "2001:4860::1");
    assert_allowed(&p, "1.2.3.5");
    assert_allowed(&p, "2001:4860::2");
    /* The operator may allow one explicitly. */
    add(&p, "1.2.3.4", 32, true);
    assert_allowed(&p, "1.2.3.4");
}

Test(destination, the_arrival_address_is_own_for_a_wildcard_listen)
{
    struct stun_addr arrived = ip("5.6.7.8"), same = ip("5.6.7.8"), next = ip("5.6.7.9");
    struct stun_addr mapped = ip("::ffff:5.6.7.8");
    same.port = 9;
    cr_assert_not(stun_dest_allowed(NULL, &same, &arrived));
    cr_assert_not(stun_dest_allowed(NULL, &mapped, &arrived));
    cr_assert(stun_dest_allowed(NULL, &next, &arrived));
    /* An arrival reported in the mapped form is the same address. */
    cr_assert_not(stun_dest_allowed(NULL, &same, &mapped));
}

Test(destination, cidr_make_refuses_host_bits_and_long_prefixes)
{
    struct stun_cidr net;
    struct stun_addr a = ip("10.0.0.1"), b = ip("10.128.0.0"), c = ip("2001:db8::");
    cr_assert_not(stun_cidr_make(&a, 8, &net));
    cr_assert(stun_cidr_make(&a, 32, &net));
    cr_assert_not(stun_cidr_make(&a, 33, &net));
    cr_assert_not(stun_cidr_make(&b, 8, &net));
    cr_assert(stun_cidr_make(&b, 9, &net));
    cr_assert_eq(net.bits, 9);
    cr_assert(stun_cidr_make(&c, 32, &net));
    cr_assert_not(stun_cidr_make(&c, 129, &net));
    struct stun_addr none = {0};
    cr_assert_not(stun_cidr_make(&none, 0, &net));
}

Test(destination, tables_are_fixed_size)
{
    struct stun_dest_policy p;
    stun_dest_policy_init(&p);
    struct stun_cidr net = cidr("8.8.8.0", 24);
    for (unsigned i = 0; i < STUN_DEST_MAX_RULES; i++)
        cr_assert(stun_dest_add_rule(&p, &net, true));
    cr_assert_not(stun_dest_add_rule(&p, &net, true));
    struct stun_addr own = ip("1.2.3.4");
    for (unsigned i = 0; i < STUN_DEST_MAX_OWN; i++)
        cr_assert(stun_dest_add_own(&p, &own));
    cr_assert_not(stun_dest_add_own(&p, &own));
}

Test(destination, an_address_of_no_family_is_refused)
{
    struct stun_addr none = {0};
    cr_assert_not(stun_dest_allowed(NULL, &none, NULL));
}
