/* The writer: header, addresses, classic padding rules, bounds, integrity, fingerprint. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/attr.h"
#include "core/integrity.h"
#include "core/writer.h"
#include "tests/unit/craft.h"

static const uint8_t modern_id[16] = {0x21, 0x12, 0xA4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
                                      0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
static const uint8_t classic_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint16_t success = 0x0101, error = 0x0111;

Test(writer, header_only)
{
    uint8_t buf[64];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    cr_assert_eq(stun_writer_finish(&w), 20);
    cr_assert_eq(buf[0], 0x01);
    cr_assert_eq(buf[1], 0x01);
    cr_assert_eq(buf[2], 0);
    cr_assert_eq(buf[3], 0);
    cr_assert_arr_eq(buf + 4, modern_id, 16);
    cr_assert_not(w.classic);
}

Test(writer, too_small_for_a_header)
{
    uint8_t buf[19];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    cr_assert_eq(stun_writer_finish(&w), 0);
}

Test(writer, xor_ipv4_matches_rfc5769)
{
    /* RFC 5769 §2.2: 192.0.2.1:32853 is 00 01 a1 47 e1 12 a6 43. */
    uint8_t buf[64];
    struct stun_writer w;
    const struct stun_addr a = {STUN_FAMILY_IPV4, 32853, {192, 0, 2, 1}};
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
    const uint8_t expected[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
                                0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
    cr_assert_eq(stun_writer_finish(&w), 32);
    cr_assert_arr_eq(buf + 20, expected, sizeof(expected));
    cr_assert_eq(buf[3], 12, "header length follows the attributes");
}

Test(writer, addresses_decode_back)
{
    uint8_t buf[128];
    struct stun_writer w;
    struct stun_msg m;
    struct stun_addr got;
    const struct stun_addr v6 = {STUN_FAMILY_IPV6, 1, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    const struct stun_addr v4 = {STUN_FAMILY_IPV4, 65535, {127, 0, 0, 1}};
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_addr(&w, STUN_ATTR_MAPPED_ADDRESS, &v6);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6);
    stun_write_addr(&w, STUN_ATTR_OTHER_ADDRESS, &v4);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(len, 20 + 24 + 24 + 12);
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert(stun_msg_get_addr(&m, STUN_A_MAPPED_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &v6));
    cr_assert(stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &v6));
    cr_assert(stun_msg_get_addr(&m, STUN_A_OTHER_ADDRESS, &got));
    cr_assert(stun_addr_equal(&got, &v4));
}

Test(writer, error_code_modern_is_zero_padded)
{
    uint8_t buf[64];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), error, modern_id);
    stun_write_error(&w, 420, NULL);
    cr_assert_eq(stun_writer_finish(&w), 20 + 4 + 24);
    const uint8_t expected[] = {0x00, 0x09, 0x00, 21, 0, 0, 4, 20};
    cr_assert_arr_eq(buf + 20, expected, sizeof(expected));
    cr_assert_arr_eq(buf + 28, "Unknown Attribute\0\0\0", 20);
}

Test(writer, error_code_classic_pads_reason_with_spaces)
{
    /* RFC 3489 §11.2.9: the reason phrase length is a multiple of 4. */
    uint8_t buf[64];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), error, classic_id);
    cr_assert(w.classic);
    stun_write_error(&w, 420, NULL);
    cr_assert_eq(stun_writer_finish(&w), 20 + 4 + 24);
    cr_assert_eq(buf[23], 24, "the padding is counted in the length");
    cr_assert_arr_eq(buf + 28, "Unknown Attribute   ", 20);
}

Test(writer, error_code_out_of_range_fails)
{
    uint8_t buf[64];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), error, modern_id);
    stun_write_error(&w, 700, "x");
    cr_assert_eq(stun_writer_finish(&w), 0);
}

Test(writer, unknown_attributes_modern_and_classic)
{
    uint8_t buf[64];
    struct stun_writer w;
    const uint16_t types[] = {0x0024, 0x7001, 0x0031};
    stun_writer_start(&w, buf, sizeof(buf), error, modern_id);
    stun_write_unknown(&w, types, 3);
    cr_assert_eq(stun_writer_finish(&w), 20 + 4 + 8);
    cr_assert_eq(buf[23], 6);
    cr_assert_arr_eq(buf + 24, ((uint8_t[]){0x00, 0x24, 0x70, 0x01, 0x00, 0x31, 0, 0}), 8);

    /* RFC 3489 §11.2.10: an odd count repeats one entry. */
    stun_writer_start(&w, buf, sizeof(buf), error, classic_id);
    stun_write_unknown(&w, types, 3);
    cr_assert_eq(stun_writer_finish(&w), 20 + 4 + 8);
    cr_assert_eq(buf[23], 8);
    cr_assert_arr_eq(buf + 24, ((uint8_t[]){0x00, 0x24, 0x70, 0x01, 0x00, 0x31, 0x00, 0x24}), 8);
}

Test(writer, text_classic_and_modern)
{
    uint8_t buf[64];
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_text(&w, STUN_ATTR_SOFTWARE, "abcde", 5);
    cr_assert_eq(stun_writer_finish(&w), 32);
    cr_assert_eq(buf[23], 5);
    cr_assert_arr_eq(buf + 24, "abcde\0\0\0", 8);
    stun_writer_start(&w, buf, sizeof(buf), success, classic_id);
    stun_write_text(&w, STUN_ATTR_SOFTWARE, "abcde", 5);
    cr_assert_eq(buf[23], 8);
    cr_assert_arr_eq(buf + 24, "abcde   ", 8);
}

Test(writer, overflow_fails_once_and_for_all)
{
    uint8_t buf[32];
    struct stun_writer w;
    const struct stun_addr a = {STUN_FAMILY_IPV4, 1, {1, 2, 3, 4}};
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_addr(&w, STUN_ATTR_MAPPED_ADDRESS, &a); /* 12 bytes: fits exactly */
    cr_assert_eq(w.len, 32);
    stun_write_u32(&w, STUN_ATTR_FINGERPRINT, 0);
    cr_assert(w.failed);
    cr_assert_eq(w.len, 32, "a failed write adds nothing");
    stun_write_bytes(&w, STUN_ATTR_PADDING, NULL, 0);
    cr_assert_eq(stun_writer_finish(&w), 0);
}

Test(writer, fingerprint_verifies_and_detects_change)
{
    uint8_t buf[64];
    struct stun_writer w;
    struct stun_msg m;
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_text(&w, STUN_ATTR_SOFTWARE, "x", 1);
    stun_write_fingerprint(&w);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_FINGERPRINT));
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    buf[24] ^= 1;
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_DROP_BAD_FINGERPRINT);
}

/* HMAC-SHA1 with OpenSSL's one-shot HMAC(), independent of crypto/. */
static void reference_hmac(const char *key, const uint8_t *data, size_t len, uint8_t out[20])
{
    unsigned int out_len = 0;
    HMAC(EVP_sha1(), key, (int)strlen(key), data, len, out, &out_len);
    cr_assert_eq(out_len, 20);
}

Test(writer, integrity_rfc5389_form)
{
    uint8_t buf[128], mac[20];
    struct stun_writer w;
    struct crypto_hmac_key key;
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, "secret", 6);
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_text(&w, STUN_ATTR_USERNAME, "user", 4);
    stun_write_integrity(&w, &key);
    stun_write_fingerprint(&w);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(len, 20 + 8 + 24 + 8);
    /* RFC 5389 §15.4: HMAC over the message up to MI, length covering MI. */
    uint8_t copy[128];
    memcpy(copy, buf, 28);
    copy[3] = 8 + 24;
    reference_hmac("secret", copy, 28, mac);
    cr_assert_arr_eq(buf + 32, mac, 20);

    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
    struct crypto_hmac_key wrong;
    crypto_hmac_key_init(&wrong, CRYPTO_HMAC_SHA1, "Secret", 6);
    cr_assert_eq(stun_msg_verify_integrity(&m, &wrong), STUN_REJECT_BAD_INTEGRITY);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &key), STUN_REJECT_NO_INTEGRITY);
}

Test(writer, integrity_rfc3489_form_pads_to_64)
{
    uint8_t buf[128], mac[20], padded[64] = {0};
    struct stun_writer w;
    struct crypto_hmac_key key;
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, "secret", 6);
    stun_writer_start(&w, buf, sizeof(buf), success, classic_id);
    stun_write_bytes(&w, STUN_ATTR_USERNAME, "user", 4);
    stun_write_integrity(&w, &key);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(len, 20 + 8 + 24);
    /* RFC 3489 §11.2.8: the text before MI, zero-padded to 64 bytes. */
    memcpy(padded, buf, 28);
    reference_hmac("secret", padded, 64, mac);
    cr_assert_arr_eq(buf + 32, mac, 20);

    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert(m.classic);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
}

Test(writer, integrity_sha256_round_trip)
{
    uint8_t buf[128];
    struct stun_writer w;
    struct crypto_hmac_key k256, k1;
    crypto_hmac_key_init(&k256, CRYPTO_HMAC_SHA256, "secret", 6);
    crypto_hmac_key_init(&k1, CRYPTO_HMAC_SHA1, "secret", 6);
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_integrity(&w, &k1);
    stun_write_integrity_sha256(&w, &k256);
    stun_write_fingerprint(&w);
    size_t len = stun_writer_finish(&w);
    cr_assert_eq(len, 20 + 24 + 36 + 8);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &k1), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &k256), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &k1), STUN_REJECT_BAD_INTEGRITY);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

Test(writer, integrity_needs_the_matching_key_type)
{
    uint8_t buf[128];
    struct stun_writer w;
    struct crypto_hmac_key k256;
    crypto_hmac_key_init(&k256, CRYPTO_HMAC_SHA256, "secret", 6);
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    stun_write_integrity(&w, &k256);
    cr_assert_eq(stun_writer_finish(&w), 0);
}

Test(writer, truncated_sha256_integrity_verifies)
{
    /* RFC 8489 §14.6: a receiver compares only the bytes sent (16..32). */
    uint8_t buf[128];
    struct stun_writer w;
    struct crypto_hmac_key key;
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA256, "secret", 6);
    stun_writer_start(&w, buf, sizeof(buf), success, modern_id);
    uint32_t attr_off = w.len;
    uint8_t full[32] = {0};
    /* Write a 16-byte MI-SHA256 by hand: header, then the truncated MAC. */
    stun_write_bytes(&w, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, full, 16);
    stun_integrity_compute(buf, attr_off, 16, &key, false, full);
    memcpy(buf + attr_off + 4, full, 16);
    size_t len = stun_writer_finish(&w);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &key), STUN_OK);
    buf[attr_off + 4 + 15] ^= 0x80;
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &key), STUN_REJECT_BAD_INTEGRITY);
}
