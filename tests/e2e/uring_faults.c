/*
 * Runs a command whose io_uring_enter calls fail on cue, the way a kernel
 * short of memory makes them fail:
 *   stunring-uring-faults SKIP COUNT ERRNO COMMAND [ARGS...]
 * The first SKIP io_uring_enter calls of the command (all its threads
 * together) run normally, the next COUNT return -ERRNO, the rest run
 * normally. The command keeps this process's PID (a test stops it by
 * PID); a child supervises it through a seccomp user-notification
 * listener and dies with it. tests/e2e/test_faults.py uses it.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH AUDIT_ARCH_AARCH64
#else
#error "stunring-uring-faults: add this architecture's AUDIT_ARCH"
#endif

/* io_uring_enter goes to the listener; everything else runs. */
static int install_filter(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                        &prog);
}

static int send_fd(int sock, int fd)
{
    char byte = 0, room[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = room, .msg_controllen = sizeof(room)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
    char byte, room[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = room, .msg_controllen = sizeof(room)};
    if (recvmsg(sock, &msg, 0) != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    int fd = -1;
    if (c != NULL && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

/* Answers each intercepted call until the command is gone. */
static void supervise(int listener, long skip, long count, int err)
{
    struct seccomp_notif_sizes sizes;
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        _exit(1);
    struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
    struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
    if (req == NULL || resp == NULL)
        _exit(1);
    for (long calls = 0;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 1000) < 0 && errno != EINTR)
            break;
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
            break; /* every filtered task has exited */
        if (!(p.revents & POLLIN))
            continue;
        memset(req, 0, sizes.seccomp_notif);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
            continue; /* the caller went away, or a signal */
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        calls++;
        if (calls > skip && calls <= skip + count)
            resp->error = -err;
        else
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: it went away */
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s SKIP COUNT ERRNO COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    long skip = strtol(argv[1], NULL, 10), count = strtol(argv[2], NULL, 10);
    int err = (int)strtol(argv[3], NULL, 10);
    int pair[2];
    if (skip < 0 || count < 0 || err <= 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0) {
        fprintf(stderr, "%s: bad arguments or no socketpair\n", argv[0]);
        return 2;
    }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        close(pair[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the command */
        if (getppid() != parent)
            _exit(0);
        int listener = recv_fd(pair[1]);
        if (listener < 0)
            _exit(1);
        supervise(listener, skip, count, err);
    }
    close(pair[1]);
    int listener = install_filter();
    if (listener < 0 || send_fd(pair[0], listener) < 0) {
        perror("seccomp user notification");
        return 1;
    }
    close(listener);
    close(pair[0]);
    execvp(argv[4], argv + 4);
    perror(argv[4]);
    return 127;
}
