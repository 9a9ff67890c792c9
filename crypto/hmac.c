/*
 * HMAC over OpenSSL's SHA-1/SHA-256 block functions.
 *
 * Why the low-level SHA API (deprecated in OpenSSL 3 but present in every
 * 3.x): its context is a plain struct, so a prepared HMAC state is copied
 * with memcpy. The EVP route (EVP_MD_CTX_copy_ex, EVP_MAC_CTX_dup) goes
 * through the provider's dupctx and allocates on every copy, which the
 * per-packet path must not do (DESIGN.md, "The hot path"). The hashing
 * itself is the same assembly either way.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto/hmac.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA_CTX) <= CRYPTO_HASH_STATE_SIZE, "SHA_CTX does not fit");
_Static_assert(sizeof(SHA256_CTX) <= CRYPTO_HASH_STATE_SIZE, "SHA256_CTX does not fit");

enum { BLOCK = 64 }; /* SHA-1 and SHA-256 both take 64-byte blocks */

/* The hash of one algorithm, as three calls over an opaque state. */
struct hash_ops {
    size_t len;
    void (*init)(void *state);
    void (*update)(void *state, const void *data, size_t len);
    void (*final)(void *state, uint8_t *out);
};

static void sha1_init(void *s) { SHA1_Init(s); }
static void sha1_update(void *s, const void *d, size_t n) { SHA1_Update(s, d, n); }
static void sha1_final(void *s, uint8_t *out) { SHA1_Final(out, s); }
static void sha256_init(void *s) { SHA256_Init(s); }
static void sha256_update(void *s, const void *d, size_t n) { SHA256_Update(s, d, n); }
static void sha256_final(void *s, uint8_t *out) { SHA256_Final(out, s); }

static const struct hash_ops sha1_ops = {CRYPTO_SHA1_LEN, sha1_init, sha1_update, sha1_final};
static const struct hash_ops sha256_ops = {CRYPTO_SHA256_LEN, sha256_init, sha256_update,
                                           sha256_final};

static const struct hash_ops *ops_of(enum crypto_hmac_alg alg)
{
    switch (alg) {
    case CRYPTO_HMAC_SHA1:
        return &sha1_ops;
    case CRYPTO_HMAC_SHA256:
        return &sha256_ops;
    }
    return NULL;
}

/* Absorbs one block of key XOR pad into a fresh state. */
static void absorb_pad(const struct hash_ops *ops, void *state, const uint8_t *block, uint8_t pad)
{
    uint8_t padded[BLOCK];
    for (size_t i = 0; i < BLOCK; i++)
        padded[i] = block[i] ^ pad;
    ops->init(state);
    ops->update(state, padded, BLOCK);
    OPENSSL_cleanse(padded, sizeof(padded));
}

int crypto_hmac_key_init(struct crypto_hmac_key *key, enum crypto_hmac_alg alg, const void *secret,
                         size_t secret_len)
{
    const struct hash_ops *ops = ops_of(alg);
    if (ops == NULL)
        return -EINVAL;

    /* RFC 2104 §2: a key longer than a block is replaced by its hash. */
    uint8_t block[BLOCK] = {0};
    if (secret_len > BLOCK) {
        _Alignas(16) unsigned char state[CRYPTO_HASH_STATE_SIZE];
        ops->init(state);
        ops->update(state, secret, secret_len);
        ops->final(state, block);
        OPENSSL_cleanse(state, sizeof(state));
    } else if (secret_len > 0) {
        memcpy(block, secret, secret_len);
    }

    memset(key, 0, sizeof(*key));
    key->alg = alg;
    absorb_pad(ops, key->inner, block, 0x36);
    absorb_pad(ops, key->outer, block, 0x5c);
    OPENSSL_cleanse(block, sizeof(block));
    return 0;
}

void crypto_hmac_key_wipe(struct crypto_hmac_key *key) { OPENSSL_cleanse(key, sizeof(*key)); }

size_t crypto_hmac_len(const struct crypto_hmac_key *key)
{
    return key->alg == CRYPTO_HMAC_SHA256 ? CRYPTO_SHA256_LEN : CRYPTO_SHA1_LEN;
}

size_t crypto_hmac(const struct crypto_hmac_key *key, const struct crypto_span *parts,
                   size_t n_parts, uint8_t *out)
{
    const struct hash_ops *ops = key->alg == CRYPTO_HMAC_SHA256 ? &sha256_ops : &sha1_ops;
    _Alignas(16) unsigned char state[CRYPTO_HASH_STATE_SIZE];
    uint8_t inner_digest[CRYPTO_HMAC_MAX_LEN];

    memcpy(state, key->inner, sizeof(state));
    for (size_t i = 0; i < n_parts; i++)
        ops->update(state, parts[i].data, parts[i].len);
    ops->final(state, inner_digest);

    memcpy(state, key->outer, sizeof(state));
    ops->update(state, inner_digest, ops->len);
    ops->final(state, out);
    return ops->len;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
