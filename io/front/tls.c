/* The TLS server context. */
#include "io/front/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

const char *tls_last_error(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e == 0) /* a system call failed under OpenSSL, or nothing said why */
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "no detail");
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

static SSL_CTX *fail(SSL_CTX *ctx, const char *what, const char *path, char *err, size_t cap)
{
    char reason[256];
    snprintf(err, cap, "%s %s: %s", what, path, tls_last_error(reason, sizeof(reason)));
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_context_load(const char *cert, const char *key, char *err, size_t err_cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return fail(ctx, "tls context for", cert, err, err_cap);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    /* Renegotiation would let a peer make us work again on an open
     * connection; the server's cipher order; no compression. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* Most clients close without close_notify: an end of stream, not an
     * error (answers are whole messages, so truncation cannot fool us). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Non-blocking writes from a buffer we compact after partial writes;
     * idle connections give their 16 KiB buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return fail(ctx, "--cert", cert, err, err_cap);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return fail(ctx, "--key", key, err, err_cap);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(ctx, "--key does not match --cert:", key, err, err_cap);
    return ctx;
}
