/* Long-term credentials at run time: the users table and the nonce key. */
#include "io/longterm.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"
#include "io/clock.h"
#include "io/users.h"

/* Something a reload replaced, freed once no worker can still hold it. */
struct retired {
    struct users *db;
    struct crypto_hmac_key *nonce_key, *nonce_key_previous;
    uint64_t since_ms;
    struct retired *next;
};

struct longterm {
    char *users_path, *realm;
    struct users *db;                  /* current; acquire/release */
    struct crypto_hmac_key *nonce_key; /* current; acquire/release */
    /* From --secret-key-previous, or NULL; stored before nonce_key. */
    struct crypto_hmac_key *nonce_key_previous;
    struct retired *retired;
};

/* The nonce key: an HMAC-SHA256 key from the fleet key (a label keeps it
 * apart from the credential derivation key), or random. */
static struct crypto_hmac_key *make_nonce_key(const void *key, size_t key_len)
{
    uint8_t secret[CRYPTO_SHA256_LEN];
    if (key == NULL) {
        if (RAND_bytes(secret, sizeof(secret)) != 1)
            return NULL;
    } else {
        struct crypto_hmac_key fleet;
        static const char label[] = "stunring nonce key v1";
        struct crypto_span part = {label, sizeof(label) - 1};
        crypto_hmac_key_init(&fleet, CRYPTO_HMAC_SHA256, key, key_len);
        crypto_hmac(&fleet, &part, 1, secret);
        crypto_hmac_key_wipe(&fleet);
    }
    struct crypto_hmac_key *k = malloc(sizeof(*k));
    if (k != NULL)
        crypto_hmac_key_init(k, CRYPTO_HMAC_SHA256, secret, sizeof(secret));
    memset(secret, 0, sizeof(secret));
    return k;
}

static void free_nonce_key(struct crypto_hmac_key *k)
{
    if (k != NULL)
        crypto_hmac_key_wipe(k);
    free(k);
}

static int retire(struct longterm *lt, struct users *db, struct crypto_hmac_key *nonce_key,
                  struct crypto_hmac_key *nonce_key_previous)
{
    struct retired *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->db = db;
    r->nonce_key = nonce_key;
    r->nonce_key_previous = nonce_key_previous;
    r->since_ms = monotonic_ms();
    r->next = lt->retired;
    lt->retired = r;
    return 0;
}

int longterm_create(struct longterm **out, const char *users_path, const char *realm,
                    const struct longterm_keys *keys, char *err, size_t err_cap)
{
    struct longterm *lt = calloc(1, sizeof(*lt));
    if (lt == NULL || (lt->users_path = strdup(users_path)) == NULL ||
        (lt->realm = strdup(realm)) == NULL) {
        snprintf(err, err_cap, "out of memory");
        longterm_destroy(lt);
        return -ENOMEM;
    }
    int rc = users_load(users_path, realm, &lt->db, err, err_cap);
    if (rc == 0 &&
        ((lt->nonce_key = make_nonce_key(keys->key, keys->key_len)) == NULL ||
         (keys->previous != NULL &&
          (lt->nonce_key_previous = make_nonce_key(keys->previous, keys->previous_len)) == NULL))) {
        snprintf(err, err_cap, "nonce key: out of memory or randomness");
        rc = -ENOMEM;
    }
    if (rc != 0) {
        longterm_destroy(lt);
        return rc;
    }
    *out = lt;
    return 0;
}

/* The new nonce keys of a reload; false when one could not be made. */
static bool make_nonce_keys(const struct longterm_keys *keys, struct crypto_hmac_key **current,
                            struct crypto_hmac_key **previous)
{
    *current = make_nonce_key(keys->key, keys->key_len);
    *previous = keys->previous != NULL ? make_nonce_key(keys->previous, keys->previous_len) : NULL;
    return *current != NULL && (keys->previous == NULL || *previous != NULL);
}

int longterm_reload(struct longterm *lt, const struct longterm_keys *keys, char *err,
                    size_t err_cap)
{
    struct users *db;
    int rc = users_load(lt->users_path, lt->realm, &db, err, err_cap);
    if (rc != 0)
        return rc;
    bool new_keys = keys != NULL;
    struct crypto_hmac_key *nonce_key = NULL, *previous = NULL;
    if ((new_keys && !make_nonce_keys(keys, &nonce_key, &previous)) ||
        retire(lt, lt->db, new_keys ? lt->nonce_key : NULL,
               new_keys ? lt->nonce_key_previous : NULL) != 0) {
        users_free(db);
        free_nonce_key(nonce_key);
        free_nonce_key(previous);
        snprintf(err, err_cap, "out of memory");
        return -ENOMEM;
    }
    __atomic_store_n(&lt->db, db, __ATOMIC_RELEASE);
    if (new_keys) { /* previous first: a reader loads nonce_key, then previous */
        __atomic_store_n(&lt->nonce_key_previous, previous, __ATOMIC_RELEASE);
        __atomic_store_n(&lt->nonce_key, nonce_key, __ATOMIC_RELEASE);
    }
    return 0;
}

void longterm_collect(struct longterm *lt, uint64_t now_ms)
{
    for (struct retired **p = &lt->retired; *p != NULL;) {
        struct retired *r = *p;
        if (now_ms - r->since_ms < LONGTERM_GRACE_MS) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        users_free(r->db);
        free_nonce_key(r->nonce_key);
        free_nonce_key(r->nonce_key_previous);
        free(r);
    }
}

void longterm_destroy(struct longterm *lt)
{
    if (lt == NULL)
        return;
    longterm_collect(lt, UINT64_MAX / 2 + monotonic_ms()); /* everything */
    users_free(lt->db);
    free_nonce_key(lt->nonce_key);
    free_nonce_key(lt->nonce_key_previous);
    free(lt->users_path);
    free(lt->realm);
    free(lt);
}

bool longterm_user_keys(const void *ctx, const uint8_t *id, size_t len, bool by_hash, unsigned alg,
                        struct stun_user_keys *out)
{
    const struct longterm *lt = ctx;
    const struct users *db = __atomic_load_n(&lt->db, __ATOMIC_ACQUIRE);
    const struct user_entry *u = NULL;
    if (by_hash)
        u = len == CRYPTO_SHA256_LEN ? users_find_hash(db, id) : NULL;
    else
        u = users_find(db, id, len);
    if (u == NULL)
        return false;
    const struct user_keys *keys = NULL;
    if (alg == CRYPTO_PASSWORD_MD5 && u->has_md5)
        keys = &u->md5;
    else if (alg == CRYPTO_PASSWORD_SHA256 && u->has_sha256)
        keys = &u->sha256;
    if (keys == NULL)
        return false;
    out->integrity = &keys->integrity;
    out->integrity_sha256 = &keys->integrity_sha256;
    return true;
}

const struct crypto_hmac_key *longterm_nonce_key(const struct longterm *lt)
{
    return __atomic_load_n(&lt->nonce_key, __ATOMIC_ACQUIRE);
}

const struct crypto_hmac_key *longterm_nonce_key_previous(const struct longterm *lt)
{
    return __atomic_load_n(&lt->nonce_key_previous, __ATOMIC_ACQUIRE);
}

unsigned longterm_user_count(const struct longterm *lt) { return users_count(lt->db); }
