/*
 * Parser fuzzer: any bytes, any length. Checks that a usable view points
 * only inside the input and that every reader of the view stays safe.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/attr.h"
#include "core/integrity.h"
#include "tests/fuzz/fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

static void read_everything(const struct stun_msg *m)
{
    static struct crypto_hmac_key k1, k256;
    if (k1.alg == 0) {
        crypto_hmac_key_init(&k1, CRYPTO_HMAC_SHA1, "fuzz", 4);
        crypto_hmac_key_init(&k256, CRYPTO_HMAC_SHA256, "fuzz", 4);
    }
    struct stun_addr a;
    uint16_t list[16], port;
    uint32_t u32;
    int code;
    const char *reason;
    uint16_t reason_len;
    for (int id = 0; id < STUN_A_COUNT; id++) {
        if (stun_msg_has(m, (enum stun_attr_id)id)) {
            FUZZ_CHECK(m->at[id].off >= STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN);
            FUZZ_CHECK(m->at[id].off + m->at[id].len <= m->len);
        }
        stun_msg_get_addr(m, (enum stun_attr_id)id, &a);
        stun_msg_get_u32(m, (enum stun_attr_id)id, &u32);
    }
    stun_msg_get_response_port(m, &port);
    stun_msg_get_error(m, &code, &reason, &reason_len);
    stun_msg_get_unknown_list(m, list, 16);
    stun_msg_get_password_algorithms(m, list, 16);
    stun_msg_check_fingerprint(m);
    stun_msg_verify_integrity(m, &k1);
    stun_msg_verify_integrity_sha256(m, &k256);
    FUZZ_CHECK(m->n_unknown <= STUN_MAX_UNKNOWN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stun_msg m;
    enum stun_status s = stun_msg_parse(&m, data, size);
    FUZZ_CHECK(s < STUN_STATUS_COUNT);
    if (s == STUN_OK || s == STUN_REJECT_UNKNOWN_ATTR) {
        FUZZ_CHECK(m.len == size);
        read_everything(&m);
    }
    return 0;
}
