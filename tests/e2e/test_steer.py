#!/usr/bin/env python3
"""--steer (issue 10, part 4): the reuseport program decides which worker
gets a datagram, as SIGUSR1's per-worker rx lines show (2 workers).

- source: one source IP over many source ports lands on one worker, in
  every SO_REUSEPORT group (the primary and the alternate address and
  port); IPv6 from ::1 likewise; 32 source IPs (127.0.0.x, bound client
  sockets) spread over both workers.
- source makes the reflection cap exact: with --rate-burst 20 and
  --rate-limit 1, one client's 60 requests get 20 answers (+ 1 a second
  elapsed), all from its one worker, which enforces the whole budget; the
  old 1/workers split would have answered 10.
- none: one IP's many ports spread over both workers (the kernel's hash).
- cpu with --cpus A,B: the program attaches (its log line), every request
  is answered, and on loopback, where the CPU that receives a datagram is
  the sender's, a client pinned to B is answered by worker 1 only, one
  pinned to A by worker 0 only. Two workers on one CPU: one warning, the
  kernel's hash, everything answered.
- A program the kernel refuses (a seccomp filter makes setsockopt
  SO_ATTACH_REUSEPORT_CBPF fail with EPERM): one warning, the kernel's
  hash (one IP's ports spread over both workers), the cap split 1/2 again.
- --print-config says the mode; a bad value exits 2 naming the flag.
"""

import ctypes
import os
import platform
import selectors
import struct
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

PORTS = 40  # source ports from one IP
SO_ATTACH_REUSEPORT_CBPF = 51
SECCOMP_ARCH = {"x86_64": (0xC000003E, 54), "aarch64": (0xC00000B7, 208)}  # audit arch, setsockopt


def seccomp_exec(argv):
    """Execs argv with setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF)
    failing with EPERM, as a sandbox that forbids BPF would make it."""
    arch, nr = SECCOMP_ARCH[platform.machine()]
    ld, jeq, ret = 0x20, 0x15, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    insns = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, allow),  # other arch: allow
             (ld, 0, 0, 0), (jeq, 0, 5, nr),  # seccomp_data.nr
             (ld, 0, 0, 16 + 8), (jeq, 0, 3, socket.SOL_SOCKET),  # args[1]: level
             (ld, 0, 0, 16 + 16), (jeq, 0, 1, SO_ATTACH_REUSEPORT_CBPF),  # args[2]
             (ret, 0, 0, eperm), (ret, 0, 0, allow)]
    code = b"".join(struct.pack("HBBI", *i) for i in insns)
    buf = ctypes.create_string_buffer(code)
    prog = struct.pack("HxxxxxxQ", len(insns), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.c_char_p(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")
    os.execv(argv[0], argv)


class RefusedServer(sl.Server):
    """stunringd under seccomp_exec (this script, re-run as a wrapper)."""

    def command(self):
        return [sys.executable, os.path.abspath(__file__), "--seccomp-exec"] + super().command()
SOURCES = 32  # source IPs 127.0.0.1 .. 127.0.0.32


def ask(host, dest, tries=3):
    """One Binding Request from a fresh socket bound to (host, any port);
    True when answered."""
    with sl.udp_socket(host) as s:
        msg, tid = sl.build()
        m, _ = sl.transact(s, msg, tid, dest, timeout=1.0, tries=tries)
        return m is not None


def collect(socks, quiet, limit):
    """Datagrams arriving on any of socks until none came for quiet seconds
    (or limit seconds in all): how many."""
    got = 0
    deadline = time.monotonic() + limit
    with selectors.DefaultSelector() as sel:
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        while got < 10000:
            left = min(quiet, deadline - time.monotonic())
            ready = sel.select(left) if left > 0 else []
            if not ready:
                return got
            for key, _ in ready:
                key.fileobj.recvfrom(65536)
                got += 1
    return got


def rx_delta(before, after, workers=2):
    return [after.workers.get(w, (0, 0))[0] - before.workers.get(w, (0, 0))[0]
            for w in range(workers)]


class Steer:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args

    def server(self, steer, extra=(), **kw):
        return sl.Server(self.args.stunringd, self.args.backend, workers=2,
                         extra=["--steer", steer] + list(extra), tcp=False,
                         name=f"steer-{steer}", **kw).start()

    def many_ports(self, srv, host, dest, label):
        """PORTS requests from host, each from a new port: rx per worker."""
        before = srv.stats()
        answered = sum(ask(host, dest) for _ in range(PORTS))
        self.c.eq(f"{label}: every request from {host} answered", answered, PORTS)
        return rx_delta(before, srv.stats())

    def source(self):
        c = self.c
        srv = self.server("source", listen=("127.0.0.1", "::1"), alt=("127.0.0.2",))
        try:
            c.check("source: the program is attached (its log line)",
                    "steer source: each client" in srv.log(), srv.log()[-600:])
            c.check("source: the reflection cap is whole on each worker (its log line)",
                    "all of it on each client's worker" in srv.log(), srv.log()[-600:])
            chosen = None
            for ep in ("A1P1", "A2P2", "A1P2"):
                rx = self.many_ports(srv, "127.0.0.1", srv.ep(ep), f"source {ep}")
                one = [w for w in range(2) if rx[w] > 0]
                c.check(f"source {ep}: {PORTS} ports of 127.0.0.1 all reach one worker", len(one)
                        == 1 and rx[one[0]] >= PORTS, f"rx per worker {rx}", f"rx {rx}")
                if len(one) == 1:
                    c.check(f"source {ep}: the same worker as in every group", chosen in (
                        None, one[0]), f"worker {one[0]}, before {chosen}")
                    chosen = one[0]
            rx = self.many_ports(srv, "::1", srv.ep("A1P1", socket.AF_INET6), "source ::1")
            c.check(f"source ::1: {PORTS} ports of ::1 all reach one worker",
                    sorted(rx)[0] == 0 and max(rx) >= PORTS, f"rx per worker {rx}", f"rx {rx}")
            before = srv.stats()
            hosts = [f"127.0.0.{i}" for i in range(1, SOURCES + 1)]
            answered = sum(ask(h, srv.primary) for h in hosts)
            c.eq(f"source: {SOURCES} source IPs all answered", answered, SOURCES)
            rx = rx_delta(before, srv.stats())
            c.check(f"source: {SOURCES} source IPs spread over both workers", min(rx) > 0,
                    f"rx per worker {rx}", f"rx {rx}")
        finally:
            sl.stop_and_check(c, srv)

    def exact_cap(self):
        """60 requests sent at once from 60 ports of one IP, then answers
        drained: the whole burst of 20 is answered by one worker."""
        c = self.c
        srv = self.server("source", extra=["--rate-limit", "1", "--rate-burst", "20"], alt=())
        socks = []
        try:
            before = srv.stats()
            t0 = time.monotonic()
            for _ in range(60):
                s = sl.udp_socket("127.0.0.1")
                socks.append(s)
                s.sendto(sl.build()[0], srv.primary)
            answered = collect(socks, quiet=0.5, limit=5.0)
            elapsed = time.monotonic() - t0
            st = srv.stats_until(lambda st: sum(rx_delta(before, st)) >= 60)
            rx = rx_delta(before, st)
            c.check("exact cap: 60 requests of one IP reached one worker", min(rx) == 0 and
                    max(rx) == 60, f"rx per worker {rx}", f"rx {rx}")
            top = 20 + int(elapsed) + 1
            c.check(f"exact cap: the whole burst answered, 20 .. {top} of 60 (the 1/2 split "
                    "would answer about 10)", 20 <= answered <= top, f"answered {answered}",
                    f"answered {answered}")
            c.eq("exact cap: the rest counted drop_rate_limited",
                 st.delta(before, "drop_rate_limited"), 60 - answered)
        finally:
            for s in socks:
                s.close()
            sl.stop_and_check(c, srv)

    def none(self):
        c = self.c
        srv = self.server("none", alt=())
        try:
            c.check("none: no program attached (no steer log line)",
                    "steer " not in srv.log(), srv.log()[-600:])
            rx = self.many_ports(srv, "127.0.0.1", srv.primary, "none")
            c.check(f"none: {PORTS} ports of 127.0.0.1 spread over both workers", min(rx) > 0,
                    f"rx per worker {rx}", f"rx {rx}")
        finally:
            sl.stop_and_check(c, srv)

    def cpu(self):
        c = self.c
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            c.fail("cpu: needs 2 CPUs to pin 2 workers", f"this process may use {allowed}")
            return
        a, b = allowed[0], allowed[1]
        srv = self.server("cpu", extra=["--cpus", f"{a},{b}"], alt=())
        try:
            c.check("cpu: the program is attached (its log line)",
                    "steer cpu: each datagram" in srv.log(), srv.log()[-600:])
            for cpu, worker in ((b, 1), (a, 0)):
                os.sched_setaffinity(0, {cpu})
                try:
                    rx = self.many_ports(srv, "127.0.0.1", srv.primary, f"cpu, client on {cpu}")
                finally:
                    os.sched_setaffinity(0, set(allowed))
                c.check(f"cpu: a client pinned to CPU {cpu} is received by worker {worker} only",
                        rx[worker] >= PORTS and rx[1 - worker] == 0, f"rx per worker {rx}",
                        f"rx {rx}")
        finally:
            sl.stop_and_check(c, srv)

    def cpu_shared(self):
        c = self.c
        cpu = sorted(os.sched_getaffinity(0))[0]
        srv = self.server("cpu", extra=["--cpus", str(cpu)], alt=())
        try:
            log = srv.log()
            c.check("cpu, two workers on one CPU: one warning, the kernel's hash",
                    log.count("--steer cpu: two workers share a CPU") == 1 and
                    "steer cpu: each datagram" not in log, log[-600:])
            rx = self.many_ports(srv, "127.0.0.1", srv.primary, "cpu shared")
            c.check("cpu, two workers on one CPU: both workers get datagrams", min(rx) > 0,
                    f"rx per worker {rx}", f"rx {rx}")
        finally:
            sl.stop_and_check(c, srv)

    def refused(self):
        c = self.c
        if platform.machine() not in SECCOMP_ARCH:
            c.fail("refused: a seccomp filter for this architecture", platform.machine())
            return
        srv = RefusedServer(self.args.stunringd, self.args.backend, workers=2, alt=(),
                            extra=["--steer", "source"], tcp=False, name="steer-refused").start()
        try:
            log = srv.log()
            c.check("refused: one warning, then the kernel's hash",
                    log.count("--steer source: cannot attach the reuseport program: Operation "
                              "not permitted: using the kernel's hash") == 1 and
                    "steer source: each client" not in log, log[-800:])
            c.check("refused: the reflection cap split 1/2 again (its log line)",
                    "1/2 per worker" in log, log[-800:])
            rx = self.many_ports(srv, "127.0.0.1", srv.primary, "refused")
            c.check(f"refused: {PORTS} ports of 127.0.0.1 spread over both workers", min(rx) > 0,
                    f"rx per worker {rx}", f"rx {rx}")
        finally:
            sl.stop_and_check(c, srv)

    def flags(self):
        c = self.c
        exe = self.args.stunringd
        r = subprocess.run([exe, "--steer", "source", "--print-config"], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        c.check("--print-config says 'steer source'",
                r.returncode == 0 and b"\nsteer source\n" in r.stdout, r.stdout[-300:])
        r = subprocess.run([exe, "--steer", "cpu", "--workers", "2", "--cpus",
                            str(min(os.sched_getaffinity(0))), "--print-config"],
                           capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        c.check("--print-config: cpu with two workers on one CPU says the kernel's hash",
                r.returncode == 0 and b"\nsteer cpu (workers share CPUs: the kernel's hash "
                b"instead)\n" in r.stdout, r.stdout[-300:])
        r = subprocess.run([exe, "--steer", "random"], capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        c.check("--steer random: exit 2 naming the flag",
                r.returncode == 2 and b"--steer" in r.stderr, r.stderr)

    def run(self):
        self.c.run("flags", self.flags)
        self.c.run("source", self.source)
        self.c.run("source: the exact reflection cap", self.exact_cap)
        self.c.run("none", self.none)
        self.c.run("cpu", self.cpu)
        self.c.run("cpu, workers sharing a CPU", self.cpu_shared)
        self.c.run("a program the kernel refuses", self.refused)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--seccomp-exec":
        seccomp_exec(sys.argv[2:])
    args = sl.parse_args(__doc__)
    checks = sl.Checks(f"test_steer ({args.backend}): {args.stunringd}")
    Steer(checks, args).run()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
