/* Transaction bookkeeping and response checks of the load generator. */
#include "bench/loadgen/validate.h"

#include <string.h>

#include "core/integrity.h"
#include "core/msg.h"
#include "core/wire.h"
#include "core/writer.h"
#include "crypto/digest.h"

enum {
    ENTRY_BUSY = 1,    /* outstanding */
    ENTRY_COUNTED = 2, /* sent while the flow was counting */
    ENTRY_LOST = 4,    /* given up: its answer, if one comes, is late */
};

void bench_flow_init(struct bench_flow *f, struct bench_entry *ring, uint32_t cap,
                     uint32_t socket_id, uint32_t nonce, uint64_t timeout_ns,
                     const struct bench_endpoints *ep, struct bench_tally *tally)
{
    memset(f, 0, sizeof(*f));
    memset(ring, 0, sizeof(*ring) * cap);
    f->ring = ring;
    f->mask = cap - 1;
    f->socket_id = socket_id;
    f->nonce = nonce;
    f->timeout_ns = timeout_ns;
    f->ep = *ep;
    f->tally = tally;
}

uint32_t bench_change_flags(uint32_t seq)
{
    static const uint32_t turn[3] = {STUN_CHANGE_IP | STUN_CHANGE_PORT, STUN_CHANGE_IP,
                                     STUN_CHANGE_PORT};
    return turn[seq % 3];
}

struct stun_addr bench_changed_source(const struct bench_endpoints *ep, uint32_t flags)
{
    /* RFC 3489 Table 1: the other address and/or the other port of the
     * endpoint asked (the primary one), as OTHER-ADDRESS names them. */
    struct stun_addr a = ep->server;
    if (!ep->has_other)
        return a;
    if (flags & STUN_CHANGE_IP) {
        a.family = ep->other.family;
        memcpy(a.ip, ep->other.ip, sizeof(a.ip));
    }
    if (flags & STUN_CHANGE_PORT)
        a.port = ep->other.port;
    return a;
}

static bool expired(const struct bench_flow *f, const struct bench_entry *e, uint64_t now_ns)
{
    return now_ns >= e->sent_ns && now_ns - e->sent_ns >= f->timeout_ns;
}

static void lose(struct bench_flow *f, struct bench_entry *e)
{
    if (e->flags & ENTRY_COUNTED)
        f->tally->lost++;
    e->flags = ENTRY_LOST | (e->flags & ENTRY_COUNTED); /* seq kept: a late answer is known */
    f->outstanding--;
}

int bench_credential_init(struct bench_credential *c, const void *username, size_t username_len,
                          const void *password, size_t password_len)
{
    memset(c, 0, sizeof(*c));
    if (username_len == 0 || username_len > BENCH_USERNAME_MAX || password_len == 0)
        return -1;
    memcpy(c->username, username, username_len);
    c->username_len = username_len;
    return crypto_hmac_key_init(&c->key, CRYPTO_HMAC_SHA1, password, password_len) == 0 ? 0 : -1;
}

/* Whether PASSWORD-ALGORITHMS (RFC 8489 §14.11) offers alg with no parameters. */
static bool offers(const uint8_t *list, size_t len, unsigned alg)
{
    for (size_t off = 0; off + 4 <= len;) {
        size_t params = wire_get16(list + off + 2);
        if (wire_get16(list + off) == alg && params == 0)
            return true;
        off += 4 + ((params + 3) & ~(size_t)3);
    }
    return false;
}

/* REALM, NONCE and PASSWORD-ALGORITHMS of a 401 or 438 into lt. */
static const char *take_challenge(struct bench_longterm *lt, const struct stun_msg *m, unsigned alg)
{
    int code = 0;
    const char *reason = NULL;
    uint16_t reason_len = 0, realm_len = 0, nonce_len = 0, algs_len = 0;
    if (m->type != stun_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR) ||
        !stun_msg_get_error(m, &code, &reason, &reason_len) || (code != 401 && code != 438))
        return "not a 401 or 438 Binding error answer";
    const uint8_t *realm = stun_msg_attr(m, STUN_A_REALM, &realm_len);
    const uint8_t *nonce = stun_msg_attr(m, STUN_A_NONCE, &nonce_len);
    const uint8_t *algs = stun_msg_attr(m, STUN_A_PASSWORD_ALGORITHMS, &algs_len);
    if (realm == NULL || nonce == NULL || realm_len == 0 || nonce_len == 0)
        return "no REALM or NONCE in the challenge";
    if (realm_len > BENCH_REALM_MAX || nonce_len > BENCH_NONCE_MAX ||
        algs_len > BENCH_ALGORITHMS_MAX)
        return "REALM, NONCE or PASSWORD-ALGORITHMS longer than the bench takes";
    if (algs != NULL ? !offers(algs, algs_len, alg) : alg != CRYPTO_PASSWORD_MD5)
        return "the server does not offer that password algorithm (PASSWORD-ALGORITHMS)";
    memcpy(lt->realm, realm, realm_len);
    lt->realm_len = realm_len;
    memcpy(lt->nonce, nonce, nonce_len);
    lt->nonce_len = nonce_len;
    if (algs != NULL)
        memcpy(lt->algorithms, algs, algs_len);
    lt->algorithms_len = algs != NULL ? algs_len : 0;
    return NULL;
}

int bench_longterm_init(struct bench_longterm *lt, const uint8_t *answer, size_t len, unsigned alg,
                        const char *user, size_t user_len, const char *password,
                        size_t password_len, const char **why)
{
    struct stun_msg m;
    uint8_t key[CRYPTO_HMAC_MAX_LEN];
    memset(lt, 0, sizeof(*lt));
    *why = NULL;
    if (alg != CRYPTO_PASSWORD_MD5 && alg != CRYPTO_PASSWORD_SHA256)
        *why = "unknown password algorithm";
    else if (user_len == 0 || user_len > BENCH_USERNAME_MAX || password_len == 0)
        *why = "USERNAME empty or too long, or PASSWORD empty";
    else if (stun_msg_parse(&m, answer, len) != STUN_OK || m.classic)
        *why = "the answer is not an RFC 8489 message";
    else
        *why = take_challenge(lt, &m, alg);
    int key_len = *why ? 0
                       : crypto_longterm_key(alg, user, user_len, (const char *)lt->realm,
                                             lt->realm_len, password, password_len, key);
    enum crypto_hmac_alg mac =
        alg == CRYPTO_PASSWORD_SHA256 ? CRYPTO_HMAC_SHA256 : CRYPTO_HMAC_SHA1;
    if (*why == NULL && (key_len <= 0 || crypto_hmac_key_init(&lt->key, mac, key, (size_t)key_len)))
        *why = "the long-term key could not be made";
    if (*why != NULL)
        return -1;
    memcpy(lt->username, user, user_len);
    lt->username_len = user_len;
    lt->algorithm = alg;
    return 0;
}

void bench_flow_use_lt(struct bench_flow *f, const struct bench_longterm *lt)
{
    f->lt = lt;
    memcpy(f->lt_nonce, lt->nonce, lt->nonce_len);
    f->lt_nonce_len = lt->nonce_len;
}

/* RFC 8489 §9.2.3.2: the long-term attributes, then the integrity of the
 * kind the password algorithm picks, with the prepared key. */
static void write_long_term(const struct bench_flow *f, struct stun_writer *w)
{
    const struct bench_longterm *lt = f->lt;
    stun_write_text(w, STUN_ATTR_USERNAME, (const char *)lt->username, lt->username_len);
    stun_write_text(w, STUN_ATTR_REALM, (const char *)lt->realm, lt->realm_len);
    stun_write_text(w, STUN_ATTR_NONCE, (const char *)f->lt_nonce, f->lt_nonce_len);
    if (lt->algorithms_len > 0) {
        stun_write_bytes(w, STUN_ATTR_PASSWORD_ALGORITHMS, lt->algorithms, lt->algorithms_len);
        stun_write_u32(w, STUN_ATTR_PASSWORD_ALGORITHM, (uint32_t)lt->algorithm << 16);
    }
    if (lt->algorithm == CRYPTO_PASSWORD_SHA256)
        stun_write_integrity_sha256(w, &lt->key);
    else
        stun_write_integrity(w, &lt->key);
}

static bool asks_fingerprint(enum bench_kind kind)
{
    return kind == BENCH_FINGERPRINT || kind == BENCH_SHORT_TERM || kind == BENCH_LONG_TERM;
}

/* Request seq of kind into buf: its length, or 0. */
static size_t write_request(const struct bench_flow *f, enum bench_kind kind, uint32_t seq,
                            uint8_t *buf, size_t cap)
{
    uint8_t id16[16];
    wire_put32(id16, kind == BENCH_CLASSIC ? BENCH_CLASSIC_TAG : STUN_MAGIC_COOKIE);
    wire_put32(id16 + 4, f->socket_id);
    wire_put32(id16 + 8, seq);
    wire_put32(id16 + 12, f->nonce);
    struct stun_writer w;
    stun_writer_start(&w, buf, cap, stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), id16);
    if (kind == BENCH_CHANGE_REQUEST)
        stun_write_u32(&w, STUN_ATTR_CHANGE_REQUEST, bench_change_flags(seq));
    if (kind == BENCH_SHORT_TERM) {
        /* RFC 8489 §9.1.2: USERNAME, then MESSAGE-INTEGRITY with the
         * prepared key (no key schedule here), then FINGERPRINT. */
        stun_write_text(&w, STUN_ATTR_USERNAME, (const char *)f->cred->username,
                        f->cred->username_len);
        stun_write_integrity(&w, &f->cred->key);
    }
    if (kind == BENCH_LONG_TERM)
        write_long_term(f, &w);
    if (kind == BENCH_UNKNOWN_ATTR)
        stun_write_bytes(&w, BENCH_UNKNOWN_ATTR_TYPE, NULL, 0);
    if (asks_fingerprint(kind))
        stun_write_fingerprint(&w);
    return stun_writer_finish(&w);
}

size_t bench_flow_request(struct bench_flow *f, enum bench_kind kind, uint64_t now_ns, uint8_t *buf,
                          size_t cap)
{
    if (cap < BENCH_REQUEST_MAX || (unsigned)kind >= BENCH_KIND_COUNT ||
        (kind == BENCH_SHORT_TERM && f->cred == NULL) || (kind == BENCH_LONG_TERM && f->lt == NULL))
        return 0;
    uint32_t seq = f->next_seq;
    struct bench_entry *e = &f->ring[seq & f->mask];
    if (e->flags & ENTRY_BUSY) {
        /* The ring wrapped onto a request still outstanding. */
        if (!expired(f, e, now_ns))
            return 0;
        lose(f, e);
    }
    /* Keeps tail within one ring of next_seq: the request that held this
     * slot a ring ago is over, whatever became of it. */
    if (seq - f->tail > f->mask)
        f->tail = seq - f->mask;

    size_t len = write_request(f, kind, seq, buf, cap);
    if (len == 0)
        return 0;

    *e = (struct bench_entry){
        .sent_ns = now_ns,
        .seq = seq,
        .len = (uint16_t)len,
        .kind = (uint8_t)kind,
        .flags = ENTRY_BUSY | (f->counting ? ENTRY_COUNTED : 0),
    };
    f->next_seq++;
    f->outstanding++;
    if (f->counting)
        f->tally->sent++;
    return len;
}

void bench_flow_unsend(struct bench_flow *f, uint32_t n)
{
    for (uint32_t i = 0; i < n && f->outstanding > 0; i++) {
        uint32_t seq = f->next_seq - 1;
        struct bench_entry *e = &f->ring[seq & f->mask];
        if (!(e->flags & ENTRY_BUSY) || e->seq != seq)
            return; /* not the most recent request: nothing to take back */
        if (e->flags & ENTRY_COUNTED)
            f->tally->sent--;
        e->flags = 0;
        f->outstanding--;
        f->next_seq = seq;
    }
}

/* The entry the answer's id names if it is in state (BUSY or LOST), or NULL. */
static struct bench_entry *match_in(struct bench_flow *f, const uint8_t *buf, size_t len,
                                    uint32_t state)
{
    if (len < STUN_HEADER_LEN)
        return NULL;
    if (wire_get32(buf + 8) != f->socket_id || wire_get32(buf + 16) != f->nonce)
        return NULL;
    uint32_t seq = wire_get32(buf + 12);
    struct bench_entry *e = &f->ring[seq & f->mask];
    if (!(e->flags & state) || e->seq != seq)
        return NULL;
    uint32_t tag = e->kind == BENCH_CLASSIC ? BENCH_CLASSIC_TAG : STUN_MAGIC_COOKIE;
    return wire_get32(buf + 4) == tag ? e : NULL;
}

static enum bench_via via_of(enum bench_kind kind)
{
    return kind == BENCH_TCP ? BENCH_VIA_TCP : kind == BENCH_TLS ? BENCH_VIA_TLS : BENCH_VIA_UDP;
}

/* Where the answer to e must come from. */
static struct stun_addr want_source(const struct bench_flow *f, const struct bench_entry *e)
{
    if (e->kind == BENCH_CHANGE_REQUEST)
        return bench_changed_source(&f->ep, bench_change_flags(e->seq));
    return e->kind == BENCH_TLS ? f->ep.server_tls : f->ep.server;
}

/*
 * RFC 8489 §9.2.4: a 438 to a long-term request says its NONCE expired and
 * brings a fresh one, which the flow's next requests carry. true when m
 * is such an answer (its FINGERPRINT, if any, correct).
 */
static bool take_fresh_nonce(struct bench_flow *f, const struct stun_msg *m)
{
    int code = 0;
    const char *reason = NULL;
    uint16_t reason_len = 0, len = 0;
    if (m->type != stun_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR) ||
        stun_msg_check_fingerprint(m) != STUN_OK ||
        !stun_msg_get_error(m, &code, &reason, &reason_len) || code != 438)
        return false;
    const uint8_t *nonce = stun_msg_attr(m, STUN_A_NONCE, &len);
    if (nonce == NULL || len == 0 || len > BENCH_NONCE_MAX)
        return false;
    memcpy(f->lt_nonce, nonce, len);
    f->lt_nonce_len = len;
    return true;
}

/* RFC 8489 §9.1.4, §9.2.4: the answer is signed as its request was, with
 * its key. -1 when it is, else why not. */
static int check_integrity(const struct bench_flow *f, const struct bench_entry *e,
                           const struct stun_msg *m)
{
    bool lt = e->kind == BENCH_LONG_TERM;
    bool sha256 = lt && f->lt->algorithm == CRYPTO_PASSWORD_SHA256;
    const struct crypto_hmac_key *key = lt ? &f->lt->key : &f->cred->key;
    enum stun_attr_id want = sha256 ? STUN_A_MESSAGE_INTEGRITY_SHA256 : STUN_A_MESSAGE_INTEGRITY;
    enum stun_attr_id other = sha256 ? STUN_A_MESSAGE_INTEGRITY : STUN_A_MESSAGE_INTEGRITY_SHA256;
    if (!stun_msg_has(m, want))
        return stun_msg_has(m, other) ? BENCH_WRONG_INTEGRITY : BENCH_NO_INTEGRITY;
    enum stun_status s =
        sha256 ? stun_msg_verify_integrity_sha256(m, key) : stun_msg_verify_integrity(m, key);
    return s == STUN_OK ? -1 : BENCH_BAD_INTEGRITY;
}

/* unknown-attribute and challenge: the error asked for, with what it must carry. */
static bool is_wanted_error(const struct bench_entry *e, const struct stun_msg *m)
{
    int code = 0;
    const char *reason = NULL;
    uint16_t reason_len = 0, len = 0;
    if (m->type != stun_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR) ||
        !stun_msg_get_error(m, &code, &reason, &reason_len))
        return false;
    if (e->kind == BENCH_CHALLENGE)
        return code == 401 && stun_msg_has(m, STUN_A_REALM) && stun_msg_has(m, STUN_A_NONCE);
    const uint8_t *list = stun_msg_attr(m, STUN_A_UNKNOWN_ATTRIBUTES, &len);
    return code == 420 && list != NULL && len >= 2 && wire_get16(list) == BENCH_UNKNOWN_ATTR_TYPE;
}

static bool wants_error(enum bench_kind kind)
{
    return kind == BENCH_UNKNOWN_ATTR || kind == BENCH_CHALLENGE;
}

enum {
    CHECK_VALID = -1,
    CHECK_REDIRECTED = -2,
};

/* A UDP answer from the alternate the flow follows (bench_flow_follow). */
static bool from_alternate(const struct bench_flow *f, const struct bench_entry *e,
                           const struct stun_addr *source)
{
    return f->alternate.family != 0 && via_of((enum bench_kind)e->kind) == BENCH_VIA_UDP &&
           stun_addr_equal(source, &f->alternate);
}

static bool is_try_alternate(const struct stun_msg *m)
{
    int code = 0;
    const char *reason = NULL;
    uint16_t reason_len = 0;
    return m->cls == STUN_CLASS_ERROR && stun_msg_get_error(m, &code, &reason, &reason_len) &&
           code == 300;
}

/* RFC 8489 §10: a 300 from where the request went, well-formed, signed as
 * its request was, naming an ALTERNATE-SERVER (stored in *alt). */
static int check_redirect(const struct bench_flow *f, const struct bench_entry *e,
                          const struct stun_msg *m, const struct stun_addr *source,
                          struct stun_addr *alt)
{
    struct stun_addr sent_to = e->kind == BENCH_TLS ? f->ep.server_tls : f->ep.server;
    if (!stun_addr_equal(source, &sent_to) && !from_alternate(f, e, source))
        return BENCH_BAD_SOURCE;
    if (m->method != STUN_METHOD_BINDING)
        return BENCH_BAD_TYPE;
    if (stun_msg_check_fingerprint(m) != STUN_OK)
        return BENCH_BAD_FINGERPRINT;
    if (asks_fingerprint((enum bench_kind)e->kind) && !stun_msg_has(m, STUN_A_FINGERPRINT))
        return BENCH_NO_FINGERPRINT;
    int why =
        e->kind == BENCH_SHORT_TERM || e->kind == BENCH_LONG_TERM ? check_integrity(f, e, m) : -1;
    if (why >= 0)
        return why;
    return stun_msg_get_addr(m, STUN_A_ALTERNATE_SERVER, alt) ? CHECK_REDIRECTED : BENCH_BAD_TYPE;
}

/* The checks of validate.h, in order: CHECK_VALID when all pass,
 * CHECK_REDIRECTED for a good 300 (*alt), else the first failure. */
static int check(struct bench_flow *f, const struct bench_entry *e, const uint8_t *buf, size_t len,
                 const struct stun_addr *source, enum bench_via via, struct stun_addr *alt)
{
    if (via != via_of((enum bench_kind)e->kind))
        return BENCH_BAD_TRANSPORT;
    struct stun_msg m;
    bool parsed = stun_msg_parse(&m, buf, len) == STUN_OK;
    if (parsed && is_try_alternate(&m))
        return check_redirect(f, e, &m, source, alt);
    struct stun_addr want = want_source(f, e);
    if (!stun_addr_equal(source, &want) && !from_alternate(f, e, source))
        return BENCH_BAD_SOURCE;
    if (!parsed)
        return BENCH_BAD_MESSAGE;
    if (wants_error((enum bench_kind)e->kind))
        return !is_wanted_error(e, &m)                     ? BENCH_BAD_TYPE
               : stun_msg_check_fingerprint(&m) != STUN_OK ? BENCH_BAD_FINGERPRINT
                                                           : -1;
    if (m.type != stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS))
        return e->kind == BENCH_LONG_TERM && take_fresh_nonce(f, &m) ? BENCH_STALE_NONCE
                                                                     : BENCH_BAD_TYPE;
    if (stun_msg_check_fingerprint(&m) != STUN_OK)
        return BENCH_BAD_FINGERPRINT;
    if (asks_fingerprint((enum bench_kind)e->kind) && !stun_msg_has(&m, STUN_A_FINGERPRINT))
        return BENCH_NO_FINGERPRINT;
    int why =
        e->kind == BENCH_SHORT_TERM || e->kind == BENCH_LONG_TERM ? check_integrity(f, e, &m) : -1;
    if (why >= 0)
        return why;

    /* RFC 3489 §11.2.1 MAPPED-ADDRESS; RFC 8489 §14.2 XOR-MAPPED-ADDRESS. */
    struct stun_addr a;
    const struct stun_addr *self = e->kind == BENCH_TCP   ? &f->ep.self_tcp
                                   : e->kind == BENCH_TLS ? &f->ep.self_tls
                                                          : &f->ep.self_udp;
    if (!stun_msg_get_addr(&m, m.classic ? STUN_A_MAPPED_ADDRESS : STUN_A_XOR_MAPPED_ADDRESS, &a))
        return BENCH_NO_MAPPED;
    if (!stun_addr_equal(&a, self))
        return BENCH_BAD_MAPPED;
    /* RFC 3489 §11.2.3 CHANGED-ADDRESS, RFC 5780 §7.4 OTHER-ADDRESS: every
     * request goes to the primary endpoint, so they name the other one. */
    if (f->ep.has_other &&
        stun_msg_get_addr(&m, m.classic ? STUN_A_CHANGED_ADDRESS : STUN_A_OTHER_ADDRESS, &a) &&
        !stun_addr_equal(&a, &f->ep.other))
        return BENCH_BAD_OTHER;
    /* RFC 3489 §11.2.3 SOURCE-ADDRESS, RFC 5780 §7.3 RESPONSE-ORIGIN: where it was sent from. */
    if (stun_msg_get_addr(&m, m.classic ? STUN_A_SOURCE_ADDRESS : STUN_A_RESPONSE_ORIGIN, &a) &&
        !stun_addr_equal(&a, source))
        return BENCH_BAD_ORIGIN;
    return -1;
}

/* An answer that consumes no outstanding request: late (once per lost
 * request) or stray. */
static void note_unmatched(struct bench_flow *f, const uint8_t *buf, size_t len,
                           struct bench_answer *out)
{
    struct bench_entry *e = match_in(f, buf, len, ENTRY_LOST);
    if (e != NULL) {
        out->verdict = BENCH_LATE;
        if (e->flags & ENTRY_COUNTED)
            f->tally->late++;
        e->flags = 0; /* a second answer to it is a stray */
        return;
    }
    if (f->counting)
        f->tally->stray++;
}

void bench_flow_answer(struct bench_flow *f, const uint8_t *buf, size_t len,
                       const struct stun_addr *source, enum bench_via via, uint64_t now_ns,
                       struct bench_answer *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = BENCH_STRAY;
    struct bench_entry *e = match_in(f, buf, len, ENTRY_BUSY);
    if (e != NULL && expired(f, e, now_ns))
        lose(f, e); /* too late: lost whether or not a scan saw it yet */
    if (e == NULL || !(e->flags & ENTRY_BUSY)) {
        note_unmatched(f, buf, len, out);
        return;
    }

    int why = check(f, e, buf, len, source, via, &out->alternate);
    bool counted = e->flags & ENTRY_COUNTED;
    out->kind = (enum bench_kind)e->kind;
    out->counted = counted;
    if (why == CHECK_REDIRECTED) {
        out->verdict = BENCH_REDIRECTED;
        if (counted)
            f->tally->redirected++;
    } else if (why == CHECK_VALID) {
        out->verdict = BENCH_VALID;
        out->latency_ns = now_ns >= e->sent_ns ? now_ns - e->sent_ns : 0;
        if (counted && from_alternate(f, e, source))
            f->tally->followed++;
        if (counted) {
            f->tally->valid++;
            f->tally->request_bytes += e->len;
            f->tally->response_bytes += len;
        }
    } else {
        out->verdict = BENCH_INVALID;
        out->why = (enum bench_invalid)why;
        if (counted) {
            f->tally->invalid++;
            f->tally->why[why]++;
        }
    }
    e->flags = 0;
    f->outstanding--;
}

bool bench_flow_follow(struct bench_flow *f, const struct stun_addr *alt)
{
    if (f->alternate.family != 0 || alt->family != f->ep.self_udp.family)
        return false;
    f->alternate = *alt;
    return true;
}

uint32_t bench_flow_expire(struct bench_flow *f, uint64_t now_ns)
{
    uint32_t n = 0;
    /* tail stays within one ring of next_seq, so this walks one ring at most. */
    for (uint32_t i = 0; i <= f->mask && f->tail != f->next_seq; i++) {
        struct bench_entry *e = &f->ring[f->tail & f->mask];
        if ((e->flags & ENTRY_BUSY) && e->seq == f->tail) {
            if (!expired(f, e, now_ns))
                break; /* sent in order: the rest are younger */
            lose(f, e);
            n++;
        }
        f->tail++;
    }
    return n;
}

uint32_t bench_flow_abandon(struct bench_flow *f)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i <= f->mask && f->outstanding > 0; i++) {
        if (f->ring[i].flags & ENTRY_BUSY) {
            lose(f, &f->ring[i]);
            n++;
        }
    }
    f->tail = f->next_seq;
    return n;
}

const char *bench_kind_name(enum bench_kind kind)
{
    static const char *const names[BENCH_KIND_COUNT] = {
        [BENCH_BINDING] = "binding",
        [BENCH_CLASSIC] = "classic",
        [BENCH_FINGERPRINT] = "fingerprint",
        [BENCH_CHANGE_REQUEST] = "change-request",
        [BENCH_TCP] = "tcp",
        [BENCH_SHORT_TERM] = "short-term-auth",
        [BENCH_LONG_TERM] = "long-term-auth",
        [BENCH_TLS] = "tls",
        [BENCH_UNKNOWN_ATTR] = "unknown-attribute",
        [BENCH_CHALLENGE] = "challenge",
    };
    return (unsigned)kind < BENCH_KIND_COUNT ? names[kind] : "?";
}

const char *bench_invalid_name(enum bench_invalid why)
{
    static const char *const names[BENCH_INVALID_COUNT] = {
        [BENCH_BAD_TRANSPORT] = "transport",
        [BENCH_BAD_SOURCE] = "source",
        [BENCH_BAD_MESSAGE] = "message",
        [BENCH_BAD_TYPE] = "type",
        [BENCH_BAD_FINGERPRINT] = "fingerprint",
        [BENCH_NO_FINGERPRINT] = "no_fingerprint",
        [BENCH_NO_INTEGRITY] = "no_integrity",
        [BENCH_BAD_INTEGRITY] = "integrity",
        [BENCH_WRONG_INTEGRITY] = "integrity_kind",
        [BENCH_STALE_NONCE] = "stale_nonce",
        [BENCH_NO_MAPPED] = "no_mapped",
        [BENCH_BAD_MAPPED] = "mapped",
        [BENCH_BAD_OTHER] = "other",
        [BENCH_BAD_ORIGIN] = "origin",
    };
    return (unsigned)why < BENCH_INVALID_COUNT ? names[why] : "?";
}
