/*
 * STUN wire constants: message types, attribute types, error codes.
 *
 * Header (RFC 8489 §5; RFC 3489 §11.1 had a 128-bit id in place of
 * cookie + id):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0|     STUN Message Type     |         Message Length        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Magic Cookie                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     Transaction ID (96 bits)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Message type bits: M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 §5).
 */
#ifndef STUNRING_CORE_STUN_H
#define STUNRING_CORE_STUN_H

#include <stdint.h>

enum {
    STUN_HEADER_LEN = 20,
    STUN_ATTR_HEADER_LEN = 4,
    STUN_TID_LEN = 12,         /* RFC 5389/8489 transaction id */
    STUN_CLASSIC_TID_LEN = 16, /* RFC 3489: the whole of bytes 4..19 */
    STUN_MAX_MESSAGE = 65535 + STUN_HEADER_LEN,
};

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554Eu

enum stun_class {
    STUN_CLASS_REQUEST = 0,
    STUN_CLASS_INDICATION = 1,
    STUN_CLASS_SUCCESS = 2,
    STUN_CLASS_ERROR = 3,
};

enum stun_method {
    STUN_METHOD_BINDING = 0x001,
    STUN_METHOD_SHARED_SECRET = 0x002, /* RFC 3489 §8.2, TLS only */
};

/* Message type from method and class, and back. */
static inline uint16_t stun_type(uint16_t method, enum stun_class cls)
{
    return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                      ((cls & 1) << 4) | ((cls & 2) << 7));
}

static inline uint16_t stun_type_method(uint16_t type)
{
    return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

static inline enum stun_class stun_type_class(uint16_t type)
{
    return (enum stun_class)(((type >> 4) & 1) | ((type >> 7) & 2));
}

/* Attribute types. Below 0x8000: comprehension-required. */
enum stun_attr_type {
    STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    STUN_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489 */
    STUN_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 3489, RFC 5780 */
    STUN_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 */
    STUN_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489 */
    STUN_ATTR_USERNAME = 0x0006,
    STUN_ATTR_PASSWORD = 0x0007, /* RFC 3489 */
    STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    STUN_ATTR_ERROR_CODE = 0x0009,
    STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    STUN_ATTR_REFLECTED_FROM = 0x000B, /* RFC 3489 */
    STUN_ATTR_REALM = 0x0014,
    STUN_ATTR_NONCE = 0x0015,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
    STUN_ATTR_USERHASH = 0x001E,
    STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    STUN_ATTR_PADDING = 0x0026,       /* RFC 5780 */
    STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 */
    STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
    STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
    STUN_ATTR_SOFTWARE = 0x8022,
    STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    STUN_ATTR_FINGERPRINT = 0x8028,
    STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
    STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 */
};

static inline int stun_attr_comprehension_required(uint16_t type) { return type < 0x8000; }

/* CHANGE-REQUEST flags (RFC 3489 §11.2.4, RFC 5780 §7.2). */
enum {
    STUN_CHANGE_PORT = 0x2,
    STUN_CHANGE_IP = 0x4,
};

/* ERROR-CODE values this server sends or understands. */
enum stun_error {
    STUN_ERR_TRY_ALTERNATE = 300,
    STUN_ERR_BAD_REQUEST = 400,
    STUN_ERR_UNAUTHORIZED = 401,
    STUN_ERR_FORBIDDEN = 403, /* RFC 8656 §18.8 (TURN), used by RFC 8489 servers */
    STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
    STUN_ERR_STALE_CREDENTIALS = 430, /* RFC 3489 */
    STUN_ERR_INTEGRITY_CHECK = 431,   /* RFC 3489 */
    STUN_ERR_MISSING_USERNAME = 432,  /* RFC 3489 */
    STUN_ERR_USE_TLS = 433,           /* RFC 3489 */
    STUN_ERR_STALE_NONCE = 438,
    STUN_ERR_SERVER_ERROR = 500,
    STUN_ERR_GLOBAL_FAILURE = 600, /* RFC 3489 */
};

/* Address families in address attributes (RFC 8489 §14.1). */
enum stun_family {
    STUN_FAMILY_IPV4 = 0x01,
    STUN_FAMILY_IPV6 = 0x02,
};

#endif
