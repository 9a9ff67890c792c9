/*
 * Codec micro-benchmark: ns/op for the four operations of the hot path,
 * plus the bare HMAC-SHA1 that MESSAGE-INTEGRITY cannot beat, and OpenSSL's
 * one-shot HMAC() that a prepared key avoids.
 *
 * Driven by bench/microbench.c (--op, --iterations, --list); bench/codec.sh
 * prints ns/op and callgrind's instructions/op.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/microbench.h"
#include "core/integrity.h"
#include "core/msg.h"
#include "core/writer.h"

static struct stun_msg msg;
static uint8_t out[256];
static uint8_t binding[STUN_HEADER_LEN];
static uint8_t auth_request[128];
static size_t auth_len;
static struct crypto_hmac_key key;
static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 1}};

static void setup(void)
{
    static const uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct stun_writer w;
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, "VOkJxbRl1RmTxUk/WvJxBt", 22);
    stun_writer_start(&w, binding, sizeof(binding),
                      stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    stun_writer_start(&w, auth_request, sizeof(auth_request),
                      stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    stun_write_bytes(&w, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
    stun_write_integrity(&w, &key);
    stun_write_fingerprint(&w);
    auth_len = stun_writer_finish(&w);
    if (auth_len == 0 || stun_msg_parse(&msg, auth_request, auth_len) != STUN_OK) {
        fprintf(stderr, "bench setup failed\n");
        exit(1);
    }
}

__attribute__((noinline)) static size_t op_parse_binding(void)
{
    return stun_msg_parse(&msg, binding, sizeof(binding));
}

__attribute__((noinline)) static size_t op_parse_auth(void)
{
    return stun_msg_parse(&msg, auth_request, auth_len);
}

__attribute__((noinline)) static size_t op_verify_auth(void)
{
    return stun_msg_parse(&msg, auth_request, auth_len) + stun_msg_check_fingerprint(&msg) +
           stun_msg_verify_integrity(&msg, &key);
}

__attribute__((noinline)) static size_t op_write_fingerprint(void)
{
    struct stun_writer w;
    stun_writer_start(&w, out, sizeof(out), stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS),
                      binding + 4);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &client);
    stun_write_fingerprint(&w);
    return stun_writer_finish(&w);
}

__attribute__((noinline)) static size_t op_write_integrity(void)
{
    struct stun_writer w;
    stun_writer_start(&w, out, sizeof(out), stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS),
                      binding + 4);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &client);
    stun_write_integrity(&w, &key);
    stun_write_fingerprint(&w);
    return stun_writer_finish(&w);
}

/* The HMAC alone over the 32 bytes op_write_integrity MACs. */
__attribute__((noinline)) static size_t op_hmac_only(void)
{
    struct crypto_span part = {out, 32};
    return crypto_hmac(&key, &part, 1, out + 64);
}

/* For contrast: OpenSSL's one-shot HMAC(), which runs the key schedule per call. */
__attribute__((noinline)) static size_t op_hmac_oneshot(void)
{
    unsigned int len = 0;
    HMAC(EVP_sha1(), "VOkJxbRl1RmTxUk/WvJxBt", 22, out, 32, out + 64, &len);
    return len;
}

static const struct microbench_op ops[] = {
    {"parse_binding", op_parse_binding, "parse a 20-byte Binding Request"},
    {"parse_auth", op_parse_auth, "parse USERNAME + MESSAGE-INTEGRITY + FINGERPRINT"},
    {"verify_auth", op_verify_auth, "parse + check FINGERPRINT + verify MESSAGE-INTEGRITY"},
    {"write_fingerprint", op_write_fingerprint, "write XOR-MAPPED-ADDRESS + FINGERPRINT"},
    {"write_integrity", op_write_integrity, "write XOR-MAPPED + MESSAGE-INTEGRITY + FINGERPRINT"},
    {"hmac_only", op_hmac_only, "HMAC-SHA1 of 32 bytes, prepared key"},
    {"hmac_oneshot", op_hmac_oneshot, "HMAC-SHA1 of 32 bytes, OpenSSL HMAC() one-shot"},
};

int main(int argc, char **argv)
{
    struct microbench_args args;
    microbench_parse(argc, argv, &args, NULL, NULL);
    setup();
    return microbench_run(ops, sizeof(ops) / sizeof(ops[0]), &args);
}
