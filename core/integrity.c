/* Integrity and fingerprint over a message prefix with an adjusted length. */
#include "core/integrity.h"

#include "core/wire.h"
#include "crypto/digest.h"

/* Header length field as if the message ended after this attribute. */
static void adjusted_length(uint8_t out[2], uint32_t attr_off, uint16_t value_len)
{
    wire_put16(out, (uint16_t)(attr_off + STUN_ATTR_HEADER_LEN + value_len - STUN_HEADER_LEN));
}

void stun_integrity_compute(const uint8_t *msg, uint32_t attr_off, uint16_t value_len,
                            const struct crypto_hmac_key *key, bool classic, uint8_t *out)
{
    /* RFC 3489 §11.2.8: the text is padded with zeroes to a multiple of 64 bytes. */
    static const uint8_t zeros[64];
    uint8_t length[2];
    adjusted_length(length, attr_off, value_len);
    struct crypto_span parts[4] = {
        {msg, 2},
        {length, 2},
        {msg + 4, attr_off - 4},
        {zeros, classic ? (64 - attr_off % 64) % 64 : 0},
    };
    if (wire_get16(msg + 2) == wire_get16(length)) {
        /* The header already holds the adjusted length (the writer's case,
         * and a received message whose integrity is last): one part. */
        parts[2] = (struct crypto_span){msg, attr_off};
        crypto_hmac(key, parts + 2, 2, out);
        return;
    }
    crypto_hmac(key, parts, 4, out);
}

uint32_t stun_fingerprint_compute(const uint8_t *msg, uint32_t attr_off)
{
    uint8_t length[2];
    adjusted_length(length, attr_off, 4);
    if (wire_get16(msg + 2) == wire_get16(length)) /* FINGERPRINT is last: one pass */
        return crypto_crc32(0, msg, attr_off) ^ STUN_FINGERPRINT_XOR;
    uint32_t crc = crypto_crc32(0, msg, 2);
    crc = crypto_crc32(crc, length, 2);
    crc = crypto_crc32(crc, msg + 4, attr_off - 4);
    return crc ^ STUN_FINGERPRINT_XOR;
}

static enum stun_status verify(const struct stun_msg *m, enum stun_attr_id id,
                               const struct crypto_hmac_key *key, enum crypto_hmac_alg alg)
{
    uint16_t len;
    const uint8_t *value = stun_msg_attr(m, id, &len);
    if (value == NULL)
        return STUN_REJECT_NO_INTEGRITY;
    if (key->alg != alg)
        return STUN_REJECT_BAD_INTEGRITY;
    uint8_t mac[CRYPTO_HMAC_MAX_LEN];
    uint32_t attr_off = m->at[id].off - STUN_ATTR_HEADER_LEN;
    bool classic = m->classic && id == STUN_A_MESSAGE_INTEGRITY;
    stun_integrity_compute(m->buf, attr_off, len, key, classic, mac);
    /* len <= the MAC length: the parser checked 20, or 16..32. */
    return crypto_equal(mac, value, len) ? STUN_OK : STUN_REJECT_BAD_INTEGRITY;
}

enum stun_status stun_msg_verify_integrity(const struct stun_msg *m,
                                           const struct crypto_hmac_key *key)
{
    return verify(m, STUN_A_MESSAGE_INTEGRITY, key, CRYPTO_HMAC_SHA1);
}

enum stun_status stun_msg_verify_integrity_sha256(const struct stun_msg *m,
                                                  const struct crypto_hmac_key *key)
{
    return verify(m, STUN_A_MESSAGE_INTEGRITY_SHA256, key, CRYPTO_HMAC_SHA256);
}

enum stun_status stun_msg_check_fingerprint(const struct stun_msg *m)
{
    uint16_t len;
    const uint8_t *value = stun_msg_attr(m, STUN_A_FINGERPRINT, &len);
    if (value == NULL)
        return STUN_OK;
    uint32_t expected = stun_fingerprint_compute(m->buf, m->at[STUN_A_FINGERPRINT].off - 4);
    return wire_get32(value) == expected ? STUN_OK : STUN_DROP_BAD_FINGERPRINT;
}
