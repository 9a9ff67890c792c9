/*
 * The --users file loader: both line forms, comments and line endings,
 * every malformed line with its line number, duplicates, lookups by name
 * and by USERHASH, and the RFC 5769 §2.4 and RFC 8489 B.1 long-term
 * vectors verified with the keys the loader prepared.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/integrity.h"
#include "crypto/digest.h"
#include "io/users.h"
#include "tests/unit/vectors.h"

static const char realm[] = "example.org";

/* A temporary file holding len bytes of text; its path goes into path[32]. */
static void write_file(char path[32], const char *text, size_t len)
{
    strcpy(path, "/tmp/test_users_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static struct users *load_ok_as(const char *text, const char *server_realm)
{
    char path[32], err[USERS_ERR_MAX] = "";
    struct users *db = NULL;
    write_file(path, text, strlen(text));
    int rc = users_load(path, server_realm, &db, err, sizeof(err));
    unlink(path);
    cr_assert_eq(rc, 0, "users_load: %d %s", rc, err);
    cr_assert_not_null(db);
    return db;
}

static struct users *load_ok(const char *text) { return load_ok_as(text, realm); }

/* Loads len bytes that must fail on line line_no with a message holding want. */
static void load_fails_n(const char *text, size_t len, unsigned line_no, const char *want)
{
    char path[32], err[USERS_ERR_MAX] = "", prefix[64];
    struct users *db = (struct users *)&db; /* must be reset to NULL */
    write_file(path, text, len);
    int rc = users_load(path, realm, &db, err, sizeof(err));
    unlink(path);
    cr_assert_eq(rc, -EINVAL, "rc %d for %s", rc, err);
    cr_assert_null(db);
    snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line_no);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "want '%s...', got '%s'", prefix, err);
    cr_assert_not_null(strstr(err, want), "want '%s' in '%s'", want, err);
}

static void load_fails(const char *text, unsigned line_no, const char *want)
{
    load_fails_n(text, strlen(text), line_no, want);
}

static const struct user_entry *find(const struct users *db, const char *name)
{
    return users_find(db, (const uint8_t *)name, strlen(name));
}

/* key gives the same MAC as a fresh key of alg from the long-term key of user:realm:password. */
static void assert_key(const struct crypto_hmac_key *key, enum crypto_hmac_alg alg,
                       enum crypto_password_alg palg, const char *user, const char *password)
{
    uint8_t lt[CRYPTO_HMAC_MAX_LEN], want[CRYPTO_HMAC_MAX_LEN], got[CRYPTO_HMAC_MAX_LEN];
    int lt_len = crypto_longterm_key(palg, user, strlen(user), realm, strlen(realm), password,
                                     strlen(password), lt);
    cr_assert_gt(lt_len, 0);
    struct crypto_hmac_key fresh;
    cr_assert_eq(crypto_hmac_key_init(&fresh, alg, lt, (size_t)lt_len), 0);
    const struct crypto_span probe = {"probe message", 13};
    size_t n = crypto_hmac(&fresh, &probe, 1, want);
    cr_assert_eq(crypto_hmac(key, &probe, 1, got), n, "MAC length: wrong algorithm");
    cr_assert_arr_eq(got, want, n, "key of %s differs", user);
}

/* Every prepared key of e is the one of password. */
static void assert_password(const struct user_entry *e, const char *password)
{
    cr_assert_not_null(e);
    cr_assert(e->has_md5 && e->has_sha256);
    assert_key(&e->md5.integrity, CRYPTO_HMAC_SHA1, CRYPTO_PASSWORD_MD5, e->name, password);
    assert_key(&e->md5.integrity_sha256, CRYPTO_HMAC_SHA256, CRYPTO_PASSWORD_MD5, e->name,
               password);
    assert_key(&e->sha256.integrity, CRYPTO_HMAC_SHA1, CRYPTO_PASSWORD_SHA256, e->name, password);
    assert_key(&e->sha256.integrity_sha256, CRYPTO_HMAC_SHA256, CRYPTO_PASSWORD_SHA256, e->name,
               password);
}

Test(users, plain_line)
{
    struct users *db = load_ok("alice:secret\n");
    cr_assert_eq(users_count(db), 1);
    const struct user_entry *e = find(db, "alice");
    cr_assert_not_null(e);
    cr_assert_str_eq(e->name, "alice");
    cr_assert_eq(e->name_len, 5);
    assert_password(e, "secret");
    uint8_t hash[32];
    cr_assert_eq(crypto_userhash("alice", 5, realm, strlen(realm), hash), 0);
    cr_assert_arr_eq(e->userhash, hash, 32);
    users_free(db);
}

Test(users, key_line_equals_plain_line)
{
    struct users *db =
        load_ok("alice:$key$example.org$543e1aec5d3614f03141652d6ada51b2$"
                "d1659fff7a501be15962adc35514ca6a5868905695f2dd1093741f931e000a1f\n"
                "bob:$key$example.org$543E1AEC5D3614F03141652D6ADA51B2$-\n"
                "carol:$key$example.org$-$"
                "D1659FFF7A501BE15962ADC35514CA6A5868905695F2DD1093741F931E000A1F\n");
    cr_assert_eq(users_count(db), 3);
    assert_password(find(db, "alice"), "secret");

    /* Hex of alice's keys under bob's and carol's names: only what is given is there. */
    const struct user_entry *bob = find(db, "bob"), *carol = find(db, "carol");
    cr_assert(bob->has_md5 && !bob->has_sha256);
    cr_assert(!carol->has_md5 && carol->has_sha256);
    const struct user_entry *alice = find(db, "alice");
    uint8_t a[CRYPTO_HMAC_MAX_LEN], b[CRYPTO_HMAC_MAX_LEN];
    const struct crypto_span probe = {"x", 1};
    crypto_hmac(&alice->md5.integrity, &probe, 1, a);
    crypto_hmac(&bob->md5.integrity, &probe, 1, b);
    cr_assert_arr_eq(a, b, CRYPTO_SHA1_LEN);
    crypto_hmac(&alice->sha256.integrity_sha256, &probe, 1, a);
    crypto_hmac(&carol->sha256.integrity_sha256, &probe, 1, b);
    cr_assert_arr_eq(a, b, CRYPTO_SHA256_LEN);
    users_free(db);
}

Test(users, comments_blank_lines_and_crlf)
{
    struct users *db = load_ok("# users\n"
                               "\n"
                               "   \t \n"
                               "  # indented comment: no user\n"
                               "alice:pw\r\n"
                               "\r\n"
                               "bob:pw2"); /* no final line ending */
    cr_assert_eq(users_count(db), 2);
    assert_password(find(db, "alice"), "pw");
    assert_password(find(db, "bob"), "pw2");
    users_free(db);
}

Test(users, password_takes_everything_after_the_first_colon)
{
    struct users *db = load_ok("carol:a:b #c \n"
                               "dave:$$x\n"
                               "erin:$$\n"
                               "frank:$$key$\n"
                               " sp ace :p\n");
    assert_password(find(db, "carol"), "a:b #c ");
    assert_password(find(db, "dave"), "$x");
    assert_password(find(db, "erin"), "$");
    assert_password(find(db, "frank"), "$key$");
    assert_password(find(db, " sp ace "), "p");
    users_free(db);
}

Test(users, empty_file_loads_no_users)
{
    struct users *db = load_ok("");
    cr_assert_eq(users_count(db), 0);
    cr_assert_null(find(db, "alice"));
    uint8_t hash[32] = {0};
    cr_assert_null(users_find_hash(db, hash));
    users_free(db);
}

Test(users, malformed_lines_name_their_line)
{
    static const struct {
        const char *line;
        const char *want;
    } cases[] = {
        {"nocolon", "no ':'"},
        {":pw", "empty user name"},
        {"alice:", "empty password"},
        {"alice:$", "'$$...'"},
        {"alice:$foo", "'$$...'"},
        {"alice:$key$example.org", "want USER:$key$REALM$MD5HEX$SHA256HEX"},
        {"alice:$key$example.org$-", "want USER:$key$REALM$MD5HEX$SHA256HEX"},
        {"alice:$key$example.org$zz$-", "MD5 key: want 32 hex digits"},
        {"alice:$key$example.org$543e1aec5d3614f03141652d6ada51b$-", "MD5 key"},
        {"alice:$key$example.org$543e1aec5d3614f03141652d6ada51bg$-", "MD5 key"},
        {"alice:$key$example.org$-$abc", "SHA-256 key: want 64 hex digits"},
        {"alice:$key$example.org$-$", "SHA-256 key"},
        {"alice:$key$example.org$-$-", "both '-'"},
        {"alice:$key$other.org$543e1aec5d3614f03141652d6ada51b2$-",
         "realm 'other.org', but the server's realm is 'example.org'"},
        {"alice:$key$$543e1aec5d3614f03141652d6ada51b2$-", "realm ''"},
        {"al\x01ice:pw", "control character 0x01 at column 3"},
        {"alice:p\tw", "control character 0x09 at column 8"},
        {"alice:p\rw", "control character 0x0d"},
        {"alice:pw\x7f", "control character 0x7f"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "# header\nzed:ok\n%s\nyves:ok\n", cases[i].line);
        load_fails(text, 3, cases[i].want);
    }
}

Test(users, nul_byte_is_refused)
{
    static const char text[] = "ok:ok\nal\0ice:pw\n";
    load_fails_n(text, sizeof(text) - 1, 2, "NUL byte");
}

Test(users, name_length_limit)
{
    char text[USERS_NAME_MAX + 64];
    memset(text, 'n', USERS_NAME_MAX);
    strcpy(text + USERS_NAME_MAX, ":pw\n");
    struct users *db = load_ok(text);
    cr_assert_eq(users_count(db), 1);
    cr_assert_not_null(users_find(db, (const uint8_t *)text, USERS_NAME_MAX));
    users_free(db);

    memset(text, 'n', USERS_NAME_MAX + 1);
    strcpy(text + USERS_NAME_MAX + 1, ":pw\n");
    load_fails(text, 1, "user name longer than 508 bytes");
}

Test(users, line_length_limit)
{
    static char text[USERS_LINE_MAX + 64];
    /* Exactly USERS_LINE_MAX bytes, with CRLF: fine. */
    memcpy(text, "u:", 2);
    memset(text + 2, 'p', USERS_LINE_MAX - 2);
    strcpy(text + USERS_LINE_MAX, "\r\n");
    struct users *db = load_ok(text);
    cr_assert_eq(users_count(db), 1);
    users_free(db);

    memset(text + 2, 'p', USERS_LINE_MAX - 1);
    strcpy(text + USERS_LINE_MAX + 1, "\n");
    load_fails(text, 1, "line longer than 4096 bytes");
    text[USERS_LINE_MAX + 1] = '\0'; /* and with no line ending */
    load_fails(text, 1, "line longer than 4096 bytes");
}

Test(users, duplicate_user)
{
    load_fails("a:1\nb:2\n\na:3\n", 4, "duplicate user 'a' (first on line 1)");
    /* A key line duplicates a plain one just the same. */
    load_fails("alice:x\nalice:$key$example.org$543e1aec5d3614f03141652d6ada51b2$-\n", 2,
               "duplicate user 'alice'");
}

Test(users, missing_or_unreadable_file)
{
    char err[USERS_ERR_MAX];
    struct users *db = (struct users *)&db;
    const char *path = "/nonexistent/stunring-users";
    cr_assert_eq(users_load(path, realm, &db, err, sizeof(err)), -ENOENT);
    cr_assert_null(db);
    cr_assert_str_eq(err, "/nonexistent/stunring-users: No such file or directory");

    cr_assert_eq(users_load("/tmp", realm, &db, err, sizeof(err)), -EISDIR);
    cr_assert_not_null(strstr(err, "/tmp"), "%s", err);
}

Test(users, lookup_hit_and_miss_by_name_and_hash)
{
    enum { N = 300 };
    static char text[N * 32];
    size_t off = 0;
    for (unsigned i = 0; i < N; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "user%u:pw%u\n", i, i);
    struct users *db = load_ok(text);
    cr_assert_eq(users_count(db), N);
    for (unsigned i = 0; i < N; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "user%u", i);
        const struct user_entry *e = find(db, name);
        cr_assert_not_null(e, "%s", name);
        cr_assert_str_eq(e->name, name);
        uint8_t hash[32];
        cr_assert_eq(crypto_userhash(name, (size_t)len, realm, strlen(realm), hash), 0);
        cr_assert_eq(users_find_hash(db, hash), e, "%s by hash", name);
        hash[31] ^= 1;
        cr_assert_null(users_find_hash(db, hash));
    }
    cr_assert_null(find(db, "user300"));
    cr_assert_null(find(db, "user"));
    cr_assert_null(find(db, "USER1"));
    /* The length counts, not a NUL: "user10" cut at 5 bytes is user1. */
    cr_assert_eq(users_find(db, (const uint8_t *)"user10", 5), find(db, "user1"));
    cr_assert_null(users_find(db, (const uint8_t *)"user1000", 8));
    cr_assert_null(find(db, ""));
    /* USERHASH under another realm names nobody. */
    uint8_t hash[32];
    cr_assert_eq(crypto_userhash("user1", 5, "other.org", 9, hash), 0);
    cr_assert_null(users_find_hash(db, hash));
    users_free(db);
}

Test(users, rfc5769_long_term_request_verifies)
{
    char text[128];
    snprintf(text, sizeof(text), "%s:%s\n", rfc5769_lt_username, rfc5769_lt_password);
    struct users *db = load_ok_as(text, rfc5769_lt_realm);

    struct stun_msg m;
    uint16_t len = 0;
    cr_assert_eq(stun_msg_parse(&m, rfc5769_request_lt, sizeof(rfc5769_request_lt)), STUN_OK);
    const uint8_t *user = stun_msg_attr(&m, STUN_A_USERNAME, &len);
    const struct user_entry *e = users_find(db, user, len);
    cr_assert_not_null(e);
    cr_assert_eq(stun_msg_verify_integrity(&m, &e->md5.integrity), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity(&m, &e->sha256.integrity), STUN_REJECT_BAD_INTEGRITY);
    users_free(db);
}

Test(rfc8489, b1_userhash_and_sha256_integrity_verify)
{
    char text[128];
    snprintf(text, sizeof(text), "%s:%s\n", rfc8489_b1_username, rfc8489_b1_password);
    struct users *db = load_ok_as(text, rfc8489_b1_realm);

    struct stun_msg m;
    uint16_t len = 0;
    cr_assert_eq(stun_msg_parse(&m, rfc8489_b1_request, sizeof(rfc8489_b1_request)), STUN_OK);
    const uint8_t *hash = stun_msg_attr(&m, STUN_A_USERHASH, &len);
    cr_assert_eq(len, 32);
    const struct user_entry *e = users_find_hash(db, hash);
    cr_assert_not_null(e);
    cr_assert_arr_eq(e->userhash, rfc8489_b1_userhash, 32);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &e->sha256.integrity_sha256), STUN_OK);
    cr_assert_eq(stun_msg_verify_integrity_sha256(&m, &e->md5.integrity_sha256),
                 STUN_REJECT_BAD_INTEGRITY);
    users_free(db);
}

Test(users, format_key_line_known_value)
{
    char line[USERS_LINE_MAX + 1];
    const char *why = NULL;
    const char *want = "alice:$key$example.org$543e1aec5d3614f03141652d6ada51b2$"
                       "d1659fff7a501be15962adc35514ca6a5868905695f2dd1093741f931e000a1f";
    int n = users_format_key_line("alice", realm, "secret", line, sizeof(line), &why);
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_str_eq(line, want);
    cr_assert_eq(users_format_key_line("alice", realm, "secret", line, (size_t)n, &why), -ENOSPC);
}

Test(users, format_plain_line_escapes_dollar)
{
    char line[64];
    const char *why = NULL;
    cr_assert_eq(users_format_plain_line("u", "p:w", line, sizeof(line), &why), 5);
    cr_assert_str_eq(line, "u:p:w");
    cr_assert_eq(users_format_plain_line("u", "$key$x", line, sizeof(line), &why), 9);
    cr_assert_str_eq(line, "u:$$key$x");
}

Test(users, format_refuses_what_the_loader_would)
{
    char line[64];
    const char *why = NULL;
    cr_assert_eq(users_format_plain_line("a:b", "pw", line, sizeof(line), &why), -EINVAL);
    cr_assert_str_eq(why, "user name contains ':'");
    cr_assert_eq(users_format_plain_line("", "pw", line, sizeof(line), &why), -EINVAL);
    cr_assert_eq(users_format_plain_line("u", "", line, sizeof(line), &why), -EINVAL);
    cr_assert_str_eq(why, "empty password");
    cr_assert_eq(users_format_key_line("u", realm, "p\nw", line, sizeof(line), &why), -EINVAL);
    cr_assert_eq(users_format_key_line("u", "re\talm", "pw", line, sizeof(line), &why), -EINVAL);
    static char long_password[USERS_LINE_MAX];
    memset(long_password, 'p', sizeof(long_password) - 1);
    static char big[2 * USERS_LINE_MAX];
    cr_assert_eq(users_format_plain_line("u", long_password, big, sizeof(big), &why), -EINVAL);
    cr_assert_not_null(strstr(why, "longer than 4096"));
}

/* What stunring-passwd writes, users_load reads back to the same keys. */
Test(users, formatted_lines_round_trip)
{
    static const char *const passwords[] = {"secret", "$dollar", "a:b c#d", "$$", "ünïcödé"};
    const char *odd_realm = "we$ird:realm$";
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        char text[1024], *p = text;
        const char *why = NULL;
        int n = users_format_key_line("keyed", odd_realm, passwords[i], p, 512, &why);
        cr_assert_gt(n, 0);
        p[n++] = '\n';
        int m = users_format_plain_line("plain", passwords[i], p + n, 512, &why);
        cr_assert_gt(m, 0);
        strcpy(p + n + m, "\n");

        struct users *db = load_ok_as(text, odd_realm);
        const struct user_entry *keyed = find(db, "keyed"), *plain = find(db, "plain");
        cr_assert(keyed && plain, "%s", text);
        uint8_t a[CRYPTO_HMAC_MAX_LEN], b[CRYPTO_HMAC_MAX_LEN], want[CRYPTO_HMAC_MAX_LEN];
        uint8_t lt[CRYPTO_HMAC_MAX_LEN];
        const struct crypto_span probe = {"x", 1};
        crypto_longterm_key(CRYPTO_PASSWORD_SHA256, "keyed", 5, odd_realm, strlen(odd_realm),
                            passwords[i], strlen(passwords[i]), lt);
        struct crypto_hmac_key fresh;
        crypto_hmac_key_init(&fresh, CRYPTO_HMAC_SHA256, lt, 32);
        crypto_hmac(&fresh, &probe, 1, want);
        crypto_hmac(&keyed->sha256.integrity_sha256, &probe, 1, a);
        cr_assert_arr_eq(a, want, 32, "keyed line for '%s'", passwords[i]);
        crypto_longterm_key(CRYPTO_PASSWORD_MD5, "plain", 5, odd_realm, strlen(odd_realm),
                            passwords[i], strlen(passwords[i]), lt);
        crypto_hmac_key_init(&fresh, CRYPTO_HMAC_SHA1, lt, 16);
        crypto_hmac(&fresh, &probe, 1, want);
        crypto_hmac(&plain->md5.integrity, &probe, 1, b);
        cr_assert_arr_eq(b, want, 20, "plain line for '%s'", passwords[i]);
        users_free(db);
    }
}
