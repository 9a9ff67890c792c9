/*
 * Learning a long-term user's REALM and NONCE the way a client does
 * (RFC 8489 §9.2.3.1): one Binding Request without integrity over UDP,
 * whose 401 answer carries REALM, NONCE and PASSWORD-ALGORITHMS. Done once,
 * before the run, from the main thread: stunringd's nonces are bound to the
 * client's IP, not its port (core/nonce.h), so every socket of the bench,
 * all bound to one source address, may use the one nonce.
 *
 * Every wait is bounded: BENCH_CHALLENGE_TRIES sends, each waited for
 * BENCH_CHALLENGE_WAIT_MS.
 */
#ifndef STUNRING_BENCH_CHALLENGE_H
#define STUNRING_BENCH_CHALLENGE_H

#include <stddef.h>
#include <sys/socket.h>

#include "bench/loadgen/validate.h"

enum {
    BENCH_CHALLENGE_TRIES = 3,
    BENCH_CHALLENGE_WAIT_MS = 500,
};

/*
 * Asks server for the challenge from local (port 0: any) and makes out for
 * user and password under alg (enum crypto_password_alg). 0, or -1 with a
 * one-line reason in err (no answer, a success answer: no --auth required,
 * a challenge without the algorithm).
 */
int bench_challenge(const struct sockaddr_storage *server, const struct sockaddr_storage *local,
                    unsigned alg, const char *user, const char *password,
                    struct bench_longterm *out, char *err, size_t err_cap);

#endif
