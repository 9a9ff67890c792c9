/*
 * stunring-bench's flag table. Every flag is long, has a default that
 * --help prints from set_defaults(), and a bad one exits 2 naming it.
 */
#include "bench/loadgen/options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"
#include "io/addr.h"
#include "io/main/cli.h"

#ifndef STUNRING_VERSION
#define STUNRING_VERSION "0.0.0"
#endif

static void set_defaults(struct bench_options *o)
{
    memset(o, 0, sizeof(*o));
    addr_parse_ip("127.0.0.1", 3478, &o->server);
    o->sockets = 64;
    o->window = 8;
    o->threads = 1;
    o->rate = 0;
    o->duration_s = 10;
    o->warmup_s = 1;
    o->timeout_ms = 1000;
    o->weights[BENCH_BINDING] = 1;
    o->progress = -1;
    o->gso = true;
    o->tls_port = 5349;
    o->password_algorithm = CRYPTO_PASSWORD_SHA256;
}

static double parse_seconds(const char *flag, const char *text, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < min || v > max)
        cli_usage_error("%s: want seconds from %g to %g, got '%s'", flag, min, max, text);
    return v;
}

/* "ADDR:PORT", "[V6]:PORT", or an address alone (port 3478). */
static void parse_endpoint(const char *flag, const char *text, struct sockaddr_storage *out)
{
    char host[128];
    const char *port_text = NULL;
    if (strlen(text) >= sizeof(host))
        cli_usage_error("%s: '%s' is too long", flag, text);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            cli_usage_error("%s: want ADDR:PORT or [IPV6]:PORT, got '%s'", flag, text);
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(text, ':');
        snprintf(host, sizeof(host), "%s", text);
        if (colon != NULL && strchr(colon + 1, ':') == NULL) { /* one colon: IPv4:PORT */
            host[colon - text] = '\0';
            port_text = colon + 1;
        }
    }
    uint16_t port = port_text ? (uint16_t)cli_number(flag, port_text, 1, 65535) : 3478;
    if (addr_parse_ip(host, port, out) != 0)
        cli_usage_error("%s: '%s' is not an IPv4 or IPv6 address (names are not resolved)", flag,
                        host);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        uint32_t ip = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
        return (ip >> 24) == 127;
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

static void parse_mix(struct bench_options *o, const char *text)
{
    char copy[512];
    if (strlen(text) >= sizeof(copy))
        cli_usage_error("--mix: too long");
    snprintf(copy, sizeof(copy), "%s", text);
    memset(o->weights, 0, sizeof(o->weights));
    bool seen[BENCH_KIND_COUNT] = {false};
    unsigned long long total = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        unsigned weight = 1;
        if (colon != NULL) {
            *colon = '\0';
            weight = (unsigned)cli_number("--mix weight", colon + 1, 0, BENCH_MAX_WEIGHT);
        }
        unsigned k = 0;
        while (k < BENCH_KIND_COUNT && strcmp(item, bench_kind_name((enum bench_kind)k)) != 0)
            k++;
        if (k == BENCH_KIND_COUNT)
            cli_usage_error("--mix: unknown kind '%s' (binding, classic, fingerprint, "
                            "change-request, tcp, short-term-auth, long-term-auth, tls, "
                            "unknown-attribute, challenge)",
                            item);
        if (seen[k])
            cli_usage_error("--mix: '%s' given twice", item);
        seen[k] = true;
        o->weights[k] = weight;
        total += weight;
    }
    if (total == 0)
        cli_usage_error("--mix: no kind with a weight above 0 in '%s'", text);
}

const char *bench_options_mix_text(const struct bench_options *o, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned k = 0; k < BENCH_KIND_COUNT && used < cap; k++) {
        if (o->weights[k] == 0)
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s:%u", used ? "," : "",
                         bench_kind_name((enum bench_kind)k), o->weights[k]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

static void print_help(void)
{
    struct bench_options d;
    char text[ADDR_TEXT_MAX], mix[128];
    set_defaults(&d);
    printf("usage: stunring-bench [FLAGS]\n"
           "A STUN load generator: sends Binding Requests, checks every answer, reports\n"
           "sent, valid, invalid, lost, stray, responses/s, latency and amplification.\n\n");
    printf("  --server ADDR:PORT   where to send ([::1]:3478 for IPv6) (default: %s)\n",
           addr_format(&d.server, text));
    printf("  --allow-remote       allow a server outside 127.0.0.0/8 and ::1 (default: "
           "loopback only)\n");
    printf("  --alt-server ADDR:PORT  the server's other endpoint, for change-request\n"
           "                       (default: learned from OTHER-ADDRESS of a first exchange)\n");
    printf("  --sockets N          source sockets (distinct ports) (default: %u)\n", d.sockets);
    printf("  --window N           closed loop: outstanding requests per socket "
           "(default: %u)\n",
           d.window);
    printf("  --rate N             open loop: requests/s in total, paced; 0 = closed loop\n"
           "                       (default: %llu)\n",
           (unsigned long long)d.rate);
    printf("  --timeout-ms N       a request unanswered this long is lost (default: %u)\n",
           d.timeout_ms);
    printf("  --duration SECONDS   measured time (default: %g)\n", d.duration_s);
    printf("  --warmup SECONDS     load before it, not counted (default: %g)\n", d.warmup_s);
    printf("  --threads N          sending threads; sockets are split among them "
           "(default: %u)\n",
           d.threads);
    printf("  --cpus LIST          pin thread i to the i-th CPU of LIST, e.g. 1 or 2-3\n"
           "                       (default: not pinned)\n");
    printf("  --mix SPEC           kinds with weights, e.g. binding:3,classic:1; kinds:\n"
           "                       binding, classic, fingerprint, change-request, tcp,\n"
           "                       short-term-auth, long-term-auth, tls; and two that\n"
           "                       expect errors: unknown-attribute (420), challenge\n"
           "                       (401 from a server with --users)\n"
           "                       (default: %s)\n",
           bench_options_mix_text(&d, mix, sizeof(mix)));
    printf("  --tls-port N         the server's TLS port on the --server address: tls sends\n"
           "                       there (one TLS connection per socket); short-term-auth\n"
           "                       mints there, one Shared Secret Request before the run\n"
           "                       (default: %u)\n",
           d.tls_port);
    printf("  --tls-ca FILE        verify the server's certificate (and its IP address)\n"
           "                       against FILE, PEM (default: not verified)\n");
    printf("  --user NAME          long-term-auth: the long-term user (needed with it; one\n"
           "                       401 before the run teaches REALM and NONCE; a 438 later\n"
           "                       refreshes the socket's NONCE, counted invalid as\n"
           "                       stale_nonce) (default: none)\n");
    printf("  --password PASS      long-term-auth: its password (needed with it; visible to\n"
           "                       ps: use a throw-away user) (default: none)\n");
    printf("  --password-algorithm md5|sha256  long-term-auth: PASSWORD-ALGORITHM; sha256\n"
           "                       signs with MESSAGE-INTEGRITY-SHA256, md5 with\n"
           "                       MESSAGE-INTEGRITY (default: sha256)\n");
    printf("  --follow-alternate   after a 300 Try Alternate (counted redirected), send the\n"
           "                       socket's UDP requests to its ALTERNATE-SERVER (loopback\n"
           "                       unless --allow-remote); answers from there count valid and\n"
           "                       followed; TCP and TLS stay (default: off)\n");
    printf("  --json               print one JSON object on stdout and nothing else\n");
    printf("  --progress, --no-progress  a line on stderr each second (default: when stdout "
           "is a\n"
           "                       terminal and not --json)\n");
    printf("  --require-clean      exit 1 if any answer was invalid or stray (default: off)\n");
    printf("  --no-gso             one sendmsg per UDP request, not UDP GSO runs (default: GSO\n"
           "                       where the kernel has it; the server sees the same datagrams)\n");
    printf("  --version            print the version and exit\n");
    printf("  --help               this text\n\n"
           "Exit: 0 when the run completed (loss is a result), 1 on a setup failure or\n"
           "--require-clean, 2 on a bad flag.\n");
}

enum flag {
    F_SERVER = 256,
    F_ALLOW_REMOTE,
    F_ALT_SERVER,
    F_SOCKETS,
    F_WINDOW,
    F_RATE,
    F_TIMEOUT_MS,
    F_DURATION,
    F_WARMUP,
    F_THREADS,
    F_CPUS,
    F_MIX,
    F_JSON,
    F_PROGRESS,
    F_NO_PROGRESS,
    F_REQUIRE_CLEAN,
    F_NO_GSO,
    F_TLS_PORT,
    F_TLS_CA,
    F_USER,
    F_PASSWORD,
    F_PASSWORD_ALGORITHM,
    F_FOLLOW_ALTERNATE,
    F_VERSION,
    F_HELP,
};

static const struct option flags[] = {
    {"server", required_argument, NULL, F_SERVER},
    {"allow-remote", no_argument, NULL, F_ALLOW_REMOTE},
    {"alt-server", required_argument, NULL, F_ALT_SERVER},
    {"sockets", required_argument, NULL, F_SOCKETS},
    {"window", required_argument, NULL, F_WINDOW},
    {"rate", required_argument, NULL, F_RATE},
    {"timeout-ms", required_argument, NULL, F_TIMEOUT_MS},
    {"duration", required_argument, NULL, F_DURATION},
    {"warmup", required_argument, NULL, F_WARMUP},
    {"threads", required_argument, NULL, F_THREADS},
    {"cpus", required_argument, NULL, F_CPUS},
    {"mix", required_argument, NULL, F_MIX},
    {"json", no_argument, NULL, F_JSON},
    {"progress", no_argument, NULL, F_PROGRESS},
    {"no-progress", no_argument, NULL, F_NO_PROGRESS},
    {"require-clean", no_argument, NULL, F_REQUIRE_CLEAN},
    {"no-gso", no_argument, NULL, F_NO_GSO},
    {"tls-port", required_argument, NULL, F_TLS_PORT},
    {"tls-ca", required_argument, NULL, F_TLS_CA},
    {"user", required_argument, NULL, F_USER},
    {"password", required_argument, NULL, F_PASSWORD},
    {"password-algorithm", required_argument, NULL, F_PASSWORD_ALGORITHM},
    {"follow-alternate", no_argument, NULL, F_FOLLOW_ALTERNATE},
    {"version", no_argument, NULL, F_VERSION},
    {"help", no_argument, NULL, F_HELP},
    {NULL, 0, NULL, 0},
};

static unsigned parse_password_algorithm(const char *text)
{
    if (strcmp(text, "sha256") == 0)
        return CRYPTO_PASSWORD_SHA256;
    if (strcmp(text, "md5") == 0)
        return CRYPTO_PASSWORD_MD5;
    cli_usage_error("--password-algorithm: want md5 or sha256, got '%s'", text);
}

static void apply_flag(struct bench_options *o, int flag, const char *arg)
{
    switch (flag) {
    case F_SERVER:
        parse_endpoint("--server", arg, &o->server);
        break;
    case F_ALLOW_REMOTE:
        o->allow_remote = true;
        break;
    case F_ALT_SERVER:
        parse_endpoint("--alt-server", arg, &o->alt);
        o->has_alt = true;
        break;
    case F_SOCKETS:
        o->sockets = (unsigned)cli_number("--sockets", arg, 1, BENCH_MAX_SOCKETS);
        break;
    case F_WINDOW:
        o->window = (unsigned)cli_number("--window", arg, 1, BENCH_MAX_WINDOW);
        break;
    case F_RATE:
        o->rate = cli_number("--rate", arg, 0, 100000000);
        break;
    case F_TIMEOUT_MS:
        o->timeout_ms = (unsigned)cli_number("--timeout-ms", arg, 1, 600000);
        break;
    case F_DURATION:
        o->duration_s = parse_seconds("--duration", arg, 0.001, 86400);
        break;
    case F_WARMUP:
        o->warmup_s = parse_seconds("--warmup", arg, 0, 3600);
        break;
    case F_THREADS:
        o->threads = (unsigned)cli_number("--threads", arg, 1, BENCH_MAX_THREADS);
        break;
    case F_CPUS:
        o->n_cpus = cli_cpus("--cpus", arg, o->cpus, BENCH_MAX_THREADS);
        break;
    case F_MIX:
        parse_mix(o, arg);
        break;
    case F_JSON:
        o->json = true;
        break;
    case F_PROGRESS:
        o->progress = 1;
        break;
    case F_NO_PROGRESS:
        o->progress = 0;
        break;
    case F_REQUIRE_CLEAN:
        o->require_clean = true;
        break;
    case F_NO_GSO:
        o->gso = false;
        break;
    case F_TLS_PORT:
        o->tls_port = (uint16_t)cli_number("--tls-port", arg, 1, 65535);
        break;
    case F_TLS_CA:
        o->tls_ca = arg;
        break;
    case F_USER:
        o->user = arg;
        break;
    case F_PASSWORD:
        o->password = arg;
        break;
    case F_PASSWORD_ALGORITHM:
        o->password_algorithm = parse_password_algorithm(arg);
        break;
    case F_FOLLOW_ALTERNATE:
        o->follow_alternate = true;
        break;
    case F_VERSION:
        printf("stunring-bench %s\n", STUNRING_VERSION);
        exit(0);
    case F_HELP:
        print_help();
        exit(0);
    default:
        cli_usage_error("unknown flag");
    }
}

/* Rules between flags, once all are read. */
static void check_together(const struct bench_options *o)
{
    char text[ADDR_TEXT_MAX];
    if (!o->allow_remote && !is_loopback(&o->server))
        cli_usage_error("--server %s: not a loopback address (127.0.0.0/8, ::1); a load "
                        "generator aimed at someone else's server is an attack: pass "
                        "--allow-remote for a server you run",
                        addr_format(&o->server, text));
    if (o->has_alt && !o->allow_remote && !is_loopback(&o->alt))
        cli_usage_error("--alt-server %s: not a loopback address; pass --allow-remote for a "
                        "server you run",
                        addr_format(&o->alt, text));
    if (o->has_alt && o->alt.ss_family != o->server.ss_family)
        cli_usage_error("--alt-server: not the address family of --server");
    if (o->weights[BENCH_LONG_TERM] > 0 && (o->user == NULL || o->user[0] == '\0'))
        cli_usage_error("--mix long-term-auth: needs --user NAME (and --password PASS) of a "
                        "long-term user of the server (stunringd --users)");
    if (o->weights[BENCH_LONG_TERM] > 0 && (o->password == NULL || o->password[0] == '\0'))
        cli_usage_error("--mix long-term-auth: needs --password PASS for --user %s", o->user);
    if (o->user != NULL && strlen(o->user) > BENCH_USERNAME_MAX)
        cli_usage_error("--user: longer than %d bytes", BENCH_USERNAME_MAX);
    if (o->follow_alternate && o->weights[BENCH_CHANGE_REQUEST] > 0)
        cli_usage_error("--follow-alternate: not with change-request (its answers are judged "
                        "against the first server's endpoints)");
    if (o->sockets < o->threads)
        cli_usage_error("--threads %u: more threads than --sockets (%u)", o->threads, o->sockets);
    if (o->n_cpus > 0 && o->n_cpus < o->threads)
        cli_usage_error("--cpus: %u CPUs listed for %u --threads", o->n_cpus, o->threads);
    if (o->rate > 0) {
        /* Open loop: a socket holds every request of the last timeout. */
        double per_socket = (double)o->rate / o->sockets * o->timeout_ms / 1000.0;
        if (per_socket * 2 + 64 > BENCH_RING_MAX)
            cli_usage_error("--rate %llu: %.0f requests per socket within --timeout-ms %u is more "
                            "than one socket tracks (%d); add --sockets or lower --timeout-ms",
                            (unsigned long long)o->rate, per_socket, o->timeout_ms,
                            BENCH_RING_MAX / 2 - 32);
    }
}

void bench_options_parse(struct bench_options *o, int argc, char **argv)
{
    cli_program = "stunring-bench";
    set_defaults(o);
    for (int flag; (flag = cli_next_flag(argc, argv, flags)) != -1;)
        apply_flag(o, flag, optarg);
    check_together(o);
}
