/*
 * The shared-secret table, one thread at a time: what each call returns,
 * that the stored key is the password's, expiry, reclaim, a full table, and
 * churn through many times the table's capacity. The concurrent side is
 * tests/unit/crypto/stress_secret_table.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/integrity.h"
#include "core/msg.h"
#include "core/writer.h"
#include "crypto/secret_table.h"

static struct secret_table *table;
static const uint8_t minted_for[SECRET_MINTED_FOR_MAX] = {1, 0, 0x9c, 0x40, 192, 0, 2, 1};

static void make_table(unsigned max_entries)
{
    cr_assert_eq(secret_table_create(&table, max_entries), 0);
}

static void drop_table(void)
{
    secret_table_destroy(table);
    table = NULL;
}

/* Inserts user with password "pw-<user>", minted_for above. */
static int insert(const char *user, uint64_t expiry_ms, uint64_t now_ms)
{
    char pw[96];
    int n = snprintf(pw, sizeof(pw), "pw-%s", user);
    return secret_table_insert(table, user, strlen(user), pw, (size_t)n, expiry_ms, minted_for,
                               sizeof(minted_for), now_ms);
}

static int lookup(const char *user, uint64_t now_ms, struct secret_entry *e)
{
    return secret_table_lookup(table, user, strlen(user), now_ms, e);
}

/* Runs reclaim over the whole table `laps` times. */
static unsigned reclaim_laps(unsigned max_entries, uint64_t now_ms, unsigned laps)
{
    unsigned removed = 0, calls = laps * (4 * max_entries / SECRET_RECLAIM_BATCH + 1);
    for (unsigned i = 0; i < calls; i++)
        removed += secret_table_reclaim(table, now_ms);
    return removed;
}

TestSuite(secret_table, .fini = drop_table);

Test(secret_table, create_rejects_zero_and_oversized_capacity)
{
    static char not_a_table;
    struct secret_table *t = (struct secret_table *)&not_a_table; /* create must clear it */
    cr_expect_eq(secret_table_create(&t, 0), -EINVAL);
    cr_expect_null(t);
    cr_expect_eq(secret_table_create(&t, SECRET_TABLE_MAX_ENTRIES + 1u), -EINVAL);
    secret_table_destroy(NULL);
}

Test(secret_table, bytes_are_slots_times_slot_size)
{
    /* Slots: a power of 2 at least 2 x max_entries, so one entry past a
     * power of 2 doubles the table. */
    size_t slot = secret_table_slot_bytes();
    cr_assert_gt(slot, 0);
    cr_expect_eq(secret_table_bytes(65536), 131072 * slot);
    cr_expect_eq(secret_table_bytes(65537), 262144 * slot);
    cr_expect_eq(secret_table_bytes(100000), 262144 * slot);
    cr_expect_eq(secret_table_bytes(0), 0);
    cr_expect_eq(secret_table_bytes(SECRET_TABLE_MAX_ENTRIES + 1u), 0);
    make_table(100000);
    cr_expect_eq(secret_table_slots(table) * slot, secret_table_bytes(100000));
}

Test(secret_table, insert_then_lookup_copies_the_entry)
{
    struct secret_entry e;
    make_table(16);
    cr_assert_eq(insert("alice", 5000, 1000), 0);
    cr_assert_eq(lookup("alice", 1000, &e), 0);
    cr_expect_eq(e.expiry_ms, 5000);
    cr_expect_eq(e.minted_for_len, sizeof(minted_for));
    cr_expect_arr_eq(e.minted_for, minted_for, sizeof(minted_for));
    cr_expect_eq(secret_table_count(table), 1);
}

Test(secret_table, absent_names_are_enoent)
{
    struct secret_entry e;
    char long_name[SECRET_USERNAME_MAX + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    make_table(16);
    cr_assert_eq(insert("alice", 5000, 1000), 0);
    cr_expect_eq(lookup("bob", 1000, &e), -ENOENT);
    cr_expect_eq(lookup("alic", 1000, &e), -ENOENT);
    cr_expect_eq(lookup("alicea", 1000, &e), -ENOENT);
    cr_expect_eq(secret_table_lookup(table, "alice", 0, 1000, &e), -ENOENT);
    cr_expect_eq(lookup(long_name, 1000, &e), -ENOENT);
}

/* Builds a Binding Request with USERNAME + MESSAGE-INTEGRITY keyed by password. */
static size_t signed_request(uint8_t *buf, size_t cap, const char *user, const char *password)
{
    static const uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct crypto_hmac_key key;
    struct stun_writer w;
    cr_assert_eq(crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, password, strlen(password)), 0);
    stun_writer_start(&w, buf, cap, stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    stun_write_bytes(&w, STUN_ATTR_USERNAME, user, strlen(user));
    stun_write_integrity(&w, &key);
    return stun_writer_finish(&w);
}

Test(secret_table, stored_key_verifies_message_integrity_made_with_the_password)
{
    uint8_t buf[128];
    struct stun_msg msg;
    struct secret_entry e;
    make_table(16);
    cr_assert_eq(insert("evtj:h6vY", 5000, 1000), 0);

    size_t len = signed_request(buf, sizeof(buf), "evtj:h6vY", "pw-evtj:h6vY");
    cr_assert_eq(stun_msg_parse(&msg, buf, len), STUN_OK);
    uint16_t user_len = 0;
    const uint8_t *user = stun_msg_attr(&msg, STUN_A_USERNAME, &user_len);
    cr_assert_not_null(user);
    cr_assert_eq(secret_table_lookup(table, (const char *)user, user_len, 1000, &e), 0);
    cr_expect_eq(stun_msg_verify_integrity(&msg, &e.key), STUN_OK);

    len = signed_request(buf, sizeof(buf), "evtj:h6vY", "not the password");
    cr_assert_eq(stun_msg_parse(&msg, buf, len), STUN_OK);
    cr_expect_eq(stun_msg_verify_integrity(&msg, &e.key), STUN_REJECT_BAD_INTEGRITY);
}

Test(secret_table, expired_entry_is_estale_not_enoent)
{
    struct secret_entry e;
    make_table(16);
    cr_assert_eq(insert("alice", 5000, 1000), 0);
    cr_expect_eq(lookup("alice", 4999, &e), 0);
    cr_expect_eq(lookup("alice", 5000, &e), -ESTALE);
    cr_expect_eq(lookup("alice", 5000 + SECRET_GRACE_MS * 3, &e), -ESTALE); /* not reclaimed */
}

Test(secret_table, live_duplicate_is_eexist_and_expired_one_is_replaced)
{
    struct secret_entry e;
    make_table(16);
    cr_assert_eq(insert("alice", 5000, 1000), 0);
    cr_expect_eq(insert("alice", 9000, 4999), -EEXIST);
    cr_expect_eq(lookup("alice", 4999, &e), 0);
    cr_expect_eq(e.expiry_ms, 5000);

    cr_expect_eq(secret_table_insert(table, "alice", 5, "new", 3, 9000, NULL, 0, 5000), 0);
    cr_expect_eq(secret_table_count(table), 1);
    cr_assert_eq(lookup("alice", 5000, &e), 0);
    cr_expect_eq(e.expiry_ms, 9000);
    cr_expect_eq(e.minted_for_len, 0);
    struct crypto_hmac_key key;
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, "new", 3);
    uint8_t want[CRYPTO_SHA1_LEN], got[CRYPTO_SHA1_LEN];
    struct crypto_span msg = {"message", 7};
    crypto_hmac(&key, &msg, 1, want);
    crypto_hmac(&e.key, &msg, 1, got);
    cr_expect_arr_eq(got, want, sizeof(want));
}

Test(secret_table, invalid_arguments_are_einval)
{
    char name[SECRET_USERNAME_MAX + 1];
    memset(name, 'u', sizeof(name));
    make_table(16);
    cr_expect_eq(secret_table_insert(table, name, sizeof(name), "pw", 2, 5000, NULL, 0, 1),
                 -EINVAL);
    cr_expect_eq(secret_table_insert(table, name, 0, "pw", 2, 5000, NULL, 0, 1), -EINVAL);
    cr_expect_eq(secret_table_insert(table, NULL, 3, "pw", 2, 5000, NULL, 0, 1), -EINVAL);
    cr_expect_eq(secret_table_insert(table, "bob", 3, NULL, 2, 5000, NULL, 0, 1), -EINVAL);
    cr_expect_eq(secret_table_insert(table, "bob", 3, "pw", 2, 5000, NULL, 4, 1), -EINVAL);
    cr_expect_eq(secret_table_insert(table, "bob", 3, "pw", 2, 5000, minted_for,
                                     SECRET_MINTED_FOR_MAX + 1, 1),
                 -EINVAL);
    cr_expect_eq(secret_table_insert(table, "bob", 3, "pw", 2, 5000, NULL, 0, 5000), -EINVAL);
    cr_expect_eq(secret_table_count(table), 0);

    /* The longest name is stored and found. */
    struct secret_entry e;
    cr_expect_eq(secret_table_insert(table, name, SECRET_USERNAME_MAX, "", 0, 5000, NULL, 0, 1), 0);
    cr_expect_eq(secret_table_lookup(table, name, SECRET_USERNAME_MAX, 1, &e), 0);
}

Test(secret_table, full_table_is_enospc_and_still_answers_lookups)
{
    char name[16];
    struct secret_entry e;
    make_table(8);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        cr_assert_eq(insert(name, 5000, 1000), 0);
    }
    cr_expect_eq(insert("one-too-many", 5000, 1000), -ENOSPC);
    cr_expect_eq(insert("user3", 5000, 1000), -EEXIST);
    cr_expect_eq(secret_table_count(table), 8);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        cr_expect_eq(lookup(name, 1000, &e), 0, "%s", name);
    }
    cr_expect_eq(lookup("one-too-many", 1000, &e), -ENOENT);
}

Test(secret_table, reclaim_frees_slots_only_after_the_grace_period)
{
    char name[16];
    struct secret_entry e;
    make_table(8);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        cr_assert_eq(insert(name, 5000, 1000), 0);
    }
    cr_expect_eq(reclaim_laps(8, 5000 + SECRET_GRACE_MS - 1, 2), 0);
    cr_expect_eq(insert("late", 5000 + SECRET_GRACE_MS * 2, 5000 + SECRET_GRACE_MS - 1), -ENOSPC);
    cr_expect_eq(lookup("user0", 5000 + SECRET_GRACE_MS - 1, &e), -ESTALE);

    uint64_t later = 5000 + SECRET_GRACE_MS;
    cr_expect_eq(reclaim_laps(8, later, 1), 8);
    cr_expect_eq(secret_table_count(table), 0);
    cr_expect_eq(secret_table_tombstones(table), 0); /* nothing left to bridge */
    cr_expect_eq(lookup("user0", later, &e), -ENOENT);
    cr_expect_eq(insert("late", later + 1000, later), 0);
    cr_expect_eq(lookup("late", later, &e), 0);
}

/* In a fresh one-shard table (32 slots): "first", then y; removing "first" leaves a tombstone? */
static bool tombstone_left_for(const char *y)
{
    make_table(16);
    cr_assert_eq(insert("first", 2000, 1000), 0);
    cr_assert_eq(insert(y, 900000, 1000), 0);
    cr_assert_eq(reclaim_laps(16, 2000 + SECRET_GRACE_MS, 1), 1);
    return secret_table_tombstones(table) == 1;
}

Test(secret_table, tombstone_bridges_a_displaced_entry_until_it_goes)
{
    char y[16];
    struct secret_entry e;
    int i;
    /* About one name in 32 shares the home slot of "first" and lands past it. */
    for (i = 0; i < 10000; i++) {
        snprintf(y, sizeof(y), "n%d", i);
        if (tombstone_left_for(y))
            break;
        drop_table();
    }
    cr_assert_lt(i, 10000, "no name ever probed past \"first\"");
    cr_expect_eq(lookup(y, 2000 + SECRET_GRACE_MS, &e), 0); /* reached across the tombstone */
    cr_expect_eq(lookup("first", 2000 + SECRET_GRACE_MS, &e), -ENOENT);

    /* Once y is gone too, nothing needs the tombstone. */
    cr_expect_eq(reclaim_laps(16, 900000 + SECRET_GRACE_MS, 2), 1);
    cr_expect_eq(secret_table_count(table), 0);
    cr_expect_eq(secret_table_tombstones(table), 0);
}

Test(secret_table, churn_through_many_times_the_capacity_keeps_every_live_entry)
{
    /*
     * One insert every STEP ms, living TTL ms, reclaimable GRACE later: at
     * most (TTL + GRACE) / STEP + 1 = 48 entries hold a slot at a time.
     */
    enum { CAP = 64, STEP = 256, TTL = 8 * STEP, ROUNDS = 100 * CAP };
    char name[32];
    struct secret_entry e;
    unsigned max_tombs = 0;
    make_table(CAP);
    for (uint64_t k = 1; k <= ROUNDS; k++) {
        uint64_t now = k * STEP;
        snprintf(name, sizeof(name), "churn-%llu", (unsigned long long)k);
        cr_assert_eq(insert(name, now + TTL, now), 0, "insert %s", name);
        secret_table_reclaim(table, now);
        if (secret_table_tombstones(table) > max_tombs)
            max_tombs = secret_table_tombstones(table);
        /* The last 8 are live, the 30 before them expired but within the grace period. */
        for (uint64_t back = 0; back < 38 && back < k; back++) {
            snprintf(name, sizeof(name), "churn-%llu", (unsigned long long)(k - back));
            int want = back < TTL / STEP ? 0 : -ESTALE;
            cr_assert_eq(lookup(name, now, &e), want, "%s at %llu", name, (unsigned long long)k);
        }
        cr_assert_leq(secret_table_count(table), 48);
    }
    /* Tombstones never pile up: they only bridge live entries to their homes. */
    cr_expect_lt(max_tombs, CAP / 2, "%u tombstones", max_tombs);
    reclaim_laps(CAP, (ROUNDS + 1) * STEP + TTL + SECRET_GRACE_MS, 2);
    cr_expect_eq(secret_table_count(table), 0);
    cr_expect_eq(secret_table_tombstones(table), 0);
}

Test(secret_table, sharded_table_takes_max_entries_exactly)
{
    enum { CAP = 20000 }; /* 65536 slots: 64 shards of 1024 */
    char name[32];
    struct secret_entry e;
    make_table(CAP);
    for (int i = 0; i < CAP; i++) {
        snprintf(name, sizeof(name), "user-%d", i);
        cr_assert_eq(insert(name, 5000, 1000), 0, "%s", name);
    }
    cr_expect_eq(insert("one-too-many", 5000, 1000), -ENOSPC);
    for (int i = 0; i < CAP; i += 97) {
        snprintf(name, sizeof(name), "user-%d", i);
        cr_expect_eq(lookup(name, 1000, &e), 0, "%s", name);
    }
}
