/*
 * Fetching a short-term credential the way a client does (RFC 3489 §8.2,
 * §9.2): one TLS connection to the server's TLS port, one Shared Secret
 * Request (0x0002, RFC 3489 header), and the USERNAME and PASSWORD of its
 * 0x0102 answer; the PASSWORD bytes are the HMAC-SHA1 key as they are.
 *
 * The server's certificate is not verified unless ca_file names the
 * PEM file to verify it (and its IP address) against. Every wait is
 * bounded (BENCH_MINT_TIMEOUT_MS per step). Main thread, before the run.
 */
#ifndef STUNRING_BENCH_MINT_H
#define STUNRING_BENCH_MINT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "bench/loadgen/validate.h"

enum {
    BENCH_MINT_TIMEOUT_MS = 3000,
};

/*
 * Mints a credential at tls (the server's address, its TLS port) into
 * out. 0, or -1 with a one-line reason in err (no TLS listener, a
 * handshake or verification failure, an error answer such as 433 or 500).
 */
int bench_mint(const struct sockaddr_storage *tls, const char *ca_file,
               struct bench_credential *out, char *err, size_t err_cap);

/*
 * A client TLS context, TLS 1.2 or later, that verifies the server's
 * certificate against ca_file (PEM) when it is not NULL. NULL with a
 * reason in err. Shared: each connection makes its own SSL from it.
 */
SSL_CTX *bench_tls_context(const char *ca_file, char *err, size_t cap);

/* Has ssl's verification also check the certificate names peer's IP. 0 or -1. */
int bench_tls_expect_ip(SSL *ssl, const struct sockaddr_storage *peer);

#endif
