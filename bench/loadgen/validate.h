/*
 * The bench's transaction bookkeeping and response validator, pure: no
 * sockets, no clock, no allocation. The caller passes the time and the
 * bytes; everything here is unit-testable (tests/unit/bench/).
 *
 * A flow is one socket slot of the load generator: a UDP socket and, when
 * the mix has tcp or tls, a TCP connection and a TLS connection. Each request it sends gets a
 * transaction id that names the flow and a per-flow sequence number:
 *
 *   bytes  4..7    8..11       12..15      16..19
 *          cookie  socket id   sequence    run nonce     (RFC 8489 requests)
 *          "srb1"  socket id   sequence    run nonce     (RFC 3489: no cookie)
 *
 * and its send time, kind and size sit in the flow's ring at sequence &
 * mask. An answer is matched by id: its whole 16 bytes must name this flow,
 * this run, and a sequence still outstanding with the same style (cookie
 * or not). An answer to a request already given up as lost (past the
 * timeout) is late: counted apart (when its request was counted), not a
 * stray, so that a bench thread starved for longer than the timeout on a
 * busy machine is told from a server that answers what nobody asked. What
 * else does not match is a stray: a duplicate, a second late answer, a
 * late answer whose ring slot a newer request has taken already (timeouts
 * far shorter than the round trip), another flow's or another run's
 * answer, anything shorter than a header. A match consumes its
 * request, which is then valid only if the answer passes every check below (the first that fails
 * names the reason), else invalid:
 *
 *   transport   tcp requests answered on the TCP stream, tls ones on the
 *               TLS stream, the others by UDP
 *   source      the datagram came from the server's endpoint, or for
 *               change-request from the one CHANGE-REQUEST asked for
 *               (RFC 3489 Table 1); a stream answer from the server (its
 *               TLS endpoint for tls)
 *   message     stun_msg_parse() says STUN_OK
 *   type        Binding success response (0x0101); for unknown-attribute
 *               a Binding error response with 420 and UNKNOWN-ATTRIBUTES
 *               naming the attribute sent, for challenge one with 401,
 *               REALM and NONCE (then only fingerprint is checked). long-term-auth: a 438
 *               (Stale Nonce, RFC 8489 §9.2.4) with a NONCE and a correct
 *               FINGERPRINT when present is invalid as stale_nonce, and
 *               its NONCE becomes the flow's for the next requests (the
 *               nonce expired mid-run: --nonce-ttl)
 *   fingerprint present when the request had one (a server that uses
 *               FINGERPRINT answers in kind, as stunringd does), and
 *               correct whenever present (RFC 8489 §14.7)
 *   integrity   short-term-auth: MESSAGE-INTEGRITY present (no_integrity)
 *               and the HMAC-SHA1 of the answer under the flow's
 *               credential (integrity; RFC 5389 §15.4, RFC 8489 §14.5).
 *               long-term-auth: the kind the request carried (RFC 8489
 *               §9.2.4: the answer is signed the same way), MESSAGE-
 *               INTEGRITY-SHA256 (HMAC-SHA256, §14.6) for the SHA-256
 *               password algorithm, MESSAGE-INTEGRITY for MD5, under the
 *               long-term key; only the other kind present: integrity_kind
 *   mapped      XOR-MAPPED-ADDRESS (RFC 3489 style: MAPPED-ADDRESS)
 *               present and equal to the socket's own address (the TCP or
 *               TLS connection's local address for tcp, tls)
 *   other       OTHER-ADDRESS (RFC 3489 style: CHANGED-ADDRESS), when
 *               present and the other endpoint is known, equal to it
 *   origin      RESPONSE-ORIGIN (RFC 3489 style: SOURCE-ADDRESS), when
 *               present, equal to where the answer came from
 *
 * A 300 Try Alternate (RFC 8489 §10: a draining or shedding server) is
 * neither valid nor invalid but redirected, a fourth outcome, when it
 * passes transport, source (where the request went, or the alternate the
 * flow follows), message, FINGERPRINT (correct, present when asked),
 * integrity (for the signed kinds: the 300 is signed) and carries an
 * ALTERNATE-SERVER; a 300 failing one of them is invalid like any answer.
 * bench_flow_follow() then sends the flow's UDP requests to the
 * alternate; valid answers that come from it are counted followed (a part
 * of valid).
 *
 * A request is lost when no answer matched it within the timeout: found
 * by bench_flow_expire() or bench_flow_request() reusing its slot, or at
 * match time (an answer later than the timeout counts the request lost
 * and is itself a stray), or by bench_flow_abandon() at the end. So each
 * counted request ends exactly once, valid, invalid, redirected or lost,
 * and sent = valid + invalid + lost + redirected once nothing is
 * outstanding.
 *
 * Counting: requests are counted (sent, and later their outcome) when the
 * flow was counting at send time; strays when it is counting at arrival.
 *
 * One thread owns a flow; flows of one thread may share a tally.
 */
#ifndef STUNRING_BENCH_VALIDATE_H
#define STUNRING_BENCH_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "crypto/hmac.h"

enum bench_kind {
    BENCH_BINDING,        /* RFC 8489 Binding Request, 20 bytes */
    BENCH_CLASSIC,        /* RFC 3489 Binding Request, no magic cookie */
    BENCH_FINGERPRINT,    /* RFC 8489 Binding Request with FINGERPRINT */
    BENCH_CHANGE_REQUEST, /* RFC 5780 CHANGE-REQUEST, answered from another endpoint */
    BENCH_TCP,            /* RFC 8489 Binding Request over the flow's TCP connection */
    BENCH_SHORT_TERM,     /* RFC 8489 Binding Request with USERNAME, MESSAGE-INTEGRITY and
                             FINGERPRINT, under a Shared Secret minted over TLS */
    BENCH_LONG_TERM,      /* RFC 8489 §9.2 Binding Request with USERNAME, REALM, NONCE,
                             PASSWORD-ALGORITHMS, PASSWORD-ALGORITHM, MESSAGE-INTEGRITY(-SHA256)
                             and FINGERPRINT, under a long-term user */
    BENCH_TLS,            /* RFC 8489 Binding Request over the flow's TLS connection */
    /* Error answers, for the amplification of each kind (README): valid
     * when the error is the one asked for. */
    BENCH_UNKNOWN_ATTR, /* RFC 8489 Binding Request with one empty unknown comprehension-
                           required attribute (24 bytes): 420 with UNKNOWN-ATTRIBUTES */
    BENCH_CHALLENGE,    /* bare RFC 8489 Binding Request to a server with long-term
                           credentials: 401 with REALM and NONCE */
    BENCH_KIND_COUNT,
};

enum bench_verdict {
    BENCH_VALID,
    BENCH_INVALID,
    BENCH_STRAY,
    BENCH_LATE,       /* the answer to a request already counted lost */
    BENCH_REDIRECTED, /* a 300 Try Alternate with ALTERNATE-SERVER */
};

/* Why an answer was invalid: the first check that failed. */
enum bench_invalid {
    BENCH_BAD_TRANSPORT,
    BENCH_BAD_SOURCE,
    BENCH_BAD_MESSAGE,
    BENCH_BAD_TYPE,
    BENCH_BAD_FINGERPRINT,
    BENCH_NO_FINGERPRINT,
    BENCH_NO_INTEGRITY,
    BENCH_BAD_INTEGRITY,
    BENCH_WRONG_INTEGRITY, /* only the other kind of MESSAGE-INTEGRITY */
    BENCH_STALE_NONCE,     /* long-term-auth: 438, the nonce expired (then refreshed) */
    BENCH_NO_MAPPED,
    BENCH_BAD_MAPPED,
    BENCH_BAD_OTHER,
    BENCH_BAD_ORIGIN,
    BENCH_INVALID_COUNT,
};

enum {
    BENCH_CLASSIC_TAG = 0x73726231,   /* "srb1": bytes 4..7 of an RFC 3489 request */
    BENCH_USERNAME_MAX = 128,         /* bytes of a USERNAME the bench takes */
    BENCH_REALM_MAX = 128,            /* bytes of a REALM the bench takes */
    BENCH_NONCE_MAX = 128,            /* bytes of a NONCE (RFC 8489 §14.10: < 128 characters) */
    BENCH_ALGORITHMS_MAX = 32,        /* bytes of a PASSWORD-ALGORITHMS value the bench takes */
    BENCH_REQUEST_MAX = 512,          /* bytes of the largest request written here */
    BENCH_RING_MAX = 65536,           /* entries of a flow's ring at most */
    BENCH_UNKNOWN_ATTR_TYPE = 0x0031, /* comprehension-required, assigned to nothing */
};

struct bench_tally {
    uint64_t sent, valid, invalid, lost, stray;
    uint64_t late; /* answers to requests already lost (of those counted) */
    /* 300 Try Alternate answers: an outcome of their own, beside valid,
     * invalid and lost; followed: of valid, those the alternate gave. */
    uint64_t redirected, followed;
    uint64_t request_bytes, response_bytes; /* of the valid exchanges only */
    uint64_t why[BENCH_INVALID_COUNT];      /* invalid, by reason */
};

/* Which way an answer came. */
enum bench_via {
    BENCH_VIA_UDP = 0,
    BENCH_VIA_TCP = 1,
    BENCH_VIA_TLS = 2,
};

/* What answers must say, as this side sees the addresses. */
struct bench_endpoints {
    struct stun_addr self_udp;   /* the UDP socket's own address (getsockname) */
    struct stun_addr self_tcp;   /* the TCP connection's local address */
    struct stun_addr self_tls;   /* the TLS connection's local address */
    struct stun_addr server;     /* the primary endpoint, where every UDP and TCP request goes */
    struct stun_addr server_tls; /* the server's TLS endpoint (--tls-port), for tls */
    struct stun_addr other;      /* the endpoint differing in address and port (RFC 5780) */
    bool has_other;              /* other is known (--alt-server, or learned) */
};

/*
 * A short-term credential (RFC 3489 §9.2 Shared Secret): the USERNAME to
 * send and the PASSWORD's HMAC-SHA1 key, prepared once. Read-only once
 * made: every flow of every thread may share one.
 */
struct bench_credential {
    uint8_t username[BENCH_USERNAME_MAX];
    size_t username_len;
    struct crypto_hmac_key key;
};

/*
 * A long-term user (RFC 8489 §9.2) as a 401 challenge taught it: USERNAME,
 * REALM, the first NONCE, PASSWORD-ALGORITHMS as received, the algorithm
 * chosen, and the integrity key prepared once: HMAC-SHA256 over
 * SHA-256(user:realm:password) for MESSAGE-INTEGRITY-SHA256, or HMAC-SHA1
 * over MD5(user:realm:password) for MESSAGE-INTEGRITY. Read-only once
 * made: every flow shares one (each keeps its own NONCE, bench_flow).
 */
struct bench_longterm {
    uint8_t username[BENCH_USERNAME_MAX];
    size_t username_len;
    uint8_t realm[BENCH_REALM_MAX];
    size_t realm_len;
    uint8_t nonce[BENCH_NONCE_MAX];
    size_t nonce_len;
    uint8_t algorithms[BENCH_ALGORITHMS_MAX]; /* PASSWORD-ALGORITHMS; len 0: the server sent
                                                 none, so MD5 and neither attribute */
    size_t algorithms_len;
    unsigned algorithm; /* enum crypto_password_alg */
    struct crypto_hmac_key key;
};

struct bench_entry {
    uint64_t sent_ns;
    uint32_t seq;
    uint16_t len;  /* request bytes */
    uint8_t kind;  /* enum bench_kind */
    uint8_t flags; /* ENTRY_* in validate.c */
};

struct bench_flow {
    struct bench_entry *ring; /* cap entries, owned by the caller */
    uint32_t mask;            /* cap - 1 */
    uint32_t next_seq;        /* sequence of the next request */
    uint32_t tail;            /* no request before it is outstanding */
    uint32_t outstanding;
    uint32_t socket_id, nonce;
    uint64_t timeout_ns;
    bool counting; /* set by the caller when the measured window starts */
    struct bench_endpoints ep;
    struct bench_tally *tally;
    const struct bench_credential *cred; /* short-term-auth's; NULL: none (set after init) */
    const struct bench_longterm *lt;     /* long-term-auth's; NULL: none (bench_flow_use_lt) */
    uint8_t lt_nonce[BENCH_NONCE_MAX];   /* this flow's NONCE: lt's, then the last 438's */
    size_t lt_nonce_len;
    /* After bench_flow_follow(): the ALTERNATE-SERVER its UDP requests go
     * to; family 0 until then. */
    struct stun_addr alternate;
};

/* What bench_flow_answer() made of one answer. */
struct bench_answer {
    enum bench_verdict verdict;
    enum bench_invalid why;     /* BENCH_INVALID: the check that failed */
    enum bench_kind kind;       /* BENCH_VALID, BENCH_INVALID: of the request answered */
    bool counted;               /* its request was counted */
    uint64_t latency_ns;        /* BENCH_VALID: now - send time */
    struct stun_addr alternate; /* BENCH_REDIRECTED: its ALTERNATE-SERVER */
};

/*
 * Sets f up with a zeroed ring of cap entries (a power of 2, at most
 * BENCH_RING_MAX). ep and tally are copied / borrowed; tally must outlive f.
 */
void bench_flow_init(struct bench_flow *f, struct bench_entry *ring, uint32_t cap,
                     uint32_t socket_id, uint32_t nonce, uint64_t timeout_ns,
                     const struct bench_endpoints *ep, struct bench_tally *tally);

/*
 * Makes a credential of a USERNAME and a PASSWORD (the HMAC-SHA1 key as
 * is, RFC 3489 §9.2). 0, or -1 when the USERNAME is empty or longer than
 * BENCH_USERNAME_MAX, or the PASSWORD is empty.
 */
int bench_credential_init(struct bench_credential *c, const void *username, size_t username_len,
                          const void *password, size_t password_len);

/*
 * Learns a long-term user from a 401 (or 438) answer of len bytes to an
 * unsigned request: REALM, NONCE and PASSWORD-ALGORITHMS, which must offer
 * alg (enum crypto_password_alg) without parameters (none at all: MD5
 * only); derives the key. 0, or -1 with a one-phrase reason in *why.
 */
int bench_longterm_init(struct bench_longterm *lt, const uint8_t *answer, size_t len, unsigned alg,
                        const char *user, size_t user_len, const char *password,
                        size_t password_len, const char **why);

/* Has f sign long-term-auth requests as lt, starting with lt's NONCE. */
void bench_flow_use_lt(struct bench_flow *f, const struct bench_longterm *lt);

/*
 * Writes the next request of kind into buf (cap >= BENCH_REQUEST_MAX) and
 * records it as outstanding, sent at now_ns. Returns its length, or 0 when
 * its ring slot still holds a request younger than the timeout (an older
 * one there is counted lost first), or kind is short-term-auth or
 * long-term-auth and the flow has no credential of that kind.
 */
size_t bench_flow_request(struct bench_flow *f, enum bench_kind kind, uint64_t now_ns, uint8_t *buf,
                          size_t cap);

/* Takes back the n most recent requests: their send failed. Not counted. */
void bench_flow_unsend(struct bench_flow *f, uint32_t n);

/*
 * Matches and checks one answer of len bytes that arrived at now_ns from
 * source (a datagram's source address; the peer for a stream), the way
 * via says. Counts the outcome in the tally; *out says what it was.
 */
void bench_flow_answer(struct bench_flow *f, const uint8_t *buf, size_t len,
                       const struct stun_addr *source, enum bench_via via, uint64_t now_ns,
                       struct bench_answer *out);

/*
 * --follow-alternate: f's UDP requests go to alt from now on (the caller
 * sends them there), and answers from alt are valid (counted followed), as
 * are those still due from the first server. false (nothing changed): alt
 * is not of the UDP socket's family, or f follows already.
 */
bool bench_flow_follow(struct bench_flow *f, const struct stun_addr *alt);

/* Counts lost the outstanding requests older than the timeout; returns how many. */
uint32_t bench_flow_expire(struct bench_flow *f, uint64_t now_ns);

/* Counts lost every outstanding request (the run is over); returns how many. */
uint32_t bench_flow_abandon(struct bench_flow *f);

/* The CHANGE-REQUEST flags sent with sequence seq: IP+port, IP, port in turn. */
uint32_t bench_change_flags(uint32_t seq);

/* Where the server answers a change-request of flags from (RFC 3489 Table 1). */
struct stun_addr bench_changed_source(const struct bench_endpoints *ep, uint32_t flags);

const char *bench_kind_name(enum bench_kind kind);
const char *bench_invalid_name(enum bench_invalid why);

#endif
