/*
 * The --users FILE of long-term credentials (RFC 8489 §9.2), loaded at
 * start-up and on reload into an immutable table the workers read without
 * locks.
 *
 * File format: UTF-8 text, one entry per line, lines end in LF or CRLF,
 * at most USERS_LINE_MAX bytes each (the line ending not counted).
 *
 *   # a comment: the first non-blank character is '#'
 *   (blank lines, or lines of only spaces and tabs, are ignored)
 *   USER:PASSWORD
 *   USER:$key$REALM$MD5HEX$SHA256HEX
 *
 * USER is everything before the first ':' (so it holds no ':'), 1 to
 * USERS_NAME_MAX bytes (RFC 8489 §14.3: fewer than 509). Everything after
 * that ':' is the password field, taken byte for byte: it may hold ':',
 * spaces and '#'. No byte of an entry may be a control character (below
 * 0x20, or 0x7F; tabs included), as OpaqueString would refuse them anyway.
 *
 * A password field that does not start with '$' is a plain password
 * (non-empty). One that starts with '$' names a form:
 *   $$REST           the plain password "$REST" (the first '$' escapes)
 *   $key$REALM$M$S   precomputed long-term keys (RFC 8489 §9.2.2) for
 *                    REALM, which must be the server's realm:
 *                    M = hex of MD5(USER ":" REALM ":" PASSWORD) (32 digits)
 *                    S = hex of SHA-256(USER ":" REALM ":" PASSWORD) (64)
 *                    Either may be "-" (that algorithm is then not offered
 *                    to this user), not both. M and S are the last two
 *                    '$'-separated fields, so REALM may itself hold '$'.
 * Any other '$' form is an error. stunring-passwd writes both kinds of
 * line (users_format_key_line(), users_format_plain_line()).
 *
 * A precomputed key is password-equivalent, like the plain password: keep
 * the file private (mode 0600). Usernames, realms and passwords are used
 * as given, with no OpaqueString (RFC 8265) processing: write them in the
 * form clients send (RFC 8489 requires clients to prepare them).
 *
 * Errors name FILE:LINE and what is wrong; a user listed twice is an
 * error (found once every line has parsed). Nothing is half-loaded:
 * users_load() gives a whole table or none.
 */
#ifndef STUNRING_IO_USERS_H
#define STUNRING_IO_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hmac.h"

enum {
    USERS_LINE_MAX = 4096,
    USERS_NAME_MAX = 508, /* "fewer than 509 bytes" */
    USERS_ERR_MAX = 512,  /* a big enough err buffer for users_load() */
};

/*
 * The two MACs one long-term key is used with, key schedules done: for
 * MESSAGE-INTEGRITY (HMAC-SHA1) and MESSAGE-INTEGRITY-SHA256.
 */
struct user_keys {
    struct crypto_hmac_key integrity;        /* CRYPTO_HMAC_SHA1 */
    struct crypto_hmac_key integrity_sha256; /* CRYPTO_HMAC_SHA256 */
};

struct user_entry {
    const char *name; /* NUL-terminated; name_len bytes before the NUL */
    size_t name_len;
    bool has_md5;            /* md5 holds keys from MD5(user:realm:password) */
    bool has_sha256;         /* sha256 holds keys from SHA-256(user:realm:password) */
    struct user_keys md5;    /* PASSWORD-ALGORITHM MD5 (0x0001), and RFC 5389 */
    struct user_keys sha256; /* PASSWORD-ALGORITHM SHA-256 (0x0002) */
    uint8_t userhash[32];    /* SHA-256(user ":" realm), RFC 8489 §14.4 */
};

struct users;

/*
 * Loads path for realm into *out. Returns 0, or a negative errno with a
 * one-line message in err (err_cap bytes; USERS_ERR_MAX is enough):
 * -ENOENT, -EACCES, -EISDIR, ... "PATH: reason" when the file cannot be
 * read; -EINVAL "PATH:LINE: what" for a bad line; -ENOMEM. Call it from
 * one thread; the table it makes is immutable, so any number of threads
 * may then look up in it at once, until users_free().
 */
int users_load(const char *path, const char *realm, struct users **out, char *err, size_t err_cap);

/* The entry for the USERNAME bytes name[0..len), or NULL. */
const struct user_entry *users_find(const struct users *db, const uint8_t *name, size_t len);

/* The entry whose USERHASH is hash, or NULL. */
const struct user_entry *users_find_hash(const struct users *db, const uint8_t hash[32]);

unsigned users_count(const struct users *db);

/* Wipes every key and frees db (NULL is fine). */
void users_free(struct users *db);

/*
 * "USER:$key$REALM$MD5HEX$SHA256HEX" with both keys of password, and
 * "USER:PASSWORD" (a leading '$' escaped as "$$"), each without a line
 * ending, into out (cap bytes, NUL-terminated). Return the length, or
 * -EINVAL (with *why set to the reason) when the loader would refuse the
 * line, -ENOSPC when cap is too small, -ENOMEM.
 */
int users_format_key_line(const char *user, const char *realm, const char *password, char *out,
                          size_t cap, const char **why);
int users_format_plain_line(const char *user, const char *password, char *out, size_t cap,
                            const char **why);

#endif
