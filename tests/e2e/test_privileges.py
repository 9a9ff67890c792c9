#!/usr/bin/env python3
"""--user: the privilege drop once start-up succeeded (issue 10, part 3).

- stunringd --user nobody (Debian: user nobody, group nogroup, 65534):
  every thread of the process (/proc/PID/task/*/status) has uid and gid
  65534 as its real, effective, saved and filesystem ids and empty
  inheritable, permitted, effective and ambient capability sets; the drop
  is logged before the ready line; UDP, TCP and TLS still answer.
- SIGHUP as nobody: a new certificate nobody can read is swapped in (the
  served certificate compared by DER); one made unreadable (root's, 0600)
  is refused with one log line naming the permission problem, counted in
  tls_reload_failures, and the last good certificate keeps being served.
- Bad values exit 2 naming them, before anything is bound (a port held by
  this script does not turn them into exit 1): an unknown user, an unknown
  group, an empty name; --user while not root is one clear error.
- A drop that does not take (SECBIT_NO_SETUID_FIXUP keeps the capabilities
  across setuid) is refused: exit 1, one error line, never ready.

Needs root (it switches users), as the rest of the suite does.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

NOBODY = 65534  # Debian's nobody and nogroup
CAPS = ("CapInh", "CapPrm", "CapEff", "CapAmb")


def thread_status(pid):
    """{tid: {field: value}} of every thread of pid, from /proc."""
    out = {}
    for tid in sorted(os.listdir(f"/proc/{pid}/task")):
        fields = {}
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    fields[name] = value.strip()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        out[tid] = fields
    return out


def wrong_ids(fields):
    """What of one thread's status is not nobody without capabilities."""
    bad = []
    for name in ("Uid", "Gid"):
        ids = fields.get(name, "").split()
        if ids != [str(NOBODY)] * 4:
            bad.append(f"{name} {ids}")
    for name in CAPS:
        value = fields.get(name)
        if value is None or int(value, 16) != 0:
            bad.append(f"{name} {value}")
    return bad


def wait_for_line(srv, needle, count_before, timeout=5.0):
    """Waits (bounded) until needle appears more than count_before times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.log().count(needle) > count_before:
            return True
        time.sleep(0.02)
    return False


def served_der(srv):
    conn = sl.tls_connect(srv.tls_ep, sl.tls_context(None))
    try:
        return conn.getpeercert(binary_form=True)
    finally:
        sl.tls_close(conn)


def readable_by_nobody(srv):
    """The log directory (mkdtemp: 0700) searchable, the certificate
    world-readable, the key nobody's own (0600)."""
    os.chmod(srv.logdir, 0o711)
    os.chmod(srv.cert, 0o644)
    os.chown(srv.key, NOBODY, NOBODY)
    os.chmod(srv.key, 0o600)


class Privileges:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args

    def run_daemon(self, argv, as_nobody=False, wrapper=(), timeout=15):
        """stunringd with argv to its end: (exit code, its output)."""
        def become_nobody():
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        r = subprocess.run(list(wrapper) + [self.args.stunringd] + argv,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           preexec_fn=become_nobody if as_nobody else None)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    # ------------------------------------------------------------ as nobody

    def running(self):
        c = self.c
        srv = sl.Server(self.args.stunringd, self.args.backend, workers=2, tls=True,
                        extra=["--user", "nobody"], name="nobody")
        readable_by_nobody(srv)
        srv.start()
        try:
            self.ids(srv)
            self.answers(srv)
            self.reloads(srv)
        finally:
            code = srv.stop()
        c.eq("nobody: a clean stop after the drop (exit 0)", code, 0)
        c.eq("nobody: no sanitizer report", srv.sanitizer_reports(), [])

    def ids(self, srv):
        c = self.c
        log = srv.log()
        said = log.find("running as user nobody (65534), group nogroup (65534), no capabilities")
        c.check("the drop is logged, before the ready line", 0 <= said < log.find("ready:"),
                log[:600])
        threads = thread_status(srv.proc.pid)
        # main, the front thread (TCP and TLS), the workers; io_uring may add its own
        c.check(f"/proc lists at least main + front + {srv.workers} workers",
                len(threads) >= srv.workers + 2, f"{len(threads)} threads: {list(threads)}",
                f"{len(threads)} threads")
        for tid, fields in threads.items():
            c.eq(f"thread {tid} ({fields.get('Name')}): uid and gid 65534 (real, effective, "
                 f"saved, fs), no capability (inheritable, permitted, effective, ambient)",
                 wrong_ids(fields), [])
        groups = threads[str(srv.proc.pid)].get("Groups", "").split()
        c.check("supplementary groups: none of root's (0 not among them)", "0" not in groups,
                f"Groups: {groups}", f"Groups: {groups}")

    def answers(self, srv):
        c = self.c
        with sl.udp_socket() as s:
            msg, tid = sl.build()
            m, _ = sl.transact(s, msg, tid, srv.primary)
            c.check("nobody: UDP Binding answered with XOR-MAPPED-ADDRESS",
                    m is not None and m.type == sl.BINDING_SUCCESS
                    and m.xor_addr() == sl.norm(s.getsockname()),
                    m.describe() if m else "no answer")
        with socket.create_connection(srv.primary, timeout=5) as t:
            msg, tid = sl.build()
            t.sendall(msg)
            m = sl.recv_stream_message(t)
            c.check("nobody: TCP Binding answered", m is not None and m.tid == tid
                    and m.type == sl.BINDING_SUCCESS, m.describe() if m else "no answer")
        cred = sl.mint(srv.tls_ep, sl.tls_context(srv.cert))
        c.check("nobody: TLS Shared Secret minted", cred.username and cred.password)

    def reloads(self, srv):
        c = self.c
        first = served_der(srv)
        c.check("before any SIGHUP: the first certificate is served", first == sl.cert_der(srv.cert))
        # A new certificate nobody can read: reloaded.
        good = srv.new_cert()
        readable_by_nobody(srv)
        before = srv.stats()
        done = srv.log().count("reload: certificate: reloaded")
        srv.reload()
        c.check("SIGHUP as nobody, a readable certificate: 'reload: certificate: reloaded'",
                wait_for_line(srv, "reload: certificate: reloaded", done), srv.log()[-800:])
        after = srv.stats_until(lambda st: st.delta(before, "tls_reloads") >= 1)
        c.eq("SIGHUP as nobody: tls_reloads +1", after.delta(before, "tls_reloads"), 1)
        c.check("SIGHUP as nobody: new connections get the new certificate (DER)",
                served_der(srv) == good and good != first)
        # One made unreadable: root's, 0600. Refused, the last good one kept.
        bad = srv.new_cert()
        os.chmod(srv.cert, 0o600)
        os.chmod(srv.key, 0o600)
        fails = srv.log().count("reload: certificate: failed")
        srv.reload()
        c.check("SIGHUP, an unreadable certificate: the reload fails, logged",
                wait_for_line(srv, "reload: certificate: failed", fails), srv.log()[-800:])
        line = [l for l in srv.log().splitlines() if "reload: certificate: failed" in l][-1:]
        c.check("the line names the file and the permission problem, and keeps the old one",
                bool(line) and srv.cert in line[0] and "Permission denied" in line[0]
                and line[0].endswith("keeping the old one"), f"{line}", line[0] if line else "")
        last = srv.stats_until(lambda st: st.delta(after, "tls_reload_failures") >= 1)
        c.eq("an unreadable certificate: tls_reload_failures +1",
             last.delta(after, "tls_reload_failures"), 1)
        c.eq("an unreadable certificate: tls_reloads unchanged", last.delta(after, "tls_reloads"),
             0)
        served = served_der(srv)
        c.check("an unreadable certificate: the last good one is still served (DER)",
                served == good and served != bad,
                "the unreadable one" if served == bad else "another certificate")
        c.check("the server still runs", srv.alive(), f"exit {srv.proc.poll()}")

    # ------------------------------------------------------------ refusals

    def bad_values(self):
        c = self.c
        held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held.bind(("127.0.0.1", 0))  # the port it would bind: taken, which would be exit 1
        port = held.getsockname()[1]
        base = ["--listen", "127.0.0.1", "--port", str(port), "--alt-port", str(port + 1),
                "--backend", self.args.backend, "--workers", "1", "--no-tcp"]
        try:
            for value, named in (("nosuchuser-stunring", "nosuchuser-stunring"),
                                 ("nobody:nosuchgroup-stunring", "nosuchgroup-stunring"),
                                 ("", "--user"), ("nobody:", "--user"), (":nogroup", "--user")):
                code, out = self.run_daemon(base + ["--user", value])
                c.check(f"--user '{value}': exit 2 naming it, before binding (not 1: port held)",
                        code == 2 and named in out and "--user" in out
                        and len(out.strip().splitlines()) == 1, f"exit {code}: {out.strip()}",
                        out.strip())
        finally:
            held.close()
        code, out = self.run_daemon(["--user", "nobody", "--print-config"])
        c.check("--print-config names the user and group with their ids",
                code == 0 and "user nobody (uid 65534) group nogroup (gid 65534)" in out,
                f"exit {code}: {out[-300:]}")
        code, out = self.run_daemon(["--user", "nobody:root", "--print-config"])
        c.check("--user NAME:GROUP takes the group named",
                code == 0 and "user nobody (uid 65534) group root (gid 0)" in out,
                f"exit {code}: {out[-300:]}")
        code, out = self.run_daemon(["--user", "nobody", "--version"], as_nobody=True)
        c.check("--user while not root: exit 2, one line saying only root can",
                code == 2 and "only root" in out and len(out.strip().splitlines()) == 1,
                f"exit {code}: {out.strip()}", out.strip())

    def drop_not_taken(self):
        """The kernel keeps capabilities across setuid with no_setuid_fixup:
        the check of every thread must see it and stop the start-up."""
        c = self.c
        p1, p2 = sl.free_ports(["127.0.0.1"], ["127.0.0.1"])
        code, out = self.run_daemon(
            ["--listen", "127.0.0.1", "--port", str(p1), "--alt-port", str(p2), "--workers", "2",
             "--backend", self.args.backend, "--user", "nobody"],
            wrapper=["setpriv", "--securebits", "+no_setuid_fixup"])
        errors = [l for l in out.splitlines() if ": error: " in l]
        c.check("a drop that left capabilities: exit 1, one error line naming what stayed",
                code == 1 and len(errors) == 1 and "dropping privileges failed" in errors[0]
                and "Cap" in errors[0], f"exit {code}: {out.strip()}",
                errors[0] if errors else "")
        c.check("... and it never said ready", "ready:" not in out, out.strip())

    def run(self):
        if os.geteuid() != 0:
            self.c.fail("runs as root", "switching users needs root: run the suite as root")
            return
        self.c.run("running as nobody", self.running)
        self.c.run("bad --user values", self.bad_values)
        self.c.run("a drop that did not take", self.drop_not_taken)


def main():
    return sl.run_suite(Privileges, "test_privileges")


if __name__ == "__main__":
    sys.exit(main())
