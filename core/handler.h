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
 * Thread-safe: everything it reads is const; it writes only *reply and out.
 */
#ifndef STUNRING_CORE_HANDLER_H
#define STUNRING_CORE_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/status.h"

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

/* Read-only server settings the handler needs. */
struct stun_handler_config {
    const char *software; /* SOFTWARE text, or NULL for none (the default) */
    uint16_t software_len;
};

/* One received request and where it came from. */
struct stun_request {
    const uint8_t *data; /* the datagram or framed message; borrowed */
    size_t len;
    const struct stun_addr *source; /* the client's address; borrowed */
    const struct stun_addr *local;  /* where it arrived (resolves a wildcard); borrowed */
    enum stun_endpoint arrived;     /* the endpoint it arrived on */
    const struct stun_endpoints *eps;
    bool stream; /* TCP or TLS: no CHANGE-REQUEST, no RESPONSE-PORT */
};

struct stun_reply {
    enum stun_status status; /* STUN_OK, the drop reason, or why it was rejected */
    size_t len;              /* bytes of the answer in out; 0 = send nothing */
    enum stun_endpoint from; /* endpoint to send from */
    struct stun_addr dest;   /* where to send it */
};

/*
 * Handles req, writing any answer into out[0..cap) (a cap of 548 bytes,
 * RFC 8489 §6.1's minimum, always suffices). The answer echoes the
 * request's style (RFC 3489 without the cookie, RFC 8489 with it).
 */
void stun_handle(const struct stun_handler_config *cfg, const struct stun_request *req,
                 uint8_t *out, size_t cap, struct stun_reply *reply);

#endif
