/*
 * stunringd: the daemon's main() and its flag table. Every flag is long,
 * has a default that --help prints from the code, and a bad one exits 2
 * with a message naming it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/secret_table.h"
#include "io/addr.h"
#include "io/log.h"
#include "io/main/cli.h"
#include "io/main/host_check.h"
#include "io/main/metrics.h"
#include "io/main/server.h"
#include "io/ratelimit.h"
#include "io/udp/sockets.h"

#ifndef STUNRING_VERSION
#define STUNRING_VERSION "0.0.0"
#endif

struct options {
    struct server_config cfg;
    const char *listen[SERVER_MAX_FAMILIES + 1];
    unsigned n_listen;
    const char *alt[SERVER_MAX_FAMILIES + 1];
    unsigned n_alt;
    const char *cpus_text;
    bool print_config;
    enum log_level log_level;
    /* Operations (issue 10): --log-format, --user. */
    enum log_format log_format;
};

static unsigned online_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* The defaults, in one place: --help prints them from here. */
static void set_defaults(struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.port = 3478;
    o->cfg.alt_port = 3479;
    o->cfg.workers = online_cpus();
    o->cfg.backend = IO_BACKEND_AUTO;
    o->cfg.batch = 64;
    o->cfg.ring_entries = 1024;
    o->cfg.rcvbuf = 4 << 20; /* absorbs bursts: 4 MiB is ~5000 queued datagrams */
    o->cfg.tcp = true;
    o->cfg.tcp_max_conns = 1024;
    o->cfg.tcp_idle_ms = 30000;
    o->cfg.tls_port = 5349;
    o->cfg.tls_max_conns = 1024;
    o->cfg.tls_handshake_ms = 5000;
    o->cfg.auth = STUN_AUTH_NONE;
    o->cfg.credential_ttl_s = 600;
    o->cfg.max_credentials = 100000; /* 94 MB (secret_table_bytes), 160 mints/s sustained */
    o->cfg.nonce_ttl_s = 600;
    o->cfg.mint_rate = 20;
    o->cfg.rate_prefix4 = 32; /* one IPv4 address: a CGNAT's users share it anyway */
    o->cfg.rate_prefix6 = 64; /* one IPv6 subnet: a host owns its whole /64 */
    o->log_level = LOG_INFO;
    /* Streams per client: 1/16 of the default tables, so one client can
     * take at most that share and at least 16 are needed to fill them; a
     * carrier-grade NAT address has that many of its users in a TCP or
     * TLS exchange at once only rarely (minting holds a connection for a
     * round trip). Handshakes: 20 a second in bursts of 200, as
     * --mint-rate (each mint needs one): about 12,000 users behind one
     * address minting every 10 minutes, while one flooder gets 20
     * private-key operations a second of the front thread on average. */
    o->cfg.stream_max_per_client = 64;
    o->cfg.tls_handshake_rate = 20;
    /* The reflection cap, per client prefix, for the whole server (README
     * "Reflection and amplification"). A carrier-grade NAT address with
     * 4,000 users who each ask a few times a minute sends ~200 requests a
     * second; 2,000 a second and a burst of 10,000 leave it ten times that
     * for a storm of call set-ups. A victim is then sent at most 10,000 +
     * 2,000 answers a second, however many workers there are: about 2.4
     * Mbit/s of answers of <= 150 bytes on the wire, instead of whatever an
     * attacker's requests times the amplification would buy. */
    o->cfg.rate_limit = 2000;
    o->cfg.rate_burst = 10000;
    o->cfg.rate_table = 32768; /* prefixes a worker tracks: 2.5 MiB a worker */
    /* A client prefix holds at most 1% of --max-credentials (never fewer
     * than 16): it takes 100 prefixes, not a few hundred addresses of one
     * /64, to fill the table. */
    o->cfg.mint_share = 1;
    /* Operations: lines for people; root stays root (no --user). */
    o->log_format = LOG_FORMAT_TEXT;
    /* --steer: see README "Steering" for the measurement behind it. */
    o->cfg.steer = STEER_NONE;
}

static const char *auth_name(enum stun_auth_mode mode)
{
    return mode == STUN_AUTH_REQUIRED   ? "required"
           : mode == STUN_AUTH_OPTIONAL ? "optional"
                                        : "none";
}

/* Text of each flag's default, from set_defaults(). */
static void print_help(void)
{
    struct options d;
    set_defaults(&d);
    printf("usage: stunringd [FLAGS]\n"
           "A STUN server (RFC 3489, 5389, 8489, 5780) with per-core io_uring workers.\n\n");
    printf("  --listen ADDR        primary address; repeat for one IPv4 and one IPv6\n"
           "                       (default: 0.0.0.0 and ::)\n");
    printf("  --alt-address ADDR   second address of the same family, for RFC 3489/5780\n"
           "                       CHANGE-REQUEST; repeatable likewise (default: none)\n");
    printf("  --port N             primary port (default: %u)\n", d.cfg.port);
    printf("  --alt-port N         alternate port, used with --alt-address (default: %u)\n",
           d.cfg.alt_port);
    printf("  --workers N          UDP worker threads (default: the CPUs available, %u here)\n",
           d.cfg.workers);
    printf("  --cpus LIST          pin worker i to the i-th CPU of LIST, e.g. 0-3,8\n"
           "                       (default: the CPUs available, in order)\n");
    printf("  --steer MODE         which worker gets a UDP datagram: cpu (the worker pinned\n"
           "                       to the CPU that received it; needs one worker per CPU),\n"
           "                       source (by a hash of the client's --rate-prefix4/6\n"
           "                       prefix: each worker then enforces the whole --rate-limit)\n"
           "                       or none (the kernel's 4-tuple hash) (default: %s)\n",
           steer_mode_name(d.cfg.steer));
    printf("  --backend NAME       auto, uring or mmsg (default: %s: io_uring if it works)\n",
           io_backend_name(d.cfg.backend));
    printf("  --batch N            datagrams per recvmmsg/sendmmsg (default: %u)\n", d.cfg.batch);
    printf("  --ring-entries N     io_uring queue and buffer ring size, a power of 2\n"
           "                       (default: %u)\n",
           d.cfg.ring_entries);
    printf("  --rcvbuf BYTES       SO_RCVBUF of each UDP socket, forced past rmem_max when\n"
           "                       allowed (default: %d)\n",
           d.cfg.rcvbuf);
    printf("  --sndbuf BYTES       SO_SNDBUF of each UDP socket (default: kernel's)\n");
    printf("  --software TEXT      send a SOFTWARE attribute (default: off)\n");
    printf("  --no-tcp             do not serve STUN over TCP (default: TCP on the primary "
           "port)\n");
    printf("  --tcp-max-conns N    open TCP connections at most (default: %u)\n",
           d.cfg.tcp_max_conns);
    printf("  --tcp-idle-ms N      close a TCP or TLS connection idle this long, in ms\n"
           "                       (default: %u)\n",
           d.cfg.tcp_idle_ms);
    printf("  --tls-port N         port of STUN over TLS and Shared Secret Requests\n"
           "                       (default: %u; served when --cert and --key are given)\n",
           d.cfg.tls_port);
    printf("  --cert FILE          TLS certificate chain, PEM (default: none: TLS off)\n");
    printf("  --key FILE           TLS private key, PEM (default: none)\n");
    printf("  --tls-max-conns N    open TLS connections at most (default: %u)\n",
           d.cfg.tls_max_conns);
    printf("  --tls-handshake-ms N close a TLS connection whose handshake takes longer\n"
           "                       (default: %u)\n",
           d.cfg.tls_handshake_ms);
    printf("  --auth MODE          none, optional or required: whether Binding Requests carry\n"
           "                       short-term (Shared Secret) or, with --users, long-term\n"
           "                       credentials (default: %s)\n",
           auth_name(d.cfg.auth));
    printf("  --credential-ttl S   seconds a minted Shared Secret stays valid (default: %u)\n",
           d.cfg.credential_ttl_s);
    size_t table = secret_table_bytes(d.cfg.max_credentials);
    printf("  --max-credentials N  credentials held at once; size it for (mints per second)\n"
           "                       x (TTL + 10 s). Slots: a power of 2, at least 2N, of %zu\n"
           "                       bytes each: about %zu bytes a credential at the default\n"
           "                       (%zu MB); one past a power of 2 doubles the table\n"
           "                       (default: %u)\n",
           secret_table_slot_bytes(), (table + d.cfg.max_credentials / 2) / d.cfg.max_credentials,
           table / 1000000, d.cfg.max_credentials);
    printf("  --mint-rate N        Shared Secrets a second one client IP may mint, in bursts\n"
           "                       of 10 x N; more get 500; 0: no limit (default: %u)\n",
           d.cfg.mint_rate);
    printf("  --response-address   send the answer of an authenticated request to its\n"
           "                       RESPONSE-ADDRESS, with REFLECTED-FROM (RFC 3489 §8.1);\n"
           "                       unauthenticated ones are always refused (default: off:\n"
           "                       420)\n");
    printf("  --secret-key FILE    fleet key (16+ bytes): credentials minted by any server\n"
           "                       holding it validate on all (default: a random key)\n");
    printf("  --secret-key-previous FILE\n"
           "                       the fleet key before the current one, for a rollover:\n"
           "                       what was made under it is still accepted, nothing new\n"
           "                       is; needs --secret-key (default: none)\n");
    printf("  --realm TEXT         REALM of long-term credentials, with --users\n"
           "                       (default: none)\n");
    printf("  --users FILE         long-term users, one 'USER:PASSWORD' or stunring-passwd\n"
           "                       line each (default: none: no long-term credentials)\n");
    printf("  --nonce-ttl S        seconds a NONCE stays valid; then 438 (default: %u)\n",
           d.cfg.nonce_ttl_s);
    printf("  --rate-prefix4 BITS  one client, to every per-source limit, is an IPv4 prefix\n"
           "                       this long (default: %u)\n",
           d.cfg.rate_prefix4);
    printf("  --rate-prefix6 BITS  likewise for IPv6: a host owns its whole /64 (default: %u)\n",
           d.cfg.rate_prefix6);
    printf("  --stream-max-per-client N  open TCP connections one client (--rate-prefix4/6)\n"
           "                       may hold, and apart as many TLS ones; more are closed at\n"
           "                       once; 0: no cap (default: %u)\n",
           d.cfg.stream_max_per_client);
    printf("  --tls-handshake-rate N  TLS connections one client may open a second, in\n"
           "                       bursts of 10 x N; more are closed before any TLS work;\n"
           "                       0: no limit (default: %u)\n",
           d.cfg.tls_handshake_rate);
    printf("  --allow-peer CIDR    let RESPONSE-ADDRESS point into CIDR (ADDR or ADDR/BITS),\n"
           "                       over the default deny list; repeatable (default: none)\n");
    printf("  --deny-peer CIDR     refuse CIDR as a destination; repeatable. Of the rules\n"
           "                       containing an address the longest prefix wins, a deny a\n"
           "                       tie; a matching rule overrides the defaults (loopback,\n"
           "                       private, link-local, multicast, reserved, our own\n"
           "                       addresses) (default: none; at most %d rules)\n",
           STUN_DEST_MAX_RULES);
    printf("  --rate-limit N       reflection cap: UDP answers a second to unauthenticated\n"
           "                       requests one client prefix may be sent, for the whole\n"
           "                       server (each of W workers enforces N/W, all of N under\n"
           "                       --steer source); past it requests are dropped, counted\n"
           "                       drop_rate_limited; 0: off\n"
           "                       (default: %u)\n",
           d.cfg.rate_limit);
    printf("  --rate-burst N       reflection cap's burst, for the whole server (each worker\n"
           "                       N/W rounded up, N under --steer source): one prefix is\n"
           "                       sent at most N + rate x seconds (+ W - 1) answers\n"
           "                       (default: %u)\n",
           d.cfg.rate_burst);
    printf("  --rate-table N       client prefixes each worker's cap tracks, %zu KiB a\n"
           "                       worker at the default; more are forgotten, which only\n"
           "                       loosens the cap (default: %u)\n",
           rate_limiter_bytes(d.cfg.rate_table) >> 10, d.cfg.rate_table);
    printf("  --mint-share PERCENT share of --max-credentials one client prefix may hold\n"
           "                       (at least 16); more mints get 500, counted\n"
           "                       reject_mint_share (default: %u)\n",
           d.cfg.mint_share);
    printf("  --metrics ADDR:PORT  serve Prometheus GET /metrics and GET /healthz over\n"
           "                       HTTP there, e.g. 127.0.0.1:9100 or [::1]:9100\n"
           "                       (default: off)\n");
    printf("  --metrics-per-worker also each worker's datagrams received and answers sent,\n"
           "                       with a worker label; needs --metrics (default: off)\n");
    printf("  --print-metrics-map  print the metric each SIGUSR1 counter is and exit\n");
    printf("  --alternate-server ADDR:PORT\n"
           "                       where SIGUSR2 (drain) and --shed-above send clients:\n"
           "                       300 Try Alternate with ALTERNATE-SERVER; at most one\n"
           "                       per family, IPv6 as [ADDR]:PORT (default: none)\n");
    printf("  --alternate-domain NAME\n"
           "                       ALTERNATE-DOMAIN sent with a 300 over TLS (default: none)\n");
    printf("  --shed-above N       requests a second per worker beyond which it answers 300\n"
           "                       (needs --alternate-server); 0 = off (default: %u)\n",
           d.cfg.shed_above);
    printf("  --log-level LEVEL    error, warn, info or debug (default: %s)\n",
           log_level_name(d.log_level));
    printf("  --log-format FORMAT  text or json: one JSON object a line, with time, level,\n"
           "                       msg (default: %s)\n",
           log_format_name(d.log_format));
    printf("  --user NAME[:GROUP]  once every socket is bound and every file read, become\n"
           "                       NAME (in its group, or GROUP) with no capability left;\n"
           "                       needs root. SIGHUP then reloads files as NAME: they must\n"
           "                       be readable by it (default: none: stay as started)\n");
    printf("  --print-config       print the effective configuration and exit\n");
    printf("  --version            print the version and exit\n");
    printf("  --help               this text\n\n"
           "Exit codes: 0 after a clean stop; 2 for a bad flag or value, including a file\n"
           "a flag names that fails to load at start-up (--cert, --key, --secret-key,\n"
           "--users); 1 for a runtime failure (a port taken, an address that cannot be\n"
           "bound, io_uring unavailable with --backend uring, out of memory).\n"
           "Signals: SIGTERM/SIGINT stop (exit 0), SIGUSR1 prints the counters,\n"
           "SIGHUP reloads the certificate and key, --secret-key and --users.\n"
           "SIGUSR2 toggles drain: every RFC 5389/8489 request is answered 300 with the\n"
           "--alternate-server of its family (none of its family: answered as always).\n");
}

enum flag {
    F_LISTEN = 256,
    F_ALT_ADDRESS,
    F_PORT,
    F_ALT_PORT,
    F_WORKERS,
    F_CPUS,
    F_STEER,
    F_BACKEND,
    F_BATCH,
    F_RING_ENTRIES,
    F_RCVBUF,
    F_SNDBUF,
    F_SOFTWARE,
    F_NO_TCP,
    F_TCP_MAX_CONNS,
    F_TCP_IDLE_MS,
    F_TLS_PORT,
    F_CERT,
    F_KEY,
    F_TLS_MAX_CONNS,
    F_TLS_HANDSHAKE_MS,
    F_AUTH,
    F_CREDENTIAL_TTL,
    F_MAX_CREDENTIALS,
    F_SECRET_KEY,
    F_SECRET_KEY_PREVIOUS,
    F_MINT_RATE,
    F_RESPONSE_ADDRESS,
    F_REALM,
    F_USERS,
    F_NONCE_TTL,
    F_RATE_PREFIX4,
    F_RATE_PREFIX6,
    F_STREAM_MAX_PER_CLIENT,
    F_TLS_HANDSHAKE_RATE,
    F_ALLOW_PEER,
    F_DENY_PEER,
    F_RATE_LIMIT,
    F_RATE_BURST,
    F_RATE_TABLE,
    F_MINT_SHARE,
    F_METRICS,
    F_METRICS_PER_WORKER,
    F_PRINT_METRICS_MAP,
    /* Drain and shedding (issue 10 part 2). */
    F_ALTERNATE_SERVER,
    F_ALTERNATE_DOMAIN,
    F_SHED_ABOVE,
    F_LOG_LEVEL,
    F_LOG_FORMAT,
    F_USER,
    F_PRINT_CONFIG,
    F_VERSION,
    F_HELP,
};

static const struct option flags[] = {
    {"listen", required_argument, NULL, F_LISTEN},
    {"alt-address", required_argument, NULL, F_ALT_ADDRESS},
    {"port", required_argument, NULL, F_PORT},
    {"alt-port", required_argument, NULL, F_ALT_PORT},
    {"workers", required_argument, NULL, F_WORKERS},
    {"cpus", required_argument, NULL, F_CPUS},
    {"steer", required_argument, NULL, F_STEER},
    {"backend", required_argument, NULL, F_BACKEND},
    {"batch", required_argument, NULL, F_BATCH},
    {"ring-entries", required_argument, NULL, F_RING_ENTRIES},
    {"rcvbuf", required_argument, NULL, F_RCVBUF},
    {"sndbuf", required_argument, NULL, F_SNDBUF},
    {"software", required_argument, NULL, F_SOFTWARE},
    {"no-tcp", no_argument, NULL, F_NO_TCP},
    {"tcp-max-conns", required_argument, NULL, F_TCP_MAX_CONNS},
    {"tcp-idle-ms", required_argument, NULL, F_TCP_IDLE_MS},
    {"tls-port", required_argument, NULL, F_TLS_PORT},
    {"cert", required_argument, NULL, F_CERT},
    {"key", required_argument, NULL, F_KEY},
    {"tls-max-conns", required_argument, NULL, F_TLS_MAX_CONNS},
    {"tls-handshake-ms", required_argument, NULL, F_TLS_HANDSHAKE_MS},
    {"auth", required_argument, NULL, F_AUTH},
    {"credential-ttl", required_argument, NULL, F_CREDENTIAL_TTL},
    {"max-credentials", required_argument, NULL, F_MAX_CREDENTIALS},
    {"secret-key", required_argument, NULL, F_SECRET_KEY},
    {"secret-key-previous", required_argument, NULL, F_SECRET_KEY_PREVIOUS},
    {"mint-rate", required_argument, NULL, F_MINT_RATE},
    {"response-address", no_argument, NULL, F_RESPONSE_ADDRESS},
    {"realm", required_argument, NULL, F_REALM},
    {"users", required_argument, NULL, F_USERS},
    {"nonce-ttl", required_argument, NULL, F_NONCE_TTL},
    {"rate-prefix4", required_argument, NULL, F_RATE_PREFIX4},
    {"rate-prefix6", required_argument, NULL, F_RATE_PREFIX6},
    {"stream-max-per-client", required_argument, NULL, F_STREAM_MAX_PER_CLIENT},
    {"tls-handshake-rate", required_argument, NULL, F_TLS_HANDSHAKE_RATE},
    {"allow-peer", required_argument, NULL, F_ALLOW_PEER},
    {"deny-peer", required_argument, NULL, F_DENY_PEER},
    {"rate-limit", required_argument, NULL, F_RATE_LIMIT},
    {"rate-burst", required_argument, NULL, F_RATE_BURST},
    {"rate-table", required_argument, NULL, F_RATE_TABLE},
    {"mint-share", required_argument, NULL, F_MINT_SHARE},
    {"metrics", required_argument, NULL, F_METRICS},
    {"metrics-per-worker", no_argument, NULL, F_METRICS_PER_WORKER},
    {"print-metrics-map", no_argument, NULL, F_PRINT_METRICS_MAP},
    {"alternate-server", required_argument, NULL, F_ALTERNATE_SERVER},
    {"alternate-domain", required_argument, NULL, F_ALTERNATE_DOMAIN},
    {"shed-above", required_argument, NULL, F_SHED_ABOVE},
    {"log-level", required_argument, NULL, F_LOG_LEVEL},
    {"log-format", required_argument, NULL, F_LOG_FORMAT},
    {"user", required_argument, NULL, F_USER},
    {"print-config", no_argument, NULL, F_PRINT_CONFIG},
    {"version", no_argument, NULL, F_VERSION},
    {"help", no_argument, NULL, F_HELP},
    {NULL, 0, NULL, 0},
};

/* Characters of UTF-8 text: the bytes that do not continue a sequence. */
static size_t utf8_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static enum io_backend parse_backend(const char *text)
{
    if (strcmp(text, "auto") == 0)
        return IO_BACKEND_AUTO;
    if (strcmp(text, "uring") == 0)
        return IO_BACKEND_URING;
    if (strcmp(text, "mmsg") == 0)
        return IO_BACKEND_MMSG;
    cli_usage_error("--backend: want auto, uring or mmsg, got '%s'", text);
}

static enum stun_auth_mode parse_auth(const char *text)
{
    if (strcmp(text, "none") == 0)
        return STUN_AUTH_NONE;
    if (strcmp(text, "optional") == 0)
        return STUN_AUTH_OPTIONAL;
    if (strcmp(text, "required") == 0)
        return STUN_AUTH_REQUIRED;
    cli_usage_error("--auth: want none, optional or required, got '%s'", text);
}

/* --metrics ADDR:PORT: an IPv4 literal, or an IPv6 one in brackets. */
static void parse_metrics(struct options *o, const char *text)
{
    cli_host_port("--metrics", text, &o->cfg.metrics_addr);
}

static void add_address(const char *flag, const char **list, unsigned *n, const char *text)
{
    if (*n == SERVER_MAX_FAMILIES)
        cli_usage_error("%s: at most one IPv4 and one IPv6 address", flag);
    list[(*n)++] = text;
}

/* --allow-peer / --deny-peer CIDR: ADDR or ADDR/BITS, no host bits set. */
static void add_peer_rule(struct server_config *c, const char *flag, const char *text, bool allow)
{
    char ip_text[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t ip_len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    struct sockaddr_storage ss;
    struct stun_addr ip;
    if (ip_len >= sizeof(ip_text))
        cli_usage_error("%s: want ADDR or ADDR/BITS, got '%s'", flag, text);
    memcpy(ip_text, text, ip_len);
    ip_text[ip_len] = '\0';
    if (addr_parse_ip(ip_text, 0, &ss) != 0)
        cli_usage_error("%s: want ADDR or ADDR/BITS, got '%s'", flag, text);
    addr_to_stun(&ss, &ip);
    unsigned max = ip.family == STUN_FAMILY_IPV6 ? 128 : 32;
    unsigned bits = slash != NULL ? (unsigned)cli_number(flag, slash + 1, 0, max) : max;
    struct stun_dest_rule *rule = &c->peer_rules[c->n_peer_rules];
    if (c->n_peer_rules == STUN_DEST_MAX_RULES)
        cli_usage_error("%s: at most %d --allow-peer and --deny-peer rules", flag,
                        STUN_DEST_MAX_RULES);
    if (!stun_cidr_make(&ip, bits, &rule->net))
        cli_usage_error("%s: '%s' has bits set past /%u: want the network address", flag, text,
                        bits);
    rule->allow = allow;
    c->n_peer_rules++;
}

/* --log-format and --user. */
static void apply_operations_flag(struct options *o, int flag, const char *arg)
{
    if (flag == F_LOG_FORMAT) {
        int format = log_format_parse(arg);
        if (format < 0)
            cli_usage_error("--log-format: want text or json, got '%s'", arg);
        o->log_format = (enum log_format)format;
        return;
    }
    char err[256];
    if (geteuid() != 0)
        cli_usage_error("--user %s: only root can switch users (this process runs as uid %u)", arg,
                        (unsigned)geteuid());
    if (privileges_resolve(arg, &o->cfg.user, err, sizeof(err)) != 0)
        cli_usage_error("--user: %s", err);
}

/* --alternate-server ADDR:PORT or [ADDR]:PORT, at most one per family. */
static void add_alternate_server(struct server_config *c, const char *text)
{
    struct sockaddr_storage ss;
    struct stun_addr alt;
    cli_host_port("--alternate-server", text, &ss);
    if (addr_is_wildcard(&ss))
        cli_usage_error("--alternate-server: '%s' is not a concrete IPv4 or IPv6 address", text);
    addr_to_stun(&ss, &alt);
    struct stun_addr *slot = &c->alternate_server[alt.family == STUN_FAMILY_IPV6 ? 1 : 0];
    if (slot->family != 0)
        cli_usage_error("--alternate-server: at most one per family ('%s')", text);
    *slot = alt;
}

/* --alternate-server, --alternate-domain and --shed-above. */
static void apply_redirect_flag(struct server_config *c, int flag, const char *arg)
{
    if (flag == F_ALTERNATE_SERVER) {
        add_alternate_server(c, arg);
    } else if (flag == F_ALTERNATE_DOMAIN) {
        /* RFC 8489 §14.16: a domain name, under 255 bytes; no space or control. */
        size_t len = strlen(arg);
        for (const char *p = arg; *p != '\0'; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                len = 0;
        if (len == 0 || len > 255)
            cli_usage_error("--alternate-domain: want a domain name of 1-255 bytes, got '%s'", arg);
        c->alternate_domain = arg;
    } else {
        c->shed_above = (unsigned)cli_number("--shed-above", arg, 0, 100000000);
    }
}

static void apply_flag(struct options *o, int flag, const char *arg)
{
    struct server_config *c = &o->cfg;
    switch (flag) {
    case F_LISTEN:
        add_address("--listen", o->listen, &o->n_listen, arg);
        break;
    case F_ALT_ADDRESS:
        add_address("--alt-address", o->alt, &o->n_alt, arg);
        break;
    case F_PORT:
        c->port = (uint16_t)cli_number("--port", arg, 1, 65535);
        break;
    case F_ALT_PORT:
        c->alt_port = (uint16_t)cli_number("--alt-port", arg, 1, 65535);
        break;
    case F_WORKERS:
        c->workers = (unsigned)cli_number("--workers", arg, 1, SERVER_MAX_WORKERS);
        break;
    case F_CPUS:
        c->n_cpus = cli_cpus("--cpus", arg, c->cpus, SERVER_MAX_WORKERS);
        break;
    case F_STEER: {
        int mode = steer_mode_parse(arg);
        if (mode < 0)
            cli_usage_error("--steer: want cpu, source or none, got '%s'", arg);
        c->steer = (enum steer_mode)mode;
        break;
    }
    case F_BACKEND:
        c->backend = parse_backend(arg);
        break;
    case F_BATCH:
        c->batch = (unsigned)cli_number("--batch", arg, 1, SERVER_MAX_BATCH);
        c->batch_given = true;
        break;
    case F_RING_ENTRIES:
        c->ring_entries = (unsigned)cli_number("--ring-entries", arg, 8, SERVER_MAX_RING_ENTRIES);
        if (c->ring_entries & (c->ring_entries - 1))
            cli_usage_error("--ring-entries: want a power of 2, got '%s'", arg);
        c->ring_entries_given = true;
        break;
    case F_RCVBUF:
        c->rcvbuf = (int)cli_number("--rcvbuf", arg, 1024, INT_MAX / 2);
        break;
    case F_SNDBUF:
        c->sndbuf = (int)cli_number("--sndbuf", arg, 1024, INT_MAX / 2);
        break;
    case F_SOFTWARE:
        /* RFC 8489 §14.9: fewer than 128 characters. */
        if (utf8_chars(arg) == 0 || utf8_chars(arg) > 127)
            cli_usage_error("--software: want 1 to 127 characters, got %zu", utf8_chars(arg));
        c->software = arg;
        break;
    case F_NO_TCP:
        c->tcp = false;
        break;
    case F_TCP_MAX_CONNS:
        c->tcp_max_conns = (unsigned)cli_number("--tcp-max-conns", arg, 1, 65536);
        break;
    case F_TCP_IDLE_MS:
        c->tcp_idle_ms = (unsigned)cli_number("--tcp-idle-ms", arg, 10, 86400000);
        break;
    case F_TLS_PORT:
        c->tls_port = (uint16_t)cli_number("--tls-port", arg, 1, 65535);
        break;
    case F_CERT:
        c->cert = arg;
        break;
    case F_KEY:
        c->key = arg;
        break;
    case F_TLS_MAX_CONNS:
        c->tls_max_conns = (unsigned)cli_number("--tls-max-conns", arg, 1, 65536);
        break;
    case F_TLS_HANDSHAKE_MS:
        c->tls_handshake_ms = (unsigned)cli_number("--tls-handshake-ms", arg, 10, 600000);
        break;
    case F_AUTH:
        c->auth = parse_auth(arg);
        break;
    case F_CREDENTIAL_TTL:
        c->credential_ttl_s = (unsigned)cli_number("--credential-ttl", arg, 1, 7 * 86400);
        break;
    case F_MAX_CREDENTIALS:
        c->max_credentials =
            (unsigned)cli_number("--max-credentials", arg, 1, SECRET_TABLE_MAX_ENTRIES);
        break;
    case F_SECRET_KEY:
        c->secret_key_file = arg;
        break;
    case F_SECRET_KEY_PREVIOUS:
        c->secret_key_previous_file = arg;
        break;
    case F_MINT_RATE:
        c->mint_rate = (unsigned)cli_number("--mint-rate", arg, 0, 1000000);
        break;
    case F_RESPONSE_ADDRESS:
        c->response_address = true;
        break;
    case F_REALM:
        /* RFC 8489 §14.9: fewer than 128 characters, and a quoted-string. */
        if (utf8_chars(arg) == 0 || utf8_chars(arg) > 127 || strpbrk(arg, "\"\\") != NULL)
            cli_usage_error("--realm: want 1 to 127 characters without '\"' or '\\', got '%s'",
                            arg);
        c->realm = arg;
        break;
    case F_USERS:
        c->users_file = arg;
        break;
    case F_NONCE_TTL:
        c->nonce_ttl_s = (unsigned)cli_number("--nonce-ttl", arg, 1, 86400);
        break;
    case F_RATE_PREFIX4:
        c->rate_prefix4 = (unsigned)cli_number("--rate-prefix4", arg, 8, 32);
        break;
    case F_RATE_PREFIX6:
        c->rate_prefix6 = (unsigned)cli_number("--rate-prefix6", arg, 16, 128);
        break;
    case F_STREAM_MAX_PER_CLIENT:
        c->stream_max_per_client = (unsigned)cli_number("--stream-max-per-client", arg, 0, 65536);
        break;
    case F_TLS_HANDSHAKE_RATE:
        c->tls_handshake_rate = (unsigned)cli_number("--tls-handshake-rate", arg, 0, 1000000);
        break;
    case F_ALLOW_PEER:
        add_peer_rule(c, "--allow-peer", arg, true);
        break;
    case F_DENY_PEER:
        add_peer_rule(c, "--deny-peer", arg, false);
        break;
    case F_RATE_LIMIT:
        c->rate_limit = (unsigned)cli_number("--rate-limit", arg, 0, 100000000);
        break;
    case F_RATE_BURST:
        c->rate_burst = (unsigned)cli_number("--rate-burst", arg, 1, 100000000);
        break;
    case F_RATE_TABLE:
        c->rate_table = (unsigned)cli_number("--rate-table", arg, 1024, 1 << 22);
        break;
    case F_MINT_SHARE:
        c->mint_share = (unsigned)cli_number("--mint-share", arg, 1, 100);
        break;
    case F_METRICS:
        parse_metrics(o, arg);
        break;
    case F_METRICS_PER_WORKER:
        c->metrics_per_worker = true;
        break;
    case F_PRINT_METRICS_MAP:
        metrics_print_map(stdout);
        exit(0);
    case F_LOG_LEVEL: {
        int level = log_level_parse(arg);
        if (level < 0)
            cli_usage_error("--log-level: want error, warn, info or debug, got '%s'", arg);
        o->log_level = (enum log_level)level;
        break;
    }
    case F_LOG_FORMAT:
    case F_USER:
        apply_operations_flag(o, flag, arg);
        break;
    case F_ALTERNATE_SERVER:
    case F_ALTERNATE_DOMAIN:
    case F_SHED_ABOVE:
        apply_redirect_flag(c, flag, arg);
        break;
    case F_PRINT_CONFIG:
        o->print_config = true;
        break;
    case F_VERSION:
        printf("stunringd %s\n", STUNRING_VERSION);
        exit(0);
    case F_HELP:
        print_help();
        exit(0);
    default:
        cli_usage_error("unknown flag");
    }
}

/* True if this host can open IPv6 sockets at all. */
static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static unsigned family_slot(struct server_config *c, int family)
{
    for (unsigned i = 0; i < c->n_families; i++)
        if (c->family[i].primary.ss_family == family)
            return i;
    return c->n_families;
}

static void resolve_addresses(struct options *o)
{
    struct server_config *c = &o->cfg;
    if (o->n_listen == 0) {
        o->listen[o->n_listen++] = "0.0.0.0";
        if (ipv6_available())
            o->listen[o->n_listen++] = "::";
        else
            log_msg(LOG_WARN, "IPv6 is not available here: listening on IPv4 only");
    }
    for (unsigned i = 0; i < o->n_listen; i++) {
        struct sockaddr_storage ss;
        if (addr_parse_ip(o->listen[i], c->port, &ss) != 0)
            cli_usage_error("--listen: '%s' is not an IPv4 or IPv6 address", o->listen[i]);
        if (family_slot(c, ss.ss_family) != c->n_families)
            cli_usage_error("--listen: two addresses of one family ('%s')", o->listen[i]);
        c->family[c->n_families++].primary = ss;
    }
    for (unsigned i = 0; i < o->n_alt; i++) {
        struct sockaddr_storage ss;
        if (addr_parse_ip(o->alt[i], c->port, &ss) != 0)
            cli_usage_error("--alt-address: '%s' is not an IPv4 or IPv6 address", o->alt[i]);
        unsigned f = family_slot(c, ss.ss_family);
        if (f == c->n_families || addr_is_wildcard(&c->family[f].primary))
            cli_usage_error("--alt-address %s: needs a --listen address of its family that is "
                            "not a wildcard",
                            o->alt[i]);
        if (addr_is_wildcard(&ss) || c->family[f].has_alternate)
            cli_usage_error("--alt-address: '%s' must be one concrete address per family",
                            o->alt[i]);
        struct sockaddr_storage primary = c->family[f].primary;
        if (memcmp(&primary, &ss, sizeof(ss)) == 0)
            cli_usage_error("--alt-address: '%s' is the --listen address itself", o->alt[i]);
        c->family[f].alternate = ss;
        c->family[f].has_alternate = true;
    }
    if (o->n_alt > 0 && c->port == c->alt_port)
        cli_usage_error("--alt-port: must differ from --port (both %u)", c->port);
}

/* Flags that only make sense together. */
static void check_combinations(const struct options *o)
{
    const struct server_config *c = &o->cfg;
    if ((c->cert == NULL) != (c->key == NULL))
        cli_usage_error("%s: needs %s too", c->cert ? "--cert" : "--key",
                        c->cert ? "--key" : "--cert");
    if (c->cert != NULL && c->tcp && c->tls_port == c->port)
        cli_usage_error("--tls-port: must differ from --port (both %u)", c->port);
    if (c->secret_key_previous_file != NULL && c->secret_key_file == NULL)
        cli_usage_error("--secret-key-previous: needs --secret-key too");
    if ((c->realm == NULL) != (c->users_file == NULL))
        cli_usage_error("%s: needs %s too", c->realm ? "--realm" : "--users",
                        c->realm ? "--users" : "--realm");
    if (c->users_file != NULL && c->auth == STUN_AUTH_NONE)
        cli_usage_error("--users: needs --auth optional or required");
    if (c->metrics_per_worker && c->metrics_addr.ss_family == AF_UNSPEC)
        cli_usage_error("--metrics-per-worker: needs --metrics too");
    /* Only an authenticated request may name RESPONSE-ADDRESS. */
    if (c->alternate_domain != NULL && c->alternate_server[0].family == 0 &&
        c->alternate_server[1].family == 0)
        cli_usage_error("--alternate-domain: needs --alternate-server too");
    if (c->shed_above != 0 && c->alternate_server[0].family == 0 &&
        c->alternate_server[1].family == 0)
        cli_usage_error("--shed-above: needs --alternate-server (a 300 must name one)");
    if (c->response_address && c->auth == STUN_AUTH_NONE)
        cli_usage_error("--response-address: needs --auth optional or required (with --auth "
                        "none no request authenticates, so it could never apply)");
}

/* A socket buffer as configured and as the kernel will grant it. */
static void print_buffer(const char *name, int option, int wish)
{
    int granted = sockets_buffer_granted(option, wish);
    if (wish == 0)
        printf("%s kernel default (%d)\n", name, granted);
    else if (granted >= 0 && granted < wish)
        printf("%s %d (the kernel gives %d: capped by its sysctl)\n", name, wish, granted);
    else
        printf("%s %d\n", name, wish);
}

/* One line per --allow-peer / --deny-peer rule, in the order given. */
static void print_peer_rules(const struct server_config *c)
{
    char text[INET6_ADDRSTRLEN];
    for (unsigned i = 0; i < c->n_peer_rules; i++) {
        const struct stun_dest_rule *r = &c->peer_rules[i];
        inet_ntop(r->net.family == STUN_FAMILY_IPV6 ? AF_INET6 : AF_INET, r->net.ip, text,
                  sizeof(text));
        printf("%s %s/%u\n", r->allow ? "allow-peer" : "deny-peer", text, r->net.bits);
    }
    if (c->n_peer_rules == 0)
        printf("peer-rules (none: the default deny list)\n");
}

/* --alternate-server (one line per family), --alternate-domain, --shed-above. */
static void print_redirect(const struct server_config *c)
{
    char text[ADDR_TEXT_MAX];
    bool any = false;
    for (unsigned i = 0; i < 2; i++) {
        struct sockaddr_storage ss;
        if (c->alternate_server[i].family == 0)
            continue;
        addr_from_stun(&c->alternate_server[i], &ss);
        printf("alternate-server %s\n", addr_format(&ss, text));
        any = true;
    }
    if (!any)
        printf("alternate-server (none: while draining, requests are answered as always)\n");
    printf("alternate-domain %s\n", c->alternate_domain ? c->alternate_domain : "(none)");
    printf("shed-above %u%s\n", c->shed_above, c->shed_above == 0 ? " (off)" : "");
}

static void print_config(const struct options *o)
{
    const struct server_config *c = &o->cfg;
    char text[ADDR_TEXT_MAX];
    for (unsigned f = 0; f < c->n_families; f++) {
        printf("listen %s\n", addr_format(&c->family[f].primary, text));
        if (c->family[f].has_alternate)
            printf("alt-address %s\n", addr_format(&c->family[f].alternate, text));
    }
    printf("port %u\nalt-port %u\nworkers %u\ncpus ", c->port, c->alt_port, c->workers);
    if (c->n_cpus == 0)
        printf("auto");
    for (unsigned i = 0; i < c->n_cpus; i++)
        printf("%s%d", i ? "," : "", c->cpus[i]);
    if (c->n_cpus > 0 && c->n_cpus < c->workers)
        printf(" (shared: worker i on CPU i mod %u)", c->n_cpus);
    printf("\nsteer %s", steer_mode_name(c->steer));
    unsigned pinned = c->n_cpus > 0 ? c->n_cpus : online_cpus();
    if (c->steer == STEER_CPU && pinned < c->workers)
        printf(" (workers share CPUs: the kernel's hash instead)");
    printf("\nbackend %s\n", io_backend_name(c->backend));
    printf("batch %u%s\n", c->batch, c->backend == IO_BACKEND_URING ? " (unused by uring)" : "");
    printf("ring-entries %u%s\n", c->ring_entries,
           c->backend == IO_BACKEND_MMSG ? " (unused by mmsg)" : "");
    print_buffer("rcvbuf", SO_RCVBUF, c->rcvbuf);
    print_buffer("sndbuf", SO_SNDBUF, c->sndbuf);
    printf("software %s\n", c->software ? c->software : "(off)");
    printf("tcp %s\ntcp-max-conns %u\ntcp-idle-ms %u\n", c->tcp ? "on" : "off", c->tcp_max_conns,
           c->tcp_idle_ms);
    printf("tls-port %u\ncert %s\nkey %s\ntls-max-conns %u\ntls-handshake-ms %u\n", c->tls_port,
           c->cert ? c->cert : "(none)", c->key ? c->key : "(none)", c->tls_max_conns,
           c->tls_handshake_ms);
    printf("auth %s\ncredential-ttl %u\n", auth_name(c->auth), c->credential_ttl_s);
    printf("max-credentials %u (table: %zu bytes)\n", c->max_credentials,
           secret_table_bytes(c->max_credentials));
    printf("mint-rate %u\nsecret-key %s\n", c->mint_rate,
           c->secret_key_file ? c->secret_key_file : "(random)");
    printf("secret-key-previous %s\n",
           c->secret_key_previous_file ? c->secret_key_previous_file : "(none)");
    printf("response-address %s\n", c->response_address ? "on" : "off");
    printf("realm %s\nusers %s\nnonce-ttl %u\n", c->realm ? c->realm : "(none)",
           c->users_file ? c->users_file : "(none)", c->nonce_ttl_s);
    printf("rate-prefix4 %u\nrate-prefix6 %u\n", c->rate_prefix4, c->rate_prefix6);
    printf("stream-max-per-client %u\ntls-handshake-rate %u\n", c->stream_max_per_client,
           c->tls_handshake_rate);
    print_peer_rules(c);
    printf("rate-limit %u\nrate-burst %u\nrate-table %u\nmint-share %u\n", c->rate_limit,
           c->rate_burst, c->rate_table, c->mint_share);
    printf("metrics %s\n",
           c->metrics_addr.ss_family == AF_UNSPEC ? "(off)" : addr_format(&c->metrics_addr, text));
    printf("metrics-per-worker %s\n", c->metrics_per_worker ? "on" : "off");
    print_redirect(c);
    printf("log-level %s\n", log_level_name(log_threshold));
    printf("log-format %s\n", log_format_name(log_format));
    if (c->user.set)
        printf("user %s (uid %u) group %s (gid %u)\n", c->user.name, (unsigned)c->user.uid,
               c->user.group, (unsigned)c->user.gid);
    else
        printf("user (none: stays as started)\n");
}

int main(int argc, char **argv)
{
    static struct options o; /* big (the --cpus table): not on the stack */
    sigset_t signals;
    server_block_signals(&signals); /* before anything slow: held, not fatal */
    /* OpenSSL writes to TLS sockets with plain write(2): a peer that reset
     * its connection must cost an EPIPE on that connection, not a SIGPIPE
     * that ends the process. */
    signal(SIGPIPE, SIG_IGN);
    cli_program = "stunringd";
    set_defaults(&o);
    for (int flag; (flag = cli_next_flag(argc, argv, flags)) != -1;)
        apply_flag(&o, flag, optarg);
    log_threshold = o.log_level;
    log_format = o.log_format;
    resolve_addresses(&o);
    check_combinations(&o);
    if (o.print_config) {
        print_config(&o);
        return 0;
    }
    int prepared = o.cfg.user.set ? privileges_prepare() : 0; /* before any thread */
    if (prepared != 0) {
        log_msg(LOG_ERROR, "--user: emptying the inheritable capabilities: %s",
                strerror(-prepared));
        return CLI_EXIT_RUNTIME;
    }
    host_check(&o.cfg); /* kernel settings below what the flags ask for */
    return server_run(&o.cfg);
}
