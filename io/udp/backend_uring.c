/*
 * The io_uring backend, per worker: one ring (SINGLE_ISSUER +
 * DEFER_TASKRUN where the kernel has them, else COOP_TASKRUN), one
 * multishot recvmsg per socket over a provided buffer ring, answers queued
 * as sendmsg on the socket they must leave from, and every completion of
 * one wake-up handled before the next single io_uring_enter.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "io/addr.h"
#include "io/log.h"
#include "io/udp/worker.h"

enum {
    BGID = 1,
    CMSG_ROOM = 128, /* IPV6_PKTINFO (40) + SO_RXQ_OVFL (24), with a margin */
    /* A provided buffer holds the recvmsg header, the name, the control
     * data, then the datagram (io_uring_prep_recvmsg_multishot(3)). */
    BUF_SIZE = sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage) + CMSG_ROOM +
               RX_BUF_SIZE,
};

enum op { OP_RECV = 1, OP_SEND = 2, OP_WAKE = 3 };

static uint64_t tag(enum op op, unsigned index) { return (uint64_t)op << 32 | index; }
static enum op tag_op(uint64_t data) { return (enum op)(data >> 32); }
static unsigned tag_index(uint64_t data) { return (unsigned)data; }

struct tx_slot {
    uint8_t buf[TX_BUF_SIZE];
    struct msghdr msg;
    struct iovec iov;
    struct tx_meta meta;
    _Alignas(struct cmsghdr) uint8_t cmsg[CMSG_ROOM];
};

struct uring_state {
    struct worker *w;
    struct io_uring ring;
    bool ring_ready;
    struct io_uring_buf_ring *br;
    size_t br_size;
    uint8_t *bufs;
    unsigned nbufs, recycled;
    struct msghdr recv_msg[SERVER_MAX_FAMILIES][STUN_EP_COUNT];
    struct tx_slot *tx;
    unsigned *free_tx, nfree, ntx, inflight;
    uint64_t wake_value;
    uint32_t rearm_pending; /* bit family * STUN_EP_COUNT + ep: a re-arm found no SQE */
};

static struct io_uring_sqe *get_sqe(struct uring_state *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL) { /* queue full: hand what is queued to the kernel */
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

/* SINGLE_ISSUER + DEFER_TASKRUN, else COOP_TASKRUN, else plain. */
static int setup_ring(struct uring_state *s, unsigned entries)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int err = -EINVAL;
    for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
        struct io_uring_params p = {0};
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        if (flag_sets[i] != 0) /* both came after SUBMIT_ALL (5.18) */
            p.flags |= IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = entries * 4;
        err = io_uring_queue_init_params(entries, &s->ring, &p);
        if (err == 0) {
            if (i > 0 && s->w->worker_id == 0)
                log_msg(LOG_WARN, "io_uring: no DEFER_TASKRUN on this kernel, using %s",
                        i == 1 ? "COOP_TASKRUN" : "no task-run flags");
            s->ring_ready = true;
            return 0;
        }
    }
    return err;
}

static int setup_buffers(struct uring_state *s, unsigned entries)
{
    s->nbufs = entries;
    s->br_size = s->nbufs * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, s->br_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    s->br = mem;
    s->bufs = malloc((size_t)s->nbufs * BUF_SIZE);
    if (s->bufs == NULL)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)mem, .ring_entries = s->nbufs, .bgid = BGID};
    int err = io_uring_register_buf_ring(&s->ring, &reg, 0);
    if (err < 0)
        return err;
    io_uring_buf_ring_init(s->br);
    for (unsigned i = 0; i < s->nbufs; i++)
        io_uring_buf_ring_add(s->br, s->bufs + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(s->nbufs), (int)i);
    io_uring_buf_ring_advance(s->br, (int)s->nbufs);
    return 0;
}

static int setup_tx(struct uring_state *s, unsigned entries)
{
    s->ntx = entries * 2;
    s->tx = calloc(s->ntx + 1, sizeof(*s->tx)); /* + a scratch slot for send_sync */
    s->free_tx = calloc(s->ntx, sizeof(*s->free_tx));
    if (s->tx == NULL || s->free_tx == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < s->ntx; i++)
        s->free_tx[i] = s->ntx - 1 - i;
    s->nfree = s->ntx;
    return 0;
}

static int arm_recv(struct uring_state *s, unsigned family, unsigned ep)
{
    struct io_uring_sqe *sqe = get_sqe(s);
    if (sqe == NULL)
        return -EBUSY;
    struct msghdr *m = &s->recv_msg[family][ep];
    *m = (struct msghdr){.msg_namelen = sizeof(struct sockaddr_storage),
                         .msg_controllen = CMSG_ROOM};
    io_uring_prep_recvmsg_multishot(sqe, s->w->fd[family][ep], m, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, tag(OP_RECV, family * STUN_EP_COUNT + ep));
    return 0;
}

static int arm_wake(struct uring_state *s)
{
    struct io_uring_sqe *sqe = get_sqe(s);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_poll_add(sqe, s->w->wake_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, tag(OP_WAKE, 0));
    return 0;
}

static int arm_all(struct uring_state *s)
{
    int err = arm_wake(s);
    for (unsigned f = 0; f < SERVER_MAX_FAMILIES && err == 0; f++)
        for (unsigned ep = 0; ep < STUN_EP_COUNT && err == 0; ep++)
            if (s->w->fd[f][ep] >= 0)
                err = arm_recv(s, f, ep);
    return err;
}

/* Every ring slot busy: answer with a plain sendmsg rather than lose it. */
static void send_sync(struct uring_state *s, struct tx_slot *slot)
{
    int r = (int)sendmsg(slot->meta.fd, &slot->msg, MSG_DONTWAIT);
    counters_event(&s->w->counters, r < 0 ? IO_TX_FAILED : IO_TX);
    if (r >= 0)
        counters_event(&s->w->counters, IO_TX_SYNC); /* tx counts it too */
}

static void queue_send(struct uring_state *s, struct tx_slot *slot, unsigned index, size_t len)
{
    slot->iov = (struct iovec){slot->buf, len};
    size_t clen = worker_source_cmsg(&slot->meta, slot->cmsg, sizeof(slot->cmsg));
    slot->msg = (struct msghdr){.msg_name = &slot->meta.dest,
                                .msg_namelen = slot->meta.dest_len,
                                .msg_iov = &slot->iov,
                                .msg_iovlen = 1,
                                .msg_control = clen ? slot->cmsg : NULL,
                                .msg_controllen = clen};
    struct io_uring_sqe *sqe = index < s->ntx ? get_sqe(s) : NULL;
    if (sqe == NULL) {
        send_sync(s, slot);
        if (index < s->ntx)
            s->free_tx[s->nfree++] = index;
        return;
    }
    io_uring_prep_sendmsg(sqe, slot->meta.fd, &slot->msg, 0);
    io_uring_sqe_set_data64(sqe, tag(OP_SEND, index));
    s->inflight++;
}

static void recycle(struct uring_state *s, unsigned bid)
{
    io_uring_buf_ring_add(s->br, s->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(s->nbufs), (int)s->recycled);
    s->recycled++;
}

/* Answers one received datagram held in provided buffer bid. */
static void serve_datagram(struct uring_state *s, unsigned which, unsigned bid, int len)
{
    struct worker *w = s->w;
    unsigned family = which / STUN_EP_COUNT;
    enum stun_endpoint ep = (enum stun_endpoint)(which % STUN_EP_COUNT);
    struct msghdr *tmpl = &s->recv_msg[family][ep];
    struct io_uring_recvmsg_out *o =
        io_uring_recvmsg_validate(s->bufs + (size_t)bid * BUF_SIZE, len, tmpl);
    counters_event(&w->counters, IO_RX);
    if (o == NULL || o->namelen > sizeof(struct sockaddr_storage)) {
        counters_event(&w->counters, IO_RX_ERRORS);
        return;
    }
    if (o->flags & MSG_TRUNC) {
        counters_event(&w->counters, IO_RX_TRUNCATED);
        return;
    }
    struct sockaddr_storage src = {0};
    struct stun_addr local;
    memcpy(&src, io_uring_recvmsg_name(o), o->namelen);
    struct msghdr cm = {0};
    struct cmsghdr *first = io_uring_recvmsg_cmsg_firsthdr(o, tmpl);
    if (first != NULL) {
        cm.msg_control = first;
        cm.msg_controllen = o->controllen;
    }
    worker_read_cmsg(w, family, ep, &cm, &local);

    unsigned index = s->nfree > 0 ? s->free_tx[--s->nfree] : s->ntx;
    struct tx_slot *slot = &s->tx[index];
    size_t n = worker_handle(w, family, ep, io_uring_recvmsg_payload(o, tmpl),
                             io_uring_recvmsg_payload_length(o, len, tmpl), &src, &local, slot->buf,
                             &slot->meta);
    if (n == 0) {
        if (index < s->ntx)
            s->free_tx[s->nfree++] = index;
        return;
    }
    queue_send(s, slot, index, n);
}

static void on_recv(struct uring_state *s, const struct io_uring_cqe *cqe)
{
    unsigned which = tag_index(cqe->user_data);
    if (cqe->res == -ENOBUFS)
        counters_event(&s->w->counters, IO_RING_NOBUFS);
    else if (cqe->res < 0)
        counters_event(&s->w->counters, IO_RX_ERRORS);
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (cqe->res > 0 && !worker_should_stop(s->w))
            serve_datagram(s, which, bid, cqe->res);
        recycle(s, bid);
    }
    if (!(cqe->flags & IORING_CQE_F_MORE) && !worker_should_stop(s->w)) {
        /* The multishot ended (buffers ran out, or an error): re-arm. */
        counters_event(&s->w->counters, IO_RING_REARM);
        if (arm_recv(s, which / STUN_EP_COUNT, which % STUN_EP_COUNT) != 0)
            s->rearm_pending |= 1u << which; /* retried before the next wait */
    }
}

static void on_send(struct uring_state *s, const struct io_uring_cqe *cqe)
{
    counters_event(&s->w->counters, cqe->res < 0 ? IO_TX_FAILED : IO_TX);
    s->free_tx[s->nfree++] = tag_index(cqe->user_data);
    s->inflight--;
}

/* Handles every completion available, then gives back the buffers at once. */
static void reap(struct uring_state *s)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    worker_begin_batch(s->w);
    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        seen++;
        switch (tag_op(cqe->user_data)) {
        case OP_RECV:
            on_recv(s, cqe);
            break;
        case OP_SEND:
            on_send(s, cqe);
            break;
        case OP_WAKE:
            break; /* the loop checks shared->stop */
        }
    }
    io_uring_cq_advance(&s->ring, seen);
    if (s->recycled > 0) {
        io_uring_buf_ring_advance(s->br, (int)s->recycled);
        s->recycled = 0;
    }
}

/* After stop: let in-flight sends finish, for at most about a second. */
static void drain(struct uring_state *s)
{
    /* Stop receiving first, or every arriving datagram ends a wait early. */
    for (unsigned i = 0; i < SERVER_MAX_FAMILIES * STUN_EP_COUNT; i++) {
        struct io_uring_sqe *sqe =
            s->w->fd[i / STUN_EP_COUNT][i % STUN_EP_COUNT] >= 0 ? get_sqe(s) : NULL;
        if (sqe != NULL) {
            io_uring_prep_cancel64(sqe, tag(OP_RECV, i), 0);
            io_uring_sqe_set_data64(sqe, tag(OP_WAKE, 0));
        }
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int round = 0; round < 1000 && s->inflight > 0; round++) {
        struct __kernel_timespec ts = {.tv_nsec = 50 * 1000 * 1000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
        reap(s);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 1) /* about a second at most */
            break;
    }
}

/* Re-arms the receives a full submission queue left unarmed. */
static void rearm_pending(struct uring_state *s)
{
    for (unsigned i = 0; s->rearm_pending != 0 && i < 32; i++) {
        if ((s->rearm_pending >> i & 1u) && arm_recv(s, i / STUN_EP_COUNT, i % STUN_EP_COUNT) == 0)
            s->rearm_pending &= ~(1u << i);
    }
}

static void teardown(struct uring_state *s)
{
    if (s->ring_ready)
        io_uring_queue_exit(&s->ring);
    if (s->br != NULL)
        munmap(s->br, s->br_size);
    free(s->bufs);
    free(s->tx);
    free(s->free_tx);
    free(s);
}

/*
 * Whether an io_uring_enter failure is the kernel's passing shortage
 * (memory, completion-queue back-pressure, a signal): then the worker
 * keeps its sockets served and tries again. Anything else (EBADF, EFAULT,
 * EINVAL, ...) says the ring itself is broken, and the caller stops.
 */
static bool enter_error_is_transient(int err)
{
    switch (err) {
    case -EINTR:
    case -EAGAIN:
    case -EBUSY:
    case -ENOMEM:
    case -ENOBUFS:
    case -ETIME:
        return true;
    default:
        return false;
    }
}

/* A transient enter failure: counted, said once per worker, and a
 * millisecond's pause so that a lasting shortage does not spin a core. */
static void survive_enter_error(struct uring_state *s, int err)
{
    if (err == -EINTR)
        return;
    if (__atomic_load_n(&s->w->counters.event[IO_RING_ENTER_ERRORS], __ATOMIC_RELAXED) == 0)
        log_msg(LOG_WARN, "worker %u: io_uring_enter: %s: retrying (counted as ring_enter_errors)",
                s->w->worker_id, strerror(-err));
    counters_event(&s->w->counters, IO_RING_ENTER_ERRORS);
    const struct timespec pause = {0, 1000 * 1000};
    nanosleep(&pause, NULL);
}

static int serve(struct uring_state *s)
{
    while (!worker_should_stop(s->w)) {
        rearm_pending(s);
        int r = io_uring_submit_and_wait(&s->ring, 1);
        if (r < 0 && !enter_error_is_transient(r))
            return r;
        if (r < 0)
            survive_enter_error(s, r);
        reap(s);
        /* Completions the kernel had to drop (it could not even hold them). */
        uint32_t dropped = __atomic_load_n(s->ring.cq.koverflow, __ATOMIC_RELAXED);
        __atomic_store_n(&s->w->counters.event[IO_RING_CQ_DROPPED], dropped, __ATOMIC_RELAXED);
    }
    drain(s);
    return 0;
}

int worker_run_uring(struct worker *w)
{
    unsigned entries = w->shared->cfg->ring_entries;
    struct uring_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        worker_report_ready(w, -ENOMEM); /* the main thread waits for every worker */
        return -ENOMEM;
    }
    s->w = w;
    int err = setup_ring(s, entries);
    if (err == 0)
        err = setup_buffers(s, entries);
    if (err == 0)
        err = setup_tx(s, entries);
    if (err == 0)
        err = arm_all(s);
    worker_report_ready(w, err);
    if (err == 0)
        err = serve(s);
    if (err != 0)
        log_msg(LOG_ERROR, "worker %u (io_uring): %s", w->worker_id, strerror(-err));
    teardown(s);
    return err;
}

/* One datagram to ourselves through a multishot recvmsg and a buffer ring. */
static int probe_receive(struct uring_state *s, int fd)
{
    struct sockaddr_in self;
    socklen_t len = sizeof(self);
    if (getsockname(fd, (struct sockaddr *)&self, &len) < 0)
        return -errno;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    struct msghdr m = {.msg_namelen = sizeof(struct sockaddr_storage), .msg_controllen = 0};
    io_uring_prep_recvmsg_multishot(sqe, fd, &m, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_submit(&s->ring);
    if (sendto(fd, "probe", 5, 0, (struct sockaddr *)&self, len) < 0)
        return -errno;
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 1};
    int err = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
    if (err < 0)
        return err;
    err = cqe->res < 0 ? cqe->res : (cqe->flags & IORING_CQE_F_BUFFER) ? 0 : -EOPNOTSUPP;
    io_uring_cqe_seen(&s->ring, cqe);
    return err;
}

/*
 * Whether the io_uring backend can run here: the ring, the buffer ring and
 * a multishot recvmsg (Linux 6.0) must all work. A seccomp profile that
 * blocks io_uring_setup, kernel.io_uring_disabled or an old kernel fail
 * here, before any worker starts.
 */
int uring_probe(void)
{
    struct worker dummy = {.worker_id = 1};
    struct uring_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->w = &dummy;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int err = fd < 0 ? -errno : 0;
    if (err == 0 && bind(fd, (struct sockaddr *)&lo, sizeof(lo)) < 0)
        err = -errno;
    if (err == 0)
        err = setup_ring(s, 8);
    if (err == 0)
        err = setup_buffers(s, 8);
    if (err == 0)
        err = probe_receive(s, fd);
    if (fd >= 0)
        close(fd);
    teardown(s);
    return err;
}
