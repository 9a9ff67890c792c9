/*
 * Parsing a STUN message in place.
 *
 * stun_msg_parse() checks the header and walks the attributes once,
 * recording where the first occurrence of each known attribute sits and
 * which unknown comprehension-required types were seen. Nothing is copied
 * or allocated: a struct stun_msg is a view into the caller's buffer and
 * is valid only while that buffer is neither freed nor reused (for a
 * receive buffer: until it goes back to the ring).
 *
 * Known attribute values are validated during the walk (lengths, address
 * families, ranges), so the getters in core/attr.h cannot fail on a
 * present attribute.
 */
#ifndef STUNRING_CORE_MSG_H
#define STUNRING_CORE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/stun.h"

/* Dense index of each attribute the parser knows, for stun_msg.at[]. */
enum stun_attr_id {
    STUN_A_MAPPED_ADDRESS,
    STUN_A_RESPONSE_ADDRESS,
    STUN_A_CHANGE_REQUEST,
    STUN_A_SOURCE_ADDRESS,
    STUN_A_CHANGED_ADDRESS,
    STUN_A_USERNAME,
    STUN_A_PASSWORD,
    STUN_A_MESSAGE_INTEGRITY,
    STUN_A_ERROR_CODE,
    STUN_A_UNKNOWN_ATTRIBUTES,
    STUN_A_REFLECTED_FROM,
    STUN_A_REALM,
    STUN_A_NONCE,
    STUN_A_MESSAGE_INTEGRITY_SHA256,
    STUN_A_PASSWORD_ALGORITHM,
    STUN_A_USERHASH,
    STUN_A_XOR_MAPPED_ADDRESS,
    STUN_A_PADDING,
    STUN_A_RESPONSE_PORT,
    STUN_A_PASSWORD_ALGORITHMS,
    STUN_A_ALTERNATE_DOMAIN,
    STUN_A_SOFTWARE,
    STUN_A_ALTERNATE_SERVER,
    STUN_A_FINGERPRINT,
    STUN_A_RESPONSE_ORIGIN,
    STUN_A_OTHER_ADDRESS,
    STUN_A_COUNT
};

_Static_assert(STUN_A_COUNT <= 32, "stun_msg.present is a 32-bit mask");

enum {
    /* Unknown comprehension-required types remembered for a 420 answer. */
    STUN_MAX_UNKNOWN = 8,
};

/* Where an attribute's value sits: offset from the message start, length. */
struct stun_attr_loc {
    uint32_t off; /* a message is up to 20 + 65535 bytes */
    uint16_t len;
};

struct stun_msg {
    const uint8_t *buf; /* the caller's bytes; not owned */
    uint32_t len;       /* header + attributes */
    uint16_t type;
    uint16_t method;
    uint8_t cls;      /* enum stun_class */
    bool classic;     /* no magic cookie: RFC 3489, 16-byte transaction id */
    uint32_t present; /* bit (1 << id) set: at[id] is valid; others are garbage */
    struct stun_attr_loc at[STUN_A_COUNT];
    uint8_t n_unknown;     /* entries in unknown[] */
    bool unknown_overflow; /* more than STUN_MAX_UNKNOWN were seen */
    uint16_t unknown[STUN_MAX_UNKNOWN];
};

/*
 * Parses len bytes at buf into m.
 *
 * STUN_OK: the whole view is valid.
 * STUN_DROP_*: nothing in m is meaningful; drop the datagram silently.
 * STUN_REJECT_ATTR_OVERRUN / _INVALID: the header fields (buf, len, type,
 *   method, cls, classic) are valid so a request can be answered 400.
 * STUN_REJECT_UNKNOWN_ATTR: the whole view is valid; unknown[] lists the
 *   types for UNKNOWN-ATTRIBUTES (420).
 *
 * Rules from RFC 8489 §14.5-14.7: attributes after MESSAGE-INTEGRITY other
 * than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, attributes
 * after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT are ignored, and
 * FINGERPRINT must be last. Only the first occurrence of a type counts
 * (RFC 8489 §14).
 */
enum stun_status stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

static inline bool stun_msg_has(const struct stun_msg *m, enum stun_attr_id id)
{
    return (m->present >> id) & 1u;
}

/* Value bytes of a present attribute (NULL if absent); *len gets its length. */
static inline const uint8_t *stun_msg_attr(const struct stun_msg *m, enum stun_attr_id id,
                                           uint16_t *len)
{
    if (!stun_msg_has(m, id))
        return NULL;
    *len = m->at[id].len;
    return m->buf + m->at[id].off;
}

/* Bytes 4..19: magic cookie + 96-bit id, or the classic 128-bit id. */
static inline const uint8_t *stun_msg_id16(const struct stun_msg *m) { return m->buf + 4; }

/* Every attribute of a parsed message in wire order, ignored ones included. */
struct stun_attr_iter {
    const struct stun_msg *m;
    uint32_t pos;
};

struct stun_attr_view {
    uint16_t type;
    uint16_t len;
    uint32_t off; /* of the value, from the message start */
};

static inline void stun_attr_iter_init(struct stun_attr_iter *it, const struct stun_msg *m)
{
    it->m = m;
    it->pos = STUN_HEADER_LEN;
}

/*
 * Next attribute into *out; false at the end, or at an attribute that
 * overruns (possible only if the message did not parse STUN_OK or
 * STUN_REJECT_UNKNOWN_ATTR).
 */
bool stun_attr_iter_next(struct stun_attr_iter *it, struct stun_attr_view *out);

/* True when the view is the occurrence the parser recorded for its type. */
static inline bool stun_attr_is_counted(const struct stun_msg *m, const struct stun_attr_view *a,
                                        enum stun_attr_id id)
{
    return id < STUN_A_COUNT && stun_msg_has(m, id) && m->at[id].off == a->off;
}

/* The attributes that carry a transport address (RFC 8489 §14.1 layout). */
static inline bool stun_attr_is_address(enum stun_attr_id id)
{
    const uint32_t addresses = 1u << STUN_A_MAPPED_ADDRESS | 1u << STUN_A_RESPONSE_ADDRESS |
                               1u << STUN_A_SOURCE_ADDRESS | 1u << STUN_A_CHANGED_ADDRESS |
                               1u << STUN_A_REFLECTED_FROM | 1u << STUN_A_XOR_MAPPED_ADDRESS |
                               1u << STUN_A_ALTERNATE_SERVER | 1u << STUN_A_RESPONSE_ORIGIN |
                               1u << STUN_A_OTHER_ADDRESS;
    return id < STUN_A_COUNT && ((addresses >> id) & 1u);
}

/* Maps a wire attribute type to its dense id; STUN_A_COUNT if unknown. */
enum stun_attr_id stun_attr_id_of(uint16_t type);

/* The wire type of a dense id. */
uint16_t stun_attr_type_of(enum stun_attr_id id);

#endif
