/*
 * Stream framing (RFC 8489 §6.2.2): over TCP and TLS, STUN messages
 * follow one another with nothing in between, and each header's length
 * field is the only framing. Given the bytes a connection has buffered,
 * stun_frame_next says what the first of them are: a whole message, the
 * header of a message longer than the caller accepts (then the rest of it,
 * to discard), not enough yet, or not STUN at all.
 *
 * A message longer than max_len is not a broken stream: its header is
 * framed like any other, so the caller can answer it (a request gets 400,
 * stun_frame_write_too_long) and discard its body as it arrives, and the
 * next message is read in step. Only bytes that cannot be a STUN header
 * (leading bits not 00, a length not a multiple of 4) are garbage: after
 * them no boundary can be found, and the caller closes the connection.
 *
 * Pure: no allocation; the framer's state is the one counter it holds.
 */
#ifndef STUNRING_CORE_FRAME_H
#define STUNRING_CORE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum stun_frame_kind {
    STUN_FRAME_NEED_MORE, /* no verdict until more bytes arrive; consume nothing */
    STUN_FRAME_MESSAGE,   /* the first len bytes are one whole message (<= max_len) */
    STUN_FRAME_TOO_LONG,  /* a message of total bytes, over max_len: the first 20 bytes are
                             its header; consume len (the header and what is here of its body) */
    STUN_FRAME_SKIP,      /* the first len bytes are the rest of an over-long message: consume */
    STUN_FRAME_GARBAGE,   /* not STUN (why says how): no boundary can be found after it */
};

struct stun_frame {
    enum stun_frame_kind kind;
    size_t len;           /* bytes to consume (0 for NEED_MORE and GARBAGE) */
    size_t total;         /* TOO_LONG: the whole message's length, header included */
    enum stun_status why; /* GARBAGE: STUN_DROP_NOT_STUN or STUN_DROP_LENGTH */
};

/* One connection's framing state. */
struct stun_framer {
    size_t max_len; /* longest message answered whole, header included (>= 20) */
    size_t skip;    /* bytes of an over-long message still to discard */
};

static inline void stun_framer_init(struct stun_framer *fr, size_t max_len)
{
    fr->max_len = max_len;
    fr->skip = 0;
}

/*
 * What the first of the have bytes at p are. The caller consumes len bytes
 * (for MESSAGE after handling them, for TOO_LONG after answering the
 * header) and calls again on the rest. It judges as soon as the bytes it
 * needs are in, so a non-STUN client ("GET / HTTP/1.1") is turned away on
 * its first byte, without waiting for 20.
 */
struct stun_frame stun_frame_next(struct stun_framer *fr, const uint8_t *p, size_t have);

/*
 * The answer to an over-long message whose header is hdr (20 bytes): for a
 * request, a 400 error response of its method in its style (RFC 3489 when
 * it has no magic cookie), reason "Message too long", written into
 * out[0..cap); returns its length. 0: not a request (indications and
 * responses get no answer), or cap too small.
 */
size_t stun_frame_write_too_long(const uint8_t *hdr, uint8_t *out, size_t cap);

#endif
