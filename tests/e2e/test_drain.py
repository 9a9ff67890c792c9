#!/usr/bin/env python3
"""Drain and load shedding with ALTERNATE-SERVER (RFC 8489 §10, issue 10 part 2).

    python3 tests/e2e/test_drain.py --stunringd build/tools/stunringd --backend uring \
        [--bench build/bench/stunring-bench]

Two stunringd on loopback (127.0.0.1 and ::1): A names B with one
--alternate-server per family. SIGUSR2 on A
turns drain on: its UDP, TCP and TLS answers are 300 Try Alternate with
ALTERNATE-SERVER naming B (ALTERNATE-DOMAIN over TLS, MESSAGE-INTEGRITY
under the client's credential when it signed, FINGERPRINT when it sent
one), a forged request still gets its 401, RFC 3489 requests are answered
as always, and B answers whoever follows the 300. SIGUSR2 again: normal.
A server with no alternate keeps answering while draining. --shed-above
under a burst answers some 300s and counts them reject_shed. With --bench,
stunring-bench counts A's 300s as redirected and, with --follow-alternate,
gets its answers from B. Wireshark's dissector (tshark -r on the 300s
received, wrapped in a pcap) reads them as well-formed 300s naming B.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

ALTERNATE_SERVER = 0x8023
DOMAIN = "stun-b.example"
WAIT = 3.0  # per try: a retransmission would count a 300 twice


def ipv4_udp(payload, sport, dport):
    """payload in a UDP datagram 127.0.0.1:sport -> 127.0.0.1:dport (UDP
    checksum 0: none, allowed over IPv4), with its IPv4 header."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    lo = socket.inet_aton("127.0.0.1")
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, lo, lo)
    total = sum(struct.unpack("!10H", head))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return head[:10] + struct.pack("!H", ~total & 0xFFFF) + head[12:] + udp


def collect(sock, tids, timeout):
    """The answers to tids (bounded: until each came or timeout passed)."""
    got = {}
    deadline = time.monotonic() + timeout
    for _ in range(100 * len(tids)):
        left = deadline - time.monotonic()
        if len(got) == len(tids) or left <= 0:
            break
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        m = sl.Message(data)
        if m.tid in tids:
            got[m.tid] = m
    return list(got.values())


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--backend", default="uring", choices=("uring", "mmsg", "auto"))
    ap.add_argument("--bench", help="stunring-bench, for the redirected / follow checks")
    return ap.parse_args()


def toggle(srv, want):
    """SIGUSR2 by PID; waits (bounded) for the log line want."""
    before = srv.log().count(want)
    os.kill(srv.proc.pid, signal.SIGUSR2)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if srv.log().count(want) > before:
            return True
        time.sleep(0.01)
    return False


def udp_ask(dest, msg, tid):
    with sl.udp_socket() as s:
        return sl.transact(s, msg, tid, dest, timeout=WAIT)


def stream_ask(conn, msg, tid):
    conn.sendall(msg)
    m = sl.recv_stream_message(conn, 3.0)
    if m is not None and m.tid != tid:
        raise sl.StunError(f"an answer for another transaction: {m.describe()}")
    return m


class Drain:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args

    def check_300(self, label, m, alt, more=()):
        """A Binding Error Response 300 naming alt in ALTERNATE-SERVER."""
        c = self.c
        if not c.check(f"{label}: answered", m is not None, "no answer"):
            return False
        self.seen_300.append((label, m.raw, alt))
        ok = c.eq(f"{label}: Binding Error Response", m.type, sl.BINDING_ERROR, m.describe())
        ok &= c.eq(f"{label}: ERROR-CODE 300", (m.error() or (0,))[0], 300, m.describe())
        got = m.addr(ALTERNATE_SERVER) if m.has(ALTERNATE_SERVER) else None
        ok &= c.eq(f"{label}: ALTERNATE-SERVER names B", got, alt, m.describe())
        for atype in more:
            ok &= c.check(f"{label}: carries {sl.ATTR_NAMES.get(atype, hex(atype))}",
                          m.has(atype), m.describe())
        return ok

    def check_success(self, label, m, src, want_src):
        c = self.c
        if not c.check(f"{label}: answered", m is not None, "no answer"):
            return
        c.eq(f"{label}: Binding Success Response", m.type, sl.BINDING_SUCCESS, m.describe())
        c.eq(f"{label}: from {want_src}", src, want_src)

    def run(self):
        a = b = None
        try:
            both = ("127.0.0.1", "::1")
            self.mport = sl.free_ports([], ["127.0.0.1"], count=1)[0]
            b = sl.Server(self.args.stunringd, self.args.backend, listen=both, alt=(),
                          name="B", extra=["--metrics", f"127.0.0.1:{self.mport}"]).start()
            alt = b.primary
            self.alt6 = b.ep("A1P1", socket.AF_INET6)
            a = sl.Server(self.args.stunringd, self.args.backend, listen=both, alt=(), name="A",
                          tls=True,
                          extra=["--auth", "optional", "--alternate-server",
                                 f"{alt[0]}:{alt[1]}", "--alternate-server",
                                 f"[{self.alt6[0]}]:{self.alt6[1]}",
                                 "--alternate-domain", DOMAIN]).start()
            self.a, self.b, self.alt = a, b, alt
            self.seen_300 = []
            self.c.run("before drain: answered", self.before)
            self.c.run("drain on: 300 naming B on every transport", self.draining)
            self.c.run("tshark reads the 300s as well-formed", self.tshark)
            self.c.run("drain off: answered again", self.after)
            self.c.run("no alternate configured: drain keeps answering", self.no_alternate)
            self.c.run("--shed-above: 300s beyond N a second", self.shedding)
            if self.args.bench:
                self.c.run("stunring-bench: redirected, --follow-alternate", self.bench)
        finally:
            for srv in (a, b):
                if srv is not None:
                    sl.stop_and_check(self.c, srv)

    def before(self):
        msg, tid = sl.build(fingerprint=True)
        m, src = udp_ask(self.a.primary, msg, tid)
        self.check_success("A over UDP", m, src, self.a.primary)
        # A credential minted now signs a request during the drain.
        self.cred = sl.mint(self.a.tls_ep, sl.tls_context(self.a.cert))
        self.c.check("minted a Shared Secret on A", self.cred.username is not None)

    def draining(self):
        c, a = self.c, self.a
        before = a.stats()
        c.check("SIGUSR2: 'drain on: answering 300 with ALTERNATE-SERVER' logged",
                toggle(a, "drain on: answering 300 with ALTERNATE-SERVER"), a.log()[-500:])
        n300 = 0
        msg, tid = sl.build(fingerprint=True)
        m, src = udp_ask(a.primary, msg, tid)
        n300 += self.check_300("UDP", m, self.alt, (sl.FINGERPRINT,))
        c.check("UDP: 300 without MESSAGE-INTEGRITY (unsigned request)",
                m is not None and not m.has(sl.MESSAGE_INTEGRITY))
        c.check("UDP: no ALTERNATE-DOMAIN (not TLS)",
                m is not None and not m.has(sl.ALTERNATE_DOMAIN))
        # IPv6: the alternate of its own family (RFC 8489 §10).
        msg, tid = sl.build(fingerprint=True)
        with sl.udp_socket("::1") as s6:
            m, _ = sl.transact(s6, msg, tid, a.ep("A1P1", socket.AF_INET6), timeout=WAIT)
        n300 += self.check_300("UDP over IPv6", m, self.alt6, (sl.FINGERPRINT,))
        # Signed under the credential: authenticated first, the 300 signed.
        msg, tid = sl.build(attrs=[sl.username(self.cred.username)], key=self.cred.key,
                            fingerprint=True)
        m, _ = udp_ask(a.primary, msg, tid)
        if self.check_300("UDP signed", m, self.alt, (sl.MESSAGE_INTEGRITY, sl.FINGERPRINT)):
            n300 += 1
            c.check("UDP signed: MESSAGE-INTEGRITY verifies under the credential",
                    m.check_integrity(self.cred.key) is None, str(m.check_integrity(self.cred.key)))
        # A forged signature: the 401 comes first, unsigned, no redirect.
        msg, tid = sl.build(attrs=[sl.username(self.cred.username)], key=b"not the password",
                            fingerprint=True)
        m, _ = udp_ask(a.primary, msg, tid)
        c.eq("UDP forged: 401, not 300", m.error()[0] if m is not None and m.error() else None,
             401)
        # RFC 3489 has no 300: answered as always (README "Drain").
        msg, tid = sl.build(classic=True)
        m, src = udp_ask(a.primary, msg, tid)
        self.check_success("UDP classic", m, src, a.primary)
        # TCP and TLS.
        with socket.create_connection(a.primary, timeout=3.0) as conn:
            msg, tid = sl.build(fingerprint=True)
            m = stream_ask(conn, msg, tid)
            n300 += self.check_300("TCP", m, self.alt, (sl.FINGERPRINT,))
            c.check("TCP: no ALTERNATE-DOMAIN", m is not None and not m.has(sl.ALTERNATE_DOMAIN))
        with sl.tls_connect(a.tls_ep, sl.tls_context(a.cert)) as conn:
            msg, tid = sl.build()
            m = stream_ask(conn, msg, tid)
            if self.check_300("TLS", m, self.alt, (sl.ALTERNATE_DOMAIN,)):
                n300 += 1
                c.eq("TLS: ALTERNATE-DOMAIN is --alternate-domain",
                     m.get(sl.ALTERNATE_DOMAIN).decode(), DOMAIN)
            # A modern Shared Secret Request is redirected too, nothing minted.
            msg, tid = sl.build(sl.SHARED_SECRET_REQUEST)
            m = stream_ask(conn, msg, tid)
            ok = c.eq("TLS Shared Secret (modern): Shared Secret Error Response",
                      m.type if m else None, sl.SHARED_SECRET_ERROR)
            ok &= c.eq("TLS Shared Secret (modern): 300",
                       m.error()[0] if m is not None and m.error() else None, 300)
            n300 += ok
            sl.tls_close(conn)
        # Following the 300: B answers, naming the client.
        with sl.udp_socket() as s:
            msg, tid = sl.build()
            m, src = sl.transact(s, msg, tid, self.alt, timeout=WAIT)
            self.check_success("following the 300 to B", m, src, self.alt)
            if m is not None:
                c.eq("B's XOR-MAPPED-ADDRESS names the client", m.xor_addr(),
                     sl.norm(s.getsockname()))
        after = a.stats()
        c.eq("A counted reject_draining for each 300", after.delta(before, "reject_draining"),
             n300)
        c.eq("A counted error_300 for each 300", after.delta(before, "error_300"), n300)
        c.eq("A counted nothing as reject_shed", after.delta(before, "reject_shed"), 0)

    def tshark(self):
        """The 300s received, each in a UDP datagram from B's port in a pcap
        (LINKTYPE_IPV4), dissected by tshark as STUN: no capture, no root."""
        c = self.c
        if not c.check("tshark in PATH (tools/dev setup installs it)",
                       shutil.which("tshark") is not None):
            return
        if not c.check("300s collected for tshark", len(self.seen_300) >= 3, str(self.seen_300)):
            return
        port = self.a.p1
        path = os.path.join(self.a.logdir, "drain-300.pcap")
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
            for _, raw, _ in self.seen_300:
                pkt = ipv4_udp(raw, port, 40000)
                f.write(struct.pack("<IIII", 0, 0, len(pkt), len(pkt)) + pkt)
        fields = ["stun.type", "stun.att.error.class", "stun.att.error", "stun.att.ipv4",
                  "stun.att.ipv6", "stun.att.port", "_ws.malformed", "_ws.expert.severity"]
        argv = ["tshark", "-r", path, "-d", f"udp.port=={port},stun", "-T", "fields",
                "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
        for fld in fields:
            argv += ["-e", fld]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        if not c.eq("tshark -r: exit 0", p.returncode, 0, p.stderr):
            return
        rows = [dict(zip(fields, line.split("\t") + [""] * len(fields)))
                for line in p.stdout.splitlines()]
        c.eq("tshark: one frame per 300", len(rows), len(self.seen_300))
        for (label, _, alt), row in zip(self.seen_300, rows):
            code = row["stun.att.error.class"] + row["stun.att.error"].rjust(2, "0")
            c.check(f"tshark: {label}: an error response of code 300",
                    row["stun.type"] in ("0x0111", "0x0112") and code == "300", str(row))
            ip = row["stun.att.ipv6" if ":" in alt[0] else "stun.att.ipv4"]
            c.check(f"tshark: {label}: ALTERNATE-SERVER dissected as B",
                    ip == alt[0] and str(alt[1]) in row["stun.att.port"].split("|"), str(row))
            warned = [s for s in row["_ws.expert.severity"].split("|")
                      if s and (int(s, 0) if s[0].isdigit() else 0x00600000) >= 0x00600000]
            c.check(f"tshark: {label}: not malformed, no expert warning",
                    not row["_ws.malformed"] and not warned, str(row))

    def after(self):
        a = self.a
        self.c.check("SIGUSR2 again: 'drain off' logged", toggle(a, "drain off"), a.log()[-500:])
        msg, tid = sl.build(fingerprint=True)
        m, src = udp_ask(a.primary, msg, tid)
        self.check_success("A over UDP after drain", m, src, a.primary)
        with socket.create_connection(a.primary, timeout=3.0) as conn:
            msg, tid = sl.build()
            m = stream_ask(conn, msg, tid)
            self.c.eq("A over TCP after drain: success", m.type if m else None,
                      sl.BINDING_SUCCESS)

    def healthz(self):
        """The status of B's GET /healthz (--metrics)."""
        with socket.create_connection(("127.0.0.1", self.mport), timeout=5.0) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.settimeout(5.0)
            head = s.recv(4096).split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) > 1 else None

    def no_alternate(self):
        b = self.b
        self.c.eq("B: /healthz 200 before the drain", self.healthz(), 200)
        self.c.check("B: SIGUSR2 logs drain on", toggle(b, "drain on:"), b.log()[-500:])
        self.c.eq("B draining: /healthz 503 (a load balancer takes it out)", self.healthz(), 503)
        self.c.check("B: the line says there is no alternate",
                     "ALTERNATE-SERVER none (IPv4), none (IPv6)" in b.log(), b.log()[-500:])
        msg, tid = sl.build()
        m, src = udp_ask(b.primary, msg, tid)
        self.check_success("B draining with no alternate: UDP", m, src, b.primary)
        self.c.check("B: SIGUSR2 logs drain off", toggle(b, "drain off"), b.log()[-500:])
        self.c.eq("B: /healthz 200 again after the drain", self.healthz(), 200)

    def shedding(self):
        c = self.c
        shed = sl.Server(self.args.stunringd, self.args.backend, alt=(), name="shed", workers=1,
                         tcp=False, extra=["--shed-above", "5", "--alternate-server",
                                           f"{self.alt[0]}:{self.alt[1]}"]).start()
        try:
            before = shed.stats()
            burst = 200
            with sl.udp_socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                tids = set()
                for _ in range(burst):
                    msg, tid = sl.build()
                    tids.add(tid)
                    s.sendto(msg, shed.primary)
                got = collect(s, tids, 5.0)
            n300 = sum(1 for m in got if m.error() is not None and m.error()[0] == 300
                       and m.addr(ALTERNATE_SERVER) == self.alt)
            ok = sum(1 for m in got if m.type == sl.BINDING_SUCCESS)
            c.check(f"{burst} requests in a burst: some answered 300 naming B", n300 > 0,
                    f"{ok} successes, {n300} 300s of {len(got)} answers")
            c.check("and some answered (the first 5 of each second)", ok >= 5,
                    f"{ok} successes")
            c.eq("every answer is a success or a 300", ok + n300, len(got))
            after = shed.stats()
            c.eq("reject_shed counts the 300s", after.delta(before, "reject_shed"), n300)
            c.eq("reject_draining stays 0", after.delta(before, "reject_draining"), 0)
        finally:
            sl.stop_and_check(c, shed)

    def run_bench(self, target, extra):
        cmd = [self.args.bench, "--server", f"{target[0]}:{target[1]}", "--duration", "1",
               "--warmup", "0", "--threads", "1", "--sockets", "2", "--window", "4",
               "--mix", "binding"] + extra
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        print("# " + " ".join(cmd))
        for line in (p.stdout + p.stderr).splitlines():
            print(f"#   | {line}")
        return p.returncode, p.stdout + p.stderr

    @staticmethod
    def figure(text, name):
        for line in text.splitlines():
            words = line.replace(":", " ").split()
            if name in words:
                i = words.index(name)
                if i + 1 < len(words) and words[i + 1].isdigit():
                    return int(words[i + 1])
        return None

    def bench(self):
        c, a, b = self.c, self.a, self.b
        c.check("SIGUSR2: drain on", toggle(a, "drain on:"))
        try:
            code, out = self.run_bench(a.primary, [])
            redirected = self.figure(out, "redirected")
            c.check("bench: A's 300s counted redirected", (redirected or 0) > 0, out[-800:])
            c.eq("bench: none invalid", self.figure(out, "invalid"), 0)
            b_before = b.stats()
            code, out = self.run_bench(a.primary, ["--follow-alternate"])
            c.eq("bench --follow-alternate: exit 0", code, 0, out[-800:])
            followed = self.figure(out, "followed")
            c.check("bench --follow-alternate: answers got from B", (followed or 0) > 0,
                    out[-800:])
            c.eq("bench --follow-alternate: none invalid", self.figure(out, "invalid"), 0)
            b_after = b.stats()
            c.check("B answered them", b_after.delta(b_before, "ok") >= (followed or 1),
                    f"B ok +{b_after.delta(b_before, 'ok')}, followed {followed}")
        finally:
            c.check("SIGUSR2: drain off", toggle(a, "drain off"))


def main():
    return sl.run_suite(Drain, "test_drain", parse_args())


if __name__ == "__main__":
    sys.exit(main())
