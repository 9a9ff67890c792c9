#!/usr/bin/env python3
"""The daemon as an operator meets it: flags, start-up failures, the io_uring
fallback, and no allocation on the packet path.

    python3 tests/e2e/test_daemon.py --stunringd build/tools/stunringd --backend uring \
        --flood build/tests/e2e/stunring-flood --no-uring build/tests/e2e/stunring-no-uring \
        [--heap]

--heap (builds that link jemalloc, i.e. not the sanitizer builds): a million
closed-loop requests must leave jemalloc's allocation count where it was.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

MILLION = 1_000_000


def run(cmd, timeout=20):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def check_flags(c, exe):
    code, out = run([exe, "--help"])
    c.eq("--help exits 0", code, 0)
    for flag in ("--listen", "--alt-address", "--port", "--alt-port", "--workers", "--cpus",
                 "--backend", "--batch", "--ring-entries", "--rcvbuf", "--sndbuf", "--software",
                 "--log-level", "--print-config", "--version"):
        c.check(f"--help documents {flag}", flag in out, out[:300])
    c.check("--help prints the default port from the code", "(default: 3478)" in out, out[:300])
    code, out = run([exe, "--version"])
    c.check("--version", code == 0 and out.startswith("stunringd "), out)
    code, out = run([exe, "--print-config", "--listen", "127.0.0.1", "--port", "4000"])
    c.check("--print-config shows the effective values",
            code == 0 and "listen 127.0.0.1:4000" in out and "port 4000" in out, out)
    bad = [
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--workers", "many"], "--workers"),
        (["--backend", "epoll"], "--backend"),
        (["--ring-entries", "1000"], "--ring-entries"),
        (["--listen", "not-an-ip"], "--listen"),
        (["--alt-address", "127.0.0.2"], "--alt-address"),  # wildcard --listen
        (["--listen", "127.0.0.1", "--alt-address", "::1"], "--alt-address"),
        (["--log-level", "loud"], "--log-level"),
        (["--cpus", "9999"], "--cpus"),
        (["--bogus"], "--bogus"),
        (["--port"], "--port"),
        (["stray"], "stray"),
    ]
    for args, name in bad:
        code, out = run([exe] + args)
        c.check(f"bad {' '.join(args)}: exit 2 naming {name}", code == 2 and name in out,
                f"exit {code}: {out.strip()}")


def check_port_taken(c, exe):
    """A taken port is one clear line and exit 1, never a half-started server."""
    holder = sl.udp_socket("127.0.0.1", 0)
    port = holder.getsockname()[1]
    try:
        code, out = run([exe, "--listen", "127.0.0.1", "--port", str(port), "--no-tcp"])
    finally:
        holder.close()
    c.eq("port taken: exit 1", code, 1)
    c.check("port taken: the message names the address and the reason",
            f"cannot bind udp 127.0.0.1:{port}: Address already in use" in out, out)
    c.check("port taken: never said ready", "ready:" not in out, out)


class SeccompServer(sl.Server):
    """stunringd started under stunring-no-uring (io_uring_setup -> EPERM)."""

    def __init__(self, no_uring, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.no_uring = no_uring

    def command(self):
        return [self.no_uring] + super().command()


def check_fallback(c, exe, no_uring, backend):
    """Where io_uring_setup is blocked (Docker's default seccomp), auto -> mmsg."""
    srv = SeccompServer(no_uring, exe, "auto", alt=(), name="seccomp").start()
    log = srv.log()
    c.check("blocked io_uring: one line says why and names the fallback",
            "io_uring unavailable (Operation not permitted): using the mmsg backend" in log, log)
    c.check("blocked io_uring: serving with the mmsg backend", "backend mmsg" in log, log)
    sock = sl.udp_socket()
    msg, tid = sl.build()
    ans, _ = sl.transact(sock, msg, tid, srv.primary)
    c.check("blocked io_uring: answers", ans is not None and ans.type == sl.BINDING_SUCCESS)
    sock.close()
    sl.stop_and_check(c, srv)
    if backend == "uring":
        code, out = run([no_uring, exe, "--listen", "127.0.0.1", "--port", "1", "--backend",
                         "uring"])
        c.check("blocked io_uring: --backend uring refuses to start (exit 1, says why)",
                code == 1 and "--backend uring: io_uring unavailable" in out,
                f"exit {code}: {out}")


def check_tcp_trickle(c, exe, backend):
    """A client trickling a header byte by byte loses its slot at the idle
    deadline; one sending whole requests keeps it."""
    srv = sl.Server(exe, backend, alt=(), name="trickle", extra=["--tcp-idle-ms", "500"]).start()
    msg, _ = sl.build()
    slow = socket.create_connection(srv.primary, timeout=2)
    steady = socket.create_connection(srv.primary, timeout=2)
    closed_after = None
    t0 = time.monotonic()
    for i in range(len(msg)):  # 20 bytes, 150 ms apart: 3 s if never closed
        try:
            slow.send(msg[i:i + 1])
        except OSError:
            closed_after = time.monotonic() - t0
            break
        whole, tid = sl.build()
        steady.sendall(whole)
        answer = sl.recv_stream_message(steady, timeout=2.0)
        if answer is None or answer.tid != tid:
            c.fail("trickle: a client sending whole requests is still answered", f"round {i}")
            break
        slow.settimeout(0.15)
        try:
            if slow.recv(1) == b"":
                closed_after = time.monotonic() - t0
                break
        except socket.timeout:
            pass
        except OSError:
            closed_after = time.monotonic() - t0
            break
    c.check("trickle: a header sent one byte per 150 ms is cut off at the 500 ms deadline",
            closed_after is not None and closed_after < 2.0,
            f"still open after {time.monotonic() - t0:.1f}s")
    slow.close()
    steady.close()
    sl.stop_and_check(c, srv)


def check_no_allocation(c, exe, flood, backend):
    # Without thread caches jemalloc counts every allocation, not cache refills.
    srv = sl.Server(exe, backend, alt=(), tcp=False, name="heap", extra=sl.UNCAPPED,
                    env={"MALLOC_CONF": "tcache:false"}).start()
    before = srv.stats()
    code, out = run([flood, "127.0.0.1", str(srv.primary[1]), str(MILLION)], timeout=180)
    after = srv.stats()
    print(f"# flood: {out.strip()}")
    fields = dict(zip(out.split()[0::2], out.split()[1::2]))
    answered = int(fields.get("answered", 0))
    c.eq("a million requests sent", code, 0, out)
    c.eq("no invalid answer", fields.get("invalid"), "0", out)
    c.eq("every request either answered or counted as a kernel drop",
         answered + after.delta(before, "rx_kernel_drops"), MILLION, out)
    c.eq("server counted every answer it gave", after.delta(before, "answered_success"),
         answered)
    c.eq("heap_mallocs did not move across a million requests",
         after.delta(before, "heap_mallocs"), 0,
         f"before {before['heap_mallocs']}, after {after['heap_mallocs']}")
    sl.stop_and_check(c, srv)


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--backend", required=True, choices=("uring", "mmsg"))
    ap.add_argument("--flood", required=True)
    ap.add_argument("--no-uring", required=True)
    ap.add_argument("--heap", action="store_true")
    a = ap.parse_args()
    c = sl.Checks(f"daemon ({a.backend})")
    c.run("flags", check_flags, c, a.stunringd)
    c.run("port taken", check_port_taken, c, a.stunringd)
    c.run("io_uring blocked", check_fallback, c, a.stunringd, a.no_uring, a.backend)
    c.run("tcp trickle", check_tcp_trickle, c, a.stunringd, a.backend)
    if a.heap:
        c.run("no allocation per request", check_no_allocation, c, a.stunringd, a.flood,
              a.backend)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
