/*
 * stunring-bench: a STUN load generator that checks every answer.
 *
 * main() turns the flags into a plan (source address, the server's other
 * endpoint for change-request, ring sizes, the timeline), opens every
 * socket before the clock starts, runs the workers (engine.c), prints a
 * progress line each second when asked, and reports the merged counts:
 * a human block, or with --json one JSON object and nothing else on
 * stdout.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen/challenge.h"
#include "bench/loadgen/engine.h"
#include "bench/loadgen/histogram.h"
#include "bench/loadgen/mint.h"
#include "bench/loadgen/options.h"
#include "bench/loadgen/validate.h"
#include "core/attr.h"
#include "core/msg.h"
#include "core/writer.h"
#include "crypto/digest.h"
#include "io/addr.h"

enum {
    EXIT_SETUP = 1,
    PROBE_TRIES = 3,
    PROBE_WAIT_MS = 500,
    PROBE_READS = 16,          /* datagrams read per try, at most */
    START_DELAY_NS = 50000000, /* threads start this long after set-up */
    PROGRESS_NS = 1000000000,  /* one progress line a second */
    TICK_MIN_NS = 1000000,     /* expiry scans: 1 ms .. 50 ms apart */
    TICK_MAX_NS = 50000000,
    FDS_SPARE = 64, /* descriptors beyond the sockets */
};

static struct bench_plan plan;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store_explicit(&plan.interrupted, true, memory_order_relaxed);
}

__attribute__((format(printf, 1, 2), noreturn)) static void setup_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stunring-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_SETUP);
}

/* The address the kernel sends from towards the server: every socket binds it. */
static void find_local(const struct bench_options *o, struct sockaddr_storage *local)
{
    char text[ADDR_TEXT_MAX];
    int fd = socket(o->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(*local);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&o->server, addr_len(&o->server)) < 0 ||
        getsockname(fd, (struct sockaddr *)local, &len) < 0)
        setup_error("no route to %s: %s", addr_format(&o->server, text), strerror(errno));
    close(fd);
    addr_set_port(local, 0);
}

/*
 * change-request needs the server's other endpoint: --alt-server, or the
 * OTHER-ADDRESS (RFC 5780 §7.4) of a plain Binding answer.
 */
static void find_other(const struct bench_options *o, struct bench_endpoints *ep)
{
    char text[ADDR_TEXT_MAX];
    if (o->has_alt) {
        addr_to_stun(&o->alt, &ep->other);
        ep->has_other = true;
        return;
    }
    int fd = socket(o->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = PROBE_WAIT_MS * 1000};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        setup_error("probe socket: %s", strerror(errno));
    uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42};
    if (getrandom(id16 + 4, 12, 0) != 12)
        memset(id16 + 4, 0x5a, 12);
    uint8_t req[64], buf[2048];
    struct stun_writer w;
    stun_writer_start(&w, req, sizeof(req), stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
                      id16);
    size_t req_len = stun_writer_finish(&w);
    for (int t = 0; t < PROBE_TRIES; t++) {
        sendto(fd, req, req_len, 0, (const struct sockaddr *)&o->server, addr_len(&o->server));
        for (int r = 0; r < PROBE_READS; r++) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n < 0)
                break; /* timeout: send again */
            struct stun_msg m;
            if (stun_msg_parse(&m, buf, (size_t)n) != STUN_OK || memcmp(buf + 4, id16, 16) != 0)
                continue;
            close(fd);
            if (m.type != stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS) ||
                !stun_msg_get_addr(&m, STUN_A_OTHER_ADDRESS, &ep->other))
                setup_error("--mix change-request: the answer of %s has no OTHER-ADDRESS, so "
                            "it has no alternate address and port (stunringd: "
                            "--alt-address); or name them with --alt-server",
                            addr_format(&o->server, text));
            ep->has_other = true;
            return;
        }
    }
    close(fd);
    setup_error("--mix change-request: no answer from %s to a Binding Request in %d ms, "
                "needed to learn its OTHER-ADDRESS (or give --alt-server)",
                addr_format(&o->server, text), PROBE_TRIES * PROBE_WAIT_MS);
}

/* UDP GSO (Linux 4.18): asked for, and the kernel takes UDP_SEGMENT. */
static bool gso_available(const struct bench_options *o)
{
    if (!o->gso)
        return false;
    int fd = socket(o->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int seg = STUN_HEADER_LEN;
    bool ok = fd >= 0 && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* short-term-auth: one Shared Secret Request over TLS, for the whole run. */
static void mint_credential(const struct bench_options *o)
{
    char text[ADDR_TEXT_MAX], err[256];
    struct sockaddr_storage tls = o->server;
    addr_set_port(&tls, o->tls_port);
    if (bench_mint(&tls, o->tls_ca, &plan.cred, err, sizeof(err)) < 0)
        setup_error("--mix short-term-auth: no credential from %s (a Shared Secret Request over "
                    "TLS; stunringd: --cert, --key, --tls-port; bench: --tls-port): %s",
                    addr_format(&tls, text), err);
    plan.has_cred = true;
}

/* long-term-auth: one 401 before the run teaches REALM and NONCE for every socket. */
static void learn_long_term(const struct bench_options *o)
{
    char text[ADDR_TEXT_MAX], err[256];
    if (bench_challenge(&o->server, &plan.local, o->password_algorithm, o->user, o->password,
                        &plan.lt, err, sizeof(err)) < 0)
        setup_error("--mix long-term-auth: no challenge from %s to learn REALM and NONCE: %s",
                    addr_format(&o->server, text), err);
    plan.has_lt = true;
}

/* What a kind of request needs of the server, as the stunringd flag. */
static const char *server_needs(enum bench_kind kind)
{
    switch (kind) {
    case BENCH_CHANGE_REQUEST:
        return "--alt-address (with a concrete --listen)";
    case BENCH_SHORT_TERM:
        return "--auth optional or required (with --auth none signed requests get unsigned "
               "answers)";
    case BENCH_LONG_TERM:
        return "--auth required --realm R --users FILE, FILE listing --user with --password";
    default:
        return "nothing special";
    }
}

static int probe_socket(struct bench_endpoints *ep)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = PROBE_WAIT_MS * 1000};
    struct sockaddr_storage self = plan.local;
    socklen_t len = sizeof(self);
    int fd = socket(self.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        bind(fd, (const struct sockaddr *)&self, addr_len(&self)) < 0 ||
        getsockname(fd, (struct sockaddr *)&self, &len) < 0)
        setup_error("probe socket: %s", strerror(errno));
    addr_to_stun(&self, &ep->self_udp);
    return fd;
}

/* Reads answers to f's one request: the verdict on the first that matches
 * it, or BENCH_STRAY when none came in time. */
static enum bench_verdict probe_answer(int fd, struct bench_flow *f, struct bench_answer *ans)
{
    uint8_t buf[2048];
    for (int r = 0; r < PROBE_READS; r++) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
        if (n < 0)
            break;
        struct stun_addr source;
        addr_to_stun(&from, &source);
        bench_flow_answer(f, buf, (size_t)n, &source, BENCH_VIA_UDP, bench_now_ns(), ans);
        if (ans->verdict == BENCH_VALID || ans->verdict == BENCH_INVALID)
            return ans->verdict;
    }
    return BENCH_STRAY;
}

/*
 * One request of a kind that needs something of the server, checked as the
 * run will check it: a server without what the kind needs is refused now,
 * in one line naming the stunringd flag, not after a run full of invalid.
 */
static void probe_kind(const struct bench_options *o, enum bench_kind kind)
{
    char text[ADDR_TEXT_MAX];
    static struct bench_entry ring[PROBE_TRIES * 2];
    struct bench_tally tally = {0};
    struct bench_endpoints ep = plan.ep;
    struct bench_flow f;
    int fd = probe_socket(&ep);
    bench_flow_init(&f, ring, PROBE_TRIES * 2, 0, plan.nonce,
                    (uint64_t)PROBE_WAIT_MS * PROBE_TRIES * 1000000u, &ep, &tally);
    f.cred = plan.has_cred ? &plan.cred : NULL;
    if (plan.has_lt)
        bench_flow_use_lt(&f, &plan.lt);
    for (int t = 0; t < PROBE_TRIES; t++) {
        uint8_t req[BENCH_REQUEST_MAX];
        size_t len = bench_flow_request(&f, kind, bench_now_ns(), req, sizeof(req));
        if (len > 0)
            sendto(fd, req, len, 0, (const struct sockaddr *)&o->server, addr_len(&o->server));
        struct bench_answer ans;
        enum bench_verdict v = probe_answer(fd, &f, &ans);
        if (v == BENCH_VALID) {
            close(fd);
            return;
        }
        if (v == BENCH_INVALID)
            setup_error("--mix %s: %s answered a probe wrongly (%s): it needs %s",
                        bench_kind_name(kind), addr_format(&o->server, text),
                        bench_invalid_name(ans.why), server_needs(kind));
    }
    setup_error("--mix %s: no answer from %s to a probe in %d ms", bench_kind_name(kind),
                addr_format(&o->server, text), PROBE_TRIES * PROBE_WAIT_MS);
}

/* tls: the context of every connection to --tls-port, made once. */
static void prepare_tls(const struct bench_options *o)
{
    char err[256];
    struct sockaddr_storage tls = o->server;
    addr_set_port(&tls, o->tls_port);
    addr_to_stun(&tls, &plan.ep.server_tls);
    plan.tls_ctx = bench_tls_context(o->tls_ca, err, sizeof(err));
    if (plan.tls_ctx == NULL)
        setup_error("--mix tls: %s", err);
    plan.use_tls = true;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t c = 64;
    while (c < n && c < BENCH_RING_MAX)
        c <<= 1;
    return c;
}

static void make_plan(const struct bench_options *o)
{
    plan.opt = o;
    find_local(o, &plan.local);
    addr_to_stun(&o->server, &plan.ep.server);
    if (o->weights[BENCH_CHANGE_REQUEST] > 0)
        find_other(o, &plan.ep);
    if (o->weights[BENCH_SHORT_TERM] > 0)
        mint_credential(o);
    if (o->weights[BENCH_LONG_TERM] > 0)
        learn_long_term(o);
    if (o->weights[BENCH_TLS] > 0)
        prepare_tls(o);
    if (getrandom(&plan.nonce, sizeof(plan.nonce), 0) != sizeof(plan.nonce))
        plan.nonce = (uint32_t)bench_now_ns() ^ (uint32_t)getpid();
    static const enum bench_kind needy[] = {BENCH_CHANGE_REQUEST, BENCH_SHORT_TERM,
                                            BENCH_LONG_TERM};
    for (size_t i = 0; i < sizeof(needy) / sizeof(needy[0]); i++)
        if (o->weights[needy[i]] > 0)
            probe_kind(o, needy[i]);
    /* Answers to change-request come from other endpoints, and with
     * --follow-alternate from the alternate: a connected socket would not
     * see them. */
    plan.connect_udp = o->weights[BENCH_CHANGE_REQUEST] == 0 && !o->follow_alternate;
    plan.use_tcp = o->weights[BENCH_TCP] > 0;
    plan.gso = gso_available(o);
    uint32_t sum = 0;
    int kinds = 0;
    plan.single_kind = -1;
    for (unsigned k = 0; k < BENCH_KIND_COUNT; k++) {
        sum += o->weights[k];
        plan.cum_weight[k] = sum;
        if (o->weights[k] > 0) {
            kinds++;
            plan.single_kind = (int)k;
        }
    }
    plan.total_weight = sum;
    if (kinds > 1)
        plan.single_kind = -1;
    plan.timeout_ns = (uint64_t)o->timeout_ms * 1000000u;
    plan.tick_ns = plan.timeout_ns / 20;
    plan.tick_ns = plan.tick_ns < TICK_MIN_NS   ? TICK_MIN_NS
                   : plan.tick_ns > TICK_MAX_NS ? TICK_MAX_NS
                                                : plan.tick_ns;
    /* Closed loop: room for the window many times over, so that a slow
     * answer rarely holds a slot when the ring comes round. Open loop:
     * every request of the last timeout, twice. */
    uint64_t need = (uint64_t)o->window * 8;
    if (o->rate > 0)
        need = (uint64_t)((double)o->rate / o->sockets * o->timeout_ms / 1000.0 * 2) + 64;
    plan.ring_cap = pow2_at_least(need);
}

static void raise_fd_limit(const struct bench_options *o)
{
    struct rlimit rl;
    rlim_t per_slot = 1 + (plan.use_tcp ? 1 : 0) + (plan.use_tls ? 1 : 0);
    rlim_t need = (rlim_t)o->sockets * per_slot + o->threads + FDS_SPARE;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        setup_error("--sockets %u needs %llu descriptors; the hard limit is %llu (ulimit -Hn)",
                    o->sockets, (unsigned long long)need, (unsigned long long)rl.rlim_max);
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        setup_error("setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)need,
                    strerror(errno));
}

struct results {
    struct bench_tally t;
    struct bench_hist h;
    uint64_t unsent, send_errors, tcp_failures, socket_drops, end_ns;
    const char *tcp_failure;
};

static void merge(struct bench_worker *ws, unsigned n, struct results *r)
{
    memset(r, 0, sizeof(*r));
    bench_hist_init(&r->h);
    r->tcp_failure = "";
    for (unsigned i = 0; i < n; i++) {
        const struct bench_tally *t = &ws[i].tally;
        r->t.sent += t->sent;
        r->t.valid += t->valid;
        r->t.invalid += t->invalid;
        r->t.lost += t->lost;
        r->t.stray += t->stray;
        r->t.late += t->late;
        r->t.redirected += t->redirected;
        r->t.followed += t->followed;
        r->t.request_bytes += t->request_bytes;
        r->t.response_bytes += t->response_bytes;
        for (unsigned k = 0; k < BENCH_INVALID_COUNT; k++)
            r->t.why[k] += t->why[k];
        bench_hist_merge(&r->h, &ws[i].hist);
        r->unsent += ws[i].unsent;
        r->send_errors += ws[i].send_errors;
        if (ws[i].tcp_failures > 0 && r->tcp_failures == 0)
            r->tcp_failure = ws[i].tcp_failure;
        r->tcp_failures += ws[i].tcp_failures;
        r->socket_drops += ws[i].socket_drops;
        if (ws[i].end_ns > r->end_ns)
            r->end_ns = ws[i].end_ns;
    }
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static void print_json(const struct bench_options *o, const struct results *r, double duration)
{
    const struct bench_tally *t = &r->t;
    const struct bench_hist *h = &r->h;
    char text[ADDR_TEXT_MAX];
    double amp = t->request_bytes ? (double)t->response_bytes / (double)t->request_bytes : 0;
    printf("{\"sent\":%llu,\"valid\":%llu,\"invalid\":%llu,\"lost\":%llu,\"stray\":%llu,"
           "\"late\":%llu,",
           (unsigned long long)t->sent, (unsigned long long)t->valid,
           (unsigned long long)t->invalid, (unsigned long long)t->lost,
           (unsigned long long)t->stray, (unsigned long long)t->late);
    printf("\"redirected\":%llu,\"followed\":%llu,", (unsigned long long)t->redirected,
           (unsigned long long)t->followed);
    printf("\"responses_per_s\":%.1f,", duration > 0 ? (double)t->valid / duration : 0.0);
    printf("\"latency_us\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},",
           us(bench_hist_percentile(h, 50)), us(bench_hist_percentile(h, 90)),
           us(bench_hist_percentile(h, 99)), us(bench_hist_percentile(h, 99.9)), us(h->max));
    printf("\"request_bytes\":%llu,\"response_bytes\":%llu,\"amplification\":%.4f,",
           (unsigned long long)t->request_bytes, (unsigned long long)t->response_bytes, amp);
    printf("\"duration_s\":%.3f,\"mix\":{", duration);
    const char *sep = "";
    for (unsigned k = 0; k < BENCH_KIND_COUNT; k++) {
        if (o->weights[k] > 0) {
            printf("%s\"%s\":%u", sep, bench_kind_name((enum bench_kind)k), o->weights[k]);
            sep = ",";
        }
    }
    printf("},\"threads\":%u,\"sockets\":%u,\"window\":%u,\"rate\":%llu,", o->threads, o->sockets,
           o->window, (unsigned long long)o->rate);
    printf("\"server\":\"%s\",\"warmup_s\":%.3f,\"timeout_ms\":%u,\"udp_gso\":%s,",
           addr_format(&o->server, text), o->warmup_s, o->timeout_ms, plan.gso ? "true" : "false");
    printf("\"stale_nonce\":%llu,", (unsigned long long)t->why[BENCH_STALE_NONCE]);
    printf("\"unsent\":%llu,\"send_errors\":%llu,\"tcp_failures\":%llu,"
           "\"bench_socket_drops\":%llu,\"invalid_by_reason\":{",
           (unsigned long long)r->unsent, (unsigned long long)r->send_errors,
           (unsigned long long)r->tcp_failures, (unsigned long long)r->socket_drops);
    sep = "";
    for (unsigned k = 0; k < BENCH_INVALID_COUNT; k++) {
        if (t->why[k] > 0) {
            printf("%s\"%s\":%llu", sep, bench_invalid_name((enum bench_invalid)k),
                   (unsigned long long)t->why[k]);
            sep = ",";
        }
    }
    printf("}}\n");
}

static void print_human(const struct bench_options *o, const struct results *r, double duration)
{
    const struct bench_tally *t = &r->t;
    const struct bench_hist *h = &r->h;
    char text[ADDR_TEXT_MAX], mix[256];
    printf("stunring-bench: %s, mix %s, ", addr_format(&o->server, text),
           bench_options_mix_text(o, mix, sizeof(mix)));
    if (o->rate > 0)
        printf("open loop at %llu/s", (unsigned long long)o->rate);
    else
        printf("closed loop, window %u", o->window);
    printf(", %u sockets, %u thread%s%s\n", o->sockets, o->threads, o->threads == 1 ? "" : "s",
           plan.gso ? ", UDP GSO" : "");
    if (plan.has_cred)
        printf("  auth      short-term-auth signs with one credential minted over TLS (port "
               "%u) for the run, USERNAME of %zu bytes\n",
               o->tls_port, plan.cred.username_len);
    if (plan.has_lt)
        printf("  auth      long-term-auth signs as %s in realm %.*s with %s (one 401 before the "
               "run; a 438 refreshes a socket's NONCE and counts invalid as stale_nonce)\n",
               o->user, (int)plan.lt.realm_len, (const char *)plan.lt.realm,
               plan.lt.algorithm == CRYPTO_PASSWORD_SHA256 ? "SHA-256, MESSAGE-INTEGRITY-SHA256"
                                                           : "MD5, MESSAGE-INTEGRITY");
    if (plan.use_tls)
        printf("  tls       one TLS connection per socket to port %u, certificate %s\n",
               o->tls_port, o->tls_ca ? "verified" : "not verified (no --tls-ca)");
    printf("  measured  %.3f s after %.3f s of warm-up (timeout %u ms)\n", duration, o->warmup_s,
           o->timeout_ms);
    printf("  sent      %llu", (unsigned long long)t->sent);
    if (duration > 0)
        printf("  (%.0f/s)", (double)t->sent / duration);
    printf("\n  valid     %llu  (%.0f responses/s)\n", (unsigned long long)t->valid,
           duration > 0 ? (double)t->valid / duration : 0.0);
    printf("  invalid   %llu", (unsigned long long)t->invalid);
    for (unsigned k = 0; k < BENCH_INVALID_COUNT; k++)
        if (t->why[k] > 0)
            printf("  %s %llu", bench_invalid_name((enum bench_invalid)k),
                   (unsigned long long)t->why[k]);
    if (t->redirected > 0 || o->follow_alternate)
        printf("\n  redirected %llu (300 Try Alternate)  followed %llu (of valid, answered by "
               "the ALTERNATE-SERVER)",
               (unsigned long long)t->redirected, (unsigned long long)t->followed);
    printf("\n  lost      %llu (answered after the timeout: %llu)\n  stray     %llu\n",
           (unsigned long long)t->lost, (unsigned long long)t->late, (unsigned long long)t->stray);
    printf("  latency   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us\n",
           us(bench_hist_percentile(h, 50)), us(bench_hist_percentile(h, 90)),
           us(bench_hist_percentile(h, 99)), us(bench_hist_percentile(h, 99.9)), us(h->max));
    printf("  bytes     request %llu  response %llu  amplification %.3f\n",
           (unsigned long long)t->request_bytes, (unsigned long long)t->response_bytes,
           t->request_bytes ? (double)t->response_bytes / (double)t->request_bytes : 0.0);
    if (r->unsent > 0)
        printf("  unsent    %llu (due in the open loop, but the generator could not send them)\n",
               (unsigned long long)r->unsent);
    if (r->send_errors > 0)
        printf("  errors    %llu sends failed\n", (unsigned long long)r->send_errors);
    if (r->tcp_failures > 0)
        printf("  streams   %llu TCP/TLS connections broke (first: %s); their requests count "
               "lost\n",
               (unsigned long long)r->tcp_failures, r->tcp_failure);
    if (r->socket_drops > 0)
        printf("  drops     %llu answers dropped by the bench's own sockets (counted lost)\n",
               (unsigned long long)r->socket_drops);
}

/* The progress line, on stderr so that stdout holds the result alone. */
static void progress_line(struct bench_worker *ws, unsigned n, uint64_t now, uint64_t *last_valid,
                          uint64_t *last_ns)
{
    struct bench_progress sum = {0}, one;
    for (unsigned i = 0; i < n; i++) {
        bench_worker_progress(&ws[i], &one);
        sum.sent += one.sent;
        sum.valid += one.valid;
        sum.invalid += one.invalid;
        sum.lost += one.lost;
        sum.stray += one.stray;
    }
    double dt = now > *last_ns ? (double)(now - *last_ns) / 1e9 : 0;
    double t = ((double)now - (double)plan.t_measure) / 1e9;
    fprintf(stderr,
            "%7.1fs%s  sent %llu  valid %llu  invalid %llu  lost %llu  stray %llu  %.0f/s\n", t,
            now < plan.t_measure ? " (warm-up)" : "", (unsigned long long)sum.sent,
            (unsigned long long)sum.valid, (unsigned long long)sum.invalid,
            (unsigned long long)sum.lost, (unsigned long long)sum.stray,
            dt > 0 ? (double)(sum.valid - *last_valid) / dt : 0.0);
    *last_valid = sum.valid;
    *last_ns = now;
}

static bool all_done(struct bench_worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!atomic_load_explicit(&ws[i].done, memory_order_acquire))
            return false;
    return true;
}

/* Sleeps until every worker is done (they stop by t_stop), a line a second if asked. */
static void wait_workers(struct bench_worker *ws, unsigned n, bool progress)
{
    uint64_t last_valid = 0, last_ns = plan.t_measure, next = plan.t_start + PROGRESS_NS;
    uint64_t limit = (plan.t_stop - bench_now_ns()) / (PROGRESS_NS / 10) + 100;
    for (uint64_t i = 0; i < limit && !all_done(ws, n); i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = PROGRESS_NS / 10};
        nanosleep(&ts, NULL);
        uint64_t now = bench_now_ns();
        if (progress && now >= next) {
            progress_line(ws, n, now, &last_valid, &last_ns);
            next += PROGRESS_NS;
        }
    }
}

int main(int argc, char **argv)
{
    static struct bench_options o;
    bench_options_parse(&o, argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a peer that closed: an error to report, not a death */
    bool progress = o.progress < 0 ? isatty(STDOUT_FILENO) && !o.json : o.progress == 1;
    make_plan(&o);
    raise_fd_limit(&o);

    struct bench_worker *ws = calloc(o.threads, sizeof(*ws));
    if (ws == NULL)
        setup_error("memory: %s", strerror(errno));
    char err[256];
    for (unsigned i = 0; i < o.threads; i++) {
        unsigned first = (unsigned)((uint64_t)o.sockets * i / o.threads);
        unsigned next = (unsigned)((uint64_t)o.sockets * (i + 1) / o.threads);
        if (bench_worker_init(&ws[i], &plan, i, first, next - first, err, sizeof(err)) < 0) {
            for (unsigned j = 0; j <= i; j++)
                bench_worker_fini(&ws[j]);
            setup_error("thread %u: %s", i, err);
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    plan.t_start = bench_now_ns() + START_DELAY_NS;
    plan.t_measure = plan.t_start + (uint64_t)llround(o.warmup_s * 1e9);
    plan.t_end = plan.t_measure + (uint64_t)llround(o.duration_s * 1e9);
    plan.t_stop = plan.t_end + plan.timeout_ns;
    for (unsigned i = 0; i < o.threads; i++) {
        int e = bench_worker_start(&ws[i]);
        if (e < 0) {
            atomic_store(&plan.interrupted, true);
            for (unsigned j = 0; j < i; j++)
                bench_worker_join(&ws[j]);
            setup_error("thread %u: %s", i, strerror(-e));
        }
    }
    wait_workers(ws, o.threads, progress);
    for (unsigned i = 0; i < o.threads; i++)
        bench_worker_join(&ws[i]);

    static struct results r;
    merge(ws, o.threads, &r);
    uint64_t end = r.end_ns < plan.t_end ? r.end_ns : plan.t_end;
    double duration = end > plan.t_measure ? (double)(end - plan.t_measure) / 1e9 : 0;
    if (o.json)
        print_json(&o, &r, duration);
    else
        print_human(&o, &r, duration);
    fflush(stdout);
    for (unsigned i = 0; i < o.threads; i++)
        bench_worker_fini(&ws[i]);
    free(ws);
    SSL_CTX_free(plan.tls_ctx);
    if (r.t.sent != r.t.valid + r.t.invalid + r.t.lost + r.t.redirected)
        fprintf(stderr, "stunring-bench: BUG: sent %llu != valid + invalid + lost + redirected\n",
                (unsigned long long)r.t.sent);
    if (o.require_clean && (r.t.invalid > 0 || r.t.stray > 0))
        return 1;
    return 0;
}
