/*
 * 300 Try Alternate (RFC 8489 §10): what a request gets when io/ asks for a
 * redirect (drain, load shedding). ALTERNATE-SERVER of the request's
 * family, ALTERNATE-DOMAIN over TLS, signed when the request authenticated
 * (authentication judged first), FINGERPRINT when it had one; no alternate
 * of its family, or an RFC 3489 request: the answer it always gets.
 */
#include <criterion/criterion.h>
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
};

#define BIT(id) (1u << (id))
#define NOW_MS 1700000000000ull

static const struct stun_addr client4 = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
static const struct stun_addr client6 = {
    STUN_FAMILY_IPV6, 40000, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};
static const struct stun_addr alt4 = {STUN_FAMILY_IPV4, 3478, {198, 51, 100, 20}};
static const struct stun_addr alt6 = {
    STUN_FAMILY_IPV6, 3479, {0x20, 0x01, 0x0d, 0xb8, [14] = 1, [15] = 0x20}};

static const char password[] = "alice-password!!";
static struct crypto_hmac_key alice_key;
static int mints;

static enum stun_cred_result fake_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out)
{
    (void)ctx;
    (void)now_ms;
    if (len != 8 || memcmp(user, "alice001", 8) != 0)
        return STUN_CRED_UNKNOWN;
    out->key = alice_key;
    memset(&out->minted_for, 0, sizeof(out->minted_for));
    return STUN_CRED_FOUND;
}

static enum stun_status fake_mint(void *ctx, const struct stun_addr *who, uint64_t now_ms,
                                  struct stun_minted *out)
{
    (void)ctx;
    (void)who;
    (void)now_ms;
    mints++;
    memcpy(out->username, "mint0001", 8);
    out->username_len = 8;
    memcpy(out->password, "pass0001", 8);
    out->password_len = 8;
    return STUN_OK;
}

/* Both alternates, a domain, optional short-term authentication. */
static struct stun_handler_config config(void)
{
    return (struct stun_handler_config){
        .auth = STUN_AUTH_OPTIONAL,
        .lookup = fake_lookup,
        .mint = fake_mint,
        .alternate_server = {alt4, alt6},
        .alternate_domain = "stun2.example.net",
        .alternate_domain_len = 17,
    };
}

static struct guard in_guard;
static uint8_t out[OUT_CAP];

static void setup(void)
{
    guard_init(&in_guard, GUARD_CAP);
    cr_assert_eq(crypto_hmac_key_init(&alice_key, CRYPTO_HMAC_SHA1, password, sizeof(password) - 1),
                 0);
}

static void teardown(void) { guard_fini(&in_guard); }

TestSuite(redirect, .init = setup, .fini = teardown);

static struct stun_writer append_to(struct craft *c, bool classic)
{
    return (struct stun_writer){c->buf, sizeof(c->buf), (uint32_t)c->len, classic, false};
}

static void add_fingerprint(struct craft *c)
{
    struct stun_writer w = append_to(c, false);
    stun_write_fingerprint(&w);
    cr_assert_not(w.failed);
    c->len = w.len;
}

/* A Binding Request with USERNAME alice001 signed with key. */
static void signed_request(struct craft *c, const struct crypto_hmac_key *key)
{
    craft_binding_request(c, false);
    craft_attr(c, STUN_ATTR_USERNAME, "alice001", 8);
    struct stun_writer w = append_to(c, false);
    stun_write_integrity(&w, key);
    cr_assert_not(w.failed);
    c->len = w.len;
}

static struct stun_request request(const struct craft *c, const struct stun_addr *source,
                                   enum stun_redirect redirect)
{
    return (struct stun_request){
        .data = guard_place(&in_guard, c->buf, c->len),
        .len = c->len,
        .source = source,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .now_ms = NOW_MS,
        .redirect = redirect,
    };
}

static struct stun_reply handle(const struct stun_handler_config *cfg,
                                const struct stun_request *req, struct stun_msg *m)
{
    struct stun_reply reply;
    memset(out, 0xA5, sizeof(out));
    memset(&reply, 0x5A, sizeof(reply)); /* every field must be written */
    stun_handle(cfg, req, out, sizeof(out), &reply);
    cr_assert_gt(reply.len, 0, "an answer (status %s)", stun_status_name(reply.status));
    cr_assert_eq(stun_msg_parse(m, out, reply.len), STUN_OK, "the answer parses");
    cr_assert_eq(stun_msg_check_fingerprint(m), STUN_OK);
    return reply;
}

/* A 300 for why naming alt, sent back to the source, with exactly attrs. */
static void assert_300(const struct stun_request *req, const struct stun_reply *r,
                       const struct stun_msg *m, enum stun_status why, const struct stun_addr *alt,
                       uint32_t attrs)
{
    int code;
    const char *reason;
    uint16_t reason_len;
    struct stun_addr got;
    cr_assert_eq(r->status, why, "status %s, want %s", stun_status_name(r->status),
                 stun_status_name(why));
    cr_assert_eq(m->cls, STUN_CLASS_ERROR);
    cr_assert_eq(m->method, stun_type_method((uint16_t)(req->data[0] << 8 | req->data[1])));
    cr_assert_arr_eq(out + 4, req->data + 4, 16, "transaction id echoed");
    cr_assert(stun_msg_get_error(m, &code, &reason, &reason_len));
    cr_assert_eq(code, 300);
    cr_assert_eq(r->code, 300, "counted as error_300");
    cr_assert_eq(reason_len, 13, "\"Try Alternate\"");
    cr_assert(stun_msg_get_addr(m, STUN_A_ALTERNATE_SERVER, &got), "ALTERNATE-SERVER");
    cr_assert(stun_addr_equal(&got, alt), "ALTERNATE-SERVER names the alternate of the family");
    cr_assert(stun_addr_equal(&r->dest, req->source), "back to the source");
    cr_assert_eq(r->from, req->arrived);
    cr_assert_eq(m->present, attrs, "attributes 0x%08x, want 0x%08x", m->present, attrs);
}

static const uint32_t plain_300 = BIT(STUN_A_ERROR_CODE) | BIT(STUN_A_ALTERNATE_SERVER);

Test(redirect, draining_ipv4_request_gets_the_ipv4_alternate)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4, plain_300);
    cr_assert_not(r.authenticated);
}

Test(redirect, draining_ipv6_request_gets_the_ipv6_alternate)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &client6, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt6, plain_300);
}

Test(redirect, shedding_is_a_300_counted_apart)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_SHED);
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_SHED, &alt4, plain_300);
}

Test(redirect, fingerprint_is_echoed)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    add_fingerprint(&c);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4, plain_300 | BIT(STUN_A_FINGERPRINT));
}

Test(redirect, authenticated_request_gets_a_signed_300)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    signed_request(&c, &alice_key);
    add_fingerprint(&c);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4,
               plain_300 | BIT(STUN_A_MESSAGE_INTEGRITY) | BIT(STUN_A_FINGERPRINT));
    cr_assert(r.authenticated, "charged to the credential, not the reflection cap");
    cr_assert_eq(stun_msg_verify_integrity(&m, &alice_key), STUN_OK, "signed with its key");
}

Test(redirect, authentication_is_judged_before_the_redirect)
{
    const struct stun_handler_config cfg = config();
    struct crypto_hmac_key wrong;
    cr_assert_eq(crypto_hmac_key_init(&wrong, CRYPTO_HMAC_SHA1, "not-the-password", 16), 0);
    struct craft c;
    struct stun_msg m;
    int code;
    const char *reason;
    uint16_t reason_len;
    signed_request(&c, &wrong);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    cr_assert_eq(r.status, STUN_REJECT_BAD_INTEGRITY, "status %s", stun_status_name(r.status));
    cr_assert(stun_msg_get_error(&m, &code, &reason, &reason_len));
    cr_assert_eq(code, 401);
    cr_assert_not(stun_msg_has(&m, STUN_A_ALTERNATE_SERVER), "no redirect for a forgery");
    cr_assert_not(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
}

Test(redirect, tls_adds_alternate_domain_and_tcp_does_not)
{
    const struct stun_handler_config cfg = config();
    for (int tls = 0; tls <= 1; tls++) {
        struct craft c;
        struct stun_msg m;
        uint16_t len;
        craft_binding_request(&c, false);
        struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
        req.stream = true;
        req.tls = tls;
        struct stun_reply r = handle(&cfg, &req, &m);
        uint32_t want = plain_300 | (tls ? BIT(STUN_A_ALTERNATE_DOMAIN) : 0);
        assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4, want);
        if (tls) {
            const uint8_t *domain = stun_msg_attr(&m, STUN_A_ALTERNATE_DOMAIN, &len);
            cr_assert_eq(len, 17);
            cr_assert_arr_eq(domain, "stun2.example.net", 17);
        }
    }
}

Test(redirect, shared_secret_over_tls_is_redirected_before_minting)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_start(&c, stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), false);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    req.stream = true;
    req.tls = true;
    struct stun_reply r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4, plain_300 | BIT(STUN_A_ALTERNATE_DOMAIN));
    cr_assert_eq(mints, 0, "nothing minted while draining");
}

Test(redirect, no_alternate_of_the_family_answers_normally)
{
    struct stun_handler_config cfg = config();
    memset(&cfg.alternate_server[1], 0, sizeof(cfg.alternate_server[1])); /* IPv4 only */
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &client6, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    cr_assert_eq(r.status, STUN_OK, "status %s", stun_status_name(r.status));
    cr_assert_eq(m.type, 0x0101, "a Binding Success Response");
    cr_assert_eq(r.code, 0);
}

Test(redirect, classic_request_is_answered_normally)
{
    const struct stun_handler_config cfg = config();
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, true);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_DRAINING);
    struct stun_reply r = handle(&cfg, &req, &m);
    cr_assert_eq(r.status, STUN_OK, "RFC 3489 has no 300: %s", stun_status_name(r.status));
    cr_assert(m.classic);
    cr_assert_eq(m.type, 0x0101);
    cr_assert_not(stun_msg_has(&m, STUN_A_ALTERNATE_SERVER));
}

Test(redirect, no_redirect_asked_answers_normally_on_the_fast_path_too)
{
    struct stun_handler_config cfg = config();
    cfg.auth = STUN_AUTH_NONE;
    static const struct stun_endpoints one = {
        .addr = {[STUN_EP_A1P1] = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 1}}},
    };
    struct craft c;
    struct stun_msg m;
    craft_binding_request(&c, false);
    struct stun_request req = request(&c, &client4, STUN_REDIRECT_NONE);
    req.eps = &one;
    req.local = &one.addr[STUN_EP_A1P1];
    struct stun_reply r = handle(&cfg, &req, &m);
    cr_assert_eq(r.status, STUN_OK);
    cr_assert_eq(m.present, BIT(STUN_A_XOR_MAPPED_ADDRESS));
    /* The bare request that takes the fast path is redirected all the same. */
    req.redirect = STUN_REDIRECT_DRAINING;
    r = handle(&cfg, &req, &m);
    assert_300(&req, &r, &m, STUN_REJECT_DRAINING, &alt4, plain_300);
}

Test(redirect, unauthenticated_300_fits_the_error_budget)
{
    struct stun_handler_config cfg = config();
    cfg.software = "stunring test";
    cfg.software_len = 13;
    for (int tls = 0; tls <= 1; tls++) {
        struct craft c;
        struct stun_msg m;
        craft_binding_request(&c, false);
        add_fingerprint(&c);
        struct stun_request req = request(&c, &client6, STUN_REDIRECT_DRAINING);
        req.stream = tls;
        req.tls = tls;
        struct stun_reply r = handle(&cfg, &req, &m);
        size_t budget = stun_answer_budget(&cfg, &req, STUN_ANSWER_ERROR);
        cr_assert_eq(r.status, STUN_REJECT_DRAINING);
        cr_assert_leq(r.len, budget, "a 300 of %zu bytes within its budget of %zu", r.len, budget);
    }
}
