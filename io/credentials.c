/* Shared Secret credentials: minting, lookup, stateless recomputation. */
#include "io/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secret_table.h"
#include "io/clock.h"
#include "io/log.h"
#include "io/ratelimit.h"

enum {
    USER_RANDOM_LEN = 4, /* random bytes in a USERNAME: names minted together differ */
    USER_TAG_LEN = 4,    /* MAC bytes in a USERNAME: one we did not mint is "unknown" */
    PASSWORD_BYTES = 16, /* 128 bits (the floor), hex-encoded */
    RECLAIM_PERIOD_MS = 100,
    KEY_GRACE_MS = 10000, /* a replaced derivation key is freed this much later */
    MINT_SOURCES = 16384, /* client prefixes each mint limiter remembers at once */
    MINT_BURST_FACTOR = 10,
    MINT_SHARE_FLOOR = 16,         /* credentials a client prefix may always hold */
    MINT_SHARE_BURST_DIVISOR = 10, /* of its share, a prefix may mint this part at once */
    EXPIRY_HEX = 8,
    TAG_OFFSET = EXPIRY_HEX + 2 * USER_RANDOM_LEN, /* where the tag's hex starts */
    ADDR_OFFSET = TAG_OFFSET + 2 * USER_TAG_LEN,   /* family, port, IP */
};

_Static_assert(sizeof(struct stun_addr) <= SECRET_MINTED_FOR_MAX,
               "the table's minted-for blob holds a struct stun_addr");
_Static_assert(64 <= SECRET_USERNAME_MAX, "a minted USERNAME fits the table");

/* The derivation keys: the current one, which mints, and the previous
 * one, still accepted during a rollover. Replaced whole on reload; a
 * replaced block is freed KEY_GRACE_MS later (credentials_collect), far
 * longer than a worker or the front thread holds it (one packet). */
struct derive_key {
    struct crypto_hmac_key key;      /* HMAC-SHA256, current */
    struct crypto_hmac_key previous; /* accepted too, when has_previous */
    bool has_previous;
    uint64_t retired_ms; /* monotonic; when a reload replaced it */
    struct derive_key *next_retired;
};

struct credentials {
    struct secret_table *table;
    struct derive_key *key;     /* current; read with acquire */
    struct derive_key *retired; /* replaced, waiting out KEY_GRACE_MS; main thread */
    unsigned ttl_s;
    bool stateless;
    uint64_t next_reclaim_ms;
    struct rate_limiter *mint_limit;  /* NULL: unlimited */
    struct rate_limiter *share_limit; /* NULL: no share cap */
    unsigned max_entries;
    uint64_t share_refusals; /* mints refused by the share cap; front thread writes */
    unsigned reclaim_calls;  /* per RECLAIM_PERIOD_MS: a full sweep per grace period */
};

static const char hex_digits[] = "0123456789abcdef";

static char *put_hex(char *p, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 15];
    }
    return p;
}

static char *put_hex_number(char *p, uint64_t value, unsigned digits)
{
    for (unsigned i = digits; i-- > 0;)
        *p++ = hex_digits[(value >> (4 * i)) & 15];
    return p;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses digits hex characters; false on any non-hex (uppercase included:
 * we mint lowercase, so another spelling is not ours). */
static bool get_hex_number(const uint8_t *p, unsigned digits, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < digits; i++) {
        int d = hex_value(p[i]);
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return true;
}

/* The USERNAME's length for a client of this family (see the header). */
static size_t username_len_for(uint8_t family)
{
    size_t ip = family == STUN_FAMILY_IPV6 ? 16 : 4;
    size_t len = ADDR_OFFSET + 2 + 4 + 2 * ip;
    return (len + 3) & ~(size_t)3;
}

/* The USERNAME's tag: a MAC of every other character of it, so a server
 * of the fleet tells a name none of them minted (430) from a wrong
 * password (431) without remembering names. */
static void username_tag(const struct crypto_hmac_key *k, const uint8_t *user, size_t len,
                         uint8_t tag[USER_TAG_LEN])
{
    uint8_t mac[CRYPTO_HMAC_MAX_LEN];
    struct crypto_span parts[] = {
        {"tag", 3}, /* keeps tags apart from passwords, MACs of whole names */
        {user, TAG_OFFSET},
        {user + ADDR_OFFSET, len - ADDR_OFFSET},
    };
    crypto_hmac(k, parts, 3, mac);
    memcpy(tag, mac, USER_TAG_LEN);
}

static void derive_password(const struct crypto_hmac_key *k, const char *user, size_t len,
                            char out[2 * PASSWORD_BYTES])
{
    uint8_t mac[CRYPTO_HMAC_MAX_LEN];
    struct crypto_span part = {user, len};
    crypto_hmac(k, &part, 1, mac);
    put_hex(out, mac, PASSWORD_BYTES);
}

/* Writes the USERNAME for client, expiring at expiry_s; false if no randomness. */
static bool make_username(const struct stun_addr *client, uint64_t expiry_s,
                          struct stun_minted *out)
{
    uint8_t random[USER_RANDOM_LEN];
    if (RAND_bytes(random, sizeof(random)) != 1)
        return false;
    char *p = put_hex_number(out->username, expiry_s, EXPIRY_HEX);
    p = put_hex(p, random, sizeof(random));
    memset(p, '0', 2 * USER_TAG_LEN); /* the tag, filled in once the rest is written */
    p += 2 * USER_TAG_LEN;
    p = put_hex_number(p, client->family, 2);
    p = put_hex_number(p, client->port, 4);
    p = put_hex(p, client->ip, stun_addr_ip_len(client));
    size_t len = username_len_for(client->family);
    memset(p, '0', len - (size_t)(p - out->username));
    out->username_len = (uint8_t)len;
    return true;
}

/* Mints the name, then fills in its tag (the tag does not cover itself). */
static bool make_tagged_username(const struct crypto_hmac_key *k, const struct stun_addr *client,
                                 uint64_t expiry_s, struct stun_minted *out)
{
    if (!make_username(client, expiry_s, out))
        return false;
    uint8_t tag[USER_TAG_LEN];
    username_tag(k, (const uint8_t *)out->username, out->username_len, tag);
    put_hex(out->username + TAG_OFFSET, tag, sizeof(tag));
    return true;
}

enum stun_status credentials_mint(void *ctx, const struct stun_addr *client, uint64_t now_ms,
                                  struct stun_minted *out)
{
    struct credentials *c = ctx;
    uint64_t tick = monotonic_ms();
    if (c->mint_limit != NULL && !rate_limiter_allow(c->mint_limit, client, tick))
        return STUN_REJECT_MINT_RATE;
    if (c->share_limit != NULL && !rate_limiter_allow(c->share_limit, client, tick)) {
        __atomic_store_n(&c->share_refusals, c->share_refusals + 1, __ATOMIC_RELAXED);
        return STUN_REJECT_MINT_SHARE;
    }
    /* One key for the tag and the password, whatever a reload does meanwhile. */
    const struct derive_key *k = __atomic_load_n(&c->key, __ATOMIC_ACQUIRE);
    /* Rounded up: a credential lives at least the TTL, never a second less. */
    uint64_t expiry_s = (now_ms + 999) / 1000 + c->ttl_s;
    if (!make_tagged_username(&k->key, client, expiry_s, out)) {
        log_msg(LOG_WARN, "credentials: no randomness from OpenSSL");
        return STUN_REJECT_SERVER_ERROR;
    }
    derive_password(&k->key, out->username, out->username_len, out->password);
    out->password_len = 2 * PASSWORD_BYTES;
    int err =
        secret_table_insert(c->table, out->username, out->username_len, out->password,
                            out->password_len, expiry_s * 1000, client, sizeof(*client), now_ms);
    if (err == -ENOSPC)
        secret_table_reclaim(c->table, now_ms); /* make room for the next one, if due */
    /* With a fleet key the table is a cache: a credential it cannot hold is
     * recomputed at lookup, so a full table refuses nothing. */
    return err == 0 || (err == -ENOSPC && c->stateless) ? STUN_OK : STUN_REJECT_SERVER_ERROR;
}

/* Decodes a USERNAME we minted: its expiry and minted-for address. */
static bool parse_username(const uint8_t *user, size_t len, uint64_t *expiry_s,
                           struct stun_addr *minted_for)
{
    uint64_t family, port, byte;
    /* The family and port must be inside the name before they say its length. */
    if (len < ADDR_OFFSET + 6 || !get_hex_number(user, EXPIRY_HEX, expiry_s))
        return false;
    const uint8_t *p = user + ADDR_OFFSET;
    if (!get_hex_number(p, 2, &family) || !get_hex_number(p + 2, 4, &port))
        return false;
    if ((family != STUN_FAMILY_IPV4 && family != STUN_FAMILY_IPV6) ||
        len != username_len_for((uint8_t)family))
        return false;
    memset(minted_for, 0, sizeof(*minted_for));
    minted_for->family = (uint8_t)family;
    minted_for->port = (uint16_t)port;
    p += 6;
    for (size_t i = 0; i < stun_addr_ip_len(minted_for); i++, p += 2) {
        if (!get_hex_number(p, 2, &byte))
            return false;
        minted_for->ip[i] = (uint8_t)byte;
    }
    for (; p < user + len; p++)
        if (*p != '0')
            return false;
    /* The random part must be hex too: one spelling per credential. */
    return get_hex_number(user + EXPIRY_HEX, 2 * USER_RANDOM_LEN, &byte);
}

static bool tag_matches(const struct crypto_hmac_key *k, const uint8_t *user, size_t len)
{
    uint8_t tag[USER_TAG_LEN];
    char text[2 * USER_TAG_LEN];
    username_tag(k, user, len, tag);
    put_hex(text, tag, sizeof(tag));
    return crypto_equal(text, user + TAG_OFFSET, sizeof(text));
}

/* --secret-key: any server of the fleet derives the same password. */
static enum stun_cred_result recompute(const struct credentials *c, const uint8_t *user, size_t len,
                                       uint64_t now_ms, struct stun_credential *out)
{
    uint64_t expiry_s;
    const struct derive_key *k = __atomic_load_n(&c->key, __ATOMIC_ACQUIRE);
    if (!parse_username(user, len, &expiry_s, &out->minted_for))
        return STUN_CRED_UNKNOWN;
    /* Minted under the current key, or under the previous one. */
    const struct crypto_hmac_key *minted_with = &k->key;
    if (!tag_matches(minted_with, user, len)) {
        minted_with = &k->previous;
        if (!k->has_previous || !tag_matches(minted_with, user, len))
            return STUN_CRED_UNKNOWN;
    }
    if (now_ms >= expiry_s * 1000)
        return STUN_CRED_EXPIRED;
    char password[2 * PASSWORD_BYTES];
    derive_password(minted_with, (const char *)user, len, password);
    crypto_hmac_key_init(&out->key, CRYPTO_HMAC_SHA1, password, sizeof(password));
    return STUN_CRED_FOUND;
}

enum stun_cred_result credentials_lookup(const void *ctx, const uint8_t *user, size_t len,
                                         uint64_t now_ms, struct stun_credential *out)
{
    const struct credentials *c = ctx;
    struct secret_entry entry;
    int err = secret_table_lookup(c->table, (const char *)user, len, now_ms, &entry);
    if (err == 0) {
        out->key = entry.key;
        memset(&out->minted_for, 0, sizeof(out->minted_for));
        memcpy(&out->minted_for, entry.minted_for, entry.minted_for_len);
        crypto_hmac_key_wipe(&entry.key);
        return STUN_CRED_FOUND;
    }
    if (err == -ESTALE)
        return STUN_CRED_EXPIRED;
    if (err == -EAGAIN)
        return STUN_CRED_BUSY;
    return c->stateless ? recompute(c, user, len, now_ms, out) : STUN_CRED_UNKNOWN;
}

void credentials_reclaim(struct credentials *c, uint64_t now_ms)
{
    /* Paced on the monotonic clock: a wall clock stepped back must not
     * pause reclaiming; expiry itself is on the wall clock (now_ms). */
    uint64_t tick = monotonic_ms();
    if (tick < c->next_reclaim_ms)
        return;
    c->next_reclaim_ms = tick + RECLAIM_PERIOD_MS;
    for (unsigned i = 0; i < c->reclaim_calls; i++)
        secret_table_reclaim(c->table, now_ms);
}

unsigned credentials_count(const struct credentials *c) { return secret_table_count(c->table); }

int credentials_set_key(struct credentials *c, const void *key, size_t key_len,
                        const void *previous, size_t previous_len)
{
    struct derive_key *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    uint8_t random[32];
    if (key == NULL) {
        if (RAND_bytes(random, sizeof(random)) != 1) {
            free(k);
            return -EIO;
        }
        key = random;
        key_len = sizeof(random);
    }
    crypto_hmac_key_init(&k->key, CRYPTO_HMAC_SHA256, key, key_len);
    memset(random, 0, sizeof(random));
    if (previous != NULL) {
        crypto_hmac_key_init(&k->previous, CRYPTO_HMAC_SHA256, previous, previous_len);
        k->has_previous = true;
    }
    struct derive_key *old = c->key;
    __atomic_store_n(&c->key, k, __ATOMIC_RELEASE);
    if (old != NULL) {
        old->retired_ms = monotonic_ms();
        old->next_retired = c->retired;
        c->retired = old;
    }
    return 0;
}

static void free_key(struct derive_key *k)
{
    crypto_hmac_key_wipe(&k->key);
    crypto_hmac_key_wipe(&k->previous);
    free(k);
}

void credentials_collect(struct credentials *c, uint64_t now_ms)
{
    struct derive_key **link = &c->retired;
    while (*link != NULL) {
        struct derive_key *k = *link;
        if (now_ms < k->retired_ms + KEY_GRACE_MS) {
            link = &k->next_retired;
            continue;
        }
        *link = k->next_retired;
        free_key(k);
    }
}

unsigned credentials_retired_keys(const struct credentials *c)
{
    unsigned n = 0;
    for (const struct derive_key *k = c->retired; k != NULL; k = k->next_retired)
        n++;
    return n;
}

int credentials_create(struct credentials **out, unsigned max_entries, unsigned ttl_s,
                       const void *key, size_t key_len, bool stateless)
{
    struct credentials *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->ttl_s = ttl_s;
    c->stateless = stateless;
    c->max_entries = max_entries;
    int err = secret_table_create(&c->table, max_entries);
    if (err == 0)
        err = credentials_set_key(c, key, key_len, NULL, 0);
    if (err != 0) {
        log_msg(LOG_ERROR, "credentials: table of %u: %s", max_entries, strerror(-err));
        credentials_destroy(c);
        return err;
    }
    size_t calls_per_sweep = secret_table_slots(c->table) / SECRET_RECLAIM_BATCH + 1;
    size_t periods = SECRET_GRACE_MS / RECLAIM_PERIOD_MS;
    c->reclaim_calls = (unsigned)((calls_per_sweep + periods - 1) / periods);
    *out = c;
    return 0;
}

/*
 * The share cap as a token bucket: a credential occupies the table from
 * its mint until it is reclaimed, at most TTL + 1 s (rounding) + two grace
 * periods (expiry, then the sweep) later. A prefix can mint at most burst +
 * rate x that window in any such window, so burst + rate x window <= share
 * bounds what it holds at once. A tenth of the share is the burst, the rest
 * refills evenly over the window.
 */
static int limit_share(struct credentials *c, const struct mint_limits *lim)
{
    uint64_t share = (uint64_t)c->max_entries * lim->share_percent / 100;
    if (share < MINT_SHARE_FLOOR)
        share = MINT_SHARE_FLOOR;
    if (share >= c->max_entries)
        return 0; /* a prefix may fill the table: nothing to cap */
    uint64_t window_s = c->ttl_s + 1 + 2 * (SECRET_GRACE_MS / 1000);
    uint64_t burst = share / MINT_SHARE_BURST_DIVISOR > 0 ? share / MINT_SHARE_BURST_DIVISOR : 1;
    struct rate_limit_spec spec = {
        .sources = MINT_SOURCES,
        .milli_rate = (share - burst) * 1000 / window_s,
        .burst = (unsigned)burst,
        .prefix4 = lim->prefix4,
        .prefix6 = lim->prefix6,
    };
    return rate_limiter_new(&c->share_limit, &spec);
}

int credentials_limit_mints(struct credentials *c, const struct mint_limits *lim)
{
    rate_limiter_destroy(c->mint_limit);
    rate_limiter_destroy(c->share_limit);
    c->mint_limit = c->share_limit = NULL;
    if (lim->rate_per_s > 0) {
        struct rate_limit_spec spec = {
            .sources = MINT_SOURCES,
            .milli_rate = (uint64_t)lim->rate_per_s * 1000,
            .burst = lim->rate_per_s * MINT_BURST_FACTOR,
            .prefix4 = lim->prefix4,
            .prefix6 = lim->prefix6,
        };
        int err = rate_limiter_new(&c->mint_limit, &spec);
        if (err != 0)
            return err;
    }
    return lim->share_percent > 0 ? limit_share(c, lim) : 0;
}

uint64_t credentials_share_refusals(const struct credentials *c)
{
    return __atomic_load_n(&c->share_refusals, __ATOMIC_RELAXED);
}

void credentials_destroy(struct credentials *c)
{
    if (c == NULL)
        return;
    rate_limiter_destroy(c->mint_limit);
    rate_limiter_destroy(c->share_limit);
    secret_table_destroy(c->table);
    for (struct derive_key *k = c->retired, *next; k != NULL; k = next) {
        next = k->next_retired;
        free_key(k);
    }
    if (c->key != NULL)
        free_key(c->key);
    free(c);
}

int credentials_read_key(const char *path, uint8_t *key, size_t cap, char *err, size_t err_cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_cap, "%s: %s", path, strerror(e));
        return -e;
    }
    ssize_t n = read(fd, key, cap);
    int e = n < 0 ? errno : 0;
    close(fd);
    if (n < 0) {
        snprintf(err, err_cap, "%s: %s", path, strerror(e));
        return -e;
    }
    if (n > 0 && key[n - 1] == '\n')
        n--;
    if (n < CREDENTIALS_KEY_MIN || (size_t)n >= cap) {
        snprintf(err, err_cap, "%s: want %d to %d bytes of key, got %s%zd", path,
                 CREDENTIALS_KEY_MIN, CREDENTIALS_KEY_MAX, (size_t)n >= cap ? "more than " : "",
                 (size_t)n >= cap ? (ssize_t)cap - 1 : n);
        return -EINVAL;
    }
    return (int)n;
}
