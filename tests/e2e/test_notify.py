#!/usr/bin/env python3
"""sd_notify (issue 11, part 2): stunringd under a Type=notify unit.

A Python AF_UNIX datagram socket stands in for systemd's: its name goes in
NOTIFY_SOCKET, as a path and as an abstract '@' address.
- READY=1 arrives once, after the 'ready:' line is logged (every worker
  armed), sent by the main PID (SCM_CREDENTIALS: NotifyAccess=main);
- SIGTERM brings STOPPING=1, then exit 0;
- a NOTIFY_SOCKET nobody listens on costs one warning, not the service.
"""

import os
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

RECV_TIMEOUT = 20.0


class Listener:
    """The service manager's end: collects (text, sender pid, log then)."""

    def __init__(self, address, server_of):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.server_of = server_of  # the Server, once created
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        deadline = time.monotonic() + 120
        while not self.stop and time.monotonic() < deadline:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            log = self.server_of().log()  # what was logged when it arrived
            pid = None
            for level, kind, body in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", body[:12])[0]
            self.got.append((data.decode("utf-8", "replace"), pid, log))

    def wait_for(self, count, timeout=RECV_TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.got[:]

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def life_cycle(c, args, label, env_name, bind_address):
    holder = {}
    listener = Listener(bind_address, lambda: holder["srv"])
    srv = sl.Server(args.stunringd, args.backend, alt=(), env={"NOTIFY_SOCKET": env_name})
    holder["srv"] = srv
    try:
        srv.start()
        got = listener.wait_for(1)
        c.check(f"{label}: READY=1 received", got and got[0][0] == "READY=1", f"got {got}",
                got[0][0] if got else "")
        if got:
            text, pid, log_then = got[0]
            c.check(f"{label}: READY=1 came after the 'ready:' line", "info: ready:" in log_then,
                    f"log when it arrived: {log_then!r}")
            c.eq(f"{label}: sent by the main PID", pid, srv.proc.pid)
        time.sleep(0.2)
        c.eq(f"{label}: nothing else before SIGTERM", len(listener.got), 1)
        code = srv.stop()
        c.eq(f"{label}: SIGTERM -> exit 0", code, 0)
        got = listener.wait_for(2)
        c.check(f"{label}: STOPPING=1 at SIGTERM", len(got) >= 2 and got[1][0] == "STOPPING=1",
                f"got {[g[0] for g in got]}", got[1][0] if len(got) >= 2 else "")
        c.check(f"{label}: no warning about the notify socket", "notify:" not in srv.log(),
                srv.log())
    finally:
        if srv.alive():
            srv.kill()
        listener.close()


def path_socket(c, args):
    d = tempfile.mkdtemp(prefix="stunring-notify-")
    path = os.path.join(d, "notify")
    try:
        life_cycle(c, args, "path", path, path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(d)


def abstract_socket(c, args):
    name = f"stunring-notify-test-{os.getpid()}-{time.monotonic_ns()}"
    life_cycle(c, args, "abstract", "@" + name, "\0" + name)


def nobody_listening(c, args):
    d = tempfile.mkdtemp(prefix="stunring-notify-")
    srv = sl.Server(args.stunringd, args.backend, alt=(),
                    env={"NOTIFY_SOCKET": os.path.join(d, "absent")})
    try:
        srv.start()
        request, tid = sl.build()
        with sl.udp_socket() as s:
            answer, _ = sl.transact(s, request, tid, srv.primary)
        c.check("no listener: it still answers", answer is not None)
        c.eq("no listener: SIGTERM -> exit 0", srv.stop(), 0)
        warnings = [l for l in srv.log().splitlines() if "notify:" in l]
        c.check("no listener: one warning line naming NOTIFY_SOCKET",
                len(warnings) == 1 and "warn:" in warnings[0] and "NOTIFY_SOCKET=" in warnings[0],
                f"{warnings}", warnings[0] if warnings else "")
    finally:
        if srv.alive():
            srv.kill()
        os.rmdir(d)


def main():
    args = sl.parse_args(__doc__)
    c = sl.Checks(f"test_notify ({args.backend}): {args.stunringd}")
    c.run("NOTIFY_SOCKET a path", path_socket, c, args)
    c.run("NOTIFY_SOCKET an abstract address", abstract_socket, c, args)
    c.run("NOTIFY_SOCKET with nobody listening", nobody_listening, c, args)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
