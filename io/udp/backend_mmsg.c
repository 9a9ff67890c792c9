/*
 * The recvmmsg/sendmmsg backend: for hosts without io_uring (containers
 * whose seccomp profile blocks it, kernel.io_uring_disabled) and as the
 * baseline io_uring must beat. One epoll over the worker's sockets; a
 * ready socket is drained in batches of cfg->batch datagrams, and each
 * batch's answers leave in one sendmmsg per outgoing socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "io/addr.h"
#include "io/log.h"
#include "io/udp/worker.h"

/* Room for IPV6_PKTINFO (40 bytes) and SO_RXQ_OVFL (24), with a margin. */
enum { CMSG_ROOM = 128 };

struct mmsg_slot {
    uint8_t rx[RX_BUF_SIZE];
    uint8_t tx[TX_BUF_SIZE];
    struct sockaddr_storage src;
    struct iovec rx_iov, tx_iov;
    _Alignas(struct cmsghdr) uint8_t rx_cmsg[CMSG_ROOM];
    _Alignas(struct cmsghdr) uint8_t tx_cmsg[CMSG_ROOM];
    struct tx_meta meta;
};

struct mmsg_state {
    struct worker *w;
    unsigned batch;
    struct mmsg_slot *slots;
    struct mmsghdr *rx_msgs;
    struct mmsghdr *tx_msgs;
    int *fds; /* the socket of each queued answer */
};

static void init_rx(struct mmsg_state *s)
{
    for (unsigned i = 0; i < s->batch; i++) {
        struct mmsg_slot *slot = &s->slots[i];
        slot->rx_iov = (struct iovec){slot->rx, sizeof(slot->rx)};
        s->rx_msgs[i].msg_hdr = (struct msghdr){.msg_name = &slot->src,
                                                .msg_iov = &slot->rx_iov,
                                                .msg_iovlen = 1,
                                                .msg_control = slot->rx_cmsg};
    }
}

/* recvmmsg rewrote the name and control lengths of the first n headers. */
static void rearm_rx(struct mmsg_state *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        s->rx_msgs[i].msg_hdr.msg_namelen = sizeof(s->slots[i].src);
        s->rx_msgs[i].msg_hdr.msg_controllen = sizeof(s->slots[i].rx_cmsg);
    }
}

/* Queues slot's answer of len bytes as tx_msgs[k]; fds[k] is its socket. */
static void queue_answer(struct mmsg_state *s, unsigned k, struct mmsg_slot *slot, size_t len)
{
    slot->tx_iov = (struct iovec){slot->tx, len};
    size_t clen = worker_source_cmsg(&slot->meta, slot->tx_cmsg, CMSG_ROOM);
    s->tx_msgs[k].msg_hdr = (struct msghdr){.msg_name = &slot->meta.dest,
                                            .msg_namelen = slot->meta.dest_len,
                                            .msg_iov = &slot->tx_iov,
                                            .msg_iovlen = 1,
                                            .msg_control = clen ? slot->tx_cmsg : NULL,
                                            .msg_controllen = clen};
    s->fds[k] = slot->meta.fd;
}

/* Sends tx_msgs[0..n): one sendmmsg per run of answers leaving one socket. */
static void send_queued(struct mmsg_state *s, unsigned n)
{
    for (unsigned first = 0, end; first < n; first = end) {
        int fd = s->fds[first];
        for (end = first + 1; end < n && s->fds[end] == fd;)
            end++;
        for (unsigned sent = first; sent < end;) {
            int r = sendmmsg(fd, s->tx_msgs + sent, end - sent, 0);
            if (r <= 0) {
                /* One refused answer (e.g. EPERM from a firewall): count, skip it. */
                counters_event(&s->w->counters, IO_TX_FAILED);
                sent++;
                continue;
            }
            sent += (unsigned)r;
            counter_add(&s->w->counters.event[IO_TX], (unsigned)r);
        }
    }
}

/* Receives and answers one batch from (family, ep); returns datagrams read or -1. */
static int serve_batch(struct mmsg_state *s, unsigned family, enum stun_endpoint ep)
{
    struct worker *w = s->w;
    int n = recvmmsg(w->fd[family][ep], s->rx_msgs, s->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            counters_event(&w->counters, IO_RX_ERRORS);
        return -1;
    }
    counter_add(&w->counters.event[IO_RX], (unsigned)n);
    worker_begin_batch(w);
    unsigned queued = 0;
    for (int i = 0; i < n; i++) {
        struct mmsg_slot *slot = &s->slots[i];
        struct msghdr *h = &s->rx_msgs[i].msg_hdr;
        if (h->msg_flags & MSG_TRUNC) {
            counters_event(&w->counters, IO_RX_TRUNCATED);
            continue;
        }
        struct stun_addr local;
        worker_read_cmsg(w, family, ep, h, &local);
        size_t len = worker_handle(w, family, ep, slot->rx, s->rx_msgs[i].msg_len, &slot->src,
                                   &local, slot->tx, &slot->meta);
        if (len > 0)
            queue_answer(s, queued++, slot, len);
    }
    send_queued(s, queued);
    rearm_rx(s, (unsigned)n);
    return n;
}

static int add_sockets(struct worker *w, int epfd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) < 0)
        return -errno;
    for (unsigned f = 0; f < SERVER_MAX_FAMILIES; f++) {
        for (unsigned ep = 0; ep < STUN_EP_COUNT; ep++) {
            if (w->fd[f][ep] < 0)
                continue;
            ev.data.u32 = f * STUN_EP_COUNT + ep;
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd[f][ep], &ev) < 0)
                return -errno;
        }
    }
    return 0;
}

static void serve_ready(struct mmsg_state *s, uint32_t which)
{
    unsigned family = which / STUN_EP_COUNT;
    enum stun_endpoint ep = (enum stun_endpoint)(which % STUN_EP_COUNT);
    /* Drain, but bounded, so one busy socket cannot starve the others. */
    for (int round = 0; round < 16; round++)
        if (serve_batch(s, family, ep) < (int)s->batch)
            break;
}

int worker_run_mmsg(struct worker *w)
{
    struct mmsg_state s = {.w = w, .batch = w->shared->cfg->batch};
    s.slots = calloc(s.batch, sizeof(*s.slots));
    s.rx_msgs = calloc(s.batch, sizeof(*s.rx_msgs));
    s.tx_msgs = calloc(s.batch, sizeof(*s.tx_msgs));
    s.fds = calloc(s.batch, sizeof(*s.fds));
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    int err = (s.slots && s.rx_msgs && s.tx_msgs && s.fds) ? 0 : -ENOMEM;
    if (err == 0) {
        init_rx(&s);
        rearm_rx(&s, s.batch);
    }
    if (err == 0)
        err = epfd < 0 ? -errno : add_sockets(w, epfd);
    worker_report_ready(w, err);

    struct epoll_event events[16];
    while (err == 0 && !worker_should_stop(w)) {
        int n = epoll_wait(epfd, events, 16, -1);
        if (n < 0 && errno != EINTR)
            err = -errno;
        for (int i = 0; i < n; i++)
            if (events[i].data.u32 != UINT32_MAX)
                serve_ready(&s, events[i].data.u32);
    }
    if (err != 0)
        log_msg(LOG_ERROR, "worker %u (mmsg): %s", w->worker_id, strerror(-err));
    if (epfd >= 0)
        close(epfd);
    free(s.slots);
    free(s.rx_msgs);
    free(s.tx_msgs);
    free(s.fds);
    return err;
}
