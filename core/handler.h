/*
 * The request handler: the server's policy, pure. Given one received
 * datagram (or one framed stream message) and where it came from, decide
 * the answer and write it: which response, sent from which of the local
 * endpoints, to which destination.
 *
 * The four endpoints of one address family (RFC 3489 §9, RFC 5780 §4):
 *
 *            primary port P1   alternate port P2
 *   A1       STUN_EP_A1P1      STUN_EP_A1P2
 *   A2       STUN_EP_A2P1      STUN_EP_A2P2
 *
 * bit 0 of an endpoint index is "alternate port", bit 1 "alternate
 * address", so CHANGE-REQUEST is an XOR on the index (RFC 3489 Table 1).
 *
 * Thread-safe: everything it reads is const; it writes only *reply and out,
 * and, for a Shared Secret Request over TLS, the table cfg->mint writes
 * (only the one thread that serves TLS passes tls = true).
 */
#ifndef STUNRING_CORE_HANDLER_H
#define STUNRING_CORE_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/destination.h"
#include "core/status.h"
#include "crypto/hmac.h"

enum stun_endpoint {
    STUN_EP_A1P1 = 0,
    STUN_EP_A1P2 = 1,
    STUN_EP_A2P1 = 2,
    STUN_EP_A2P2 = 3,
    STUN_EP_COUNT = 4,
};

enum {
    STUN_EP_ALT_PORT = 1,
    STUN_EP_ALT_ADDRESS = 2,
};

/* The local endpoints of one family, as io/ bound them. */
struct stun_endpoints {
    /* Address and port of each endpoint. An all-zero IP is a wildcard
     * bind: the address the request arrived at stands in for it. */
    struct stun_addr addr[STUN_EP_COUNT];
    /* True when A2 and P2 exist (RFC 5780 §6.1: CHANGE-REQUEST, OTHER-
     * ADDRESS). False: only A1P1 is valid. */
    bool alternate;
};

/* --auth: what Binding Requests must prove (short-term credentials). */
enum stun_auth_mode {
    STUN_AUTH_NONE = 0, /* MESSAGE-INTEGRITY is ignored; nothing is signed */
    STUN_AUTH_OPTIONAL, /* with MESSAGE-INTEGRITY: verified, answer signed; without: answered */
    STUN_AUTH_REQUIRED, /* every Binding Request must authenticate */
};

/* What a short-term USERNAME lookup found. */
enum stun_cred_result {
    STUN_CRED_FOUND = 0,
    STUN_CRED_UNKNOWN, /* never minted (or forgotten) */
    STUN_CRED_EXPIRED, /* minted, now past its expiry */
    STUN_CRED_BUSY,    /* could not be read now (a table writer raced it): 500 */
};

/* A short-term credential: its prepared key and whom it was minted for. */
struct stun_credential {
    struct crypto_hmac_key key;  /* HMAC-SHA1, prepared from the password */
    struct stun_addr minted_for; /* RFC 3489 REFLECTED-FROM; family 0 if unknown */
};

/*
 * Looks up a USERNAME's short-term credential at now_ms. Called from any
 * worker thread, per authenticated packet: must not block or allocate.
 */
typedef enum stun_cred_result (*stun_cred_lookup_fn)(const void *ctx, const uint8_t *user,
                                                     size_t len, uint64_t now_ms,
                                                     struct stun_credential *out);

/* A freshly minted Shared Secret credential (RFC 3489 §8.2). Text, each a
 * multiple of 4 bytes long (RFC 3489 §11.2.6-11.2.7). */
struct stun_minted {
    char username[64];
    uint8_t username_len;
    char password[64];
    uint8_t password_len;
};

/*
 * Mints a credential for client at now_ms and stores it where the lookup
 * will find it. STUN_OK, STUN_REJECT_MINT_RATE (the client minted too
 * often), STUN_REJECT_MINT_SHARE (it holds its share of the table) or
 * STUN_REJECT_SERVER_ERROR (table full); all three are answered 500.
 * Called only from the one thread that serves TLS (the table's writer).
 */
typedef enum stun_status (*stun_mint_fn)(void *ctx, const struct stun_addr *client, uint64_t now_ms,
                                         struct stun_minted *out);

/* One long-term user's prepared keys under one password algorithm. */
struct stun_user_keys {
    const struct crypto_hmac_key *integrity;        /* HMAC-SHA1: MESSAGE-INTEGRITY */
    const struct crypto_hmac_key *integrity_sha256; /* HMAC-SHA256: MESSAGE-INTEGRITY-SHA256 */
};

/*
 * Finds a long-term user (RFC 8489 §9.2) by USERNAME (by_hash false) or by
 * USERHASH (by_hash true, len 32), and its keys for password algorithm alg
 * (enum crypto_password_alg: MD5 or SHA-256). false: no such user, or no
 * key for alg. The pointers stay valid until the handler returns. Called
 * from any worker, per packet: must not block or allocate.
 */
typedef bool (*stun_user_keys_fn)(const void *ctx, const uint8_t *id, size_t len, bool by_hash,
                                  unsigned alg, struct stun_user_keys *out);

/* Read-only server settings the handler needs. */
struct stun_handler_config {
    const char *software; /* SOFTWARE text, or NULL for none (the default) */
    uint16_t software_len;
    enum stun_auth_mode auth;
    stun_cred_lookup_fn lookup; /* NULL: every USERNAME is unknown */
    const void *lookup_ctx;
    stun_mint_fn mint; /* NULL: Shared Secret Requests get 500 even over TLS */
    void *mint_ctx;
    /* Honour RESPONSE-ADDRESS in authenticated requests (RFC 3489 §8.1).
     * Off (the default, DESIGN.md "Security"): they get 420 listing it. */
    bool response_address;
    /* Where a RESPONSE-ADDRESS may point (--allow-peer, --deny-peer, the
     * server's own addresses); NULL: the defaults alone. A refused one
     * gets STUN_REJECT_DESTINATION_DENIED at the source. */
    const struct stun_dest_policy *destinations;
    /* Long-term credentials (RFC 8489 §9.2), for RFC 5389/8489 requests
     * when auth is not NONE: on when realm is not NULL. */
    const char *realm;
    uint16_t realm_len;
    stun_user_keys_fn user_keys;
    const void *users_ctx;
    /* HMAC-SHA256 key of the stateless nonces (core/nonce.h). A reload
     * swaps the pointer: read it with __atomic_load_n(..., ACQUIRE). */
    const struct crypto_hmac_key *nonce_key;
    /* The nonce key of the previous fleet key (--secret-key-previous):
     * nonces made under it are still accepted; NULL: none. A reload stores
     * it before nonce_key; read it (acquire) after nonce_key. */
    const struct crypto_hmac_key *nonce_key_previous;
    unsigned nonce_ttl_s;
    /* ALTERNATE-SERVER (RFC 8489 §10, §14.15): where a redirected request
     * is sent, one per family, [0] IPv4 and [1] IPv6 (--alternate-server);
     * family 0: none of that family, and a redirect is not made. */
    struct stun_addr alternate_server[2];
    /* ALTERNATE-DOMAIN (RFC 8489 §14.16), sent beside it over TLS; NULL:
     * none (--alternate-domain). */
    const char *alternate_domain;
    uint16_t alternate_domain_len;
};

/* Whether io/ asks that a request be redirected (answered 300). */
enum stun_redirect {
    STUN_REDIRECT_NONE = 0,
    STUN_REDIRECT_DRAINING, /* SIGUSR2: STUN_REJECT_DRAINING */
    STUN_REDIRECT_SHED,     /* past --shed-above: STUN_REJECT_SHED */
};

/* One received request and where it came from. */
struct stun_request {
    const uint8_t *data; /* the datagram or framed message; borrowed */
    size_t len;
    const struct stun_addr *source; /* the client's address; borrowed */
    const struct stun_addr *local;  /* where it arrived (resolves a wildcard); borrowed */
    enum stun_endpoint arrived;     /* the endpoint it arrived on */
    const struct stun_endpoints *eps;
    bool stream;     /* TCP or TLS: no CHANGE-REQUEST, no RESPONSE-PORT */
    bool tls;        /* TLS: Shared Secret Requests are served (RFC 3489 §8.2) */
    uint64_t now_ms; /* wall clock, ms since the epoch: credential and nonce expiry */
    /* Answer 300 Try Alternate rather than the answer, when the request is
     * modern and an ALTERNATE-SERVER of its source's family is configured;
     * else it is answered as always (RFC 3489 has no 300). */
    enum stun_redirect redirect;
};

struct stun_reply {
    enum stun_status status; /* STUN_OK, the drop reason, or why it was rejected */
    size_t len;              /* bytes of the answer in out; 0 = send nothing */
    enum stun_endpoint from; /* endpoint to send from */
    struct stun_addr dest;   /* where to send it */
    /* The request proved a credential (short- or long-term); its answer is
     * signed unless its code says the credential could not be used. False
     * for every other request: the reflection cap charges those. */
    bool authenticated;
    /* The ERROR-CODE written into out (300-699), 0 for a success or no
     * answer: counted per code, since a status alone does not say it (the
     * request's style picks RFC 3489's code or RFC 8489's). */
    uint16_t code;
};

/*
 * Handles req, writing any answer into out[0..cap) (a cap of 548 bytes,
 * RFC 8489 §6.1's minimum, always suffices). The answer echoes the
 * request's style (RFC 3489 without the cookie, RFC 8489 with it).
 */
void stun_handle(const struct stun_handler_config *cfg, const struct stun_request *req,
                 uint8_t *out, size_t cap, struct stun_reply *reply);

/*
 * Amplification: the largest answer stun_handle may write to req, per
 * kind, when req does not authenticate (README "Amplification"). Every
 * count below is an attribute with its 4-byte header, padded to 4 bytes.
 *
 *  SUCCESS    header, the mapped address (XOR-MAPPED-ADDRESS, or MAPPED-
 *             ADDRESS for RFC 3489), and beside it SOURCE- and CHANGED-
 *             ADDRESS (RFC 3489) or, with an alternate address, MAPPED-
 *             ADDRESS, OTHER-ADDRESS and RESPONSE-ORIGIN (RFC 5780); SOFTWARE
 *             if configured; FINGERPRINT (RFC 8489 only); for a request
 *             longer than its header, PADDING's header, and never less than
 *             the request itself (RFC 5780 PADDING fills up to it). Over
 *             TLS, at least a Shared Secret answer (USERNAME, PASSWORD).
 *  ERROR      header, ERROR-CODE with the longest reason (32),
 *             UNKNOWN-ATTRIBUTES with STUN_MAX_UNKNOWN types, SOFTWARE,
 *             FINGERPRINT (RFC 8489 only). A 300 (ERROR-CODE of 24, an
 *             ALTERNATE-SERVER of at most 24) fits in it; over TLS its
 *             ALTERNATE-DOMAIN is added (streams are not reflected).
 *  CHALLENGE  a long-term 401 or 438 (RFC 8489 §9.2.4): ERROR plus REALM,
 *             NONCE and PASSWORD-ALGORITHMS; 0 without --realm.
 *
 * An authenticated request's answers may add REFLECTED-FROM and a
 * MESSAGE-INTEGRITY(-SHA256); they are charged to a credential, not to
 * the budget.
 */
enum stun_answer_kind {
    STUN_ANSWER_SUCCESS,
    STUN_ANSWER_ERROR,
    STUN_ANSWER_CHALLENGE,
};

size_t stun_answer_budget(const struct stun_handler_config *cfg, const struct stun_request *req,
                          enum stun_answer_kind kind);

#endif
