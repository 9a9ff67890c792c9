/* Attribute value decoding over a validated view. */
#include "core/attr.h"

#include <string.h>

#include "core/wire.h"

bool stun_addr_equal(const struct stun_addr *a, const struct stun_addr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, stun_addr_ip_len(a)) == 0;
}

struct stun_addr stun_addr_prefix(const struct stun_addr *a, unsigned bits4, unsigned bits6)
{
    struct stun_addr p = {.family = a->family};
    size_t len = stun_addr_ip_len(a);
    unsigned bits = a->family == STUN_FAMILY_IPV6 ? bits6 : bits4;
    if (bits > len * 8)
        bits = (unsigned)len * 8;
    memcpy(p.ip, a->ip, bits / 8);
    if (bits % 8 != 0)
        p.ip[bits / 8] = (uint8_t)(a->ip[bits / 8] & (0xFF00u >> (bits % 8)));
    return p;
}

bool stun_addr_decode(const uint8_t *v, uint16_t len, const uint8_t *xor_mask16,
                      struct stun_addr *out)
{
    if (!stun_addr_value_ok(v, len))
        return false;
    size_t ip_len = len - 4u;
    out->family = v[1];
    out->port = wire_get16(v + 2);
    memcpy(out->ip, v + 4, ip_len);
    if (xor_mask16 != NULL) {
        /* RFC 8489 §14.2: port ^ cookie >> 16, address ^ (cookie || id). */
        out->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
        wire_put32(out->ip, wire_get32(out->ip) ^ STUN_MAGIC_COOKIE);
        for (size_t i = 4; i < ip_len; i += 4)
            wire_put32(out->ip + i, wire_get32(out->ip + i) ^ wire_get32(xor_mask16 + i));
    }
    return true;
}

bool stun_msg_get_addr(const struct stun_msg *m, enum stun_attr_id id, struct stun_addr *out)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, id, &len);
    if (v == NULL)
        return false;
    const uint8_t *mask = id == STUN_A_XOR_MAPPED_ADDRESS ? stun_msg_id16(m) : NULL;
    return stun_addr_decode(v, len, mask, out);
}

bool stun_msg_get_u32(const struct stun_msg *m, enum stun_attr_id id, uint32_t *out)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, id, &len);
    if (v == NULL || len != 4)
        return false;
    *out = wire_get32(v);
    return true;
}

bool stun_msg_get_response_port(const struct stun_msg *m, uint16_t *port)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, STUN_A_RESPONSE_PORT, &len);
    if (v == NULL)
        return false;
    *port = wire_get16(v);
    return true;
}

bool stun_msg_get_error(const struct stun_msg *m, int *code, const char **reason,
                        uint16_t *reason_len)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, STUN_A_ERROR_CODE, &len);
    if (v == NULL)
        return false;
    *code = (v[2] & 0x07) * 100 + v[3];
    *reason = (const char *)(v + 4);
    *reason_len = (uint16_t)(len - 4);
    return true;
}

size_t stun_msg_get_unknown_list(const struct stun_msg *m, uint16_t *types, size_t max)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, STUN_A_UNKNOWN_ATTRIBUTES, &len);
    if (v == NULL)
        return 0;
    size_t n = len / 2u;
    for (size_t i = 0; i < n && i < max; i++)
        types[i] = wire_get16(v + 2 * i);
    return n;
}

bool stun_msg_get_password_algorithm(const struct stun_msg *m, uint16_t *alg)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHM, &len);
    if (v == NULL)
        return false;
    *alg = wire_get16(v);
    return true;
}

size_t stun_msg_get_password_algorithms(const struct stun_msg *m, uint16_t *algs, size_t max)
{
    uint16_t len;
    const uint8_t *v = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHMS, &len);
    if (v == NULL)
        return 0;
    size_t n = 0;
    /* The parser checked that every entry fits. */
    for (uint32_t pos = 0; pos < len; pos += 4 + wire_pad4(wire_get16(v + pos + 2))) {
        if (n < max)
            algs[n] = wire_get16(v + pos);
        n++;
    }
    return n;
}
