/*
 * The closed set of verdicts every core/ function returns. Each carries
 * its action: a success answer (STUN_OK, STUN_OK_MINTED), a silent drop
 * (STUN_DROP_*), or an error response to a request (STUN_REJECT_*, code
 * from stun_status_error_code()). Every value is also a counter index for
 * io/.
 */
#ifndef STUNRING_CORE_STATUS_H
#define STUNRING_CORE_STATUS_H

#include <stdbool.h>

enum stun_status {
    STUN_OK = 0,
    /* A Shared Secret Response: a fresh USERNAME and PASSWORD (RFC 3489 §8.2).
     * Its own value so that counters tell credentials from Binding answers. */
    STUN_OK_MINTED,

    /* Not answered (RFC 8489 §6.3: not STUN, or must be silently discarded). */
    STUN_DROP_SHORT,             /* fewer than 20 bytes */
    STUN_DROP_NOT_STUN,          /* leading two bits not zero */
    STUN_DROP_LENGTH,            /* length field not datagram - 20, or not a multiple of 4 */
    STUN_DROP_AFTER_FINGERPRINT, /* FINGERPRINT not last (RFC 8489 §14.7) */
    STUN_DROP_BAD_FINGERPRINT,   /* CRC mismatch (RFC 8489 §7.3) */
    STUN_DROP_RESPONSE,          /* a success or error response sent to the server */
    STUN_DROP_INDICATION,        /* an indication: never answered (RFC 8489 §6.3.2) */
    STUN_DROP_METHOD,            /* a method this server does not serve */

    /* A request gets an error response ("431 classic, 401": RFC 3489's code,
     * then RFC 5389/8489's). */
    STUN_REJECT_ATTR_OVERRUN,      /* an attribute runs past the message: 400 */
    STUN_REJECT_ATTR_INVALID,      /* known attribute with a bad length/family/value: 400 */
    STUN_REJECT_UNKNOWN_ATTR,      /* unknown comprehension-required attribute: 420 */
    STUN_REJECT_NO_INTEGRITY,      /* no MESSAGE-INTEGRITY where one is needed: 401 classic, 400 */
    STUN_REJECT_BAD_INTEGRITY,     /* HMAC mismatch: 431 classic, 401 */
    STUN_REJECT_MISSING_USERNAME,  /* MESSAGE-INTEGRITY without USERNAME: 432 classic, 400 */
    STUN_REJECT_UNKNOWN_USERNAME,  /* USERNAME never minted: 430 classic, 401 */
    STUN_REJECT_STALE_CREDENTIALS, /* USERNAME past its expiry: 430 classic, 401 */
    STUN_REJECT_SERVER_ERROR,      /* credentials could not be read or minted now: 500 */
    STUN_REJECT_MINT_RATE,         /* this address minted too often (--mint-rate): 500 */
    STUN_REJECT_MINT_SHARE,       /* this client holds its share of the table (--mint-share): 500 */
    STUN_REJECT_RESPONSE_ADDRESS, /* RESPONSE-ADDRESS, unauthenticated: 401 (RFC 3489 §8.1) */
    STUN_REJECT_BAD_RESPONSE_ADDRESS, /* unusable RESPONSE-ADDRESS (family, port 0, any): 400 */
    STUN_REJECT_RESPONSE_ADDRESS_OFF, /* authenticated RESPONSE-ADDRESS, not enabled: 420 */
    STUN_REJECT_PADDING_AND_PORT,     /* PADDING with RESPONSE-PORT: 400 (RFC 5780 §6.1) */
    STUN_REJECT_BAD_PORT,             /* RESPONSE-PORT of 0: 400 */
    STUN_REJECT_NO_ALTERNATE,         /* CHANGE-REQUEST without A2/P2, or on a stream: 420 */
    STUN_REJECT_STREAM_ONLY_UDP,      /* RESPONSE-PORT or -ADDRESS on a stream: 420 */
    STUN_REJECT_USE_TLS,              /* Shared Secret Request not over TLS: 433 (RFC 3489 §8.2) */

    /* Long-term credentials (RFC 8489 §9.2.4), modern requests only. The
     * 401s and 438s carry REALM, a fresh NONCE and PASSWORD-ALGORITHMS. */
    STUN_REJECT_LT_CHALLENGE,       /* no MESSAGE-INTEGRITY(-SHA256): 401, the challenge */
    STUN_REJECT_LT_MISSING_ATTR,    /* integrity without USERNAME/USERHASH, REALM or NONCE: 400 */
    STUN_REJECT_STALE_NONCE,        /* a nonce of ours, expired: 438 */
    STUN_REJECT_FORGED_NONCE,       /* a nonce not ours (key, client IP, format): 438 */
    STUN_REJECT_WRONG_REALM,        /* REALM not the server's: 401 */
    STUN_REJECT_PASSWORD_ALGORITHM, /* PASSWORD-ALGORITHM(S) negotiation broken: 400 */
    STUN_REJECT_LT_UNKNOWN_USER,  /* no such USERNAME/USERHASH, or no key for the algorithm: 401 */
    STUN_REJECT_LT_BAD_INTEGRITY, /* HMAC mismatch under the user's key: 401 */

    /* The destination policy (core/destination.h) refuses an authenticated
     * request's RESPONSE-ADDRESS: 400 classic (RFC 3489 has no 403; see
     * status.c), 403 Forbidden. Answered at the source, signed. */
    STUN_REJECT_DESTINATION_DENIED,

    /* RFC 8489 §10: 300 Try Alternate with ALTERNATE-SERVER, modern
     * requests only (RFC 3489 has no redirect), when io/ asks for it and an
     * alternate of the request's family is configured. Authenticated
     * requests are authenticated first and their 300 is signed. */
    STUN_REJECT_DRAINING, /* the server drains (SIGUSR2): 300 */
    STUN_REJECT_SHED,     /* the worker is past --shed-above this second: 300 */

    STUN_STATUS_COUNT
};

/* True for the statuses answered with a success response. */
static inline bool stun_status_is_success(enum stun_status s)
{
    return s == STUN_OK || s == STUN_OK_MINTED;
}

/* True for the statuses that are dropped without an answer. */
static inline bool stun_status_is_drop(enum stun_status s)
{
    return s >= STUN_DROP_SHORT && s <= STUN_DROP_METHOD;
}

/*
 * The ERROR-CODE a request gets for s: 0 for the successes and the drops. classic
 * selects RFC 3489's codes where they differ from RFC 8489's.
 */
int stun_status_error_code(enum stun_status s, bool classic);

/* A short lowercase name for logs and counters ("drop_short", ...). */
const char *stun_status_name(enum stun_status s);

/* The reason phrase for an error code, or "Error" for an unknown one. */
const char *stun_error_reason(int code);

#endif
