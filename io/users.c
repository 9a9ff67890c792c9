/* The --users file: parsing, key preparation, and the two lookup indexes. */
#include "io/users.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"

enum {
    USERS_MAX = 1 << 24, /* keeps index sizes far from overflow */
    MD5_HEX = 2 * CRYPTO_MD5_LEN,
    SHA256_HEX = 2 * CRYPTO_SHA256_LEN,
};

/*
 * Immutable after users_load(): entries in file order, and two
 * open-addressed (linear probing) tables of pointers to them, at most half
 * full, so a miss ends at an empty slot after a few probes.
 */
struct users {
    struct user_entry **entries;
    unsigned count;
    const struct user_entry **by_name;
    const struct user_entry **by_hash;
    size_t mask; /* slots - 1; slots is a power of two */
};

/* What a parsed line gives, before it becomes an entry. */
struct line_keys {
    bool has_md5, has_sha256;
    uint8_t md5[CRYPTO_HMAC_MAX_LEN]; /* CRYPTO_MD5_LEN used; crypto_longterm_key's size */
    uint8_t sha256[CRYPTO_HMAC_MAX_LEN];
};

struct loader {
    const char *path;
    const char *realm;
    size_t realm_len;
    unsigned line_no;
    char *err;
    size_t err_cap;
    struct users *db;
    unsigned *lines; /* line of each entry, for duplicate messages */
    unsigned cap;
};

/* ---- validation shared by the loader and the line formatters ---- */

static bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)s[i]))
            return true;
    return false;
}

static const char *check_name(const char *name, size_t len)
{
    if (len == 0)
        return "empty user name";
    if (len > USERS_NAME_MAX)
        return "user name longer than 508 bytes (RFC 8489 §14.3)";
    if (memchr(name, ':', len) != NULL)
        return "user name contains ':'";
    return has_control(name, len) ? "user name contains a control character" : NULL;
}

static const char *check_password(const char *password, size_t len)
{
    if (len == 0)
        return "empty password";
    return has_control(password, len) ? "password contains a control character" : NULL;
}

/* ---- hashing for the indexes (not cryptographic: keys come from the file) ---- */

static uint64_t name_hash(const uint8_t *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

static uint64_t userhash_hash(const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h)); /* already SHA-256: any 8 bytes will do */
    return h;
}

/* ---- errors ---- */

__attribute__((format(printf, 2, 3))) static int fail(struct loader *l, const char *fmt, ...)
{
    int n = snprintf(l->err, l->err_cap, "%s:%u: ", l->path, l->line_no);
    if (n >= 0 && (size_t)n < l->err_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->err + n, l->err_cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int fail_errno(struct loader *l, int err)
{
    snprintf(l->err, l->err_cap, "%s: %s", l->path, strerror(err));
    return -err;
}

/* ---- one entry ---- */

static void entry_wipe_free(struct user_entry *e)
{
    if (e == NULL)
        return;
    crypto_hmac_key_wipe(&e->md5.integrity);
    crypto_hmac_key_wipe(&e->md5.integrity_sha256);
    crypto_hmac_key_wipe(&e->sha256.integrity);
    crypto_hmac_key_wipe(&e->sha256.integrity_sha256);
    free(e);
}

/* Both MACs' key schedules for one long-term key (RFC 8489 §14.5, §14.6). */
static int prepare(struct user_keys *k, const uint8_t *key, size_t key_len)
{
    int rc = crypto_hmac_key_init(&k->integrity, CRYPTO_HMAC_SHA1, key, key_len);
    return rc < 0 ? rc
                  : crypto_hmac_key_init(&k->integrity_sha256, CRYPTO_HMAC_SHA256, key, key_len);
}

/* A new entry, the name stored after it. */
static struct user_entry *entry_new(const struct loader *l, const char *name, size_t len,
                                    const struct line_keys *keys)
{
    struct user_entry *e = calloc(1, sizeof(*e) + len + 1);
    if (e == NULL)
        return NULL;
    char *copy = (char *)(e + 1);
    memcpy(copy, name, len);
    e->name = copy;
    e->name_len = len;
    e->has_md5 = keys->has_md5;
    e->has_sha256 = keys->has_sha256;
    if ((keys->has_md5 && prepare(&e->md5, keys->md5, CRYPTO_MD5_LEN) < 0) ||
        (keys->has_sha256 && prepare(&e->sha256, keys->sha256, CRYPTO_SHA256_LEN) < 0) ||
        crypto_userhash(name, len, l->realm, l->realm_len, e->userhash) < 0) {
        entry_wipe_free(e);
        return NULL;
    }
    return e;
}

static int append(struct loader *l, struct user_entry *e)
{
    struct users *db = l->db;
    if (db->count == USERS_MAX) {
        entry_wipe_free(e);
        return fail(l, "more than %u users", (unsigned)USERS_MAX);
    }
    if (db->count == l->cap) {
        /* Only pointers move: key material is never copied and left behind. */
        unsigned cap = l->cap ? l->cap * 2 : 64;
        struct user_entry **entries = realloc(db->entries, cap * sizeof(*entries));
        if (entries != NULL)
            db->entries = entries;
        unsigned *lines = realloc(l->lines, cap * sizeof(*lines));
        if (lines != NULL)
            l->lines = lines;
        if (entries == NULL || lines == NULL) {
            entry_wipe_free(e);
            return fail_errno(l, ENOMEM);
        }
        l->cap = cap;
    }
    l->lines[db->count] = l->line_no;
    db->entries[db->count++] = e;
    return 0;
}

/* ---- the password field ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "-" (absent: false) or exactly 2 * n hex digits into out (true); -1 if neither. */
static int parse_hex_key(const char *s, size_t len, uint8_t *out, size_t n)
{
    if (len == 1 && s[0] == '-')
        return 0;
    if (len != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

static const char *last_dollar(const char *s, size_t len)
{
    while (len > 0 && s[len - 1] != '$')
        len--;
    return len > 0 ? s + len - 1 : NULL;
}

/* "REALM$MD5HEX$SHA256HEX" (after "$key$") into keys. */
static int parse_key_form(struct loader *l, const char *s, size_t len, struct line_keys *keys)
{
    const char *sha = last_dollar(s, len);
    const char *md5 = sha ? last_dollar(s, (size_t)(sha - s)) : NULL;
    if (md5 == NULL)
        return fail(l, "want USER:$key$REALM$MD5HEX$SHA256HEX");
    const char *end = s + len;
    size_t realm_len = (size_t)(md5 - s);
    int m = parse_hex_key(md5 + 1, (size_t)(sha - md5 - 1), keys->md5, CRYPTO_MD5_LEN);
    int h = parse_hex_key(sha + 1, (size_t)(end - sha - 1), keys->sha256, CRYPTO_SHA256_LEN);
    if (m < 0)
        return fail(l, "MD5 key: want 32 hex digits or '-'");
    if (h < 0)
        return fail(l, "SHA-256 key: want 64 hex digits or '-'");
    if (m == 0 && h == 0)
        return fail(l, "no key: MD5 and SHA-256 are both '-'");
    if (realm_len != l->realm_len || memcmp(s, l->realm, realm_len) != 0)
        return fail(l, "keys computed for realm '%.*s', but the server's realm is '%s'",
                    (int)(realm_len > 128 ? 128 : realm_len), s, l->realm);
    keys->has_md5 = m == 1;
    keys->has_sha256 = h == 1;
    return 0;
}

static int plain_keys(struct loader *l, const char *name, size_t name_len, const char *password,
                      size_t len, struct line_keys *keys)
{
    const char *why = check_password(password, len);
    if (why != NULL)
        return fail(l, "%s", why);
    if (crypto_longterm_key(CRYPTO_PASSWORD_MD5, name, name_len, l->realm, l->realm_len, password,
                            len, keys->md5) < 0 ||
        crypto_longterm_key(CRYPTO_PASSWORD_SHA256, name, name_len, l->realm, l->realm_len,
                            password, len, keys->sha256) < 0)
        return fail_errno(l, ENOMEM);
    keys->has_md5 = keys->has_sha256 = true;
    return 0;
}

/* ---- one line ---- */

/* The field after "USER:" into keys: a plain password, "$$..." or "$key$...". */
static int password_field(struct loader *l, const char *name, size_t name_len, const char *field,
                          size_t len, struct line_keys *keys)
{
    if (len == 0 || field[0] != '$')
        return plain_keys(l, name, name_len, field, len, keys);
    if (len >= 2 && field[1] == '$') /* "$$": the first '$' escapes the second */
        return plain_keys(l, name, name_len, field + 1, len - 1, keys);
    if (len >= 5 && memcmp(field, "$key$", 5) == 0)
        return parse_key_form(l, field + 5, len - 5, keys);
    return fail(l, "a password starting with '$' is written '$$...'; '$key$' starts precomputed "
                   "keys");
}

static int parse_entry(struct loader *l, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return fail(l, "want USER:PASSWORD or USER:$key$...; no ':' in the line");
    size_t name_len = (size_t)(colon - line);
    const char *why = check_name(line, name_len);
    if (why != NULL)
        return fail(l, "%s", why);

    struct line_keys keys = {0};
    int rc = password_field(l, line, name_len, colon + 1, len - name_len - 1, &keys);
    struct user_entry *e = rc == 0 ? entry_new(l, line, name_len, &keys) : NULL;
    explicit_bzero(&keys, sizeof(keys));
    if (rc < 0)
        return rc;
    if (e == NULL)
        return fail_errno(l, ENOMEM);
    return append(l, e);
}

static bool is_blank_or_comment(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i == len || line[i] == '#';
}

static int parse_line(struct loader *l, const char *line, size_t len)
{
    if (memchr(line, '\0', len) != NULL)
        return fail(l, "NUL byte in the line");
    if (is_blank_or_comment(line, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (is_control((unsigned char)line[i]))
            return fail(l, "control character 0x%02x at column %zu", (unsigned char)line[i], i + 1);
    return parse_entry(l, line, len);
}

/*
 * The next line of f into buf, without its LF or CRLF. Returns 1 with
 * *len set, 0 at the end of the file, -1 for a line over USERS_LINE_MAX,
 * -2 for a read error.
 */
static int read_line(FILE *f, char buf[USERS_LINE_MAX + 1], size_t *len)
{
    size_t n = 0;
    int c;
    errno = 0;
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        if (n > USERS_LINE_MAX) /* room for one '\r' past the limit */
            return -1;
        buf[n++] = (char)c;
    }
    if (ferror(f))
        return -2;
    if (c == EOF && n == 0)
        return 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n > USERS_LINE_MAX)
        return -1;
    *len = n;
    return 1;
}

static int parse_file(struct loader *l, FILE *f)
{
    char buf[USERS_LINE_MAX + 1];
    size_t len;
    int rc = 0, got;
    while (rc == 0 && (got = read_line(f, buf, &len)) != 0) {
        l->line_no++;
        if (got == -1)
            rc = fail(l, "line longer than %d bytes", USERS_LINE_MAX);
        else if (got == -2)
            rc = fail_errno(l, errno ? errno : EIO);
        else
            rc = parse_line(l, buf, len);
    }
    explicit_bzero(buf, sizeof(buf)); /* it held passwords */
    return rc;
}

/* ---- the indexes ---- */

static const struct user_entry **probe_name(const struct users *db, const struct user_entry **table,
                                            const uint8_t *name, size_t len)
{
    size_t i = (size_t)name_hash(name, len) & db->mask;
    while (table[i] != NULL &&
           (table[i]->name_len != len || memcmp(table[i]->name, name, len) != 0))
        i = (i + 1) & db->mask;
    return &table[i];
}

static const struct user_entry **probe_hash(const struct users *db, const struct user_entry **table,
                                            const uint8_t *hash)
{
    size_t i = (size_t)userhash_hash(hash) & db->mask;
    while (table[i] != NULL && memcmp(table[i]->userhash, hash, 32) != 0)
        i = (i + 1) & db->mask;
    return &table[i];
}

/* Index of the entry a slot points at, for the duplicate message. */
static unsigned entry_index(const struct users *db, const struct user_entry *e)
{
    unsigned i = 0;
    while (db->entries[i] != e)
        i++;
    return i;
}

static int build_indexes(struct loader *l)
{
    struct users *db = l->db;
    size_t slots = 8;
    while (slots < 2 * (size_t)db->count)
        slots *= 2;
    db->mask = slots - 1;
    db->by_name = calloc(slots, sizeof(*db->by_name));
    db->by_hash = calloc(slots, sizeof(*db->by_hash));
    if (db->by_name == NULL || db->by_hash == NULL)
        return fail_errno(l, ENOMEM);
    for (unsigned i = 0; i < db->count; i++) {
        const struct user_entry *e = db->entries[i];
        const struct user_entry **by_name =
            probe_name(db, db->by_name, (const uint8_t *)e->name, e->name_len);
        const struct user_entry **by_hash = probe_hash(db, db->by_hash, e->userhash);
        const struct user_entry *seen = *by_name ? *by_name : *by_hash;
        if (seen != NULL) { /* a USERHASH clash is a SHA-256 collision: never */
            l->line_no = l->lines[i];
            return fail(l, "duplicate user '%.64s' (first on line %u)", e->name,
                        l->lines[entry_index(db, seen)]);
        }
        *by_name = e;
        *by_hash = e;
    }
    return 0;
}

/* ---- public ---- */

int users_load(const char *path, const char *realm, struct users **out, char *err, size_t err_cap)
{
    struct loader l = {
        .path = path, .realm = realm, .realm_len = strlen(realm), .err = err, .err_cap = err_cap};
    *out = NULL;
    l.db = calloc(1, sizeof(*l.db));
    if (l.db == NULL)
        return fail_errno(&l, ENOMEM);
    FILE *f = fopen(path, "re");
    int rc = f == NULL ? fail_errno(&l, errno) : parse_file(&l, f);
    if (f != NULL)
        fclose(f);
    if (rc == 0)
        rc = build_indexes(&l);
    free(l.lines);
    if (rc < 0) {
        users_free(l.db);
        return rc;
    }
    *out = l.db;
    return 0;
}

const struct user_entry *users_find(const struct users *db, const uint8_t *name, size_t len)
{
    return *probe_name(db, db->by_name, name, len);
}

const struct user_entry *users_find_hash(const struct users *db, const uint8_t hash[32])
{
    return *probe_hash(db, db->by_hash, hash);
}

unsigned users_count(const struct users *db) { return db->count; }

void users_free(struct users *db)
{
    if (db == NULL)
        return;
    for (unsigned i = 0; i < db->count; i++)
        entry_wipe_free(db->entries[i]);
    free(db->entries);
    free(db->by_name);
    free(db->by_hash);
    free(db);
}

/* ---- writing lines (stunring-passwd) ---- */

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* snprintf's result as this API's: the length, or -EINVAL / -ENOSPC. */
static int finish_line(int n, size_t cap, const char **why)
{
    if (n < 0)
        return -EINVAL;
    if (n > USERS_LINE_MAX) {
        *why = "the line would be longer than 4096 bytes";
        return -EINVAL;
    }
    return (size_t)n < cap ? n : -ENOSPC;
}

int users_format_key_line(const char *user, const char *realm, const char *password, char *out,
                          size_t cap, const char **why)
{
    size_t user_len = strlen(user), realm_len = strlen(realm), pass_len = strlen(password);
    if ((*why = check_name(user, user_len)) != NULL ||
        (*why = check_password(password, pass_len)) != NULL)
        return -EINVAL;
    if (has_control(realm, realm_len)) {
        *why = "realm contains a control character";
        return -EINVAL;
    }
    struct line_keys keys;
    char md5_hex[MD5_HEX + 1], sha256_hex[SHA256_HEX + 1];
    int n = -ENOMEM;
    if (crypto_longterm_key(CRYPTO_PASSWORD_MD5, user, user_len, realm, realm_len, password,
                            pass_len, keys.md5) >= 0 &&
        crypto_longterm_key(CRYPTO_PASSWORD_SHA256, user, user_len, realm, realm_len, password,
                            pass_len, keys.sha256) >= 0) {
        hex_encode(keys.md5, CRYPTO_MD5_LEN, md5_hex);
        hex_encode(keys.sha256, CRYPTO_SHA256_LEN, sha256_hex);
        n = snprintf(out, cap, "%s:$key$%s$%s$%s", user, realm, md5_hex, sha256_hex);
        n = finish_line(n, cap, why);
    }
    explicit_bzero(&keys, sizeof(keys));
    explicit_bzero(md5_hex, sizeof(md5_hex));
    explicit_bzero(sha256_hex, sizeof(sha256_hex));
    return n;
}

int users_format_plain_line(const char *user, const char *password, char *out, size_t cap,
                            const char **why)
{
    if ((*why = check_name(user, strlen(user))) != NULL ||
        (*why = check_password(password, strlen(password))) != NULL)
        return -EINVAL;
    /* A leading '$' would read as a form: "$$" is the literal '$'. */
    int n = snprintf(out, cap, "%s:%s%s", user, password[0] == '$' ? "$" : "", password);
    return finish_line(n, cap, why);
}
