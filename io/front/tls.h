/*
 * The TLS server context: OpenSSL 3, TLS 1.2 and 1.3 only, a certificate
 * chain and key from PEM files. Built at start-up and on SIGHUP; the front
 * thread (io/front/tcp.c) makes one SSL per connection from the current one.
 */
#ifndef STUNRING_IO_TLS_H
#define STUNRING_IO_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/*
 * Loads cert (PEM chain) and key (PEM) into a new server context. Returns
 * it, or NULL with a message naming the file and OpenSSL's reason in err.
 */
SSL_CTX *tls_context_load(const char *cert, const char *key, char *err, size_t err_cap);

/* OpenSSL's oldest queued error as text, or errno's when OpenSSL queued
 * none (a failed system call), and clears the queue: for messages. */
const char *tls_last_error(char *buf, size_t cap);

#endif
