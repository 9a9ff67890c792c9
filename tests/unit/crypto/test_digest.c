/* Long-term keys, USERHASH and CRC-32 against values from Python's hashlib/zlib. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "crypto/digest.h"
#include "tests/unit/hex.h"

Test(digest, longterm_key_md5)
{
    uint8_t key[CRYPTO_HMAC_MAX_LEN], expected[16];
    hex_decode("8493fbc53ba582fb4c044c456bdc40eb", expected, sizeof(expected));
    cr_assert_eq(crypto_longterm_key(CRYPTO_PASSWORD_MD5, "user", 4, "realm", 5, "pass", 4, key),
                 16);
    cr_assert_arr_eq(key, expected, 16);
}

Test(digest, longterm_key_sha256)
{
    uint8_t key[CRYPTO_HMAC_MAX_LEN], expected[32];
    hex_decode("07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b", expected,
               sizeof(expected));
    cr_assert_eq(crypto_longterm_key(CRYPTO_PASSWORD_SHA256, "user", 4, "realm", 5, "pass", 4, key),
                 32);
    cr_assert_arr_eq(key, expected, 32);
}

Test(digest, longterm_key_unknown_algorithm)
{
    uint8_t key[CRYPTO_HMAC_MAX_LEN];
    cr_assert_eq(crypto_longterm_key((enum crypto_password_alg)9, "u", 1, "r", 1, "p", 1, key),
                 -EINVAL);
}

Test(digest, userhash)
{
    uint8_t hash[32], expected[32];
    hex_decode("6a3029116b47aa98bcaa325399733dc1a23cd57e26b81bef3ff6531ce624e2da", expected,
               sizeof(expected));
    cr_assert_eq(crypto_userhash("user", 4, "realm", 5, hash), 0);
    cr_assert_arr_eq(hash, expected, 32);
}

Test(digest, crc32_check_value)
{
    /* The CRC-32/ISO-HDLC check value over "123456789". */
    cr_assert_eq(crypto_crc32(0, "123456789", 9), 0xCBF43926u);
}

Test(digest, crc32_continues_across_parts)
{
    uint32_t crc = crypto_crc32(0, "1234", 4);
    cr_assert_eq(crypto_crc32(crc, "56789", 5), 0xCBF43926u);
}

Test(digest, crc32_agrees_with_zlib_at_every_length_and_offset)
{
    uint8_t buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len++)
            cr_assert_eq(crypto_crc32(0, buf + off, len), (uint32_t)crc32(0, buf + off, (uInt)len),
                         "off %zu len %zu", off, len);
}
