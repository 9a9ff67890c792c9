/*
 * Shared-secret table micro-benchmark: ns/op of a reader's lookup (hit and
 * miss), and of what an authenticated packet costs, a lookup plus the
 * MESSAGE-INTEGRITY check of a 52-byte Binding Request (header, a 4-byte
 * USERNAME, MESSAGE-INTEGRITY), against that check with a key in hand;
 * and the writer's reclaim step, which must never stall the front thread.
 *
 * The table has room for 65,536 credentials (131,072 slots, about 45 MB:
 * larger than the last-level cache, as a busy server's is) and holds 50,000;
 * the lookups walk them in a scrambled order, so each pays its cache misses.
 * --users 1000 keeps the walk in cache instead. Single-threaded: the writer
 * is idle.
 *
 *   stunring-bench-secret [--users N]          all ops, ns/op
 *   stunring-bench-secret --op NAME --iterations N [--users N]
 *                                              one op N times (for callgrind)
 *
 * bench/secret.sh runs both and prints instructions/op from callgrind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/microbench.h"
#include "core/integrity.h"
#include "core/msg.h"
#include "core/writer.h"
#include "crypto/secret_table.h"

enum {
    CAPACITY = 65536,
    USERS_MAX = 50000,
    NAME_LEN = 4,
    NOW_MS = 1000,
};

static struct secret_table *table;
static unsigned users = USERS_MAX;          /* --users */
static char names[2 * USERS_MAX][NAME_LEN]; /* [0, users) present, [users, 2 users) absent */
static uint32_t order[USERS_MAX];           /* a scrambled walk over the users */
static uint8_t requests[USERS_MAX][52];     /* request r is signed by user order[r] */
static struct stun_msg msgs[USERS_MAX];
static struct crypto_hmac_key key0; /* user 0's, for verify_only */
static unsigned cursor;

/* Four characters of base 62: distinct names for 14 million users. */
static void name_of(unsigned i, char out[NAME_LEN])
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int k = NAME_LEN - 1; k >= 0; k--, i /= 62)
        out[k] = digits[i % 62];
}

static void password_of(unsigned i, char out[32])
{
    snprintf(out, 32, "pw-%08u-0123456789", i); /* 22 bytes, like a 128-bit base64 one */
}

/* A Binding Request with USERNAME user and MESSAGE-INTEGRITY under its password. */
static void sign_request(unsigned r, unsigned user)
{
    uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42};
    char pw[32];
    struct crypto_hmac_key key;
    struct stun_writer w;
    memcpy(id16 + 4, &r, sizeof(r));
    password_of(user, pw);
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, pw, strlen(pw));
    stun_writer_start(&w, requests[r], sizeof(requests[r]),
                      stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    stun_write_bytes(&w, STUN_ATTR_USERNAME, names[user], NAME_LEN);
    stun_write_integrity(&w, &key);
    if (stun_writer_finish(&w) != sizeof(requests[r]) ||
        stun_msg_parse(&msgs[r], requests[r], sizeof(requests[r])) != STUN_OK) {
        fprintf(stderr, "bench setup: request %u failed\n", r);
        exit(1);
    }
    if (user == 0)
        key0 = key;
}

static void setup(void)
{
    char pw[32];
    if (secret_table_create(&table, CAPACITY) != 0) {
        fprintf(stderr, "bench setup: secret_table_create failed\n");
        exit(1);
    }
    for (unsigned i = 0; i < 2 * users; i++)
        name_of(i, names[i]);
    for (unsigned i = 0; i < users; i++) {
        password_of(i, pw);
        if (secret_table_insert(table, names[i], NAME_LEN, pw, strlen(pw), NOW_MS + 600000, NULL, 0,
                                NOW_MS) != 0) {
            fprintf(stderr, "bench setup: insert %u failed\n", i);
            exit(1);
        }
        /* 50021 is a prime above USERS_MAX, so this is a permutation. */
        order[i] = (uint32_t)(((uint64_t)i * 50021u) % users);
    }
    for (unsigned r = 0; r < users; r++)
        sign_request(r, order[r]);
}

static size_t lookup_hit(void)
{
    struct secret_entry e;
    unsigned u = order[cursor++ % users];
    int r = secret_table_lookup(table, names[u], NAME_LEN, NOW_MS, &e);
    return r == 0 ? e.expiry_ms : 0;
}

static size_t lookup_miss(void)
{
    struct secret_entry e;
    unsigned u = users + order[cursor++ % users];
    return (size_t)-secret_table_lookup(table, names[u], NAME_LEN, NOW_MS, &e);
}

/* What a worker does for an authenticated request once it is parsed. */
static size_t lookup_verify(void)
{
    const struct stun_msg *m = &msgs[cursor++ % users];
    struct secret_entry e;
    uint16_t len = 0;
    const uint8_t *user = stun_msg_attr(m, STUN_A_USERNAME, &len);
    if (secret_table_lookup(table, (const char *)user, len, NOW_MS, &e) != 0)
        return 1000;
    return stun_msg_verify_integrity(m, &e.key);
}

/* For contrast: the check alone, the key already in hand. */
static size_t verify_only(void) { return stun_msg_verify_integrity(&msgs[0], &key0); }

/* The writer's periodic sweep: SECRET_RECLAIM_BATCH slots, nothing expired. */
static size_t reclaim(void) { return secret_table_reclaim(table, NOW_MS); }

/*
 * What callgrind counts (--toggle-collect=op_NAME): the self-check below
 * runs the same code under the plain names, and is not counted.
 */
__attribute__((noinline)) static size_t op_lookup_hit(void) { return lookup_hit(); }
__attribute__((noinline)) static size_t op_lookup_miss(void) { return lookup_miss(); }
__attribute__((noinline)) static size_t op_lookup_verify(void) { return lookup_verify(); }
__attribute__((noinline)) static size_t op_verify_only(void) { return verify_only(); }
__attribute__((noinline)) static size_t op_reclaim(void) { return reclaim(); }

static const struct microbench_op ops[] = {
    {"lookup_hit", op_lookup_hit, "lookup of a present name, copy out key + expiry"},
    {"lookup_miss", op_lookup_miss, "lookup of an absent name"},
    {"lookup_verify", op_lookup_verify, "USERNAME lookup + MESSAGE-INTEGRITY check, 52 bytes"},
    {"verify_only", op_verify_only, "MESSAGE-INTEGRITY check alone, key in hand"},
    {"reclaim", op_reclaim, "writer: one reclaim call (256 slots), nothing to free"},
};

/* Every op must do what it claims before it is timed. */
static void check_ops(void)
{
    cursor = 0;
    for (unsigned i = 0; i < users; i++) {
        if (lookup_hit() != NOW_MS + 600000 || lookup_miss() != ENOENT ||
            lookup_verify() != STUN_OK || verify_only() != STUN_OK) {
            fprintf(stderr, "bench self-check failed at %u\n", i);
            exit(1);
        }
    }
    cursor = 0;
}

/* --users N: how many credentials the table holds (the working set). */
static bool users_flag(const char *flag, const char *value)
{
    if (strcmp(flag, "--users") != 0)
        return false;
    users = (unsigned)strtoul(value, NULL, 10);
    if (users < 1 || users > USERS_MAX) {
        fprintf(stderr, "--users: want 1..%d, got '%s'\n", USERS_MAX, value);
        exit(2);
    }
    return true;
}

int main(int argc, char **argv)
{
    struct microbench_args args;
    microbench_parse(argc, argv, &args, users_flag, " [--users 1..50000 (default 50000)]");
    setup();
    check_ops();
    int rc = microbench_run(ops, sizeof(ops) / sizeof(ops[0]), &args);
    secret_table_destroy(table);
    return rc;
}
