#!/usr/bin/env python3
"""stunringd's io_uring worker when io_uring_enter fails under it.

A kernel short of memory fails io_uring_enter with ENOMEM; that is the
kernel's passing trouble, not the ring's, and a worker that gave up on it
would leave its SO_REUSEPORT sockets unserved. stunring-uring-faults
(tests/e2e/uring_faults.c) fails chosen io_uring_enter calls of the real
daemon through a seccomp user-notification listener: no test hook in the
server. Checked: the server keeps answering, counts each failure as
ring_enter_errors, says so once, and stops cleanly; an error that means a
broken ring (EBADF) still stops it with exit 1 and a line naming it.
"""

import argparse
import errno
import sys
import time

import stunlib as sl

SKIP = 40  # enter calls left alone: start-up, then the first answers
FAILS = 5  # then this many fail


class FaultyServer(sl.Server):
    """stunringd under stunring-uring-faults SKIP COUNT ERRNO."""

    def __init__(self, faults, skip, count, err, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrapper = [faults, str(skip), str(count), str(err)]

    def command(self):
        return self.wrapper + super().command()


def ask(sock, srv, tries=3):
    msg, tid = sl.build()
    ans, _ = sl.transact(sock, msg, tid, srv.primary, timeout=0.5, tries=tries)
    return ans is not None and ans.type == sl.BINDING_SUCCESS


def check_enomem(c, exe, faults):
    srv = FaultyServer(faults, SKIP, FAILS, errno.ENOMEM, exe, "uring", alt=(), workers=1,
                       tcp=False, name="enomem").start()
    sock = sl.udp_socket()
    answered = 0
    # Each answer costs the worker at least one io_uring_enter, so 200
    # requests (bounded) run well past the SKIP + FAILS calls.
    for _ in range(200):
        if not srv.alive():
            break
        answered += ask(sock, srv)
    sock.close()
    c.check("ENOMEM from io_uring_enter: the server is still running", srv.alive(),
            srv.log()[-2000:])
    c.eq("ENOMEM: every one of 200 requests answered", answered, 200)
    if srv.alive():
        st = srv.stats()
        c.eq("ENOMEM: each failed enter counted as ring_enter_errors",
             st.c.get("ring_enter_errors"), FAILS)
    log = srv.log()
    c.eq("ENOMEM: said once, naming the error and the counter",
         log.count("io_uring_enter: Cannot allocate memory: retrying (counted as "
                   "ring_enter_errors)"), 1, log[-2000:])
    sl.stop_and_check(c, srv)


def check_fatal(c, exe, faults):
    srv = FaultyServer(faults, SKIP, 1, errno.EBADF, exe, "uring", alt=(), workers=1,
                       tcp=False, name="ebadf").start()
    sock = sl.udp_socket()
    for _ in range(200):  # until the bad enter is reached; bounded
        if not srv.alive():
            break
        ask(sock, srv, tries=1)
    sock.close()
    deadline = time.monotonic() + 10
    while srv.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    code = srv.proc.poll()
    log = srv.log()
    c.eq("EBADF from io_uring_enter: the server stops with exit 1", code, 1, log[-2000:])
    c.check("EBADF: the log names the worker and the error",
            "worker 0 (io_uring): Bad file descriptor" in log, log[-2000:])
    srv.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--faults", required=True)
    a = ap.parse_args()
    c = sl.Checks("io_uring_enter faults")
    c.run("transient ENOMEM", check_enomem, c, a.stunringd, a.faults)
    c.run("fatal EBADF", check_fatal, c, a.stunringd, a.faults)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
