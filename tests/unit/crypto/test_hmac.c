/* HMAC with a prepared key: RFC 2202 and RFC 4231 vectors, parts, compare. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/hmac.h"
#include "tests/unit/hex.h"

/*
 * Strings are held inline: Criterion runs each parameter in a re-executed
 * child, where pointers into the parent's address space mean nothing.
 */
struct hmac_case {
    enum crypto_hmac_alg alg;
    uint8_t key_byte; /* key is key_len copies of key_byte, or key_text */
    size_t key_len;
    char key_text[8];
    char data[64];
    char digest_hex[72];
};

/* RFC 2202 §3 cases 1, 2, 6 and RFC 4231 §4 cases 1, 2, 6. */
static struct hmac_case cases[] = {
    {CRYPTO_HMAC_SHA1, 0x0b, 20, "", "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
    {CRYPTO_HMAC_SHA1, 0, 0, "Jefe", "what do ya want for nothing?",
     "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    {CRYPTO_HMAC_SHA1, 0xaa, 80, "", "Test Using Larger Than Block-Size Key - Hash Key First",
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
    {CRYPTO_HMAC_SHA256, 0x0b, 20, "", "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {CRYPTO_HMAC_SHA256, 0, 0, "Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {CRYPTO_HMAC_SHA256, 0xaa, 131, "", "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
};

ParameterizedTestParameters(hmac, published_vectors)
{
    return cr_make_param_array(struct hmac_case, cases, sizeof(cases) / sizeof(cases[0]));
}

static void prepare(struct crypto_hmac_key *key, const struct hmac_case *c)
{
    uint8_t secret[256];
    size_t len = c->key_len;
    if (c->key_text[0] != '\0') {
        len = strlen(c->key_text);
        memcpy(secret, c->key_text, len);
    } else {
        memset(secret, c->key_byte, len);
    }
    cr_assert_eq(crypto_hmac_key_init(key, c->alg, secret, len), 0);
}

ParameterizedTest(struct hmac_case *c, hmac, published_vectors)
{
    struct crypto_hmac_key key;
    prepare(&key, c);
    uint8_t expected[CRYPTO_HMAC_MAX_LEN], got[CRYPTO_HMAC_MAX_LEN];
    size_t expected_len = hex_decode(c->digest_hex, expected, sizeof(expected));
    struct crypto_span part = {c->data, strlen(c->data)};
    cr_assert_eq(crypto_hmac(&key, &part, 1, got), expected_len);
    cr_assert_eq(crypto_hmac_len(&key), expected_len);
    cr_assert_arr_eq(got, expected, expected_len);
}

Test(hmac, parts_equal_one_span)
{
    struct crypto_hmac_key key;
    prepare(&key, &cases[1]);
    const char *data = cases[1].data;
    uint8_t whole[20], split[20];
    struct crypto_span one = {data, strlen(data)};
    struct crypto_span three[3] = {{data, 3}, {data + 3, 0}, {data + 3, strlen(data) - 3}};
    crypto_hmac(&key, &one, 1, whole);
    crypto_hmac(&key, three, 3, split);
    cr_assert_arr_eq(whole, split, 20);
}

Test(hmac, key_is_reusable)
{
    struct crypto_hmac_key key;
    prepare(&key, &cases[0]);
    uint8_t first[20], second[20];
    struct crypto_span part = {"Hi There", 8};
    crypto_hmac(&key, &part, 1, first);
    crypto_hmac(&key, &part, 1, second);
    cr_assert_arr_eq(first, second, 20);
}

Test(hmac, unknown_algorithm_is_refused)
{
    struct crypto_hmac_key key;
    cr_assert_eq(crypto_hmac_key_init(&key, (enum crypto_hmac_alg)7, "k", 1), -EINVAL);
}

Test(hmac, wipe_clears_the_key)
{
    struct crypto_hmac_key key, zero;
    prepare(&key, &cases[0]);
    crypto_hmac_key_wipe(&key);
    memset(&zero, 0, sizeof(zero));
    cr_assert_arr_eq(&key, &zero, sizeof(key));
}

Test(hmac, constant_time_equal)
{
    cr_assert(crypto_equal("abcd", "abcd", 4));
    cr_assert_not(crypto_equal("abcd", "abce", 4));
    cr_assert_not(crypto_equal("xbcd", "abcd", 4));
    cr_assert(crypto_equal("a", "b", 0));
}

/*
 * crypto_hmac pads and feeds blocks itself: OpenSSL's one-shot HMAC() is
 * the oracle at every message length across the padding boundaries (55,
 * 56, 63, 64, 119, 120 ...), for key lengths around the block size, with
 * the message cut into parts at every position.
 */
Test(hmac, equals_openssl_at_every_length_and_split)
{
    static const size_t key_lens[] = {0, 1, 20, 63, 64, 65, 131};
    uint8_t keybuf[131], msg[300];
    for (size_t i = 0; i < sizeof(keybuf); i++)
        keybuf[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 13 + 5);
    for (int a = 0; a < 2; a++) {
        enum crypto_hmac_alg alg = a ? CRYPTO_HMAC_SHA256 : CRYPTO_HMAC_SHA1;
        const EVP_MD *md = a ? EVP_sha256() : EVP_sha1();
        for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
            struct crypto_hmac_key key;
            cr_assert_eq(crypto_hmac_key_init(&key, alg, keybuf, key_lens[k]), 0);
            for (size_t len = 0; len <= sizeof(msg); len++) {
                uint8_t want[EVP_MAX_MD_SIZE], got[CRYPTO_HMAC_MAX_LEN];
                unsigned want_len = 0;
                HMAC(md, keybuf, (int)key_lens[k], msg, len, want, &want_len);
                size_t cut = len / 3, cut2 = len - len / 5; /* three uneven parts */
                struct crypto_span parts[3] = {
                    {msg, cut}, {msg + cut, cut2 - cut}, {msg + cut2, len - cut2}};
                cr_assert_eq(crypto_hmac(&key, parts, 3, got), want_len);
                cr_assert_arr_eq(got, want, want_len, "alg %d key %zu len %zu", a, key_lens[k],
                                 len);
                struct crypto_span whole = {msg, len};
                crypto_hmac(&key, &whole, 1, got);
                cr_assert_arr_eq(got, want, want_len, "alg %d key %zu len %zu whole", a,
                                 key_lens[k], len);
            }
        }
    }
}
