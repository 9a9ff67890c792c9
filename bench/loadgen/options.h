/*
 * stunring-bench's flags: defaults in one place (--help prints them from
 * there), parsing that exits 2 naming the bad flag or value.
 */
#ifndef STUNRING_BENCH_OPTIONS_H
#define STUNRING_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench/loadgen/validate.h"

enum {
    BENCH_MAX_SOCKETS = 4096,
    BENCH_MAX_WINDOW = 8192,
    BENCH_MAX_THREADS = 256,
    BENCH_MAX_WEIGHT = 1000000,
    BENCH_EXIT_USAGE = 2,
};

struct bench_options {
    struct sockaddr_storage server; /* --server */
    struct sockaddr_storage alt;    /* --alt-server, when has_alt */
    bool has_alt;
    bool allow_remote;
    unsigned sockets, window, threads;
    uint64_t rate; /* requests/s in total; 0: closed loop */
    double duration_s, warmup_s;
    unsigned timeout_ms;
    int cpus[BENCH_MAX_THREADS]; /* thread i runs on cpus[i] */
    unsigned n_cpus;
    unsigned weights[BENCH_KIND_COUNT]; /* --mix */
    bool json;
    int progress; /* -1: only when stdout is a terminal (and not --json) */
    bool require_clean;
    bool gso;             /* --no-gso clears it */
    uint16_t tls_port;    /* --tls-port: short-term-auth's Shared Secret Request, tls's streams */
    const char *tls_ca;   /* --tls-ca: verify the server's certificate; NULL: not verified */
    const char *user;     /* --user: long-term-auth's USERNAME; NULL: none */
    const char *password; /* --password: its PASSWORD; NULL: none */
    unsigned password_algorithm; /* --password-algorithm: enum crypto_password_alg */
    /* --follow-alternate: after a 300, a socket sends its UDP requests to
     * the ALTERNATE-SERVER it named (loopback unless --allow-remote). */
    bool follow_alternate;
};

/* Parses argv into o; exits 0 for --help / --version, 2 on a bad flag. */
void bench_options_parse(struct bench_options *o, int argc, char **argv);

/* "binding:3,classic:1" for o's mix (into buf of cap bytes). */
const char *bench_options_mix_text(const struct bench_options *o, char *buf, size_t cap);

#endif
