/* A Shared Secret Request over TLS, as a client sends it (mint.h). */
#include "bench/loadgen/mint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/msg.h"
#include "core/wire.h"
#include "core/writer.h"
#include "io/addr.h"
#include "io/front/tls.h"

enum {
    ANSWER_MAX = 2048, /* a Shared Secret answer is about 100 bytes */
    READ_TRIES = 64,   /* SSL_read calls for one answer, at most */
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A TCP connection to tls, blocking, every send and receive bounded. */
static int tcp_connect(const struct sockaddr_storage *tls, char *err, size_t cap)
{
    int fd = socket(tls->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(err, cap, "socket: %s", strerror(errno));
    int e = 0;
    if (connect(fd, (const struct sockaddr *)tls, addr_len(tls)) < 0) {
        e = errno;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (e == EINPROGRESS) {
            e = poll(&pfd, 1, BENCH_MINT_TIMEOUT_MS) == 1 ? 0 : ETIMEDOUT;
            socklen_t len = sizeof(e);
            if (e == 0)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
        }
    }
    struct timeval tv = {.tv_sec = BENCH_MINT_TIMEOUT_MS / 1000,
                         .tv_usec = BENCH_MINT_TIMEOUT_MS % 1000 * 1000};
    if (e == 0 && (fcntl(fd, F_SETFL, 0) < 0 ||
                   setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
                   setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0))
        e = errno;
    if (e != 0) {
        close(fd);
        return fail(err, cap, "TCP connect: %s", strerror(e));
    }
    return fd;
}

SSL_CTX *bench_tls_context(const char *ca_file, char *err, size_t cap)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        fail(err, cap, "TLS context: %s", tls_last_error(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, ca_file ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        fail(err, cap, "--tls-ca %s: %s", ca_file, tls_last_error(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int bench_tls_expect_ip(SSL *ssl, const struct sockaddr_storage *peer)
{
    char ip[INET6_ADDRSTRLEN];
    const void *raw = peer->ss_family == AF_INET
                          ? (const void *)&((const struct sockaddr_in *)peer)->sin_addr
                          : (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
    if (inet_ntop(peer->ss_family, raw, ip, sizeof(ip)) == NULL ||
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1)
        return -1;
    return 0;
}

/* TLS 1.2 or later; the peer verified against ca_file (and its IP) when given. */
static SSL *tls_session(const struct sockaddr_storage *tls, const char *ca_file, SSL_CTX **ctx_out,
                        char *err, size_t cap)
{
    char why[256];
    SSL_CTX *ctx = bench_tls_context(ca_file, err, cap);
    *ctx_out = ctx;
    if (ctx == NULL)
        return NULL;
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) {
        fail(err, cap, "TLS session: %s", tls_last_error(why, sizeof(why)));
        return NULL;
    }
    if (ca_file && bench_tls_expect_ip(ssl, tls) < 0) {
        fail(err, cap, "TLS: cannot check the certificate for the address");
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static int tls_handshake(SSL *ssl, int fd, bool verify, char *err, size_t cap)
{
    char why[256];
    errno = 0;
    if (SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1)
        return 0;
    long v = SSL_get_verify_result(ssl);
    if (verify && v != X509_V_OK)
        return fail(err, cap, "TLS handshake: certificate not verified: %s",
                    X509_verify_cert_error_string(v));
    return fail(err, cap, "TLS handshake: %s", tls_last_error(why, sizeof(why)));
}

/* Reads exactly n bytes (bounded tries, each bounded by SO_RCVTIMEO). */
static int read_exact(SSL *ssl, uint8_t *buf, size_t n, char *err, size_t cap)
{
    char why[256];
    size_t got = 0;
    for (int i = 0; i < READ_TRIES && got < n; i++) {
        errno = 0;
        int r = SSL_read(ssl, buf + got, (int)(n - got));
        if (r <= 0) {
            if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
                return fail(err, cap, "the server closed the connection before answering");
            return fail(err, cap, "reading the answer: %s",
                        errno == EAGAIN ? "timed out" : tls_last_error(why, sizeof(why)));
        }
        got += (size_t)r;
    }
    return got == n ? 0 : fail(err, cap, "reading the answer: too many short reads");
}

/* Sends the Shared Secret Request (RFC 3489 header: no magic cookie). */
static int send_request(SSL *ssl, uint8_t id16[16], char *err, size_t cap)
{
    char why[256];
    if (getrandom(id16, 16, 0) != 16)
        return fail(err, cap, "getrandom: %s", strerror(errno));
    if (wire_get32(id16) == STUN_MAGIC_COOKIE)
        id16[0] ^= 0x80; /* classic style: bytes 4..7 are not the cookie */
    uint8_t req[STUN_HEADER_LEN];
    struct stun_writer w;
    stun_writer_start(&w, req, sizeof(req),
                      stun_type(STUN_METHOD_SHARED_SECRET, STUN_CLASS_REQUEST), id16);
    size_t len = stun_writer_finish(&w);
    errno = 0;
    if (len == 0 || SSL_write(ssl, req, (int)len) != (int)len)
        return fail(err, cap, "sending the request: %s", tls_last_error(why, sizeof(why)));
    return 0;
}

/* The answer's credential, or its ERROR-CODE as the reason. */
static int take_answer(const uint8_t *buf, size_t len, const uint8_t id16[16],
                       struct bench_credential *out, char *err, size_t cap)
{
    struct stun_msg m;
    if (stun_msg_parse(&m, buf, len) != STUN_OK || memcmp(stun_msg_id16(&m), id16, 16) != 0 ||
        m.method != STUN_METHOD_SHARED_SECRET)
        return fail(err, cap, "the answer is not a Shared Secret Response to the request");
    int code = 0;
    const char *reason = "";
    uint16_t reason_len = 0;
    if (m.cls != STUN_CLASS_SUCCESS) {
        if (!stun_msg_get_error(&m, &code, &reason, &reason_len))
            return fail(err, cap, "an error answer without ERROR-CODE");
        return fail(err, cap, "answered %d %.*s", code, (int)reason_len, reason);
    }
    uint16_t user_len = 0, pass_len = 0;
    const uint8_t *user = stun_msg_attr(&m, STUN_A_USERNAME, &user_len);
    const uint8_t *pass = stun_msg_attr(&m, STUN_A_PASSWORD, &pass_len);
    if (user == NULL || pass == NULL)
        return fail(err, cap, "the answer lacks USERNAME or PASSWORD");
    if (bench_credential_init(out, user, user_len, pass, pass_len) < 0)
        return fail(err, cap, "USERNAME of %u bytes or PASSWORD of %u: want 1..%d and 1 or more",
                    user_len, pass_len, BENCH_USERNAME_MAX);
    return 0;
}

static int exchange(SSL *ssl, struct bench_credential *out, char *err, size_t cap)
{
    uint8_t id16[16], buf[ANSWER_MAX];
    if (send_request(ssl, id16, err, cap) < 0 || read_exact(ssl, buf, STUN_HEADER_LEN, err, cap))
        return -1;
    size_t body = wire_get16(buf + 2);
    if (STUN_HEADER_LEN + body > sizeof(buf))
        return fail(err, cap, "an answer of %zu bytes, more than %d", body, ANSWER_MAX);
    if (read_exact(ssl, buf + STUN_HEADER_LEN, body, err, cap) < 0)
        return -1;
    return take_answer(buf, STUN_HEADER_LEN + body, id16, out, err, cap);
}

int bench_mint(const struct sockaddr_storage *tls, const char *ca_file,
               struct bench_credential *out, char *err, size_t err_cap)
{
    SSL_CTX *ctx = NULL;
    SSL *ssl = tls_session(tls, ca_file, &ctx, err, err_cap);
    int fd = ssl ? tcp_connect(tls, err, err_cap) : -1;
    int r = fd >= 0 ? tls_handshake(ssl, fd, ca_file != NULL, err, err_cap) : -1;
    if (r == 0)
        r = exchange(ssl, out, err, err_cap);
    if (r == 0)
        SSL_shutdown(ssl); /* close_notify, not waited for */
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
    return r;
}
