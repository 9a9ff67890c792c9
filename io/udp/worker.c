/* What both backends share: handling one datagram and routing its answer. */
#include "io/udp/worker.h"

#include <string.h>

#include "io/addr.h"
#include "io/clock.h"
#include "io/ratelimit.h"

bool worker_should_stop(const struct worker *w)
{
    return __atomic_load_n(&w->shared->stop, __ATOMIC_ACQUIRE) != 0;
}

void worker_begin_batch(struct worker *w)
{
    if (w->shared->handler.auth != STUN_AUTH_NONE)
        w->batch_wall_ms = wall_clock_ms();
    /* The coarse clock: a few ns, ms steps are enough. */
    if (w->reflect_limit != NULL || w->shared->cfg->shed_above != 0)
        w->batch_mono_ms = clock_ms(CLOCK_MONOTONIC_COARSE);
}

/* The reflection cap: may an unauthenticated request's answer go to dest? */
static bool reflection_allowed(struct worker *w, const struct stun_addr *dest)
{
    return w->reflect_limit == NULL || rate_limiter_allow(w->reflect_limit, dest, w->batch_mono_ms);
}

/*
 * Drain (SIGUSR2) or, past --shed-above requests this second, shedding:
 * the handler then answers 300 where it can (core/handler.h). The count
 * is this worker's own: no shared atomic, the batch's clock.
 */
static enum stun_redirect redirect_now(struct worker *w)
{
    const struct server_shared *sh = w->shared;
    if (__atomic_load_n(&sh->draining, __ATOMIC_ACQUIRE))
        return STUN_REDIRECT_DRAINING;
    unsigned limit = sh->cfg->shed_above;
    if (limit == 0)
        return STUN_REDIRECT_NONE;
    uint64_t second = w->batch_mono_ms / 1000;
    if (second != w->shed_second) {
        w->shed_second = second;
        w->shed_count = 0;
    }
    return ++w->shed_count > limit ? STUN_REDIRECT_SHED : STUN_REDIRECT_NONE;
}

size_t worker_handle(struct worker *w, unsigned family, enum stun_endpoint ep, const uint8_t *data,
                     size_t len, const struct sockaddr_storage *src, const struct stun_addr *local,
                     uint8_t *out, struct tx_meta *meta)
{
    const struct server_shared *sh = w->shared;
    struct stun_request req;
    struct stun_reply reply;
    req.data = data;
    req.len = len;
    req.arrived = ep;
    req.eps = &sh->eps[family];
    req.stream = false;
    struct stun_addr source;
    addr_to_stun(src, &source);
    req.source = &source;
    req.local = local;
    req.tls = false;
    req.now_ms = w->batch_wall_ms;
    req.redirect = redirect_now(w);
    stun_handle(&sh->handler, &req, out, TX_BUF_SIZE, &reply);
    /* Every answer to an unauthenticated request, success or error, is
     * charged to its destination's prefix; past the budget it is not sent
     * and counted as that, not as an answer. */
    if (reply.len != 0 && !reply.authenticated && !reflection_allowed(w, &reply.dest)) {
        counters_event(&w->counters, IO_DROP_RATE_LIMITED);
        return 0;
    }
    counters_status(&w->counters, reply.status);
    if (reply.len == 0)
        return 0;

    meta->fd = w->fd[family][reply.from];
    meta->dest_len = addr_from_stun(&reply.dest, &meta->dest);
    addr_keep_scope(&meta->dest, src);
    /* A wildcard socket must say which of its addresses to answer from:
     * the one the request arrived at (only A1 can be a wildcard). */
    meta->set_source = sh->wildcard[family];
    if (meta->set_source)
        meta->source = *local;
    counters_code(&w->counters, reply.code); /* last: counted only when it goes out */
    return reply.len;
}

size_t worker_source_cmsg(const struct tx_meta *meta, void *buf, size_t cap)
{
    if (!meta->set_source)
        return 0;
    memset(buf, 0, cap);
    struct cmsghdr *c = buf;
    if (meta->source.family == STUN_FAMILY_IPV6) {
        struct in6_pktinfo info = {0};
        memcpy(&info.ipi6_addr, meta->source.ip, 16);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(c), &info, sizeof(info));
        return CMSG_SPACE(sizeof(info));
    }
    struct in_pktinfo info = {0};
    memcpy(&info.ipi_spec_dst, meta->source.ip, 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(info));
    memcpy(CMSG_DATA(c), &info, sizeof(info));
    return CMSG_SPACE(sizeof(info));
}

/* SO_RXQ_OVFL carries the socket's running total of drops: count the rise. */
static void note_kernel_drops(struct worker *w, unsigned family, enum stun_endpoint ep,
                              uint32_t total)
{
    uint32_t *seen = &w->kernel_drops_seen[family][ep];
    if (total != *seen)
        counter_add(&w->counters.event[IO_RX_KERNEL_DROPS], (uint32_t)(total - *seen));
    *seen = total;
}

void worker_read_cmsg(struct worker *w, unsigned family, enum stun_endpoint ep, struct msghdr *msg,
                      struct stun_addr *local)
{
    *local = w->shared->eps[family].addr[ep];
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t total;
            memcpy(&total, CMSG_DATA(c), sizeof(total));
            note_kernel_drops(w, family, ep, total);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            /* ipi_spec_dst, the local address the kernel would answer
             * from: ipi_addr is the header's destination, which for a
             * broadcast request is no address to send from. */
            memcpy(local->ip, &info.ipi_spec_dst, 4);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo info;
            memcpy(&info, CMSG_DATA(c), sizeof(info));
            memcpy(local->ip, &info.ipi6_addr, 16);
        }
    }
}
