/* Stateless nonces: cookie, features, expiry and a truncated MAC. */
#include "core/nonce.h"

#include <stdbool.h>
#include <string.h>

#include "core/wire.h"

static const char cookie[STUN_NONCE_COOKIE_LEN + 1] = "obMatJos2";

/* Separates this MAC's inputs from any other use of the same key. */
static const char mac_label[] = "stunring-nonce-v1";

enum {
    FEATURE_BYTES = 3,
    EXPIRY_BYTES = 8,
    TAIL_BYTES = EXPIRY_BYTES + STUN_NONCE_MAC_LEN, /* 24: a whole number of base64 groups */
    TAIL_OFF = STUN_NONCE_COOKIE_LEN + STUN_NONCE_FEATURES_LEN,
};

_Static_assert(TAIL_BYTES % 3 == 0, "base64 of the tail must need no padding");
_Static_assert(TAIL_OFF + TAIL_BYTES / 3 * 4 == STUN_NONCE_LEN, "nonce length");
_Static_assert(STUN_NONCE_LEN <= STUN_NONCE_MAX, "STUN_NONCE_MAX holds a nonce");

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* n bytes (a multiple of 3) into n / 3 * 4 characters. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 3, out += 4) {
        uint32_t group = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 0; k < 4; k++)
            out[k] = b64_alphabet[(group >> (18 - 6 * k)) & 63];
    }
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* n characters (a multiple of 4) into n / 4 * 3 bytes; false on a non-alphabet byte. */
static bool b64_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 4, out += 3) {
        uint32_t group = 0;
        for (int k = 0; k < 4; k++) {
            int v = b64_value(in[i + (size_t)k]);
            if (v < 0)
                return false;
            group = group << 6 | (uint32_t)v;
        }
        out[0] = (uint8_t)(group >> 16);
        out[1] = (uint8_t)(group >> 8);
        out[2] = (uint8_t)group;
    }
    return true;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    wire_put32(p, (uint32_t)(v >> 32));
    wire_put32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)wire_get32(p) << 32 | wire_get32(p + 4);
}

/* The truncated MAC over what the nonce vouches for. */
static void nonce_mac(const struct crypto_hmac_key *key, const uint8_t features[FEATURE_BYTES],
                      const uint8_t expiry[EXPIRY_BYTES], const struct stun_addr *client,
                      uint8_t out[STUN_NONCE_MAC_LEN])
{
    uint8_t full[CRYPTO_HMAC_MAX_LEN];
    const struct crypto_span parts[] = {
        {mac_label, sizeof(mac_label) - 1},
        {features, FEATURE_BYTES},
        {expiry, EXPIRY_BYTES},
        {&client->family, 1},
        {client->ip, stun_addr_ip_len(client)},
    };
    crypto_hmac(key, parts, sizeof(parts) / sizeof(parts[0]), full);
    memcpy(out, full, STUN_NONCE_MAC_LEN);
}

size_t stun_nonce_make(const struct crypto_hmac_key *key, const struct stun_addr *client,
                       uint64_t expiry_s, unsigned features, char *out, size_t cap)
{
    if (cap < STUN_NONCE_LEN || features > STUN_FEATURES_ALL_BITS)
        return 0;
    uint8_t feature_bytes[FEATURE_BYTES] = {(uint8_t)(features >> 16), (uint8_t)(features >> 8),
                                            (uint8_t)features};
    uint8_t tail[TAIL_BYTES];
    put_u64(tail, expiry_s);
    nonce_mac(key, feature_bytes, tail, client, tail + EXPIRY_BYTES);

    memcpy(out, cookie, STUN_NONCE_COOKIE_LEN);
    b64_encode(feature_bytes, FEATURE_BYTES, out + STUN_NONCE_COOKIE_LEN);
    b64_encode(tail, TAIL_BYTES, out + TAIL_OFF);
    return STUN_NONCE_LEN;
}

enum stun_nonce_verdict stun_nonce_check(const struct crypto_hmac_key *key,
                                         const struct stun_addr *client, const uint8_t *nonce,
                                         size_t len, uint64_t now_s, unsigned *features_out)
{
    uint8_t feature_bytes[FEATURE_BYTES], tail[TAIL_BYTES], mac[STUN_NONCE_MAC_LEN];
    if (len != STUN_NONCE_LEN || memcmp(nonce, cookie, STUN_NONCE_COOKIE_LEN) != 0)
        return STUN_NONCE_FORGED;
    if (!b64_decode(nonce + STUN_NONCE_COOKIE_LEN, STUN_NONCE_FEATURES_LEN, feature_bytes) ||
        !b64_decode(nonce + TAIL_OFF, STUN_NONCE_LEN - TAIL_OFF, tail))
        return STUN_NONCE_FORGED;
    nonce_mac(key, feature_bytes, tail, client, mac);
    if (!crypto_equal(mac, tail + EXPIRY_BYTES, STUN_NONCE_MAC_LEN))
        return STUN_NONCE_FORGED;
    if (features_out != NULL)
        *features_out =
            (unsigned)feature_bytes[0] << 16 | (unsigned)feature_bytes[1] << 8 | feature_bytes[2];
    return now_s >= get_u64(tail) ? STUN_NONCE_STALE : STUN_NONCE_VALID;
}
