/*
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT: computing
 * them over a message prefix, and verifying a parsed message's.
 *
 * The input of each is the message up to the attribute, with the header's
 * length field taken as if the message ended right after that attribute
 * (RFC 8489 §14.5-14.7). The buffer is never modified: the adjusted length
 * is fed to the hash separately.
 */
#ifndef STUNRING_CORE_INTEGRITY_H
#define STUNRING_CORE_INTEGRITY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/msg.h"
#include "crypto/hmac.h"

/*
 * HMAC of msg[0..attr_off) for an integrity attribute whose header is at
 * attr_off and whose value is value_len bytes. classic selects the RFC 3489
 * §11.2.8 form (input zero-padded to a multiple of 64 bytes). Writes
 * crypto_hmac_len(key) bytes to out.
 */
void stun_integrity_compute(const uint8_t *msg, uint32_t attr_off, uint16_t value_len,
                            const struct crypto_hmac_key *key, bool classic, uint8_t *out);

/* FINGERPRINT value for an attribute whose header is at attr_off. */
uint32_t stun_fingerprint_compute(const uint8_t *msg, uint32_t attr_off);

/*
 * Checks m's MESSAGE-INTEGRITY (HMAC-SHA1 key) in constant time:
 * STUN_OK, STUN_REJECT_NO_INTEGRITY if absent, STUN_REJECT_BAD_INTEGRITY.
 */
enum stun_status stun_msg_verify_integrity(const struct stun_msg *m,
                                           const struct crypto_hmac_key *key);

/*
 * Checks m's MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256 key), truncated to the
 * attribute's length (RFC 8489 §14.6). Same results.
 */
enum stun_status stun_msg_verify_integrity_sha256(const struct stun_msg *m,
                                                  const struct crypto_hmac_key *key);

/*
 * Checks m's FINGERPRINT: STUN_OK when it matches or m has none (check
 * stun_msg_has() to require one), else STUN_DROP_BAD_FINGERPRINT.
 */
enum stun_status stun_msg_check_fingerprint(const struct stun_msg *m);

#endif
