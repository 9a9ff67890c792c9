/*
 * Long-term credentials at run time (RFC 8489 §9.2): the --users table and
 * the nonce key, both replaced whole on SIGHUP while workers read them.
 *
 * Workers read the current pointers with acquire loads, per packet; a
 * reload publishes new ones with release stores and retires the old ones,
 * which are freed only LONGTERM_GRACE_MS later (by longterm_collect() on
 * the main thread), far longer than any worker holds a pointer (one
 * packet).
 */
#ifndef STUNRING_IO_LONGTERM_H
#define STUNRING_IO_LONGTERM_H

#include <stddef.h>
#include <stdint.h>

#include "core/handler.h"

enum { LONGTERM_GRACE_MS = 10000 };

struct longterm;

/* The fleet keys the nonce keys are derived from: key (NULL: a random
 * one) and the previous fleet key (NULL: none), still accepted. */
struct longterm_keys {
    const void *key;
    size_t key_len;
    const void *previous;
    size_t previous_len;
};

/*
 * Loads users_path for realm and prepares the nonce keys from keys.
 * Returns 0 or -errno, with a message naming the file (and line) in err.
 */
int longterm_create(struct longterm **out, const char *users_path, const char *realm,
                    const struct longterm_keys *keys, char *err, size_t err_cap);

/* Main thread: re-reads the users file and sets the nonce keys (keys
 * NULL: keep them). On error the old table keeps serving; err says why. */
int longterm_reload(struct longterm *lt, const struct longterm_keys *keys, char *err,
                    size_t err_cap);

/* Main thread: frees what reloads retired more than LONGTERM_GRACE_MS ago. */
void longterm_collect(struct longterm *lt, uint64_t now_ms);

void longterm_destroy(struct longterm *lt);

/* stun_user_keys_fn: ctx is the struct longterm. */
bool longterm_user_keys(const void *ctx, const uint8_t *id, size_t len, bool by_hash, unsigned alg,
                        struct stun_user_keys *out);

/* Where the current nonce key pointer lives, for the handler's config. */
const struct crypto_hmac_key *longterm_nonce_key(const struct longterm *lt);

/* The previous fleet key's nonce key, or NULL, for the handler's config. */
const struct crypto_hmac_key *longterm_nonce_key_previous(const struct longterm *lt);

/* Users loaded now (main thread). */
unsigned longterm_user_count(const struct longterm *lt);

#endif
