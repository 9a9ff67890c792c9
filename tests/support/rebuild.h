/*
 * Re-encoding a parsed message through the writer, for round-trip tests
 * and the round-trip fuzzer.
 */
#ifndef STUNRING_TESTS_REBUILD_H
#define STUNRING_TESTS_REBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"
#include "crypto/hmac.h"

/*
 * Writes m again into out[0..cap), attribute by attribute in wire order:
 * every counted address attribute is decoded and re-encoded, the counted
 * MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 are recomputed with sha1 /
 * sha256 (copied when that key is NULL), the counted FINGERPRINT is
 * recomputed, and every other attribute is copied with its padding bytes.
 * Returns the new length, or 0 if the writer failed.
 */
size_t rebuild(const struct stun_msg *m, uint8_t *out, size_t cap,
               const struct crypto_hmac_key *sha1, const struct crypto_hmac_key *sha256);

/*
 * Compares two parsed messages attribute by attribute: same header, same
 * counted attributes, equal decoded addresses, equal bytes for everything
 * but the integrity and fingerprint values. Returns NULL when equal, else
 * a description of the first difference.
 */
const char *same_meaning(const struct stun_msg *a, const struct stun_msg *b);

#endif
