/* In-place parser: one bounds-checked pass over the attributes. */
#include "core/msg.h"

#include "core/attr.h"
#include "core/wire.h"

enum {
    MAX_TEXT = 763,     /* REALM, NONCE, SOFTWARE, reason: < 128 chars, <= 763 bytes */
    MAX_USERNAME = 512, /* RFC 5389 §15.3: less than 513 bytes */
    MAX_DOMAIN = 255,   /* ALTERNATE-DOMAIN: a DNS name */
};

/* One line a case: it reads as the table it is. */
// clang-format off
enum stun_attr_id stun_attr_id_of(uint16_t type)
{
    switch (type) {
    case STUN_ATTR_MAPPED_ADDRESS: return STUN_A_MAPPED_ADDRESS;
    case STUN_ATTR_RESPONSE_ADDRESS: return STUN_A_RESPONSE_ADDRESS;
    case STUN_ATTR_CHANGE_REQUEST: return STUN_A_CHANGE_REQUEST;
    case STUN_ATTR_SOURCE_ADDRESS: return STUN_A_SOURCE_ADDRESS;
    case STUN_ATTR_CHANGED_ADDRESS: return STUN_A_CHANGED_ADDRESS;
    case STUN_ATTR_USERNAME: return STUN_A_USERNAME;
    case STUN_ATTR_PASSWORD: return STUN_A_PASSWORD;
    case STUN_ATTR_MESSAGE_INTEGRITY: return STUN_A_MESSAGE_INTEGRITY;
    case STUN_ATTR_ERROR_CODE: return STUN_A_ERROR_CODE;
    case STUN_ATTR_UNKNOWN_ATTRIBUTES: return STUN_A_UNKNOWN_ATTRIBUTES;
    case STUN_ATTR_REFLECTED_FROM: return STUN_A_REFLECTED_FROM;
    case STUN_ATTR_REALM: return STUN_A_REALM;
    case STUN_ATTR_NONCE: return STUN_A_NONCE;
    case STUN_ATTR_MESSAGE_INTEGRITY_SHA256: return STUN_A_MESSAGE_INTEGRITY_SHA256;
    case STUN_ATTR_PASSWORD_ALGORITHM: return STUN_A_PASSWORD_ALGORITHM;
    case STUN_ATTR_USERHASH: return STUN_A_USERHASH;
    case STUN_ATTR_XOR_MAPPED_ADDRESS: return STUN_A_XOR_MAPPED_ADDRESS;
    case STUN_ATTR_PADDING: return STUN_A_PADDING;
    case STUN_ATTR_RESPONSE_PORT: return STUN_A_RESPONSE_PORT;
    case STUN_ATTR_PASSWORD_ALGORITHMS: return STUN_A_PASSWORD_ALGORITHMS;
    case STUN_ATTR_ALTERNATE_DOMAIN: return STUN_A_ALTERNATE_DOMAIN;
    case STUN_ATTR_SOFTWARE: return STUN_A_SOFTWARE;
    case STUN_ATTR_ALTERNATE_SERVER: return STUN_A_ALTERNATE_SERVER;
    case STUN_ATTR_FINGERPRINT: return STUN_A_FINGERPRINT;
    case STUN_ATTR_RESPONSE_ORIGIN: return STUN_A_RESPONSE_ORIGIN;
    case STUN_ATTR_OTHER_ADDRESS: return STUN_A_OTHER_ADDRESS;
    default: return STUN_A_COUNT;
    }
}
// clang-format on

uint16_t stun_attr_type_of(enum stun_attr_id id)
{
    static const uint16_t types[STUN_A_COUNT] = {
        [STUN_A_MAPPED_ADDRESS] = STUN_ATTR_MAPPED_ADDRESS,
        [STUN_A_RESPONSE_ADDRESS] = STUN_ATTR_RESPONSE_ADDRESS,
        [STUN_A_CHANGE_REQUEST] = STUN_ATTR_CHANGE_REQUEST,
        [STUN_A_SOURCE_ADDRESS] = STUN_ATTR_SOURCE_ADDRESS,
        [STUN_A_CHANGED_ADDRESS] = STUN_ATTR_CHANGED_ADDRESS,
        [STUN_A_USERNAME] = STUN_ATTR_USERNAME,
        [STUN_A_PASSWORD] = STUN_ATTR_PASSWORD,
        [STUN_A_MESSAGE_INTEGRITY] = STUN_ATTR_MESSAGE_INTEGRITY,
        [STUN_A_ERROR_CODE] = STUN_ATTR_ERROR_CODE,
        [STUN_A_UNKNOWN_ATTRIBUTES] = STUN_ATTR_UNKNOWN_ATTRIBUTES,
        [STUN_A_REFLECTED_FROM] = STUN_ATTR_REFLECTED_FROM,
        [STUN_A_REALM] = STUN_ATTR_REALM,
        [STUN_A_NONCE] = STUN_ATTR_NONCE,
        [STUN_A_MESSAGE_INTEGRITY_SHA256] = STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
        [STUN_A_PASSWORD_ALGORITHM] = STUN_ATTR_PASSWORD_ALGORITHM,
        [STUN_A_USERHASH] = STUN_ATTR_USERHASH,
        [STUN_A_XOR_MAPPED_ADDRESS] = STUN_ATTR_XOR_MAPPED_ADDRESS,
        [STUN_A_PADDING] = STUN_ATTR_PADDING,
        [STUN_A_RESPONSE_PORT] = STUN_ATTR_RESPONSE_PORT,
        [STUN_A_PASSWORD_ALGORITHMS] = STUN_ATTR_PASSWORD_ALGORITHMS,
        [STUN_A_ALTERNATE_DOMAIN] = STUN_ATTR_ALTERNATE_DOMAIN,
        [STUN_A_SOFTWARE] = STUN_ATTR_SOFTWARE,
        [STUN_A_ALTERNATE_SERVER] = STUN_ATTR_ALTERNATE_SERVER,
        [STUN_A_FINGERPRINT] = STUN_ATTR_FINGERPRINT,
        [STUN_A_RESPONSE_ORIGIN] = STUN_ATTR_RESPONSE_ORIGIN,
        [STUN_A_OTHER_ADDRESS] = STUN_ATTR_OTHER_ADDRESS,
    };
    return (unsigned)id < STUN_A_COUNT ? types[id] : 0;
}

/* RFC 8489 §14.8: class 3..6, number 0..99, then the reason phrase. */
static bool valid_error_code(const uint8_t *v, uint16_t len)
{
    if (len < 4 || len > 4 + MAX_TEXT)
        return false;
    uint8_t cls = v[2] & 0x07;
    return cls >= 3 && cls <= 6 && v[3] < 100;
}

/*
 * PASSWORD-ALGORITHM(S), RFC 8489 §14.11-14.12: entries of algorithm (16),
 * parameters length (16) and parameters padded to 4 bytes. Counts entries
 * into *n; false when one runs past the value.
 */
static bool walk_algorithms(const uint8_t *v, uint16_t len, unsigned *n)
{
    uint32_t pos = 0;
    *n = 0;
    while (pos < len) {
        if (len - pos < 4)
            return false;
        uint16_t plen = wire_get16(v + pos + 2);
        if (plen > len - pos - 4)
            return false;
        pos += 4 + wire_pad4(plen);
        ++*n;
    }
    return true;
}

static bool valid_value(enum stun_attr_id id, const uint8_t *v, uint16_t len)
{
    unsigned n;
    if (stun_attr_is_address(id))
        return stun_addr_value_ok(v, len); /* RFC 8489 §14.1 */
    switch (id) {
    case STUN_A_CHANGE_REQUEST:
    case STUN_A_RESPONSE_PORT:
    case STUN_A_FINGERPRINT:
        return len == 4;
    case STUN_A_MESSAGE_INTEGRITY:
        return len == 20;
    case STUN_A_MESSAGE_INTEGRITY_SHA256: /* RFC 8489 §14.6: 16..32, multiple of 4 */
        return len >= 16 && len <= 32 && len % 4 == 0;
    case STUN_A_USERHASH:
        return len == 32;
    case STUN_A_USERNAME:
        return len <= MAX_USERNAME;
    case STUN_A_REALM:
    case STUN_A_NONCE:
    case STUN_A_SOFTWARE:
        return len <= MAX_TEXT;
    case STUN_A_ALTERNATE_DOMAIN:
        return len <= MAX_DOMAIN;
    case STUN_A_ERROR_CODE:
        return valid_error_code(v, len);
    case STUN_A_UNKNOWN_ATTRIBUTES:
        return len % 2 == 0;
    case STUN_A_PASSWORD_ALGORITHM:
        return walk_algorithms(v, len, &n) && n == 1;
    case STUN_A_PASSWORD_ALGORITHMS:
        return walk_algorithms(v, len, &n) && n >= 1;
    default: /* PASSWORD, PADDING: any bytes */
        return true;
    }
    return true;
}

/* Which attributes still count after MESSAGE-INTEGRITY(-SHA256). */
enum tail {
    TAIL_OPEN,        /* no integrity seen yet: everything counts */
    TAIL_AFTER_MI,    /* RFC 8489 §14.5: only MI-SHA256 and FINGERPRINT */
    TAIL_AFTER_MI256, /* RFC 8489 §14.6: only FINGERPRINT */
};

static bool counts_in(enum tail tail, enum stun_attr_id id)
{
    switch (tail) {
    case TAIL_OPEN:
        return true;
    case TAIL_AFTER_MI:
        return id == STUN_A_MESSAGE_INTEGRITY_SHA256 || id == STUN_A_FINGERPRINT;
    case TAIL_AFTER_MI256:
        return id == STUN_A_FINGERPRINT;
    }
    return false;
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
    if (!stun_attr_comprehension_required(type))
        return; /* comprehension-optional: ignored (RFC 8489 §14) */
    if (m->n_unknown < STUN_MAX_UNKNOWN)
        m->unknown[m->n_unknown++] = type;
    else
        m->unknown_overflow = true;
}

static enum stun_status walk_attributes(struct stun_msg *m)
{
    const uint8_t *buf = m->buf;
    uint32_t pos = STUN_HEADER_LEN, end = m->len;
    enum tail tail = TAIL_OPEN;

    while (pos < end) {
        if (stun_msg_has(m, STUN_A_FINGERPRINT))
            return STUN_DROP_AFTER_FINGERPRINT;
        /* end - pos >= 4: both are multiples of 4 (checked on the header). */
        uint16_t type = wire_get16(buf + pos);
        uint16_t len = wire_get16(buf + pos + 2);
        uint32_t voff = pos + STUN_ATTR_HEADER_LEN;
        if (len > end - voff)
            return STUN_REJECT_ATTR_OVERRUN;
        pos = voff + wire_pad4(len); /* still <= end: end - voff is a multiple of 4 */

        enum stun_attr_id id = stun_attr_id_of(type);
        if (!counts_in(tail, id))
            continue;
        if (id == STUN_A_COUNT) {
            note_unknown(m, type);
            continue;
        }
        if (!valid_value(id, buf + voff, len))
            return STUN_REJECT_ATTR_INVALID;
        if (!stun_msg_has(m, id)) {
            m->present |= 1u << id;
            m->at[id] = (struct stun_attr_loc){voff, len};
        }
        if (id == STUN_A_MESSAGE_INTEGRITY)
            tail = TAIL_AFTER_MI;
        else if (id == STUN_A_MESSAGE_INTEGRITY_SHA256)
            tail = TAIL_AFTER_MI256;
    }
    return m->n_unknown > 0 ? STUN_REJECT_UNKNOWN_ATTR : STUN_OK;
}

enum stun_status stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
    if (len < STUN_HEADER_LEN)
        return STUN_DROP_SHORT;
    if (buf[0] & 0xC0) /* RFC 8489 §6.3: the two leading bits are zero */
        return STUN_DROP_NOT_STUN;
    uint16_t body = wire_get16(buf + 2);
    if (body != len - STUN_HEADER_LEN || body % 4 != 0)
        return STUN_DROP_LENGTH;

    m->buf = buf;
    m->len = (uint32_t)len;
    m->type = wire_get16(buf);
    m->method = stun_type_method(m->type);
    m->cls = (uint8_t)stun_type_class(m->type);
    m->classic = wire_get32(buf + 4) != STUN_MAGIC_COOKIE;
    m->present = 0;
    m->n_unknown = 0;
    m->unknown_overflow = false;
    if (body == 0)
        return STUN_OK;
    return walk_attributes(m);
}

bool stun_attr_iter_next(struct stun_attr_iter *it, struct stun_attr_view *out)
{
    const struct stun_msg *m = it->m;
    if (it->pos + STUN_ATTR_HEADER_LEN > m->len)
        return false;
    out->type = wire_get16(m->buf + it->pos);
    out->len = wire_get16(m->buf + it->pos + 2);
    out->off = it->pos + STUN_ATTR_HEADER_LEN;
    if (out->len > m->len - out->off)
        return false;
    it->pos = out->off + wire_pad4(out->len);
    return true;
}
