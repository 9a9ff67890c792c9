/* --steer: classic BPF programs that pick a worker's socket per datagram. */
#include "io/udp/steer.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "io/log.h"

#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

enum {
    /* The kernel's cap on a classic program (BPF_MAXINSNS). */
    STEER_MAX_INSNS = 4096,
    /* Where the source address starts in an IPv4 or IPv6 header. */
    IPV4_SRC_OFFSET = 12,
    IPV6_SRC_OFFSET = 8,
};

/* Knuth's multiplicative constant: the high bits of x * it mix all of x. */
static const uint32_t HASH_MULTIPLIER = 0x9E3779B1u;

const char *steer_mode_name(enum steer_mode mode)
{
    return mode == STEER_CPU ? "cpu" : mode == STEER_SOURCE ? "source" : "none";
}

int steer_mode_parse(const char *text)
{
    if (strcmp(text, "cpu") == 0)
        return STEER_CPU;
    if (strcmp(text, "source") == 0)
        return STEER_SOURCE;
    if (strcmp(text, "none") == 0)
        return STEER_NONE;
    return -1;
}

/* A program being written: instructions and how many. */
struct program {
    struct sock_filter *insns;
    unsigned len;
};

static void emit(struct program *p, uint16_t code, uint32_t k)
{
    p->insns[p->len++] = (struct sock_filter)BPF_STMT(code, k);
}

/*
 * cpu: A = the receiving CPU; the worker pinned there; any other CPU
 * (one no worker runs on) goes to worker CPU mod workers. Needs at most
 * 1 + 2 x workers + 2 instructions.
 */
static void build_cpu(struct program *p, const int *cpus, unsigned workers)
{
    emit(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_CPU));
    for (unsigned i = 0; i < workers; i++) {
        /* Equal: the next instruction (return i); else skip it. */
        p->insns[p->len++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)cpus[i], 0, 1);
        emit(p, BPF_RET | BPF_K, i);
    }
    emit(p, BPF_ALU | BPF_MOD | BPF_K, workers);
    emit(p, BPF_RET | BPF_A, 0);
}

/* The mask of a prefix of bits over the 32-bit word that starts at bit
 * word_start of an address, as the big-endian load sees it. */
static uint32_t word_mask(unsigned bits, unsigned word_start)
{
    if (bits >= word_start + 32)
        return 0xFFFFFFFFu;
    unsigned kept = bits - word_start;
    return kept == 0 ? 0 : 0xFFFFFFFFu << (32 - kept);
}

/*
 * source: h = (h ^ word) x multiplier over the words of the source
 * address's first bits (the words past the prefix are left out), then
 * (h >> 16) mod workers. The same client prefix gives the same worker in
 * every group of a family, since every group has one socket per worker.
 */
static void build_source(struct program *p, int family, unsigned bits, unsigned workers)
{
    uint32_t offset = family == AF_INET6 ? IPV6_SRC_OFFSET : IPV4_SRC_OFFSET;
    unsigned words = (bits + 31) / 32;
    emit(p, BPF_LD | BPF_IMM, 0);
    for (unsigned w = 0; w < words; w++) {
        emit(p, BPF_MISC | BPF_TAX, 0); /* X = h */
        emit(p, BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + offset + 4 * w);
        emit(p, BPF_ALU | BPF_AND | BPF_K, word_mask(bits, 32 * w));
        emit(p, BPF_ALU | BPF_XOR | BPF_X, 0);
        emit(p, BPF_ALU | BPF_MUL | BPF_K, HASH_MULTIPLIER);
    }
    emit(p, BPF_ALU | BPF_RSH | BPF_K, 16);
    emit(p, BPF_ALU | BPF_MOD | BPF_K, workers);
    emit(p, BPF_RET | BPF_A, 0);
}

static int attach(int fd, const struct program *p)
{
    struct sock_fprog prog = {.len = (unsigned short)p->len, .filter = p->insns};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0 ? -errno
                                                                                         : 0;
}

/* Why the cpu mode cannot map CPUs to workers one to one, or NULL. */
static const char *cpus_not_one_to_one(const struct steer_plan *plan)
{
    for (unsigned i = 0; i < plan->workers; i++) {
        if (plan->cpus[i] < 0)
            return "a worker is not pinned to a CPU";
        for (unsigned j = 0; j < i; j++)
            if (plan->cpus[j] == plan->cpus[i])
                return "two workers share a CPU (--cpus shorter than --workers, or more "
                       "--workers than CPUs), and only one of them would ever be sent anything";
    }
    return NULL;
}

/* Builds the plan's program for a family into p. */
static void build(const struct steer_plan *plan, int family, struct program *p)
{
    p->len = 0;
    if (plan->mode == STEER_CPU)
        build_cpu(p, plan->cpus, plan->workers);
    else
        build_source(p, family, family == AF_INET6 ? plan->prefix6 : plan->prefix4, plan->workers);
}

static void detach_all(const struct steer_group *groups, unsigned n)
{
    for (unsigned g = 0; g < n; g++)
        setsockopt(groups[g].fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, NULL, 0);
}

static void log_in_effect(const struct steer_plan *plan, unsigned n_groups)
{
    if (plan->mode == STEER_CPU)
        log_msg(LOG_INFO,
                "steer cpu: each datagram to the worker on the CPU that received it "
                "(%u SO_REUSEPORT group%s)",
                n_groups, n_groups == 1 ? "" : "s");
    else
        log_msg(LOG_INFO,
                "steer source: each client (/%u IPv4, /%u IPv6) to one worker by a hash of "
                "its prefix (%u SO_REUSEPORT group%s)",
                plan->prefix4, plan->prefix6, n_groups, n_groups == 1 ? "" : "s");
}

bool steer_groups(const struct steer_plan *plan, const struct steer_group *groups,
                  unsigned n_groups)
{
    if (plan->mode == STEER_NONE)
        return false;
    const char *why = plan->mode == STEER_CPU ? cpus_not_one_to_one(plan) : NULL;
    if (why != NULL) {
        log_msg(LOG_WARN, "--steer cpu: %s: using the kernel's hash", why);
        return false;
    }
    struct program p = {.insns = calloc(STEER_MAX_INSNS, sizeof(*p.insns))};
    int err = p.insns == NULL ? -ENOMEM : 0;
    unsigned g = 0;
    for (; g < n_groups && err == 0; g++) {
        build(plan, groups[g].family, &p);
        err = attach(groups[g].fd, &p);
    }
    free(p.insns);
    if (err != 0) {
        log_msg(LOG_WARN,
                "--steer %s: cannot attach the reuseport program: %s: using the "
                "kernel's hash",
                steer_mode_name(plan->mode), strerror(-err));
        detach_all(groups, g);
        return false;
    }
    log_in_effect(plan, n_groups);
    return true;
}
