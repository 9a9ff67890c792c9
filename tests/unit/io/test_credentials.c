/*
 * Shared Secret credentials (io/credentials.c): what a mint stores, what a
 * lookup finds, and the stateless recomputation a fleet key allows. Names
 * are looked up from heap copies of their exact length, so a read past a
 * name trips AddressSanitizer.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/integrity.h"
#include "io/credentials.h"

static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
static const struct stun_addr client6 = {
    STUN_FAMILY_IPV6, 40001, {0x20, 0x01, 0x0d, 0xb8, [15] = 9}};
static const char fleet_key[] = "0123456789abcdef0123456789abcdef";
#define NOW_MS 1700000000123ull
enum { TTL = 600 };

static struct credentials *make(bool stateless, unsigned max)
{
    struct credentials *c = NULL;
    cr_assert_eq(credentials_create(&c, max, TTL, stateless ? fleet_key : NULL,
                                    stateless ? sizeof(fleet_key) - 1 : 0, stateless),
                 0);
    return c;
}

/* Looks name[0..len) up from a heap block of exactly len bytes. */
static enum stun_cred_result lookup(const struct credentials *c, const void *name, size_t len,
                                    uint64_t now_ms, struct stun_credential *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, name, len);
    enum stun_cred_result r = credentials_lookup(c, copy, len, now_ms, out);
    free(copy);
    return r;
}

/* The credential's key is the HMAC-SHA1 key of the minted password. */
static void assert_key_is_password(const struct stun_credential *cred, const struct stun_minted *m)
{
    struct crypto_hmac_key want;
    crypto_hmac_key_init(&want, CRYPTO_HMAC_SHA1, m->password, m->password_len);
    uint8_t a[20], b[20];
    struct crypto_span msg = {"probe", 5};
    crypto_hmac(&cred->key, &msg, 1, a);
    crypto_hmac(&want, &msg, 1, b);
    cr_assert_arr_eq(a, b, 20, "the looked-up key is the password's");
}

Test(credentials, minted_names_have_the_documented_shape)
{
    struct credentials *c = make(false, 16);
    struct stun_minted m4, m6;
    cr_assert_eq(credentials_mint(c, &client, NOW_MS, &m4), STUN_OK);
    cr_assert_eq(credentials_mint(c, &client6, NOW_MS, &m6), STUN_OK);
    cr_assert_eq(m4.username_len, 40);
    cr_assert_eq(m6.username_len, 64);
    cr_assert_eq(m4.password_len, 32, "128 bits of password, as hex");
    for (int i = 0; i < m4.username_len; i++)
        cr_assert(strchr("0123456789abcdef", m4.username[i]) != NULL, "lowercase hex");
    credentials_destroy(c);
}

Test(credentials, a_minted_credential_is_found_until_it_expires)
{
    struct credentials *c = make(false, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(c, &client, NOW_MS, &m), STUN_OK);
    cr_assert_eq(lookup(c, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_FOUND);
    assert_key_is_password(&cred, &m);
    cr_assert(stun_addr_equal(&cred.minted_for, &client), "minted-for kept");
    /* Never less than the TTL (the expiry rounds up to a whole second). */
    cr_assert_eq(lookup(c, m.username, m.username_len, NOW_MS + TTL * 1000ull - 1, &cred),
                 STUN_CRED_FOUND);
    cr_assert_eq(lookup(c, m.username, m.username_len, NOW_MS + (TTL + 1) * 1000ull, &cred),
                 STUN_CRED_EXPIRED);
    credentials_destroy(c);
}

Test(credentials, without_a_fleet_key_a_miss_is_unknown)
{
    struct credentials *c = make(false, 16), *other = make(false, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(other, &client, NOW_MS, &m), STUN_OK);
    cr_assert_eq(lookup(c, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_UNKNOWN);
    credentials_destroy(c);
    credentials_destroy(other);
}

Test(credentials, a_fleet_recomputes_what_another_server_minted)
{
    struct credentials *a = make(true, 16), *b = make(true, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(a, &client6, NOW_MS, &m), STUN_OK);
    cr_assert_eq(lookup(b, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_FOUND);
    assert_key_is_password(&cred, &m);
    cr_assert(stun_addr_equal(&cred.minted_for, &client6), "minted-for from the name");
    cr_assert_eq(lookup(b, m.username, m.username_len, NOW_MS + (TTL + 1) * 1000ull, &cred),
                 STUN_CRED_EXPIRED);
    credentials_destroy(a);
    credentials_destroy(b);
}

/* Any change to a name breaks its tag: unknown (430), not a bad HMAC (431). */
Test(credentials, a_forged_name_is_unknown_to_the_fleet)
{
    struct credentials *a = make(true, 16), *b = make(true, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(a, &client, NOW_MS, &m), STUN_OK);
    for (int i = 0; i < m.username_len; i++) {
        char forged[64];
        memcpy(forged, m.username, m.username_len);
        forged[i] = forged[i] == '0' ? '1' : '0';
        cr_assert_eq(lookup(b, forged, m.username_len, NOW_MS, &cred), STUN_CRED_UNKNOWN,
                     "character %d changed", i);
    }
    credentials_destroy(a);
    credentials_destroy(b);
}

/* Every length, every prefix of a real name: refused, and nothing read
 * past the name (ASan watches the exact-size heap copies). */
Test(credentials, every_prefix_of_a_name_is_unknown)
{
    struct credentials *b = make(true, 16), *a = make(true, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(a, &client6, NOW_MS, &m), STUN_OK);
    for (size_t len = 0; len < m.username_len; len++)
        cr_assert_eq(lookup(b, m.username, len, NOW_MS, &cred), STUN_CRED_UNKNOWN, "len %zu", len);
    credentials_destroy(a);
    credentials_destroy(b);
}

Test(credentials, a_full_table_refuses_only_without_a_fleet_key)
{
    struct credentials *plain = make(false, 2), *fleet = make(true, 2);
    struct stun_minted m;
    struct stun_credential cred;
    enum stun_status last_plain = STUN_OK, last_fleet = STUN_OK;
    for (int i = 0; i < 64; i++) {
        last_plain = credentials_mint(plain, &client, NOW_MS, &m);
        last_fleet = credentials_mint(fleet, &client, NOW_MS, &m);
    }
    cr_assert_eq(last_plain, STUN_REJECT_SERVER_ERROR, "the table is the only record: 500");
    cr_assert_eq(last_fleet, STUN_OK, "a cache: the credential is recomputed");
    cr_assert_eq(lookup(fleet, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_FOUND);
    assert_key_is_password(&cred, &m);
    credentials_destroy(plain);
    credentials_destroy(fleet);
}

Test(credentials, a_new_fleet_key_keeps_the_table_and_changes_recomputation)
{
    struct credentials *a = make(true, 16), *b = make(true, 16);
    struct stun_minted m;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(a, &client, NOW_MS, &m), STUN_OK);
    static const char other[] = "another fleet key, long enough";
    cr_assert_eq(credentials_set_key(a, other, sizeof(other) - 1, NULL, 0), 0);
    cr_assert_eq(credentials_set_key(b, other, sizeof(other) - 1, NULL, 0), 0);
    cr_assert_eq(lookup(a, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_FOUND,
                 "minted before the reload: still in its table");
    cr_assert_eq(lookup(b, m.username, m.username_len, NOW_MS, &cred), STUN_CRED_UNKNOWN,
                 "recomputed under the new key: not ours");
    credentials_destroy(a);
    credentials_destroy(b);
}

Test(credentials, a_rollover_accepts_the_previous_key_and_mints_with_the_new)
{
    static const char next[] = "the next fleet key, long enough";
    struct credentials *old_server = make(true, 16), *new_server = make(true, 16);
    struct credentials *plain_new = make(true, 16);
    struct stun_minted under_old, under_new;
    struct stun_credential cred;
    cr_assert_eq(credentials_mint(old_server, &client, NOW_MS, &under_old), STUN_OK);
    /* The fleet rolls: the new key current, the old one previous. */
    cr_assert_eq(
        credentials_set_key(new_server, next, sizeof(next) - 1, fleet_key, sizeof(fleet_key) - 1),
        0);
    cr_assert_eq(credentials_set_key(plain_new, next, sizeof(next) - 1, NULL, 0), 0);
    cr_assert_eq(lookup(new_server, under_old.username, under_old.username_len, NOW_MS, &cred),
                 STUN_CRED_FOUND, "minted under the previous key: still accepted");
    assert_key_is_password(&cred, &under_old);
    cr_assert_eq(lookup(plain_new, under_old.username, under_old.username_len, NOW_MS, &cred),
                 STUN_CRED_UNKNOWN, "without --secret-key-previous: not ours");
    cr_assert_eq(credentials_mint(new_server, &client, NOW_MS, &under_new), STUN_OK);
    cr_assert_eq(lookup(plain_new, under_new.username, under_new.username_len, NOW_MS, &cred),
                 STUN_CRED_FOUND, "minted under the new key: any server holding it agrees");
    assert_key_is_password(&cred, &under_new);
    cr_assert_eq(lookup(old_server, under_new.username, under_new.username_len, NOW_MS, &cred),
                 STUN_CRED_UNKNOWN, "a server still on the old key alone cannot verify it");
    credentials_destroy(old_server);
    credentials_destroy(new_server);
    credentials_destroy(plain_new);
}

Test(credentials, replaced_keys_are_freed_after_the_grace_period)
{
    static const char other[] = "another fleet key, long enough";
    struct credentials *c = make(true, 16);
    for (int i = 0; i < 100; i++) /* a hundred SIGHUPs */
        cr_assert_eq(credentials_set_key(c, other, sizeof(other) - 1, NULL, 0), 0);
    cr_assert_eq(credentials_retired_keys(c), 100);
    credentials_collect(c, 0); /* the clock has not moved: every one may be in use */
    cr_assert_eq(credentials_retired_keys(c), 100);
    credentials_collect(c, UINT64_MAX / 2); /* long after: none is */
    cr_assert_eq(credentials_retired_keys(c), 0, "each reload used to keep its key until exit");
    credentials_destroy(c);
}

/* client6 with the low 64 bits replaced: the addresses one host owns. */
static struct stun_addr in_subnet(const struct stun_addr *base, uint32_t low)
{
    struct stun_addr a = *base;
    a.port = (uint16_t)(1024 + low);
    for (int i = 0; i < 4; i++)
        a.ip[12 + i] = (uint8_t)(low >> (24 - 8 * i));
    return a;
}

static unsigned mints_from_subnet(struct credentials *c, const struct stun_addr *base, unsigned n)
{
    unsigned ok = 0;
    struct stun_minted m;
    for (unsigned i = 0; i < n; i++) {
        struct stun_addr a = in_subnet(base, i);
        ok += credentials_mint(c, &a, NOW_MS, &m) == STUN_OK;
    }
    return ok;
}

/* Issue 9: --mint-rate keyed on the whole address let 99,999 of 100,000
 * mints from rotating IPv6 addresses through. Keyed on the /64: one burst. */
Test(credentials, the_mint_rate_keys_on_the_prefix)
{
    struct credentials *c = make(false, 100000);
    struct mint_limits lim = {.rate_per_s = 5, .share_percent = 100, .prefix4 = 32, .prefix6 = 64};
    cr_assert_eq(credentials_limit_mints(c, &lim), 0);
    cr_assert_eq(mints_from_subnet(c, &client6, 500), 50, "one /64: a burst of 10 x 5");
    struct stun_addr other = client6;
    other.ip[7] ^= 1; /* the next /64 */
    cr_assert_eq(mints_from_subnet(c, &other, 100), 50, "another /64 has its own");
    cr_assert_eq(credentials_share_refusals(c), 0, "no share cap at 100%%");
    credentials_destroy(c);
}

/* Issue 9: about 500 addresses filled the default table and every honest
 * client then got 500. With --mint-share 1 one prefix holds at most 1% of
 * it (a tenth of that at once), so an honest client still mints. */
Test(credentials, one_prefix_holds_at_most_its_share)
{
    struct credentials *c = make(false, 10000);
    struct mint_limits lim = {.rate_per_s = 0, .share_percent = 1, .prefix4 = 32, .prefix6 = 64};
    cr_assert_eq(credentials_limit_mints(c, &lim), 0);
    unsigned ok = mints_from_subnet(c, &client6, 1000);
    cr_assert_leq(ok, 100, "1%% of 10,000, got %u", ok);
    cr_assert_geq(ok, 10, "the burst (a tenth of the share) passes, got %u", ok);
    cr_assert_eq(credentials_share_refusals(c), 1000 - ok, "each refusal counted");
    struct stun_minted m;
    cr_assert_eq(credentials_mint(c, &client, NOW_MS, &m), STUN_OK, "an honest client mints");
    credentials_destroy(c);
}

/* A share below 16 credentials would refuse one household: the floor. */
Test(credentials, a_small_table_keeps_the_share_floor)
{
    struct credentials *c = make(false, 100);
    struct mint_limits lim = {.rate_per_s = 0, .share_percent = 1, .prefix4 = 32, .prefix6 = 64};
    cr_assert_eq(credentials_limit_mints(c, &lim), 0);
    unsigned ok = mints_from_subnet(c, &client6, 100);
    cr_assert_geq(ok, 1, "got %u", ok);
    cr_assert_leq(ok, 16, "got %u", ok);
    credentials_destroy(c);
}
