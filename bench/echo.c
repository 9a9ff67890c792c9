/*
 * stunring-echo: the physical limit. One thread, one UDP socket,
 * recvmmsg/sendmmsg in batches, and the smallest correct answer to a
 * Binding Request (RFC 8489: success type, the same id, XOR-MAPPED-
 * ADDRESS) written with no parsing beyond the cookie. Whatever stunringd
 * spends above this per response is its own cost.
 *   stunring-echo ADDR PORT [BATCH (64)]
 * Runs until SIGTERM/SIGINT; prints "echo answered N" at exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_BATCH = 1024, BUF = 2048, ANSWER = 32 };

static volatile sig_atomic_t stop;

static void on_signal(int sig) { stop = sig; }

/* 20-byte header + XOR-MAPPED-ADDRESS (IPv4): 32 bytes; 0 if not a request. */
static size_t answer(const uint8_t *req, size_t len, const struct sockaddr_in *src, uint8_t *out)
{
    static const uint8_t cookie[4] = {0x21, 0x12, 0xA4, 0x42};
    if (len < 20 || req[0] != 0x00 || req[1] != 0x01 || memcmp(req + 4, cookie, 4) != 0)
        return 0;
    memcpy(out, req, 20);
    out[0] = 0x01;
    out[1] = 0x01;
    out[2] = 0;
    out[3] = 12;
    const uint8_t attr[8] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01};
    memcpy(out + 20, attr, sizeof(attr));
    uint16_t xport = ntohs(src->sin_port) ^ 0x2112;
    out[26] = (uint8_t)(xport >> 8);
    out[27] = (uint8_t)xport;
    memcpy(out + 28, &src->sin_addr, 4);
    for (int i = 0; i < 4; i++)
        out[28 + i] ^= cookie[i];
    return ANSWER;
}

static uint8_t rx[MAX_BATCH][BUF], tx[MAX_BATCH][ANSWER];
static struct sockaddr_in src[MAX_BATCH];
static struct iovec rx_iov[MAX_BATCH], tx_iov[MAX_BATCH];
static struct mmsghdr rx_msg[MAX_BATCH], tx_msg[MAX_BATCH];

static unsigned long serve(int fd, unsigned batch)
{
    unsigned long answered = 0;
    for (unsigned i = 0; i < batch; i++) {
        rx_iov[i] = (struct iovec){rx[i], BUF};
        rx_msg[i].msg_hdr = (struct msghdr){.msg_name = &src[i],
                                            .msg_namelen = sizeof(src[i]),
                                            .msg_iov = &rx_iov[i],
                                            .msg_iovlen = 1};
    }
    while (!stop) {
        int n = recvmmsg(fd, rx_msg, batch, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue; /* EINTR from the stop signal, or nothing */
        unsigned k = 0;
        for (int i = 0; i < n; i++) {
            size_t len = answer(rx[i], rx_msg[i].msg_len, &src[i], tx[k]);
            rx_msg[i].msg_hdr.msg_namelen = sizeof(src[i]);
            if (len == 0)
                continue;
            tx_iov[k] = (struct iovec){tx[k], len};
            tx_msg[k].msg_hdr = (struct msghdr){.msg_name = &src[i],
                                                .msg_namelen = sizeof(src[i]),
                                                .msg_iov = &tx_iov[k],
                                                .msg_iovlen = 1};
            k++;
        }
        for (unsigned sent = 0; sent < k;) {
            int r = sendmmsg(fd, tx_msg + sent, k - sent, 0);
            if (r <= 0)
                break;
            sent += (unsigned)r;
            answered += (unsigned)r;
        }
    }
    return answered;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s ADDR PORT [BATCH (64)]\n", argv[0]);
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    unsigned batch = argc > 3 ? (unsigned)atoi(argv[3]) : 64;
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1 || batch < 1 || batch > MAX_BATCH) {
        fprintf(stderr, "%s: want an IPv4 ADDR and BATCH 1..%d\n", argv[0], MAX_BATCH);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "%s: cannot bind %s:%s: %s\n", argv[0], argv[1], argv[2], strerror(errno));
        return 1;
    }
    /* No SA_RESTART: the signal must interrupt the blocking recvmmsg. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "echo ready on %s:%s\n", argv[1], argv[2]);
    unsigned long answered = serve(fd, batch);
    fprintf(stderr, "echo answered %lu\n", answered);
    close(fd);
    return 0;
}
