/*
 * A closed-loop Binding Request load for the end-to-end tests:
 *   stunring-flood HOST PORT COUNT [SOCKETS [WINDOW]]
 * keeps WINDOW requests outstanding on each of SOCKETS sockets until COUNT
 * have been sent, checks every answer (success type, magic cookie, an id
 * this socket sent, XOR-MAPPED-ADDRESS = the socket's own port), and
 * prints "sent N answered A invalid I lost L seconds S". A window that gets
 * no answer for 500 ms is counted lost. Bounded: 120 s at most.
 * (stunring-bench, the operators' harness, is a separate, fuller tool.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/msg.h"
#include "core/writer.h"

enum { MAX_SOCKETS = 256, MAX_WINDOW = 256, TIME_LIMIT_S = 120, IDLE_MS = 500 };

struct flow {
    int fd;
    uint16_t port; /* our local port, which the answer must reflect */
    uint32_t next_seq, outstanding;
};

struct totals {
    unsigned long sent, answered, invalid, lost;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_flow(struct flow *f, const struct sockaddr_in *server)
{
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (f->fd < 0 || connect(f->fd, (const struct sockaddr *)server, sizeof(*server)) < 0)
        return -1;
    struct sockaddr_in local;
    socklen_t len = sizeof(local);
    getsockname(f->fd, (struct sockaddr *)&local, &len);
    f->port = ntohs(local.sin_port);
    return 0;
}

/* The id: cookie, then the flow's port and a sequence number. */
static void send_one(struct flow *f, struct totals *t)
{
    uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42};
    uint8_t buf[64];
    memcpy(id16 + 4, &f->port, 2);
    memcpy(id16 + 8, &f->next_seq, 4);
    struct stun_writer w;
    stun_writer_start(&w, buf, sizeof(buf), 0x0001, id16);
    if (send(f->fd, buf, stun_writer_finish(&w), 0) < 0)
        return;
    f->next_seq++;
    f->outstanding++;
    t->sent++;
}

static bool valid_answer(const struct flow *f, const uint8_t *buf, ssize_t len)
{
    struct stun_msg m;
    struct stun_addr mapped;
    if (len <= 0 || stun_msg_parse(&m, buf, (size_t)len) != STUN_OK || m.classic)
        return false;
    if (m.type != 0x0101 || memcmp(buf + 8, &f->port, 2) != 0)
        return false;
    uint32_t seq;
    memcpy(&seq, buf + 12, 4);
    return seq < f->next_seq && stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &mapped) &&
           mapped.port == f->port;
}

static void drain(struct flow *f, struct totals *t)
{
    uint8_t buf[2048];
    for (int i = 0; i < MAX_WINDOW; i++) {
        ssize_t n = recv(f->fd, buf, sizeof(buf), 0);
        if (n < 0)
            return;
        if (valid_answer(f, buf, n))
            t->answered++;
        else
            t->invalid++;
        if (f->outstanding > 0)
            f->outstanding--;
    }
}

static void run(struct flow *flows, unsigned nflows, unsigned window, unsigned long count,
                struct totals *t)
{
    struct pollfd pfd[MAX_SOCKETS];
    double deadline = now_s() + TIME_LIMIT_S;
    for (;;) {
        unsigned long in_flight = 0;
        for (unsigned i = 0; i < nflows; i++) {
            while (flows[i].outstanding < window && t->sent < count)
                send_one(&flows[i], t);
            in_flight += flows[i].outstanding;
            pfd[i] = (struct pollfd){.fd = flows[i].fd, .events = POLLIN};
        }
        if ((in_flight == 0 && t->sent >= count) || now_s() > deadline)
            return;
        if (poll(pfd, nflows, IDLE_MS) == 0) {
            for (unsigned i = 0; i < nflows; i++) { /* silence: the window is lost */
                t->lost += flows[i].outstanding;
                flows[i].outstanding = 0;
            }
            continue;
        }
        for (unsigned i = 0; i < nflows; i++)
            if (pfd[i].revents & POLLIN)
                drain(&flows[i], t);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s HOST PORT COUNT [SOCKETS (16) [WINDOW (32)]]\n", argv[0]);
        return 2;
    }
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    unsigned long count = strtoul(argv[3], NULL, 10);
    unsigned nflows = argc > 4 ? (unsigned)atoi(argv[4]) : 16;
    unsigned window = argc > 5 ? (unsigned)atoi(argv[5]) : 32;
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1 || nflows < 1 || nflows > MAX_SOCKETS ||
        window < 1 || window > MAX_WINDOW) {
        fprintf(stderr, "%s: bad HOST, SOCKETS (1..%d) or WINDOW (1..%d)\n", argv[0], MAX_SOCKETS,
                MAX_WINDOW);
        return 2;
    }
    static struct flow flows[MAX_SOCKETS];
    for (unsigned i = 0; i < nflows; i++) {
        if (open_flow(&flows[i], &server) < 0) {
            perror("socket");
            return 1;
        }
    }
    struct totals t = {0};
    double start = now_s();
    run(flows, nflows, window, count, &t);
    printf("sent %lu answered %lu invalid %lu lost %lu seconds %.2f\n", t.sent, t.answered,
           t.invalid, t.lost, now_s() - start);
    return t.sent == count ? 0 : 1;
}
