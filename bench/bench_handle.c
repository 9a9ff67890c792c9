/*
 * The request handler alone: one stun_handle() per op, the user-space work
 * of one answer minus the worker's socket glue. bench/handle.sh runs it
 * natively (ns/op) and under callgrind (instructions/op).
 *
 * Under valgrind OpenSSL sees no SHA extensions (valgrind does not emulate
 * them), so the signed op's instruction count is that of OpenSSL's AVX2
 * SHA-1; natively, on a CPU with SHA-NI, the same op runs the SHA
 * instructions: compare the ns/op figures for that path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/microbench.h"
#include "core/handler.h"
#include "core/writer.h"

static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 1}};
static const struct stun_endpoints single = {
    .addr = {[STUN_EP_A1P1] = {STUN_FAMILY_IPV4, 3478, {127, 0, 0, 1}}},
    .alternate = false,
};
static const struct stun_endpoints four = {
    .addr =
        {
            [STUN_EP_A1P1] = {STUN_FAMILY_IPV4, 3478, {127, 0, 0, 1}},
            [STUN_EP_A1P2] = {STUN_FAMILY_IPV4, 3479, {127, 0, 0, 1}},
            [STUN_EP_A2P1] = {STUN_FAMILY_IPV4, 3478, {127, 0, 0, 2}},
            [STUN_EP_A2P2] = {STUN_FAMILY_IPV4, 3479, {127, 0, 0, 2}},
        },
    .alternate = true,
};

static const struct stun_handler_config plain = {.software = NULL};
static struct stun_handler_config signing; /* --auth optional, one known user */
static struct crypto_hmac_key user_key;

/* The requests, built once by setup(). */
static uint8_t bare[20], classic[20], with_fp[28], signed_req[128];
static size_t signed_len;
static uint8_t out[2048]; /* a worker's send buffer */

static enum stun_cred_result one_user(const void *ctx, const uint8_t *user, size_t len,
                                      uint64_t now_ms, struct stun_credential *cred)
{
    (void)ctx, (void)user, (void)len, (void)now_ms;
    cred->key = user_key; /* the copy a table lookup makes */
    cred->minted_for.family = 0;
    return STUN_CRED_FOUND;
}

static size_t build(uint8_t *buf, size_t cap, const uint8_t id16[16], bool fingerprint,
                    const char *user)
{
    struct stun_writer w;
    stun_writer_start(&w, buf, cap, stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    if (user != NULL) {
        stun_write_bytes(&w, STUN_ATTR_USERNAME, user, strlen(user));
        stun_write_integrity(&w, &user_key);
    }
    if (fingerprint)
        stun_write_fingerprint(&w);
    return stun_writer_finish(&w);
}

static void setup(void)
{
    static const uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const uint8_t classic_id[16] = {0x5a, 0x5a, 0xA4, 0x42, 1, 2,  3,  4,
                                           5,    6,    7,    8,    9, 10, 11, 12};
    static const char password[] = "f6eb4b0b81fbfbe1b4ab9d7ac606c46e"; /* a minted one's shape */
    crypto_hmac_key_init(&user_key, CRYPTO_HMAC_SHA1, password, sizeof(password) - 1);
    signing.auth = STUN_AUTH_OPTIONAL;
    signing.lookup = one_user;
    size_t lens[] = {
        build(bare, sizeof(bare), id16, false, NULL),
        build(classic, sizeof(classic), classic_id, false, NULL),
        build(with_fp, sizeof(with_fp), id16, true, NULL),
        signed_len = build(signed_req, sizeof(signed_req), id16, true,
                           "6b01f09fe881f83ad0388eb9019a407f00000100"),
    };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        if (lens[i] == 0) {
            fprintf(stderr, "bench_handle: request %zu did not build\n", i);
            exit(1);
        }
}

static size_t handle(const struct stun_handler_config *cfg, const uint8_t *data, size_t len,
                     const struct stun_endpoints *eps)
{
    struct stun_request req = {
        .data = data,
        .len = len,
        .source = &client,
        .local = &eps->addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = eps,
        .now_ms = 1,
    };
    struct stun_reply reply;
    stun_handle(cfg, &req, out, sizeof(out), &reply);
    if (reply.status != STUN_OK) {
        fprintf(stderr, "bench_handle: status %s\n", stun_status_name(reply.status));
        exit(1);
    }
    return reply.len;
}

__attribute__((noinline)) static size_t op_bare(void)
{
    return handle(&plain, bare, sizeof(bare), &single);
}

__attribute__((noinline)) static size_t op_fingerprint(void)
{
    return handle(&plain, with_fp, sizeof(with_fp), &single);
}

__attribute__((noinline)) static size_t op_rfc5780(void)
{
    return handle(&plain, bare, sizeof(bare), &four);
}

__attribute__((noinline)) static size_t op_classic(void)
{
    return handle(&plain, classic, sizeof(classic), &four);
}

__attribute__((noinline)) static size_t op_signed(void)
{
    return handle(&signing, signed_req, signed_len, &single);
}

static const struct microbench_op ops[] = {
    {"bare", op_bare, "20-byte Binding, one address (the fast path)"},
    {"fingerprint", op_fingerprint, "Binding + FINGERPRINT, one address"},
    {"rfc5780", op_rfc5780, "20-byte Binding, four endpoints (OTHER-ADDRESS, RESPONSE-ORIGIN)"},
    {"classic", op_classic, "RFC 3489 Binding, four endpoints"},
    {"signed", op_signed, "USERNAME + MESSAGE-INTEGRITY + FINGERPRINT: verify, then sign"},
};

int main(int argc, char **argv)
{
    struct microbench_args args;
    microbench_parse(argc, argv, &args, NULL, NULL);
    setup();
    return microbench_run(ops, sizeof(ops) / sizeof(ops[0]), &args);
}
