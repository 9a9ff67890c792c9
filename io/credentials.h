/*
 * RFC 3489 Shared Secret credentials: minting (the front thread, over
 * TLS) and looking up (every worker, per authenticated packet).
 *
 * A minted USERNAME is text that carries its own expiry and the address
 * it was minted for; its PASSWORD is derived from the USERNAME under a
 * derivation key (HMAC-SHA256, 128 bits kept, as hex):
 *
 *   USERNAME = hex(expiry: 4 bytes, seconds since the epoch, rounded up)
 *              hex(4 random bytes)
 *              hex(tag: first 4 bytes of HMAC-SHA256(key, "tag" || the
 *                  USERNAME's characters before and after the tag))
 *              hex(family: 1 byte) hex(port: 2 bytes) hex(IP: 4 or 16 bytes)
 *              '0' * (to a multiple of 4 characters, RFC 3489 §11.2.6)
 *   PASSWORD = hex(first 16 bytes of HMAC-SHA256(key, USERNAME))
 *
 * 40 characters for IPv4, 64 for IPv6, lowercase hex. The tag lets a
 * server that recomputes tell a name nobody minted (430) from a wrong
 * password (431). Every credential is stored in the
 * shared-secret table with its prepared key, so a lookup costs no key
 * schedule. The derivation key is random per process unless --secret-key
 * gives one: then every server holding that key can recompute any
 * credential (the table becomes a cache, and a miss is recomputed, not
 * refused; DESIGN.md "The shared-secret table").
 */
#ifndef STUNRING_IO_CREDENTIALS_H
#define STUNRING_IO_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/handler.h"

struct credentials;

enum {
    CREDENTIALS_KEY_MIN = 16, /* bytes of --secret-key material, at least */
    CREDENTIALS_KEY_MAX = 4096,
};

/*
 * Creates the table for max_entries credentials, each valid ttl_s
 * seconds. key (key_len bytes, or NULL for a random per-process key) is
 * the derivation key; stateless says a lookup miss is recomputed. Returns
 * 0 or -errno (logged).
 */
int credentials_create(struct credentials **out, unsigned max_entries, unsigned ttl_s,
                       const void *key, size_t key_len, bool stateless);

/* What one client may mint. A client is a prefix (core/attr.h stun_addr_prefix). */
struct mint_limits {
    unsigned rate_per_s;    /* mints a second, in bursts of 10 x; 0: no rate limit */
    unsigned share_percent; /* of the table one client may hold (at least 16
                             * credentials); 0 or 100: no share cap */
    unsigned prefix4, prefix6;
};

/*
 * Sets the mint limits; beyond either, a mint is refused with
 * STUN_REJECT_MINT_RATE (500). Front thread, before any mint. Returns 0 or
 * -ENOMEM.
 */
int credentials_limit_mints(struct credentials *c, const struct mint_limits *lim);

/* Mints refused because the client held its share of the table (any thread). */
uint64_t credentials_share_refusals(const struct credentials *c);

void credentials_destroy(struct credentials *c);

/*
 * Replaces the derivation key (SIGHUP re-read --secret-key; the main
 * thread): key mints and verifies from now on; previous (NULL: none) is
 * still accepted for credentials minted under it, so that a fleet can roll
 * its key over without refusing a credential. The new block is published
 * with a release store; a mint or a recompute loads it once and uses it
 * throughout, and the block it replaced is freed by credentials_collect()
 * only after a grace period.
 */
int credentials_set_key(struct credentials *c, const void *key, size_t key_len,
                        const void *previous, size_t previous_len);

/* Main thread, about once a second: frees the key blocks replaced more than
 * the grace period before now_ms (monotonic). */
void credentials_collect(struct credentials *c, uint64_t now_ms);

/* Replaced key blocks not yet freed (for tests). */
unsigned credentials_retired_keys(const struct credentials *c);

/* stun_mint_fn: the front thread's. ctx is the struct credentials. */
enum stun_status credentials_mint(void *ctx, const struct stun_addr *client, uint64_t now_ms,
                                  struct stun_minted *out);

/* stun_cred_lookup_fn: any worker. ctx is the struct credentials. */
enum stun_cred_result credentials_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out);

/*
 * Front thread: reclaims entries expired at now_ms (wall clock), paced on
 * the monotonic clock so that the whole table is swept about every
 * SECRET_GRACE_MS; call it on every loop turn.
 */
void credentials_reclaim(struct credentials *c, uint64_t now_ms);

/* Any thread (the metrics endpoint): credentials in the table now (live and
 * expired, unreclaimed); a relaxed read, as secret_table_count(). */
unsigned credentials_count(const struct credentials *c);

/*
 * Reads a --secret-key file: its bytes, minus one trailing newline, must
 * be CREDENTIALS_KEY_MIN..CREDENTIALS_KEY_MAX long. Returns the length or
 * -errno, with a message naming path in err.
 */
int credentials_read_key(const char *path, uint8_t *key, size_t cap, char *err, size_t err_cap);

#endif
