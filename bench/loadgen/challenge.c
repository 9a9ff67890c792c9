/* The 401 exchange of long-term-auth, before the run (challenge.h). */
#include "bench/loadgen/challenge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/msg.h"
#include "core/writer.h"
#include "io/addr.h"

enum {
    READS_PER_TRY = 16, /* datagrams read per try, at most */
};

static int open_socket(const struct sockaddr_storage *local, char *err, size_t cap)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = BENCH_CHALLENGE_WAIT_MS * 1000};
    int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        bind(fd, (const struct sockaddr *)local, addr_len(local)) < 0) {
        snprintf(err, cap, "challenge socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Waits for the answer to id16; its length, or 0 when none came in time. */
static size_t await_answer(int fd, const uint8_t id16[16], uint8_t *buf, size_t cap)
{
    for (int r = 0; r < READS_PER_TRY; r++) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0)
            return 0; /* timeout: send again */
        if ((size_t)n >= STUN_HEADER_LEN && memcmp(buf + 4, id16, 16) == 0)
            return (size_t)n;
    }
    return 0;
}

static size_t exchange(int fd, const struct sockaddr_storage *server, uint8_t *buf, size_t cap)
{
    uint8_t id16[16] = {0x21, 0x12, 0xA4, 0x42};
    if (getrandom(id16 + 4, 12, 0) != 12)
        memset(id16 + 4, 0x5a, 12);
    uint8_t req[STUN_HEADER_LEN];
    struct stun_writer w;
    stun_writer_start(&w, req, sizeof(req), stun_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
                      id16);
    size_t req_len = stun_writer_finish(&w);
    for (int t = 0; t < BENCH_CHALLENGE_TRIES; t++) {
        sendto(fd, req, req_len, 0, (const struct sockaddr *)server, addr_len(server));
        size_t n = await_answer(fd, id16, buf, cap);
        if (n > 0)
            return n;
    }
    return 0;
}

int bench_challenge(const struct sockaddr_storage *server, const struct sockaddr_storage *local,
                    unsigned alg, const char *user, const char *password,
                    struct bench_longterm *out, char *err, size_t err_cap)
{
    uint8_t buf[2048];
    int fd = open_socket(local, err, err_cap);
    if (fd < 0)
        return -1;
    size_t n = exchange(fd, server, buf, sizeof(buf));
    close(fd);
    if (n == 0) {
        snprintf(err, err_cap, "no answer to a Binding Request in %d ms",
                 BENCH_CHALLENGE_TRIES * BENCH_CHALLENGE_WAIT_MS);
        return -1;
    }
    struct stun_msg m;
    if (stun_msg_parse(&m, buf, n) == STUN_OK &&
        m.type == stun_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS)) {
        snprintf(err, err_cap,
                 "answered without a 401 challenge (stunringd: --auth required "
                 "--realm R --users FILE)");
        return -1;
    }
    const char *why = NULL;
    if (bench_longterm_init(out, buf, n, alg, user, strlen(user), password, strlen(password),
                            &why) < 0) {
        snprintf(err, err_cap, "%s", why);
        return -1;
    }
    return 0;
}
