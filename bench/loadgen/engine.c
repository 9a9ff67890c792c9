/*
 * The worker loop: sockets, batches, pacing, the TCP streams. Every loop
 * here is bounded: the main loop by the plan's t_stop, the inner ones by
 * a batch or round count.
 */
#include "bench/loadgen/engine.h"

#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench/loadgen/mint.h"
#include "core/wire.h"
#include "io/addr.h"
#include "io/front/tls.h"

enum {
    TX_BATCH = 64,         /* requests per sendmmsg */
    RX_BATCH = 64,         /* datagrams per recvmmsg */
    RX_ROUNDS = 4,         /* recvmmsg calls per socket per wake-up */
    RX_BUF = 2048,         /* an answer is at most 548 bytes from a sane server */
    MAX_EVENTS = 256,      /* epoll events per wait */
    TCP_IN_CAP = 16384,    /* received, not yet a whole frame */
    TCP_OUT_CAP = 65536,   /* requests the kernel has not taken yet */
    TCP_RX_ROUNDS = 8,     /* recv calls per connection per wake-up */
    TCP_CONNECT_MS = 2000, /* connect() at set-up; and a TLS handshake */
    HANDSHAKE_WAITS = 64,  /* polls for one TLS handshake, at most */
    UDP_RCVBUF = 1 << 20,  /* best effort: the kernel caps it at rmem_max */
    PACE_PASS_MAX = 65536, /* open loop: requests sent in one pass at most */
    MIN_WAIT_NS = 20000,   /* shorter waits spin instead of sleeping */
    SLEEP_TRIES = 1000,    /* clock_nanosleep interrupted this often: go anyway */
    GSO_MAX_SEGMENTS = 64, /* the kernel's UDP_MAX_SEGMENTS before Linux 6.9 */
};

/* Open loop: a schedule more than this late drops the backlog as unsent. */
#define PACE_MAX_LAG_S 0.1
/* Open loop: the longest run of requests sent at once, in seconds of the rate. */
#define PACE_QUANTUM_S 50e-6

/* A stream to the server: plain TCP (ssl NULL) or TLS. */
struct tcp_conn {
    int fd;   /* -1: none, or broken */
    SSL *ssl; /* TLS: the session; NULL for plain TCP */
    bool want_out;
    enum bench_via via;
    uint64_t token; /* its epoll token */
    struct stun_addr peer;
    uint32_t in_len, out_off, out_len;
    uint8_t in[TCP_IN_CAP];
    uint8_t out[TCP_OUT_CAP];
};

struct bench_slot {
    int udp_fd;
    /* Unconnected sockets: where its datagrams go (the server, or the
     * alternate it follows, --follow-alternate). */
    struct sockaddr_storage dest;
    socklen_t dest_len;
    struct bench_flow flow;
    struct bench_entry *ring;
    struct tcp_conn *tcp; /* NULL when the mix has no tcp */
    struct tcp_conn *tls; /* NULL when the mix has no tls */
};

/* epoll tokens: slot << 2 | what. */
enum {
    TOKEN_UDP = 0,
    TOKEN_TCP = 1,
    TOKEN_TLS = 2,
    TOKEN_BITS = 2,
};

/*
 * Batches for sendmmsg / recvmmsg, set up once. Requests are written
 * back to back into tx_buf; each tx message carries one request, or with
 * UDP GSO (UDP_SEGMENT) a run of requests of one size that the kernel
 * cuts into separate datagrams (the server sees ordinary datagrams; the
 * bench saves a trip down the IP stack per request).
 */
struct bench_io {
    struct mmsghdr tx[TX_BATCH];
    struct iovec tx_iov[TX_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } tx_cmsg[TX_BATCH];
    uint16_t tx_count[TX_BATCH]; /* requests in each message */
    uint8_t tx_buf[TX_BATCH * BENCH_REQUEST_MAX];
    struct mmsghdr rx[RX_BATCH];
    struct iovec rx_iov[RX_BATCH];
    struct sockaddr_storage rx_name[RX_BATCH];
    uint8_t rx_buf[RX_BATCH][RX_BUF];
    struct epoll_event events[MAX_EVENTS];
    struct sockaddr_storage server;
    socklen_t server_len;
};

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- set-up (main thread) ---- */

static int fail(char *err, size_t cap, const char *what, int e)
{
    snprintf(err, cap, "%s: %s", what, strerror(e));
    return -1;
}

static int open_udp(struct bench_worker *w, struct bench_slot *s, struct bench_endpoints *ep,
                    char *err, size_t cap)
{
    const struct bench_plan *p = w->plan;
    struct sockaddr_storage local = p->local, self;
    socklen_t len = sizeof(self);
    s->udp_fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->udp_fd < 0)
        return fail(err, cap, "UDP socket", errno);
    int rcvbuf = UDP_RCVBUF;
    setsockopt(s->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* best effort */
    addr_set_port(&local, 0);
    if (bind(s->udp_fd, (const struct sockaddr *)&local, addr_len(&local)) < 0)
        return fail(err, cap, "bind UDP socket", errno);
    s->dest_len = addr_from_stun(&p->ep.server, &s->dest);
    if (p->connect_udp) {
        /* One peer: the route is looked up once, and nothing else gets in. */
        struct sockaddr_storage server;
        socklen_t server_len = addr_from_stun(&p->ep.server, &server);
        if (connect(s->udp_fd, (const struct sockaddr *)&server, server_len) < 0)
            return fail(err, cap, "connect UDP socket", errno);
    }
    if (getsockname(s->udp_fd, (struct sockaddr *)&self, &len) < 0)
        return fail(err, cap, "getsockname", errno);
    addr_to_stun(&self, &ep->self_udp);
    return 0;
}

/* A non-blocking connect of c to to, waited for at most TCP_CONNECT_MS;
 * *self gets the local address. */
static int connect_stream(struct tcp_conn *c, const struct stun_addr *to, struct stun_addr *self,
                          char *err, size_t cap)
{
    struct sockaddr_storage server, local;
    socklen_t server_len = addr_from_stun(to, &server), len = sizeof(local);
    c->fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail(err, cap, "TCP socket", errno);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&server, server_len) < 0) {
        if (errno != EINPROGRESS)
            return fail(err, cap, "TCP connect", errno);
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        if (poll(&pfd, 1, TCP_CONNECT_MS) != 1)
            return fail(err, cap, "TCP connect (waited 2 s)", ETIMEDOUT);
        int e = 0;
        socklen_t elen = sizeof(e);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen);
        if (e != 0)
            return fail(err, cap, "TCP connect", e);
    }
    if (getsockname(c->fd, (struct sockaddr *)&local, &len) < 0)
        return fail(err, cap, "getsockname", errno);
    addr_to_stun(&local, self);
    c->peer = *to;
    return 0;
}

static int open_tcp(struct bench_worker *w, struct bench_slot *s, struct bench_endpoints *ep,
                    char *err, size_t cap)
{
    s->tcp->via = BENCH_VIA_TCP;
    return connect_stream(s->tcp, &w->plan->ep.server, &ep->self_tcp, err, cap);
}

/* The client handshake on c's non-blocking socket, every wait bounded. */
static int tls_handshake(struct tcp_conn *c, bool verify, char *err, size_t cap)
{
    char why[200];
    uint64_t deadline = bench_now_ns() + (uint64_t)TCP_CONNECT_MS * 1000000u;
    for (unsigned i = 0; i < HANDSHAKE_WAITS; i++) {
        errno = 0;
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        uint64_t now = bench_now_ns();
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || now >= deadline)
            break;
        struct pollfd pfd = {.fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
    }
    long v = SSL_get_verify_result(c->ssl);
    if (verify && v != X509_V_OK)
        snprintf(err, cap, "TLS handshake: certificate not verified: %s",
                 X509_verify_cert_error_string(v));
    else
        snprintf(err, cap, "TLS handshake (at most 2 s): %s", tls_last_error(why, sizeof(why)));
    return -1;
}

/* A TLS connection to the server's --tls-port, handshake done at set-up. */
static int open_tls(struct bench_worker *w, struct bench_slot *s, struct bench_endpoints *ep,
                    char *err, size_t cap)
{
    const struct bench_plan *p = w->plan;
    struct tcp_conn *c = s->tls;
    struct sockaddr_storage peer;
    c->via = BENCH_VIA_TLS;
    if (connect_stream(c, &p->ep.server_tls, &ep->self_tls, err, cap) < 0)
        return -1;
    addr_from_stun(&p->ep.server_tls, &peer);
    c->ssl = SSL_new(p->tls_ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return fail(err, cap, "TLS session", ENOMEM);
    /* The output buffer is compacted between writes and only grows. */
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (p->opt->tls_ca != NULL && bench_tls_expect_ip(c->ssl, &peer) < 0)
        return fail(err, cap, "TLS: cannot check the certificate for the address", EINVAL);
    return tls_handshake(c, p->opt->tls_ca != NULL, err, cap);
}

static int watch(struct bench_worker *w, int fd, uint64_t token, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = token};
    return epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void io_init(struct bench_worker *w)
{
    struct bench_io *io = w->io;
    io->server_len = addr_from_stun(&w->plan->ep.server, &io->server);
    for (unsigned i = 0; i < TX_BATCH; i++) {
        io->tx[i].msg_hdr.msg_iov = &io->tx_iov[i];
        io->tx[i].msg_hdr.msg_iovlen = 1;
        /* Unconnected sockets (change-request) name the server on each datagram. */
        if (!w->plan->connect_udp) {
            io->tx[i].msg_hdr.msg_name = &io->server;
            io->tx[i].msg_hdr.msg_namelen = io->server_len;
        }
    }
    for (unsigned i = 0; i < RX_BATCH; i++) {
        io->rx_iov[i] = (struct iovec){.iov_base = io->rx_buf[i], .iov_len = RX_BUF};
        io->rx[i].msg_hdr.msg_iov = &io->rx_iov[i];
        io->rx[i].msg_hdr.msg_iovlen = 1;
        io->rx[i].msg_hdr.msg_name = &io->rx_name[i];
        io->rx[i].msg_hdr.msg_namelen = sizeof(io->rx_name[i]);
    }
}

/* Slot i's TCP (TOKEN_TCP) or TLS (TOKEN_TLS) connection, watched. */
static int open_stream(struct bench_worker *w, unsigned i, unsigned what,
                       struct bench_endpoints *ep, char *err, size_t cap)
{
    struct bench_slot *s = &w->slots[i];
    struct tcp_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return fail(err, cap, "memory", ENOMEM);
    c->fd = -1;
    c->token = (uint64_t)i << TOKEN_BITS | what;
    if (what == TOKEN_TCP)
        s->tcp = c;
    else
        s->tls = c;
    if (what == TOKEN_TCP && open_tcp(w, s, ep, err, cap) < 0)
        return -1;
    if (what == TOKEN_TLS && open_tls(w, s, ep, err, cap) < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, cap, "TLS connection to --tls-port %u: %s", w->plan->opt->tls_port, why);
        return -1;
    }
    if (watch(w, c->fd, c->token, EPOLLIN) < 0)
        return fail(err, cap, "epoll_ctl", errno);
    return 0;
}

static void close_stream(struct tcp_conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL)
        SSL_shutdown(c->ssl); /* close_notify, once, not waited for */
    SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

int bench_worker_init(struct bench_worker *w, const struct bench_plan *plan, unsigned id,
                      unsigned first_socket, unsigned n_sockets, char *err, size_t err_cap)
{
    const struct bench_options *o = plan->opt;
    w->plan = plan;
    w->id = id;
    w->cpu = o->n_cpus > 0 ? o->cpus[id] : -1;
    w->epoll_fd = -1;
    w->rng = ((uint64_t)plan->nonce << 32 | (id + 1)) * 0x9E3779B97F4A7C15ull;
    bench_hist_init(&w->hist);
    w->io = calloc(1, sizeof(*w->io));
    w->slots = calloc(n_sockets, sizeof(*w->slots));
    if (w->io == NULL || w->slots == NULL)
        return fail(err, err_cap, "memory", ENOMEM);
    for (unsigned i = 0; i < n_sockets; i++)
        w->slots[i].udp_fd = -1;
    w->n_slots = n_sockets;
    io_init(w);
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epoll_fd < 0)
        return fail(err, err_cap, "epoll_create1", errno);

    for (unsigned i = 0; i < n_sockets; i++) {
        struct bench_slot *s = &w->slots[i];
        struct bench_endpoints ep = plan->ep;
        s->ring = calloc(plan->ring_cap, sizeof(*s->ring));
        if (s->ring == NULL)
            return fail(err, err_cap, "memory", ENOMEM);
        if (open_udp(w, s, &ep, err, err_cap) < 0)
            return -1;
        if (watch(w, s->udp_fd, (uint64_t)i << TOKEN_BITS | TOKEN_UDP, EPOLLIN) < 0)
            return fail(err, err_cap, "epoll_ctl", errno);
        if (plan->use_tcp && open_stream(w, i, TOKEN_TCP, &ep, err, err_cap) < 0)
            return -1;
        if (plan->use_tls && open_stream(w, i, TOKEN_TLS, &ep, err, err_cap) < 0)
            return -1;
        bench_flow_init(&s->flow, s->ring, plan->ring_cap, first_socket + i, plan->nonce,
                        plan->timeout_ns, &ep, &w->tally);
        s->flow.cred = plan->has_cred ? &plan->cred : NULL;
        if (plan->has_lt)
            bench_flow_use_lt(&s->flow, &plan->lt);
    }
    return 0;
}

void bench_worker_fini(struct bench_worker *w)
{
    for (unsigned i = 0; w->slots != NULL && i < w->n_slots; i++) {
        struct bench_slot *s = &w->slots[i];
        if (s->udp_fd >= 0)
            close(s->udp_fd);
        close_stream(s->tcp);
        close_stream(s->tls);
        free(s->ring);
    }
    if (w->epoll_fd >= 0)
        close(w->epoll_fd);
    free(w->slots);
    free(w->io);
    w->slots = NULL;
    w->io = NULL;
    w->epoll_fd = -1;
}

/* ---- the worker's own ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: the mix only needs cheap, unbiased-enough choices. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static enum bench_kind pick_kind(struct bench_worker *w)
{
    const struct bench_plan *p = w->plan;
    uint32_t r = (uint32_t)((rng_next(&w->rng) >> 32) % p->total_weight);
    unsigned k = 0;
    while (k + 1 < BENCH_KIND_COUNT && r >= p->cum_weight[k])
        k++;
    return (enum bench_kind)k;
}

static void tcp_break(struct bench_worker *w, struct tcp_conn *c, const char *why, int e)
{
    if (c->fd < 0)
        return;
    SSL_free(c->ssl); /* no close_notify: the stream is broken */
    c->ssl = NULL;
    close(c->fd); /* leaves the epoll set with it */
    c->fd = -1;
    c->in_len = c->out_len = c->out_off = 0;
    if (w->tcp_failures++ == 0)
        snprintf(w->tcp_failure, sizeof(w->tcp_failure), "%s%s%s%s",
                 c->via == BENCH_VIA_TLS ? "tls: " : "", why, e ? ": " : "", e ? strerror(e) : "");
    /* Its outstanding requests are found lost by the expiry scan. */
}

static void tcp_set_out(struct bench_worker *w, struct tcp_conn *c, bool want)
{
    if (c->want_out == want || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u64 = c->token};
    if (epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want;
}

/*
 * One send or receive on a stream, plain or TLS: bytes moved, 0 when it
 * would block, -1 when the stream is over (*e: errno, 0 for a clean close
 * or a TLS error, whose text is in *why).
 */
static ssize_t stream_io(struct tcp_conn *c, bool out, void *buf, size_t len, const char **why,
                         int *e)
{
    *e = 0;
    errno = 0;
    if (c->ssl == NULL) {
        ssize_t n = out ? send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(c->fd, buf, len, MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
            return n > 0 ? n : 0;
        *e = n < 0 ? errno : 0;
        *why = n < 0 ? (out ? "send" : "recv") : "the server closed the connection";
        return -1;
    }
    int cap = len > INT32_MAX ? INT32_MAX : (int)len;
    int n = out ? SSL_write(c->ssl, buf, cap) : SSL_read(c->ssl, buf, cap);
    if (n > 0)
        return n;
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    *e = err == SSL_ERROR_SYSCALL ? errno : 0;
    *why = err == SSL_ERROR_ZERO_RETURN ? "the server closed the connection"
           : out                        ? "SSL_write"
                                        : "SSL_read";
    ERR_clear_error();
    return -1;
}

static void tcp_flush(struct bench_worker *w, struct tcp_conn *c)
{
    if (c->fd < 0 || c->out_off == c->out_len)
        return;
    const char *why = "";
    int e = 0;
    ssize_t n = stream_io(c, true, c->out + c->out_off, c->out_len - c->out_off, &why, &e);
    if (n < 0) {
        w->send_errors++;
        tcp_break(w, c, why, e);
        return;
    }
    c->out_off += (uint32_t)n;
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    tcp_set_out(w, c, c->out_off != c->out_len);
}

/*
 * Writes n requests of the given kinds back to back into tx_buf and makes
 * the tx messages: one per request, or with GSO one per run of equal
 * sizes. Returns how many were written (fewer when the ring is full);
 * *n_msgs gets the message count.
 */
static unsigned build_udp(struct bench_worker *w, struct bench_slot *s,
                          const enum bench_kind *kinds, unsigned n, uint64_t now, unsigned *n_msgs)
{
    struct bench_io *io = w->io;
    unsigned built = 0, msgs = 0;
    size_t off = 0;
    for (; built < n; built++) {
        size_t len =
            bench_flow_request(&s->flow, kinds[built], now, io->tx_buf + off, BENCH_REQUEST_MAX);
        if (len == 0)
            break;
        struct iovec *last = msgs > 0 ? &io->tx_iov[msgs - 1] : NULL;
        if (w->plan->gso && last != NULL && io->tx_count[msgs - 1] < GSO_MAX_SEGMENTS &&
            last->iov_len == len * io->tx_count[msgs - 1]) {
            last->iov_len += len; /* one more segment of the same size */
            io->tx_count[msgs - 1]++;
        } else {
            io->tx_iov[msgs] = (struct iovec){.iov_base = io->tx_buf + off, .iov_len = len};
            io->tx_count[msgs++] = 1;
        }
        off += len;
    }
    for (unsigned m = 0; m < msgs; m++) {
        struct msghdr *h = &io->tx[m].msg_hdr;
        if (io->tx_count[m] < 2) {
            h->msg_control = NULL;
            h->msg_controllen = 0;
            continue;
        }
        h->msg_control = io->tx_cmsg[m].buf;
        h->msg_controllen = sizeof(io->tx_cmsg[m].buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)(io->tx_iov[m].iov_len / io->tx_count[m]);
        memcpy(CMSG_DATA(c), &seg, sizeof(seg));
    }
    *n_msgs = msgs;
    return built;
}

/*
 * sendmmsg of the built messages; the requests of the messages the kernel
 * did not take (the most recent ones) are taken back. Returns requests sent.
 */
static unsigned udp_flush(struct bench_worker *w, struct bench_slot *s, unsigned built,
                          unsigned msgs)
{
    if (msgs == 0)
        return 0;
    if (!w->plan->connect_udp) {
        for (unsigned m = 0; m < msgs; m++) {
            w->io->tx[m].msg_hdr.msg_name = &s->dest;
            w->io->tx[m].msg_hdr.msg_namelen = s->dest_len;
        }
    }
    int r = sendmmsg(s->udp_fd, w->io->tx, msgs, MSG_DONTWAIT);
    unsigned sent = 0;
    for (int m = 0; m < r; m++)
        sent += w->io->tx_count[m];
    if (sent < built) {
        bench_flow_unsend(&s->flow, built - sent);
        /* A full buffer is back-pressure; ECONNREFUSED is a port unreachable
         * from an earlier datagram (no server): both are retried later. */
        if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
            w->send_errors++;
    }
    return sent;
}

/* Request sizes: the short kinds first in a batch, so that GSO runs are long. */
static bool long_request(enum bench_kind k)
{
    return k == BENCH_FINGERPRINT || k == BENCH_CHANGE_REQUEST || k == BENCH_SHORT_TERM ||
           k == BENCH_LONG_TERM || k == BENCH_UNKNOWN_ATTR;
}

static bool on_stream(enum bench_kind k) { return k == BENCH_TCP || k == BENCH_TLS; }

/* Queues up to n requests of kind (tcp or tls) on stream c; returns how many. */
static unsigned queue_stream(struct bench_worker *w, struct bench_slot *s, struct tcp_conn *c,
                             enum bench_kind kind, unsigned n, uint64_t now)
{
    unsigned queued = 0;
    if (n == 0 || c == NULL || c->fd < 0)
        return 0;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    for (; queued < n && TCP_OUT_CAP - c->out_len >= BENCH_REQUEST_MAX; queued++) {
        size_t len =
            bench_flow_request(&s->flow, kind, now, c->out + c->out_len, BENCH_REQUEST_MAX);
        if (len == 0)
            break;
        c->out_len += (uint32_t)len;
    }
    tcp_flush(w, c);
    return queued;
}

/*
 * Sends up to n new requests on slot s, kinds drawn from the mix; returns
 * how many went out (UDP) or were queued on the stream (TCP). Fewer when
 * the ring is full, a buffer is, or the TCP connection broke.
 */
static unsigned send_burst(struct bench_worker *w, struct bench_slot *s, unsigned n, uint64_t now)
{
    const struct bench_plan *p = w->plan;
    unsigned done = 0;
    for (unsigned pass = 0; done < n && pass <= BENCH_MAX_WINDOW / TX_BATCH + 1; pass++) {
        unsigned chunk = n - done < TX_BATCH ? n - done : TX_BATCH;
        enum bench_kind drawn[TX_BATCH], udp[TX_BATCH];
        unsigned n_udp = 0, n_tcp = 0, n_tls = 0, msgs = 0;
        for (unsigned i = 0; i < chunk; i++)
            drawn[i] = p->single_kind >= 0 ? (enum bench_kind)p->single_kind : pick_kind(w);
        for (unsigned i = 0; i < chunk; i++)
            if (!on_stream(drawn[i]) && !long_request(drawn[i]))
                udp[n_udp++] = drawn[i];
        for (unsigned i = 0; i < chunk; i++) {
            if (long_request(drawn[i]))
                udp[n_udp++] = drawn[i];
            n_tcp += drawn[i] == BENCH_TCP;
            n_tls += drawn[i] == BENCH_TLS;
        }
        /* UDP first, so that a partial send takes back only the most
         * recent requests; then the streams'. */
        unsigned built = build_udp(w, s, udp, n_udp, now, &msgs);
        unsigned sent = udp_flush(w, s, built, msgs);
        unsigned queued = queue_stream(w, s, s->tcp, BENCH_TCP, n_tcp, now);
        queued += queue_stream(w, s, s->tls, BENCH_TLS, n_tls, now);
        done += sent + queued;
        if (sent + queued < chunk)
            break;
    }
    return done;
}

static void record(struct bench_worker *w, const struct bench_answer *a)
{
    if (a->verdict == BENCH_VALID && a->counted)
        bench_hist_record(&w->hist, a->latency_ns);
}

/* --follow-alternate, and an ALTERNATE-SERVER on loopback unless
 * --allow-remote: a server's 300 must not aim the load elsewhere. */
static bool may_follow(const struct bench_options *o, const struct stun_addr *alt)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    if (!o->follow_alternate || alt->port == 0)
        return false;
    if (o->allow_remote)
        return true;
    return alt->family == STUN_FAMILY_IPV4 ? alt->ip[0] == 127
                                           : memcmp(alt->ip, v6_loopback, 16) == 0;
}

static void udp_receive(struct bench_worker *w, struct bench_slot *s)
{
    struct bench_io *io = w->io;
    for (unsigned round = 0; round < RX_ROUNDS; round++) {
        int r = recvmmsg(s->udp_fd, io->rx, RX_BATCH, MSG_DONTWAIT, NULL);
        if (r <= 0)
            return; /* EAGAIN; ECONNREFUSED (no server) is noticed as loss */
        uint64_t now = bench_now_ns();
        for (int i = 0; i < r; i++) {
            struct stun_addr source;
            struct bench_answer a;
            addr_to_stun(&io->rx_name[i], &source);
            bench_flow_answer(&s->flow, io->rx_buf[i], io->rx[i].msg_len, &source, BENCH_VIA_UDP,
                              now, &a);
            record(w, &a);
            if (a.verdict == BENCH_REDIRECTED && may_follow(w->plan->opt, &a.alternate) &&
                bench_flow_follow(&s->flow, &a.alternate))
                s->dest_len = addr_from_stun(&a.alternate, &s->dest);
            io->rx[i].msg_hdr.msg_namelen = sizeof(io->rx_name[i]);
        }
        if (r < RX_BATCH)
            return;
    }
}

/* Judges every whole frame (RFC 8489 §6.2.2: header + its length field)
 * of c's input, keeps the rest. false: the stream could not be framed. */
static bool take_frames(struct bench_worker *w, struct bench_slot *s, struct tcp_conn *c)
{
    uint64_t now = bench_now_ns();
    uint32_t pos = 0;
    while (c->in_len - pos >= STUN_HEADER_LEN) {
        uint32_t frame = STUN_HEADER_LEN + wire_get16(c->in + pos + 2);
        struct bench_answer a;
        if (frame > TCP_IN_CAP) {
            /* Cannot be framed: judge the header (its request is
             * consumed, invalid), then the stream is lost. */
            bench_flow_answer(&s->flow, c->in + pos, STUN_HEADER_LEN, &c->peer, c->via, now, &a);
            tcp_break(w, c, "an answer too long to frame", 0);
            return false;
        }
        if (c->in_len - pos < frame)
            break;
        bench_flow_answer(&s->flow, c->in + pos, frame, &c->peer, c->via, now, &a);
        record(w, &a);
        pos += frame;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return true;
}

static void tcp_receive(struct bench_worker *w, struct bench_slot *s, struct tcp_conn *c)
{
    for (unsigned round = 0; round < TCP_RX_ROUNDS && c->fd >= 0; round++) {
        size_t room = TCP_IN_CAP - c->in_len;
        const char *why = "";
        int e = 0;
        ssize_t n = stream_io(c, false, c->in + c->in_len, room, &why, &e);
        if (n < 0)
            tcp_break(w, c, why, e);
        if (n <= 0)
            return;
        c->in_len += (uint32_t)n;
        if (!take_frames(w, s, c))
            return;
        /* TLS hands out a record at a time: read on while it has more. */
        if ((size_t)n < room && (c->ssl == NULL || SSL_pending(c->ssl) == 0))
            return;
    }
}

static void refill(struct bench_worker *w, struct bench_slot *s, uint64_t now)
{
    unsigned window = w->plan->opt->window;
    if (s->flow.outstanding < window)
        send_burst(w, s, window - s->flow.outstanding, now);
}

/*
 * Open loop state of one worker. The schedule is the clock times the rate;
 * requests go out in runs of `quantum` to one socket (one sendmsg with
 * GSO), the sockets taking turns, so a run is at most PACE_QUANTUM_S of
 * the rate: paced to 50 us, without a syscall per request.
 */
struct pacer {
    double rate;      /* this worker's share, requests/s */
    uint64_t quantum; /* requests per run */
    uint64_t sched;   /* requests the schedule has called for so far */
    uint64_t next_due;
    unsigned rr; /* next slot in the round */
};

static void pace(struct bench_worker *w, struct pacer *pc, uint64_t now, bool counting)
{
    const struct bench_plan *p = w->plan;
    uint64_t since = now > p->t_start ? now - p->t_start : 0;
    uint64_t due = (uint64_t)((double)since * pc->rate / 1e9);
    if (due > pc->sched) {
        uint64_t n = due - pc->sched;
        uint64_t lag = (uint64_t)(pc->rate * PACE_MAX_LAG_S) + 1;
        if (n > lag) {
            /* Too far behind to catch up honestly: the backlog is not sent. */
            if (counting)
                w->unsent += n - lag;
            pc->sched += n - lag;
            n = lag;
        }
        if (n > PACE_PASS_MAX)
            n = PACE_PASS_MAX;
        pc->sched += n;
        while (n > 0) { /* at most PACE_PASS_MAX runs */
            unsigned want = (unsigned)(n < pc->quantum ? n : pc->quantum);
            struct bench_slot *s = &w->slots[pc->rr];
            pc->rr = (pc->rr + 1) % w->n_slots;
            unsigned sent = send_burst(w, s, want, now);
            if (counting)
                w->unsent += want - sent;
            n -= want;
        }
    }
    pc->next_due = p->t_start + (uint64_t)((double)(pc->sched + pc->quantum) * 1e9 / pc->rate);
}

static void publish(struct bench_worker *w)
{
    const struct bench_tally *t = &w->tally;
    const uint64_t v[5] = {t->sent, t->valid, t->invalid, t->lost, t->stray};
    for (unsigned i = 0; i < 5; i++)
        atomic_store_explicit(&w->pub[i], v[i], memory_order_relaxed);
}

void bench_worker_progress(struct bench_worker *w, struct bench_progress *out)
{
    uint64_t v[5];
    for (unsigned i = 0; i < 5; i++)
        v[i] = atomic_load_explicit(&w->pub[i], memory_order_relaxed);
    *out = (struct bench_progress){v[0], v[1], v[2], v[3], v[4]};
}

static int wait_events(struct bench_worker *w, uint64_t timeout_ns)
{
    static atomic_bool no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
                              .tv_nsec = (long)(timeout_ns % 1000000000u)};
        int n = epoll_pwait2(w->epoll_fd, w->io->events, MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
    }
    /* Kernels before 5.11: millisecond waits, rounded up. */
    return epoll_wait(w->epoll_fd, w->io->events, MAX_EVENTS,
                      (int)((timeout_ns + 999999u) / 1000000u));
}

static uint64_t outstanding(const struct bench_worker *w)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < w->n_slots; i++)
        n += w->slots[i].flow.outstanding;
    return n;
}

static void tick(struct bench_worker *w, uint64_t now, bool refill_all)
{
    for (unsigned i = 0; i < w->n_slots; i++) {
        struct tcp_conn *c = w->slots[i].tls;
        /* Records already decrypted wake no epoll: read them here. */
        if (c != NULL && c->ssl != NULL && SSL_pending(c->ssl) > 0)
            tcp_receive(w, &w->slots[i], c);
        bench_flow_expire(&w->slots[i].flow, now);
        if (refill_all)
            refill(w, &w->slots[i], now);
    }
}

static void handle_event(struct bench_worker *w, const struct epoll_event *ev, bool refilling,
                         uint64_t now)
{
    struct bench_slot *s = &w->slots[ev->data.u64 >> TOKEN_BITS];
    unsigned what = (unsigned)(ev->data.u64 & ((1u << TOKEN_BITS) - 1));
    struct tcp_conn *c = what == TOKEN_TCP ? s->tcp : what == TOKEN_TLS ? s->tls : NULL;
    if (c != NULL) {
        if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            tcp_receive(w, s, c);
        /* A TLS write may wait on a read (and the reverse): try both. */
        if (ev->events & EPOLLOUT || (c->ssl != NULL && c->out_off != c->out_len))
            tcp_flush(w, c);
    } else {
        udp_receive(w, s);
    }
    if (refilling)
        refill(w, s, now);
}

static void run(struct bench_worker *w)
{
    const struct bench_plan *p = w->plan;
    const bool open_loop = p->opt->rate > 0;
    struct pacer pc = {.rate = (double)p->opt->rate * w->n_slots / p->opt->sockets,
                       .next_due = p->t_start};
    pc.quantum = (uint64_t)(pc.rate * PACE_QUANTUM_S);
    pc.quantum = pc.quantum < 1 ? 1 : pc.quantum > TX_BATCH ? TX_BATCH : pc.quantum;
    bool counting = false, sending = true;
    uint64_t next_tick = p->t_start;
    w->end_ns = p->t_end;
    /* Bounded by t_stop; the count bound only guards against a clock that stalls. */
    for (uint64_t iter = 0; iter < UINT64_MAX / 2; iter++) {
        uint64_t now = bench_now_ns();
        if (!counting && now >= p->t_measure) {
            counting = true;
            for (unsigned i = 0; i < w->n_slots; i++)
                w->slots[i].flow.counting = true;
        }
        if (sending &&
            (now >= p->t_end || atomic_load_explicit(&p->interrupted, memory_order_relaxed))) {
            sending = false;
            w->end_ns = now < p->t_end ? now : p->t_end;
        }
        if (!sending &&
            (now >= p->t_stop || now >= w->end_ns + p->timeout_ns || outstanding(w) == 0))
            break;
        if (now >= next_tick) {
            tick(w, now, sending && !open_loop);
            next_tick = now + p->tick_ns;
        }
        if (sending && open_loop)
            pace(w, &pc, now, counting);

        uint64_t wake = next_tick;
        if (sending && p->t_end < wake)
            wake = p->t_end;
        if (sending && open_loop && pc.next_due < wake)
            wake = pc.next_due;
        if (!counting && p->t_measure < wake)
            wake = p->t_measure;
        uint64_t wait = wake > now + MIN_WAIT_NS ? wake - now : 0;
        int n = wait_events(w, wait);
        if (n > 0) {
            now = bench_now_ns();
            bool refilling = sending && !open_loop && now < p->t_end;
            for (int i = 0; i < n; i++)
                handle_event(w, &w->io->events[i], refilling, now);
        }
        publish(w);
    }
    for (unsigned i = 0; i < w->n_slots; i++)
        bench_flow_abandon(&w->slots[i].flow);
}

/* Datagrams the kernel dropped on our own sockets (a full receive buffer). */
static uint64_t own_drops(const struct bench_worker *w)
{
    uint64_t drops = 0;
    for (unsigned i = 0; i < w->n_slots; i++) {
        uint32_t mem[SK_MEMINFO_VARS] = {0};
        socklen_t len = sizeof(mem);
        if (getsockopt(w->slots[i].udp_fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
            len > SK_MEMINFO_DROPS * sizeof(uint32_t))
            drops += mem[SK_MEMINFO_DROPS];
    }
    return drops;
}

static void *worker_main(void *arg)
{
    struct bench_worker *w = arg;
    const struct bench_plan *p = w->plan;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (e != 0)
            fprintf(stderr, "stunring-bench: thread %u: cannot pin to CPU %d: %s\n", w->id, w->cpu,
                    strerror(e));
    }
    struct timespec start = {.tv_sec = (time_t)(p->t_start / 1000000000u),
                             .tv_nsec = (long)(p->t_start % 1000000000u)};
    for (unsigned i = 0; i < SLEEP_TRIES; i++)
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) != EINTR)
            break;
    run(w);
    w->socket_drops = own_drops(w);
    publish(w);
    atomic_store_explicit(&w->done, true, memory_order_release);
    return NULL;
}

int bench_worker_start(struct bench_worker *w)
{
    int e = pthread_create(&w->thread, NULL, worker_main, w);
    w->started = e == 0;
    return -e;
}

void bench_worker_join(struct bench_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}
