/*
 * Round-trip fuzzer: parse -> rebuild through the writer -> parse. The
 * second parse must agree with the first, and the integrity and
 * fingerprint the writer computed must verify.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/integrity.h"
#include "tests/fuzz/fuzz.h"
#include "tests/support/rebuild.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

static uint8_t out[STUN_MAX_MESSAGE + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct crypto_hmac_key k1, k256;
    if (k1.alg == 0) {
        crypto_hmac_key_init(&k1, CRYPTO_HMAC_SHA1, "fuzz", 4);
        crypto_hmac_key_init(&k256, CRYPTO_HMAC_SHA256, "fuzz", 4);
    }
    struct stun_msg first, second;
    enum stun_status s = stun_msg_parse(&first, data, size);
    if (s != STUN_OK && s != STUN_REJECT_UNKNOWN_ATTR)
        return 0;

    size_t len = rebuild(&first, out, sizeof(out), &k1, &k256);
    if (len == 0) {
        /* Only growth past the largest message may fail: a truncated
         * MESSAGE-INTEGRITY-SHA256 is rewritten at its full 32 bytes. */
        FUZZ_CHECK(size > STUN_MAX_MESSAGE - 16);
        return 0;
    }
    FUZZ_CHECK(stun_msg_parse(&second, out, len) == s);
    FUZZ_CHECK(same_meaning(&first, &second) == NULL);
    FUZZ_CHECK(stun_msg_check_fingerprint(&second) == STUN_OK);
    if (stun_msg_has(&second, STUN_A_MESSAGE_INTEGRITY))
        FUZZ_CHECK(stun_msg_verify_integrity(&second, &k1) == STUN_OK);
    if (stun_msg_has(&second, STUN_A_MESSAGE_INTEGRITY_SHA256))
        FUZZ_CHECK(stun_msg_verify_integrity_sha256(&second, &k256) == STUN_OK);
    return 0;
}
