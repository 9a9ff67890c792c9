/*
 * The shared-secret table: open addressing in shards, one writer, readers
 * that take no lock, each slot guarded by a sequence counter (DESIGN.md,
 * "The shared-secret table").
 *
 * Layout. Two parallel arrays, indexed by slot:
 *
 *   heads[]   32 bytes, two per cache line: all that a probe step reads
 *             seq        even: stable; odd: the writer is inside the slot
 *             meta       state, lengths, hash (below)
 *             expiry_ms
 *   bodies[]  328 bytes, read only when the hash in meta matches
 *             user[8]        the username, zero-padded
 *             minted_for[3]  the caller's blob, zero-padded
 *             key[30]        struct crypto_hmac_key, as words
 *
 *   meta
 *    63                   32 31      24 23      16 15       8 7    2 1   0
 *   +-----------------------+----------+----------+----------+------+-----+
 *   | name hash, low 32 bits|    0     |  mf_len  | user_len |  0   |state|
 *   +-----------------------+----------+----------+----------+------+-----+
 *
 * Seqlock. Every slot change, by the one writer, follows the C11 seqlock of
 * H.-J. Boehm, "Can seqlocks get along with programming language memory
 * models?" (MSPC 2012):
 *
 *   writer  seq = s+1 (relaxed); fence(release);
 *           every head and body word (relaxed); seq = s+2 (release)
 *   reader  s1 = seq (acquire); odd: retry (but see "Waiting");
 *           the words it needs (relaxed) into a private copy;
 *           fence(acquire); s2 = seq (relaxed); s2 != s1: retry
 *
 * If the reader's copy holds any word stored after the writer's release
 * fence, its acquire fence synchronizes with that fence, so its s2 load sees
 * s+1 or later and the copy is dropped; s2 == s1 means no word came from a
 * rewrite that began after s1. The reader's s1 acquire pairs with the
 * writer's s+2 release, so a stable slot is seen complete. Every shared word
 * is accessed with __atomic builtins: a plain memcpy of a slot being
 * rewritten would be a data race (undefined in C11, and reported by
 * ThreadSanitizer) even though its result is then thrown away.
 *
 * Probing. A name hashes to a shard (top 6 bits) and a home slot in it (low
 * bits); a probe walks forward, wrapping inside the shard, to the name or to
 * an EMPTY slot. Entries never move: moving one (backward-shift deletion,
 * Robin Hood, a shard rebuild) could let a reader pass the new place before
 * the copy landed and reach the old one after it was cleared, and so miss a
 * credential that was present all along (a false 430).
 *
 * Tombstones. Removal leaves a TOMB, which probes walk past and inserts reuse
 * (the first TOMB on the name's path). Reclaim turns a TOMB into EMPTY once
 * no live entry's probe path crosses it (no live entry between it and the
 * next EMPTY has its home at or before it). Only tombstones that bridge a
 * live entry to its home remain, and they dissolve when that entry expires,
 * as every entry does within TTL + grace; so the non-empty slots are the live
 * entries and the holes in their paths, never a table clogged with
 * tombstones, and no rebuild is needed. Reclaim sweeps downwards, so a run of
 * tombstones ending at an EMPTY dissolves in one pass.
 *
 * Shards. There are no locks to spread, so shards are about the worst case:
 * a probe never leaves its shard, which bounds it by the shard's size, and
 * per-shard counts let the writer refuse an insert that would fill a shard
 * beyond 3/4 instead of growing one cluster without bound. Up to 64 shards,
 * each of at least 512 slots. The table is at most half full, so a
 * 512-slot shard holds 256 entries give or take 16 (binomial): the 3/4 cap
 * (384) is 8 standard deviations away and never trips before max_entries
 * does. Usernames are minted by the server at random, so no client can skew
 * them, and a fast unkeyed hash is enough.
 *
 * Waiting. A reader that finds a slot mid-write (odd seq) reads its meta
 * word anyway: that is the slot's state before or after the write (meta is
 * one word, stored once per write). If neither can be the name looked up,
 * the reader walks on as if the write had not started or had finished, both
 * true states of a slot that is not its name's: a write in progress on
 * another name's slot, or on a free one, never holds a reader up. Only a
 * write of the very name looked up (minting it, re-minting it, removing it
 * after its grace period) makes the reader retry, and a client cannot ask
 * for a name before its mint has finished. In the stress test (4 readers
 * and a writer on two cores, so the writer is often preempted mid-write) a
 * plain "odd: retry" gave up (-EAGAIN) on 1 lookup in 2,000 to 7,000; this
 * rule, on about 1 in 400,000, all of them names being minted or removed at
 * that instant, which the test looks up on purpose.
 *
 * Grace. The seqlock alone makes reuse safe for memory: a reader that raced
 * a rewrite notices and retries. SECRET_GRACE_MS is what makes the retry
 * bound honest: a live entry is rewritten only after it expired (replaced)
 * or after expiry + grace (removed), so the slot a reader is after changes a
 * handful of times at most while the reader is inside it, unless the reader
 * stalls for longer than the grace period.
 */
#include "crypto/secret_table.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    SHARD_BITS_MAX = 6, /* 64 shards */
    SHARD_MIN_SLOTS = 512,
    TABLE_MIN_SLOTS = 16,
    /* Slots a reclaim looks ahead to decide whether a TOMB still bridges. */
    BRIDGE_SCAN_MAX = 64,
    USER_WORDS = SECRET_USERNAME_MAX / 8,
    MF_WORDS = (SECRET_MINTED_FOR_MAX + 7) / 8,
    KEY_WORDS = sizeof(struct crypto_hmac_key) / 8,
    BODY_USER = 0,
    BODY_MF = BODY_USER + USER_WORDS,
    BODY_KEY = BODY_MF + MF_WORDS,
    BODY_WORDS = BODY_KEY + KEY_WORDS,
    MF_TAIL = SECRET_MINTED_FOR_MAX - 8 * (MF_WORDS - 1), /* bytes used of its last word */
};

_Static_assert(sizeof(struct crypto_hmac_key) % 8 == 0, "key is not whole words");
_Static_assert(SECRET_USERNAME_MAX % 8 == 0, "username is not whole words");

enum slot_state {
    SLOT_EMPTY = 0, /* never used, or freed with nothing probing past it */
    SLOT_LIVE = 1,
    SLOT_TOMB = 2,
};

/* meta: see the diagram at the top. */
#define META_STATE 0x3u
#define META_HASH_SHIFT 32
#define META_MATCH_MASK (~(uint64_t)0xff0000u) /* all but mf_len */

struct slot_head {
    uint64_t seq;
    uint64_t meta;
    uint64_t expiry_ms;
    uint64_t unused; /* pads a head to 32 bytes: two per cache line */
};

struct slot_body {
    uint64_t w[BODY_WORDS];
};

struct secret_table {
    /* Set by create, then only read: shared by every reader. */
    struct slot_head *heads;
    struct slot_body *bodies;
    size_t n_slots;
    size_t shard_mask; /* slots per shard - 1 */
    unsigned shard_bits;
    unsigned shard_cap; /* live entries one shard may hold */
    unsigned max_entries;
    /*
     * The writer's own state, on a cache line of its own so that its
     * stores do not take the line above away from the readers.
     */
    _Alignas(64) size_t cursor;
    unsigned count; /* LIVE slots */
    unsigned tombs; /* TOMB slots */
    unsigned shard_live[1u << SHARD_BITS_MAX];
};

/* A username as zero-padded words: hashed and compared a word at a time. */
struct name {
    uint64_t w[USER_WORDS];
    size_t len;
    size_t words;
};

static bool name_load(struct name *n, const char *user, size_t len)
{
    if (user == NULL || len == 0 || len > SECRET_USERNAME_MAX)
        return false;
    memset(n->w, 0, sizeof(n->w));
    memcpy(n->w, user, len);
    n->len = len;
    n->words = (len + 7) / 8;
    return true;
}

/* A multiply-xorshift over the words, then MurmurHash3's 64-bit finalizer. */
static uint64_t name_hash(const struct name *n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ n->len;
    for (size_t i = 0; i < n->words; i++) {
        h = (h ^ n->w[i]) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 33);
}

/* The meta bits a live entry for this name has, bar mf_len. */
static uint64_t name_meta(const struct name *n, uint64_t hash)
{
    return (hash << META_HASH_SHIFT) | ((uint64_t)n->len << 8) | SLOT_LIVE;
}

static size_t shard_of(const struct secret_table *t, uint64_t hash)
{
    return t->shard_bits == 0 ? 0 : (size_t)(hash >> (64 - t->shard_bits));
}

/* First slot of the name's shard; the home slot is base + (hash & shard_mask). */
static size_t shard_base(const struct secret_table *t, uint64_t hash)
{
    return shard_of(t, hash) * (t->shard_mask + 1);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/*
 * GCC warns (-Wtsan) that ThreadSanitizer does not model fences. Here that
 * costs nothing: every shared word is atomic, so no race report can depend
 * on a fence, and what the fences order is checked by the stress test's
 * consistency check (tests/unit/crypto/stress_secret_table.c).
 */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static void fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static void fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
#if defined(__SANITIZE_THREAD__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

/* ------------------------------------------------------------ reader side */

enum probe_result {
    PROBE_RETRY = 1, /* the writer was in the slot: read it again */
    PROBE_NEXT = 2,  /* not this name: walk on */
};

/*
 * Copies n words out of the table into dst (any alignment, any type). The
 * atomic loads keep the compiler from vectorizing; unrolling at least
 * drops the loop overhead (about 90 of the 400 instructions of a hit).
 */
static void load_words(void *dst, const uint64_t *src, size_t n)
{
#pragma GCC unroll 8
    for (size_t i = 0; i < n; i++) {
        uint64_t w = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        memcpy((unsigned char *)dst + 8 * i, &w, 8);
    }
}

/*
 * One seqlock read of slot i. On a hash match it copies name, key and
 * minted_for; every decision but skipping a slot being rewritten for another
 * name is taken on the validated copy. Returns 0, -ENOENT (EMPTY: the probe
 * ends), -ESTALE, PROBE_NEXT or PROBE_RETRY.
 */
static int probe_slot(const struct secret_table *t, size_t i, const struct name *n, uint64_t want,
                      uint64_t now_ms, struct secret_entry *out)
{
    const struct slot_head *h = &t->heads[i];
    uint64_t differ = 0; /* the stored name XOR n's */

    uint64_t s1 = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
    uint64_t meta = __atomic_load_n(&h->meta, __ATOMIC_RELAXED);
    bool match = (meta & META_MATCH_MASK) == want;
    if (s1 & 1) /* mid-write: see "Waiting" at the top */
        return match ? PROBE_RETRY : PROBE_NEXT;
    uint64_t expiry = __atomic_load_n(&h->expiry_ms, __ATOMIC_RELAXED);
    if (match) {
        const uint64_t *body = t->bodies[i].w;
        for (size_t k = 0; k < n->words; k++)
            differ |= __atomic_load_n(&body[BODY_USER + k], __ATOMIC_RELAXED) ^ n->w[k];
        load_words(&out->key, body + BODY_KEY, KEY_WORDS);
        load_words(out->minted_for, body + BODY_MF, MF_WORDS - 1);
        uint64_t last = __atomic_load_n(&body[BODY_MF + MF_WORDS - 1], __ATOMIC_RELAXED);
        memcpy(out->minted_for + 8 * (MF_WORDS - 1), &last, MF_TAIL);
    }
    fence_acquire();
    if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) != s1)
        return PROBE_RETRY;

    if ((meta & META_STATE) == SLOT_EMPTY)
        return -ENOENT;
    if (!match || differ != 0)
        return PROBE_NEXT;
    if (now_ms >= expiry)
        return -ESTALE;
    out->expiry_ms = expiry;
    out->minted_for_len = (uint8_t)(meta >> 16);
    return 0;
}

/*
 * Starts fetching the home slot's body while its head is fetched: a hit
 * then waits for memory once, not twice. In bench/bench_secret.c (a 45 MB
 * table walked at random) that took a hit from 520 to 380 ns and a miss,
 * which wastes the fetch, from 120 to 180 ns; hits are the common case.
 */
static void prefetch_body(const struct secret_table *t, size_t i)
{
#pragma GCC unroll 8
    for (size_t off = 0; off < sizeof(struct slot_body); off += 64)
        __builtin_prefetch((const char *)&t->bodies[i] + off);
}

int secret_table_lookup(const struct secret_table *t, const char *user, size_t len, uint64_t now_ms,
                        struct secret_entry *out)
{
    struct name n;
    if (!name_load(&n, user, len))
        return -ENOENT;
    uint64_t hash = name_hash(&n);
    uint64_t want = name_meta(&n, hash);
    size_t base = shard_base(t, hash);
    size_t pos = hash & t->shard_mask;
    unsigned tries = SECRET_READ_TRIES;
    prefetch_body(t, base + pos);

    /* At most one lap of the shard: a shard without an EMPTY slot ends the probe too. */
    for (size_t step = 0; step <= t->shard_mask; step++) {
        int r;
        while ((r = probe_slot(t, base + pos, &n, want, now_ms, out)) == PROBE_RETRY) {
            if (--tries == 0)
                return -EAGAIN;
            cpu_relax();
        }
        if (r != PROBE_NEXT)
            return r;
        pos = (pos + 1) & t->shard_mask;
    }
    return -ENOENT;
}

/* ------------------------------------------------------------ writer side */

/* The writer reads its own words; relaxed, since no one else stores them. */
static uint64_t own_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/*
 * Rewrites slot i as meta/expiry with body (NULL: zeroes, which also wipes
 * a removed key), by the writer half of the seqlock (top of file).
 */
static void slot_publish(struct secret_table *t, size_t i, uint64_t meta, uint64_t expiry_ms,
                         const struct slot_body *body)
{
    struct slot_head *h = &t->heads[i];
    uint64_t s = own_load(&h->seq);

    __atomic_store_n(&h->seq, s + 1, __ATOMIC_RELAXED);
    fence_release(); /* no store below is seen before the odd seq is */
    for (size_t k = 0; k < BODY_WORDS; k++)
        __atomic_store_n(&t->bodies[i].w[k], body != NULL ? body->w[k] : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&h->meta, meta, __ATOMIC_RELAXED);
    __atomic_store_n(&h->expiry_ms, expiry_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&h->seq, s + 2, __ATOMIC_RELEASE); /* publishes all of the above */
}

static bool slot_holds(const struct secret_table *t, size_t i, const struct name *n, uint64_t want)
{
    if ((own_load(&t->heads[i].meta) & META_MATCH_MASK) != want)
        return false;
    for (size_t k = 0; k < n->words; k++)
        if (own_load(&t->bodies[i].w[BODY_USER + k]) != n->w[k])
            return false;
    return true;
}

/*
 * Finds where n goes: its own slot if present (*replace), else the first
 * TOMB or the EMPTY that ends its path. 0, -EEXIST or -ENOSPC (no free slot
 * in the whole shard).
 */
static int find_slot(const struct secret_table *t, const struct name *n, uint64_t hash,
                     uint64_t now_ms, size_t *slot, bool *replace)
{
    size_t base = shard_base(t, hash), pos = hash & t->shard_mask;
    uint64_t want = name_meta(n, hash);
    size_t free_slot = SIZE_MAX;

    for (size_t step = 0; step <= t->shard_mask; step++, pos = (pos + 1) & t->shard_mask) {
        size_t i = base + pos;
        unsigned state = own_load(&t->heads[i].meta) & META_STATE;
        if (state != SLOT_LIVE && free_slot == SIZE_MAX)
            free_slot = i;
        if (state == SLOT_EMPTY)
            break; /* the name cannot lie further on */
        if (state == SLOT_LIVE && slot_holds(t, i, n, want)) {
            if (now_ms < own_load(&t->heads[i].expiry_ms))
                return -EEXIST;
            *slot = i;
            *replace = true;
            return 0;
        }
    }
    if (free_slot == SIZE_MAX)
        return -ENOSPC;
    *slot = free_slot;
    *replace = false;
    return 0;
}

/* The body of a new entry; the key schedule runs here, once, not per packet. */
static void body_build(struct slot_body *b, const struct name *n, const void *password,
                       size_t pw_len, const void *minted_for, size_t mf_len)
{
    struct crypto_hmac_key key;
    memset(b, 0, sizeof(*b));
    memcpy(&b->w[BODY_USER], n->w, sizeof(n->w));
    if (mf_len > 0)
        memcpy(&b->w[BODY_MF], minted_for, mf_len);
    crypto_hmac_key_init(&key, CRYPTO_HMAC_SHA1, password, pw_len);
    memcpy(&b->w[BODY_KEY], &key, sizeof(key));
    crypto_hmac_key_wipe(&key);
}

int secret_table_insert(struct secret_table *t, const char *user, size_t user_len,
                        const void *password, size_t pw_len, uint64_t expiry_ms,
                        const void *minted_for, size_t mf_len, uint64_t now_ms)
{
    struct name n;
    if (!name_load(&n, user, user_len) || (password == NULL && pw_len > 0) ||
        mf_len > SECRET_MINTED_FOR_MAX || (minted_for == NULL && mf_len > 0) || expiry_ms <= now_ms)
        return -EINVAL;
    uint64_t hash = name_hash(&n);
    size_t i, shard = shard_of(t, hash);
    bool replace;
    int r = find_slot(t, &n, hash, now_ms, &i, &replace);
    if (r < 0)
        return r;
    if (!replace && (t->count >= t->max_entries || t->shard_live[shard] >= t->shard_cap))
        return -ENOSPC;

    if (!replace && (own_load(&t->heads[i].meta) & META_STATE) == SLOT_TOMB)
        t->tombs--;
    struct slot_body body;
    body_build(&body, &n, password, pw_len, minted_for, mf_len);
    slot_publish(t, i, name_meta(&n, hash) | ((uint64_t)mf_len << 16), expiry_ms, &body);
    OPENSSL_cleanse(&body, sizeof(body));
    if (!replace) {
        __atomic_store_n(&t->count, t->count + 1, __ATOMIC_RELAXED); /* any thread reads it */
        t->shard_live[shard]++;
    }
    return 0;
}

/*
 * Whether a live entry's probe path crosses slot i (0..shard_mask within
 * the shard at base): a live entry further on, before the next EMPTY, whose
 * home is at or before i. Looks BRIDGE_SCAN_MAX slots ahead at most and
 * answers true past that: keeping a tombstone is always safe.
 */
static bool bridges(const struct secret_table *t, size_t base, size_t i)
{
    size_t mask = t->shard_mask;
    size_t limit = mask < BRIDGE_SCAN_MAX ? mask : BRIDGE_SCAN_MAX;
    for (size_t d = 1; d <= limit; d++) {
        size_t k = (i + d) & mask;
        uint64_t meta = own_load(&t->heads[base + k].meta);
        unsigned state = meta & META_STATE;
        if (state == SLOT_EMPTY)
            return false;
        size_t home = (meta >> META_HASH_SHIFT) & mask;
        /* i lies on home..k-1, the path of the entry at k */
        if (state == SLOT_LIVE && ((i - home) & mask) < ((k - home) & mask))
            return true;
    }
    return limit < mask; /* gave up before a full lap */
}

/* Frees slot g if it holds an entry past expiry + grace, or is a TOMB no path needs. */
static unsigned reclaim_slot(struct secret_table *t, size_t g, uint64_t now_ms)
{
    const struct slot_head *h = &t->heads[g];
    unsigned state = own_load(&h->meta) & META_STATE;
    uint64_t expiry = own_load(&h->expiry_ms);

    if (state == SLOT_EMPTY)
        return 0;
    if (state == SLOT_LIVE && (now_ms < expiry || now_ms - expiry < SECRET_GRACE_MS))
        return 0;
    size_t shard_slots = t->shard_mask + 1, base = g / shard_slots * shard_slots;
    enum slot_state next = bridges(t, base, g - base) ? SLOT_TOMB : SLOT_EMPTY;
    if (state == SLOT_TOMB) {
        if (next == SLOT_EMPTY) {
            slot_publish(t, g, SLOT_EMPTY, 0, NULL);
            t->tombs--;
        }
        return 0;
    }
    slot_publish(t, g, next, 0, NULL); /* zeroes the body: the key is wiped */
    t->tombs += next == SLOT_TOMB;
    __atomic_store_n(&t->count, t->count - 1, __ATOMIC_RELAXED);
    t->shard_live[g / shard_slots]--;
    return 1;
}

unsigned secret_table_reclaim(struct secret_table *t, uint64_t now_ms)
{
    unsigned removed = 0;
    size_t batch = t->n_slots < SECRET_RECLAIM_BATCH ? t->n_slots : SECRET_RECLAIM_BATCH;
    for (size_t k = 0; k < batch; k++) {
        /* Downwards: a TOMB's successor is visited, and maybe emptied, first. */
        t->cursor = (t->cursor == 0 ? t->n_slots : t->cursor) - 1;
        removed += reclaim_slot(t, t->cursor, now_ms);
    }
    return removed;
}

unsigned secret_table_count(const struct secret_table *t)
{
    return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}

unsigned secret_table_tombstones(const struct secret_table *t) { return t->tombs; }

size_t secret_table_slots(const struct secret_table *t) { return t->n_slots; }

/* ------------------------------------------------------------ lifetime */

/* Slots for max_entries: a power of 2, at least twice as many. */
static size_t slots_for(unsigned max_entries)
{
    size_t n_slots = TABLE_MIN_SLOTS;
    while (n_slots < 2 * (size_t)max_entries)
        n_slots <<= 1;
    return n_slots;
}

size_t secret_table_slot_bytes(void) { return sizeof(struct slot_head) + sizeof(struct slot_body); }

size_t secret_table_bytes(unsigned max_entries)
{
    if (max_entries == 0 || max_entries > SECRET_TABLE_MAX_ENTRIES)
        return 0;
    return slots_for(max_entries) * secret_table_slot_bytes();
}

int secret_table_create(struct secret_table **out, unsigned max_entries)
{
    *out = NULL;
    if (max_entries == 0 || max_entries > SECRET_TABLE_MAX_ENTRIES)
        return -EINVAL;
    size_t n_slots = slots_for(max_entries);
    unsigned shard_bits = 0;
    while (shard_bits < SHARD_BITS_MAX && (n_slots >> (shard_bits + 1)) >= SHARD_MIN_SLOTS)
        shard_bits++;

    struct secret_table *t = aligned_alloc(_Alignof(struct secret_table), sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    memset(t, 0, sizeof(*t));
    t->n_slots = n_slots;
    /* Zeroed memory is all EMPTY slots with even sequence numbers. */
    t->heads = aligned_alloc(64, n_slots * sizeof(struct slot_head));
    t->bodies = calloc(n_slots, sizeof(struct slot_body));
    if (t->heads == NULL || t->bodies == NULL) {
        secret_table_destroy(t);
        return -ENOMEM;
    }
    memset(t->heads, 0, n_slots * sizeof(struct slot_head));
    t->shard_bits = shard_bits;
    t->shard_mask = (n_slots >> shard_bits) - 1;
    t->shard_cap = (unsigned)((n_slots >> shard_bits) / 4 * 3);
    t->max_entries = max_entries;
    *out = t;
    return 0;
}

void secret_table_destroy(struct secret_table *t)
{
    if (t == NULL)
        return;
    if (t->bodies != NULL)
        OPENSSL_cleanse(t->bodies, t->n_slots * sizeof(struct slot_body));
    free(t->bodies);
    free(t->heads);
    free(t);
}
