/*
 * RFC 5769 §2.1-2.4 and RFC 8489 Appendix B.1 (with Errata 6268): parse,
 * verify, decode, and rebuild each byte for byte.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/attr.h"
#include "core/integrity.h"
#include "crypto/digest.h"
#include "tests/support/rebuild.h"
#include "tests/unit/vectors.h"

static void parse_vector(struct stun_msg *m, const uint8_t *bytes, size_t len,
                         enum stun_status expect)
{
    cr_assert_eq(stun_msg_parse(m, bytes, len), expect, "parse");
    cr_assert_not(m->classic);
}

/* Rebuilds m with the given keys and requires the original bytes back. */
static void assert_rebuilds(const struct stun_msg *m, const struct crypto_hmac_key *sha1,
                            const struct crypto_hmac_key *sha256)
{
    uint8_t out[512];
    size_t len = rebuild(m, out, sizeof(out), sha1, sha256);
    cr_assert_eq(len, m->len, "rebuilt length");
    cr_assert_arr_eq(out, m->buf, len, "rebuilt bytes differ");
}

static void short_term_key(struct crypto_hmac_key *key)
{
    cr_assert_eq(
        crypto_hmac_key_init(key, CRYPTO_HMAC_SHA1, rfc5769_password, strlen(rfc5769_password)), 0);
}

Test(rfc5769, sample_request)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    uint16_t len;
    short_term_key(&key);
    /* PRIORITY (0x0024) is ICE's: a plain STUN server lists it for a 420. */
    parse_vector(&m, rfc5769_request, sizeof(rfc5769_request), STUN_REJECT_UNKNOWN_ATTR);
    cr_assert_eq(m.n_unknown, 1);
    cr_assert_eq(m.unknown[0], 0x0024);
    cr_assert_eq(m.method, STUN_METHOD_BINDING);
    cr_assert_eq(m.cls, STUN_CLASS_REQUEST);
    cr_assert_arr_eq(m.buf + 8, rfc5769_txid, 12);
    const uint8_t *user = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    cr_assert_eq(len, strlen(rfc5769_username));
    cr_assert_arr_eq(user, rfc5769_username, len);
    const uint8_t *sw = stun_msg_attr(&m, STUN_A_SOFTWARE, &len);
    cr_assert_arr_eq(sw, rfc5769_request_software, len);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
    assert_rebuilds(&m, &key, NULL);
}

Test(rfc5769, sample_ipv4_response)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    struct stun_addr a;
    short_term_key(&key);
    parse_vector(&m, rfc5769_response_v4, sizeof(rfc5769_response_v4), STUN_OK);
    cr_assert_eq(m.cls, STUN_CLASS_SUCCESS);
    cr_assert(stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a));
    cr_assert_eq(a.family, STUN_FAMILY_IPV4);
    cr_assert_eq(a.port, rfc5769_mapped_port);
    cr_assert_arr_eq(a.ip, rfc5769_mapped_v4, 4);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
    assert_rebuilds(&m, &key, NULL);
}

Test(rfc5769, sample_ipv6_response)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    struct stun_addr a;
    short_term_key(&key);
    parse_vector(&m, rfc5769_response_v6, sizeof(rfc5769_response_v6), STUN_OK);
    cr_assert(stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &a));
    cr_assert_eq(a.family, STUN_FAMILY_IPV6);
    cr_assert_eq(a.port, rfc5769_mapped_port);
    cr_assert_arr_eq(a.ip, rfc5769_mapped_v6, 16);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
    assert_rebuilds(&m, &key, NULL);
}

Test(rfc5769, sample_long_term_request)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    uint8_t lt[CRYPTO_HMAC_MAX_LEN];
    uint16_t len;
    int n = crypto_longterm_key(
        CRYPTO_PASSWORD_MD5, rfc5769_lt_username, strlen(rfc5769_lt_username), rfc5769_lt_realm,
        strlen(rfc5769_lt_realm), rfc5769_lt_password, strlen(rfc5769_lt_password), lt);
    cr_assert_eq(n, 16);
    cr_assert_arr_eq(lt, rfc5769_lt_key, 16);
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, lt, 16);

    parse_vector(&m, rfc5769_request_lt, sizeof(rfc5769_request_lt), STUN_OK);
    const uint8_t *v = stun_msg_attr(&m, STUN_A_NONCE, &len);
    cr_assert_eq(len, strlen(rfc5769_lt_nonce));
    cr_assert_arr_eq(v, rfc5769_lt_nonce, len);
    v = stun_msg_attr(&m, STUN_A_REALM, &len);
    cr_assert_arr_eq(v, rfc5769_lt_realm, len);
    v = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    cr_assert_arr_eq(v, rfc5769_lt_username, len);
    cr_assert_not(stun_msg_has(&m, STUN_A_FINGERPRINT));
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_OK);
    assert_rebuilds(&m, &key, NULL);
}

Test(rfc8489, b1_sha256_integrity_with_userhash)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    uint8_t lt[CRYPTO_HMAC_MAX_LEN], hash[32];
    uint16_t len, alg;
    const char *user = rfc8489_b1_username, *realm = rfc8489_b1_realm;
    cr_assert_eq(crypto_userhash(user, strlen(user), realm, strlen(realm), hash), 0);
    cr_assert_arr_eq(hash, rfc8489_b1_userhash, 32);
    int n = crypto_longterm_key(CRYPTO_PASSWORD_SHA256, user, strlen(user), realm, strlen(realm),
                                rfc8489_b1_password, strlen(rfc8489_b1_password), lt);
    cr_assert_eq(n, 32);
    cr_assert_arr_eq(lt, rfc8489_b1_key, 32);
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA256, lt, 32);

    parse_vector(&m, rfc8489_b1_request, sizeof(rfc8489_b1_request), STUN_OK);
    const uint8_t *v = stun_msg_attr(&m, STUN_A_USERHASH, &len);
    cr_assert_arr_eq(v, rfc8489_b1_userhash, 32);
    v = stun_msg_attr(&m, STUN_A_NONCE, &len);
    cr_assert_eq(len, strlen(rfc8489_b1_nonce));
    cr_assert_arr_eq(v, rfc8489_b1_nonce, len);
    cr_assert(stun_msg_get_password_algorithm(&m, &alg));
    cr_assert_eq(alg, CRYPTO_PASSWORD_SHA256);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &key), STUN_OK);
    assert_rebuilds(&m, NULL, &key);
}

Test(rfc5769, tampering_is_detected)
{
    struct stun_msg m;
    struct crypto_hmac_key key;
    uint8_t copy[sizeof(rfc5769_response_v4)];
    short_term_key(&key);
    memcpy(copy, rfc5769_response_v4, sizeof(copy));
    copy[30] ^= 0x01; /* a bit of the mapped address */
    cr_assert_eq(stun_msg_parse(&m, copy, sizeof(copy)), STUN_OK);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_DROP_BAD_FINGERPRINT);
    cr_assert_eq(stun_msg_verify_integrity(&m, &key), STUN_REJECT_BAD_INTEGRITY);
}
