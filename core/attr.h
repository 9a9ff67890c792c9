/*
 * Decoding the values of attributes found by stun_msg_parse(). The parser
 * has validated every present attribute, so these fail only when the
 * attribute is absent (they return false and leave *out untouched).
 */
#ifndef STUNRING_CORE_ATTR_H
#define STUNRING_CORE_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

/* A transport address as carried in STUN, in host byte order for the port. */
struct stun_addr {
    uint8_t family; /* enum stun_family */
    uint16_t port;
    uint8_t ip[16]; /* 4 bytes used for IPv4 */
};

/* Bytes of the IP address: 4 or 16. */
static inline size_t stun_addr_ip_len(const struct stun_addr *a)
{
    return a->family == STUN_FAMILY_IPV6 ? 16 : 4;
}

bool stun_addr_equal(const struct stun_addr *a, const struct stun_addr *b);

/*
 * The prefix of a's IP that names one client for the per-source limits
 * (--rate-prefix4, --rate-prefix6): the first bits4 (IPv4) or bits6 (IPv6)
 * bits kept, the rest of the IP and the port zeroed. Bits beyond the
 * address's length keep it whole.
 */
struct stun_addr stun_addr_prefix(const struct stun_addr *a, unsigned bits4, unsigned bits6);

/* An address value: reserved, family, port, then 4 (IPv4) or 16 (IPv6) bytes. */
static inline bool stun_addr_value_ok(const uint8_t *v, uint16_t len)
{
    return (len == 8 && v[1] == STUN_FAMILY_IPV4) || (len == 20 && v[1] == STUN_FAMILY_IPV6);
}

/*
 * Decodes an address value of len bytes (8 or 20, validated by the parser);
 * xor_mask16 is the message's bytes 4..19 for XOR-MAPPED-ADDRESS, NULL for
 * a plain address. Returns false for a length or family that is not valid.
 */
bool stun_addr_decode(const uint8_t *v, uint16_t len, const uint8_t *xor_mask16,
                      struct stun_addr *out);

/*
 * Any address attribute (MAPPED-ADDRESS, RESPONSE-ADDRESS, ..., OTHER-
 * ADDRESS). XOR-MAPPED-ADDRESS is un-XORed with the cookie and transaction
 * id of m (RFC 8489 §14.2).
 */
bool stun_msg_get_addr(const struct stun_msg *m, enum stun_attr_id id, struct stun_addr *out);

/* The 32-bit value of CHANGE-REQUEST or FINGERPRINT. */
bool stun_msg_get_u32(const struct stun_msg *m, enum stun_attr_id id, uint32_t *out);

/* RESPONSE-PORT's port (RFC 5780 §7.5). */
bool stun_msg_get_response_port(const struct stun_msg *m, uint16_t *port);

/* ERROR-CODE: code = class * 100 + number; reason points into the message. */
bool stun_msg_get_error(const struct stun_msg *m, int *code, const char **reason,
                        uint16_t *reason_len);

/* UNKNOWN-ATTRIBUTES: copies up to max types, returns how many the attribute holds. */
size_t stun_msg_get_unknown_list(const struct stun_msg *m, uint16_t *types, size_t max);

/* PASSWORD-ALGORITHM's algorithm number (RFC 8489 §14.12). */
bool stun_msg_get_password_algorithm(const struct stun_msg *m, uint16_t *alg);

/*
 * PASSWORD-ALGORITHMS (RFC 8489 §14.11): copies up to max algorithm
 * numbers, returns how many the attribute lists.
 */
size_t stun_msg_get_password_algorithms(const struct stun_msg *m, uint16_t *algs, size_t max);

#endif
