/*
 * Stateless NONCE values for the long-term credential mechanism
 * (RFC 8489 §9.2). The server remembers nothing per client: a nonce
 * carries its own expiry and a MAC under a server key, so any worker can
 * check any nonce, and a restart with the same key keeps nonces valid.
 *
 * Format (STUN_NONCE_LEN = 45 printable ASCII characters):
 *
 *   "obMatJos2"  the RFC 8489 §9.2 nonce cookie
 *   FFFF         base64 (RFC 4648 §4) of the 24-bit STUN Security Feature
 *                set, 3 bytes big-endian. Bit 0 is the least significant
 *                bit (RFC 8489 Errata 6290; the published prose numbers
 *                from the other end): password algorithms = "AAAB",
 *                username anonymity = "AAAC", both = "AAAD".
 *   B x 32       base64 of 24 bytes: the expiry (seconds since the epoch,
 *                8 bytes big-endian), then the first 16 bytes of
 *                HMAC-SHA256(key, "stunring-nonce-v1" || features (3 bytes)
 *                || expiry (8 bytes) || family (1 byte) || IP (4 or 16)).
 *
 * e.g. both features, expiry 1700000000, client 192.0.2.1 and key
 * "nonce test key" (HMAC-SHA256) give (tests/unit/core/test_nonce.c):
 *   obMatJos2AAADAAAAAGVT8QCmGKzyG/f9xZLoLbyMhm2d
 *
 * Base64 of whole 3-byte groups has no padding and no spare bits, so the
 * text decodes to exactly one byte string: any change to any character
 * either leaves the alphabet or changes the MACed bytes. The alphabet
 * (A-Z a-z 0-9 + /) holds no quote or backslash, as NONCE's quoted-string
 * syntax requires (RFC 8489 §14.10), and 45 < 128 characters.
 *
 * The MAC binds the nonce to the client's address family and IP but not
 * its port: NATs rebind ports (and a client may open a new TCP
 * connection) between the 401 and the retried request, while a nonce
 * replayed from another IP is refused. Callers must give the same form of
 * an address to make and check (an IPv4-mapped IPv6 address is not the
 * IPv4 address).
 *
 * Pure: no allocation, no system call; the key is read-only, so any number
 * of threads may make and check nonces with one key.
 */
#ifndef STUNRING_CORE_NONCE_H
#define STUNRING_CORE_NONCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "crypto/hmac.h"

enum {
    STUN_NONCE_COOKIE_LEN = 9,   /* "obMatJos2" */
    STUN_NONCE_FEATURES_LEN = 4, /* base64 of 3 bytes */
    STUN_NONCE_LEN = 45,
    STUN_NONCE_MAX = 48, /* a buffer for one nonce; also its padded attribute length */
    STUN_NONCE_MAC_LEN = 16,
};

/* STUN Security Features (RFC 8489 §18.1, bit numbers per Errata 6290). */
enum stun_nonce_feature {
    STUN_FEATURE_PASSWORD_ALGORITHMS = 1u << 0,
    STUN_FEATURE_USERNAME_ANONYMITY = 1u << 1,
    STUN_FEATURES_ALL_BITS = 0xFFFFFF,
};

enum stun_nonce_verdict {
    STUN_NONCE_VALID = 0,
    STUN_NONCE_STALE,  /* made by us for this client, but expired: 438 */
    STUN_NONCE_FORGED, /* bad format, bad MAC, another key, or another client IP */
};

/*
 * Writes the nonce for client, valid until expiry_s, advertising features
 * (24 bits), into out (no NUL). key should be an HMAC-SHA256 key. Returns
 * STUN_NONCE_LEN, or 0 when cap < STUN_NONCE_LEN or features does not fit
 * in 24 bits.
 */
size_t stun_nonce_make(const struct crypto_hmac_key *key, const struct stun_addr *client,
                       uint64_t expiry_s, unsigned features, char *out, size_t cap);

/*
 * Checks the len bytes of a NONCE attribute from client at time now_s.
 * The MAC is compared in constant time, and STUN_NONCE_STALE is told only
 * for a nonce whose MAC is right. On STUN_NONCE_VALID and STUN_NONCE_STALE
 * *features_out (if not NULL) gets the feature set the nonce advertised.
 */
enum stun_nonce_verdict stun_nonce_check(const struct crypto_hmac_key *key,
                                         const struct stun_addr *client, const uint8_t *nonce,
                                         size_t len, uint64_t now_s, unsigned *features_out);

#endif
