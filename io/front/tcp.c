/*
 * The front thread: STUN over TCP and TLS. One epoll, level-triggered,
 * watches the listeners, an eventfd that wakes the thread, and every
 * connection. Connections live in a table allocated once at start-up;
 * nothing is allocated per connection or per request.
 *
 * Each connection keeps an input buffer (bytes read, not yet a whole
 * message) and an output buffer (answers the kernel has not taken yet).
 * Answers are written straight into the output buffer's free tail, so a
 * connection reads only while that tail has room for one more answer:
 * a client that pipelines without reading stalls only itself, and no
 * answer is ever dropped.
 *
 * Idle connections are found through a list ordered by last activity
 * (oldest first): touching a connection moves it to the tail, and the
 * sweep closes from the head while the head is overdue, so it costs
 * nothing when nobody is idle, and its cost is capped per pass. A TLS
 * connection sits on a second list, ordered by accept time, until its
 * handshake is done: the handshake deadline is separate from the idle one.
 *
 * TLS (OpenSSL, non-blocking): each connection has its own SSL, made at
 * accept (the only allocation per connection). A peer that stalls a
 * handshake, or trickles one, holds a slot until the handshake deadline
 * at most; TLS connections have their own cap, so a TCP flood cannot take
 * the slots that minting needs, nor the reverse. This thread is the only
 * writer of the shared-secret table: it mints, and reclaims expired
 * credentials on every turn.
 *
 * No one client (an address prefix, --rate-prefix4/6) can starve the
 * others: it holds at most --stream-max-per-client TCP connections and as
 * many TLS ones, and opens at most --tls-handshake-rate TLS connections a
 * second. Both are decided at accept, on the address alone; a connection
 * refused is closed before any TLS work and counted. A client that keeps
 * its connections busy (a Binding every few seconds) keeps them: that is
 * what an honest keep-alive looks like, and RFC 8489 §6.2.2 asks the
 * server to leave a connection open until the client closes it or it
 * times out. A lifetime per connection would not free anything for
 * others, since the holder reconnects at once; the per-client cap is what
 * bounds it, to its own share.
 */
#include "io/front/tcp.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/frame.h"
#include "core/stun.h"
#include "core/wire.h"
#include "io/addr.h"
#include "io/clock.h"
#include "io/credentials.h"
#include "io/front/conn_counts.h"
#include "io/front/tls.h"
#include "io/log.h"
#include "io/ratelimit.h"

enum {
    TCP_BACKLOG = 1024,
    /* The longest message answered whole: a UDP datagram's limit, and no
     * method served here needs more. A longer one (RFC 8489 allows up to
     * 65,555 bytes) is framed, its request answered 400 and its body
     * discarded as it arrives: the connection stays in step, and no
     * buffer grows with what a client sends. */
    TCP_MAX_MESSAGE = RX_BUF_SIZE,
    TCP_IN_SIZE = 2 * TCP_MAX_MESSAGE, /* a whole message, and the start of the next */
    TCP_OUT_SIZE = 8192,               /* several answers; at least one TX_BUF_SIZE slot */
    TCP_MAX_EVENTS = 256,              /* epoll events per wait */
    TCP_ACCEPT_BATCH = 256,            /* accepts per listener event: the others get a turn */
    TCP_SWEEP_MAX = 1024,              /* idle closes per pass */
    TCP_TICK_MS = 1000,                /* longest wait: stop is seen even without a wake */
    TCP_ACCEPT_PAUSE_MS = 100,         /* out of descriptors: stop accepting this long */
    TLS_PENDING_READS = 16,            /* reads per event of plaintext OpenSSL already holds */
    TCP_HANDSHAKE_CLIENTS = 16384,     /* clients the handshake limiter remembers at once */
};

/* What a listener or connection speaks; indexes caps, counts and listeners. */
enum stream_kind { KIND_TCP = 0, KIND_TLS = 1, KIND_COUNT };

/* The deadline lists: a handshake deadline from accept, an idle one after. */
enum deadline_list { LIST_HANDSHAKE = 0, LIST_IDLE = 1, LIST_COUNT };

/* Epoll tokens: a connection is (generation << 32 | slot); these are not slots. */
#define TOKEN_WAKE 0xFFFFFFFFu
#define TOKEN_LISTEN 0xFFFFFFF0u /* + listener index: kind * SERVER_MAX_FAMILIES + family */
#define SLOT_NONE 0xFFFFFFFFu

struct conn {
    int fd;          /* -1: the slot is free */
    uint32_t gen;    /* bumped on every accept: tells a stale epoll event apart */
    uint32_t events; /* epoll interest now registered */
    unsigned family; /* index into cfg->family and shared->eps */
    bool eof;        /* the peer closed its side: close once the answers are out */
    enum stream_kind kind;
    enum deadline_list list; /* which deadline list it is on */
    SSL *ssl;                /* TLS only */
    bool handshaking;        /* TLS handshake not finished */
    uint32_t tls_wants;      /* handshake: EPOLLIN or EPOLLOUT, what OpenSSL waits for */
    bool read_wants_write;   /* SSL_read must write first (TLS 1.3 key update) */
    bool write_wants_read;   /* SSL_write must read first */
    uint32_t prev, next;     /* deadline list, oldest first */
    uint64_t last_ms;        /* CLOCK_MONOTONIC of the accept, then of the last activity */
    struct stun_addr peer, local;
    struct stun_addr client;   /* the peer's prefix: whom the per-client caps count */
    struct stun_framer framer; /* where the next message starts in `in` */
    size_t in_len, out_len;
    uint8_t in[TCP_IN_SIZE];
    uint8_t out[TCP_OUT_SIZE];
};

struct tcp_front {
    struct io_counters counters; /* first: its own cache lines; written by the thread only */
    const struct server_shared *shared;
    int listen_fd[KIND_COUNT * SERVER_MAX_FAMILIES];
    int epoll_fd, wake_fd;
    SSL_CTX *tls_ctx;     /* NULL: no TLS */
    SSL_CTX *pending_ctx; /* a reloaded context, handed over by the main thread */
    unsigned open[KIND_COUNT], cap[KIND_COUNT];
    struct conn_counts *per_client;  /* open connections per client and kind */
    struct rate_limiter *handshakes; /* TLS handshakes begun per client; NULL: no limit */
    bool thread_started;
    pthread_t thread;
    struct conn *conns;
    uint32_t n_conns;
    uint32_t *free_slots; /* stack of free slot indices */
    uint32_t n_free;
    struct {
        uint32_t head, tail;
    } list[LIST_COUNT];
    uint64_t now_ms;           /* monotonic, this loop turn: deadlines */
    uint64_t wall_ms;          /* wall clock, this loop turn: credential and nonce expiries */
    uint64_t accept_resume_ms; /* 0: accepting */
    bool warned_fds;
};

/* ---- the deadline lists ---- */

static void list_unlink(struct tcp_front *f, struct conn *c)
{
    if (c->prev != SLOT_NONE)
        f->conns[c->prev].next = c->next;
    else
        f->list[c->list].head = c->next;
    if (c->next != SLOT_NONE)
        f->conns[c->next].prev = c->prev;
    else
        f->list[c->list].tail = c->prev;
    c->prev = c->next = SLOT_NONE;
}

static void list_push(struct tcp_front *f, struct conn *c, enum deadline_list list)
{
    uint32_t slot = (uint32_t)(c - f->conns);
    c->list = list;
    c->prev = f->list[list].tail;
    c->next = SLOT_NONE;
    if (f->list[list].tail != SLOT_NONE)
        f->conns[f->list[list].tail].next = slot;
    else
        f->list[list].head = slot;
    f->list[list].tail = slot;
}

/* The peer did something: it moves to the young end of the idle list. A
 * connection still in its handshake keeps its accept-time deadline. */
static void touch(struct tcp_front *f, struct conn *c)
{
    if (c->list != LIST_IDLE)
        return;
    c->last_ms = f->now_ms;
    if (f->list[LIST_IDLE].tail == (uint32_t)(c - f->conns))
        return;
    list_unlink(f, c);
    list_push(f, c, LIST_IDLE);
}

/* ---- connections ---- */

/* Closing the descriptor also takes it out of the epoll set. */
static void conn_close(struct tcp_front *f, struct conn *c)
{
    list_unlink(f, c);
    if (c->ssl != NULL) {
        /* One close_notify, best effort: a non-blocking shutdown that
         * cannot send it now gives up rather than wait. */
        if (!c->handshaking)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    close(c->fd);
    c->fd = -1;
    f->open[c->kind]--;
    conn_counts_give_back(f->per_client, &c->client, c->kind);
    f->free_slots[f->n_free++] = (uint32_t)(c - f->conns);
}

static uint64_t conn_token(const struct tcp_front *f, const struct conn *c)
{
    return (uint64_t)c->gen << 32 | (uint32_t)(c - f->conns);
}

/* A TLS connection's SSL, reading and writing fd; NULL if OpenSSL failed. */
static SSL *tls_open(struct tcp_front *f, int fd)
{
    SSL *ssl = SSL_new(f->tls_ctx);
    if (ssl != NULL && SSL_set_fd(ssl, fd) == 1) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    char reason[256];
    log_msg(LOG_WARN, "tls: new connection: %s", tls_last_error(reason, sizeof(reason)));
    SSL_free(ssl);
    return NULL;
}

/* Takes a free slot for an accepted socket; -errno leaves fd to the caller. */
static int conn_open(struct tcp_front *f, enum stream_kind kind, unsigned family, int fd,
                     const struct stun_addr *peer, const struct stun_addr *client)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
        return -errno;
    struct conn *c = &f->conns[f->free_slots[f->n_free - 1]];
    c->ssl = kind == KIND_TLS ? tls_open(f, fd) : NULL;
    if (kind == KIND_TLS && c->ssl == NULL)
        return -ENOMEM;
    struct epoll_event ev = {.events = EPOLLIN};
    c->gen++;
    ev.data.u64 = conn_token(f, c);
    if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        SSL_free(c->ssl);
        c->ssl = NULL;
        return err;
    }
    f->n_free--;
    f->open[kind]++;
    c->kind = kind;
    c->handshaking = kind == KIND_TLS;
    c->tls_wants = EPOLLIN;
    c->read_wants_write = c->write_wants_read = false;
    /* Answers are whole and coalesced per read already; Nagle would only
     * hold a pipelined answer back behind the client's delayed ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->events = EPOLLIN;
    c->family = family;
    c->eof = false;
    c->in_len = c->out_len = 0;
    stun_framer_init(&c->framer, TCP_MAX_MESSAGE);
    c->peer = *peer;
    c->client = *client;
    addr_to_stun(&local, &c->local);
    c->last_ms = f->now_ms;
    list_push(f, c, kind == KIND_TLS ? LIST_HANDSHAKE : LIST_IDLE);
    return 0;
}

/* ---- accepting ---- */

/* Out of descriptors or memory: the listener would stay readable and spin
 * the thread, so stop watching it for a moment. */
static void pause_accepting(struct tcp_front *f, int err)
{
    if (!f->warned_fds) {
        log_msg(LOG_WARN, "tcp accept: %s; pausing accepts", strerror(err));
        f->warned_fds = true;
    }
    for (unsigned i = 0; i < KIND_COUNT * SERVER_MAX_FAMILIES; i++) {
        struct epoll_event ev = {.events = 0, .data.u64 = TOKEN_LISTEN + i};
        if (f->listen_fd[i] >= 0)
            epoll_ctl(f->epoll_fd, EPOLL_CTL_MOD, f->listen_fd[i], &ev);
    }
    f->accept_resume_ms = f->now_ms + TCP_ACCEPT_PAUSE_MS;
}

static void resume_accepting(struct tcp_front *f)
{
    if (f->accept_resume_ms == 0 || f->now_ms < f->accept_resume_ms)
        return;
    for (unsigned i = 0; i < KIND_COUNT * SERVER_MAX_FAMILIES; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN_LISTEN + i};
        if (f->listen_fd[i] >= 0)
            epoll_ctl(f->epoll_fd, EPOLL_CTL_MOD, f->listen_fd[i], &ev);
    }
    f->accept_resume_ms = 0;
}

/*
 * Whether client may open one more connection of kind; if so it is
 * counted (the caller gives it back if the connection cannot be opened).
 * If not, *refusal is the counter that says why. Decided on the address
 * alone, before any TLS work: the whole table, then the client's share
 * of it, then (TLS) the client's handshakes a second.
 */
static bool admit(struct tcp_front *f, enum stream_kind kind, const struct stun_addr *client,
                  enum io_event *refusal)
{
    bool tls = kind == KIND_TLS;
    if (f->open[kind] >= f->cap[kind]) {
        *refusal = tls ? IO_TLS_REFUSED : IO_TCP_REFUSED;
        return false;
    }
    if (!conn_counts_take(f->per_client, client, kind, f->shared->cfg->stream_max_per_client)) {
        *refusal = tls ? IO_TLS_REFUSED_CLIENT : IO_TCP_REFUSED_CLIENT;
        return false;
    }
    if (tls && f->handshakes != NULL && !rate_limiter_allow(f->handshakes, client, f->now_ms)) {
        conn_counts_give_back(f->per_client, client, kind);
        *refusal = IO_TLS_REFUSED_HANDSHAKE_RATE;
        return false;
    }
    return true;
}

/* A connection refused is accepted and closed at once: left in the
 * backlog it would keep the listener readable and retry forever. */
static void accept_one(struct tcp_front *f, enum stream_kind kind, unsigned family, int fd,
                       const struct sockaddr_storage *from)
{
    const struct server_config *cfg = f->shared->cfg;
    struct stun_addr peer, client;
    addr_to_stun(from, &peer);
    client = stun_addr_prefix(&peer, cfg->rate_prefix4, cfg->rate_prefix6);
    enum io_event refusal;
    if (!admit(f, kind, &client, &refusal)) {
        close(fd);
        counters_event(&f->counters, refusal);
    } else if (conn_open(f, kind, family, fd, &peer, &client) < 0) {
        conn_counts_give_back(f->per_client, &client, kind);
        close(fd);
    } else {
        counters_event(&f->counters, kind == KIND_TLS ? IO_TLS_ACCEPTED : IO_TCP_ACCEPTED);
    }
}

static void accept_all(struct tcp_front *f, unsigned listener)
{
    enum stream_kind kind = listener / SERVER_MAX_FAMILIES;
    unsigned family = listener % SERVER_MAX_FAMILIES;
    for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(f->listen_fd[listener], (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED)
                continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
                pause_accepting(f, err);
            return; /* EAGAIN: drained; others (accept(2)'s network errors): next event */
        }
        accept_one(f, kind, family, fd, &peer);
    }
}

/* ---- framing and answering ---- */

/* Answers one whole message into the output buffer's tail. false: the
 * stream is out of step (the handler found no STUN framing there). */
static bool answer(struct tcp_front *f, struct conn *c, const uint8_t *msg, size_t len)
{
    const struct server_shared *sh = f->shared;
    struct stun_request req = {
        .data = msg,
        .len = len,
        .source = &c->peer,
        .local = &c->local,
        .arrived = STUN_EP_A1P1,
        .eps = &sh->eps[c->family],
        .stream = true,
        .tls = c->ssl != NULL,
        .now_ms = f->wall_ms,
        .redirect = __atomic_load_n(&sh->draining, __ATOMIC_ACQUIRE) ? STUN_REDIRECT_DRAINING
                                                                     : STUN_REDIRECT_NONE,
    };
    struct stun_reply reply;
    stun_handle(&sh->handler, &req, c->out + c->out_len, TX_BUF_SIZE, &reply);
    counters_status(&f->counters, reply.status);
    if (reply.status == STUN_DROP_SHORT || reply.status == STUN_DROP_NOT_STUN ||
        reply.status == STUN_DROP_LENGTH)
        return false;
    /* Other drops (responses, indications, unknown methods) are skipped:
     * the framing still holds. The reply's from/dest are for UDP; a stream
     * answer goes back on its own connection. */
    c->out_len += reply.len;
    if (reply.len > 0)
        counters_code(&f->counters, reply.code);
    return true;
}

static bool out_has_room(const struct conn *c) { return TCP_OUT_SIZE - c->out_len >= TX_BUF_SIZE; }

enum input {
    INPUT_NEED_BYTES, /* no whole message left */
    INPUT_NEED_ROOM,  /* whole messages wait for room in the output buffer */
    INPUT_GARBAGE,    /* not STUN: close */
};

/* The header of a message over TCP_MAX_MESSAGE: a request is answered
 * 400, counted either way; the framer discards the rest as it arrives. */
static void answer_too_long(struct tcp_front *f, struct conn *c, const uint8_t *hdr)
{
    counters_event(&f->counters, IO_STREAM_TOO_LONG);
    c->out_len += stun_frame_write_too_long(hdr, c->out + c->out_len, TX_BUF_SIZE);
}

/* One framing verdict acted on; false: the stream is out of step. */
static bool act_on(struct tcp_front *f, struct conn *c, const uint8_t *p, struct stun_frame v)
{
    if (v.kind == STUN_FRAME_MESSAGE || v.kind == STUN_FRAME_TOO_LONG ||
        v.kind == STUN_FRAME_GARBAGE)
        counters_event(&f->counters, c->ssl != NULL ? IO_TLS_MESSAGES : IO_TCP_MESSAGES);
    if (v.kind == STUN_FRAME_GARBAGE) {
        counters_status(&f->counters, v.why);
        return false;
    }
    if (v.kind == STUN_FRAME_TOO_LONG)
        answer_too_long(f, c, p);
    return v.kind != STUN_FRAME_MESSAGE || answer(f, c, p, v.len);
}

/*
 * Answers every whole message in the input buffer, in order (RFC 8489
 * §6.2.2 lets a client pipeline requests on one connection), while the
 * output buffer has room; the rest waits in the input buffer.
 */
static enum input process_input(struct tcp_front *f, struct conn *c)
{
    size_t pos = 0;
    bool whole = false; /* a message was framed whole: activity */
    enum input r = INPUT_NEED_ROOM;
    while (out_has_room(c)) {
        struct stun_frame v = stun_frame_next(&c->framer, c->in + pos, c->in_len - pos);
        if (!act_on(f, c, c->in + pos, v)) {
            r = INPUT_GARBAGE;
            break;
        }
        if (v.kind == STUN_FRAME_NEED_MORE) {
            r = INPUT_NEED_BYTES;
            break;
        }
        whole |= v.kind != STUN_FRAME_SKIP || c->framer.skip == 0;
        pos += v.len;
    }
    /* One move per read, not one per message. */
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (whole)
        touch(f, c);
    return r;
}

/* ---- reading and writing ---- */

enum {
    IO_AGAIN = -1, /* nothing now: wait for the next event */
    IO_FAILED = -2,
};

/* What an SSL_read/SSL_write failure means for a non-blocking
 * connection; *crossed is set when it waits for the other direction. */
static ssize_t tls_outcome(struct tcp_front *f, struct conn *c, int ret, int same, bool *crossed)
{
    int why = SSL_get_error(c->ssl, ret);
    switch (why) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        *crossed = why != same;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: /* close_notify: the peer is done */
        return 0;
    default:
        ERR_clear_error();
        counters_event(&f->counters, IO_TLS_ERRORS);
        return IO_FAILED;
    }
}

/* Bytes read (> 0), 0 at end of stream, IO_AGAIN or IO_FAILED. */
static ssize_t stream_recv(struct tcp_front *f, struct conn *c, void *buf, size_t len)
{
    if (c->ssl != NULL) {
        size_t n;
        c->read_wants_write = false;
        int ret = SSL_read_ex(c->ssl, buf, len, &n);
        return ret == 1 ? (ssize_t)n
                        : tls_outcome(f, c, ret, SSL_ERROR_WANT_READ, &c->read_wants_write);
    }
    ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAILED;
}

/* Bytes sent (> 0), IO_AGAIN or IO_FAILED. */
static ssize_t stream_send(struct tcp_front *f, struct conn *c, const void *buf, size_t len)
{
    if (c->ssl != NULL) {
        size_t n;
        c->write_wants_read = false;
        int ret = SSL_write_ex(c->ssl, buf, len, &n);
        if (ret == 1)
            return (ssize_t)n;
        ssize_t r = tls_outcome(f, c, ret, SSL_ERROR_WANT_WRITE, &c->write_wants_read);
        return r == 0 ? IO_FAILED : r;
    }
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0 || errno != EINTR)
            return n >= 0 ? n : errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_FAILED;
    }
}

/* Returns false when the connection failed (the caller closes it). */
static bool flush_output(struct tcp_front *f, struct conn *c)
{
    while (c->out_len > 0) {
        ssize_t n = stream_send(f, c, c->out, c->out_len);
        if (n < 0)
            return n == IO_AGAIN;
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
        touch(f, c);
    }
    return true;
}

/* One read per event, so one busy connection cannot starve the others. */
static bool read_input(struct tcp_front *f, struct conn *c)
{
    if (c->in_len == TCP_IN_SIZE)
        return true; /* cannot happen while reading is on; be safe */
    bool starts_message = c->in_len == 0;
    ssize_t n = stream_recv(f, c, c->in + c->in_len, TCP_IN_SIZE - c->in_len);
    if (n < 0)
        return n == IO_AGAIN;
    if (n == 0) {
        c->eof = true;
        return true;
    }
    c->in_len += (size_t)n;
    /* Only the first bytes of a message count as activity (then the whole
     * message, in process_input): a client trickling a header one byte at
     * a time must finish it within the idle deadline, or lose its slot. */
    if (starts_message)
        touch(f, c);
    return true;
}

/* Reads while an answer would fit; writes while answers wait; and
 * whatever OpenSSL needs to go on (a handshake, or a read that must
 * first write). */
static bool update_interest(struct tcp_front *f, struct conn *c)
{
    uint32_t want = (!c->eof && out_has_room(c) ? EPOLLIN : 0) | (c->out_len ? EPOLLOUT : 0);
    if (c->handshaking)
        want = c->tls_wants;
    want |= (c->read_wants_write ? EPOLLOUT : 0) | (c->write_wants_read ? EPOLLIN : 0);
    if (want == c->events)
        return true;
    struct epoll_event ev = {.events = want, .data.u64 = conn_token(f, c)};
    if (epoll_ctl(f->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return false;
    c->events = want;
    return true;
}

/*
 * Answers what is buffered and hands it to the kernel. If the kernel took
 * every answer while requests still waited for room, go again: no event
 * would come for requests already read. Returns false to close.
 */
static bool serve(struct tcp_front *f, struct conn *c)
{
    for (;;) {
        enum input r = process_input(f, c);
        if (r == INPUT_GARBAGE) {
            counters_event(&f->counters, IO_TCP_GARBAGE_CLOSED);
            return false;
        }
        if (!flush_output(f, c))
            return false;
        if (r == INPUT_NEED_BYTES || c->out_len > 0)
            return true;
    }
}

/* Drives a handshake on; false when it failed (counted). */
static bool handshake(struct tcp_front *f, struct conn *c)
{
    c->tls_wants = 0;
    int ret = SSL_do_handshake(c->ssl);
    if (ret == 1) {
        c->handshaking = false;
        counters_event(&f->counters, IO_TLS_HANDSHAKES);
        list_unlink(f, c);
        list_push(f, c, LIST_IDLE);
        touch(f, c);
        return true;
    }
    int why = SSL_get_error(c->ssl, ret);
    if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
        c->tls_wants = why == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
        return true;
    }
    ERR_clear_error();
    counters_event(&f->counters, IO_TLS_HANDSHAKE_FAILED);
    return false;
}

/* OpenSSL may hold decrypted bytes that no epoll event will announce. */
static bool tls_has_pending(const struct conn *c)
{
    return c->ssl != NULL && !c->handshaking && SSL_has_pending(c->ssl);
}

/*
 * Reads what this event allows and answers it. A TLS record can hold more
 * than the input buffer takes, so a TLS connection reads again while
 * OpenSSL holds plaintext and answers fit, a bounded number of times;
 * what is left is read at the connection's next event.
 */
static bool read_and_serve(struct tcp_front *f, struct conn *c, uint32_t events)
{
    bool ok = true;
    bool readable = (events & (EPOLLIN | EPOLLHUP)) ||
                    ((events & EPOLLOUT) && c->read_wants_write) || tls_has_pending(c);
    if (readable && !c->eof && out_has_room(c))
        ok = read_input(f, c);
    if (ok)
        ok = serve(f, c);
    for (int i = 0; ok && i < TLS_PENDING_READS && tls_has_pending(c); i++) {
        if (c->eof || !out_has_room(c))
            break;
        ok = read_input(f, c) && serve(f, c);
    }
    return ok;
}

static void conn_event(struct tcp_front *f, struct conn *c, uint32_t events)
{
    bool ok = !(events & EPOLLERR);
    if (ok && c->handshaking)
        ok = handshake(f, c);
    if (ok && c->handshaking) { /* still going: nothing to read or write yet */
        if (!update_interest(f, c))
            conn_close(f, c);
        return;
    }
    if (!ok) {
        conn_close(f, c);
        return;
    }
    if ((events & EPOLLOUT) || ((events & EPOLLIN) && c->write_wants_read))
        ok = flush_output(f, c);
    if (ok)
        ok = read_and_serve(f, c, events);
    /* RFC 8489 §6.2.2: the client closes; we close once its answers are out. */
    if (ok && c->eof && c->out_len == 0)
        ok = false;
    if (!ok || !update_interest(f, c))
        conn_close(f, c);
}

/* ---- the loop ---- */

/* RFC 8489 §6.2.2: the server keeps a connection open until the client
 * closes it or it times out. Bounded per pass; the next wait is then 0. */
static unsigned list_timeout_ms(const struct tcp_front *f, enum deadline_list list)
{
    const struct server_config *cfg = f->shared->cfg;
    return list == LIST_HANDSHAKE ? cfg->tls_handshake_ms : cfg->tcp_idle_ms;
}

static enum io_event timeout_event(const struct conn *c)
{
    if (c->list == LIST_HANDSHAKE)
        return IO_TLS_HANDSHAKE_TIMEOUT;
    return c->kind == KIND_TLS ? IO_TLS_IDLE_CLOSED : IO_TCP_IDLE_CLOSED;
}

static void sweep_list(struct tcp_front *f, enum deadline_list list)
{
    unsigned timeout = list_timeout_ms(f, list);
    if (timeout == 0)
        return;
    for (int i = 0; i < TCP_SWEEP_MAX && f->list[list].head != SLOT_NONE; i++) {
        struct conn *c = &f->conns[f->list[list].head];
        if (f->now_ms - c->last_ms < timeout)
            return;
        counters_event(&f->counters, timeout_event(c));
        conn_close(f, c);
    }
}

static void sweep_idle(struct tcp_front *f)
{
    sweep_list(f, LIST_HANDSHAKE);
    sweep_list(f, LIST_IDLE);
}

/* Until the oldest connection's deadline or the end of an accept pause. */
static int wait_ms(const struct tcp_front *f)
{
    uint64_t now = monotonic_ms(), until = now + TCP_TICK_MS;
    for (int list = 0; list < LIST_COUNT; list++) {
        unsigned timeout = list_timeout_ms(f, list);
        if (timeout == 0 || f->list[list].head == SLOT_NONE)
            continue;
        uint64_t due = f->conns[f->list[list].head].last_ms + timeout;
        if (due < until)
            until = due;
    }
    if (f->accept_resume_ms != 0 && f->accept_resume_ms < until)
        until = f->accept_resume_ms;
    return until > now ? (int)(until - now) : 0;
}

/* A certificate reloaded on SIGHUP: new connections use it; those open
 * keep theirs (an SSL holds a reference to its context). */
static void take_reloaded_tls(struct tcp_front *f)
{
    SSL_CTX *ctx = __atomic_exchange_n(&f->pending_ctx, NULL, __ATOMIC_ACQ_REL);
    if (ctx == NULL)
        return;
    SSL_CTX_free(f->tls_ctx);
    f->tls_ctx = ctx;
    counters_event(&f->counters, IO_TLS_RELOADS);
}

static void dispatch(struct tcp_front *f, const struct epoll_event *ev)
{
    uint32_t slot = (uint32_t)ev->data.u64;
    if (slot == TOKEN_WAKE) {
        uint64_t wakes; /* level-triggered: read it, or it fires forever */
        ssize_t n = read(f->wake_fd, &wakes, sizeof(wakes));
        (void)n;
        take_reloaded_tls(f);
    } else if (slot >= TOKEN_LISTEN) {
        accept_all(f, slot - TOKEN_LISTEN);
    } else {
        struct conn *c = &f->conns[slot];
        /* An earlier event of this batch may have closed the slot, and an
         * accept reused it: the generation tells. */
        if (c->fd >= 0 && c->gen == (uint32_t)(ev->data.u64 >> 32))
            conn_event(f, c, ev->events);
    }
}

static void *front_main(void *arg)
{
    struct tcp_front *f = arg;
    struct epoll_event ev[TCP_MAX_EVENTS];
    while (!__atomic_load_n(&f->shared->stop, __ATOMIC_ACQUIRE)) {
        int n = epoll_wait(f->epoll_fd, ev, TCP_MAX_EVENTS, wait_ms(f));
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "tcp epoll_wait: %s", strerror(errno));
            break;
        }
        f->now_ms = monotonic_ms();
        f->wall_ms = wall_clock_ms();
        for (int i = 0; i < n; i++)
            dispatch(f, &ev[i]);
        resume_accepting(f);
        sweep_idle(f);
        if (f->shared->creds != NULL)
            credentials_reclaim(f->shared->creds, f->wall_ms);
    }
    return NULL;
}

/* ---- start and stop ---- */

static int listen_one(const struct sockaddr_storage *primary, uint16_t port, const char *what,
                      int *out)
{
    struct sockaddr_storage sa = *primary;
    addr_set_port(&sa, port);
    int one = 1, err;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /* The IPv4 family has its own listener on the same port. */
    if (sa.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&sa, addr_len(&sa)) < 0 || listen(fd, TCP_BACKLOG) < 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    err = errno;
    if (fd >= 0)
        close(fd);
    char text[ADDR_TEXT_MAX];
    log_msg(LOG_ERROR, "cannot listen on %s %s: %s", what, addr_format(&sa, text), strerror(err));
    return -err;
}

/* Frees whatever front holds; safe on a half-built one. */
static void front_free(struct tcp_front *f)
{
    for (uint32_t i = 0; f->conns != NULL && i < f->n_conns; i++) {
        SSL_free(f->conns[i].ssl);
        if (f->conns[i].fd >= 0)
            close(f->conns[i].fd);
    }
    free(f->free_slots);
    free(f->conns);
    conn_counts_destroy(f->per_client);
    rate_limiter_destroy(f->handshakes);
    for (unsigned i = 0; i < KIND_COUNT * SERVER_MAX_FAMILIES; i++)
        if (f->listen_fd[i] >= 0)
            close(f->listen_fd[i]);
    SSL_CTX_free(f->tls_ctx);
    SSL_CTX_free(f->pending_ctx);
    if (f->wake_fd >= 0)
        close(f->wake_fd);
    if (f->epoll_fd >= 0)
        close(f->epoll_fd);
    free(f);
}

static struct tcp_front *front_alloc(const struct server_shared *shared)
{
    /* The counters' _Alignas(64) needs an aligned block, not malloc's 16. */
    size_t size = (sizeof(struct tcp_front) + 63) & ~(size_t)63;
    struct tcp_front *f = aligned_alloc(64, size);
    if (f == NULL)
        return NULL;
    memset(f, 0, size);
    f->shared = shared;
    f->epoll_fd = f->wake_fd = -1;
    for (unsigned i = 0; i < KIND_COUNT * SERVER_MAX_FAMILIES; i++)
        f->listen_fd[i] = -1;
    for (int i = 0; i < LIST_COUNT; i++)
        f->list[i].head = f->list[i].tail = SLOT_NONE;
    return f;
}

/* The connection table, all slots free; at least one entry so that a cap
 * of 0 (refuse everything) needs no special case. */
static int table_alloc(struct tcp_front *f, unsigned max_conns)
{
    f->conns = calloc(max_conns ? max_conns : 1, sizeof(*f->conns));
    f->free_slots = calloc(max_conns ? max_conns : 1, sizeof(*f->free_slots));
    if (f->conns == NULL || f->free_slots == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < max_conns; i++) {
        f->conns[i].fd = -1;
        f->conns[i].prev = f->conns[i].next = SLOT_NONE;
        f->free_slots[i] = max_conns - 1 - i; /* slot 0 is taken first */
    }
    f->n_conns = f->n_free = max_conns;
    return 0;
}

/* The per-client counts, for every connection the table holds, and the
 * handshake limiter (--tls-handshake-rate N: N a second, bursts of 10 x N,
 * as --mint-rate: a client may open its connections at once, not hold a
 * flood up). */
static int limits_alloc(struct tcp_front *f, unsigned max_conns)
{
    unsigned rate = f->shared->cfg->tls_handshake_rate;
    int err = conn_counts_create(&f->per_client, max_conns);
    if (err == 0 && rate > 0 && f->cap[KIND_TLS] > 0)
        err = rate_limiter_create(&f->handshakes, TCP_HANDSHAKE_CLIENTS, rate,
                                  rate > UINT_MAX / 10 ? UINT_MAX : 10 * rate);
    return err;
}

static int watch(int epoll_fd, int fd, uint64_t token)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = token};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Epoll and the wake eventfd; logs a failure. */
static int open_epoll(struct tcp_front *f)
{
    int err = 0;
    f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (f->epoll_fd < 0)
        err = -errno;
    if (err == 0 && (f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        err = -errno;
    if (err == 0)
        err = watch(f->epoll_fd, f->wake_fd, TOKEN_WAKE);
    if (err != 0)
        log_msg(LOG_ERROR, "tcp front: epoll: %s", strerror(-err));
    return err;
}

/* One listener per family for each kind served, under the epoll;
 * listen_one logs its failure. */
static int open_listeners(struct tcp_front *f)
{
    const struct server_config *cfg = f->shared->cfg;
    static const char *const names[KIND_COUNT] = {"tcp", "tls"};
    uint16_t ports[KIND_COUNT] = {cfg->port, cfg->tls_port};
    for (unsigned kind = 0; kind < KIND_COUNT; kind++) {
        for (unsigned i = 0; f->cap[kind] > 0 && i < cfg->n_families; i++) {
            unsigned l = kind * SERVER_MAX_FAMILIES + i;
            int err =
                listen_one(&cfg->family[i].primary, ports[kind], names[kind], &f->listen_fd[l]);
            if (err != 0)
                return err;
            err = watch(f->epoll_fd, f->listen_fd[l], TOKEN_LISTEN + l);
            if (err != 0) {
                log_msg(LOG_ERROR, "tcp front: epoll: %s", strerror(-err));
                return err;
            }
        }
    }
    return 0;
}

int tcp_front_start(const struct server_shared *shared, SSL_CTX *tls_ctx, struct tcp_front **out)
{
    const struct server_config *cfg = shared->cfg;
    unsigned tcp_cap = cfg->tcp ? cfg->tcp_max_conns : 0;
    unsigned tls_cap = tls_ctx != NULL ? cfg->tls_max_conns : 0;
    /* Slots must stay below the listener and wake tokens. */
    if (cfg->n_families > SERVER_MAX_FAMILIES || tcp_cap >= TOKEN_LISTEN / 2 ||
        tls_cap >= TOKEN_LISTEN / 2) {
        log_msg(LOG_ERROR, "tcp front: bad configuration (%u families, %u + %u connections)",
                cfg->n_families, tcp_cap, tls_cap);
        SSL_CTX_free(tls_ctx);
        return -EINVAL;
    }
    struct tcp_front *f = front_alloc(shared);
    if (f == NULL) {
        SSL_CTX_free(tls_ctx);
        return -ENOMEM;
    }
    f->tls_ctx = tls_ctx;
    f->cap[KIND_TCP] = tcp_cap;
    f->cap[KIND_TLS] = tls_cap;
    int err = table_alloc(f, tcp_cap + tls_cap);
    if (err == 0)
        err = limits_alloc(f, tcp_cap + tls_cap);
    if (err != 0) {
        log_msg(LOG_ERROR, "tcp front: table of %u connections: %s", tcp_cap + tls_cap,
                strerror(-err));
        goto fail;
    }
    err = open_epoll(f);
    if (err == 0)
        err = open_listeners(f);
    if (err != 0)
        goto fail;
    f->now_ms = monotonic_ms();
    err = -pthread_create(&f->thread, NULL, front_main, f);
    if (err != 0) {
        log_msg(LOG_ERROR, "tcp front: thread: %s", strerror(-err));
        goto fail;
    }
    f->thread_started = true;
    *out = f;
    return 0;
fail:
    front_free(f);
    return err;
}

void tcp_front_reload_tls(struct tcp_front *front, SSL_CTX *ctx)
{
    SSL_CTX *unused = __atomic_exchange_n(&front->pending_ctx, ctx, __ATOMIC_ACQ_REL);
    SSL_CTX_free(unused); /* two reloads before the thread woke: the newer wins */
    uint64_t one = 1;
    ssize_t n = write(front->wake_fd, &one, sizeof(one));
    (void)n; /* the thread also looks at every wake-up */
}

bool tcp_front_has_tls(const struct tcp_front *front)
{
    return front != NULL && front->cap[KIND_TLS] > 0;
}

void tcp_front_stop(struct tcp_front *front, struct io_counters *final)
{
    if (front == NULL)
        return;
    if (front->thread_started) {
        uint64_t one = 1;
        /* Cannot fail on a fresh eventfd; if it did, the thread still sees
         * shared->stop within TCP_TICK_MS. */
        ssize_t n = write(front->wake_fd, &one, sizeof(one));
        (void)n;
        pthread_join(front->thread, NULL);
    }
    if (final != NULL)
        counters_add(final, &front->counters);
    front_free(front);
}

void tcp_front_counters(const struct tcp_front *front, struct io_counters *sum)
{
    counters_add(sum, &front->counters);
}
