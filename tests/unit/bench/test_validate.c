/*
 * The bench's response validator. Correct answers come from the server's
 * own policy (core/handler.c) so that the bench and the server are held
 * to the same RFC reading; every wrong answer (wrong id, type, mapped
 * address, source, transport, FINGERPRINT, MESSAGE-INTEGRITY of either
 * kind; duplicates; answers after the request was lost) must come out
 * invalid or stray, never valid, and the counts must always add up:
 * sent = valid + invalid + lost + redirected. long-term-auth learns its user from the
 * handler's own 401, as the bench does from stunringd's.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen/validate.h"
#include "core/handler.h"
#include "core/integrity.h"
#include "core/wire.h"
#include "core/writer.h"
#include "crypto/digest.h"
#include "tests/unit/endpoints.h"

enum {
    CAP = 64,
    SOCKET_ID = 7,
};

#define NONCE 0xC0FFEE11u
#define MS UINT64_C(1000000) /* ns */
#define TIMEOUT (1000 * MS)
#define T0 (5000 * MS)
#define WALL_MS UINT64_C(1700000000000) /* the handler's wall clock: nonce expiry */
#define NONCE_TTL_S 600

static const struct bench_endpoints ep = {
    .self_udp = {STUN_FAMILY_IPV4, 40000, {127, 0, 0, 1}},
    .self_tcp = {STUN_FAMILY_IPV4, 40001, {127, 0, 0, 1}},
    .self_tls = {STUN_FAMILY_IPV4, 40002, {127, 0, 0, 1}},
    .server = {STUN_FAMILY_IPV4, P1, {127, 0, 0, 1}},
    .server_tls = {STUN_FAMILY_IPV4, 5349, {127, 0, 0, 1}},
    .other = {STUN_FAMILY_IPV4, P2, {127, 0, 0, 2}},
    .has_other = true,
};

static struct bench_entry ring[CAP];
static struct bench_flow flow;
static struct bench_tally tally;

/* short-term-auth's credential, as if minted by stunringd (40 hex characters
 * and a 32-character PASSWORD whose bytes are the key). */
static const char USER[] = "661f3a00c0ffee11deadbeef020f2c7f00000100";
static const char PASSWORD[] = "00112233445566778899aabbccddeeff";
static struct bench_credential cred;

/* The handler's USERNAME lookup: USER alone is known, with PASSWORD's key. */
static enum stun_cred_result lookup(const void *ctx, const uint8_t *user, size_t len,
                                    uint64_t now_ms, struct stun_credential *out)
{
    (void)ctx;
    (void)now_ms;
    if (len != strlen(USER) || memcmp(user, USER, len) != 0)
        return STUN_CRED_UNKNOWN;
    memset(out, 0, sizeof(*out));
    crypto_hmac_key_init(&out->key, CRYPTO_HMAC_SHA1, PASSWORD, strlen(PASSWORD));
    return STUN_CRED_FOUND;
}

/* A long-term user of the handler (RFC 8489 §9.2), as stunringd --users
 * would hold it: per password algorithm, an HMAC-SHA1 and an HMAC-SHA256
 * key over H(user:realm:password). */
static const char LT_USER[] = "alice";
static const char LT_PASSWORD[] = "wonderland";
static const char REALM[] = "bench.test";
static struct crypto_hmac_key lt_keys[2][2]; /* [SHA-256 algorithm][HMAC-SHA256] */
static struct crypto_hmac_key nonce_key;
static struct bench_longterm lt, lt_md5;
static uint64_t wall_ms; /* the handler's clock; a test moves it past a nonce's life */

static bool user_keys(const void *ctx, const uint8_t *id, size_t len, bool by_hash, unsigned alg,
                      struct stun_user_keys *out)
{
    (void)ctx;
    if (by_hash || len != strlen(LT_USER) || memcmp(id, LT_USER, len) != 0)
        return false;
    unsigned a = alg == CRYPTO_PASSWORD_SHA256;
    out->integrity = &lt_keys[a][0];
    out->integrity_sha256 = &lt_keys[a][1];
    return true;
}

/* Where the handler's 300s send the bench (a draining server's
 * --alternate-server); redirecting: what try_exchange asks of it. */
static const struct stun_addr alternate = {STUN_FAMILY_IPV4, 3480, {127, 0, 0, 9}};
static enum stun_redirect redirecting;
/* The alternate itself as a server (one endpoint), and whether it is the
 * one that answers try_exchange's requests (a flow that followed). */
static const struct stun_endpoints alternate_eps = {
    .addr = {[STUN_EP_A1P1] = {STUN_FAMILY_IPV4, 3480, {127, 0, 0, 9}}},
};
static bool answered_by_alternate;

static struct stun_handler_config config = {
    .alternate_server = {{STUN_FAMILY_IPV4, 3480, {127, 0, 0, 9}}},
    .auth = STUN_AUTH_OPTIONAL,
    .lookup = lookup,
    .realm = REALM,
    .realm_len = sizeof(REALM) - 1,
    .user_keys = user_keys,
    .nonce_key = &nonce_key,
    .nonce_ttl_s = NONCE_TTL_S,
};

static void prepare_user(void)
{
    static const unsigned algs[2] = {CRYPTO_PASSWORD_MD5, CRYPTO_PASSWORD_SHA256};
    uint8_t key[CRYPTO_HMAC_MAX_LEN];
    for (unsigned a = 0; a < 2; a++) {
        int len = crypto_longterm_key(algs[a], LT_USER, strlen(LT_USER), REALM, strlen(REALM),
                                      LT_PASSWORD, strlen(LT_PASSWORD), key);
        cr_assert_gt(len, 0);
        crypto_hmac_key_init(&lt_keys[a][0], CRYPTO_HMAC_SHA1, key, (size_t)len);
        crypto_hmac_key_init(&lt_keys[a][1], CRYPTO_HMAC_SHA256, key, (size_t)len);
    }
    static const char secret[] = "nonce test key";
    crypto_hmac_key_init(&nonce_key, CRYPTO_HMAC_SHA256, secret, strlen(secret));
}

/* The handler's answer to a Binding Request without integrity, under
 * --auth required: the 401 challenge. Returns its length. */
static size_t challenge(uint8_t *out, size_t cap)
{
    static const uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    uint8_t req[STUN_HEADER_LEN];
    struct stun_writer w;
    stun_writer_start(&w, req, sizeof(req), 0x0001, id16);
    struct stun_request r = {
        .data = req,
        .len = stun_writer_finish(&w),
        .source = &ep.self_udp,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .now_ms = wall_ms,
    };
    struct stun_handler_config required = config;
    required.auth = STUN_AUTH_REQUIRED;
    struct stun_reply reply;
    stun_handle(&required, &r, out, cap, &reply);
    cr_assert_eq(reply.status, STUN_REJECT_LT_CHALLENGE);
    return reply.len;
}

static void learn(struct bench_longterm *out, unsigned alg)
{
    uint8_t ans[1024];
    size_t len = challenge(ans, sizeof(ans));
    const char *why = NULL;
    cr_assert_eq(bench_longterm_init(out, ans, len, alg, LT_USER, strlen(LT_USER), LT_PASSWORD,
                                     strlen(LT_PASSWORD), &why),
                 0, "%s", why ? why : "");
}

/* One request as sent, and the server's answer to it. */
struct exchange {
    uint8_t req[BENCH_REQUEST_MAX];
    size_t req_len;
    uint8_t ans[1024];
    size_t ans_len;
    struct stun_addr from; /* where the server sent it from */
    enum bench_via via;
};

static void setup(void)
{
    memset(&tally, 0, sizeof(tally));
    bench_flow_init(&flow, ring, CAP, SOCKET_ID, NONCE, TIMEOUT, &ep, &tally);
    flow.counting = true;
    cr_assert_eq(bench_credential_init(&cred, USER, strlen(USER), PASSWORD, strlen(PASSWORD)), 0);
    flow.cred = &cred;
    wall_ms = WALL_MS;
    redirecting = STUN_REDIRECT_NONE;
    answered_by_alternate = false;
    prepare_user();
    learn(&lt, CRYPTO_PASSWORD_SHA256);
    learn(&lt_md5, CRYPTO_PASSWORD_MD5);
    bench_flow_use_lt(&flow, &lt);
}

TestSuite(validate, .init = setup);

static void add_up(void)
{
    cr_assert_eq(tally.sent,
                 tally.valid + tally.invalid + tally.lost + tally.redirected + flow.outstanding,
                 "sent %llu, valid %llu invalid %llu lost %llu redirected %llu outstanding %u",
                 (unsigned long long)tally.sent, (unsigned long long)tally.valid,
                 (unsigned long long)tally.invalid, (unsigned long long)tally.lost,
                 (unsigned long long)tally.redirected, flow.outstanding);
}

/* Sends a request of kind at now and has stunring's handler answer it;
 * false when the flow's ring had no room. */
static bool try_exchange(struct exchange *x, enum bench_kind kind, uint64_t now)
{
    memset(x, 0, sizeof(*x));
    x->req_len = bench_flow_request(&flow, kind, now, x->req, sizeof(x->req));
    if (x->req_len == 0)
        return false;
    x->via = kind == BENCH_TCP ? BENCH_VIA_TCP : kind == BENCH_TLS ? BENCH_VIA_TLS : BENCH_VIA_UDP;
    bool tls = x->via == BENCH_VIA_TLS;
    struct stun_request r = {
        .data = x->req,
        .len = x->req_len,
        .source = tls                       ? &ep.self_tls
                  : x->via == BENCH_VIA_TCP ? &ep.self_tcp
                                            : &ep.self_udp,
        .local = tls ? &ep.server_tls : &four.addr[STUN_EP_A1P1], /* as io/front/tcp.c says */
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .stream = x->via != BENCH_VIA_UDP,
        .tls = tls,
        .now_ms = wall_ms,
        .redirect = redirecting,
    };
    struct stun_reply reply;
    struct stun_handler_config required = config; /* challenge: --auth required */
    required.auth = STUN_AUTH_REQUIRED;
    if (answered_by_alternate && x->via == BENCH_VIA_UDP) {
        r.eps = &alternate_eps;
        r.local = &alternate_eps.addr[STUN_EP_A1P1];
    }
    stun_handle(kind == BENCH_CHALLENGE ? &required : &config, &r, x->ans, sizeof(x->ans), &reply);
    enum stun_status want = redirecting != STUN_REDIRECT_NONE ? STUN_REJECT_DRAINING
                            : kind == BENCH_UNKNOWN_ATTR      ? STUN_REJECT_UNKNOWN_ATTR
                            : kind == BENCH_CHALLENGE         ? STUN_REJECT_LT_CHALLENGE
                                                              : STUN_OK;
    cr_assert_eq(reply.status, want, "the server answered a %s request with status %d",
                 bench_kind_name(kind), reply.status);
    cr_assert_gt(reply.len, 0);
    x->ans_len = reply.len;
    x->from = tls ? ep.server_tls : r.eps->addr[reply.from]; /* a stream's peer */
    return true;
}

static void exchange(struct exchange *x, enum bench_kind kind, uint64_t now)
{
    cr_assert(try_exchange(x, kind, now), "the request of kind %s was not written",
              bench_kind_name(kind));
}

static enum bench_verdict deliver(const struct exchange *x, uint64_t now, struct bench_answer *a)
{
    bench_flow_answer(&flow, x->ans, x->ans_len, &x->from, x->via, now, a);
    return a->verdict;
}

static void expect_invalid(const struct exchange *x, enum bench_invalid why)
{
    struct bench_answer a;
    uint64_t before = tally.why[why];
    cr_assert_eq(deliver(x, T0 + MS, &a), BENCH_INVALID, "want invalid (%s), got verdict %d",
                 bench_invalid_name(why), a.verdict);
    cr_assert_eq(a.why, why, "want reason %s, got %s", bench_invalid_name(why),
                 bench_invalid_name(a.why));
    cr_assert_eq(tally.why[why], before + 1);
    add_up();
}

/* Rewrites the answer's FINGERPRINT after an edit, so only the edit is wrong. */
static void refinger(struct exchange *x)
{
    struct stun_msg m;
    if (stun_msg_parse(&m, x->ans, x->ans_len) != STUN_OK || !stun_msg_has(&m, STUN_A_FINGERPRINT))
        return;
    uint32_t off = m.at[STUN_A_FINGERPRINT].off;
    wire_put32(x->ans + off, stun_fingerprint_compute(x->ans, off - 4));
}

/* ---- valid answers ---- */

Test(validate, every_kind_answered_by_the_server_is_valid)
{
    for (unsigned k = 0; k < BENCH_KIND_COUNT; k++) {
        /* change-request cycles through three flag sets: try each. */
        for (unsigned turn = 0; turn < (k == BENCH_CHANGE_REQUEST ? 3u : 1u); turn++) {
            struct exchange x;
            struct bench_answer a;
            exchange(&x, (enum bench_kind)k, T0);
            cr_assert_eq(deliver(&x, T0 + 250000, &a), BENCH_VALID, "%s: verdict %d reason %s",
                         bench_kind_name((enum bench_kind)k), a.verdict, bench_invalid_name(a.why));
            cr_assert_eq(a.kind, k);
            cr_assert(a.counted);
            cr_assert_eq(a.latency_ns, 250000);
        }
    }
    cr_assert_eq(tally.valid, BENCH_KIND_COUNT + 2);
    cr_assert_eq(tally.invalid + tally.stray + tally.lost, 0);
    cr_assert_eq(flow.outstanding, 0);
    add_up();
}

Test(validate, change_request_sources_follow_rfc3489_table1)
{
    struct stun_addr a = bench_changed_source(&ep, STUN_CHANGE_IP | STUN_CHANGE_PORT);
    cr_assert(stun_addr_equal(&a, &four.addr[STUN_EP_A2P2]));
    a = bench_changed_source(&ep, STUN_CHANGE_IP);
    cr_assert(stun_addr_equal(&a, &four.addr[STUN_EP_A2P1]));
    a = bench_changed_source(&ep, STUN_CHANGE_PORT);
    cr_assert(stun_addr_equal(&a, &four.addr[STUN_EP_A1P2]));
    a = bench_changed_source(&ep, 0);
    cr_assert(stun_addr_equal(&a, &four.addr[STUN_EP_A1P1]));
}

Test(validate, amplification_bytes_are_those_of_valid_exchanges)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_BINDING, T0);
    deliver(&x, T0 + MS, &a);
    cr_assert_eq(tally.request_bytes, 20);
    cr_assert_eq(tally.response_bytes, x.ans_len);
    exchange(&x, BENCH_BINDING, T0);
    x.ans[1] ^= 0x10; /* an error response: not counted in the bytes */
    deliver(&x, T0 + MS, &a);
    cr_assert_eq(tally.request_bytes, 20);
    cr_assert_eq(tally.response_bytes, x.ans_len);
}

/* ---- short-term-auth: MESSAGE-INTEGRITY under the minted credential ---- */

Test(validate, a_short_term_request_carries_username_integrity_and_fingerprint)
{
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct stun_msg m;
    uint16_t len = 0;
    cr_assert_eq(stun_msg_parse(&m, x.req, x.req_len), STUN_OK);
    cr_assert(!m.classic);
    const uint8_t *user = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    cr_assert(user != NULL && len == strlen(USER) && memcmp(user, USER, len) == 0);
    cr_assert_eq(stun_msg_verify_integrity(&m, &cred.key), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_FINGERPRINT));
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
}

Test(validate, each_short_term_request_is_signed_anew)
{
    /* The transaction id differs, so the MAC must too. */
    struct exchange x, y;
    exchange(&x, BENCH_SHORT_TERM, T0);
    exchange(&y, BENCH_SHORT_TERM, T0);
    cr_assert_eq(x.req_len, y.req_len);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, y.req, y.req_len), STUN_OK);
    uint32_t mi = m.at[STUN_A_MESSAGE_INTEGRITY].off;
    cr_assert_neq(memcmp(x.req + mi, y.req + mi, 20), 0);
    cr_assert_eq(stun_msg_verify_integrity(&m, &cred.key), STUN_OK);
}

Test(validate, a_signed_answer_is_valid)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY), "the server did not sign");
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
    cr_assert_eq(a.kind, BENCH_SHORT_TERM);
    cr_assert_eq(tally.valid, 1);
    add_up();
}

Test(validate, a_flipped_integrity_byte_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_MESSAGE_INTEGRITY].off + 7] ^= 0x01;
    refinger(&x); /* so that only the MAC is wrong */
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
}

Test(validate, a_signed_field_changed_after_signing_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_OTHER_ADDRESS));
    x.ans[m.at[STUN_A_OTHER_ADDRESS].off + 3] ^= 0x01; /* OTHER-ADDRESS port, signed */
    refinger(&x);
    /* The MAC fails before OTHER-ADDRESS is compared. */
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
}

/* A Binding success answer to x's request with XOR-MAPPED-ADDRESS, signed
 * with key (NULL: not signed), then FINGERPRINT. */
static void answer_signed_with(struct exchange *x, const struct crypto_hmac_key *key)
{
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x->req, x->req_len), STUN_OK);
    stun_writer_start_reply(&w, x->ans, sizeof(x->ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    if (key != NULL)
        stun_write_integrity(&w, key);
    stun_write_fingerprint(&w);
    x->ans_len = stun_writer_finish(&w);
    cr_assert_gt(x->ans_len, 0);
}

Test(validate, a_missing_integrity_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    answer_signed_with(&x, NULL);
    expect_invalid(&x, BENCH_NO_INTEGRITY);
}

Test(validate, integrity_under_another_key_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct crypto_hmac_key other;
    static const char wrong[] = "00112233445566778899aabbccddeefe"; /* one bit off */
    crypto_hmac_key_init(&other, CRYPTO_HMAC_SHA1, wrong, strlen(wrong));
    answer_signed_with(&x, &other);
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
    /* The same answer under the right key passes: only the key was wrong. */
    exchange(&x, BENCH_SHORT_TERM, T0);
    answer_signed_with(&x, &cred.key);
    struct bench_answer a;
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
}

Test(validate, an_unsigned_answer_to_a_plain_request_is_still_valid)
{
    /* Integrity is asked of short-term-auth answers only. */
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_FINGERPRINT, T0);
    answer_signed_with(&x, NULL);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
}

Test(validate, an_error_answer_to_a_short_term_request_is_invalid_by_type)
{
    /* What stunringd --auth required says to an unknown USERNAME: 401. */
    struct exchange x;
    exchange(&x, BENCH_SHORT_TERM, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0111, &req);
    stun_write_error(&w, 401, NULL);
    stun_write_fingerprint(&w);
    x.ans_len = stun_writer_finish(&w);
    expect_invalid(&x, BENCH_BAD_TYPE);
}

Test(validate, no_short_term_request_without_a_credential)
{
    uint8_t buf[BENCH_REQUEST_MAX];
    flow.cred = NULL;
    cr_assert_eq(bench_flow_request(&flow, BENCH_SHORT_TERM, T0, buf, sizeof(buf)), 0);
    cr_assert_eq(tally.sent, 0);
    cr_assert_eq(flow.outstanding, 0);
}

Test(validate, credential_limits)
{
    static char long_user[BENCH_USERNAME_MAX + 1];
    memset(long_user, 'a', sizeof(long_user));
    struct bench_credential c;
    cr_assert_eq(bench_credential_init(&c, long_user, sizeof(long_user), "k", 1), -1);
    cr_assert_eq(bench_credential_init(&c, long_user, 0, "k", 1), -1);
    cr_assert_eq(bench_credential_init(&c, "u", 1, "", 0), -1);
    cr_assert_eq(bench_credential_init(&c, long_user, BENCH_USERNAME_MAX, "k", 1), 0);
    /* The longest USERNAME still fits a request. */
    flow.cred = &c;
    uint8_t buf[BENCH_REQUEST_MAX];
    cr_assert_gt(bench_flow_request(&flow, BENCH_SHORT_TERM, T0, buf, sizeof(buf)), 0);
}

/* ---- long-term-auth: USERNAME, REALM, NONCE and the long-term key ---- */

/* The answer's integrity attribute, or fails the test. */
static uint32_t attr_off(const uint8_t *buf, size_t len, enum stun_attr_id id)
{
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, buf, len), STUN_OK);
    cr_assert(stun_msg_has(&m, id), "attribute %d missing", id);
    return m.at[id].off;
}

Test(validate, the_challenge_teaches_realm_nonce_and_algorithms)
{
    cr_assert_eq(lt.realm_len, strlen(REALM));
    cr_assert_eq(memcmp(lt.realm, REALM, lt.realm_len), 0);
    cr_assert_gt(lt.nonce_len, 0);
    cr_assert_eq(lt.algorithms_len, 8); /* SHA-256, MD5, no parameters */
    cr_assert_eq(lt.algorithm, CRYPTO_PASSWORD_SHA256);
    cr_assert_eq(crypto_hmac_len(&lt.key), CRYPTO_SHA256_LEN);
    cr_assert_eq(crypto_hmac_len(&lt_md5.key), CRYPTO_SHA1_LEN);
    cr_assert_eq(flow.lt_nonce_len, lt.nonce_len);
}

Test(validate, a_long_term_request_carries_the_long_term_attributes)
{
    struct exchange x;
    exchange(&x, BENCH_LONG_TERM, T0);
    struct stun_msg m;
    uint16_t len = 0;
    cr_assert_eq(stun_msg_parse(&m, x.req, x.req_len), STUN_OK);
    const uint8_t *v = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    cr_assert(v != NULL && len == strlen(LT_USER) && memcmp(v, LT_USER, len) == 0);
    v = stun_msg_attr(&m, STUN_A_REALM, &len);
    cr_assert(v != NULL && len == strlen(REALM) && memcmp(v, REALM, len) == 0);
    v = stun_msg_attr(&m, STUN_A_NONCE, &len);
    cr_assert(v != NULL && len == lt.nonce_len && memcmp(v, lt.nonce, len) == 0);
    v = stun_msg_attr(&m, STUN_A_PASSWORD_ALGORITHMS, &len);
    cr_assert(v != NULL && len == lt.algorithms_len && memcmp(v, lt.algorithms, len) == 0);
    v = stun_msg_attr(&m, STUN_A_PASSWORD_ALGORITHM, &len);
    cr_assert(v != NULL && len == 4 && wire_get32(v) == (uint32_t)CRYPTO_PASSWORD_SHA256 << 16);
    cr_assert(!stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &lt_keys[1][1]), STUN_OK);
    cr_assert_eq(stun_msg_check_fingerprint(&m), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_FINGERPRINT));
    cr_assert_leq(x.req_len, BENCH_REQUEST_MAX);
}

Test(validate, a_long_term_answer_under_the_right_key_is_valid)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_LONG_TERM, T0);
    attr_off(x.ans, x.ans_len, STUN_A_MESSAGE_INTEGRITY_SHA256); /* signed as asked */
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
    cr_assert_eq(a.kind, BENCH_LONG_TERM);
    add_up();
}

Test(validate, md5_signs_with_message_integrity_and_its_answer_is_valid)
{
    bench_flow_use_lt(&flow, &lt_md5);
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_LONG_TERM, T0);
    struct stun_msg m;
    uint16_t len = 0;
    cr_assert_eq(stun_msg_parse(&m, x.req, x.req_len), STUN_OK);
    const uint8_t *v = stun_msg_attr(&m, STUN_A_PASSWORD_ALGORITHM, &len);
    cr_assert(v != NULL && wire_get32(v) == (uint32_t)CRYPTO_PASSWORD_MD5 << 16);
    cr_assert(!stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY_SHA256));
    cr_assert_eq(stun_msg_verify_integrity(&m, &lt_keys[0][0]), STUN_OK);
    attr_off(x.ans, x.ans_len, STUN_A_MESSAGE_INTEGRITY);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
}

Test(validate, a_flipped_integrity_sha256_byte_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_LONG_TERM, T0);
    x.ans[attr_off(x.ans, x.ans_len, STUN_A_MESSAGE_INTEGRITY_SHA256) + 4 + 17] ^= 0x01;
    refinger(&x); /* so that only the MAC is wrong */
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
}

/* A Binding success answer to x's request, signed with key as MESSAGE-
 * INTEGRITY-SHA256 (sha256) or MESSAGE-INTEGRITY, or not (NULL), then FINGERPRINT. */
static void answer_long_term(struct exchange *x, const struct crypto_hmac_key *key, bool sha256)
{
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x->req, x->req_len), STUN_OK);
    stun_writer_start_reply(&w, x->ans, sizeof(x->ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    if (key != NULL && sha256)
        stun_write_integrity_sha256(&w, key);
    else if (key != NULL)
        stun_write_integrity(&w, key);
    stun_write_fingerprint(&w);
    x->ans_len = stun_writer_finish(&w);
    cr_assert_gt(x->ans_len, 0);
}

Test(validate, the_wrong_kind_of_integrity_is_invalid)
{
    struct exchange x;
    struct bench_answer a;
    /* SHA-256 asked, MESSAGE-INTEGRITY (right, under the SHA-1 MAC) given. */
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, &lt_keys[1][0], false);
    expect_invalid(&x, BENCH_WRONG_INTEGRITY);
    /* MD5 asked, MESSAGE-INTEGRITY-SHA256 given. */
    bench_flow_use_lt(&flow, &lt_md5);
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, &lt_keys[0][1], true);
    expect_invalid(&x, BENCH_WRONG_INTEGRITY);
    /* The helper signs correctly: the right kind passes. */
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, &lt_keys[0][0], false);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
}

Test(validate, a_long_term_answer_without_integrity_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, NULL, true);
    expect_invalid(&x, BENCH_NO_INTEGRITY);
}

Test(validate, a_long_term_answer_under_another_password_is_invalid)
{
    struct exchange x;
    struct bench_answer a;
    uint8_t key[CRYPTO_HMAC_MAX_LEN];
    struct crypto_hmac_key other;
    int len = crypto_longterm_key(CRYPTO_PASSWORD_SHA256, LT_USER, strlen(LT_USER), REALM,
                                  strlen(REALM), "wonderlanD", 10, key);
    crypto_hmac_key_init(&other, CRYPTO_HMAC_SHA256, key, (size_t)len);
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, &other, true);
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
    exchange(&x, BENCH_LONG_TERM, T0);
    answer_long_term(&x, &lt_keys[1][1], true);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
}

/* The handler's answer to x's request at the current wall_ms, whatever it is. */
static void answer_now(struct exchange *x)
{
    struct stun_request r = {
        .data = x->req,
        .len = x->req_len,
        .source = &ep.self_udp,
        .local = &four.addr[STUN_EP_A1P1],
        .arrived = STUN_EP_A1P1,
        .eps = &four,
        .now_ms = wall_ms,
    };
    struct stun_reply reply;
    stun_handle(&config, &r, x->ans, sizeof(x->ans), &reply);
    cr_assert_gt(reply.len, 0);
    x->ans_len = reply.len;
    x->from = four.addr[reply.from];
}

Test(validate, a_stale_nonce_is_invalid_and_the_fresh_one_taken)
{
    struct exchange x;
    struct bench_answer a;
    cr_assert(try_exchange(&x, BENCH_LONG_TERM, T0));
    wall_ms += (NONCE_TTL_S + 2) * UINT64_C(1000); /* the nonce has expired */
    answer_now(&x);
    uint16_t len = 0;
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    const uint8_t *fresh = stun_msg_attr(&m, STUN_A_NONCE, &len);
    cr_assert(fresh != NULL && len > 0);
    cr_assert_neq(memcmp(fresh, lt.nonce, len), 0);
    expect_invalid(&x, BENCH_STALE_NONCE);
    cr_assert_eq(flow.lt_nonce_len, len);
    cr_assert_eq(memcmp(flow.lt_nonce, fresh, len), 0, "the flow kept the stale nonce");
    /* The next request carries the fresh nonce, and the server takes it. */
    exchange(&x, BENCH_LONG_TERM, T0);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
    cr_assert_eq(tally.why[BENCH_STALE_NONCE], 1);
}

Test(validate, a_401_to_a_long_term_request_is_invalid_by_type_and_keeps_the_nonce)
{
    /* A wrong password: the server answers 401 (with a fresh challenge). */
    struct bench_longterm wrong;
    uint8_t ans[1024];
    size_t len = challenge(ans, sizeof(ans));
    const char *why = NULL;
    cr_assert_eq(bench_longterm_init(&wrong, ans, len, CRYPTO_PASSWORD_SHA256, LT_USER,
                                     strlen(LT_USER), "nope", 4, &why),
                 0);
    bench_flow_use_lt(&flow, &wrong);
    struct exchange x;
    cr_assert_gt(x.req_len = bench_flow_request(&flow, BENCH_LONG_TERM, T0, x.req, sizeof(x.req)),
                 0);
    x.via = BENCH_VIA_UDP;
    answer_now(&x);
    expect_invalid(&x, BENCH_BAD_TYPE);
    cr_assert_eq(memcmp(flow.lt_nonce, wrong.nonce, wrong.nonce_len), 0);
}

/* A 401 naming only the algorithms of list (len bytes; 0: no PASSWORD-ALGORITHMS). */
static size_t challenge_offering(uint8_t *out, size_t cap, const uint8_t *list, size_t len)
{
    static const uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42, 1};
    struct stun_writer w;
    stun_writer_start(&w, out, cap, 0x0111, id16);
    stun_write_error(&w, 401, NULL);
    stun_write_text(&w, STUN_ATTR_REALM, REALM, strlen(REALM));
    stun_write_text(&w, STUN_ATTR_NONCE, "abcd", 4);
    if (len > 0)
        stun_write_bytes(&w, STUN_ATTR_PASSWORD_ALGORITHMS, list, len);
    return stun_writer_finish(&w);
}

Test(validate, a_challenge_must_offer_the_algorithm)
{
    static const uint8_t md5_only[4] = {0, CRYPTO_PASSWORD_MD5, 0, 0};
    static const uint8_t sha256_params[8] = {0, CRYPTO_PASSWORD_SHA256, 0, 1, 7, 0, 0, 0};
    uint8_t ans[256];
    struct bench_longterm l;
    const char *why = NULL;
    size_t len = challenge_offering(ans, sizeof(ans), md5_only, sizeof(md5_only));
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_SHA256, "u", 1, "p", 1, &why),
                 -1);
    cr_assert_not_null(why);
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_MD5, "u", 1, "p", 1, &why), 0);
    len = challenge_offering(ans, sizeof(ans), sha256_params, sizeof(sha256_params));
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_SHA256, "u", 1, "p", 1, &why),
                 -1, "an entry with parameters is not ours to pick");
    /* No PASSWORD-ALGORITHMS (an RFC 5389 server): MD5, and neither attribute sent. */
    len = challenge_offering(ans, sizeof(ans), NULL, 0);
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_SHA256, "u", 1, "p", 1, &why),
                 -1);
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_MD5, "u", 1, "p", 1, &why), 0);
    cr_assert_eq(l.algorithms_len, 0);
    bench_flow_use_lt(&flow, &l);
    uint8_t req[BENCH_REQUEST_MAX];
    size_t req_len = bench_flow_request(&flow, BENCH_LONG_TERM, T0, req, sizeof(req));
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, req, req_len), STUN_OK);
    cr_assert(!stun_msg_has(&m, STUN_A_PASSWORD_ALGORITHMS));
    cr_assert(!stun_msg_has(&m, STUN_A_PASSWORD_ALGORITHM));
    cr_assert(stun_msg_has(&m, STUN_A_MESSAGE_INTEGRITY));
}

Test(validate, a_challenge_that_is_not_one_is_refused)
{
    struct exchange x;
    struct bench_longterm l;
    const char *why = NULL;
    exchange(&x, BENCH_BINDING, T0); /* a success answer */
    cr_assert_eq(
        bench_longterm_init(&l, x.ans, x.ans_len, CRYPTO_PASSWORD_SHA256, "u", 1, "p", 1, &why),
        -1);
    uint8_t ans[1024];
    size_t len = challenge(ans, sizeof(ans));
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_SHA256, "", 0, "p", 1, &why),
                 -1);
    cr_assert_eq(bench_longterm_init(&l, ans, len, CRYPTO_PASSWORD_SHA256, "u", 1, "", 0, &why),
                 -1);
    cr_assert_eq(bench_longterm_init(&l, ans, len, 3, "u", 1, "p", 1, &why), -1);
}

Test(validate, no_long_term_request_without_a_user)
{
    uint8_t buf[BENCH_REQUEST_MAX];
    flow.lt = NULL;
    cr_assert_eq(bench_flow_request(&flow, BENCH_LONG_TERM, T0, buf, sizeof(buf)), 0);
    cr_assert_eq(tally.sent, 0);
}

Test(validate, the_longest_long_term_request_fits)
{
    static char long_user[BENCH_USERNAME_MAX];
    memset(long_user, 'u', sizeof(long_user));
    struct bench_longterm l = lt;
    memcpy(l.username, long_user, sizeof(long_user));
    l.username_len = sizeof(long_user);
    memset(l.realm, 'r', BENCH_REALM_MAX);
    l.realm_len = BENCH_REALM_MAX;
    memset(l.nonce, 'n', BENCH_NONCE_MAX);
    l.nonce_len = BENCH_NONCE_MAX;
    bench_flow_use_lt(&flow, &l);
    uint8_t buf[BENCH_REQUEST_MAX];
    cr_assert_gt(bench_flow_request(&flow, BENCH_LONG_TERM, T0, buf, sizeof(buf)), 0);
}

/* ---- tls: the TLS connection's own address, from the TLS endpoint ---- */

Test(validate, a_tls_answer_must_map_the_tls_connections_address)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_TLS, T0);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
    exchange(&x, BENCH_TLS, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_tcp); /* the TCP one */
    x.ans_len = stun_writer_finish(&w);
    expect_invalid(&x, BENCH_BAD_MAPPED);
}

Test(validate, a_tls_answer_must_come_from_the_tls_endpoint)
{
    struct exchange x;
    exchange(&x, BENCH_TLS, T0);
    x.from = ep.server; /* the primary port, not --tls-port */
    expect_invalid(&x, BENCH_BAD_SOURCE);
}

/* ---- strays: the id matches nothing outstanding ---- */

static void expect_stray(const uint8_t *buf, size_t len, const struct stun_addr *from,
                         enum bench_via via)
{
    struct bench_answer a;
    uint64_t strays = tally.stray, outstanding = flow.outstanding;
    bench_flow_answer(&flow, buf, len, from, via, T0 + MS, &a);
    cr_assert_eq(a.verdict, BENCH_STRAY, "got verdict %d", a.verdict);
    cr_assert_eq(tally.stray, strays + 1);
    cr_assert_eq(flow.outstanding, outstanding, "a stray must not consume a request");
    add_up();
}

Test(validate, wrong_ids_are_stray)
{
    static const unsigned offsets[] = {4, 7, 8, 11, 12, 15, 16, 19};
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        struct exchange y = x;
        y.ans[offsets[i]] ^= 0x01; /* cookie, socket id, sequence, nonce */
        expect_stray(y.ans, y.ans_len, &y.from, BENCH_VIA_UDP);
    }
    struct bench_answer a;
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "the request was still outstanding");
}

Test(validate, a_classic_answer_to_a_modern_request_is_stray)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    wire_put32(x.ans + 4, BENCH_CLASSIC_TAG); /* same socket, sequence, nonce */
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
    struct exchange c;
    exchange(&c, BENCH_CLASSIC, T0);
    wire_put32(c.ans + 4, STUN_MAGIC_COOKIE);
    expect_stray(c.ans, c.ans_len, &c.from, BENCH_VIA_UDP);
}

Test(validate, another_sockets_answer_is_stray)
{
    static struct bench_entry ring2[CAP];
    static struct bench_tally tally2;
    struct bench_flow other;
    bench_flow_init(&other, ring2, CAP, SOCKET_ID + 1, NONCE, TIMEOUT, &ep, &tally2);
    other.counting = true;
    uint8_t req[BENCH_REQUEST_MAX];
    cr_assert_gt(bench_flow_request(&other, BENCH_BINDING, T0, req, sizeof(req)), 0);
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0); /* the same sequence 0 on our flow */
    memcpy(x.ans + 8, req + 8, 12);  /* the other flow's id */
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
    cr_assert_eq(other.outstanding, 1);
}

Test(validate, short_datagrams_are_stray)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    for (size_t len = 0; len < 20; len++)
        expect_stray(x.ans, len, &x.from, BENCH_VIA_UDP);
}

Test(validate, a_duplicate_is_stray)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_FINGERPRINT, T0);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID);
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
    cr_assert_eq(tally.valid, 1);
}

Test(validate, a_duplicate_of_an_invalid_answer_is_stray)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    x.ans[1] ^= 0x10;
    expect_invalid(&x, BENCH_BAD_TYPE);
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
}

/* A lost request's answer is late, once; a second copy of it is a stray. */
Test(validate, an_answer_after_expiry_is_late_and_the_request_lost)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_BINDING, T0);
    cr_assert_eq(bench_flow_expire(&flow, T0 + TIMEOUT - 1), 0, "not yet");
    cr_assert_eq(bench_flow_expire(&flow, T0 + TIMEOUT), 1);
    cr_assert_eq(tally.lost, 1);
    cr_assert_eq(deliver(&x, T0 + TIMEOUT + MS, &a), BENCH_LATE);
    cr_assert_eq(tally.late, 1);
    cr_assert_eq(tally.stray, 0, "late is not stray");
    cr_assert_eq(tally.valid, 0);
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP);
    cr_assert_eq(tally.late, 1);
}

Test(validate, a_late_answer_before_any_scan_is_late_and_the_request_lost)
{
    struct exchange x;
    struct bench_answer a;
    exchange(&x, BENCH_BINDING, T0);
    cr_assert_eq(deliver(&x, T0 + TIMEOUT, &a), BENCH_LATE);
    cr_assert_eq(tally.lost, 1);
    cr_assert_eq(tally.late, 1);
    cr_assert_eq(tally.stray, 0);
    cr_assert_eq(tally.valid, 0);
    cr_assert_eq(flow.outstanding, 0);
    add_up();
}

/* A bench thread starved past the timeout across the warm-up's end: its
 * uncounted requests are lost uncounted, and their answers, arriving while
 * the flow counts, are neither late (uncounted) nor strays. */
Test(validate, a_warm_up_request_answered_after_its_timeout_is_no_stray)
{
    struct exchange x;
    struct bench_answer a;
    flow.counting = false;
    exchange(&x, BENCH_BINDING, T0);
    flow.counting = true;
    cr_assert_eq(bench_flow_expire(&flow, T0 + TIMEOUT), 1);
    cr_assert_eq(deliver(&x, T0 + TIMEOUT + MS, &a), BENCH_LATE);
    cr_assert_eq(tally.lost + tally.late + tally.stray, 0, "nothing counted");
}

Test(validate, an_answer_to_a_slot_reused_by_a_newer_request_is_stray)
{
    struct exchange old, x;
    struct bench_answer a;
    exchange(&old, BENCH_BINDING, T0);
    for (unsigned i = 1; i < CAP; i++) {
        exchange(&x, BENCH_BINDING, T0);
        cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID);
    }
    /* Sequence CAP wants the slot of sequence 0, still young: refused. */
    uint8_t req[BENCH_REQUEST_MAX];
    cr_assert_eq(bench_flow_request(&flow, BENCH_BINDING, T0 + MS, req, sizeof(req)), 0);
    /* Once 0 is past the timeout it is lost and the slot reused. */
    cr_assert_gt(bench_flow_request(&flow, BENCH_BINDING, T0 + TIMEOUT, req, sizeof(req)), 0);
    cr_assert_eq(tally.lost, 1);
    expect_stray(old.ans, old.ans_len, &old.from, BENCH_VIA_UDP);
    add_up();
}

/* ---- invalid: matched, consumed, and wrong ---- */

Test(validate, an_error_response_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    x.ans[1] = 0x11; /* Binding error response */
    expect_invalid(&x, BENCH_BAD_TYPE);
}

Test(validate, a_request_type_echoed_back_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_FINGERPRINT, T0);
    x.ans[0] = 0x00;
    x.ans[1] = 0x01; /* a Binding Request, not its answer */
    refinger(&x);
    expect_invalid(&x, BENCH_BAD_TYPE);
}

Test(validate, a_wrong_mapped_port_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_XOR_MAPPED_ADDRESS].off + 3] ^= 0x01;
    expect_invalid(&x, BENCH_BAD_MAPPED);
}

Test(validate, a_wrong_mapped_ip_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_CLASSIC, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    cr_assert(m.classic);
    x.ans[m.at[STUN_A_MAPPED_ADDRESS].off + 7] ^= 0x01; /* MAPPED-ADDRESS 127.0.0.0 */
    expect_invalid(&x, BENCH_BAD_MAPPED);
}

Test(validate, the_tcp_connections_address_is_not_the_udp_sockets)
{
    /* A TCP answer reflecting the UDP socket's port is wrong. */
    struct exchange x;
    exchange(&x, BENCH_TCP, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    x.ans_len = stun_writer_finish(&w);
    expect_invalid(&x, BENCH_BAD_MAPPED);
}

Test(validate, a_missing_mapped_address_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_addr(&w, STUN_ATTR_MAPPED_ADDRESS, &ep.self_udp); /* not the XOR form */
    x.ans_len = stun_writer_finish(&w);
    expect_invalid(&x, BENCH_NO_MAPPED);
}

Test(validate, a_bad_fingerprint_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_FINGERPRINT, T0);
    x.ans[x.ans_len - 1] ^= 0x01;
    expect_invalid(&x, BENCH_BAD_FINGERPRINT);
}

Test(validate, a_bad_fingerprint_nobody_asked_for_is_still_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    stun_write_fingerprint(&w);
    x.ans_len = stun_writer_finish(&w);
    x.ans[x.ans_len - 2] ^= 0x40;
    expect_invalid(&x, BENCH_BAD_FINGERPRINT);
}

Test(validate, a_missing_fingerprint_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_FINGERPRINT, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    x.ans_len = stun_writer_finish(&w); /* everything right but the FINGERPRINT */
    expect_invalid(&x, BENCH_NO_FINGERPRINT);
}

Test(validate, a_change_request_answered_from_the_wrong_endpoint_is_invalid)
{
    for (unsigned turn = 0; turn < 3; turn++) {
        struct exchange x;
        exchange(&x, BENCH_CHANGE_REQUEST, T0);
        x.from = ep.server; /* answered from where it was sent: CHANGE-REQUEST ignored */
        expect_invalid(&x, BENCH_BAD_SOURCE);
    }
    struct exchange x;
    exchange(&x, BENCH_CHANGE_REQUEST, T0); /* sequence 3: IP and port */
    x.from = four.addr[STUN_EP_A2P1];       /* only the IP changed */
    expect_invalid(&x, BENCH_BAD_SOURCE);
}

Test(validate, a_plain_answer_from_another_endpoint_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    x.from = four.addr[STUN_EP_A2P2];
    expect_invalid(&x, BENCH_BAD_SOURCE);
}

Test(validate, a_response_origin_that_is_not_the_source_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_CHANGE_REQUEST, T0);
    struct stun_writer w;
    struct stun_msg req;
    cr_assert_eq(stun_msg_parse(&req, x.req, x.req_len), STUN_OK);
    stun_writer_start_reply(&w, x.ans, sizeof(x.ans), 0x0101, &req);
    stun_write_xor_addr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, &ep.self_udp);
    stun_write_addr(&w, STUN_ATTR_RESPONSE_ORIGIN, &ep.server); /* but sent from A2P2 */
    x.ans_len = stun_writer_finish(&w);
    expect_invalid(&x, BENCH_BAD_ORIGIN);
}

Test(validate, a_wrong_other_address_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_CLASSIC, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_CHANGED_ADDRESS].off + 3] ^= 0x01; /* CHANGED-ADDRESS port */
    expect_invalid(&x, BENCH_BAD_OTHER);
    exchange(&x, BENCH_BINDING, T0);
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_OTHER_ADDRESS].off + 7] ^= 0x03; /* OTHER-ADDRESS 127.0.0.1 */
    expect_invalid(&x, BENCH_BAD_OTHER);
}

Test(validate, the_wrong_transport_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    x.via = BENCH_VIA_TCP;
    expect_invalid(&x, BENCH_BAD_TRANSPORT);
    exchange(&x, BENCH_TCP, T0);
    x.via = BENCH_VIA_UDP;
    expect_invalid(&x, BENCH_BAD_TRANSPORT);
    exchange(&x, BENCH_TLS, T0);
    x.via = BENCH_VIA_TCP; /* a TLS request answered on the plain TCP stream */
    expect_invalid(&x, BENCH_BAD_TRANSPORT);
    exchange(&x, BENCH_TCP, T0);
    x.via = BENCH_VIA_TLS;
    expect_invalid(&x, BENCH_BAD_TRANSPORT);
}

Test(validate, a_malformed_answer_with_a_matching_id_is_invalid)
{
    struct exchange x;
    exchange(&x, BENCH_BINDING, T0);
    x.ans_len -= 4; /* the length field now lies */
    expect_invalid(&x, BENCH_BAD_MESSAGE);
    exchange(&x, BENCH_BINDING, T0);
    x.ans[0] |= 0xC0; /* not STUN */
    expect_invalid(&x, BENCH_BAD_MESSAGE);
}

/* ---- bookkeeping ---- */

Test(validate, requests_before_counting_are_not_counted)
{
    struct exchange x;
    struct bench_answer a;
    flow.counting = false;
    exchange(&x, BENCH_BINDING, T0);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID);
    cr_assert(!a.counted);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_STRAY); /* a duplicate during warm-up */
    exchange(&x, BENCH_BINDING, T0);
    flow.counting = true; /* warm-up ends with it outstanding */
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID);
    cr_assert(!a.counted);
    cr_assert_eq(tally.sent + tally.valid + tally.invalid + tally.lost + tally.stray, 0);
    expect_stray(x.ans, x.ans_len, &x.from, BENCH_VIA_UDP); /* strays count on arrival */
}

Test(validate, unsend_takes_back_the_latest_requests)
{
    uint8_t req[BENCH_REQUEST_MAX];
    for (int i = 0; i < 5; i++)
        cr_assert_gt(bench_flow_request(&flow, BENCH_BINDING, T0, req, sizeof(req)), 0);
    bench_flow_unsend(&flow, 2);
    cr_assert_eq(tally.sent, 3);
    cr_assert_eq(flow.outstanding, 3);
    cr_assert_eq(flow.next_seq, 3);
    add_up();
    cr_assert_eq(bench_flow_abandon(&flow), 3);
    cr_assert_eq(tally.lost, 3);
    add_up();
}

Test(validate, expiry_walks_in_send_order)
{
    uint8_t req[BENCH_REQUEST_MAX];
    for (uint64_t i = 0; i < 10; i++)
        cr_assert_gt(bench_flow_request(&flow, BENCH_BINDING, T0 + i * MS, req, sizeof(req)), 0);
    cr_assert_eq(bench_flow_expire(&flow, T0 + TIMEOUT + 4 * MS), 5);
    cr_assert_eq(flow.outstanding, 5);
    cr_assert_eq(bench_flow_expire(&flow, T0 + TIMEOUT + 4 * MS), 0);
    cr_assert_eq(bench_flow_abandon(&flow), 5);
    cr_assert_eq(tally.lost, 10);
    add_up();
}

/* Random traffic: sends, right and wrong answers, duplicates, delays and
 * expiry. Nothing corrupted may ever count valid; the sums must hold. */
Test(validate, random_traffic_adds_up_and_never_passes_a_wrong_answer)
{
    enum { ROUNDS = 20000, HELD = 48 };
    static struct exchange held[HELD];
    unsigned seed = 99, n_held = 0;
    uint64_t now = T0, valid = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        now += (uint64_t)(rand_r(&seed) % 4) * MS * 4;
        unsigned op = (unsigned)rand_r(&seed) % 10;
        if (op < 4 && n_held < HELD && flow.outstanding < CAP / 2) {
            /* The success kinds: an error answer is checked for its code
             * and attributes only (it is there for the amplification). */
            enum bench_kind k = (enum bench_kind)(rand_r(&seed) % BENCH_UNKNOWN_ATTR);
            n_held += try_exchange(&held[n_held], k, now);
        } else if (op < 9 && n_held > 0) {
            unsigned j = (unsigned)rand_r(&seed) % n_held;
            struct exchange x = held[j];
            unsigned damage = (unsigned)rand_r(&seed) % 8;
            if (damage == 1)
                x.ans[x.ans_len - 1] ^= 0x08;
            else if (damage == 2)
                x.from.port ^= 1;
            else if (damage == 3) /* the nonce: another run's answer */
                x.ans[16 + rand_r(&seed) % 4] ^= 0x20;
            else if (damage == 4)
                x.via = x.via == BENCH_VIA_UDP ? BENCH_VIA_TCP : BENCH_VIA_UDP;
            struct bench_answer a;
            deliver(&x, now, &a);
            if (damage >= 1 && damage <= 4)
                cr_assert_neq(a.verdict, BENCH_VALID, "damage %u passed", damage);
            valid += a.verdict == BENCH_VALID;
            if ((unsigned)rand_r(&seed) % 4 != 0) /* keep some for duplicates */
                held[j] = held[--n_held];
        } else {
            bench_flow_expire(&flow, now);
        }
        add_up();
    }
    bench_flow_abandon(&flow);
    cr_log_info("random traffic: sent %llu valid %llu invalid %llu lost %llu stray %llu",
                (unsigned long long)tally.sent, (unsigned long long)tally.valid,
                (unsigned long long)tally.invalid, (unsigned long long)tally.lost,
                (unsigned long long)tally.stray);
    cr_assert_eq(flow.outstanding, 0);
    cr_assert_eq(tally.sent, tally.valid + tally.invalid + tally.lost);
    cr_assert_eq(tally.valid, valid);
    cr_assert_gt(tally.valid, 1000);
    cr_assert_gt(tally.invalid, 100);
    cr_assert_gt(tally.stray, 100);
    cr_assert_gt(tally.lost, 10);
}

/* ---- the error kinds: the error asked for, nothing else ---- */

static void expect_valid(const struct exchange *x)
{
    struct bench_answer a;
    cr_assert_eq(deliver(x, T0 + MS, &a), BENCH_VALID, "verdict %d reason %s", a.verdict,
                 bench_invalid_name(a.why));
}

Test(validate, error_kinds_want_their_error)
{
    struct exchange x, other;
    exchange(&x, BENCH_UNKNOWN_ATTR, T0);
    cr_assert_eq(x.req_len, 24, "20 + one empty attribute");
    expect_valid(&x);
    exchange(&x, BENCH_CHALLENGE, T0);
    expect_valid(&x);
    /* A success answer, or another error, to either is invalid. */
    exchange(&other, BENCH_BINDING, T0);
    exchange(&x, BENCH_UNKNOWN_ATTR, T0);
    memcpy(x.ans + 20, other.ans + 20, other.ans_len - 20);
    memcpy(x.ans, other.ans, 4);
    x.ans_len = other.ans_len;
    expect_invalid(&x, BENCH_BAD_TYPE);
    exchange(&x, BENCH_CHALLENGE, T0);
    struct stun_msg m;
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_ERROR_CODE].off + 3] = 0; /* 401 -> 400 */
    expect_invalid(&x, BENCH_BAD_TYPE);
}

/* ---- 300 Try Alternate: redirected, and --follow-alternate ---- */

static void expect_redirected(const struct exchange *x)
{
    struct bench_answer a;
    uint64_t before = tally.redirected;
    cr_assert_eq(deliver(x, T0 + MS, &a), BENCH_REDIRECTED, "verdict %d, reason %s", a.verdict,
                 bench_invalid_name(a.why));
    cr_assert(stun_addr_equal(&a.alternate, &alternate), "the ALTERNATE-SERVER is passed on");
    cr_assert_eq(tally.redirected, before + 1);
    cr_assert_eq(tally.invalid, 0, "a 300 is not invalid");
    add_up();
}

Test(validate, a_300_naming_an_alternate_is_redirected_for_every_udp_and_stream_kind)
{
    static const enum bench_kind kinds[] = {BENCH_BINDING,     BENCH_FINGERPRINT, BENCH_TCP,
                                            BENCH_SHORT_TERM,  BENCH_LONG_TERM,   BENCH_TLS,
                                            BENCH_UNKNOWN_ATTR};
    redirecting = STUN_REDIRECT_DRAINING;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct exchange x;
        exchange(&x, kinds[i], T0);
        expect_redirected(&x);
    }
    cr_assert_eq(tally.valid, 0);
}

Test(validate, a_300_without_alternate_server_is_invalid)
{
    struct exchange x;
    struct stun_msg m;
    redirecting = STUN_REDIRECT_DRAINING;
    exchange(&x, BENCH_FINGERPRINT, T0);
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    cr_assert(stun_msg_has(&m, STUN_A_ALTERNATE_SERVER));
    wire_put16(x.ans + m.at[STUN_A_ALTERNATE_SERVER].off - 4, 0x8030); /* an unknown optional */
    refinger(&x);
    expect_invalid(&x, BENCH_BAD_TYPE);
}

Test(validate, a_300_with_a_bad_fingerprint_is_invalid)
{
    struct exchange x;
    redirecting = STUN_REDIRECT_DRAINING;
    exchange(&x, BENCH_FINGERPRINT, T0);
    x.ans[x.ans_len - 1] ^= 1;
    expect_invalid(&x, BENCH_BAD_FINGERPRINT);
}

Test(validate, a_300_to_a_signed_request_must_be_signed_with_its_key)
{
    struct exchange x;
    struct stun_msg m;
    redirecting = STUN_REDIRECT_DRAINING;
    exchange(&x, BENCH_SHORT_TERM, T0);
    cr_assert_eq(stun_msg_parse(&m, x.ans, x.ans_len), STUN_OK);
    x.ans[m.at[STUN_A_MESSAGE_INTEGRITY].off] ^= 1;
    refinger(&x);
    expect_invalid(&x, BENCH_BAD_INTEGRITY);
}

Test(validate, a_300_from_elsewhere_is_invalid)
{
    struct exchange x;
    redirecting = STUN_REDIRECT_DRAINING;
    exchange(&x, BENCH_BINDING, T0);
    x.from = alternate; /* not where it was sent, and not followed */
    expect_invalid(&x, BENCH_BAD_SOURCE);
}

Test(validate, following_counts_the_alternates_answers_valid_and_followed)
{
    struct exchange x;
    struct bench_answer a;
    static const struct stun_addr v6 = {STUN_FAMILY_IPV6, 3480, {[15] = 1}};
    cr_assert_not(bench_flow_follow(&flow, &v6), "not the UDP socket's family");
    cr_assert(bench_flow_follow(&flow, &alternate));
    cr_assert_not(bench_flow_follow(&flow, &alternate), "once per flow");
    /* Answered by the alternate (a 300 too, while it drains): both good. */
    answered_by_alternate = true;
    exchange(&x, BENCH_BINDING, T0);
    cr_assert(stun_addr_equal(&x.from, &alternate));
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID, "reason %s", bench_invalid_name(a.why));
    cr_assert_eq(tally.followed, 1);
    redirecting = STUN_REDIRECT_DRAINING;
    exchange(&x, BENCH_BINDING, T0);
    expect_redirected(&x);
    /* An answer still due from the first server is valid, not followed. */
    redirecting = STUN_REDIRECT_NONE;
    answered_by_alternate = false;
    exchange(&x, BENCH_BINDING, T0);
    cr_assert_eq(deliver(&x, T0 + MS, &a), BENCH_VALID);
    cr_assert_eq(tally.followed, 1);
    cr_assert_eq(tally.valid, 2);
    /* Streams stay with the first server: TCP from the alternate is not. */
    exchange(&x, BENCH_TCP, T0);
    x.from = alternate;
    expect_invalid(&x, BENCH_BAD_SOURCE);
}
