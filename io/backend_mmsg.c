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
#include "io/worker.h"

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
};

static void prepare_rx(struct mmsg_state *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct mmsg_slot *slot = &s->slots[i];
        struct msghdr *h = &s->rx_msgs[i].msg_hdr;
        slot->rx_iov = (struct iovec){slot->rx, sizeof(slot->rx)};
        *h = (struct msghdr){.msg_name = &slot->src,
                             .msg_namelen = sizeof(slot->src),
                             .msg_iov = &slot->rx_iov,
                             .msg_iovlen = 1,
                             .msg_control = slot->rx_cmsg,
                             .msg_controllen = sizeof(slot->rx_cmsg)};
    }
}

/* Sends answers [first, end) that share one socket in one sendmmsg. */
static void send_run(struct mmsg_state *s, unsigned *queued, unsigned n)
{
    unsigned first = 0;
    while (first < n) {
        int fd = s->slots[queued[first]].meta.fd;
        unsigned k = 0;
        while (first + k < n && s->slots[queued[first + k]].meta.fd == fd) {
            struct mmsg_slot *slot = &s->slots[queued[first + k]];
            s->tx_msgs[k].msg_hdr = (struct msghdr){
                .msg_name = &slot->meta.dest,
                .msg_namelen = slot->meta.dest_len,
                .msg_iov = &slot->tx_iov,
                .msg_iovlen = 1,
                .msg_control = slot->tx_cmsg,
                .msg_controllen = worker_source_cmsg(&slot->meta, slot->tx_cmsg, CMSG_ROOM)};
            if (s->tx_msgs[k].msg_hdr.msg_controllen == 0)
                s->tx_msgs[k].msg_hdr.msg_control = NULL;
            k++;
        }
        unsigned sent = 0;
        while (sent < k) {
            int r = sendmmsg(fd, s->tx_msgs + sent, k - sent, 0);
            if (r <= 0) {
                /* One refused answer (e.g. EPERM from a firewall): count, skip it. */
                counters_event(&s->w->counters, IO_TX_FAILED);
                sent++;
                continue;
            }
            sent += (unsigned)r;
            for (int i = 0; i < r; i++)
                counters_event(&s->w->counters, IO_TX);
        }
        first += k;
    }
}

/* Receives and answers one batch from (family, ep); returns datagrams read or -1. */
static int serve_batch(struct mmsg_state *s, unsigned family, enum stun_endpoint ep)
{
    struct worker *w = s->w;
    int fd = w->fd[family][ep];
    prepare_rx(s, s->batch);
    int n = recvmmsg(fd, s->rx_msgs, s->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            counters_event(&w->counters, IO_RX_ERRORS);
        return -1;
    }
    unsigned queued[SERVER_MAX_BATCH], nq = 0;
    for (int i = 0; i < n; i++) {
        struct mmsg_slot *slot = &s->slots[i];
        struct msghdr *h = &s->rx_msgs[i].msg_hdr;
        counters_event(&w->counters, IO_RX);
        if (h->msg_flags & MSG_TRUNC) {
            counters_event(&w->counters, IO_RX_TRUNCATED);
            continue;
        }
        struct sockaddr_storage local;
        worker_read_cmsg(w, family, ep, h, &local);
        size_t len = worker_handle(w, family, ep, slot->rx, s->rx_msgs[i].msg_len, &slot->src,
                                   &local, slot->tx, &slot->meta);
        if (len == 0)
            continue;
        slot->tx_iov = (struct iovec){slot->tx, len};
        queued[nq++] = (unsigned)i;
    }
    send_run(s, queued, nq);
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
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    int err = (s.slots && s.rx_msgs && s.tx_msgs) ? 0 : -ENOMEM;
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
    return err;
}
