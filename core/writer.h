/*
 * Writing a STUN message into a caller-given buffer.
 *
 * A struct stun_writer is a bounds-checked cursor. The first write that
 * would not fit (or is invalid) marks the writer failed and every later
 * write does nothing, so a caller checks once, at stun_writer_finish().
 * The header's length field is kept current after every attribute, as
 * MESSAGE-INTEGRITY, XOR addresses and FINGERPRINT need it.
 *
 * A message whose bytes 4..7 are not the magic cookie is written RFC 3489
 * style (w->classic): text attributes are padded with spaces and counted
 * in the length, UNKNOWN-ATTRIBUTES repeats an entry to reach a multiple of
 * 4 (RFC 3489 §11.2.9-11.2.10), and MESSAGE-INTEGRITY takes the RFC 3489
 * §11.2.8 form.
 *
 * Single-threaded; the writer does not own buf.
 */
#ifndef STUNRING_CORE_WRITER_H
#define STUNRING_CORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/msg.h"
#include "crypto/hmac.h"

struct stun_writer {
    uint8_t *buf;
    uint32_t cap;
    uint32_t len; /* bytes written: header + attributes */
    bool classic;
    bool failed; /* a write did not fit or was invalid */
};

/*
 * Starts a message of type in buf[0..cap): id16 is bytes 4..19 of the
 * header, the magic cookie + 96-bit transaction id, or a classic 128-bit id.
 * A buffer under 20 bytes fails the writer.
 */
void stun_writer_start(struct stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                       const uint8_t id16[16]);

/* Starts the answer of type to req, echoing its transaction id and style. */
static inline void stun_writer_start_reply(struct stun_writer *w, uint8_t *buf, size_t cap,
                                           uint16_t type, const struct stun_msg *req)
{
    stun_writer_start(w, buf, cap, type, stun_msg_id16(req));
}

/* MAPPED-ADDRESS style (RFC 8489 §14.1). */
void stun_write_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *a);
/* XOR-MAPPED-ADDRESS style (RFC 8489 §14.2), masked with this message's id. */
void stun_write_xor_addr(struct stun_writer *w, uint16_t type, const struct stun_addr *a);
/* A 4-byte value: CHANGE-REQUEST, RESPONSE-PORT (port << 16), ... */
void stun_write_u32(struct stun_writer *w, uint16_t type, uint32_t value);
/*
 * Opaque bytes, zero-padded. RFC 3489 peers expect len % 4 == 0 (its
 * §11.2 attributes all are); the caller chooses such values.
 */
void stun_write_bytes(struct stun_writer *w, uint16_t type, const void *value, size_t len);
/* len zero bytes (PADDING), written in place. */
void stun_write_zeros(struct stun_writer *w, uint16_t type, size_t len);
/* Text (SOFTWARE, REALM, ...): classic messages pad it with counted spaces. */
void stun_write_text(struct stun_writer *w, uint16_t type, const char *text, size_t len);
/* ERROR-CODE with reason (NULL: the standard phrase for code). */
void stun_write_error(struct stun_writer *w, int code, const char *reason);
/* UNKNOWN-ATTRIBUTES listing n types (n >= 1). */
void stun_write_unknown(struct stun_writer *w, const uint16_t *types, size_t n);
/*
 * MESSAGE-INTEGRITY with an HMAC-SHA1 key: RFC 5389 §15.4 form, or RFC 3489
 * §11.2.8 (zero-padded to 64 bytes) for a classic message.
 */
void stun_write_integrity(struct stun_writer *w, const struct crypto_hmac_key *key);
/* MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6), untruncated, with an HMAC-SHA256 key. */
void stun_write_integrity_sha256(struct stun_writer *w, const struct crypto_hmac_key *key);
/* FINGERPRINT (RFC 8489 §14.7); must be the last attribute written. */
void stun_write_fingerprint(struct stun_writer *w);

/* Length of the finished message, or 0 if any write failed. */
static inline size_t stun_writer_finish(const struct stun_writer *w)
{
    return w->failed ? 0 : w->len;
}

#endif
