/*
 * The shared-secret table: RFC 3489 short-term credentials (USERNAME ->
 * prepared HMAC-SHA1 key), written by one thread and read by many without
 * a lock (DESIGN.md, "The shared-secret table").
 *
 * Threads. Exactly one writer thread (the front thread, DESIGN.md
 * "Threads") calls secret_table_insert() and secret_table_reclaim(). Any
 * thread may call secret_table_count(). Any number of reader threads (the workers) call
 * secret_table_lookup() at the same time. A reader takes no lock and never
 * waits for the writer: it retries a bounded number of times when it read
 * a slot while the writer was rewriting it, then gives up (-EAGAIN).
 * create and destroy run while no other thread uses the table.
 *
 * Capacity is fixed at creation (--max-credentials): all memory is taken
 * then, nothing is allocated afterwards, and a full table refuses an
 * insert (-ENOSPC) instead of growing or blocking. An expired entry keeps
 * its slot until it has been expired for SECRET_GRACE_MS and the writer's
 * secret_table_reclaim() sweep has passed it; size the table for
 * (credentials minted per TTL + grace), not per TTL.
 *
 * Clocks are the caller's: expiry_ms and now_ms are milliseconds on one
 * monotonic clock shared by writer and readers. An entry is expired when
 * now_ms >= expiry_ms.
 */
#ifndef STUNRING_CRYPTO_SECRET_TABLE_H
#define STUNRING_CRYPTO_SECRET_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hmac.h"

enum {
    /* Longest username stored, in bytes (minted ones are far shorter). */
    SECRET_USERNAME_MAX = 64,
    /*
     * Longest "minted for" blob: the address the credential was issued to,
     * for RFC 3489 §8.1 REFLECTED-FROM. core's struct stun_addr (20 bytes)
     * fits; the table keeps bytes and a length and never looks inside.
     */
    SECRET_MINTED_FOR_MAX = 20,
    /*
     * How long an expired entry keeps its slot before reclaim may reuse
     * it. A reader's critical section (one slot read) lasts nanoseconds, or
     * one scheduler time slice if it is preempted inside it; 10 s is many
     * orders of magnitude longer, which bounds how often one slot can be
     * rewritten under a reader (see secret_table_lookup) and keeps an
     * expired credential answering -ESTALE, not -ENOENT, meanwhile.
     */
    SECRET_GRACE_MS = 10000,
    /* Largest max_entries accepted: 2^21 slots, about 720 MiB. */
    SECRET_TABLE_MAX_ENTRIES = 1 << 20,
    /* Slots one secret_table_reclaim() call visits. */
    SECRET_RECLAIM_BATCH = 256,
    /* Slot reads one lookup may retry before it answers -EAGAIN. */
    SECRET_READ_TRIES = 64,
};

struct secret_table;

/* What a successful lookup copies out: the caller's own, no pointer into the table. */
struct secret_entry {
    struct crypto_hmac_key key; /* HMAC-SHA1, prepared from the password at insert */
    uint64_t expiry_ms;
    uint8_t minted_for[SECRET_MINTED_FOR_MAX];
    uint8_t minted_for_len;
};

/*
 * Bytes the table of max_entries entries takes (its slots, 2 to 4 x
 * max_entries, a power of 2, times the bytes of one slot), as create()
 * will allocate them; 0 for a max_entries create() refuses. Pure.
 */
size_t secret_table_bytes(unsigned max_entries);

/* Bytes of one slot: what every slot costs, used or not. Pure. */
size_t secret_table_slot_bytes(void);

/*
 * Creates a table for max_entries (1..SECRET_TABLE_MAX_ENTRIES) entries:
 * 0 and *out set, -EINVAL, or -ENOMEM. The caller owns *out and frees it
 * with secret_table_destroy().
 */
int secret_table_create(struct secret_table **out, unsigned max_entries);

/* Wipes every key and frees the table. NULL is allowed. No thread may still use it. */
void secret_table_destroy(struct secret_table *t);

/*
 * Writer thread only. Stores user (1..SECRET_USERNAME_MAX bytes) with the
 * HMAC-SHA1 key prepared from password (any length; not kept), expiring at
 * expiry_ms, minted for the mf_len (0..SECRET_MINTED_FOR_MAX) bytes at
 * minted_for. Returns:
 *   0        stored; an expired entry of the same name is replaced in place
 *   -EEXIST  user is present and not expired at now_ms
 *   -ENOSPC  max_entries live (or expired, unreclaimed) entries, or the
 *            user's shard is full: never blocks; the caller answers 500,
 *            counts it, and may secret_table_reclaim() to make room
 *   -EINVAL  a length out of range, a NULL with a length, or
 *            expiry_ms <= now_ms
 * Readers see the entry whole or not at all.
 */
int secret_table_insert(struct secret_table *t, const char *user, size_t user_len,
                        const void *password, size_t pw_len, uint64_t expiry_ms,
                        const void *minted_for, size_t mf_len, uint64_t now_ms);

/*
 * Writer thread only. Visits the next SECRET_RECLAIM_BATCH slots of a
 * cursor that cycles through the table; entries expired for at least
 * SECRET_GRACE_MS at now_ms are removed and their keys wiped. Returns how
 * many entries it removed. Bounded work (SECRET_RECLAIM_BATCH slot visits,
 * each at most one rewrite; about 2 us when nothing is due, in
 * bench/bench_secret.c), so the front thread may call it on every loop
 * turn; a full cycle takes slots / SECRET_RECLAIM_BATCH calls, slots being
 * 2 to 4 x max_entries.
 */
unsigned secret_table_reclaim(struct secret_table *t, uint64_t now_ms);

/* Entries occupying a slot: live, and expired but unreclaimed. Any thread:
 * the writer stores the count with relaxed stores (it is its only writer),
 * so another thread reads a value at most a few inserts old, never torn. */
unsigned secret_table_count(const struct secret_table *t);

/*
 * Writer thread only. Freed slots kept as tombstones because a live
 * entry's probe path crosses them (diagnostics and tests; see the .c).
 */
unsigned secret_table_tombstones(const struct secret_table *t);

/* Slots in the table (fixed at creation): secret_table_reclaim() calls
 * per full cycle = slots / SECRET_RECLAIM_BATCH. Any thread. */
size_t secret_table_slots(const struct secret_table *t);

/*
 * Any thread, concurrently with the writer and other readers; lock-free,
 * no allocation, no system call. Looks user up and copies its entry into
 * *out. Returns:
 *   0        found and now_ms < expiry: *out holds key, expiry, minted_for
 *   -ENOENT  no such user (also: a length of 0 or over SECRET_USERNAME_MAX)
 *   -ESTALE  present but expired (at least until SECRET_GRACE_MS after
 *            expiry; after that -ESTALE or -ENOENT, whether or not the
 *            reclaim cursor has passed it)
 *   -EAGAIN  the writer was rewriting this very name's slot (minting,
 *            re-minting or removing user) through SECRET_READ_TRIES reads:
 *            the reader gave up rather than wait. Writes to other slots
 *            never hold a reader up, a client cannot use a name before its
 *            mint has finished, and removal waits SECRET_GRACE_MS past
 *            expiry, so practically never. Treat it as a server error
 *            for this one packet.
 * *out is unspecified unless 0 is returned. A lookup that overlaps an
 * insert or a removal of user sees it as before or after, never a mix.
 */
int secret_table_lookup(const struct secret_table *t, const char *user, size_t len, uint64_t now_ms,
                        struct secret_entry *out);

#endif
