/*
 * HMAC-SHA1 / HMAC-SHA256 with the key schedule done once.
 *
 * A struct crypto_hmac_key holds the hash states after absorbing the
 * key XOR ipad and key XOR opad blocks (RFC 2104). crypto_hmac() copies
 * those states onto the stack and hashes only the message, so a MAC costs
 * exactly the compressions of the message plus one for the outer hash,
 * with no allocation and no lock. A prepared key is read-only: any number
 * of threads may use it at once.
 */
#ifndef STUNRING_CRYPTO_HMAC_H
#define STUNRING_CRYPTO_HMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum crypto_hmac_alg {
    CRYPTO_HMAC_SHA1 = 1,
    CRYPTO_HMAC_SHA256 = 2,
};

enum {
    CRYPTO_SHA1_LEN = 20,
    CRYPTO_SHA256_LEN = 32,
    CRYPTO_MD5_LEN = 16,
    CRYPTO_HMAC_MAX_LEN = CRYPTO_SHA256_LEN,
    /* Big enough for OpenSSL's SHA_CTX and SHA256_CTX (checked in hmac.c). */
    CRYPTO_HASH_STATE_SIZE = 112,
};

/* A prepared key. Opaque: fill it with crypto_hmac_key_init(). */
struct crypto_hmac_key {
    _Alignas(16) unsigned char inner[CRYPTO_HASH_STATE_SIZE];
    _Alignas(16) unsigned char outer[CRYPTO_HASH_STATE_SIZE];
    enum crypto_hmac_alg alg;
};

/* One piece of a message that is MACed or hashed in several parts. */
struct crypto_span {
    const void *data;
    size_t len;
};

/*
 * Prepares key for alg from secret (any length; longer than a block is
 * hashed first, RFC 2104 §2). Returns 0, or -EINVAL for an unknown alg.
 * The secret is not kept; the key holds only derived hash states.
 */
int crypto_hmac_key_init(struct crypto_hmac_key *key, enum crypto_hmac_alg alg, const void *secret,
                         size_t secret_len);

/* Overwrites a key so no derived state lingers in memory. */
void crypto_hmac_key_wipe(struct crypto_hmac_key *key);

/* Digest length of the key's algorithm: 20 or 32. */
size_t crypto_hmac_len(const struct crypto_hmac_key *key);

/*
 * MAC of the concatenation of parts[0..n_parts) into out, which must hold
 * crypto_hmac_len(key) bytes. Returns that length.
 */
size_t crypto_hmac(const struct crypto_hmac_key *key, const struct crypto_span *parts,
                   size_t n_parts, uint8_t *out);

/* Constant-time comparison: true when the len bytes at a and b are equal. */
bool crypto_equal(const void *a, const void *b, size_t len);

#endif
