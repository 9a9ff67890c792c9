#!/usr/bin/env python3
"""stunringd on the wire, checked against RFC 3489, RFC 8489 and RFC 5780.

    python3 tests/e2e/test_protocol.py --stunringd build/tools/stunringd --backend uring

Starts three servers on loopback (ports chosen free), each stopped by PID:
  - dual-address: --listen 127.0.0.1 --alt-address 127.0.0.2 (four UDP
    endpoints, TCP on the primary): classic and modern answers, FINGERPRINT,
    every CHANGE-REQUEST from every endpoint, RESPONSE-PORT, PADDING, the
    error answers (400, 401, 420, 433), silent drops and their counters, TCP;
  - dual-stack: the same plus --listen ::1 (IPv6 answers);
  - single-address: --listen 127.0.0.1 only (CHANGE-REQUEST asking for a
    change -> 420, for none -> answered).
Prints one line per check and "N passed, M failed"; exit 1 on any failure.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

WAIT = 1.0  # seconds to wait for one answer (each try)
QUIET = 0.3  # seconds of silence that count as "no answer"

EP_NAMES = ("A1P1", "A1P2", "A2P1", "A2P2")


def changed(ep, flags):
    """RFC 3489 Table 1: the endpoint an answer leaves from, relative to the
    endpoint the request arrived at: change IP -> the other address, change
    port -> the other port."""
    addr, port = ep[1], ep[3]
    if flags & sl.CHANGE_IP:
        addr = "2" if addr == "1" else "1"
    if flags & sl.CHANGE_PORT:
        port = "2" if port == "1" else "1"
    return f"A{addr}P{port}"


def flag_name(flags):
    return {0: "none", sl.CHANGE_PORT: "port", sl.CHANGE_IP: "ip",
            sl.CHANGE_IP | sl.CHANGE_PORT: "ip+port"}[flags]


class Protocol:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args
        self.srv = None

    # ------------------------------------------------------------ helpers

    def client(self, host="127.0.0.1"):
        s = sl.udp_socket(host)
        self.sockets.append(s)
        return s

    def ask(self, sock, msg, tid, dest, **kw):
        return sl.transact(sock, msg, tid, dest, timeout=kw.pop("timeout", WAIT), **kw)

    # ------------------------------------------------------------ groups

    def classic(self):
        c, srv = self.c, self.srv
        s = self.client()
        me = sl.norm(s.getsockname())
        msg, tid = sl.build(classic=True)
        m, src = self.ask(s, msg, tid, srv.ep("A1P1"))
        if not c.check("classic: answered", m is not None, "no answer"):
            return
        c.eq("classic: Binding Success Response", m.type, sl.BINDING_SUCCESS, m.describe())
        c.eq("classic: 16-byte transaction id echoed", m.raw[4:20], tid)
        c.eq("classic: sent from A1P1", src, srv.ep("A1P1"))
        c.eq("classic: MAPPED-ADDRESS is the client", m.addr(sl.MAPPED_ADDRESS), me)
        c.eq("classic: SOURCE-ADDRESS is A1P1", m.addr(sl.SOURCE_ADDRESS), srv.ep("A1P1"))
        c.eq("classic: CHANGED-ADDRESS is A2P2", m.addr(sl.CHANGED_ADDRESS), srv.ep("A2P2"))
        c.check("classic: no RFC 8489 attributes (XOR-MAPPED-ADDRESS, FINGERPRINT)",
                not m.has(sl.XOR_MAPPED_ADDRESS) and not m.has(sl.FINGERPRINT), m.describe())

    def modern(self):
        c, srv = self.c, self.srv
        s = self.client()
        me = sl.norm(s.getsockname())
        msg, tid = sl.build()
        m, src = self.ask(s, msg, tid, srv.ep("A1P1"))
        if not c.check("modern: answered", m is not None, "no answer"):
            return
        c.eq("modern: Binding Success Response", m.type, sl.BINDING_SUCCESS, m.describe())
        c.check("modern: magic cookie and 12-byte id echoed",
                m.cookie == sl.MAGIC_COOKIE and m.tid == tid)
        c.eq("modern: sent from A1P1", src, srv.ep("A1P1"))
        c.eq("modern: XOR-MAPPED-ADDRESS is the client", m.xor_addr(), me)
        c.eq("modern: OTHER-ADDRESS is A2P2", m.addr(sl.OTHER_ADDRESS), srv.ep("A2P2"))
        c.eq("modern: RESPONSE-ORIGIN is A1P1", m.addr(sl.RESPONSE_ORIGIN), srv.ep("A1P1"))
        c.check("modern: no FINGERPRINT when the request had none", not m.has(sl.FINGERPRINT))

        msg, tid = sl.build(fingerprint=True)
        m, src = self.ask(s, msg, tid, srv.ep("A1P1"))
        if c.check("modern+FINGERPRINT: answered", m is not None, "no answer"):
            # sl.Message verified the CRC and that it is the last attribute.
            c.check("modern+FINGERPRINT: answer carries a valid FINGERPRINT, last",
                    m.has(sl.FINGERPRINT) and m.types()[-1] == sl.FINGERPRINT, m.describe())
            c.eq("modern+FINGERPRINT: XOR-MAPPED-ADDRESS is the client", m.xor_addr(), me)

        # An unknown comprehension-optional attribute is ignored (RFC 8489 §15).
        msg, tid = sl.build(attrs=[sl.attr(0x8ABC, b"optional")])
        m, _ = self.ask(s, msg, tid, srv.ep("A1P1"))
        c.check("modern: unknown comprehension-optional attribute 0x8abc ignored",
                m is not None and m.type == sl.BINDING_SUCCESS,
                "no answer" if m is None else m.describe())

    def change_matrix(self):
        """Every CHANGE-REQUEST from every endpoint, both message styles."""
        c, srv = self.c, self.srv
        s = self.client()
        me = sl.norm(s.getsockname())
        for style in ("classic", "modern"):
            classic = style == "classic"
            for arrived in EP_NAMES:
                for flags in (0, sl.CHANGE_PORT, sl.CHANGE_IP, sl.CHANGE_IP | sl.CHANGE_PORT):
                    want_from = srv.ep(changed(arrived, flags))
                    want_other = srv.ep(changed(arrived, sl.CHANGE_IP | sl.CHANGE_PORT))
                    name = (f"{style}: to {arrived} {srv.ep(arrived)[0]}:{srv.ep(arrived)[1]}, "
                            f"change {flag_name(flags)} -> from {changed(arrived, flags)}")
                    msg, tid = sl.build(attrs=[sl.change_request(flags)], classic=classic)
                    m, src = self.ask(s, msg, tid, srv.ep(arrived))
                    if m is None:
                        c.fail(name, "no answer")
                        continue
                    problems = []
                    if m.type != sl.BINDING_SUCCESS:
                        problems.append(f"answer {m.describe()} {m.error()}")
                    if src != want_from:
                        problems.append(f"arrived from {src}, want {want_from}")
                    if classic:
                        got = (m.addr(sl.MAPPED_ADDRESS), m.addr(sl.SOURCE_ADDRESS),
                               m.addr(sl.CHANGED_ADDRESS))
                        names = ("MAPPED-ADDRESS", "SOURCE-ADDRESS", "CHANGED-ADDRESS")
                    else:
                        # RFC 5780 §6.1: MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS.
                        got = (m.xor_addr(), m.addr(sl.RESPONSE_ORIGIN), m.addr(sl.OTHER_ADDRESS),
                               m.addr(sl.MAPPED_ADDRESS))
                        names = ("XOR-MAPPED-ADDRESS", "RESPONSE-ORIGIN", "OTHER-ADDRESS",
                                 "MAPPED-ADDRESS")
                    for n, g, w in zip(names, got, (me, want_from, want_other, me)):
                        if g != w:
                            problems.append(f"{n} {g}, want {w}")
                    c.check(name, not problems, "; ".join(problems))

    def response_port(self):
        c, srv = self.c, self.srv
        s1, s2 = self.client(), self.client()
        me = sl.norm(s1.getsockname())
        port2 = s2.getsockname()[1]
        msg, tid = sl.build(attrs=[sl.response_port(port2)])
        m, src = self.ask(s1, msg, tid, srv.ep("A1P1"), reply_sock=s2)
        if c.check("RESPONSE-PORT: answer arrives on the asked port", m is not None,
                   f"nothing on 127.0.0.1:{port2}"):
            c.eq("RESPONSE-PORT: Binding Success Response", m.type, sl.BINDING_SUCCESS)
            c.eq("RESPONSE-PORT: sent from A1P1", src, srv.ep("A1P1"))
            c.eq("RESPONSE-PORT: XOR-MAPPED-ADDRESS is the requesting socket", m.xor_addr(), me)
        stray = sl.drain(s1, QUIET)
        c.eq("RESPONSE-PORT: nothing on the requesting socket", len(stray), 0)

        # Together with CHANGE-REQUEST (what turnutils_stunclient does).
        msg, tid = sl.build(attrs=[sl.response_port(port2),
                                   sl.change_request(sl.CHANGE_IP | sl.CHANGE_PORT)])
        m, src = self.ask(s1, msg, tid, srv.ep("A1P1"), reply_sock=s2)
        if c.check("RESPONSE-PORT+CHANGE-REQUEST(ip+port): answered on the asked port",
                   m is not None, "no answer"):
            c.eq("RESPONSE-PORT+CHANGE-REQUEST(ip+port): sent from A2P2", src, srv.ep("A2P2"))
            c.eq("RESPONSE-PORT+CHANGE-REQUEST(ip+port): RESPONSE-ORIGIN is A2P2",
                 m.addr(sl.RESPONSE_ORIGIN), srv.ep("A2P2"))
        sl.drain(s1, 0.05)

    def padding(self):
        c, srv = self.c, self.srv
        s = self.client()
        for fp in (False, True):
            label = "PADDING" + ("+FINGERPRINT" if fp else "")
            msg, tid = sl.build(attrs=[sl.padding(400)], fingerprint=fp)
            m, _ = self.ask(s, msg, tid, srv.ep("A1P1"))
            if not c.check(f"{label}: answered", m is not None, "no answer"):
                continue
            c.eq(f"{label}: Binding Success Response", m.type, sl.BINDING_SUCCESS, m.describe())
            pad = m.get(sl.PADDING)
            c.check(f"{label}: answer carries PADDING", pad is not None and len(pad) > 0,
                    m.describe())
            c.check(f"{label}: answer ({len(m.raw)} B) no larger than the request ({len(msg)} B)",
                    len(m.raw) <= len(msg))
            if fp:
                c.check(f"{label}: FINGERPRINT valid and last",
                        m.types()[-1] == sl.FINGERPRINT)

    def padding_and_port(self):
        c, srv = self.c, self.srv
        s1, s2 = self.client(), self.client()
        msg, tid = sl.build(attrs=[sl.padding(64), sl.response_port(s2.getsockname()[1])])
        m, src = self.ask(s1, msg, tid, srv.ep("A1P1"))
        if c.check("PADDING+RESPONSE-PORT: error answer to the source", m is not None,
                   "no answer on the requesting socket"):
            c.eq("PADDING+RESPONSE-PORT: Binding Error Response", m.type, sl.BINDING_ERROR,
                 m.describe())
            c.eq("PADDING+RESPONSE-PORT: ERROR-CODE 400", (m.error() or (None,))[0], 400)
        c.eq("PADDING+RESPONSE-PORT: nothing sent to RESPONSE-PORT", len(sl.drain(s2, QUIET)), 0)

    def response_address(self):
        """RFC 3489 RESPONSE-ADDRESS unauthenticated: refused with 401, and
        nothing goes to the third party."""
        c, srv = self.c, self.srv
        s1, victim = self.client(), self.client()
        vic = victim.getsockname()
        value = struct.pack("!BBH", 0, 1, vic[1]) + socket.inet_aton(vic[0])
        for classic in (True, False):
            label = f"RESPONSE-ADDRESS ({'classic' if classic else 'modern'})"
            msg, tid = sl.build(attrs=[sl.attr(sl.RESPONSE_ADDRESS, value)], classic=classic)
            m, src = self.ask(s1, msg, tid, srv.ep("A1P1"))
            if c.check(f"{label}: refused to the source", m is not None, "no answer"):
                c.check(f"{label}: Binding Error Response 401",
                        m.type == sl.BINDING_ERROR and (m.error() or (None,))[0] == 401,
                        f"{m.describe()} {m.error()}")
        c.eq("RESPONSE-ADDRESS: nothing sent to the third party", len(sl.drain(victim, QUIET)), 0)

    def unknown_attribute(self):
        c, srv = self.c, self.srv
        s = self.client()
        before = srv.stats()
        sent = 0
        for classic in (False, True):
            label = f"unknown 0x7abc+0x7abd ({'classic' if classic else 'modern'})"
            msg, tid = sl.build(attrs=[sl.attr(0x7ABC, b"\1\2\3\4"), sl.attr(0x7ABD, b"")],
                                classic=classic)
            m, _ = self.ask(s, msg, tid, srv.ep("A1P1"), tries=1, timeout=2.0)
            sent += 1
            if not c.check(f"{label}: answered", m is not None, "no answer"):
                continue
            c.eq(f"{label}: Binding Error Response", m.type, sl.BINDING_ERROR, m.describe())
            c.eq(f"{label}: ERROR-CODE 420", (m.error() or (None,))[0], 420)
            c.eq(f"{label}: UNKNOWN-ATTRIBUTES lists both", sorted(m.unknown() or []),
                 [0x7ABC, 0x7ABD])
        after = srv.stats()
        c.eq("counter error_420 counts the 420 answers", after.delta(before, "error_420"), sent)

    def drops(self):
        """What the server must not answer, and counts (RFC 8489 §6.3, §7.3)."""
        c, srv = self.c, self.srv
        s = self.client()
        before = srv.stats()
        ind, _ = sl.build(sl.BINDING_INDICATION)
        s.sendto(ind, srv.ep("A1P1"))
        got = sl.drain(s, QUIET)
        c.eq(f"Binding Indication: no answer within {int(QUIET * 1000)} ms", len(got), 0)
        mid = srv.stats_until(lambda st: st.delta(before, "drop_indication") >= 1)
        c.eq("Binding Indication: drop_indication incremented", mid.delta(before, "drop_indication"),
             1)

        bad_fp, _ = sl.build(fingerprint=True)
        bad_fp = bad_fp[:-1] + bytes([bad_fp[-1] ^ 0xFF])
        resp, _ = sl.build(sl.BINDING_SUCCESS)
        method, _ = sl.build(0x0003)  # Allocate request: a TURN method, not served
        cases = [
            ("zero-length datagram", b"", "drop_short"),
            ("19-byte datagram", os.urandom(19), "drop_short"),
            ("leading bits set (not STUN)", b"\xc0" + os.urandom(27), "drop_not_stun"),
            ("length field lies (says 8, has 4)", sl.build(length=8, attrs=[b"\0\0\0\0"])[0][:24],
             "drop_length"),
            ("bad FINGERPRINT", bad_fp, "drop_bad_fingerprint"),
            ("a response sent to the server", resp, "drop_response"),
            ("unserved method (Allocate)", method, "drop_method"),
        ]
        for name, data, _ in cases:
            s.sendto(data, srv.ep("A1P1"))
        got = sl.drain(s, QUIET)
        c.eq(f"{len(cases)} undeserving datagrams: no answer at all", len(got), 0)
        # Silence says nothing about when they were handled: wait (bounded).
        after = srv.stats_until(lambda st: st.delta(mid, "rx") >= len(cases))
        for reason in sorted({r for _, _, r in cases}):
            want = sum(1 for _, _, r in cases if r == reason)
            names = ", ".join(n for n, _, r in cases if r == reason)
            c.eq(f"counter {reason} +{want} ({names})", after.delta(mid, reason), want)
        c.eq("counter dropped counts each of them", after.delta(mid, "dropped"), len(cases))
        c.eq("counter rx counts each of them", after.delta(mid, "rx"), len(cases))

    def shared_secret(self):
        c, srv = self.c, self.srv
        s = self.client()
        msg, tid = sl.build(sl.SHARED_SECRET_REQUEST, classic=True)
        m, src = self.ask(s, msg, tid, srv.ep("A1P1"))
        if c.check("Shared Secret Request over UDP: answered", m is not None, "no answer"):
            c.eq("Shared Secret Request over UDP: Shared Secret Error Response", m.type,
                 sl.SHARED_SECRET_ERROR, m.describe())
            c.eq("Shared Secret Request over UDP: ERROR-CODE 433", (m.error() or (None,))[0], 433)
            c.eq("Shared Secret Request over UDP: id echoed", m.raw[4:20], tid)
        conn = self.tcp_connect()
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        c.check("Shared Secret Request over TCP: Shared Secret Error Response 433",
                m is not None and m.type == sl.SHARED_SECRET_ERROR
                and (m.error() or (None,))[0] == 433,
                "no answer" if m is None else f"{m.describe()} {m.error()}")

    def tcp_connect(self, host=None, port=None):
        host = host or self.srv.ep("A1P1")[0]
        conn = socket.create_connection((host, port or self.srv.p1), timeout=5)
        self.sockets.append(conn)
        return conn

    def tcp(self):
        c, srv = self.c, self.srv
        conn = self.tcp_connect()
        me = sl.norm(conn.getsockname())
        msg, tid = sl.build(fingerprint=True)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        if c.check("TCP: one request answered", m is not None, "no answer"):
            c.check("TCP: success for our id", m.type == sl.BINDING_SUCCESS and m.tid == tid,
                    m.describe())
            c.eq("TCP: XOR-MAPPED-ADDRESS is the connection's address", m.xor_addr(), me)

        # Three pipelined requests in one send: three answers, in order.
        reqs = [sl.build(fingerprint=(i == 1), classic=(i == 2)) for i in range(3)]
        conn.sendall(b"".join(r[0] for r in reqs))
        answers = [sl.recv_stream_message(conn) for _ in range(3)]
        got = [a.tid if a is not None else None for a in answers]
        c.eq("TCP: 3 pipelined requests in one send -> 3 answers in order",
             [g.hex() if g else None for g in got], [r[1].hex() for r in reqs])
        c.check("TCP: pipelined answers are successes",
                all(a is not None and a.type == sl.BINDING_SUCCESS for a in answers))

        # One request split over two sends.
        msg, tid = sl.build(attrs=[sl.attr(sl.SOFTWARE, b"split test")])
        conn.sendall(msg[:7])
        time.sleep(0.15)
        conn.sendall(msg[7:])
        m = sl.recv_stream_message(conn)
        c.check("TCP: a request split over two sends is answered once whole",
                m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS,
                "no answer" if m is None else m.describe())

        # Garbage closes that connection only.
        before = srv.stats()
        bad = self.tcp_connect()
        bad.sendall(b"GET / HTTP/1.1\r\nHost: stun\r\n\r\n")
        bad.settimeout(3)
        closed, why = False, "still open after 3s"
        try:
            data = bad.recv(100)
            closed, why = data == b"", f"received {data!r}"
        except ConnectionResetError:
            closed, why = True, "reset"
        except socket.timeout:
            pass
        c.check("TCP: garbage closes that connection", closed, why)
        msg, tid = sl.build()
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        c.check("TCP: the other connection still answers after the garbage",
                m is not None and m.tid == tid, "no answer")
        fresh = self.tcp_connect()
        msg, tid = sl.build()
        fresh.sendall(msg)
        m = sl.recv_stream_message(fresh)
        c.check("TCP: a new connection is served after the garbage",
                m is not None and m.tid == tid, "no answer")
        after = srv.stats()
        c.eq("counter tcp_garbage_closed +1", after.delta(before, "tcp_garbage_closed"), 1)

    # ------------------------------------------------------------ IPv6

    def ipv6(self):
        c = self.c
        srv = sl.Server(self.args.stunringd, self.args.backend, listen=("127.0.0.1", "::1"),
                        alt=("127.0.0.2",), name="dual-stack")
        try:
            srv.start()
            v6 = ("::1", srv.p1)
            s = self.client("::1")
            me = sl.norm(s.getsockname())
            msg, tid = sl.build(fingerprint=True)
            m, src = self.ask(s, msg, tid, v6)
            if c.check("IPv6 modern: answered on [::1]", m is not None, "no answer"):
                c.eq("IPv6 modern: sent from [::1]:P1", src, v6)
                c.eq("IPv6 modern: XOR-MAPPED-ADDRESS (family 2) is the client", m.xor_addr(), me)
                c.check("IPv6 modern: FINGERPRINT answered", m.has(sl.FINGERPRINT))
                c.check("IPv6 modern: no OTHER-ADDRESS (no IPv6 alternate address)",
                        not m.has(sl.OTHER_ADDRESS), m.describe())
            msg, tid = sl.build(classic=True)
            m, src = self.ask(s, msg, tid, v6)
            if c.check("IPv6 classic: answered", m is not None, "no answer"):
                c.eq("IPv6 classic: MAPPED-ADDRESS is the client", m.addr(sl.MAPPED_ADDRESS), me)
            msg, tid = sl.build(attrs=[sl.change_request(sl.CHANGE_IP)])
            m, _ = self.ask(s, msg, tid, v6)
            c.check("IPv6 CHANGE-REQUEST without an IPv6 alternate: 420",
                    m is not None and m.type == sl.BINDING_ERROR and
                    (m.error() or (None,))[0] == 420,
                    "no answer" if m is None else f"{m.describe()} {m.error()}")
            conn = self.tcp_connect("::1", srv.p1)
            msg, tid = sl.build()
            conn.sendall(msg)
            m = sl.recv_stream_message(conn)
            c.check("IPv6 TCP: answered with the connection's address",
                    m is not None and m.xor_addr() == sl.norm(conn.getsockname()),
                    "no answer" if m is None else str(m.xor_addr()))
            # The IPv4 side of the same server keeps its alternate address.
            s4 = self.client()
            msg, tid = sl.build()
            m, _ = self.ask(s4, msg, tid, srv.ep("A1P1"))
            c.check("dual-stack: IPv4 answer still carries OTHER-ADDRESS A2P2",
                    m is not None and m.addr(sl.OTHER_ADDRESS) == srv.ep("A2P2"),
                    "no answer" if m is None else m.describe())
        finally:
            sl.stop_and_check(c, srv)

    # ------------------------------------------------------------ single address

    def single_address(self):
        c = self.c
        srv = sl.Server(self.args.stunringd, self.args.backend, listen=("127.0.0.1",), alt=(),
                        name="single-address")
        try:
            srv.start()
            s = self.client()
            me = sl.norm(s.getsockname())
            msg, tid = sl.build()
            m, src = self.ask(s, msg, tid, srv.primary)
            if c.check("single-address: plain modern request answered", m is not None, "none"):
                c.eq("single-address: XOR-MAPPED-ADDRESS", m.xor_addr(), me)
                c.check("single-address: no OTHER-ADDRESS", not m.has(sl.OTHER_ADDRESS),
                        m.describe())
                ro = m.addr(sl.RESPONSE_ORIGIN)
                c.check("single-address: RESPONSE-ORIGIN, if any, is the primary",
                        ro is None or ro == srv.primary, str(ro))
            msg, tid = sl.build(classic=True)
            m, src = self.ask(s, msg, tid, srv.primary)
            c.check("single-address: classic request answered with MAPPED-ADDRESS",
                    m is not None and m.addr(sl.MAPPED_ADDRESS) == me,
                    "no answer" if m is None else m.describe())
            for classic in (False, True):
                # No change asked: a plain Binding (issue 9 item 6; Debian's
                # stun sends it in test I).
                label = (f"single-address: {'classic' if classic else 'modern'} "
                         f"CHANGE-REQUEST none -> answered")
                msg, tid = sl.build(attrs=[sl.change_request(0)], classic=classic)
                m, src = self.ask(s, msg, tid, srv.primary)
                mapped = None if m is None else (m.addr(sl.MAPPED_ADDRESS) if classic
                                                 else m.xor_addr())
                c.check(label, m is not None and m.type == sl.BINDING_SUCCESS and mapped == me
                        and src == srv.primary, "no answer" if m is None else
                        f"{m.describe()} error {m.error()} from {src}")
                for flags in (sl.CHANGE_PORT, sl.CHANGE_IP, sl.CHANGE_IP | sl.CHANGE_PORT):
                    label = (f"single-address: {'classic' if classic else 'modern'} "
                             f"CHANGE-REQUEST {flag_name(flags)} -> 420")
                    msg, tid = sl.build(attrs=[sl.change_request(flags)], classic=classic)
                    m, src = self.ask(s, msg, tid, srv.primary)
                    ok = (m is not None and m.type == sl.BINDING_ERROR
                          and (m.error() or (None,))[0] == 420
                          and sl.CHANGE_REQUEST in (m.unknown() or []) and src == srv.primary)
                    c.check(label, ok, "no answer" if m is None else
                            f"{m.describe()} error {m.error()} unknown {m.unknown()} from {src}")
        finally:
            sl.stop_and_check(c, srv)

    # ------------------------------------------------------------ main

    def run(self):
        c = self.c
        self.sockets = []
        self.srv = sl.Server(self.args.stunringd, self.args.backend, name="dual-address")
        try:
            self.srv.start()
            for name, fn in [("classic (RFC 3489)", self.classic),
                             ("modern (RFC 8489)", self.modern),
                             ("CHANGE-REQUEST from each endpoint", self.change_matrix),
                             ("RESPONSE-PORT", self.response_port),
                             ("PADDING", self.padding),
                             ("PADDING + RESPONSE-PORT", self.padding_and_port),
                             ("RESPONSE-ADDRESS", self.response_address),
                             ("unknown comprehension-required attributes", self.unknown_attribute),
                             ("silent drops and counters", self.drops),
                             ("Shared Secret Request", self.shared_secret),
                             ("TCP", self.tcp)]:
                c.run(name, fn)
            c.check("dual-address: still running after every check", self.srv.alive())
        except sl.ServerError as e:
            c.fail("dual-address: start", str(e))
        finally:
            sl.stop_and_check(c, self.srv)
        c.run("IPv6 (dual-stack server)", self.ipv6)
        c.run("single-address server", self.single_address)
        for s in self.sockets:
            s.close()


def main():
    return sl.run_suite(Protocol, "test_protocol")


if __name__ == "__main__":
    sys.exit(main())
