/*
 * Stateless nonces: round trip, expiry, tampering, binding to the client
 * IP (not the port), and the RFC 8489 §9.2 cookie. The expected nonces were
 * computed with Python's hmac, hashlib and base64 from the format in
 * core/nonce.h.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/nonce.h"
#include "tests/unit/vectors.h"

static const uint64_t expiry = 1700000000;

static struct crypto_hmac_key make_key(const char *secret)
{
    struct crypto_hmac_key key;
    cr_assert_eq(crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA256, secret, strlen(secret)), 0);
    return key;
}

static struct stun_addr v4(uint8_t last, uint16_t port)
{
    struct stun_addr a = {.family = STUN_FAMILY_IPV4, .port = port, .ip = {192, 0, 2, last}};
    return a;
}

static struct stun_addr v6(uint8_t last, uint16_t port)
{
    struct stun_addr a = {.family = STUN_FAMILY_IPV6,
                          .port = port,
                          .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}};
    return a;
}

static size_t make(const struct crypto_hmac_key *key, const struct stun_addr *client,
                   unsigned features, char out[STUN_NONCE_MAX])
{
    size_t len = stun_nonce_make(key, client, expiry, features, out, STUN_NONCE_MAX);
    cr_assert_eq(len, STUN_NONCE_LEN);
    return len;
}

static enum stun_nonce_verdict check(const struct crypto_hmac_key *key,
                                     const struct stun_addr *client, const char *nonce, size_t len,
                                     uint64_t now)
{
    return stun_nonce_check(key, client, (const uint8_t *)nonce, len, now, NULL);
}

Test(nonce, known_value_ipv4)
{
    struct crypto_hmac_key key = make_key("nonce test key");
    struct stun_addr client = v4(1, 32853);
    char out[STUN_NONCE_MAX];
    size_t len = make(&key, &client,
                      STUN_FEATURE_PASSWORD_ALGORITHMS | STUN_FEATURE_USERNAME_ANONYMITY, out);
    const char *expected = "obMatJos2AAADAAAAAGVT8QCmGKzyG/f9xZLoLbyMhm2d";
    cr_assert_eq(len, strlen(expected));
    cr_assert_arr_eq(out, expected, len);
}

Test(nonce, known_value_ipv6)
{
    struct crypto_hmac_key key = make_key("nonce test key");
    struct stun_addr client = v6(1, 3478);
    char out[STUN_NONCE_MAX];
    size_t len = make(&key, &client, STUN_FEATURE_USERNAME_ANONYMITY, out);
    const char *expected = "obMatJos2AAACAAAAAGVT8QDRufcbBGiyouqLg1cYcMXB";
    cr_assert_arr_eq(out, expected, len);
}

Test(nonce, cookie_and_feature_bits_as_rfc_8489)
{
    /* Errata 6290: bit 0 is the least significant bit of the 24. */
    static const struct {
        unsigned features;
        const char *prefix;
    } cases[] = {
        {0, "obMatJos2AAAA"},
        {STUN_FEATURE_PASSWORD_ALGORITHMS, "obMatJos2AAAB"},
        {STUN_FEATURE_USERNAME_ANONYMITY, "obMatJos2AAAC"},
        {STUN_FEATURE_PASSWORD_ALGORITHMS | STUN_FEATURE_USERNAME_ANONYMITY, "obMatJos2AAAD"},
        {0xFFFFFF, "obMatJos2////"},
    };
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(1, 1);
    char out[STUN_NONCE_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make(&key, &client, cases[i].features, out);
        cr_assert_arr_eq(out, cases[i].prefix, 13, "features %#x", cases[i].features);
    }
    /* RFC 8489 B.1 uses USERHASH and its nonce says so: "obMatJos2AAAC". */
    cr_assert_arr_eq(rfc8489_b1_nonce, "obMatJos2AAAC", 13);
}

Test(nonce, text_is_printable_and_unquoted)
{
    struct crypto_hmac_key key = make_key("k");
    char out[STUN_NONCE_MAX];
    for (unsigned i = 0; i < 200; i++) {
        struct stun_addr client = v4((uint8_t)i, 1);
        make(&key, &client, i & 3, out);
        for (size_t j = 0; j < STUN_NONCE_LEN; j++)
            cr_assert(out[j] > 0x20 && out[j] < 0x7F && out[j] != '"' && out[j] != '\\');
    }
}

Test(nonce, round_trip_with_features)
{
    struct crypto_hmac_key key = make_key("k");
    char out[STUN_NONCE_MAX];
    for (unsigned features = 0; features < 8; features++) {
        struct stun_addr client = features & 1 ? v6(9, 5) : v4(9, 5);
        size_t len = make(&key, &client, features, out);
        unsigned got = 99;
        cr_assert_eq(stun_nonce_check(&key, &client, (const uint8_t *)out, len, expiry - 1, &got),
                     STUN_NONCE_VALID);
        cr_assert_eq(got, features);
    }
}

Test(nonce, stale_at_and_after_expiry)
{
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(7, 40000);
    char out[STUN_NONCE_MAX];
    size_t len = make(&key, &client, STUN_FEATURE_PASSWORD_ALGORITHMS, out);
    cr_assert_eq(check(&key, &client, out, len, 0), STUN_NONCE_VALID);
    cr_assert_eq(check(&key, &client, out, len, expiry - 1), STUN_NONCE_VALID);
    cr_assert_eq(check(&key, &client, out, len, expiry), STUN_NONCE_STALE);
    cr_assert_eq(check(&key, &client, out, len, expiry + 1), STUN_NONCE_STALE);
    cr_assert_eq(check(&key, &client, out, len, UINT64_MAX), STUN_NONCE_STALE);
    unsigned got = 0;
    cr_assert_eq(stun_nonce_check(&key, &client, (const uint8_t *)out, len, expiry, &got),
                 STUN_NONCE_STALE);
    cr_assert_eq(got, STUN_FEATURE_PASSWORD_ALGORITHMS);
}

Test(nonce, every_single_byte_change_is_forged)
{
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(7, 40000);
    char out[STUN_NONCE_MAX];
    size_t len = make(&key, &client, 3, out);
    for (size_t i = 0; i < len; i++) {
        for (unsigned b = 0; b < 256; b++) {
            if (b == (uint8_t)out[i])
                continue;
            char bad[STUN_NONCE_MAX];
            memcpy(bad, out, len);
            bad[i] = (char)b;
            /* Forged even when long expired: tampering is never "stale". */
            cr_assert_eq(check(&key, &client, bad, len, 0), STUN_NONCE_FORGED, "byte %zu = %u", i,
                         b);
            cr_assert_eq(check(&key, &client, bad, len, UINT64_MAX), STUN_NONCE_FORGED);
        }
    }
}

Test(nonce, every_truncation_and_extension_is_forged)
{
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(7, 40000);
    char out[STUN_NONCE_MAX + 1];
    size_t len = make(&key, &client, 3, out);
    for (size_t n = 0; n < len; n++)
        cr_assert_eq(check(&key, &client, out, n, 0), STUN_NONCE_FORGED, "length %zu", n);
    out[len] = 'A';
    cr_assert_eq(check(&key, &client, out, len + 1, 0), STUN_NONCE_FORGED);
    /* The same bytes without the cookie's first character. */
    cr_assert_eq(check(&key, &client, out + 1, len, 0), STUN_NONCE_FORGED);
}

Test(nonce, other_client_ip_is_forged_other_port_is_valid)
{
    struct crypto_hmac_key key = make_key("k");
    char out[STUN_NONCE_MAX];
    struct stun_addr client = v4(7, 40000);
    size_t len = make(&key, &client, 0, out);

    struct stun_addr rebound = v4(7, 40001);
    cr_assert_eq(check(&key, &rebound, out, len, 0), STUN_NONCE_VALID);
    struct stun_addr other = v4(8, 40000);
    cr_assert_eq(check(&key, &other, out, len, 0), STUN_NONCE_FORGED);
    /* Same leading bytes, other family: 192.0.2.7 vs 2001:db8::7 differ anyway. */
    struct stun_addr six = v6(7, 40000);
    cr_assert_eq(check(&key, &six, out, len, 0), STUN_NONCE_FORGED);

    struct stun_addr client6 = v6(7, 40000);
    len = make(&key, &client6, 0, out);
    struct stun_addr client6_port = v6(7, 1);
    cr_assert_eq(check(&key, &client6_port, out, len, 0), STUN_NONCE_VALID);
    struct stun_addr other6 = v6(6, 40000);
    cr_assert_eq(check(&key, &other6, out, len, 0), STUN_NONCE_FORGED);
}

Test(nonce, family_is_bound_even_with_equal_address_bytes)
{
    struct crypto_hmac_key key = make_key("k");
    char out[STUN_NONCE_MAX];
    struct stun_addr client = v4(7, 1);
    size_t len = make(&key, &client, 0, out);
    /* An IPv6 address whose first four bytes equal the IPv4 one. */
    struct stun_addr six = {.family = STUN_FAMILY_IPV6, .port = 1, .ip = {192, 0, 2, 7}};
    cr_assert_eq(check(&key, &six, out, len, 0), STUN_NONCE_FORGED);
}

Test(nonce, other_key_is_forged)
{
    struct crypto_hmac_key key = make_key("k");
    struct crypto_hmac_key other = make_key("k2");
    struct stun_addr client = v4(7, 1);
    char out[STUN_NONCE_MAX];
    size_t len = make(&key, &client, 0, out);
    cr_assert_eq(check(&other, &client, out, len, 0), STUN_NONCE_FORGED);
    cr_assert_eq(check(&other, &client, out, len, UINT64_MAX), STUN_NONCE_FORGED);
}

Test(nonce, foreign_nonces_are_forged)
{
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(7, 1);
    cr_assert_eq(check(&key, &client, rfc8489_b1_nonce, strlen(rfc8489_b1_nonce), 0),
                 STUN_NONCE_FORGED);
    cr_assert_eq(check(&key, &client, rfc5769_lt_nonce, strlen(rfc5769_lt_nonce), 0),
                 STUN_NONCE_FORGED);
}

Test(nonce, make_refuses_small_buffers_and_wide_features)
{
    struct crypto_hmac_key key = make_key("k");
    struct stun_addr client = v4(7, 1);
    char out[STUN_NONCE_MAX];
    memset(out, 'x', sizeof(out));
    cr_assert_eq(stun_nonce_make(&key, &client, expiry, 0, out, STUN_NONCE_LEN - 1), 0);
    cr_assert_eq(out[0], 'x', "nothing written");
    cr_assert_eq(stun_nonce_make(&key, &client, expiry, 0x1000000, out, sizeof(out)), 0);
    cr_assert_eq(stun_nonce_make(&key, &client, expiry, 0, out, STUN_NONCE_LEN), STUN_NONCE_LEN);
}
