/*
 * Short-term authentication in the handler (RFC 3489 §8.1-8.2, RFC 8489
 * §9.1), RESPONSE-ADDRESS routing and Shared Secret answering, over a fake
 * credential table and a fake minter. Requests sit flush against an
 * unreadable page; every answer is parsed back and its MESSAGE-INTEGRITY
 * verified with the password's key.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "core/attr.h"
#include "core/handler.h"
#include "core/integrity.h"
#include "core/writer.h"
#include "tests/support/guard.h"
#include "tests/unit/craft.h"
#include "tests/unit/endpoints.h"

enum {
    OUT_CAP = 2048,
    GUARD_CAP = 4096,
    UNKNOWN_TYPE = 0x0033, /* comprehension-required, known to no one */
};

#define BIT(id) (1u << (id))
#define NOW_MS 1700000000000ull

static const struct stun_addr client = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
static const struct stun_addr minted_for = {STUN_FAMILY_IPV4, 41000, {198, 51, 100, 9}};
static const struct stun_addr elsewhere = {STUN_FAMILY_IPV4, 5000, {203, 0, 113, 5}};
static const struct stun_addr elsewhere6 = {
    STUN_FAMILY_IPV6, 5000, {0x20, 0x01, 0x0d, 0xb8, [15] = 5}};

/* The fake credential table. Usernames and passwords are multiples of 4. */
struct user {
    const char *name;
    const char *password;
    enum stun_cred_result result;
    const struct stun_addr *minted_for; /* NULL: family 0 */
    struct crypto_hmac_key key;
};

static struct user users[] = {
    {"alice001", "alice-password!!", STUN_CRED_FOUND, &minted_for, {{0}, {0}, 0}},
    {"bob00002", "bob-password", STUN_CRED_FOUND, NULL, {{0}, {0}, 0}},
    {"expired1", "old-password", STUN_CRED_EXPIRED, NULL, {{0}, {0}, 0}},
    {"busybusy", "busy-password!!!", STUN_CRED_BUSY, NULL, {{0}, {0}, 0}},
};
enum { N_USERS = sizeof(users) / sizeof(users[0]) };

/* What the fakes saw; each test runs in its own process. */
static int lookups;
static uint64_t lookup_now_ms;
static int mints;
static struct stun_addr mint_client;
static uint64_t mint_now_ms;

static enum stun_cred_result fake_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out)
{
    const struct user *table = ctx;
    lookups++;
    lookup_now_ms = now_ms;
    for (size_t i = 0; i < N_USERS; i++) {
        if (strlen(table[i].name) != len || memcmp(table[i].name, user, len) != 0)
            continue;
        if (table[i].result == STUN_CRED_FOUND) {
            out->key = table[i].key;
            memset(&out->minted_for, 0, sizeof(out->minted_for));
            if (table[i].minted_for != NULL)
                out->minted_for = *table[i].minted_for;
        }
        return table[i].result;
    }
    return STUN_CRED_UNKNOWN;
}

/* The fake minter; ctx selects how it behaves. */
enum mint_behaviour { MINT_OK, MINT_FAIL, MINT_ODD_LENGTH };
static const char minted_user[] = "mint0001abcd";
static const char minted_pass[] = "0123456789abcdefFEDCBA98";

static enum stun_status fake_mint(void *ctx, const struct stun_addr *who, uint64_t now_ms,
                                  struct stun_minted *out)
{
    enum mint_behaviour how = *(const enum mint_behaviour *)ctx;
    mints++;
    mint_client = *who;
    mint_now_ms = now_ms;
    if (how == MINT_FAIL)
        return STUN_REJECT_SERVER_ERROR;
    memcpy(out->username, minted_user, sizeof(minted_user) - 1);
    out->username_len = sizeof(minted_user) - 1;
    memcpy(out->password, minted_pass, sizeof(minted_pass) - 1);
    out->password_len = how == MINT_ODD_LENGTH ? 7 : sizeof(minted_pass) - 1;
    return STUN_OK;
}

static enum mint_behaviour mint_ok = MINT_OK, mint_fail = MINT_FAIL, mint_odd = MINT_ODD_LENGTH;

/* --allow-peer 203.0.113.0/24: elsewhere lies in TEST-NET-3, which the
 * defaults deny (core/destination.h). */
static const struct stun_dest_policy allow_test_net3 = {
    .rules = {{.net = {STUN_FAMILY_IPV4, 24, {203, 0, 113, 0}}, .allow = true}},
    .n_rules = 1,
};

static struct stun_handler_config config(enum stun_auth_mode auth)
{
    return (struct stun_handler_config){
        .software = NULL,
        .auth = auth,
        .lookup = fake_lookup,
        .lookup_ctx = users,
        .mint = fake_mint,
        .mint_ctx = &mint_ok,
        .response_address = true, /* --response-address; see response_address_off_is_420 */
        .destinations = &allow_test_net3,
    };
}

static struct stun_handler_config with_software(enum stun_auth_mode auth)
{
    struct stun_handler_config cfg = config(auth);
    cfg.software = "stunring test";
    cfg.software_len = 13;
    return cfg;
}

static struct guard in_guard;
static uint8_t out[OUT_CAP];

static void setup(void)
{
    guard_init(&in_guard, GUARD_CAP);
    for (size_t i = 0; i < N_USERS; i++)
        cr_assert_eq(crypto_hmac_key_init(&users[i].key, CRYPTO_HMAC_SHA1, users[i].password,
                                          strlen(users[i].password)),
                     0);
}

static void teardown(void) { guard_fini(&in_guard); }

TestSuite(auth, .init = setup, .fini = teardown);

static struct crypto_hmac_key key_of(const char *password, enum crypto_hmac_alg alg)
{
    struct crypto_hmac_key key;
    cr_assert_eq(crypto_hmac_key_init(&key, alg, password, strlen(password)), 0);
    return key;
}

/* Building requests. */

/* A Binding Request with USERNAME user (NULL: none). */
static void start_request(struct craft *c, bool classic, const char *user)
{
    craft_binding_request(c, classic);
    if (user != NULL)
        craft_attr(c, STUN_ATTR_USERNAME, user, (uint16_t)strlen(user));
}

/* A writer that appends to c, for the attributes the writer computes. */
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

/* Appends MESSAGE-INTEGRITY made with password (RFC 3489 form for classic). */
static void sign(struct craft *c, const char *password)
{
    struct crypto_hmac_key key = key_of(password, CRYPTO_HMAC_SHA1);
    struct stun_writer w = append_to(c);
    stun_write_integrity(&w, &key);
    finish_append(c, &w);
}

static void sign_sha256(struct craft *c, const char *password)
{
    struct crypto_hmac_key key = key_of(password, CRYPTO_HMAC_SHA256);
    struct stun_writer w = append_to(c);
    stun_write_integrity_sha256(&w, &key);
    finish_append(c, &w);
}

static void add_fingerprint(struct craft *c)
{
    struct stun_writer w = append_to(c);
    stun_write_fingerprint(&w);
    finish_append(c, &w);
}

static void add_response_address(struct craft *c, const struct stun_addr *a)
{
    struct stun_writer w = append_to(c);
    stun_write_addr(&w, STUN_ATTR_RESPONSE_ADDRESS, a);
    finish_append(c, &w);
}

static void add_padding(struct craft *c, uint16_t len)
{
    static const uint8_t zeros[1600];
    cr_assert_leq(len, sizeof(zeros));
    craft_attr(c, STUN_ATTR_PADDING, zeros, len);
}

/* A signed Binding Request from user with password. */
static void signed_request(struct craft *c, bool classic, const char *user, const char *password)
{
    start_request(c, classic, user);
    sign(c, password);
}

static struct stun_request request(const struct craft *c)
{
    return (struct stun_request){
        .data = guard_place(&in_guard, c->buf, c->len),
        .len = c->len,
        .source = &client,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .stream = false,
        .tls = false,
        .now_ms = NOW_MS,
    };
}

static struct stun_reply handle(const struct stun_handler_config *cfg,
                                const struct stun_request *req)
{
    struct stun_reply reply;
    memset(out, 0xA5, sizeof(out));
    memset(&reply, 0x5A, sizeof(reply)); /* every field must be written */
    stun_handle(cfg, req, out, sizeof(out), &reply);
    return reply;
}

/* Checking answers. */

static void parse_answer(const struct stun_reply *r, struct stun_msg *m)
{
    cr_assert_gt(r->len, 0, "an answer was written (status %s)", stun_status_name(r->status));
    cr_assert_leq(r->len, OUT_CAP);
    cr_assert_eq(stun_msg_parse(m, out, r->len), STUN_OK, "the answer parses");
    cr_assert_eq(stun_msg_check_fingerprint(m), STUN_OK);
}

static int code_for(bool classic, int classic_code, int modern_code)
{
    return classic ? classic_code : modern_code;
}

static void assert_status(const struct stun_reply *r, enum stun_status want)
{
    cr_assert_eq(r->status, want, "status %s, want %s", stun_status_name(r->status),
                 stun_status_name(want));
}

/* An error answer of code, echoing req's id and style, sent back to the source. */
static void assert_error(const struct stun_request *req, const struct stun_reply *r,
                         struct stun_msg *m, enum stun_status why, int code)
{
    int got;
    const char *reason;
    uint16_t reason_len;
    assert_status(r, why);
    parse_answer(r, m);
    cr_assert_eq(m->cls, STUN_CLASS_ERROR);
    cr_assert_eq(m->method, stun_type_method((uint16_t)(req->data[0] << 8 | req->data[1])));
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id (and cookie) echoed");
    cr_assert(stun_msg_get_error(m, &got, &reason, &reason_len));
    cr_assert_eq(got, code, "code %d, want %d", got, code);
    cr_assert_eq(r->code, code, "reply.code %u names the code sent", r->code);
    cr_assert_eq(r->from, req->arrived);
    cr_assert(stun_addr_equal(&r->dest, req->source), "errors go back to the source");
}

/* An error that carries ERROR-CODE alone: no MESSAGE-INTEGRITY (RFC 8489 §9.1.3). */
static void assert_unsigned_error(const struct stun_request *req, const struct stun_reply *r,
                                  enum stun_status why, int code)
{
    struct stun_msg m;
    assert_error(req, r, &m, why, code);
    cr_assert_eq(m.present, BIT(STUN_A_ERROR_CODE), "attributes 0x%08x: ERROR-CODE only",
                 m.present);
}

static void assert_signed_by(const struct stun_msg *m, const char *password)
{
    struct crypto_hmac_key key = key_of(password, CRYPTO_HMAC_SHA1);
    cr_assert(stun_msg_has(m, STUN_A_MESSAGE_INTEGRITY), "the answer is signed");
    cr_assert_eq(stun_msg_verify_integrity(m, &key), STUN_OK, "MESSAGE-INTEGRITY verifies");
}

/* The answer's attribute types, in wire order, are exactly want[0..n). */
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

static void assert_attr_addr(const struct stun_msg *m, enum stun_attr_id id,
                             const struct stun_addr *want, const char *what)
{
    struct stun_addr got;
    cr_assert(stun_msg_get_addr(m, id, &got), "%s is present", what);
    cr_assert(stun_addr_equal(&got, want), "%s has the expected value", what);
}

/* A Binding Success Response sent from A1P1 to dest. */
static void assert_success_to(const struct stun_request *req, const struct stun_reply *r,
                              struct stun_msg *m, const struct stun_addr *dest)
{
    assert_status(r, STUN_OK);
    cr_assert_eq(r->code, 0, "a success has no code");
    parse_answer(r, m);
    cr_assert_eq(m->type, 0x0101, "Binding Success Response, got 0x%04x", m->type);
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id (and cookie) echoed");
    cr_assert(stun_addr_equal(&r->dest, dest), "dest");
}

/* --auth none: today's behaviour, the table untouched. */

Test(auth, none_ignores_integrity)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_NONE);
    struct craft c;
    struct stun_msg m;
    for (int classic = 0; classic < 2; classic++) {
        signed_request(&c, classic, "alice001", "a wrong password");
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_success_to(&req, &r, &m, &client);
        cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY), "nothing is signed");
    }
    cr_assert_eq(lookups, 0, "the table is never read");
}

Test(auth, none_refuses_response_address_even_signed)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_NONE);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001");
        add_response_address(&c, &elsewhere);
        sign(&c, "alice-password!!");
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_RESPONSE_ADDRESS, 401);
    }
    cr_assert_eq(lookups, 0);
}

/* --auth optional and required: who must sign. */

Test(auth, optional_answers_unsigned_requests_unsigned)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001"); /* USERNAME alone proves nothing */
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_success_to(&req, &r, &m, &client);
        cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
    }
    cr_assert_eq(lookups, 0);
}

Test(auth, required_refuses_unsigned_requests)
{
    /* RFC 3489 §8.2: 401; RFC 8489 §9.1.3: 400. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        for (int with_user = 0; with_user < 2; with_user++) {
            start_request(&c, classic, with_user ? "alice001" : NULL);
            struct stun_request req = request(&c);
            struct stun_reply r = handle(&cfg, &req);
            assert_unsigned_error(&req, &r, STUN_REJECT_NO_INTEGRITY, code_for(classic, 401, 400));
        }
    }
}

Test(auth, required_checks_before_unknown_attributes)
{
    /* The 420 comes after authentication: an unsigned request learns nothing more. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, NULL);
        craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_NO_INTEGRITY, code_for(classic, 401, 400));
    }
}

/* Each failed check, in both styles and both modes (RFC 3489 §8.2, RFC 8489 §9.1.3). */

struct failure_case {
    char user[12];     /* "" for no USERNAME */
    char password[20]; /* signs the request */
    bool classic;
    enum stun_auth_mode auth;
    enum stun_status why;
    int code;
};

static struct failure_case failures[] = {
    {"", "alice-password!!", true, STUN_AUTH_OPTIONAL, STUN_REJECT_MISSING_USERNAME, 432},
    {"", "alice-password!!", false, STUN_AUTH_REQUIRED, STUN_REJECT_MISSING_USERNAME, 400},
    {"nobody00", "whatever", true, STUN_AUTH_REQUIRED, STUN_REJECT_UNKNOWN_USERNAME, 430},
    {"nobody00", "whatever", false, STUN_AUTH_OPTIONAL, STUN_REJECT_UNKNOWN_USERNAME, 401},
    {"expired1", "old-password", true, STUN_AUTH_OPTIONAL, STUN_REJECT_STALE_CREDENTIALS, 430},
    {"expired1", "old-password", false, STUN_AUTH_REQUIRED, STUN_REJECT_STALE_CREDENTIALS, 401},
    {"busybusy", "busy-password!!!", true, STUN_AUTH_REQUIRED, STUN_REJECT_SERVER_ERROR, 500},
    {"busybusy", "busy-password!!!", false, STUN_AUTH_OPTIONAL, STUN_REJECT_SERVER_ERROR, 500},
    {"alice001", "bob-password", true, STUN_AUTH_OPTIONAL, STUN_REJECT_BAD_INTEGRITY, 431},
    {"alice001", "bob-password", false, STUN_AUTH_REQUIRED, STUN_REJECT_BAD_INTEGRITY, 401},
};

ParameterizedTestParameters(auth, failed_checks)
{
    return cr_make_param_array(struct failure_case, failures,
                               sizeof(failures) / sizeof(failures[0]));
}

ParameterizedTest(struct failure_case *fc, auth, failed_checks)
{
    const struct stun_handler_config cfg = config(fc->auth);
    struct craft c;
    /* With and without an unknown attribute: authentication decides first. */
    for (int unknown = 0; unknown < 2; unknown++) {
        start_request(&c, fc->classic, fc->user[0] != '\0' ? fc->user : NULL);
        if (unknown)
            craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
        sign(&c, fc->password);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, fc->why, fc->code);
        if (fc->user[0] != '\0')
            cr_assert_eq(lookup_now_ms, NOW_MS, "the lookup gets the request's clock");
    }
}

Test(auth, no_lookup_means_every_username_is_unknown)
{
    struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    cfg.lookup = NULL;
    for (int classic = 0; classic < 2; classic++) {
        signed_request(&c, classic, "alice001", "alice-password!!");
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_UNKNOWN_USERNAME, code_for(classic, 430, 401));
    }
}

Test(auth, tampered_request_fails_the_hmac)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        signed_request(&c, classic, "alice001", "alice-password!!");
        c.buf[19] ^= 0x01; /* the transaction id is covered */
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_BAD_INTEGRITY, code_for(classic, 431, 401));
    }
}

Test(auth, sha256_integrity_alone_cannot_be_verified)
{
    /* Our short-term key is HMAC-SHA1: a request signed only with
     * MESSAGE-INTEGRITY-SHA256 fails rather than being answered unsigned. */
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001");
        sign_sha256(&c, "alice-password!!");
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_BAD_INTEGRITY, code_for(classic, 431, 401));
    }
}

Test(auth, both_integrities_are_verified_on_sha1)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    start_request(&c, false, "alice001");
    sign(&c, "alice-password!!");
    sign_sha256(&c, "alice-password!!");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &client);
    assert_signed_by(&m, "alice-password!!");
}

/* Signed answers. */

Test(auth, signed_success_modern)
{
    static const uint16_t order[] = {STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_ATTR_MAPPED_ADDRESS,
                                     STUN_ATTR_OTHER_ADDRESS,      STUN_ATTR_RESPONSE_ORIGIN,
                                     STUN_ATTR_SOFTWARE,           STUN_ATTR_MESSAGE_INTEGRITY,
                                     STUN_ATTR_FINGERPRINT};
    for (int mode = STUN_AUTH_OPTIONAL; mode <= STUN_AUTH_REQUIRED; mode++) {
        const struct stun_handler_config cfg = with_software((enum stun_auth_mode)mode);
        struct craft c;
        struct stun_msg m;
        signed_request(&c, false, "alice001", "alice-password!!");
        add_fingerprint(&c);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_success_to(&req, &r, &m, &client);
        cr_assert_not(m.classic);
        assert_order(&m, order, sizeof(order) / sizeof(order[0]));
        assert_signed_by(&m, "alice-password!!");
        assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
    }
}

Test(auth, signed_success_modern_without_fingerprint_ends_with_integrity)
{
    static const uint16_t order[] = {STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_ATTR_MAPPED_ADDRESS,
                                     STUN_ATTR_OTHER_ADDRESS, STUN_ATTR_RESPONSE_ORIGIN,
                                     STUN_ATTR_MESSAGE_INTEGRITY};
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    signed_request(&c, false, "bob00002", "bob-password");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &client);
    assert_order(&m, order, sizeof(order) / sizeof(order[0]));
    assert_signed_by(&m, "bob-password");
}

Test(auth, signed_success_classic)
{
    /* RFC 3489 §11.1 order, MESSAGE-INTEGRITY last in its §11.2.8 form. */
    static const uint16_t order[] = {STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
                                     STUN_ATTR_CHANGED_ADDRESS, STUN_ATTR_SOFTWARE,
                                     STUN_ATTR_MESSAGE_INTEGRITY};
    const struct stun_handler_config cfg = with_software(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    signed_request(&c, true, "alice001", "alice-password!!");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &client);
    cr_assert(m.classic);
    assert_order(&m, order, sizeof(order) / sizeof(order[0]));
    assert_signed_by(&m, "alice-password!!");
    assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS");
}

Test(auth, signed_change_request_is_followed)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    start_request(&c, true, "alice001");
    craft_attr(&c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, STUN_CHANGE_IP}, 4);
    sign(&c, "alice-password!!");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &client);
    cr_assert_eq(r.from, STUN_EP_A2P1);
    assert_signed_by(&m, "alice-password!!");
}

Test(auth, unknown_attribute_after_authentication_is_a_signed_420)
{
    const uint16_t listed[] = {UNKNOWN_TYPE, UNKNOWN_TYPE}; /* classic repeats it */
    const struct stun_handler_config cfg = with_software(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    uint16_t types[4];
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001");
        craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
        sign(&c, "alice-password!!");
        if (!classic)
            add_fingerprint(&c);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);
        assert_signed_by(&m, "alice-password!!");
        size_t n = stun_msg_get_unknown_list(&m, types, 4);
        cr_assert_eq(n, classic ? 2u : 1u);
        cr_assert_arr_eq(types, listed, n * sizeof(uint16_t));
        cr_assert(stun_msg_has(&m, STUN_A_SOFTWARE));
        cr_assert_eq(stun_msg_has(&m, STUN_A_FINGERPRINT), !classic);
    }
}

Test(auth, structural_errors_come_first_and_unsigned)
{
    /* A bad address family: 400 before anything is looked up. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001");
        craft_attr(&c, STUN_ATTR_MAPPED_ADDRESS, (uint8_t[]){0, 3, 0x13, 0x88, 10, 0, 0, 9}, 8);
        sign(&c, "alice-password!!");
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_ATTR_INVALID, 400);
    }
    cr_assert_eq(lookups, 0);
}

Test(auth, bad_fingerprint_is_dropped_before_authentication)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    signed_request(&c, false, "alice001", "alice-password!!");
    add_fingerprint(&c);
    c.buf[c.len - 1] ^= 0x01;
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_status(&r, STUN_DROP_BAD_FINGERPRINT);
    cr_assert_eq(r.len, 0);
    cr_assert_eq(lookups, 0);
}

Test(auth, bad_response_port_after_authentication_is_an_unsigned_400)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    start_request(&c, false, "alice001");
    craft_attr(&c, STUN_ATTR_RESPONSE_PORT, (uint8_t[]){0, 0, 0, 0}, 4);
    sign(&c, "alice-password!!");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_unsigned_error(&req, &r, STUN_REJECT_BAD_PORT, 400);
}

/* RESPONSE-ADDRESS (RFC 3489 §8.1, §11.2.11): only when authenticated. */

/* A request from user signed with password, asking for the answer at to. */
static void redirected_request(struct craft *c, bool classic, const char *user,
                               const char *password, const struct stun_addr *to)
{
    start_request(c, classic, user);
    add_response_address(c, to);
    sign(c, password);
}

Test(auth, response_address_classic_routes_and_reflects)
{
    static const uint16_t order[] = {STUN_ATTR_MAPPED_ADDRESS,  STUN_ATTR_SOURCE_ADDRESS,
                                     STUN_ATTR_CHANGED_ADDRESS, STUN_ATTR_REFLECTED_FROM,
                                     STUN_ATTR_SOFTWARE,        STUN_ATTR_MESSAGE_INTEGRITY};
    const struct stun_handler_config cfg = with_software(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, true, "alice001", "alice-password!!", &elsewhere);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &elsewhere);
    cr_assert_eq(r.from, STUN_EP_A1P1);
    assert_order(&m, order, sizeof(order) / sizeof(order[0]));
    assert_signed_by(&m, "alice-password!!");
    assert_attr_addr(&m, STUN_A_MAPPED_ADDRESS, &client, "MAPPED-ADDRESS (still the source)");
    assert_attr_addr(&m, STUN_A_REFLECTED_FROM, &minted_for, "REFLECTED-FROM");
}

Test(auth, response_address_modern_routes_and_reflects)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, false, "alice001", "alice-password!!", &elsewhere);
    add_fingerprint(&c);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &elsewhere);
    assert_signed_by(&m, "alice-password!!");
    assert_attr_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &client, "XOR-MAPPED-ADDRESS");
    assert_attr_addr(&m, STUN_A_REFLECTED_FROM, &minted_for, "REFLECTED-FROM");
    cr_assert(stun_msg_has(&m, STUN_A_FINGERPRINT));
}

Test(auth, reflected_from_is_the_source_when_minted_for_is_unknown)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, true, "bob00002", "bob-password", &elsewhere);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &elsewhere);
    assert_attr_addr(&m, STUN_A_REFLECTED_FROM, &client, "REFLECTED-FROM");
    assert_signed_by(&m, "bob-password");
}

Test(auth, response_address_wins_over_response_port)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    start_request(&c, false, "alice001");
    add_response_address(&c, &elsewhere);
    craft_attr(&c, STUN_ATTR_RESPONSE_PORT, (uint8_t[]){0x17, 0x70, 0, 0}, 4); /* 6000 */
    craft_attr(&c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, STUN_CHANGE_PORT}, 4);
    sign(&c, "alice-password!!");
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &elsewhere);
    cr_assert_eq(r.from, STUN_EP_A1P2, "CHANGE-REQUEST still applies");
    assert_signed_by(&m, "alice-password!!");
}

Test(auth, response_address_unusable_is_400)
{
    const struct stun_addr port0 = {STUN_FAMILY_IPV4, 0, {203, 0, 113, 5}};
    const struct stun_addr any = {STUN_FAMILY_IPV4, 5000, {0}};
    const struct stun_addr *unusable[] = {&elsewhere6, &port0, &any};
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
            redirected_request(&c, classic, "alice001", "alice-password!!", unusable[i]);
            struct stun_request req = request(&c);
            struct stun_reply r = handle(&cfg, &req);
            assert_unsigned_error(&req, &r, STUN_REJECT_BAD_RESPONSE_ADDRESS, 400);
        }
    }
}

Test(auth, response_address_ipv6_to_ipv6_is_honoured)
{
    const struct stun_addr client6 = {STUN_FAMILY_IPV6, 50001, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    const struct stun_addr local6 = {STUN_FAMILY_IPV6, P1, {[15] = 1}};
    const struct stun_endpoints eps6 = {.addr = {[STUN_EP_A1P1] = local6}, .alternate = false};
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, false, "bob00002", "bob-password", &elsewhere6);
    struct stun_request req = request(&c);
    req.source = &client6;
    req.local = &local6;
    req.eps = &eps6;
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &elsewhere6);
    assert_attr_addr(&m, STUN_A_REFLECTED_FROM, &client6, "REFLECTED-FROM");
    assert_signed_by(&m, "bob-password");
}

Test(auth, response_address_on_a_stream_is_a_signed_420)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    uint16_t types[4];
    for (int classic = 0; classic < 2; classic++) {
        redirected_request(&c, classic, "alice001", "alice-password!!", &elsewhere);
        struct stun_request req = request(&c);
        req.stream = true;
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_STREAM_ONLY_UDP, 420);
        size_t n = stun_msg_get_unknown_list(&m, types, 4);
        cr_assert_geq(n, 1);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(types[i], STUN_ATTR_RESPONSE_ADDRESS);
        assert_signed_by(&m, "alice-password!!");
    }
}

/* DESIGN.md "Security": off unless --response-address; the answer says which
 * attribute is refused, signed, and goes back to the source. */
Test(auth, response_address_off_is_420)
{
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    cfg.response_address = false;
    struct craft c;
    struct stun_msg m;
    uint16_t types[4];
    for (int classic = 0; classic < 2; classic++) {
        redirected_request(&c, classic, "alice001", "alice-password!!", &elsewhere);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_RESPONSE_ADDRESS_OFF, 420);
        cr_assert_eq(stun_msg_get_unknown_list(&m, types, 4), classic ? 2 : 1,
                     "RESPONSE-ADDRESS listed (classic repeats it to fill 4 bytes)");
        cr_assert_eq(types[0], STUN_ATTR_RESPONSE_ADDRESS);
        assert_signed_by(&m, "alice-password!!");
    }
}

/* Issue 9: a RESPONSE-ADDRESS the destination policy refuses gets an error
 * at the source, signed as the request was: 403, or RFC 3489's 400. */
static void assert_destination_denied(const struct stun_handler_config *cfg, bool classic,
                                      const struct stun_addr *to, const struct stun_addr *local)
{
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, classic, "alice001", "alice-password!!", to);
    add_fingerprint(&c);
    struct stun_request req = request(&c);
    if (local != NULL)
        req.local = local;
    struct stun_reply r = handle(cfg, &req);
    assert_error(&req, &r, &m, STUN_REJECT_DESTINATION_DENIED, code_for(classic, 400, 403));
    cr_assert(r.authenticated);
    assert_signed_by(&m, "alice-password!!");
    cr_assert_eq(m.present & ~(BIT(STUN_A_MESSAGE_INTEGRITY) | BIT(STUN_A_FINGERPRINT)),
                 BIT(STUN_A_ERROR_CODE), "attributes 0x%08x", m.present);
}

Test(auth, response_address_refused_by_the_default_policy)
{
    static const struct stun_addr refused[] = {
        {STUN_FAMILY_IPV4, 5000, {127, 0, 0, 1}},       {STUN_FAMILY_IPV4, 5000, {10, 1, 2, 3}},
        {STUN_FAMILY_IPV4, 5000, {192, 168, 0, 1}},     {STUN_FAMILY_IPV4, 5000, {224, 0, 0, 251}},
        {STUN_FAMILY_IPV4, 5000, {255, 255, 255, 255}},
    };
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    for (int classic = 0; classic < 2; classic++) {
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
            assert_destination_denied(&cfg, classic, &refused[i], NULL);
        cfg.destinations = NULL; /* the defaults alone: TEST-NET-3 too */
        assert_destination_denied(&cfg, classic, &elsewhere, NULL);
        cfg.destinations = &allow_test_net3;
    }
}

Test(auth, response_address_to_the_arrival_address_is_refused)
{
    /* A wildcard listen: the public address the request came in on is
     * ours, on every port. */
    const struct stun_addr arrival = {STUN_FAMILY_IPV4, P1, {8, 8, 8, 8}};
    const struct stun_addr ours = {STUN_FAMILY_IPV4, 22, {8, 8, 8, 8}};
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    assert_destination_denied(&cfg, false, &ours, &arrival);
    assert_destination_denied(&cfg, true, &ours, &arrival);
}

Test(auth, response_address_ipv6_spellings_of_loopback_are_refused)
{
    static const struct stun_addr refused[] = {
        {STUN_FAMILY_IPV6, 5000, {[10] = 0xff, 0xff, 127, 0, 0, 1}},        /* ::ffff:127.0.0.1 */
        {STUN_FAMILY_IPV6, 5000, {[12] = 127, 0, 0, 1}},                    /* ::127.0.0.1 */
        {STUN_FAMILY_IPV6, 5000, {0x20, 0x02, 127, 0, 0, 1, [15] = 1}},     /* 2002:7f00:1::1 */
        {STUN_FAMILY_IPV6, 5000, {0, 0x64, 0xff, 0x9b, [12] = 8, 8, 8, 8}}, /* NAT64 */
        {STUN_FAMILY_IPV6, 5000, {[15] = 1}},                               /* ::1 */
    };
    const struct stun_addr client6 = {STUN_FAMILY_IPV6, 50001, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
    const struct stun_addr local6 = {STUN_FAMILY_IPV6, P1, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    const struct stun_endpoints eps6 = {.addr = {[STUN_EP_A1P1] = local6}, .alternate = false};
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        redirected_request(&c, false, "bob00002", "bob-password", &refused[i]);
        struct stun_request req = request(&c);
        req.source = &client6;
        req.local = &local6;
        req.eps = &eps6;
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_DESTINATION_DENIED, 403);
        assert_signed_by(&m, "bob-password");
    }
}

Test(auth, allow_peer_opens_loopback_to_response_address)
{
    static const struct stun_dest_policy allow_loopback = {
        .rules = {{.net = {STUN_FAMILY_IPV4, 8, {127, 0, 0, 0}}, .allow = true}},
        .n_rules = 1,
    };
    const struct stun_addr loopback = {STUN_FAMILY_IPV4, 5000, {127, 0, 0, 9}};
    struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    cfg.destinations = &allow_loopback;
    struct craft c;
    struct stun_msg m;
    redirected_request(&c, false, "alice001", "alice-password!!", &loopback);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &loopback);
    assert_signed_by(&m, "alice-password!!");
}

Test(auth, response_address_unauthenticated_is_401)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        start_request(&c, classic, "alice001");
        add_response_address(&c, &elsewhere);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_RESPONSE_ADDRESS, 401);
        req.stream = true; /* on a stream too: authentication is asked first */
        r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_RESPONSE_ADDRESS, 401);
    }
}

Test(auth, response_address_with_a_failed_check_is_that_check)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        redirected_request(&c, classic, "alice001", "bob-password", &elsewhere);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_BAD_INTEGRITY, code_for(classic, 431, 401));
    }
}

/* PADDING (RFC 5780 §7.6) leaves room for MESSAGE-INTEGRITY. */

Test(auth, padding_and_integrity_never_exceed_the_request)
{
    const struct stun_handler_config cfg = with_software(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    uint16_t pad_len;
    for (int classic = 0; classic < 2; classic++) {
        for (uint16_t pad = 0; pad <= 160; pad++) {
            start_request(&c, classic, "alice001");
            add_padding(&c, pad);
            sign(&c, "alice-password!!");
            if (!classic)
                add_fingerprint(&c);
            struct stun_request req = request(&c);
            struct stun_reply r = handle(&cfg, &req);
            assert_success_to(&req, &r, &m, &client);
            assert_signed_by(&m, "alice-password!!");
            cr_assert_not_null(stun_msg_attr(&m, STUN_A_PADDING, &pad_len));
            /* Filled to the request's size, or empty if even that is too big. */
            if (pad_len > 0)
                cr_assert_eq(r.len, c.len, "classic %d pad %u: %zu bytes for %zu", classic, pad,
                             r.len, c.len);
            else
                cr_assert_geq(r.len + 4, c.len, "classic %d pad %u: could have padded", classic,
                              pad);
        }
    }
}

Test(auth, padded_signed_answer_to_a_full_mtu_request)
{
    const struct stun_handler_config cfg = with_software(STUN_AUTH_OPTIONAL);
    struct craft c;
    struct stun_msg m;
    start_request(&c, false, "alice001");
    add_padding(&c, 1472 - 20 - 12 - 4 - 24 - 8);
    sign(&c, "alice-password!!");
    add_fingerprint(&c);
    cr_assert_eq(c.len, 1472);
    struct stun_request req = request(&c);
    struct stun_reply r = handle(&cfg, &req);
    assert_success_to(&req, &r, &m, &client);
    cr_assert_eq(r.len, c.len);
    assert_signed_by(&m, "alice-password!!");
}

/* Shared Secret Requests (RFC 3489 §8.2). */

static void shared_secret_request(struct craft *c, bool classic)
{
    craft_start(c, stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), classic);
}

Test(auth, shared_secret_over_tls_mints)
{
    const struct stun_handler_config cfg = with_software(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    uint16_t len;
    for (int classic = 0; classic < 2; classic++) {
        shared_secret_request(&c, classic);
        struct stun_request req = request(&c);
        req.tls = true;
        req.stream = true;
        struct stun_reply r = handle(&cfg, &req);
        assert_status(&r, STUN_OK_MINTED);
        parse_answer(&r, &m);
        cr_assert_eq(m.type, 0x0102, "Shared Secret Response, got 0x%04x", m.type);
        cr_assert_eq(m.classic, classic, "the request's style is echoed");
        cr_assert_arr_eq(out + 4, c.buf + 4, 16, "transaction id echoed");
        cr_assert_eq(m.present, BIT(STUN_A_USERNAME) | BIT(STUN_A_PASSWORD) | BIT(STUN_A_SOFTWARE));
        const uint8_t *user = stun_msg_attr(&m, STUN_A_USERNAME, &len);
        cr_assert_eq(len, strlen(minted_user));
        cr_assert_eq(len % 4, 0);
        cr_assert_arr_eq(user, minted_user, len);
        const uint8_t *pass = stun_msg_attr(&m, STUN_A_PASSWORD, &len);
        cr_assert_eq(len, strlen(minted_pass));
        cr_assert_eq(len % 4, 0);
        cr_assert_arr_eq(pass, minted_pass, len);
        cr_assert(stun_addr_equal(&mint_client, &client), "minted for the source");
        cr_assert_eq(mint_now_ms, NOW_MS);
    }
    cr_assert_eq(mints, 2);
    cr_assert(stun_status_is_success(STUN_OK_MINTED));
    cr_assert_not(stun_status_is_drop(STUN_OK_MINTED));
    cr_assert_eq(stun_status_error_code(STUN_OK_MINTED, true), 0);
    cr_assert_str_eq(stun_status_name(STUN_OK_MINTED), "ok_minted");
}

Test(auth, shared_secret_keeps_fingerprint)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_NONE);
    struct craft c;
    struct stun_msg m;
    shared_secret_request(&c, false);
    add_fingerprint(&c);
    struct stun_request req = request(&c);
    req.tls = true;
    struct stun_reply r = handle(&cfg, &req);
    assert_status(&r, STUN_OK_MINTED);
    parse_answer(&r, &m);
    cr_assert_eq(m.present, BIT(STUN_A_USERNAME) | BIT(STUN_A_PASSWORD) | BIT(STUN_A_FINGERPRINT));
}

Test(auth, shared_secret_without_tls_is_433)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
    struct craft c;
    for (int classic = 0; classic < 2; classic++) {
        shared_secret_request(&c, classic);
        struct stun_request req = request(&c);
        struct stun_reply r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_USE_TLS, 433);
        cr_assert_eq(out[0] << 8 | out[1], 0x0112);
        req.stream = true; /* TCP is not TLS either */
        r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_USE_TLS, 433);
    }
    cr_assert_eq(mints, 0);
}

Test(auth, shared_secret_mint_failure_is_500)
{
    enum mint_behaviour *const how[] = {&mint_fail, &mint_odd, NULL};
    struct craft c;
    for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
        struct stun_handler_config cfg = config(STUN_AUTH_OPTIONAL);
        cfg.mint_ctx = how[i];
        if (how[i] == NULL)
            cfg.mint = NULL;
        for (int classic = 0; classic < 2; classic++) {
            shared_secret_request(&c, classic);
            struct stun_request req = request(&c);
            req.tls = true;
            struct stun_reply r = handle(&cfg, &req);
            assert_unsigned_error(&req, &r, STUN_REJECT_SERVER_ERROR, 500);
            cr_assert_eq(out[0] << 8 | out[1], 0x0112, "Shared Secret Error Response");
        }
    }
}

Test(auth, shared_secret_errors_come_before_minting)
{
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c;
    struct stun_msg m;
    for (int classic = 0; classic < 2; classic++) {
        shared_secret_request(&c, classic);
        craft_attr(&c, UNKNOWN_TYPE, "abcd", 4);
        struct stun_request req = request(&c);
        req.tls = true;
        struct stun_reply r = handle(&cfg, &req);
        assert_error(&req, &r, &m, STUN_REJECT_UNKNOWN_ATTR, 420);

        shared_secret_request(&c, classic);
        craft_attr(&c, STUN_ATTR_MAPPED_ADDRESS, (uint8_t[]){0, 3, 0x13, 0x88, 10, 0, 0, 9}, 8);
        req = request(&c);
        req.tls = true;
        r = handle(&cfg, &req);
        assert_unsigned_error(&req, &r, STUN_REJECT_ATTR_INVALID, 400);
    }
    cr_assert_eq(mints, 0, "nothing is minted for a request that gets an error");
    cr_assert_eq(lookups, 0);
}

/* Statuses. */

Test(auth, status_codes_per_style)
{
    static const struct {
        enum stun_status s;
        int classic, modern;
    } want[] = {
        {STUN_REJECT_NO_INTEGRITY, 401, 400},         {STUN_REJECT_MISSING_USERNAME, 432, 400},
        {STUN_REJECT_UNKNOWN_USERNAME, 430, 401},     {STUN_REJECT_STALE_CREDENTIALS, 430, 401},
        {STUN_REJECT_BAD_INTEGRITY, 431, 401},        {STUN_REJECT_SERVER_ERROR, 500, 500},
        {STUN_REJECT_BAD_RESPONSE_ADDRESS, 400, 400},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_assert_eq(stun_status_error_code(want[i].s, true), want[i].classic, "%s classic",
                     stun_status_name(want[i].s));
        cr_assert_eq(stun_status_error_code(want[i].s, false), want[i].modern, "%s modern",
                     stun_status_name(want[i].s));
        cr_assert_not(stun_status_is_drop(want[i].s));
        cr_assert_not(stun_status_is_success(want[i].s));
    }
}

/* Hostile input: prefixes, flipped bits, small buffers. */

/* A signed request using every routing feature, FINGERPRINT last when modern. */
static void busy_request(struct craft *c, bool classic)
{
    start_request(c, classic, "alice001");
    add_response_address(c, &elsewhere);
    craft_attr(c, STUN_ATTR_CHANGE_REQUEST, (uint8_t[]){0, 0, 0, STUN_CHANGE_IP}, 4);
    add_padding(c, 40);
    craft_attr(c, STUN_ATTR_SOFTWARE, "client", 6);
    sign(c, "alice-password!!");
    if (!classic)
        add_fingerprint(c);
}

/* Handles bytes[0..len) flush against the guard page; any answer must parse. */
static struct stun_reply handle_guarded(const struct stun_handler_config *cfg, const uint8_t *bytes,
                                        size_t len, bool stream)
{
    struct stun_request req = {
        .data = guard_place(&in_guard, bytes, len),
        .len = len,
        .source = &client,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .stream = stream,
        .tls = stream,
        .now_ms = NOW_MS,
    };
    struct stun_reply r = handle(cfg, &req);
    struct stun_msg m;
    cr_assert_lt(r.status, STUN_STATUS_COUNT);
    if (r.len > 0)
        cr_assert_eq(stun_msg_parse(&m, out, r.len), STUN_OK, "len %zu: the answer parses", len);
    return r;
}

Test(auth, every_prefix_of_a_signed_request)
{
    struct craft c, cut;
    for (int mode = STUN_AUTH_NONE; mode <= STUN_AUTH_REQUIRED; mode++) {
        const struct stun_handler_config cfg = with_software((enum stun_auth_mode)mode);
        for (int classic = 0; classic < 2; classic++) {
            busy_request(&c, classic);
            for (size_t len = 0; len <= c.len; len++) {
                for (int stream = 0; stream < 2; stream++) {
                    handle_guarded(&cfg, c.buf, len, stream);
                    /* The same prefix with a header length that admits it. */
                    cut = c;
                    if (len >= STUN_HEADER_LEN)
                        craft_set_length(&cut, (uint16_t)(len - STUN_HEADER_LEN));
                    handle_guarded(&cfg, cut.buf, len, stream);
                }
            }
        }
    }
}

Test(auth, every_bit_flip_under_integrity_fails)
{
    /* Everything before MESSAGE-INTEGRITY's end is covered: no flipped bit
     * there yields a success answer. */
    const struct stun_handler_config cfg = config(STUN_AUTH_REQUIRED);
    struct craft c, bad;
    struct stun_msg m;
    for (int classic = 0; classic < 2; classic++) {
        busy_request(&c, classic);
        cr_assert_eq(stun_msg_parse(&m, c.buf, c.len), STUN_OK);
        size_t covered = m.at[STUN_A_MESSAGE_INTEGRITY].off + 20;
        cr_assert_eq(handle_guarded(&cfg, c.buf, c.len, false).status, STUN_OK);
        for (size_t i = 0; i < covered * 8; i++) {
            bad = c;
            bad.buf[i / 8] ^= (uint8_t)(1u << (i % 8));
            struct stun_reply r = handle_guarded(&cfg, bad.buf, bad.len, false);
            cr_assert_neq(r.status, STUN_OK, "classic %d: bit %zu flipped and still accepted",
                          classic, i);
        }
    }
}

Test(auth, signed_answer_in_a_small_buffer_is_whole_or_nothing)
{
    const struct stun_handler_config cfg = with_software(STUN_AUTH_REQUIRED);
    struct guard og;
    struct craft c;
    struct stun_reply r;
    guard_init(&og, OUT_CAP);
    for (int classic = 0; classic < 2; classic++) {
        redirected_request(&c, classic, "alice001", "alice-password!!", &elsewhere);
        struct stun_request req = request(&c);
        stun_handle(&cfg, &req, out, sizeof(out), &r);
        size_t full = r.len;
        cr_assert_gt(full, 0);
        for (size_t cap = 0; cap <= full; cap++) {
            stun_handle(&cfg, &req, og.map + og.usable - cap, cap, &r);
            cr_assert_eq(r.status, STUN_OK);
            cr_assert_eq(r.len, cap < full ? 0 : full, "cap %zu: len %zu", cap, r.len);
        }
    }
    guard_fini(&og);
}

Test(auth, padded_signed_answer_shrinks_to_a_small_buffer)
{
    const struct stun_handler_config cfg = with_software(STUN_AUTH_REQUIRED);
    struct guard og;
    struct craft c;
    struct stun_reply r;
    struct stun_msg m;
    guard_init(&og, OUT_CAP);
    for (int classic = 0; classic < 2; classic++) {
        busy_request(&c, classic);
        struct stun_request req = request(&c);
        for (size_t cap = 0; cap <= c.len; cap++) {
            uint8_t *at = og.map + og.usable - cap;
            stun_handle(&cfg, &req, at, cap, &r);
            cr_assert_eq(r.status, STUN_OK);
            cr_assert_leq(r.len, cap);
            if (r.len == 0)
                continue;
            cr_assert_eq(stun_msg_parse(&m, at, r.len), STUN_OK, "cap %zu", cap);
            assert_signed_by(&m, "alice-password!!");
        }
    }
    guard_fini(&og);
}
