/* Long-term keys and USERHASH. */
#include "crypto/digest.h"

#include <errno.h>
#include <openssl/evp.h>

/* H(a ":" b [":" c]) with one EVP digest; n is 2 or 3 pieces. */
static int digest_joined(const EVP_MD *md, const struct crypto_span *pieces, size_t n, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0)
            ok = EVP_DigestUpdate(ctx, ":", 1);
        if (ok)
            ok = EVP_DigestUpdate(ctx, pieces[i].data, pieces[i].len);
    }
    unsigned int len = 0;
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? (int)len : -ENOMEM;
}

int crypto_longterm_key(enum crypto_password_alg alg, const char *username, size_t username_len,
                        const char *realm, size_t realm_len, const char *password,
                        size_t password_len, uint8_t *out)
{
    const EVP_MD *md;
    switch (alg) {
    case CRYPTO_PASSWORD_MD5:
        md = EVP_md5();
        break;
    case CRYPTO_PASSWORD_SHA256:
        md = EVP_sha256();
        break;
    default:
        return -EINVAL;
    }
    const struct crypto_span pieces[3] = {
        {username, username_len}, {realm, realm_len}, {password, password_len}};
    return digest_joined(md, pieces, 3, out);
}

int crypto_userhash(const char *username, size_t username_len, const char *realm, size_t realm_len,
                    uint8_t out[CRYPTO_SHA256_LEN])
{
    const struct crypto_span pieces[2] = {{username, username_len}, {realm, realm_len}};
    int n = digest_joined(EVP_sha256(), pieces, 2, out);
    return n < 0 ? n : 0;
}
