/*
 * The destination policy: which addresses the server may send to when a
 * client names the destination (RFC 3489 RESPONSE-ADDRESS now, TURN peers
 * later). Pure, fixed-size: the policy is built once at start-up and only
 * read afterwards, with no allocation and no lock.
 *
 * The verdict on an address, in this order:
 *
 *  1. The operator's rules (--allow-peer CIDR, --deny-peer CIDR): of the
 *     rules that contain the address, the longest prefix wins; between an
 *     allow and a deny of the same length, the deny wins. A matching rule
 *     is final: it overrides step 2 (so --allow-peer 127.0.0.0/8 allows
 *     loopback, the server's own loopback address included).
 *  2. The built-in defaults, all denied: the special-purpose ranges of
 *     stun_dest_default_denied() (loopback, private, link-local, CGNAT,
 *     documentation, benchmarking, multicast, reserved, unspecified, ULA,
 *     NAT64) and the server's own addresses (those added with
 *     stun_dest_add_own, and the address the request arrived at).
 *  3. Anything else is allowed.
 *
 * An IPv6 address that embeds an IPv4 one (IPv4-mapped ::ffff:0:0/96,
 * IPv4-compatible ::/96, 6to4 2002::/16, NAT64 64:ff9b::/96) is judged
 * twice, as given and as the embedded IPv4 address, and allowed only when
 * both verdicts allow: ::ffff:127.0.0.1 is loopback, and an IPv4 rule
 * reaches every IPv6 spelling of its addresses (the bug class of coturn's
 * CVE-2020-26262). IPv4 rules therefore belong in IPv4 notation.
 */
#ifndef STUNRING_CORE_DESTINATION_H
#define STUNRING_CORE_DESTINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"

enum {
    STUN_DEST_MAX_RULES = 64, /* --allow-peer and --deny-peer together */
    STUN_DEST_MAX_OWN = 8,    /* configured local addresses (A1, A2 per family) */
};

/* An address prefix: family (enum stun_family), its first bits bits. */
struct stun_cidr {
    uint8_t family;
    uint8_t bits;
    uint8_t ip[16]; /* 4 bytes used for IPv4; the bits past the prefix are 0 */
};

struct stun_dest_rule {
    struct stun_cidr net;
    bool allow;
};

struct stun_dest_policy {
    struct stun_dest_rule rules[STUN_DEST_MAX_RULES];
    unsigned n_rules;
    struct stun_addr own[STUN_DEST_MAX_OWN]; /* IPs only: every port of ours is refused */
    unsigned n_own;
};

/* An empty policy: the defaults alone. */
void stun_dest_policy_init(struct stun_dest_policy *p);

/*
 * A prefix of bits bits from ip (family and ip; the port is ignored).
 * False, leaving *out untouched, when bits exceeds the family's length or
 * a bit past the prefix is set (10.0.0.1/8 names no network).
 */
bool stun_cidr_make(const struct stun_addr *ip, unsigned bits, struct stun_cidr *out);

/* True when a's IP lies in net (families must agree). */
bool stun_cidr_contains(const struct stun_cidr *net, const struct stun_addr *a);

/* Adds an operator rule. False when the table is full. */
bool stun_dest_add_rule(struct stun_dest_policy *p, const struct stun_cidr *net, bool allow);

/* Adds one of the server's own addresses. An unspecified (wildcard) one is
 * ignored and true: the arrival address stands in for it per request.
 * False when the table is full. */
bool stun_dest_add_own(struct stun_dest_policy *p, const struct stun_addr *a);

/*
 * Whether a packet may go to dest. p NULL: the defaults alone.
 * arrived_at (may be NULL) is the local address the request came in on,
 * the server's own address even when it listens on a wildcard.
 */
bool stun_dest_allowed(const struct stun_dest_policy *p, const struct stun_addr *dest,
                       const struct stun_addr *arrived_at);

/*
 * The IPv4 address an IPv6 one embeds (IPv4-mapped, IPv4-compatible,
 * 6to4, NAT64), into *v4 with dest's port. False for an IPv4 address or
 * an IPv6 one of no such form. ::/128 and ::1 are IPv4-compatible forms
 * of 0.0.0.0 and 0.0.0.1, both denied as IPv4 too.
 */
bool stun_dest_embedded_v4(const struct stun_addr *dest, struct stun_addr *v4);

/* The built-in denied ranges, for documentation and tests: *n gets how
 * many. */
const struct stun_cidr *stun_dest_default_denied(size_t *n);

#endif
