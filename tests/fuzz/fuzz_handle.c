/*
 * Whole-handler fuzzer: stun_handle() under every configuration the two
 * control bytes select, on a message whose NONCE, MESSAGE-INTEGRITY,
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are recomputed so that the
 * authenticated paths (short-term over a fake credential table, long-term
 * over a fake user table, RESPONSE-ADDRESS on) are reached. Asserted after
 * every call:
 *   - every answer parses as STUN and fits the buffer;
 *   - an answer leaves for an IP other than the source's only when the
 *     request authenticated and the destination policy allows that IP;
 *   - an unauthenticated request's answer fits stun_answer_budget() for
 *     its kind (an authenticated one: that plus REFLECTED-FROM and
 *     MESSAGE-INTEGRITY-SHA256).
 *
 * Input: byte 0 and byte 1 select the configuration (see struct setup),
 * the rest is the datagram. The seeds are written by
 * `fuzz_seed_corpus --handle DIR`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/handler.h"
#include "core/integrity.h"
#include "core/nonce.h"
#include "crypto/digest.h"
#include "tests/fuzz/fuzz.h"
#include "tests/support/rebuild.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

enum {
    CONTROL_LEN = 2,
    OUT_CAP = 2048,                /* what io/ gives the handler (TX_BUF_SIZE) */
    AUTHENTICATED_EXTRA = 24 + 36, /* REFLECTED-FROM (IPv6), MESSAGE-INTEGRITY-SHA256 */
    NOW_S = 1700000000,
    NONCE_TTL_S = 600,
};

#define REALM "fuzz.example"

/* Byte 0. */
enum {
    C0_AUTH = 3,       /* 0 none, 1 optional, 2-3 required; 3 also redirects (drain) */
    C0_REALM = 1 << 2, /* long-term credentials configured */
    C0_RESPONSE_ADDR = 1 << 3,
    C0_ALTERNATE = 1 << 4, /* four endpoints, else one */
    C0_IPV6 = 1 << 5,      /* source, endpoints and arrival are IPv6 */
    C0_STREAM = 1 << 6,
    C0_TLS = 1 << 7, /* with C0_STREAM: Shared Secret Requests are minted */
};
/* Byte 1. */
enum {
    C1_SOFTWARE = 1 << 0,
    C1_ALLOW_LOOPBACK = 1 << 1, /* --allow-peer 127.0.0.0/8 and ::1 */
    C1_WRONG_KEY = 1 << 2,      /* sign with a key no table holds */
    C1_STALE_NONCE = 1 << 3,
    C1_NONCE_NO_FEATURES = 1 << 4,
    C1_RAW = 1 << 5,     /* recompute nothing: the input as it came */
    C1_ARRIVED = 3 << 6, /* endpoint it arrived on, with C0_ALTERNATE */
};

static const struct stun_addr client4 = {STUN_FAMILY_IPV4, 40000, {192, 0, 2, 7}};
static const struct stun_addr client6 = {
    STUN_FAMILY_IPV6, 40000, {0x20, 0x01, 0x0d, 0xb8, [15] = 7}};

static struct stun_endpoints four4, one4, four6, one6;
static struct stun_dest_policy policy_default, policy_loopback;
static struct crypto_hmac_key short_key, lt_keys[2][2], wrong_sha1, wrong_sha256, nonce_key;

static void endpoints(struct stun_endpoints *eps, const uint8_t *a1, const uint8_t *a2,
                      uint8_t family, bool alternate)
{
    memset(eps, 0, sizeof(*eps));
    eps->alternate = alternate;
    for (unsigned ep = 0; ep < STUN_EP_COUNT; ep++) {
        eps->addr[ep].family = family;
        eps->addr[ep].port = (ep & STUN_EP_ALT_PORT) ? 3479 : 3478;
        memcpy(eps->addr[ep].ip, (ep & STUN_EP_ALT_ADDRESS) ? a2 : a1, 16);
    }
}

static void policy(struct stun_dest_policy *p, bool allow_loopback)
{
    struct stun_cidr net;
    const struct stun_addr deny = {STUN_FAMILY_IPV4, 0, {8, 8, 8, 0}};
    const struct stun_addr loop4 = {STUN_FAMILY_IPV4, 0, {127, 0, 0, 0}};
    const struct stun_addr loop6 = {STUN_FAMILY_IPV6, 0, {[15] = 1}};
    stun_dest_policy_init(p);
    stun_cidr_make(&deny, 24, &net);
    stun_dest_add_rule(p, &net, false);
    if (allow_loopback) {
        stun_cidr_make(&loop4, 8, &net);
        stun_dest_add_rule(p, &net, true);
        stun_cidr_make(&loop6, 128, &net);
        stun_dest_add_rule(p, &net, true);
    }
    for (unsigned ep = 0; ep < STUN_EP_COUNT; ep++) {
        stun_dest_add_own(p, &four4.addr[ep]);
        stun_dest_add_own(p, &four6.addr[ep]);
    }
}

static void init_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    const uint8_t a1v4[16] = {203, 0, 113, 1}, a2v4[16] = {203, 0, 113, 2};
    const uint8_t a1v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    const uint8_t a2v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    endpoints(&four4, a1v4, a2v4, STUN_FAMILY_IPV4, true);
    endpoints(&one4, a1v4, a1v4, STUN_FAMILY_IPV4, false);
    endpoints(&four6, a1v6, a2v6, STUN_FAMILY_IPV6, true);
    endpoints(&one6, a1v6, a1v6, STUN_FAMILY_IPV6, false);
    policy(&policy_default, false);
    policy(&policy_loopback, true);
    crypto_hmac_key_init(&short_key, CRYPTO_HMAC_SHA1, "fuzz-password", 13);
    crypto_hmac_key_init(&nonce_key, CRYPTO_HMAC_SHA256, "fuzz nonce key", 14);
    crypto_hmac_key_init(&wrong_sha1, CRYPTO_HMAC_SHA1, "wrong", 5);
    crypto_hmac_key_init(&wrong_sha256, CRYPTO_HMAC_SHA256, "wrong", 5);
    for (int sha256 = 0; sha256 < 2; sha256++) {
        uint8_t lt[CRYPTO_HMAC_MAX_LEN];
        int n = crypto_longterm_key(sha256 ? CRYPTO_PASSWORD_SHA256 : CRYPTO_PASSWORD_MD5, "user",
                                    4, REALM, sizeof(REALM) - 1, "pass", 4, lt);
        FUZZ_CHECK(n > 0);
        crypto_hmac_key_init(&lt_keys[sha256][0], CRYPTO_HMAC_SHA1, lt, (size_t)n);
        crypto_hmac_key_init(&lt_keys[sha256][1], CRYPTO_HMAC_SHA256, lt, (size_t)n);
    }
}

/* Short-term: every USERNAME is known, save those starting with 'x'
 * (unknown), 'e' (expired) and 'b' (busy). */
static enum stun_cred_result fake_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out)
{
    static const struct stun_addr minted_for = {STUN_FAMILY_IPV4, 41000, {198, 51, 100, 9}};
    (void)ctx;
    (void)now_ms;
    if (len > 0 && user[0] == 'x')
        return STUN_CRED_UNKNOWN;
    if (len > 0 && user[0] == 'e')
        return STUN_CRED_EXPIRED;
    if (len > 0 && user[0] == 'b')
        return STUN_CRED_BUSY;
    out->key = short_key;
    out->minted_for = len % 2 ? minted_for : (struct stun_addr){0};
    return STUN_CRED_FOUND;
}

/* Long-term: every USERNAME or USERHASH is "user", save a name starting
 * with 'x'. */
static bool fake_user_keys(const void *ctx, const uint8_t *id, size_t len, bool by_hash,
                           unsigned alg, struct stun_user_keys *out)
{
    (void)ctx;
    FUZZ_CHECK(alg == CRYPTO_PASSWORD_MD5 || alg == CRYPTO_PASSWORD_SHA256);
    if (!by_hash && len > 0 && id[0] == 'x')
        return false;
    out->integrity = &lt_keys[alg == CRYPTO_PASSWORD_SHA256][0];
    out->integrity_sha256 = &lt_keys[alg == CRYPTO_PASSWORD_SHA256][1];
    return true;
}

static enum stun_status fake_mint(void *ctx, const struct stun_addr *client, uint64_t now_ms,
                                  struct stun_minted *out)
{
    (void)ctx;
    (void)client;
    if (now_ms % 7 == 0)
        return STUN_REJECT_MINT_RATE;
    memcpy(out->username, "mintmint", 8);
    out->username_len = 8;
    memcpy(out->password, "0123456789abcdef", 16);
    out->password_len = 16;
    return STUN_OK;
}

/* What the control bytes chose. */
struct setup {
    struct stun_handler_config cfg;
    struct stun_request req;
    struct stun_addr local;
    uint8_t c1;
};

static void choose(const uint8_t *control, struct setup *s)
{
    uint8_t c0 = control[0], c1 = control[1];
    bool v6 = c0 & C0_IPV6, alternate = c0 & C0_ALTERNATE;
    const unsigned modes[4] = {STUN_AUTH_NONE, STUN_AUTH_OPTIONAL, STUN_AUTH_REQUIRED,
                               STUN_AUTH_REQUIRED};
    memset(s, 0, sizeof(*s));
    s->c1 = c1;
    struct stun_handler_config *cfg = &s->cfg;
    cfg->auth = (enum stun_auth_mode)modes[c0 & C0_AUTH];
    cfg->lookup = fake_lookup;
    cfg->mint = fake_mint;
    cfg->response_address = c0 & C0_RESPONSE_ADDR;
    cfg->destinations = (c1 & C1_ALLOW_LOOPBACK) ? &policy_loopback : &policy_default;
    cfg->nonce_key = &nonce_key;
    cfg->nonce_ttl_s = NONCE_TTL_S;
    if (c1 & C1_SOFTWARE) {
        cfg->software = "stunring fuzz";
        cfg->software_len = 13;
    }
    if (c0 & C0_REALM) {
        cfg->realm = REALM;
        cfg->realm_len = sizeof(REALM) - 1;
        cfg->user_keys = fake_user_keys;
    }
    const struct stun_endpoints *eps =
        v6 ? (alternate ? &four6 : &one6) : (alternate ? &four4 : &one4);
    struct stun_request *req = &s->req;
    req->arrived = alternate ? (enum stun_endpoint)((c1 & C1_ARRIVED) >> 6) : STUN_EP_A1P1;
    s->local = eps->addr[req->arrived];
    req->source = v6 ? &client6 : &client4;
    req->local = &s->local;
    req->eps = eps;
    req->stream = c0 & C0_STREAM;
    req->tls = (c0 & C0_STREAM) && (c0 & C0_TLS);
    req->now_ms = (uint64_t)NOW_S * 1000 + control[0];
    /* Drain: a 300 naming an alternate of either family (the budget holds). */
    static const struct stun_addr alt4 = {STUN_FAMILY_IPV4, 3478, {198, 51, 100, 20}};
    static const struct stun_addr alt6 = {
        STUN_FAMILY_IPV6, 3478, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
    cfg->alternate_server[0] = alt4;
    cfg->alternate_server[1] = alt6;
    cfg->alternate_domain = "alternate.fuzz.example";
    cfg->alternate_domain_len = 22;
    req->redirect = (c0 & C0_AUTH) == 3 ? STUN_REDIRECT_DRAINING : STUN_REDIRECT_NONE;
}

/* A NONCE of the right length gets a valid one for the source (or a stale
 * one), so the long-term checks after it are reached. */
static void refresh_nonce(const struct setup *s, uint8_t *msg, const struct stun_msg *m)
{
    uint16_t len = 0;
    unsigned features = (s->c1 & C1_NONCE_NO_FEATURES)
                            ? 0
                            : STUN_FEATURE_PASSWORD_ALGORITHMS | STUN_FEATURE_USERNAME_ANONYMITY;
    uint64_t expiry = (s->c1 & C1_STALE_NONCE) ? NOW_S - 1 : NOW_S + NONCE_TTL_S;
    if (stun_msg_attr(m, STUN_A_NONCE, &len) == NULL || len != STUN_NONCE_LEN)
        return;
    char nonce[STUN_NONCE_MAX];
    if (stun_nonce_make(&nonce_key, s->req.source, expiry, features, nonce, sizeof(nonce)) ==
        STUN_NONCE_LEN)
        memcpy(msg + m->at[STUN_A_NONCE].off, nonce, STUN_NONCE_LEN);
}

/* The keys the handler will verify with, as it would pick them. */
static void signing_keys(const struct setup *s, const struct stun_msg *m,
                         const struct crypto_hmac_key **sha1, const struct crypto_hmac_key **sha256)
{
    const uint32_t long_term = 1u << STUN_A_REALM | 1u << STUN_A_NONCE | 1u << STUN_A_USERHASH;
    uint16_t len = 0;
    *sha1 = &short_key;
    *sha256 = &wrong_sha256;
    if (s->cfg.realm != NULL && !m->classic && (m->present & long_term)) {
        const uint8_t *alg = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHM, &len);
        bool sha = alg != NULL && len >= 2 && alg[1] == CRYPTO_PASSWORD_SHA256;
        *sha1 = &lt_keys[sha][0];
        *sha256 = &lt_keys[sha][1];
    }
    if (s->c1 & C1_WRONG_KEY) {
        *sha1 = &wrong_sha1;
        *sha256 = &wrong_sha256;
    }
}

/* The datagram to hand the handler: the input, or the input with its
 * NONCE, integrity and FINGERPRINT made right. Returns its length. */
static size_t prepare(const struct setup *s, const uint8_t *data, size_t size, uint8_t *msg,
                      size_t cap)
{
    static uint8_t work[STUN_MAX_MESSAGE];
    struct stun_msg m;
    const struct crypto_hmac_key *sha1, *sha256;
    size = size < sizeof(work) ? size : sizeof(work);
    memcpy(work, data, size);
    enum stun_status parsed = stun_msg_parse(&m, work, size);
    if ((s->c1 & C1_RAW) || (parsed != STUN_OK && parsed != STUN_REJECT_UNKNOWN_ATTR) ||
        size > cap) {
        size = size < cap ? size : cap;
        memcpy(msg, work, size);
        return size;
    }
    refresh_nonce(s, work, &m);
    signing_keys(s, &m, &sha1, &sha256);
    size_t len = rebuild(&m, msg, cap, sha1, sha256);
    if (len == 0) { /* grew past the buffer: the input as it came */
        memcpy(msg, work, size);
        return size;
    }
    return len;
}

static bool same_ip(const struct stun_addr *a, const struct stun_addr *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, stun_addr_ip_len(a)) == 0;
}

static enum stun_answer_kind kind_of(const struct stun_msg *answer)
{
    if (answer->cls == STUN_CLASS_SUCCESS)
        return STUN_ANSWER_SUCCESS;
    return stun_msg_has(answer, STUN_A_NONCE) ? STUN_ANSWER_CHALLENGE : STUN_ANSWER_ERROR;
}

static void check_reply(const struct setup *s, const struct stun_request *req,
                        const struct stun_reply *reply, const uint8_t *out)
{
    struct stun_msg answer;
    FUZZ_CHECK(reply->status < STUN_STATUS_COUNT);
    FUZZ_CHECK(reply->len <= OUT_CAP);
    if (stun_status_is_drop(reply->status))
        FUZZ_CHECK(reply->len == 0);
    if (reply->len == 0)
        return;
    FUZZ_CHECK(stun_msg_parse(&answer, out, reply->len) == STUN_OK);
    FUZZ_CHECK(stun_msg_check_fingerprint(&answer) == STUN_OK);
    if (!same_ip(&reply->dest, req->source)) {
        FUZZ_CHECK(reply->authenticated);
        FUZZ_CHECK(stun_dest_allowed(s->cfg.destinations, &reply->dest, req->local));
    }
    size_t budget = stun_answer_budget(&s->cfg, req, kind_of(&answer));
    FUZZ_CHECK(budget > 0);
    if (reply->authenticated)
        budget += AUTHENTICATED_EXTRA;
    FUZZ_CHECK(reply->len <= budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t msg[OUT_CAP + 64], out[OUT_CAP];
    struct setup s;
    struct stun_reply reply;
    if (size < CONTROL_LEN)
        return 0;
    init_once();
    choose(data, &s);
    size_t len = prepare(&s, data + CONTROL_LEN, size - CONTROL_LEN, msg, sizeof(msg));
    /* An exact-size copy, so that ASan sees any read past the datagram. */
    uint8_t *copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, msg, len);
    s.req.data = copy;
    s.req.len = len;
    stun_handle(&s.cfg, &s.req, out, sizeof(out), &reply);
    check_reply(&s, &s.req, &reply, out);
    free(copy);
    return 0;
}
