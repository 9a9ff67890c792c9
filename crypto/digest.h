/*
 * Digests that are not MACs: the long-term credential key, USERHASH, and
 * the CRC-32 of FINGERPRINT. The key and USERHASH functions run when a
 * user is loaded or a nonce is minted, never per packet; the CRC does run
 * per packet.
 */
#ifndef STUNRING_CRYPTO_DIGEST_H
#define STUNRING_CRYPTO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hmac.h"

/* RFC 8489 §18.5.1 PASSWORD-ALGORITHM numbers. */
enum crypto_password_alg {
    CRYPTO_PASSWORD_MD5 = 0x0001,
    CRYPTO_PASSWORD_SHA256 = 0x0002,
};

/*
 * Long-term key, RFC 8489 §9.2.2: H(username ":" realm ":" password) with H
 * MD5 (16 bytes) or SHA-256 (32 bytes). The strings are taken as given:
 * callers apply OpaqueString (RFC 8265) before, if they need it. out holds
 * CRYPTO_HMAC_MAX_LEN bytes. Returns the key length, or -EINVAL for an
 * unknown alg, -ENOMEM if OpenSSL could not allocate.
 */
int crypto_longterm_key(enum crypto_password_alg alg, const char *username, size_t username_len,
                        const char *realm, size_t realm_len, const char *password,
                        size_t password_len, uint8_t *out);

/*
 * USERHASH, RFC 8489 §14.4: SHA-256(username ":" realm) into out[32].
 * Returns 0 or -ENOMEM.
 */
int crypto_userhash(const char *username, size_t username_len, const char *realm, size_t realm_len,
                    uint8_t out[CRYPTO_SHA256_LEN]);

/*
 * CRC-32 (ISO-HDLC, as zlib and RFC 8489 §14.7) continued over len bytes;
 * start with crc = 0.
 */
uint32_t crypto_crc32(uint32_t crc, const void *data, size_t len);

#endif
