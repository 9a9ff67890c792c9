/*
 * Long-term credentials in the handler (RFC 8489 §9.2): the challenge,
 * stateless nonces, password-algorithm negotiation, USERNAME and USERHASH,
 * MESSAGE-INTEGRITY and -SHA256, and the dispatch between the long-term
 * and short-term mechanisms. Over a fake user table and a fixed nonce
 * key; requests sit flush against an unreadable page and every answer is
 * parsed back, its integrity verified with the user's key.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "core/attr.h"
#include "core/handler.h"
#include "core/integrity.h"
#include "core/nonce.h"
#include "core/writer.h"
#include "crypto/digest.h"
#include "tests/support/guard.h"
#include "tests/unit/craft.h"
#include "tests/unit/endpoints.h"
#include "tests/unit/vectors.h"

enum {
    OUT_CAP = 2048,
    GUARD_CAP = 4096,
    TTL_S = 600,
    UNKNOWN_TYPE = 0x0033, /* comprehension-required, known to no one */
    MD5 = CRYPTO_PASSWORD_MD5,
    SHA256 = CRYPTO_PASSWORD_SHA256,
};

#define BIT(id) (1u << (id))
#define NOW_MS 1700000000000ull
#define NOW_S (NOW_MS / 1000)
#define REALM "example.org"
#define BOTH_FEATURES (STUN_FEATURE_PASSWORD_ALGORITHMS | STUN_FEATURE_USERNAME_ANONYMITY)

static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
static const struct stun_addr other_client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 8}};
static const struct stun_addr elsewhere = {STUN_FAMILY_IPV4, 5000, {203, 0, 113, 5}};

/* What we send in PASSWORD-ALGORITHMS: SHA-256, then MD5, no parameters. */
static const uint8_t our_algorithms[8] = {0, 2, 0, 0, 0, 1, 0, 0};

/* The fake long-term user table. keys[a][k]: a = 0 MD5, 1 SHA-256 (the
 * password algorithm); k = 0 HMAC-SHA1, 1 HMAC-SHA256. */
struct lt_user {
    const char *name;
    const char *password;
    bool md5_only;
    uint8_t userhash[32];
    struct crypto_hmac_key keys[2][2];
};

enum { ALICE, BOB_MD5_ONLY, MATRIX, N_USERS };

static struct lt_user users[N_USERS] = {
    [ALICE] = {.name = "alice", .password = "alice-password"},
    [BOB_MD5_ONLY] = {.name = "bob", .password = "bob-password", .md5_only = true},
    /* The user of RFC 5769 §2.4 and RFC 8489 B.1 (after SASLprep/OpaqueString). */
    [MATRIX] = {.name = rfc5769_lt_username, .password = "TheMatrIX"},
};

static int user_calls;
static bool last_by_hash;
static unsigned last_alg;

static bool fake_user_keys(const void *ctx, const uint8_t *id, size_t len, bool by_hash,
                           unsigned alg, struct stun_user_keys *out)
{
    const struct lt_user *table = ctx;
    user_calls++;
    last_by_hash = by_hash;
    last_alg = alg;
    cr_assert(alg == MD5 || alg == SHA256, "alg %u", alg);
    for (size_t i = 0; i < N_USERS; i++) {
        const struct lt_user *u = &table[i];
        bool match = by_hash ? len == 32 && memcmp(id, u->userhash, 32) == 0
                             : len == strlen(u->name) && memcmp(id, u->name, len) == 0;
        if (!match)
            continue;
        if (alg == SHA256 && u->md5_only)
            return false;
        out->integrity = &u->keys[alg == SHA256][0];
        out->integrity_sha256 = &u->keys[alg == SHA256][1];
        return true;
    }
    return false;
}

/* A short-term table of one user, for the ICE-style requests. */
static struct crypto_hmac_key ice_key;
static int short_lookups;

static enum stun_cred_result fake_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out)
{
    (void)ctx;
    (void)now_ms;
    short_lookups++;
    if (len != 8 || memcmp(user, "ice-user", 8) != 0)
        return STUN_CRED_UNKNOWN;
    out->key = ice_key;
    memset(&out->minted_for, 0, sizeof(out->minted_for));
    return STUN_CRED_FOUND;
}

static struct crypto_hmac_key nonce_key, other_nonce_key;
static struct guard in_guard;
static uint8_t out[OUT_CAP];

static struct crypto_hmac_key key_of(const void *secret, size_t len, enum crypto_hmac_alg alg)
{
    struct crypto_hmac_key key;
    cr_assert_eq(crypto_hmac_key_init(&key, alg, secret, len), 0);
    return key;
}

static void setup(void)
{
    guard_init(&in_guard, GUARD_CAP);
    nonce_key = key_of("test nonce key", 14, CRYPTO_HMAC_SHA256);
    other_nonce_key = key_of("another nonce key", 17, CRYPTO_HMAC_SHA256);
    ice_key = key_of("ice-password", 12, CRYPTO_HMAC_SHA1);
    for (size_t i = 0; i < N_USERS; i++) {
        struct lt_user *u = &users[i];
        const size_t nl = strlen(u->name), rl = strlen(REALM), pl = strlen(u->password);
        cr_assert_eq(crypto_userhash(u->name, nl, REALM, rl, u->userhash), 0);
        for (int a = 0; a < 2; a++) {
            uint8_t lt[CRYPTO_HMAC_MAX_LEN];
            int n = crypto_longterm_key(a ? CRYPTO_PASSWORD_SHA256 : CRYPTO_PASSWORD_MD5, u->name,
                                        nl, REALM, rl, u->password, pl, lt);
            cr_assert_gt(n, 0);
            u->keys[a][0] = key_of(lt, (size_t)n, CRYPTO_HMAC_SHA1);
            u->keys[a][1] = key_of(lt, (size_t)n, CRYPTO_HMAC_SHA256);
        }
    }
}

static void teardown(void) { guard_fini(&in_guard); }

TestSuite(longterm, .init = setup, .fini = teardown);

/* --allow-peer 203.0.113.0/24: elsewhere is in TEST-NET-3, denied by default. */
static const struct stun_dest_policy allow_test_net3 = {
    .rules = {{.net = {STUN_FAMILY_IPV4, 24, {203, 0, 113, 0}}, .allow = true}},
    .n_rules = 1,
};

static struct stun_handler_config config(enum stun_auth_mode auth)
{
    return (struct stun_handler_config){
        .auth = auth,
        .lookup = fake_lookup,
        .realm = REALM,
        .realm_len = sizeof(REALM) - 1,
        .user_keys = fake_user_keys,
        .users_ctx = users,
        .nonce_key = &nonce_key,
        .nonce_ttl_s = TTL_S,
        .response_address = true, /* --response-address */
        .destinations = &allow_test_net3,
    };
}

/* The key a user's request is signed with: password algorithm alg, MAC sha256. */
static const struct crypto_hmac_key *user_key(int user, unsigned alg, bool sha256)
{
    return &users[user].keys[alg == SHA256][sha256];
}

/* Building requests. */

static struct stun_writer append_to(struct craft *c)
{
    bool classic =
        !(c->buf[4] == 0x21 && c->buf[5] == 0x12 && c->buf[6] == 0xA4 && c->buf[7] == 0x42);
    return (struct stun_writer){c->buf, sizeof(c->buf), (uint32_t)c->len, classic, false};
}

static void finish_append(struct craft *c, const struct stun_writer *w)
{
    cr_assert_not(w->failed, "the request fits");
    c->len = w->len;
}

static void add_text(struct craft *c, uint16_t type, const char *text)
{
    craft_attr(c, type, text, (uint16_t)strlen(text));
}

/* A nonce we made for who, expiring at expiry_s. */
static void add_our_nonce(struct craft *c, const struct crypto_hmac_key *key,
                          const struct stun_addr *who, uint64_t expiry_s, unsigned features)
{
    char nonce[STUN_NONCE_MAX];
    size_t len = stun_nonce_make(key, who, expiry_s, features, nonce, sizeof(nonce));
    cr_assert_eq(len, STUN_NONCE_LEN);
    craft_attr(c, STUN_ATTR_NONCE, nonce, (uint16_t)len);
}

static void add_nonce(struct craft *c)
{
    add_our_nonce(c, &nonce_key, &client, NOW_S + 60, BOTH_FEATURES);
}

static void add_algorithms(struct craft *c, unsigned alg)
{
    uint8_t chosen[4] = {0, (uint8_t)alg, 0, 0};
    craft_attr(c, STUN_ATTR_PASSWORD_ALGORITHMS, our_algorithms, sizeof(our_algorithms));
    craft_attr(c, STUN_ATTR_PASSWORD_ALGORITHM, chosen, sizeof(chosen));
}

static void add_user(struct craft *c, int user, bool by_hash)
{
    if (by_hash)
        craft_attr(c, STUN_ATTR_USERHASH, users[user].userhash, 32);
    else
        add_text(c, STUN_ATTR_USERNAME, users[user].name);
}

static void sign_with(struct craft *c, const struct crypto_hmac_key *key, bool sha256)
{
    struct stun_writer w = append_to(c);
    if (sha256)
        stun_write_integrity_sha256(&w, key);
    else
        stun_write_integrity(&w, key);
    finish_append(c, &w);
}

static void add_fingerprint(struct craft *c)
{
    struct stun_writer w = append_to(c);
    stun_write_fingerprint(&w);
    finish_append(c, &w);
}

/* The attributes of a long-term request, up to (not including) its integrity. */
static void lt_body(struct craft *c, int user, bool by_hash, unsigned alg, bool negotiate)
{
    craft_binding_request(c, false);
    add_user(c, user, by_hash);
    add_text(c, STUN_ATTR_REALM, REALM);
    add_nonce(c);
    if (negotiate)
        add_algorithms(c, alg);
}

/* A valid long-term request: alg SHA-256 is always negotiated. */
static void lt_request(struct craft *c, int user, bool by_hash, unsigned alg, bool sha256)
{
    lt_body(c, user, by_hash, alg, alg == SHA256);
    sign_with(c, user_key(user, alg, sha256), sha256);
}

static struct stun_request request_at(const struct craft *c, const struct stun_addr *source,
                                      uint64_t now_ms)
{
    return (struct stun_request){
        .data = guard_place(&in_guard, c->buf, c->len),
        .len = c->len,
        .source = source,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .now_ms = now_ms,
    };
}

static struct stun_request request(const struct craft *c) { return request_at(c, &client, NOW_MS); }

static struct stun_reply handle(const struct stun_handler_config *cfg,
                                const struct stun_request *req)
{
    struct stun_reply reply;
    memset(out, 0xA5, sizeof(out));
    memset(&reply, 0x5A, sizeof(reply));
    stun_handle(cfg, req, out, sizeof(out), &reply);
    return reply;
}

/* Checking answers. */

static void assert_status(const struct stun_reply *r, enum stun_status want)
{
    cr_assert_eq(r->status, want, "status %s, want %s", stun_status_name(r->status),
                 stun_status_name(want));
}

static void parse_answer(const struct stun_reply *r, struct stun_msg *m)
{
    cr_assert_gt(r->len, 0, "an answer was written (status %s)", stun_status_name(r->status));
    cr_assert_eq(stun_msg_parse(m, out, r->len), STUN_OK, "the answer parses");
    cr_assert_eq(stun_msg_check_fingerprint(m), STUN_OK);
}

static void assert_error(const struct stun_request *req, const struct stun_reply *r,
                         struct stun_msg *m, enum stun_status why, int code)
{
    int got;
    const char *reason;
    uint16_t reason_len;
    assert_status(r, why);
    parse_answer(r, m);
    cr_assert_eq(m->cls, STUN_CLASS_ERROR);
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id (and cookie) echoed");
    cr_assert(stun_msg_get_error(m, &got, &reason, &reason_len));
    cr_assert_eq(got, code, "code %d, want %d", got, code);
    cr_assert_eq(r->code, code, "reply.code %u names the code sent", r->code);
    cr_assert(stun_addr_equal(&r->dest, req->source), "errors go back to the source");
}

static void assert_unsigned_error(const struct stun_request *req, const struct stun_reply *r,
                                  enum stun_status why, int code)
{
    struct stun_msg m;
    assert_error(req, r, &m, why, code);
    cr_assert_eq(m.present & ~BIT(STUN_A_FINGERPRINT), BIT(STUN_A_ERROR_CODE),
                 "attributes 0x%08x: ERROR-CODE only", m.present);
}

static void assert_order(const struct stun_msg *m, const uint16_t *want, size_t n)
{
    struct stun_attr_iter it;
    struct stun_attr_view a;
    size_t i = 0;
    stun_attr_iter_init(&it, m);
    while (stun_attr_iter_next(&it, &a)) {
        cr_assert_lt(i, n, "attribute 0x%04x beyond the %zu expected", a.type, n);
        cr_assert_eq(a.type, want[i], "attribute %zu: 0x%04x, want 0x%04x", i, a.type, want[i]);
        i++;
    }
    cr_assert_eq(i, n, "%zu attributes, want %zu", i, n);
}

/*
 * A long-term challenge: ERROR-CODE, REALM, a NONCE we accept from the
 * source until now + TTL, PASSWORD-ALGORITHMS exactly ours; no integrity.
 */
static void assert_challenge_at(const struct stun_request *req, const struct stun_reply *r,
                                enum stun_status why, int code)
{
    struct stun_msg m;
    uint16_t len;
    unsigned features = 0;
    const uint64_t now_s = req->now_ms / 1000;
    assert_error(req, r, &m, why, code);
    const uint16_t order[] = {STUN_ATTR_ERROR_CODE, STUN_ATTR_REALM, STUN_ATTR_NONCE,
                              STUN_ATTR_PASSWORD_ALGORITHMS, STUN_ATTR_FINGERPRINT};
    assert_order(&m, order, stun_msg_has(&m, STUN_A_FINGERPRINT) ? 5 : 4);
    const uint8_t *realm = stun_msg_attr(&m, STUN_A_REALM, &len);
    cr_assert_eq(len, strlen(REALM));
    cr_assert_arr_eq(realm, REALM, len);
    const uint8_t *nonce = stun_msg_attr(&m, STUN_A_NONCE, &len);
    cr_assert_eq(len, STUN_NONCE_LEN);
    cr_assert_eq(stun_nonce_check(&nonce_key, req->source, nonce, len, now_s, &features),
                 STUN_NONCE_VALID, "the fresh nonce is valid for the source");
    cr_assert_eq(features, BOTH_FEATURES);
    cr_assert_eq(stun_nonce_check(&nonce_key, req->source, nonce, len, now_s + TTL_S - 1, NULL),
                 STUN_NONCE_VALID);
    cr_assert_eq(stun_nonce_check(&nonce_key, req->source, nonce, len, now_s + TTL_S, NULL),
                 STUN_NONCE_STALE, "it expires after the TTL");
    cr_assert_eq(stun_nonce_check(&nonce_key, &other_client, nonce, len, now_s, NULL),
                 STUN_NONCE_FORGED, "bound to the source's IP");
    const uint8_t *algs = stun_msg_attr(&m, STUN_A_PASSWORD_ALGORITHMS, &len);
    cr_assert_eq(len, sizeof(our_algorithms));
    cr_assert_arr_eq(algs, our_algorithms, len);
    cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
    cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY_SHA256));
}

/* A success answer signed like the request, with the user's key. */
static void assert_success(const struct stun_request *req, const struct stun_reply *r,
                           struct stun_msg *m, const struct crypto_hmac_key *key, bool sha256)
{
    struct stun_addr mapped;
    assert_status(r, STUN_OK);
    parse_answer(r, m);
    cr_assert_eq(m->type, 0x0101, "Binding Success Response, got 0x%04x", m->type);
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id and cookie echoed");
    cr_assert(stun_msg_get_addr(m, STUN_A_XOR_MAPPED_ADDRESS, &mapped));
    cr_assert(stun_addr_equal(&mapped, req->source));
    if (sha256) {
        cr_assert_not(stun_msg_has(m, STUN_A_MESSAGE_INTEGRITY), "signed as the request was");
        cr_assert_eq(stun_msg_verify_integrity_sha256(m, key), STUN_OK,
                     "MESSAGE-INTEGRITY-SHA256 verifies");
        cr_assert_eq(m->at[STUN_A_MESSAGE_INTEGRITY_SHA256].len, 32, "untruncated");
    } else {
        cr_assert_not(stun_msg_has(m, STUN_A_MESSAGE_INTEGRITY_SHA256),
                      "signed as the request was");
        cr_assert_eq(stun_msg_verify_integrity(m, key), STUN_OK, "MESSAGE-INTEGRITY verifies");
    }
    cr_assert_not(stun_msg_has(m, STUN_A_REALM));
    cr_assert_not(stun_msg_has(m, STUN_A_NONCE));
}

/* The full flow: challenge, then the answer to the retried request. */

struct flow {
    int user;
    unsigned alg;   /* password algorithm */
    bool sha256;    /* MESSAGE-INTEGRITY-SHA256 rather than MESSAGE-INTEGRITY */
    bool by_hash;   /* USERHASH rather than USERNAME */
    bool negotiate; /* PASSWORD-ALGORITHMS and PASSWORD-ALGORITHM, even for MD5 */
    bool fingerprint;
};

ParameterizedTestParameters(longterm, full_flow)
{
    static struct flow flows[] = {
        {ALICE, MD5, false, false, false, false},       {ALICE, MD5, false, false, true, true},
        {ALICE, MD5, true, false, false, true},         {ALICE, SHA256, true, false, true, false},
        {ALICE, SHA256, true, false, true, true},       {ALICE, SHA256, false, false, true, true},
        {ALICE, SHA256, true, true, true, true},        {ALICE, SHA256, false, true, true, false},
        {ALICE, MD5, false, true, false, true},         {ALICE, MD5, true, true, true, false},
        {BOB_MD5_ONLY, MD5, false, false, false, true}, {BOB_MD5_ONLY, MD5, true, true, true, true},
        {MATRIX, MD5, false, false, false, false},      {MATRIX, SHA256, true, true, true, false},
    };
    return cr_make_param_array(struct flow, flows, sizeof(flows) / sizeof(flows[0]));
}

ParameterizedTest(struct flow *f, longterm, full_flow)
{
    for (int mode = STUN_AUTH_OPTIONAL; mode <= STUN_AUTH_REQUIRED; mode++) {
        const struct stun_handler_config cfg = config((enum stun_auth_mode)mode);
        struct craft c;
        struct stun_msg m;
        uint16_t len;

        /* 1. The first try names the user only: the challenge. Optional
         * auth answers a plain USERNAME unsigned, so there the client
         * names the realm to ask for it. */
        craft_binding_request(&c, false);
        add_user(&c, f->user, f->by_hash);
        if (mode == STUN_AUTH_OPTIONAL && !f->by_hash)
            add_text(&c, STUN_ATTR_REALM, REALM);
        if (f->fingerprint)
            add_fingerprint(&c);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_LT_CHALLENGE, 401);
        cr_assert_eq(user_calls, 0, "a challenge reads no user");
        stun_msg_parse(&m, out, r.len);
        char nonce[STUN_NONCE_MAX];
        memcpy(nonce, stun_msg_attr(&m, STUN_A_NONCE, &len), STUN_NONCE_LEN);

        /* 2. The retry, with the nonce just given. */
        craft_binding_request(&c, false);
        add_user(&c, f->user, f->by_hash);
        add_text(&c, STUN_ATTR_REALM, REALM);
        craft_attr(&c, STUN_ATTR_NONCE, nonce, STUN_NONCE_LEN);
        if (f->negotiate)
            add_algorithms(&c, f->alg);
        sign_with(&c, user_key(f->user, f->alg, f->sha256), f->sha256);
        if (f->fingerprint)
            add_fingerprint(&c);
        req = request_at(&c, &client, NOW_MS + 5000);
        r = handle(&cfg, &req);
        assert_success(&req, &r, &m, user_key(f->user, f->alg, f->sha256), f->sha256);
        cr_assert_eq(stun_msg_has(&m, STUN_A_FINGERPRINT), f->fingerprint);
        cr_assert_eq(last_by_hash, f->by_hash);
        cr_assert_eq(last_alg, f->alg);
        user_calls = 0;
    }
    cr_assert_eq(short_lookups, 0, "the short-term table is never read");
}

Test(longterm, mi_sha256_is_preferred_over_mi)
{
    /* RFC 8489 §9.2.4: with both, MESSAGE-INTEGRITY-SHA256 decides. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct crypto_hmac_key wrong = key_of("wrong", 5, CRYPTO_HMAC_SHA1);
    struct crypto_hmac_key wrong256 = key_of("wrong", 5, CRYPTO_HMAC_SHA256);
    struct craft c;
    struct stun_msg m;

    lt_body(&c, ALICE, false, SHA256, true);
    sign_with(&c, &wrong, false);
    sign_with(&c, user_key(ALICE, SHA256, true), true);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success(&req, &r, &m, user_key(ALICE, SHA256, true), true);

    lt_body(&c, ALICE, false, SHA256, true);
    sign_with(&c, user_key(ALICE, SHA256, false), false);
    sign_with(&c, &wrong256, true);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_LT_BAD_INTEGRITY, 401);
}

Test(longterm, truncated_mi_sha256_is_accepted)
{
    /* RFC 8489 §14.6: 16 to 32 bytes; the answer's is whole. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    uint8_t mac[32];
    lt_body(&c, ALICE, false, SHA256, true);
    size_t at = c.len;
    craft_attr(&c, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, mac, 16);
    stun_integrity_compute(c.buf, (uint32_t)at, 16, user_key(ALICE, SHA256, true), false, mac);
    memcpy(c.buf + at + 4, mac, 16);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success(&req, &r, &m, user_key(ALICE, SHA256, true), true);
}

/* The challenge. */

Test(longterm, unsigned_request_is_challenged_when_required)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int fp = 0; fp < 2; fp++) {
        craft_binding_request(&c, false);
        if (fp)
            add_fingerprint(&c);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_LT_CHALLENGE, 401);
    }
}

Test(longterm, challenge_carries_software)
{
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    cfg.software = "stunring test";
    cfg.software_len = 13;
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_error(&req, &r, &m, STUN_REJECT_LT_CHALLENGE, 401);
    const uint16_t order[] = {STUN_ATTR_ERROR_CODE, STUN_ATTR_REALM, STUN_ATTR_NONCE,
                              STUN_ATTR_PASSWORD_ALGORITHMS, STUN_ATTR_SOFTWARE};
    assert_order(&m, order, 5);
}

/* README "Amplification": the challenge stays within its budget, which
 * is the 401's own size when nothing optional is added. */
Test(longterm, challenge_fits_its_budget)
{
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int software = 0; software < 2; software++) {
        cfg.software = software ? "stunring test" : NULL;
        cfg.software_len = software ? 13 : 0;
        craft_binding_request(&c, false);
        add_fingerprint(&c);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_status(&r, STUN_REJECT_LT_CHALLENGE);
        cr_assert_not(r.authenticated);
        size_t budget = stun_answer_budget(&cfg, &req, STUN_ANSWER_CHALLENGE);
        cr_assert_leq(r.len, budget, "401 of %zu bytes, budget %zu", r.len, budget);
        /* 401 "Unauthorized" and no UNKNOWN-ATTRIBUTES: 12 + 20 under budget. */
        cr_assert_eq(r.len + 12 + 20, budget);
    }
    /* 20 + 32 + 20 + 8 for the error, + REALM 16 + NONCE 52 + PASSWORD-ALGORITHMS 12 */
    cfg.software = NULL;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c);
    cr_assert_eq(stun_answer_budget(&cfg, &req, STUN_ANSWER_CHALLENGE), 160);
    cfg.realm = NULL;
    cr_assert_eq(stun_answer_budget(&cfg, &req, STUN_ANSWER_CHALLENGE), 0);
}

Test(longterm, optional_answers_unsigned_requests_unsigned)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    add_text(&c, STUN_ATTR_USERNAME, "alice");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_status(&r, STUN_OK);
    parse_answer(&r, &m);
    cr_assert_eq(m.present, BIT(STUN_A_XOR_MAPPED_ADDRESS) | BIT(STUN_A_MAPPED_ADDRESS) |
                                BIT(STUN_A_RESPONSE_ORIGIN) | BIT(STUN_A_OTHER_ADDRESS));
    cr_assert_eq(user_calls + short_lookups, 0);
}

Test(longterm, optional_challenges_an_unsigned_long_term_attempt)
{
    /* REALM, NONCE or USERHASH without integrity: the client speaks the
     * long-term mechanism, so it gets the challenge even when optional. */
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int which = 0; which < 3; which++) {
        craft_binding_request(&c, false);
        if (which == 0)
            add_text(&c, STUN_ATTR_REALM, REALM);
        else if (which == 1)
            add_nonce(&c);
        else
            add_user(&c, ALICE, true);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_LT_CHALLENGE, 401);
    }
}

/* 400: what is missing, and broken negotiation. */

Test(longterm, missing_attributes_are_400)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int missing = 0; missing < 4; missing++) {
        craft_binding_request(&c, false);
        if (missing != 0)
            add_user(&c, ALICE, false);
        if (missing != 1)
            add_text(&c, STUN_ATTR_REALM, REALM);
        if (missing != 2)
            add_nonce(&c);
        if (missing == 3) { /* USERHASH stands for the user; no REALM, no NONCE */
            craft_binding_request(&c, false);
            add_user(&c, ALICE, true);
        }
        sign_with(&c, user_key(ALICE, MD5, false), false);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_LT_MISSING_ATTR, 400);
    }
    cr_assert_eq(user_calls, 0);
}

/* A request under a nonce with features, with these negotiation attributes. */
static enum stun_status negotiate(unsigned features, const uint8_t *algs, uint16_t algs_len,
                                  const uint8_t *alg, uint16_t alg_len, unsigned key_alg)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    craft_binding_request(&c, false);
    add_user(&c, ALICE, false);
    add_text(&c, STUN_ATTR_REALM, REALM);
    add_our_nonce(&c, &nonce_key, &client, NOW_S + 60, features);
    if (algs != NULL)
        craft_attr(&c, STUN_ATTR_PASSWORD_ALGORITHMS, algs, algs_len);
    if (alg != NULL)
        craft_attr(&c, STUN_ATTR_PASSWORD_ALGORITHM, alg, alg_len);
    sign_with(&c, user_key(ALICE, key_alg, true), true);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    if (r.status == STUN_REJECT_PASSWORD_ALGORITHM)
        assert_unsigned_error(&req, &r, STUN_REJECT_PASSWORD_ALGORITHM, 400);
    return r.status;
}

Test(longterm, negotiation_violations_are_400)
{
    static const uint8_t sha256[4] = {0, 2, 0, 0}, md5[4] = {0, 1, 0, 0};
    static const uint8_t unknown[4] = {0, 3, 0, 0};
    static const uint8_t with_params[8] = {0, 2, 0, 4, 1, 2, 3, 4};
    static const uint8_t reversed[8] = {0, 1, 0, 0, 0, 2, 0, 0};
    static const uint8_t sha256_only[4] = {0, 2, 0, 0};
    static const uint8_t three[12] = {0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0};
    static const uint8_t ours_params[12] = {0, 2, 0, 4, 9, 9, 9, 9, 0, 1, 0, 0};
    const enum stun_status bad = STUN_REJECT_PASSWORD_ALGORITHM;
    /* The valid cases first, so that the failures below mean something. */
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, sha256, 4, SHA256), STUN_OK);
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, md5, 4, MD5), STUN_OK);
    cr_assert_eq(negotiate(BOTH_FEATURES, NULL, 0, NULL, 0, MD5), STUN_OK);
    cr_assert_eq(negotiate(STUN_FEATURE_USERNAME_ANONYMITY, NULL, 0, NULL, 0, MD5), STUN_OK);
    /* One without the other. */
    cr_assert_eq(negotiate(BOTH_FEATURES, NULL, 0, sha256, 4, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, NULL, 0, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, NULL, 0, MD5), bad);
    /* PASSWORD-ALGORITHMS not what we sent. */
    cr_assert_eq(negotiate(BOTH_FEATURES, reversed, 8, sha256, 4, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, sha256_only, 4, sha256, 4, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, three, 12, sha256, 4, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, ours_params, 12, md5, 4, MD5), bad);
    /* PASSWORD-ALGORITHM not one of them, or unknown, or with parameters. */
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, unknown, 4, SHA256), bad);
    cr_assert_eq(negotiate(BOTH_FEATURES, our_algorithms, 8, with_params, 8, SHA256), bad);
    /* A nonce without the feature: MD5 only, and neither attribute. */
    cr_assert_eq(negotiate(STUN_FEATURE_USERNAME_ANONYMITY, NULL, 0, sha256, 4, SHA256), bad);
    cr_assert_eq(negotiate(STUN_FEATURE_USERNAME_ANONYMITY, our_algorithms, 8, sha256, 4, SHA256),
                 bad);
    cr_assert_eq(negotiate(0, our_algorithms, 8, NULL, 0, MD5), bad);
    cr_assert_eq(user_calls, 4, "only the valid ones reach the user table");
}

/* 438: a nonce that is not, or no longer, ours. */

static void assert_nonce_refused(struct craft *c, uint64_t now_ms, enum stun_status why)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    sign_with(c, user_key(ALICE, MD5, false), false);
    struct stun_request req = request_at(c, &client, now_ms);
    struct stun_reply r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, why, 438);
}

static void body_with_nonce_of(struct craft *c, const struct crypto_hmac_key *key,
                               const struct stun_addr *who, uint64_t expiry_s)
{
    craft_binding_request(c, false);
    add_user(c, ALICE, false);
    add_text(c, STUN_ATTR_REALM, REALM);
    add_our_nonce(c, key, who, expiry_s, BOTH_FEATURES);
}

Test(longterm, stale_nonce_is_438_with_a_fresh_one)
{
    struct craft c;
    /* Made at NOW with the TTL, presented TTL seconds later. */
    body_with_nonce_of(&c, &nonce_key, &client, NOW_S + TTL_S);
    assert_nonce_refused(&c, NOW_MS + TTL_S * 1000ull, STUN_REJECT_STALE_NONCE);
    body_with_nonce_of(&c, &nonce_key, &client, NOW_S + TTL_S);
    assert_nonce_refused(&c, NOW_MS + 3600 * 1000ull, STUN_REJECT_STALE_NONCE);
    /* One second before its expiry it is still good. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    body_with_nonce_of(&c, &nonce_key, &client, NOW_S + TTL_S);
    sign_with(&c, user_key(ALICE, MD5, false), false);
    struct stun_request req = request_at(&c, &client, NOW_MS + (TTL_S - 1) * 1000ull);
    cr_assert_eq(handle(&cfg, &req).status, STUN_OK);
    cr_assert_eq(user_calls, 1, "a stale nonce reads no user");
}

Test(longterm, forged_nonce_is_438_with_a_fresh_one)
{
    struct craft c;
    /* Each character of ours flipped in turn. */
    for (size_t i = 0; i < STUN_NONCE_LEN; i++) {
        body_with_nonce_of(&c, &nonce_key, &client, NOW_S + 60);
        uint8_t *nonce = c.buf + c.len - 48;
        nonce[i] = nonce[i] == 'A' ? 'B' : 'A';
        assert_nonce_refused(&c, NOW_MS, STUN_REJECT_FORGED_NONCE);
    }
    /* Another client's IP (the same port), and another server key. */
    body_with_nonce_of(&c, &nonce_key, &other_client, NOW_S + 60);
    assert_nonce_refused(&c, NOW_MS, STUN_REJECT_FORGED_NONCE);
    body_with_nonce_of(&c, &other_nonce_key, &client, NOW_S + 60);
    assert_nonce_refused(&c, NOW_MS, STUN_REJECT_FORGED_NONCE);
    /* Truncated, empty, and the RFC's own. */
    craft_binding_request(&c, false);
    add_user(&c, ALICE, false);
    add_text(&c, STUN_ATTR_REALM, REALM);
    craft_attr(&c, STUN_ATTR_NONCE, "obMatJos2AAAD", 13);
    assert_nonce_refused(&c, NOW_MS, STUN_REJECT_FORGED_NONCE);
    craft_binding_request(&c, false);
    add_user(&c, ALICE, false);
    add_text(&c, STUN_ATTR_REALM, REALM);
    craft_attr(&c, STUN_ATTR_NONCE, "", 0);
    assert_nonce_refused(&c, NOW_MS, STUN_REJECT_FORGED_NONCE);
    cr_assert_eq(user_calls, 0);
}

Test(longterm, a_new_port_keeps_the_nonce)
{
    /* NATs rebind ports between the 401 and the retry. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct stun_addr moved = client;
    struct craft c;
    struct stun_msg m;
    moved.port = 50001;
    lt_request(&c, ALICE, false, MD5, false);
    struct stun_request req = request_at(&c, &moved, NOW_MS);
    struct stun_reply r = handle(&cfg, &req);
    assert_success(&req, &r, &m, user_key(ALICE, MD5, false), false);
}

/* 401: who is not known, or does not prove it. */

Test(longterm, unknown_user_is_401)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int by_hash = 0; by_hash < 2; by_hash++) {
        craft_binding_request(&c, false);
        if (by_hash) {
            uint8_t hash[32];
            cr_assert_eq(crypto_userhash("nobody", 6, REALM, strlen(REALM), hash), 0);
            craft_attr(&c, STUN_ATTR_USERHASH, hash, 32);
        } else {
            add_text(&c, STUN_ATTR_USERNAME, "nobody");
        }
        add_text(&c, STUN_ATTR_REALM, REALM);
        add_nonce(&c);
        sign_with(&c, user_key(ALICE, MD5, false), false);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_LT_UNKNOWN_USER, 401);
    }
}

Test(longterm, no_key_for_the_algorithm_is_401)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int sha = 0; sha < 2; sha++) {
        lt_body(&c, BOB_MD5_ONLY, false, SHA256, true);
        sign_with(&c, user_key(BOB_MD5_ONLY, SHA256, sha), sha);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_LT_UNKNOWN_USER, 401);
    }
}

Test(longterm, bad_mac_is_401)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int sha = 0; sha < 2; sha++) {
        for (unsigned alg = MD5; alg <= SHA256; alg++) {
            /* Another user's key, and the right user's key of the other algorithm. */
            lt_body(&c, ALICE, false, alg, alg == SHA256);
            sign_with(&c, user_key(MATRIX, alg, sha), sha);
            struct stun_request req = request(&c);
            struct stun_reply r = handle(&cfg, &req);
            assert_challenge_at(&req, &r, STUN_REJECT_LT_BAD_INTEGRITY, 401);
            lt_body(&c, ALICE, false, alg, alg == SHA256);
            sign_with(&c, user_key(ALICE, alg == MD5 ? SHA256 : MD5, sha), sha);
            req = request(&c);
            r = handle(&cfg, &req);
            assert_challenge_at(&req, &r, STUN_REJECT_LT_BAD_INTEGRITY, 401);
        }
    }
}

Test(longterm, wrong_realm_is_401)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    static const char *const realms[] = {"example.com", "example.or", "example.orgg", ""};
    struct craft c;
    for (size_t i = 0; i < 4; i++) {
        craft_binding_request(&c, false);
        add_user(&c, ALICE, false);
        add_text(&c, STUN_ATTR_REALM, realms[i]);
        add_nonce(&c);
        sign_with(&c, user_key(ALICE, MD5, false), false);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_challenge_at(&req, &r, STUN_REJECT_WRONG_REALM, 401);
    }
    cr_assert_eq(user_calls, 0);
}

Test(longterm, every_bit_flip_under_integrity_fails)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c, bad;
    struct stun_msg m;
    for (int sha = 0; sha < 2; sha++) {
        lt_request(&c, ALICE, sha, sha ? SHA256 : MD5, sha);
        cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
        struct stun_request req = request(&c);
        cr_assert_eq(handle(&cfg, &req).status, STUN_OK);
        for (size_t i = 0; i < c.len * 8; i++) {
            bad = c;
            bad.buf[i / 8] ^= (uint8_t)(1u << (i % 8));
            req = request(&bad);
            struct stun_reply r = handle(&cfg, &req);
            cr_assert_neq(r.status, STUN_OK, "bit %zu flipped and still accepted", i);
        }
    }
}

/* After authentication: errors signed, routing, padding. */

Test(longterm, unknown_attribute_420_is_signed_like_the_request)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    for (int sha = 0; sha < 2; sha++) {
        unsigned alg = sha ? SHA256 : MD5;
        lt_body(&c, ALICE, false, alg, alg == SHA256);
        craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
        sign_with(&c, user_key(ALICE, alg, sha), sha);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);
        if (sha)
            cr_assert_eq(stun_msg_verify_integrity_sha256(&m, user_key(ALICE, alg, true)), STUN_OK);
        else
            cr_assert_eq(stun_msg_verify_integrity(&m, user_key(ALICE, alg, false)), STUN_OK);
        cr_assert_eq(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY), !sha);
        cr_assert_not(stun_msg_has(&m, STUN_A_REALM));
    }
}

Test(longterm, unknown_attribute_with_a_bad_mac_is_401)
{
    /* Authentication comes before the 420. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    lt_body(&c, ALICE, false, MD5, false);
    craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
    sign_with(&c, user_key(MATRIX, MD5, false), false);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_LT_BAD_INTEGRITY, 401);
}

Test(longterm, response_address_reflects_the_source)
{
    /* Long-term credentials have no minted-for address: REFLECTED-FROM
     * names the source. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    struct stun_addr reflected;
    lt_body(&c, ALICE, false, SHA256, true);
    struct stun_writer w = append_to(&c);
    stun_write_addr(&w, STUN_ATTR_RESPONSE_ADDRESS, &elsewhere);
    finish_append(&c, &w);
    sign_with(&c, user_key(ALICE, SHA256, true), true);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_status(&r, STUN_OK);
    parse_answer(&r, &m);
    cr_assert(stun_addr_equal(&r.dest, &elsewhere));
    cr_assert(stun_msg_get_addr(&m, STUN_A_REFLECTED_FROM, &reflected));
    cr_assert(stun_addr_equal(&reflected, &client));
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, user_key(ALICE, SHA256, true)), STUN_OK);
}

Test(longterm, padding_leaves_room_for_mi_sha256)
{
    static const uint8_t zeros[400];
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    for (int sha = 0; sha < 2; sha++) {
        for (int fp = 0; fp < 2; fp++) {
            unsigned alg = sha ? SHA256 : MD5;
            lt_body(&c, ALICE, false, alg, alg == SHA256);
            craft_attr(&c, STUN_ATTR_PADDING, zeros, sizeof(zeros));
            sign_with(&c, user_key(ALICE, alg, sha), sha);
            if (fp)
                add_fingerprint(&c);
            struct stun_request req = request(&c);
            struct stun_reply r = handle(&cfg, &req);
            assert_success(&req, &r, &m, user_key(ALICE, alg, sha), sha);
            cr_assert_eq(r.len, c.len, "padded to the request's size exactly");
        }
    }
}

/* The dispatch: which requests stay short-term. */

Test(longterm, signed_username_alone_stays_short_term)
{
    /* ICE-style: MESSAGE-INTEGRITY and USERNAME, no REALM/NONCE/USERHASH. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    add_text(&c, STUN_ATTR_USERNAME, "ice-user");
    sign_with(&c, &ice_key, false);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success(&req, &r, &m, &ice_key, false);
    cr_assert_eq(short_lookups, 1);

    craft_binding_request(&c, false);
    add_user(&c, ALICE, false);
    sign_with(&c, user_key(ALICE, MD5, false), false);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_UNKNOWN_USERNAME, 401);
    cr_assert_eq(user_calls, 0, "the long-term table is never read");
}

Test(longterm, classic_requests_keep_short_term_codes)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    /* Unsigned: RFC 3489's 401 without a challenge. */
    craft_binding_request(&c, true);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_NO_INTEGRITY, 401);
    /* REALM and NONCE mean nothing to RFC 3489: an unknown USERNAME, 430. */
    craft_binding_request(&c, true);
    add_text(&c, STUN_ATTR_USERNAME, "alic");
    add_text(&c, STUN_ATTR_REALM, "exam");
    add_text(&c, STUN_ATTR_NONCE, "0123456789ab");
    sign_with(&c, user_key(ALICE, MD5, false), false);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_UNKNOWN_USERNAME, 430);
    cr_assert_eq(user_calls, 0);
}

Test(longterm, without_a_realm_everything_is_short_term)
{
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    cfg.realm = NULL;
    cfg.realm_len = 0;
    struct craft c;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_NO_INTEGRITY, 400);
    lt_request(&c, ALICE, false, MD5, false);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_UNKNOWN_USERNAME, 401);
    lt_request(&c, ALICE, true, SHA256, true);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_MISSING_USERNAME, 400);
    cr_assert_eq(user_calls, 0);
}

Test(longterm, auth_none_ignores_long_term)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_NONE);
    struct craft c;
    struct stun_msg m;
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 0)
            craft_binding_request(&c, false);
        else
            lt_request(&c, ALICE, kind == 2, kind == 2 ? SHA256 : MD5, kind == 2);
        if (kind == 1) /* a forged nonce changes nothing either */
            c.buf[c.len - 30] ^= 1;
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_status(&r, STUN_OK);
        parse_answer(&r, &m);
        cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
        cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY_SHA256));
    }
    cr_assert_eq(user_calls + short_lookups, 0);
}

Test(longterm, missing_nonce_key_or_table_is_500)
{
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int which = 0; which < 2; which++) {
        cfg = config(STUN_AUTH_REQUIRED);
        if (which)
            cfg.user_keys = NULL;
        else
            cfg.nonce_key = NULL;
        lt_request(&c, ALICE, false, MD5, false);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_SERVER_ERROR, 500);
    }
}

/* The RFC vectors. */

Test(longterm, table_keys_match_the_rfc_vectors)
{
    uint8_t lt[CRYPTO_HMAC_MAX_LEN];
    struct stun_msg m;
    const size_t nl = strlen(rfc5769_lt_username);
    cr_assert_eq(crypto_longterm_key(CRYPTO_PASSWORD_MD5, rfc5769_lt_username, nl, REALM,
                                     strlen(REALM), "TheMatrIX", 9, lt),
                 16);
    cr_assert_arr_eq(lt, rfc5769_lt_key, 16);
    cr_assert_eq(crypto_longterm_key(CRYPTO_PASSWORD_SHA256, rfc8489_b1_username, nl, REALM,
                                     strlen(REALM), "TheMatrIX", 9, lt),
                 32);
    cr_assert_arr_eq(lt, rfc8489_b1_key, 32);
    cr_assert_arr_eq(users[MATRIX].userhash, rfc8489_b1_userhash, 32);
    /* The keys the table hands out verify the vectors' own integrity. */
    cr_assert_eq(stun_msg_parse(&m, rfc5769_request_lt, sizeof(rfc5769_request_lt)), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, user_key(MATRIX, MD5, false)), STUN_OK);
    cr_assert_eq(stun_msg_parse(&m, rfc8489_b1_request, sizeof(rfc8489_b1_request)), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, user_key(MATRIX, SHA256, true)), STUN_OK);
}

Test(longterm, rfc_vectors_carry_a_foreign_nonce)
{
    /* Their nonces are not ours: 438 with a nonce of ours, the right answer. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    memcpy(c.buf, rfc5769_request_lt, sizeof(rfc5769_request_lt));
    c.len = sizeof(rfc5769_request_lt);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_FORGED_NONCE, 438);
    memcpy(c.buf, rfc8489_b1_request, sizeof(rfc8489_b1_request));
    c.len = sizeof(rfc8489_b1_request);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_FORGED_NONCE, 438);
    cr_assert_eq(user_calls, 0);
}

Test(longterm, rfc_vectors_resigned_under_our_nonce)
{
    /* The vectors' attributes, transaction id and user, with a nonce we made. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;

    /* RFC 5769 §2.4: USERNAME, NONCE, REALM, MESSAGE-INTEGRITY (MD5 key). */
    craft_binding_request(&c, false);
    memcpy(c.buf + 8, rfc5769_request_lt + 8, 12);
    craft_attr(&c, STUN_ATTR_USERNAME, rfc5769_lt_username, 18);
    add_nonce(&c);
    add_text(&c, STUN_ATTR_REALM, rfc5769_lt_realm);
    struct crypto_hmac_key k = key_of(rfc5769_lt_key, 16, CRYPTO_HMAC_SHA1);
    sign_with(&c, &k, false);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success(&req, &r, &m, &k, false);
    cr_assert_not(last_by_hash);
    cr_assert_eq(last_alg, MD5);

    /* RFC 8489 B.1: USERHASH, NONCE, REALM, PASSWORD-ALGORITHM(S),
     * MESSAGE-INTEGRITY-SHA256 (SHA-256 key). */
    craft_binding_request(&c, false);
    memcpy(c.buf + 8, rfc8489_b1_request + 8, 12);
    craft_attr(&c, STUN_ATTR_USERHASH, rfc8489_b1_userhash, 32);
    add_nonce(&c);
    add_text(&c, STUN_ATTR_REALM, rfc8489_b1_realm);
    add_algorithms(&c, SHA256);
    k = key_of(rfc8489_b1_key, 32, CRYPTO_HMAC_SHA256);
    sign_with(&c, &k, true);
    req = request(&c);
    r = handle(&cfg, &req);
    assert_success(&req, &r, &m, &k, true);
    cr_assert(last_by_hash);
    cr_assert_eq(last_alg, SHA256);
}

/* Hostile input. */

static void handle_guarded(const struct stun_handler_config *cfg, const uint8_t *bytes, size_t len)
{
    struct stun_request req = {
        .data = guard_place(&in_guard, bytes, len),
        .len = len,
        .source = &client,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .now_ms = NOW_MS,
    };
    struct stun_reply r = handle(cfg, &req);
    struct stun_msg m;
    cr_assert_lt(r.status, STUN_STATUS_COUNT);
    if (r.len > 0)
        cr_assert_eq(stun_msg_parse(&m, out, r.len), STUN_OK, "len %zu: the answer parses", len);
}

Test(longterm, every_prefix_of_a_long_term_request)
{
    struct craft c, cut;
    for (int mode = STUN_AUTH_NONE; mode <= STUN_AUTH_REQUIRED; mode++) {
        const struct stun_handler_config cfg = config((enum stun_auth_mode)mode);
        for (int sha = 0; sha < 2; sha++) {
            lt_request(&c, ALICE, sha, sha ? SHA256 : MD5, sha);
            add_fingerprint(&c);
            for (size_t len = 0; len <= c.len; len++) {
                handle_guarded(&cfg, c.buf, len);
                cut = c;
                if (len >= STUN_HEADER_LEN)
                    craft_set_length(&cut, (uint16_t)(len - STUN_HEADER_LEN));
                handle_guarded(&cfg, cut.buf, len);
            }
        }
    }
}

Test(longterm, challenge_in_a_small_buffer_is_whole_or_nothing)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct guard og;
    struct craft c;
    struct stun_reply r;
    guard_init(&og, OUT_CAP);
    craft_binding_request(&c, false);
    add_fingerprint(&c);
    struct stun_request req = request(&c);
    stun_handle(&cfg, &req, out, sizeof(out), &r);
    size_t full = r.len;
    cr_assert_eq(full, 20 + 20 + 16 + 52 + 12 + 8, "ERROR-CODE, REALM, NONCE, algorithms, FP");
    for (size_t cap = 0; cap <= full; cap++) {
        stun_handle(&cfg, &req, og.map + og.usable - cap, cap, &r);
        cr_assert_eq(r.status, STUN_REJECT_LT_CHALLENGE);
        cr_assert_eq(r.len, cap < full ? 0 : full, "cap %zu: len %zu", cap, r.len);
    }
    guard_fini(&og);
}

Test(longterm, status_codes_and_names)
{
    static const struct {
        enum stun_status s;
        int code;
        const char *name;
    } want[] = {
        {STUN_REJECT_LT_CHALLENGE, 401, "reject_lt_challenge"},
        {STUN_REJECT_LT_MISSING_ATTR, 400, "reject_lt_missing_attr"},
        {STUN_REJECT_STALE_NONCE, 438, "reject_stale_nonce"},
        {STUN_REJECT_FORGED_NONCE, 438, "reject_forged_nonce"},
        {STUN_REJECT_WRONG_REALM, 401, "reject_wrong_realm"},
        {STUN_REJECT_PASSWORD_ALGORITHM, 400, "reject_password_algorithm"},
        {STUN_REJECT_LT_UNKNOWN_USER, 401, "reject_lt_unknown_user"},
        {STUN_REJECT_LT_BAD_INTEGRITY, 401, "reject_lt_bad_integrity"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(stun_status_error_code(want[i].s, false), want[i].code);
        cr_assert_eq(stun_status_error_code(want[i].s, true), want[i].code);
        cr_assert_str_eq(stun_status_name(want[i].s), want[i].name);
        cr_assert_not(stun_status_is_drop(want[i].s));
        cr_assert_not(stun_status_is_success(want[i].s));
    }
    cr_assert_str_eq(stun_error_reason(438), "Stale Nonce");
}

Test(longterm, a_nonce_under_the_previous_fleet_key_is_accepted_during_a_rollover)
{
    /* The fleet rolled over: nonce_key is current, other_nonce_key the
     * previous one, under which this client's nonce was made. */
    struct craft c;
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    body_with_nonce_of(&c, &other_nonce_key, &client, NOW_S + 60);
    sign_with(&c, user_key(ALICE, MD5, false), false);
    struct stun_request req = request_at(&c, &client, NOW_MS);
    struct stun_reply r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_FORGED_NONCE, 438);
    cfg.nonce_key_previous = &other_nonce_key; /* --secret-key-previous */
    r = handle(&cfg, &req);
    cr_assert_eq(r.status, STUN_OK, "made under the previous key: still ours");
    cr_assert(r.authenticated);
    /* Stale under the previous key is stale, not forged. */
    body_with_nonce_of(&c, &other_nonce_key, &client, NOW_S + TTL_S);
    sign_with(&c, user_key(ALICE, MD5, false), false);
    req = request_at(&c, &client, NOW_MS + TTL_S * 1000ull);
    r = handle(&cfg, &req);
    assert_challenge_at(&req, &r, STUN_REJECT_STALE_NONCE, 438);
}
