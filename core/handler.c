/* Request policy: RFC 3489, RFC 8489 and RFC 5780 server behaviour. */
#include "core/handler.h"

#include <string.h>

#include "core/integrity.h"
#include "core/nonce.h"
#include "core/wire.h"
#include "core/writer.h"
#include "crypto/digest.h"

enum {
    FINGERPRINT_SIZE = 8,       /* a FINGERPRINT attribute: header and CRC */
    INTEGRITY_SIZE = 24,        /* a MESSAGE-INTEGRITY attribute: header and HMAC-SHA1 */
    INTEGRITY_SHA256_SIZE = 36, /* MESSAGE-INTEGRITY-SHA256, untruncated */
};

/* Our PASSWORD-ALGORITHMS value (RFC 8489 §14.11): SHA-256, then MD5, no
 * parameters. Sent in every long-term 401 and 438; echoed by clients. */
static const uint8_t password_algorithms[8] = {
    0, CRYPTO_PASSWORD_SHA256, 0, 0, 0, CRYPTO_PASSWORD_MD5, 0, 0,
};

static const uint32_t any_integrity =
    1u << STUN_A_MESSAGE_INTEGRITY | 1u << STUN_A_MESSAGE_INTEGRITY_SHA256;

/* What judging a request established, beside its status. */
struct verdict {
    uint32_t change; /* CHANGE-REQUEST flags */
    /* Authenticated: sign with it; else NULL. Its algorithm picks the
     * attribute: HMAC-SHA1 MESSAGE-INTEGRITY, HMAC-SHA256 -SHA256. */
    const struct crypto_hmac_key *key;
    struct stun_credential cred;             /* valid once a lookup found it (minted_for: always
                                                after a long-term success) */
    const struct crypto_hmac_key *nonce_key; /* loaded once, by the long-term path */
    struct stun_minted minted;               /* valid for STUN_OK_MINTED */
};

static bool ip_unspecified(const struct stun_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, stun_addr_ip_len(a)) == 0;
}

/* The concrete address of an endpoint; a wildcard takes the arrival address. */
static struct stun_addr endpoint_addr(const struct stun_request *req, enum stun_endpoint ep)
{
    if (ep == req->arrived)
        return *req->local;
    struct stun_addr a = req->eps->addr[ep];
    if (ip_unspecified(&a))
        memcpy(a.ip, req->local->ip, sizeof(a.ip));
    return a;
}

/* Which requests are answered at all (RFC 8489 §6.3). */
static enum stun_status screen(const struct stun_msg *m)
{
    if (m->cls == STUN_CLASS_INDICATION)
        return STUN_DROP_INDICATION;
    if (m->cls != STUN_CLASS_REQUEST)
        return STUN_DROP_RESPONSE;
    if (m->method != STUN_METHOD_BINDING && m->method != STUN_METHOD_SHARED_SECRET)
        return STUN_DROP_METHOD;
    return STUN_OK;
}

/* The short-term credential of a USERNAME, or why there is none. */
static enum stun_status find_credential(const struct stun_handler_config *cfg,
                                        const struct stun_request *req, const uint8_t *user,
                                        uint16_t user_len, struct stun_credential *cred)
{
    if (cfg->lookup == NULL)
        return STUN_REJECT_UNKNOWN_USERNAME;
    switch (cfg->lookup(cfg->lookup_ctx, user, user_len, req->now_ms, cred)) {
    case STUN_CRED_FOUND:
        return STUN_OK;
    case STUN_CRED_EXPIRED:
        return STUN_REJECT_STALE_CREDENTIALS;
    case STUN_CRED_BUSY:
        return STUN_REJECT_SERVER_ERROR;
    default:
        return STUN_REJECT_UNKNOWN_USERNAME;
    }
}

/*
 * Short-term authentication of a Binding Request, in RFC 3489 §8.2's order
 * (RFC 8489 §9.1.3 checks the same things; status.c maps the codes).
 * STUN_OK with v->key NULL: an unsigned request, allowed.
 */
static enum stun_status authenticate_short_term(const struct stun_handler_config *cfg,
                                                const struct stun_request *req,
                                                const struct stun_msg *m, struct verdict *v)
{
    uint16_t user_len;
    if ((m->present & any_integrity) == 0)
        return cfg->auth == STUN_AUTH_REQUIRED ? STUN_REJECT_NO_INTEGRITY : STUN_OK;
    const uint8_t *user = stun_msg_attr(m, STUN_A_USERNAME, &user_len);
    if (user == NULL)
        return STUN_REJECT_MISSING_USERNAME;
    enum stun_status found = find_credential(cfg, req, user, user_len, &v->cred);
    if (found != STUN_OK)
        return found;
    /*
     * The credential holds an HMAC-SHA1 key only, so MESSAGE-INTEGRITY-
     * SHA256 cannot be checked. A request signed with it alone fails as a
     * bad HMAC rather than being answered unsigned: it asked for integrity.
     * One carrying both is verified on MESSAGE-INTEGRITY (RFC 8489 §9.1.3
     * would prefer the SHA256 one, which needs a key we do not keep).
     */
    if (stun_msg_verify_integrity(m, &v->cred.key) != STUN_OK)
        return STUN_REJECT_BAD_INTEGRITY;
    v->key = &v->cred.key;
    return STUN_OK;
}

/* Whether the long-term mechanism (RFC 8489 §9.2) judges a modern request:
 * it names a realm, nonce or hashed user, or it is unsigned where signing
 * is required (the challenge). Signed with USERNAME alone: short-term (ICE). */
static bool wants_long_term(const struct stun_handler_config *cfg, const struct stun_msg *m)
{
    const uint32_t long_term = 1u << STUN_A_REALM | 1u << STUN_A_NONCE | 1u << STUN_A_USERHASH;
    if (cfg->realm == NULL || m->classic)
        return false;
    if (m->present & long_term)
        return true;
    return (m->present & any_integrity) == 0 && cfg->auth == STUN_AUTH_REQUIRED;
}

/* RFC 8489 §9.2.4: 438 for a nonce that is not (or no longer) ours. One
 * made under the previous fleet key is still ours during a rollover. */
static enum stun_status check_nonce(const struct stun_handler_config *cfg,
                                    const struct stun_request *req, const struct stun_msg *m,
                                    const struct verdict *v, unsigned *features)
{
    uint16_t len = 0;
    const uint8_t *nonce = stun_msg_attr(m, STUN_A_NONCE, &len);
    uint64_t now_s = req->now_ms / 1000;
    enum stun_nonce_verdict r =
        stun_nonce_check(v->nonce_key, req->source, nonce, len, now_s, features);
    const struct crypto_hmac_key *previous =
        __atomic_load_n(&cfg->nonce_key_previous, __ATOMIC_ACQUIRE);
    if (r == STUN_NONCE_FORGED && previous != NULL)
        r = stun_nonce_check(previous, req->source, nonce, len, now_s, features);
    switch (r) {
    case STUN_NONCE_VALID:
        return STUN_OK;
    case STUN_NONCE_STALE:
        return STUN_REJECT_STALE_NONCE;
    default:
        return STUN_REJECT_FORGED_NONCE;
    }
}

static bool realm_matches(const struct stun_handler_config *cfg, const struct stun_msg *m)
{
    uint16_t len = 0;
    const uint8_t *realm = stun_msg_attr(m, STUN_A_REALM, &len);
    return len == cfg->realm_len && memcmp(realm, cfg->realm, len) == 0;
}

/*
 * RFC 8489 §9.2.4 and §14.11-14.12: the password algorithm. Neither
 * attribute: MD5. Otherwise both, PASSWORD-ALGORITHMS exactly as we sent
 * it (only under a nonce advertising the feature), and PASSWORD-ALGORITHM
 * one of its entries, without parameters.
 */
static enum stun_status negotiate_algorithm(const struct stun_msg *m, unsigned features,
                                            unsigned *alg)
{
    const uint32_t both = 1u << STUN_A_PASSWORD_ALGORITHM | 1u << STUN_A_PASSWORD_ALGORITHMS;
    uint16_t len = 0, chosen_len = 0;
    *alg = CRYPTO_PASSWORD_MD5;
    if ((m->present & both) == 0)
        return STUN_OK;
    if ((m->present & both) != both || !(features & STUN_FEATURE_PASSWORD_ALGORITHMS))
        return STUN_REJECT_PASSWORD_ALGORITHM;
    const uint8_t *offered = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHMS, &len);
    const uint8_t *chosen = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHM, &chosen_len);
    if (len != sizeof(password_algorithms) || memcmp(offered, password_algorithms, len) != 0)
        return STUN_REJECT_PASSWORD_ALGORITHM;
    /* Either entry of ours: an algorithm, then a zero parameter length. */
    if (chosen_len != 4 || (memcmp(chosen, offered, 4) != 0 && memcmp(chosen, offered + 4, 4) != 0))
        return STUN_REJECT_PASSWORD_ALGORITHM;
    *alg = chosen[1];
    return STUN_OK;
}

/* The user's keys under alg, by USERHASH (preferred) or USERNAME. */
static bool find_user(const struct stun_handler_config *cfg, const struct stun_msg *m, unsigned alg,
                      struct stun_user_keys *keys)
{
    uint16_t len = 0;
    const uint8_t *id = stun_msg_attr(m, STUN_A_USERHASH, &len);
    bool by_hash = id != NULL;
    if (!by_hash)
        id = stun_msg_attr(m, STUN_A_USERNAME, &len);
    return cfg->user_keys(cfg->users_ctx, id, len, by_hash, alg, keys);
}

/* RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when present, else MESSAGE-
 * INTEGRITY; the answer is signed the same way. */
static enum stun_status verify_long_term(const struct stun_msg *m,
                                         const struct stun_user_keys *keys, struct verdict *v)
{
    bool sha256 = stun_msg_has(m, STUN_A_MESSAGE_INTEGRITY_SHA256);
    const struct crypto_hmac_key *key = sha256 ? keys->integrity_sha256 : keys->integrity;
    /* No key of that kind (or not of that hash): as no user. The key's
     * hash also picks how the answer is signed (write_integrity). */
    if (key == NULL || (crypto_hmac_len(key) == CRYPTO_SHA256_LEN) != sha256)
        return STUN_REJECT_LT_UNKNOWN_USER;
    enum stun_status s =
        sha256 ? stun_msg_verify_integrity_sha256(m, key) : stun_msg_verify_integrity(m, key);
    if (s != STUN_OK)
        return STUN_REJECT_LT_BAD_INTEGRITY;
    v->key = key;
    v->cred.minted_for.family = 0; /* REFLECTED-FROM: the source */
    return STUN_OK;
}

/* Long-term authentication, RFC 8489 §9.2.4's checks in its order. */
static enum stun_status authenticate_long_term(const struct stun_handler_config *cfg,
                                               const struct stun_request *req,
                                               const struct stun_msg *m, struct verdict *v)
{
    const uint32_t user = 1u << STUN_A_USERNAME | 1u << STUN_A_USERHASH;
    const uint32_t realm_nonce = 1u << STUN_A_REALM | 1u << STUN_A_NONCE;
    struct stun_user_keys keys;
    unsigned features = 0, alg;
    v->nonce_key = __atomic_load_n(&cfg->nonce_key, __ATOMIC_ACQUIRE);
    if (v->nonce_key == NULL || cfg->user_keys == NULL)
        return STUN_REJECT_SERVER_ERROR;
    if ((m->present & any_integrity) == 0)
        return STUN_REJECT_LT_CHALLENGE;
    if ((m->present & user) == 0 || (m->present & realm_nonce) != realm_nonce)
        return STUN_REJECT_LT_MISSING_ATTR;
    enum stun_status s = check_nonce(cfg, req, m, v, &features);
    if (s != STUN_OK)
        return s;
    if (!realm_matches(cfg, m))
        return STUN_REJECT_WRONG_REALM;
    if ((s = negotiate_algorithm(m, features, &alg)) != STUN_OK)
        return s;
    if (!find_user(cfg, m, alg, &keys))
        return STUN_REJECT_LT_UNKNOWN_USER;
    return verify_long_term(m, &keys, v);
}

/* STUN_OK with v->key NULL: an unsigned request, allowed. */
static enum stun_status authenticate(const struct stun_handler_config *cfg,
                                     const struct stun_request *req, const struct stun_msg *m,
                                     struct verdict *v)
{
    if (wants_long_term(cfg, m))
        return authenticate_long_term(cfg, req, m, v);
    return authenticate_short_term(cfg, req, m, v);
}

/* RFC 3489 §8.1: RESPONSE-ADDRESS, for authenticated requests only. */
static enum stun_status check_response_address(const struct stun_handler_config *cfg,
                                               const struct stun_request *req,
                                               const struct stun_msg *m, const struct verdict *v)
{
    struct stun_addr to;
    if (v->key == NULL)
        return STUN_REJECT_RESPONSE_ADDRESS; /* never to a third party unchecked */
    if (!cfg->response_address)
        return STUN_REJECT_RESPONSE_ADDRESS_OFF; /* the operator has not allowed it */
    if (req->stream)
        return STUN_REJECT_STREAM_ONLY_UDP; /* the answer goes back on the stream */
    stun_msg_get_addr(m, STUN_A_RESPONSE_ADDRESS, &to);
    /* The answer leaves a socket of the source's family. Port 0 and an
     * unspecified address (this host, to Linux) name no client. */
    if (to.family != req->source->family || to.port == 0 || ip_unspecified(&to))
        return STUN_REJECT_BAD_RESPONSE_ADDRESS;
    /* Never toward loopback, private, multicast or the server itself,
     * unless the operator allowed it (core/destination.h). */
    if (!stun_dest_allowed(cfg->destinations, &to, req->local))
        return STUN_REJECT_DESTINATION_DENIED;
    return STUN_OK;
}

/* RFC 3489 §8.1, RFC 5780 §6.1 and §7: what a Binding Request may ask. */
static enum stun_status check_binding(const struct stun_handler_config *cfg,
                                      const struct stun_request *req, const struct stun_msg *m,
                                      struct verdict *v)
{
    uint16_t port;
    if (stun_msg_has(m, STUN_A_RESPONSE_ADDRESS)) {
        enum stun_status s = check_response_address(cfg, req, m, v);
        if (s != STUN_OK)
            return s;
    }
    if (stun_msg_get_response_port(m, &port)) {
        if (req->stream)
            return STUN_REJECT_STREAM_ONLY_UDP;
        if (stun_msg_has(m, STUN_A_PADDING))
            return STUN_REJECT_PADDING_AND_PORT;
        if (port == 0)
            return STUN_REJECT_BAD_PORT;
    }
    if (stun_msg_get_u32(m, STUN_A_CHANGE_REQUEST, &v->change)) {
        v->change &= STUN_CHANGE_IP | STUN_CHANGE_PORT;
        /* A change this server cannot make (no alternate address and
         * port, RFC 5780 §6.1, or a stream) gets 420. A CHANGE-REQUEST
         * asking for no change is answered everywhere: RFC 3489 clients
         * (Debian's stun, test I) send one with every Binding. */
        if (v->change != 0 && (!req->eps->alternate || req->stream))
            return STUN_REJECT_NO_ALTERNATE;
    }
    return STUN_OK;
}

/* RFC 3489 §11.2.6-11.2.7: text, a multiple of 4 bytes, within its array. */
static bool minted_value_ok(uint8_t len, size_t cap)
{
    return len > 0 && len <= cap && len % 4 == 0;
}

/* RFC 3489 §8.2: only TLS may mint, and a broken minter is a server error. */
static enum stun_status mint(const struct stun_handler_config *cfg, const struct stun_request *req,
                             struct verdict *v)
{
    struct stun_minted *minted = &v->minted;
    if (!req->tls)
        return STUN_REJECT_USE_TLS;
    if (cfg->mint == NULL)
        return STUN_REJECT_SERVER_ERROR;
    enum stun_status minted_status = cfg->mint(cfg->mint_ctx, req->source, req->now_ms, minted);
    if (minted_status == STUN_REJECT_MINT_RATE || minted_status == STUN_REJECT_MINT_SHARE)
        return minted_status; /* counted apart; answered 500 all the same */
    if (minted_status != STUN_OK)
        return STUN_REJECT_SERVER_ERROR;
    if (!minted_value_ok(minted->username_len, sizeof(minted->username)) ||
        !minted_value_ok(minted->password_len, sizeof(minted->password)))
        return STUN_REJECT_SERVER_ERROR;
    return STUN_OK_MINTED;
}

/* The endpoint CHANGE-REQUEST asks for, relative to the arrival (RFC 3489 Table 1). */
static enum stun_endpoint changed_endpoint(enum stun_endpoint arrived, uint32_t change)
{
    unsigned ep = arrived;
    if (change & STUN_CHANGE_IP)
        ep ^= STUN_EP_ALT_ADDRESS;
    if (change & STUN_CHANGE_PORT)
        ep ^= STUN_EP_ALT_PORT;
    return (enum stun_endpoint)ep;
}

/* The endpoint differing in both address and port: CHANGED-/OTHER-ADDRESS. */
static enum stun_endpoint other_endpoint(const struct stun_request *req)
{
    return req->eps->alternate ? req->arrived ^ (STUN_EP_ALT_ADDRESS | STUN_EP_ALT_PORT)
                               : req->arrived;
}

static void write_software(const struct stun_handler_config *cfg, struct stun_writer *w)
{
    if (cfg->software != NULL)
        stun_write_text(w, STUN_ATTR_SOFTWARE, cfg->software, cfg->software_len);
}

/*
 * RFC 5780 §7.6: PADDING brings the answer up to the request's size (the
 * client pads to its MTU to test fragmentation), never beyond it, and
 * never beyond the buffer. What follows it (SOFTWARE, MESSAGE-INTEGRITY
 * when key is set, FINGERPRINT) is counted first.
 */
static void write_padding(const struct stun_handler_config *cfg, const struct stun_request *req,
                          const struct stun_msg *m, const struct crypto_hmac_key *key,
                          struct stun_writer *w)
{
    size_t tail = w->len + STUN_ATTR_HEADER_LEN;
    if (cfg->software != NULL)
        tail += STUN_ATTR_HEADER_LEN + ((cfg->software_len + 3u) & ~3u);
    if (key != NULL)
        tail += crypto_hmac_len(key) == CRYPTO_SHA256_LEN ? INTEGRITY_SHA256_SIZE : INTEGRITY_SIZE;
    if (!m->classic && stun_msg_has(m, STUN_A_FINGERPRINT))
        tail += FINGERPRINT_SIZE;
    size_t limit = req->len < w->cap ? req->len : w->cap;
    size_t len = limit > tail ? (limit - tail) & ~(size_t)3 : 0;
    stun_write_zeros(w, STUN_ATTR_PADDING, len);
}

/* The origin and other endpoints' addresses, under the two types given. */
static void write_endpoints(const struct stun_request *req, enum stun_endpoint from,
                            uint16_t origin_type, uint16_t other_type, struct stun_writer *w)
{
    struct stun_addr origin = endpoint_addr(req, from);
    struct stun_addr other = endpoint_addr(req, other_endpoint(req));
    if (origin_type == STUN_ATTR_SOURCE_ADDRESS) { /* RFC 3489 order */
        stun_write_addr(w, origin_type, &origin);
        stun_write_addr(w, other_type, &other);
    } else {
        stun_write_addr(w, other_type, &other);
        stun_write_addr(w, origin_type, &origin);
    }
}

static void write_addresses(const struct stun_request *req, const struct stun_msg *m,
                            enum stun_endpoint from, struct stun_writer *w)
{
    if (m->classic) {
        /* RFC 3489 §11.1: MAPPED-, SOURCE- and CHANGED-ADDRESS, always. */
        stun_write_addr(w, STUN_ATTR_MAPPED_ADDRESS, req->source);
        write_endpoints(req, from, STUN_ATTR_SOURCE_ADDRESS, STUN_ATTR_CHANGED_ADDRESS, w);
        return;
    }
    stun_write_xor_addr(w, STUN_ATTR_XOR_MAPPED_ADDRESS, req->source);
    /* RFC 5780 §6.1: MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS, then
     * OTHER-ADDRESS and RESPONSE-ORIGIN; a single-address server sends
     * none of them. */
    if (req->eps->alternate) {
        stun_write_addr(w, STUN_ATTR_MAPPED_ADDRESS, req->source);
        write_endpoints(req, from, STUN_ATTR_RESPONSE_ORIGIN, STUN_ATTR_OTHER_ADDRESS, w);
    }
}

/* MESSAGE-INTEGRITY for an HMAC-SHA1 key, MESSAGE-INTEGRITY-SHA256 for
 * an HMAC-SHA256 one (a long-term answer signed as its request was). */
static void write_integrity(const struct crypto_hmac_key *key, struct stun_writer *w)
{
    if (crypto_hmac_len(key) == CRYPTO_SHA256_LEN)
        stun_write_integrity_sha256(w, key);
    else
        stun_write_integrity(w, key);
}

/* SOFTWARE, then the integrity attribute when key is set, then FINGERPRINT
 * if asked. Inline: the hot path must not pay a call for it. */
static inline void write_tail(const struct stun_handler_config *cfg, const struct stun_msg *m,
                              const struct crypto_hmac_key *key, struct stun_writer *w)
{
    write_software(cfg, w);
    if (key != NULL)
        write_integrity(key, w);
    if (!m->classic && stun_msg_has(m, STUN_A_FINGERPRINT))
        stun_write_fingerprint(w);
}

/*
 * Where the answer goes. RFC 3489 §8.1: to a (checked) RESPONSE-ADDRESS,
 * naming in REFLECTED-FROM whom the credential was minted for (else the
 * source). RESPONSE-ADDRESS names the whole destination, so a RESPONSE-
 * PORT beside it is ignored; alone, RESPONSE-PORT changes the source's
 * port (RFC 5780 §7.5).
 */
static void route_answer(const struct stun_request *req, const struct stun_msg *m,
                         const struct verdict *v, struct stun_writer *w, struct stun_reply *reply)
{
    uint16_t port;
    if (stun_msg_get_addr(m, STUN_A_RESPONSE_ADDRESS, &reply->dest)) {
        const struct stun_addr *minted_for = &v->cred.minted_for;
        stun_write_addr(w, STUN_ATTR_REFLECTED_FROM,
                        minted_for->family != 0 ? minted_for : req->source);
    } else if (stun_msg_get_response_port(m, &port)) {
        reply->dest.port = port;
    }
}

static void answer_binding(const struct stun_handler_config *cfg, const struct stun_request *req,
                           const struct stun_msg *m, const struct verdict *v, struct stun_writer *w,
                           struct stun_reply *reply)
{
    const uint32_t redirects = 1u << STUN_A_RESPONSE_ADDRESS | 1u << STUN_A_RESPONSE_PORT;
    reply->from = changed_endpoint(req->arrived, v->change);
    write_addresses(req, m, reply->from, w);
    if (m->present & redirects)
        route_answer(req, m, v, w, reply);
    if (stun_msg_has(m, STUN_A_PADDING))
        write_padding(cfg, req, m, v->key, w);
    write_tail(cfg, m, v->key, w);
}

/* RFC 3489 §8.2, §11.2.6-11.2.7: the credential just minted. */
static void answer_shared_secret(const struct stun_handler_config *cfg, const struct stun_msg *m,
                                 const struct verdict *v, struct stun_writer *w)
{
    const struct stun_minted *minted = &v->minted;
    stun_write_bytes(w, STUN_ATTR_USERNAME, minted->username, minted->username_len);
    stun_write_bytes(w, STUN_ATTR_PASSWORD, minted->password, minted->password_len);
    write_tail(cfg, m, NULL, w);
}

/* UNKNOWN-ATTRIBUTES for a 420: what the request asked that cannot be done. */
static void write_unknown(const struct stun_msg *m, enum stun_status why, struct stun_writer *w)
{
    uint16_t types[2];
    size_t n = 0;
    if (why == STUN_REJECT_UNKNOWN_ATTR) {
        stun_write_unknown(w, m->unknown, m->n_unknown);
        return;
    }
    if (why == STUN_REJECT_NO_ALTERNATE) {
        types[n++] = STUN_ATTR_CHANGE_REQUEST;
    } else if (why == STUN_REJECT_RESPONSE_ADDRESS_OFF) {
        types[n++] = STUN_ATTR_RESPONSE_ADDRESS;
    } else if (why == STUN_REJECT_STREAM_ONLY_UDP) {
        if (stun_msg_has(m, STUN_A_RESPONSE_ADDRESS))
            types[n++] = STUN_ATTR_RESPONSE_ADDRESS;
        if (stun_msg_has(m, STUN_A_RESPONSE_PORT))
            types[n++] = STUN_ATTR_RESPONSE_PORT;
    }
    if (n > 0)
        stun_write_unknown(w, types, n);
}

/*
 * The key an error answer is signed with, or NULL. An authenticated
 * request's errors are signed (RFC 8489 §9.1.4), save the codes that say
 * the request or its credentials could not be used (RFC 8489 §9.1.3: no
 * MESSAGE-INTEGRITY when a check failed).
 */
static const struct crypto_hmac_key *error_key(const struct verdict *v, enum stun_status why,
                                               int code)
{
    if (v->key == NULL)
        return NULL;
    /* Its classic 400 says where the answer may not go, not that the
     * request could not be used: signed like its 403. */
    if (why == STUN_REJECT_DESTINATION_DENIED)
        return v->key;
    switch (code) {
    case STUN_ERR_BAD_REQUEST:
    case STUN_ERR_UNAUTHORIZED:
    case STUN_ERR_STALE_CREDENTIALS:
    case STUN_ERR_INTEGRITY_CHECK:
    case STUN_ERR_MISSING_USERNAME:
    case STUN_ERR_SERVER_ERROR:
        return NULL;
    default:
        return v->key;
    }
}

/* The long-term rejections that (re)issue the challenge (RFC 8489 §9.2.4). */
static bool challenges(enum stun_status why)
{
    switch (why) {
    case STUN_REJECT_LT_CHALLENGE:
    case STUN_REJECT_STALE_NONCE:
    case STUN_REJECT_FORGED_NONCE:
    case STUN_REJECT_WRONG_REALM:
    case STUN_REJECT_LT_UNKNOWN_USER:
    case STUN_REJECT_LT_BAD_INTEGRITY:
        return true;
    default:
        return false;
    }
}

/* REALM, a fresh NONCE for the source, and PASSWORD-ALGORITHMS. */
static void write_challenge(const struct stun_handler_config *cfg, const struct stun_request *req,
                            const struct verdict *v, struct stun_writer *w)
{
    const unsigned features = STUN_FEATURE_PASSWORD_ALGORITHMS | STUN_FEATURE_USERNAME_ANONYMITY;
    /* Rounded up: a nonce lives at least --nonce-ttl, never a second less. */
    uint64_t expiry_s = (req->now_ms + 999) / 1000 + cfg->nonce_ttl_s;
    char nonce[STUN_NONCE_MAX];
    size_t len =
        stun_nonce_make(v->nonce_key, req->source, expiry_s, features, nonce, sizeof(nonce));
    stun_write_text(w, STUN_ATTR_REALM, cfg->realm, cfg->realm_len);
    stun_write_text(w, STUN_ATTR_NONCE, nonce, len);
    stun_write_bytes(w, STUN_ATTR_PASSWORD_ALGORITHMS, password_algorithms,
                     sizeof(password_algorithms));
}

/* The configured ALTERNATE-SERVER of the source's family, or NULL. */
static const struct stun_addr *alternate_for(const struct stun_handler_config *cfg,
                                             const struct stun_request *req)
{
    const struct stun_addr *alt =
        &cfg->alternate_server[req->source->family == STUN_FAMILY_IPV6 ? 1 : 0];
    return alt->family == req->source->family ? alt : NULL;
}

/*
 * RFC 8489 §10: io/ asks for a redirect, the request is modern (RFC 3489
 * has no 300; README "Drain" says why those are answered as always) and an
 * alternate of its family exists (§10: of the same family as the source).
 */
static enum stun_status redirect_status(const struct stun_handler_config *cfg,
                                        const struct stun_request *req, const struct stun_msg *m)
{
    if (req->redirect == STUN_REDIRECT_NONE || m->classic || alternate_for(cfg, req) == NULL)
        return STUN_OK;
    return req->redirect == STUN_REDIRECT_SHED ? STUN_REJECT_SHED : STUN_REJECT_DRAINING;
}

/* ALTERNATE-SERVER, and over TLS ALTERNATE-DOMAIN (RFC 8489 §14.15-16). */
static void write_alternate(const struct stun_handler_config *cfg, const struct stun_request *req,
                            struct stun_writer *w)
{
    stun_write_addr(w, STUN_ATTR_ALTERNATE_SERVER, alternate_for(cfg, req));
    if (req->tls && cfg->alternate_domain != NULL)
        stun_write_text(w, STUN_ATTR_ALTERNATE_DOMAIN, cfg->alternate_domain,
                        cfg->alternate_domain_len);
}

static void answer_error(const struct stun_handler_config *cfg, const struct stun_request *req,
                         const struct stun_msg *m, enum stun_status why, const struct verdict *v,
                         struct stun_writer *w, struct stun_reply *reply)
{
    int code = stun_status_error_code(why, m->classic);
    stun_write_error(w, code, NULL);
    reply->code = (uint16_t)code;
    /* After a structural error the view's attributes are not usable. */
    if (why == STUN_REJECT_ATTR_OVERRUN || why == STUN_REJECT_ATTR_INVALID) {
        write_software(cfg, w);
        return;
    }
    if (challenges(why))
        write_challenge(cfg, req, v, w);
    if (why == STUN_REJECT_DRAINING || why == STUN_REJECT_SHED)
        write_alternate(cfg, req, w);
    write_unknown(m, why, w);
    write_tail(cfg, m, error_key(v, why, code), w);
}

/* The verdict on a parsed message before any answer is written. */
static enum stun_status judge(const struct stun_handler_config *cfg, const struct stun_request *req,
                              const struct stun_msg *m, enum stun_status parsed, struct verdict *v)
{
    bool attrs_usable = parsed == STUN_OK || parsed == STUN_REJECT_UNKNOWN_ATTR;
    /* RFC 8489 §7.3: a bad FINGERPRINT is silently discarded, first. */
    if (attrs_usable && stun_msg_check_fingerprint(m) != STUN_OK)
        return STUN_DROP_BAD_FINGERPRINT;
    enum stun_status s = screen(m);
    if (s != STUN_OK || !attrs_usable)
        return s != STUN_OK ? s : parsed; /* structural errors: 400, unsigned */
    if (m->method == STUN_METHOD_SHARED_SECRET) {
        if (parsed == STUN_OK && (s = redirect_status(cfg, req, m)) != STUN_OK)
            return s;
        return parsed != STUN_OK ? parsed : mint(cfg, req, v);
    }
    /* RFC 3489 §8.2, RFC 8489 §6.3: authentication comes before the 420,
     * so that an authenticated request's 420 is signed. */
    if (cfg->auth != STUN_AUTH_NONE && (s = authenticate(cfg, req, m, v)) != STUN_OK)
        return s;
    /* Then the redirect, signed like any error of an authenticated
     * request; the alternate judges the request's other attributes. */
    if ((s = redirect_status(cfg, req, m)) != STUN_OK)
        return s;
    if (parsed != STUN_OK)
        return parsed;
    return check_binding(cfg, req, m, v);
}

/*
 * The request almost every client sends: a bare 20-byte RFC 5389 Binding
 * Request, no attribute. When the server has nothing to add (one address,
 * no SOFTWARE, no integrity demanded) its answer is the header and
 * XOR-MAPPED-ADDRESS alone, written here in a few dozen instructions
 * rather than through the parser, the verdict and the writer. The bytes
 * are exactly the general path's: tests/unit/core/test_handler.c compares
 * the two for every source address it uses.
 */
static bool answer_bare_binding(const struct stun_handler_config *cfg,
                                const struct stun_request *req, uint8_t *out, size_t cap,
                                struct stun_reply *reply)
{
    const uint8_t *d = req->data;
    const struct stun_addr *src = req->source;
    size_t ip_len = stun_addr_ip_len(src);
    size_t value_len = 4 + ip_len;
    if (req->len != STUN_HEADER_LEN ||
        wire_get32(d) != (uint32_t)stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST) << 16 ||
        wire_get32(d + 4) != STUN_MAGIC_COOKIE || req->redirect != STUN_REDIRECT_NONE ||
        cfg->auth == STUN_AUTH_REQUIRED || cfg->software != NULL || req->eps->alternate ||
        cap < STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN + value_len)
        return false;
    wire_put16(out, stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS));
    wire_put16(out + 2, (uint16_t)(STUN_ATTR_HEADER_LEN + value_len));
    memcpy(out + 4, d + 4, 16);
    uint8_t *a = out + STUN_HEADER_LEN;
    wire_put16(a, STUN_ATTR_XOR_MAPPED_ADDRESS);
    wire_put16(a + 2, (uint16_t)value_len);
    a[4] = 0;
    a[5] = src->family;
    wire_put16(a + 6, (uint16_t)(src->port ^ (STUN_MAGIC_COOKIE >> 16)));
    for (size_t i = 0; i < ip_len; i++) /* XORed with the cookie, then the id */
        a[8 + i] = src->ip[i] ^ d[4 + i];
    reply->status = STUN_OK;
    reply->authenticated = false;
    reply->code = 0;
    reply->len = STUN_HEADER_LEN + STUN_ATTR_HEADER_LEN + value_len;
    reply->from = req->arrived;
    reply->dest = *src;
    return true;
}

void stun_handle(const struct stun_handler_config *cfg, const struct stun_request *req,
                 uint8_t *out, size_t cap, struct stun_reply *reply)
{
    if (answer_bare_binding(cfg, req, out, cap, reply))
        return;
    struct stun_msg m;
    struct verdict v; /* large and rarely used in full: only these are set */
    v.change = 0;
    v.key = NULL;
    enum stun_status parsed = stun_msg_parse(&m, req->data, req->len);
    reply->len = 0;
    reply->code = 0;
    reply->from = req->arrived;
    reply->dest = *req->source;
    reply->status = stun_status_is_drop(parsed) ? parsed : judge(cfg, req, &m, parsed, &v);
    reply->authenticated = v.key != NULL;
    if (stun_status_is_drop(reply->status))
        return;

    struct stun_writer w;
    enum stun_class cls =
        stun_status_is_success(reply->status) ? STUN_CLASS_SUCCESS : STUN_CLASS_ERROR;
    stun_writer_start_reply(&w, out, cap, stun_type(m.method, cls), &m);
    if (reply->status == STUN_OK)
        answer_binding(cfg, req, &m, &v, &w, reply);
    else if (reply->status == STUN_OK_MINTED)
        answer_shared_secret(cfg, &m, &v, &w);
    else
        answer_error(cfg, req, &m, reply->status, &v, &w, reply);
    reply->len = stun_writer_finish(&w);
}

enum {
    ADDR_V4_SIZE = STUN_ATTR_HEADER_LEN + 8,
    ADDR_V6_SIZE = STUN_ATTR_HEADER_LEN + 20,
    /* ERROR-CODE: class and number, then the longest reason we send,
     * "Integrity Check Failure" (23 bytes), padded. */
    ERROR_CODE_MAX_SIZE = STUN_ATTR_HEADER_LEN + 4 + 24,
    UNKNOWN_MAX_SIZE = STUN_ATTR_HEADER_LEN + 2 * STUN_MAX_UNKNOWN,
    MINTED_MAX_SIZE = 2 * (STUN_ATTR_HEADER_LEN + 64), /* USERNAME, PASSWORD */
};

static size_t text_size(size_t len) { return STUN_ATTR_HEADER_LEN + ((len + 3) & ~(size_t)3); }

static bool request_is_classic(const struct stun_request *req)
{
    return req->len < 8 || wire_get32(req->data + 4) != STUN_MAGIC_COOKIE;
}

static size_t success_budget(const struct stun_request *req, size_t tail)
{
    size_t addr = req->source->family == STUN_FAMILY_IPV6 ? ADDR_V6_SIZE : ADDR_V4_SIZE;
    size_t addrs = request_is_classic(req) ? 3 : req->eps->alternate ? 4 : 1;
    size_t len = STUN_HEADER_LEN + addrs * addr + tail;
    if (req->len > STUN_HEADER_LEN)
        len += STUN_ATTR_HEADER_LEN; /* PADDING, possibly empty */
    if (req->tls && len < STUN_HEADER_LEN + MINTED_MAX_SIZE + tail)
        len = STUN_HEADER_LEN + MINTED_MAX_SIZE + tail;
    return len > req->len ? len : req->len;
}

size_t stun_answer_budget(const struct stun_handler_config *cfg, const struct stun_request *req,
                          enum stun_answer_kind kind)
{
    /* What may close any answer: SOFTWARE, then FINGERPRINT (RFC 8489). */
    size_t tail = cfg->software != NULL ? text_size(cfg->software_len) : 0;
    if (!request_is_classic(req))
        tail += FINGERPRINT_SIZE;
    size_t error = STUN_HEADER_LEN + ERROR_CODE_MAX_SIZE + UNKNOWN_MAX_SIZE + tail;
    switch (kind) {
    case STUN_ANSWER_SUCCESS:
        return success_budget(req, tail);
    case STUN_ANSWER_ERROR:
        /* A 300 fits in it (handler.h), but for ALTERNATE-DOMAIN. */
        if (req->tls && cfg->alternate_domain != NULL)
            return error + text_size(cfg->alternate_domain_len);
        return error;
    case STUN_ANSWER_CHALLENGE:
        if (cfg->realm == NULL)
            return 0;
        return error + text_size(cfg->realm_len) + text_size(STUN_NONCE_LEN) +
               STUN_ATTR_HEADER_LEN + sizeof(password_algorithms);
    }
    return 0;
}
