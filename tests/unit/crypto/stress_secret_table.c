/*
 * Stress test of the shared-secret table's concurrency (crypto/secret_table.c):
 * one writer minting, re-minting and reclaiming at full speed on a fake
 * clock, several readers looking up present, expiring, reclaimed and absent
 * names, for a bounded time. Built for ThreadSanitizer (ctest label tsan),
 * and run in the other builds too (label unit).
 *
 * A plain program, not Criterion: Criterion forks a runner per test, which
 * ThreadSanitizer does not follow well.
 *
 * Every successful lookup must return one whole entry: the key derived from
 * the password of the very incarnation that minted_for names, and the expiry
 * that minted_for records. A torn read (words of two writes mixed) breaks one
 * of those. Beyond that, the clock tells each reader what it may see:
 *
 *   name never minted                       -ENOENT
 *   minted before the lookup began, and
 *   the clock still before its expiry after  0, first incarnation
 *   -ENOENT for a minted name               only if the clock passed
 *                                           expiry + SECRET_GRACE_MS
 *   -EAGAIN                                 allowed, counted
 *
 *   stress_secret_table [--seconds S (3)] [--readers N (4)]
 * Exits 0 when every check held and every path was exercised, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/hmac.h"
#include "crypto/secret_table.h"

enum {
    MAX_ENTRIES = 4096, /* 8192 slots in 16 shards */
    STEP_MS = 5,        /* fake time per mint */
    TTL_MIN_MS = 100,
    TTL_SPAN_MS = 2900,
    REMINT_BACK = 700, /* re-mint among the last 700 names: 3.5 s of fake time */
    MAX_READERS = 16,
};
#define MAX_MINTS 20000000u
#define MAX_LOOKUPS 200000000u
#define NEVER_MINTED ((uint64_t)1 << 40) /* ids from here on are never inserted */

static struct secret_table *table;
static uint64_t fake_clock; /* ms; the writer stores it (release) before using it */
static uint64_t minted;     /* ids below it were inserted (release, after the insert) */
static int stop;

struct counts {
    uint64_t hit, stale, absent, again, failed;
    uint64_t mint, remint, eexist, reclaimed, enospc;
};

static uint64_t ttl_of(uint64_t id, uint64_t incarnation)
{
    return TTL_MIN_MS + ((id * 2654435761u) ^ incarnation) % TTL_SPAN_MS;
}

/* The first incarnation of id is minted at id * STEP_MS (its incarnation number). */
static uint64_t first_expiry(uint64_t id) { return id * STEP_MS + ttl_of(id, id * STEP_MS); }

static size_t name_of(uint64_t id, char *out)
{
    int n = snprintf(out, SECRET_USERNAME_MAX + 1, "u%" PRIu64 "-", id);
    size_t fill = id % 40;
    memset(out + n, 'a' + (int)(id % 26), fill);
    return (size_t)n + fill;
}

static size_t password_of(uint64_t id, uint64_t incarnation, char *out)
{
    return (size_t)snprintf(out, 64, "pw/%" PRIu64 "/%" PRIu64, id, incarnation);
}

/* minted_for: id, incarnation, low 32 bits of the expiry. */
static void minted_for_of(uint64_t id, uint64_t incarnation, uint64_t expiry, uint8_t out[20])
{
    uint32_t e32 = (uint32_t)expiry;
    memcpy(out, &id, 8);
    memcpy(out + 8, &incarnation, 8);
    memcpy(out + 16, &e32, 4);
}

static int mint(uint64_t id, uint64_t now)
{
    char name[SECRET_USERNAME_MAX + 1], pw[64];
    uint8_t mf[20];
    uint64_t expiry = now + ttl_of(id, now);
    size_t len = name_of(id, name), pw_len = password_of(id, now, pw);
    minted_for_of(id, now, expiry, mf);
    return secret_table_insert(table, name, len, pw, pw_len, expiry, mf, sizeof(mf), now);
}

static void *writer(void *arg)
{
    struct counts *c = arg;
    uint64_t rng = 88172645463325252u;
    for (uint64_t id = 1; id < MAX_MINTS && !__atomic_load_n(&stop, __ATOMIC_RELAXED); id++) {
        uint64_t now = id * STEP_MS;
        __atomic_store_n(&fake_clock, now, __ATOMIC_RELEASE);
        int r = mint(id, now);
        c->mint += r == 0;
        c->enospc += r == -ENOSPC;
        __atomic_store_n(&minted, id + 1, __ATOMIC_RELEASE);

        /* Re-mint a recent name: replaced in place once it has expired. */
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        if (id > REMINT_BACK) {
            r = mint(id - 1 - rng % REMINT_BACK, now);
            c->remint += r == 0;
            c->eexist += r == -EEXIST;
            c->enospc += r == -ENOSPC;
        }
        c->reclaimed += secret_table_reclaim(table, now);
    }
    return NULL;
}

static void hmac_of(const struct crypto_hmac_key *key, uint8_t out[CRYPTO_SHA1_LEN])
{
    static const char text[] = "stunring stress: a fixed message";
    struct crypto_span part = {text, sizeof(text) - 1};
    crypto_hmac(key, &part, 1, out);
}

/* An entry is whole: key, expiry and minted_for all from one incarnation of id. */
static bool entry_whole(uint64_t id, const struct secret_entry *e, uint64_t now1, uint64_t now2)
{
    uint64_t mf_id, incarnation;
    uint32_t e32;
    if (e->minted_for_len != 20)
        return false;
    memcpy(&mf_id, e->minted_for, 8);
    memcpy(&incarnation, e->minted_for + 8, 8);
    memcpy(&e32, e->minted_for + 16, 4);
    if (mf_id != id || e32 != (uint32_t)e->expiry_ms || e->expiry_ms <= now1 ||
        incarnation > now2 || e->expiry_ms != incarnation + ttl_of(id, incarnation))
        return false;

    char pw[64];
    struct crypto_hmac_key want_key;
    uint8_t want[CRYPTO_SHA1_LEN], got[CRYPTO_SHA1_LEN];
    crypto_hmac_key_init(&want_key, CRYPTO_HMAC_SHA1, pw, password_of(id, incarnation, pw));
    hmac_of(&want_key, want);
    hmac_of(&e->key, got);
    return memcmp(want, got, sizeof(want)) == 0;
}

/* Whether result r of looking up id between clock readings now1 and now2 is allowed. */
static bool result_allowed(uint64_t id, bool was_minted, int r, const struct secret_entry *e,
                           uint64_t now1, uint64_t now2)
{
    if (r == -EAGAIN)
        return true;
    if (r == 0 && !entry_whole(id, e, now1, now2))
        return false;
    if (id >= NEVER_MINTED)
        return r == -ENOENT;
    if (!was_minted)
        return r == 0 || r == -ENOENT;
    if (now2 < first_expiry(id)) /* no re-mint, no removal can have happened */
        return r == 0 && e->expiry_ms == first_expiry(id);
    if (r == -ENOENT) /* removed: expired for the grace period, on the writer's clock */
        return now2 >= first_expiry(id) + SECRET_GRACE_MS;
    if (r == -ESTALE) /* every incarnation expires at or after the first */
        return now1 >= first_expiry(id);
    return r == 0;
}

/* Fresh, expiring, re-minted, reclaimed, racing the insert, never minted. */
static uint64_t pick_id(uint64_t *rng, uint64_t n)
{
    *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
    uint64_t x = *rng >> 8, pick = x % 100, back;
    x /= 100;
    if (pick < 10)
        return NEVER_MINTED + x % 1000000;
    if (pick < 20)
        return n + x % 4;
    back = pick < 55 ? x % 40 : pick < 90 ? x % 800 : x % 4000;
    return back + 1 < n ? n - 1 - back : n;
}

static void *reader(void *arg)
{
    struct counts *c = arg;
    uint64_t rng = 0x9e3779b97f4a7c15u ^ (uintptr_t)arg;
    for (uint64_t k = 0; k < MAX_LOOKUPS && !__atomic_load_n(&stop, __ATOMIC_RELAXED); k++) {
        char name[SECRET_USERNAME_MAX + 1];
        struct secret_entry e;
        uint64_t now1 = __atomic_load_n(&fake_clock, __ATOMIC_ACQUIRE);
        uint64_t n = __atomic_load_n(&minted, __ATOMIC_ACQUIRE);
        uint64_t id = pick_id(&rng, n);
        int r = secret_table_lookup(table, name, name_of(id, name), now1, &e);
        uint64_t now2 = __atomic_load_n(&fake_clock, __ATOMIC_ACQUIRE);

        c->hit += r == 0;
        c->stale += r == -ESTALE;
        c->absent += r == -ENOENT;
        c->again += r == -EAGAIN;
        if (!result_allowed(id, id < n, r, &e, now1, now2) && c->failed++ < 5)
            fprintf(stderr,
                    "reader: id %" PRIu64 " (minted below %" PRIu64 ") -> %d at %" PRIu64
                    "..%" PRIu64 " ms, first expiry %" PRIu64 "\n",
                    id, n, r, now1, now2, first_expiry(id));
    }
    return NULL;
}

static bool parse_args(int argc, char **argv, long *seconds, long *readers)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            *seconds = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
            *readers = strtol(argv[++i], NULL, 10);
        else
            return false;
    }
    return *seconds >= 1 && *seconds <= 600 && *readers >= 1 && *readers <= MAX_READERS;
}

/* Sums the readers' counts into total; prints and judges the run. */
static int report(const struct counts *w, const struct counts *r, long readers)
{
    struct counts t = {0};
    for (long i = 0; i < readers; i++) {
        t.hit += r[i].hit;
        t.stale += r[i].stale;
        t.absent += r[i].absent;
        t.again += r[i].again;
        t.failed += r[i].failed;
    }
    printf("writer: %" PRIu64 " minted, %" PRIu64 " re-minted, %" PRIu64 " -EEXIST, %" PRIu64
           " reclaimed, %" PRIu64 " -ENOSPC; %u entries, %u tombstones at the end\n",
           w->mint, w->remint, w->eexist, w->reclaimed, w->enospc, secret_table_count(table),
           secret_table_tombstones(table));
    printf("readers: %" PRIu64 " hits, %" PRIu64 " -ESTALE, %" PRIu64 " -ENOENT, %" PRIu64
           " -EAGAIN, %" PRIu64 " inconsistent\n",
           t.hit, t.stale, t.absent, t.again, t.failed);
    bool exercised = t.hit > 0 && t.stale > 0 && t.absent > 0 && w->remint > 0 && w->reclaimed > 0;
    if (!exercised)
        printf("FAIL: a path was never exercised\n");
    if (t.failed > 0 || w->enospc > 0)
        printf("FAIL: %" PRIu64 " inconsistent lookups, %" PRIu64 " unexpected -ENOSPC\n", t.failed,
               w->enospc);
    return exercised && t.failed == 0 && w->enospc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    long seconds = 3, readers = 4;
    static struct counts wc, rc[MAX_READERS];
    pthread_t wt, rt[MAX_READERS];

    if (!parse_args(argc, argv, &seconds, &readers)) {
        fprintf(stderr, "usage: %s [--seconds 1..600 (3)] [--readers 1..%d (4)]\n", argv[0],
                MAX_READERS);
        return 2;
    }
    if (secret_table_create(&table, MAX_ENTRIES) != 0) {
        fprintf(stderr, "secret_table_create failed\n");
        return 1;
    }
    pthread_create(&wt, NULL, writer, &wc);
    for (long i = 0; i < readers; i++)
        pthread_create(&rt[i], NULL, reader, &rc[i]);
    struct timespec ts = {seconds, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(wt, NULL);
    for (long i = 0; i < readers; i++)
        pthread_join(rt[i], NULL);
    int status = report(&wc, rc, readers);
    secret_table_destroy(table);
    return status;
}
