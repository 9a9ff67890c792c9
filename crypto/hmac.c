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

/*
 * The per-packet MAC feeds OpenSSL's block function (SHA1_Transform,
 * SHA256_Transform: the same assembly, SHA-NI where the CPU has it) and
 * pads the message itself. SHA*_Update and SHA*_Final would add their
 * bookkeeping and a cleanse of the context to every call: a third of the
 * instructions of a whole MAC of a 60-byte message.
 */
struct block_stream {
    void *state;
    void (*transform)(void *state, const uint8_t *block);
    uint8_t block[BLOCK];
    size_t fill;    /* bytes waiting in block */
    uint64_t total; /* bytes fed, the prepared key block not counted */
};

static void sha1_transform(void *s, const uint8_t *b) { SHA1_Transform(s, b); }
static void sha256_transform(void *s, const uint8_t *b) { SHA256_Transform(s, b); }

static void stream_feed(struct block_stream *st, const uint8_t *data, size_t len)
{
    st->total += len;
    while (len > 0) {
        if (st->fill == 0 && len >= BLOCK) { /* whole blocks straight from the input */
            st->transform(st->state, data);
            data += BLOCK;
            len -= BLOCK;
            continue;
        }
        size_t n = BLOCK - st->fill < len ? BLOCK - st->fill : len;
        memcpy(st->block + st->fill, data, n);
        st->fill += n;
        data += n;
        len -= n;
        if (st->fill == BLOCK) {
            st->transform(st->state, st->block);
            st->fill = 0;
        }
    }
}

/* FIPS 180-4 §5.1.1 padding: 0x80, zeros, the bit length (the prepared
 * key block included) in the last 8 bytes. */
static void stream_pad(struct block_stream *st)
{
    uint64_t bits = (BLOCK + st->total) * 8;
    st->block[st->fill++] = 0x80;
    if (st->fill > BLOCK - 8) {
        memset(st->block + st->fill, 0, BLOCK - st->fill);
        st->transform(st->state, st->block);
        st->fill = 0;
    }
    memset(st->block + st->fill, 0, BLOCK - 8 - st->fill);
    uint64_t be_bits = __builtin_bswap64(bits);
    memcpy(st->block + BLOCK - 8, &be_bits, 8);
    st->transform(st->state, st->block);
}

/* The state words, big-endian (SHA-1 has five, SHA-256 eight). */
static void state_digest(const struct crypto_hmac_key *key, const void *state, uint8_t *out)
{
    uint32_t words[8];
    size_t n;
    if (key->alg == CRYPTO_HMAC_SHA256) {
        const SHA256_CTX *c = state;
        n = 8;
        memcpy(words, c->h, sizeof(words));
    } else {
        const SHA_CTX *c = state;
        n = 5;
        words[0] = c->h0, words[1] = c->h1, words[2] = c->h2, words[3] = c->h3, words[4] = c->h4;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t be = __builtin_bswap32(words[i]);
        memcpy(out + 4 * i, &be, 4);
    }
}

/* One hash continued from a prepared state over parts, into out. */
static void hash_from(const struct crypto_hmac_key *key, const unsigned char *prepared,
                      const struct crypto_span *parts, size_t n_parts, uint8_t *out)
{
    _Alignas(16) unsigned char state[CRYPTO_HASH_STATE_SIZE];
    struct block_stream st; /* field by field: the block needs no zeroing */
    st.state = state;
    st.transform = key->alg == CRYPTO_HMAC_SHA256 ? sha256_transform : sha1_transform;
    st.fill = 0;
    st.total = 0;
    /* Only the chaining words matter to the block function. */
    memcpy(state, prepared,
           key->alg == CRYPTO_HMAC_SHA256 ? sizeof(((SHA256_CTX *)0)->h) : 5 * sizeof(SHA_LONG));
    for (size_t i = 0; i < n_parts; i++)
        stream_feed(&st, parts[i].data, parts[i].len);
    stream_pad(&st);
    state_digest(key, state, out);
}

size_t crypto_hmac(const struct crypto_hmac_key *key, const struct crypto_span *parts,
                   size_t n_parts, uint8_t *out)
{
    uint8_t inner_digest[CRYPTO_HMAC_MAX_LEN];
    size_t len = crypto_hmac_len(key);
    hash_from(key, key->inner, parts, n_parts, inner_digest);
    struct crypto_span inner = {inner_digest, len};
    hash_from(key, key->outer, &inner, 1, out);
    return len;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
