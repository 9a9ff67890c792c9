#!/usr/bin/env python3
"""stunringd's TLS front, RFC 3489 Shared Secret minting and short-term
authentication, end to end.

    python3 tests/e2e/test_auth.py --stunringd build/tools/stunringd --backend uring

Certificates are made for each run with the openssl command (self-signed
P-256, in each server's temporary directory); clients are Python's ssl
(verifying that certificate) and `openssl s_client`. The client side of the
protocol (Shared Secret Request, MESSAGE-INTEGRITY with RFC 3489's 64-byte
padding or RFC 8489's none, FINGERPRINT) is written from the RFCs in
stunlib.py, independent of the server's C code.

Servers (loopback, ports chosen free, each stopped by PID at the end):
  required  --auth required, TLS, IPv4 + IPv6, fleet key K1: s_client,
            minting, classic/modern authenticated Bindings, every error
            code, 433 over UDP/TCP, RESPONSE-ADDRESS + REFLECTED-FROM;
  fleet-k1 / fleet-k2  --auth required, no TLS, keys K1 / K2: a credential
            minted on `required` validates on fleet-k1, not on fleet-k2;
  optional  --auth optional, TLS, key file (K1, rewritten to K2 before a
            SIGHUP): STUN over TLS, optional auth, unauthenticated
            RESPONSE-ADDRESS, SIGHUP (certificate and key reload);
  ttl       --credential-ttl 2 --max-credentials 4: expiry, a full table;
  slow      --auth none --tls-handshake-ms 1500: MI ignored, 300 half-open
            handshakes and 100 idle connections do not stall a new client;
  cap       --tls-max-conns 50 --tcp-max-conns 5: the caps are separate;
  idle      --tcp-idle-ms 1000: idle TLS and TCP connections are closed.
Prints one line per check and "N passed, M failed"; exit 1 on any failure.
"""

import hashlib
import os
import re
import selectors
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

WAIT = 1.0  # seconds to wait for one answer (each try)
QUIET = 0.3  # seconds of silence that count as "no answer"
TTL = 2  # --credential-ttl of the ttl server
TABLE = 4  # --max-credentials of the ttl server
HANDSHAKE_MS = 1500  # --tls-handshake-ms of the slow server
HALF_OPEN = 300
IDLE_TLS = 100
TLS_CAP = 50
TCP_CAP = 5
IDLE_MS = 1000  # --tcp-idle-ms of the idle server
SMALL_TABLE = 4  # --max-credentials of the fleet-small server
ABRUPT = 20  # TLS clients that send a request and close without reading
MINT_RATE = 1  # --mint-rate of the rate server: bursts of 10
NO_CLIENT_LIMITS = ["--stream-max-per-client", "0", "--tls-handshake-rate", "0"]


def err_code(m):
    e = m.error() if m is not None else None
    return e[0] if e else None


def show(m):
    if m is None:
        return "no answer"
    return f"{m.describe()} error {m.error()}"


def write_key(path, content):
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(path + ".new", path)


class Auth:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args
        self.servers = []
        self.sockets = []

    # ------------------------------------------------------------ helpers

    def server(self, name, extra=(), **kw):
        srv = sl.Server(self.args.stunringd, self.args.backend, name=name, extra=list(extra),
                        **kw)
        self.servers.append(srv)
        srv.start()
        return srv

    def udp(self, host="127.0.0.1"):
        s = sl.udp_socket(host)
        self.sockets.append(s)
        return s

    def keep(self, conn):
        self.sockets.append(conn)
        return conn

    def ask(self, sock, msg, tid, dest, **kw):
        return sl.transact(sock, msg, tid, dest, timeout=kw.pop("timeout", WAIT), **kw)

    def signed(self, cred, classic, attrs=(), key=None, user=None, fingerprint=None):
        """A Binding Request with USERNAME and MESSAGE-INTEGRITY (modern: +FINGERPRINT)."""
        name = cred.username if user is None else user
        return sl.build(classic=classic, attrs=[sl.username(name)] + list(attrs),
                        key=cred.key if key is None else key,
                        fingerprint=(not classic) if fingerprint is None else fingerprint)

    def ctx(self, srv):
        return sl.tls_context(srv.cert)

    def check_error(self, label, m, src, want_code, want_src, classic):
        """An unsigned Binding Error Response with want_code, from want_src."""
        problems = []
        if m is None:
            self.c.fail(label, "no answer")
            return
        if m.type != sl.BINDING_ERROR:
            problems.append(f"type 0x{m.type:04x}")
        if err_code(m) != want_code:
            problems.append(f"ERROR-CODE {m.error()}")
        if m.has(sl.MESSAGE_INTEGRITY):
            problems.append("carries MESSAGE-INTEGRITY")
        if m.classic != classic:
            problems.append("answered in the other style")
        if src != want_src:
            problems.append(f"from {src}, want {want_src}")
        self.c.check(label, not problems, "; ".join(problems) + f" ({m.describe()})",
                     f"{want_code} {m.error()[1]!r}")

    def check_signed_success(self, label, m, cred, me, classic):
        """A Binding Success Response naming me, signed with cred's key by the
        rules of its style (classic: MI last, no FINGERPRINT; modern: MI then
        FINGERPRINT)."""
        c = self.c
        if not c.check(f"{label}: answered", m is not None, "no answer"):
            return False
        ok = c.check(f"{label}: Binding Success Response", m.type == sl.BINDING_SUCCESS, show(m))
        if classic:
            c.eq(f"{label}: MAPPED-ADDRESS is the client", m.addr(sl.MAPPED_ADDRESS), me)
            c.check(f"{label}: MESSAGE-INTEGRITY last, keyed with the password, "
                    "input padded to 64 bytes", m.check_integrity(cred.key) is None,
                    f"{m.check_integrity(cred.key)} ({m.describe()})")
            c.check(f"{label}: no FINGERPRINT in a classic answer", not m.has(sl.FINGERPRINT),
                    m.describe())
        else:
            c.eq(f"{label}: XOR-MAPPED-ADDRESS is the client", m.xor_addr(), me)
            c.check(f"{label}: MESSAGE-INTEGRITY keyed with the password (no padding)",
                    m.check_integrity(cred.key) is None,
                    f"{m.check_integrity(cred.key)} ({m.describe()})")
            # sl.Message verified FINGERPRINT's CRC and that it comes last.
            c.check(f"{label}: FINGERPRINT after MESSAGE-INTEGRITY, valid",
                    m.types()[-2:] == [sl.MESSAGE_INTEGRITY, sl.FINGERPRINT], m.describe())
        return ok

    def stats_delta(self, srv, before, want, timeout=5.0):
        """Counters once every name of want has moved by at least its value
        (bounded); the caller then checks the exact deltas."""
        return srv.stats_until(
            lambda st: all(st.delta(before, k) >= v for k, v in want.items()), timeout)

    def eq_deltas(self, label, srv, before, want):
        after = self.stats_delta(srv, before, want)
        for name, n in want.items():
            self.c.eq(f"{label}: counter {name} +{n}", after.delta(before, name), n)
        return after

    # ------------------------------------------------------------ 1. s_client

    def s_client(self, srv, version, extra=()):
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{srv.ptls}",
               "-servername", "localhost", "-CAfile", srv.cert, "-verify_return_error",
               "-verify_hostname", "localhost", version] + list(extra)
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        except subprocess.TimeoutExpired:
            return None, "", " ".join(cmd)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        return r.returncode, out, " ".join(cmd)

    def openssl_versions(self):
        c, srv = self.c, self.req
        before = srv.stats()
        for version, proto in (("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")):
            rc, out, cmd = self.s_client(srv, version)
            m = re.search(r"New, (\S+), Cipher is (\S+)", out)
            got = (m.group(1), m.group(2)) if m else None
            c.check(f"openssl s_client {version}: handshake completes, certificate verified",
                    rc == 0 and got is not None and got[0] == proto
                    and "Verify return code: 0 (ok)" in out,
                    f"rc {rc}, negotiated {got}: {cmd}\n{out[-1500:]}",
                    f"{got[0]} {got[1]}" if got else "")
        # TLS 1.1: OpenSSL 3 offers it only at security level 0.
        rc, out, cmd = self.s_client(srv, "-tls1_1", ["-cipher", "DEFAULT@SECLEVEL=0"])
        m = re.search(r"New, (\S+), Cipher is (\S+)", out)
        client_cannot = re.search(r"no protocols available|unsupported protocol.*ssl_choose_client"
                                  r"|version too low|no ciphers available", out)
        mid = srv.stats_until(lambda st: st.delta(before, "tls_handshake_failed") >= 1, 3.0)
        server_saw = mid.delta(before, "tls_handshake_failed")
        if rc == 0 and m and m.group(1) != "(NONE)":
            c.fail("openssl s_client -tls1_1: refused", f"negotiated {m.group(1)} {m.group(2)}")
        elif client_cannot and server_saw == 0:
            c.check("openssl s_client -tls1_1: refused", True,
                    shown="NOT TESTED: this openssl cannot offer TLS 1.1 here: "
                          + client_cannot.group(0))
        else:
            alert = re.search(r"alert [a-z ]+|wrong version number|unsupported protocol", out)
            c.check("openssl s_client -tls1_1: refused by the server (handshake fails)",
                    rc not in (0, None) and server_saw == 1,
                    f"rc {rc}, tls_handshake_failed +{server_saw}: {cmd}\n{out[-1500:]}",
                    f"rc {rc}, {alert.group(0) if alert else 'handshake failed'}, "
                    f"tls_handshake_failed +{server_saw}")
        after = srv.stats()
        c.eq("s_client: counter tls_handshakes +2 (1.3 and 1.2)",
             after.delta(before, "tls_handshakes"), 2)

    # ------------------------------------------------------------ 2. STUN over TLS

    def tls_binding(self):
        c, srv = self.c, self.opt
        conn = self.keep(sl.tls_connect(srv.tls_ep, self.ctx(srv)))
        me = sl.norm(conn.getsockname())
        c.check("TLS: certificate verified against the test's own", True,
                shown=f"{conn.version()} {conn.cipher()[0]}")
        msg, tid = sl.build(fingerprint=True)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        if c.check("TLS modern Binding+FINGERPRINT: answered", m is not None, "no answer"):
            c.check("TLS modern Binding: success for our id",
                    m.type == sl.BINDING_SUCCESS and m.tid == tid, show(m))
            c.eq("TLS modern Binding: XOR-MAPPED-ADDRESS is the TCP connection's address",
                 m.xor_addr(), me)
            c.check("TLS modern Binding: FINGERPRINT answered, valid, last",
                    m.types()[-1:] == [sl.FINGERPRINT], m.describe())
            c.check("TLS modern Binding: unsigned (no MESSAGE-INTEGRITY asked)",
                    not m.has(sl.MESSAGE_INTEGRITY), m.describe())
            if m.has(sl.RESPONSE_ORIGIN):
                c.eq("TLS modern Binding: RESPONSE-ORIGIN is the TLS listener",
                     m.addr(sl.RESPONSE_ORIGIN), srv.tls_ep)
        reqs = [sl.build(fingerprint=(i % 3 == 1), classic=(i % 3 == 2)) for i in range(6)]
        conn.sendall(b"".join(r[0] for r in reqs))
        answers = [sl.recv_stream_message(conn) for _ in range(len(reqs))]
        c.eq("TLS: 6 pipelined requests (modern, +FINGERPRINT, classic) in one write -> "
             "6 answers in order",
             [a.tid.hex() if a else None for a in answers], [r[1].hex() for r in reqs])
        c.check("TLS: the pipelined answers are successes naming the connection",
                all(a is not None and a.type == sl.BINDING_SUCCESS and
                    (a.addr(sl.MAPPED_ADDRESS) if a.classic else a.xor_addr()) == me
                    for a in answers), "; ".join(show(a) for a in answers))
        # One request over two TLS records.
        msg, tid = sl.build(classic=True)
        conn.sendall(msg[:9])
        time.sleep(0.1)
        conn.sendall(msg[9:])
        m = sl.recv_stream_message(conn)
        c.check("TLS: a request split over two records is answered",
                m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS, show(m))
        sl.tls_close(conn)

    # ------------------------------------------------------------ 3. mint + authenticate

    def check_credential(self, label, cred, user_len):
        c = self.c
        m = cred.msg
        c.eq(f"{label}: Shared Secret Response carries USERNAME and PASSWORD only",
             sorted(m.types()), sorted([sl.USERNAME, sl.PASSWORD]))
        u, p = cred.username, cred.password
        printable = set(string.printable.encode()) - set(b"\t\n\r\x0b\x0c")
        c.check(f"{label}: USERNAME is {user_len} printable characters",
                len(u) == user_len and all(b in printable for b in u), f"{u!r}", u.decode())
        c.check(f"{label}: PASSWORD is 32 hex characters (128 bits)",
                len(p) == 32 and all(chr(b) in string.hexdigits for b in p), f"{p!r}")

    def mint_and_auth(self):
        c, srv = self.c, self.req
        ctx = self.ctx(srv)
        before = srv.stats()

        # The same TLS connection mints twice, then answers a Binding signed
        # with the second credential.
        conn = self.keep(sl.tls_connect(srv.tls_ep, ctx))
        me_tls = sl.norm(conn.getsockname())
        m1 = sl.shared_secret_over(conn)
        m2 = sl.shared_secret_over(conn)
        ok = c.check("mint: two Shared Secret Requests on one TLS connection answered 0x0102",
                     all(m is not None and m.type == sl.SHARED_SECRET_SUCCESS for m in (m1, m2)),
                     f"{show(m1)}; {show(m2)}")
        if ok:
            a, b = sl.Credential(m1, me_tls), sl.Credential(m2, me_tls)
            self.check_credential("mint (IPv4)", a, 40)
            c.check("mint: each request gets a fresh USERNAME and PASSWORD",
                    a.username != b.username and a.password != b.password)
            msg, tid = self.signed(b, classic=False)
            conn.sendall(msg)
            m = sl.recv_stream_message(conn)
            self.check_signed_success("signed modern Binding over the minting TLS connection",
                                      m, b, me_tls, classic=False)
        sl.tls_close(conn)

        cred = sl.mint(srv.tls_ep, ctx)
        s = self.udp()
        me = sl.norm(s.getsockname())
        msg, tid = self.signed(cred, classic=True)
        m, src = self.ask(s, msg, tid, srv.primary)
        self.check_signed_success("classic signed Binding over UDP", m, cred, me, classic=True)
        if m is not None:
            c.eq("classic signed Binding: 16-byte id echoed", m.raw[4:20], tid)
            c.eq("classic signed Binding: from A1P1", src, srv.primary)
        msg, tid = self.signed(cred, classic=False)
        m, src = self.ask(s, msg, tid, srv.primary)
        self.check_signed_success("modern signed Binding (MI+FINGERPRINT) over UDP", m, cred, me,
                                  classic=False)
        # Modern, MI without FINGERPRINT: the answer has none either.
        msg, tid = self.signed(cred, classic=False, fingerprint=False)
        m, _ = self.ask(s, msg, tid, srv.primary)
        c.check("modern signed Binding without FINGERPRINT: success, MI verifies, MI last",
                m is not None and m.type == sl.BINDING_SUCCESS and
                m.check_integrity(cred.key) is None and m.types()[-1] == sl.MESSAGE_INTEGRITY,
                show(m) if m is None or m.type != sl.BINDING_SUCCESS
                else f"{m.check_integrity(cred.key)} {m.describe()}")
        # Plain TCP with the same credential.
        tcp = self.keep(socket.create_connection(srv.primary, timeout=5))
        msg, tid = self.signed(cred, classic=True)
        tcp.sendall(msg)
        m = sl.recv_stream_message(tcp)
        self.check_signed_success("classic signed Binding over plain TCP", m, cred,
                                  sl.norm(tcp.getsockname()), classic=True)
        tcp.close()

        # IPv6: the TLS listener on [::1] mints a longer USERNAME.
        try:
            cred6 = sl.mint(("::1", srv.ptls), ctx)
        except (sl.StunError, OSError) as e:
            c.fail("mint over IPv6 TLS [::1]", f"{type(e).__name__}: {e}")
            cred6 = None
        if cred6 is not None:
            self.check_credential("mint (IPv6)", cred6, 64)
            s6 = self.udp("::1")
            msg, tid = self.signed(cred6, classic=True)
            m, _ = self.ask(s6, msg, tid, ("::1", srv.p1))
            self.check_signed_success("classic signed Binding over UDP/IPv6", m, cred6,
                                      sl.norm(s6.getsockname()), classic=True)
        minted = 3 + (cred6 is not None)
        after = self.eq_deltas("mint", srv, before, {"ok_minted": minted})
        c.eq("mint: counter tls_handshakes counts each TLS connection",
             after.delta(before, "tls_handshakes"), 2 + (cred6 is not None))
        self.cred_req = cred

    # ------------------------------------------------------------ 4. errors

    def errors_required(self):
        c, srv = self.c, self.req
        cred = sl.mint(srv.tls_ep, self.ctx(srv))
        s = self.udp()
        before = srv.stats()
        wrong_key = bytes([cred.key[0] ^ 1]) + cred.key[1:]
        forged = bytearray(cred.username)
        forged[len(forged) // 2] = ord("0") if forged[len(forged) // 2] != ord("0") else ord("1")
        forged = bytes(forged)
        cases = []
        for classic in (True, False):
            style = "classic" if classic else "modern"
            cases += [
                (f"{style}: no MESSAGE-INTEGRITY",
                 sl.build(classic=classic, fingerprint=not classic), 401 if classic else 400),
                (f"{style}: MESSAGE-INTEGRITY without USERNAME",
                 sl.build(classic=classic, key=cred.key, fingerprint=not classic),
                 432 if classic else 400),
                (f"{style}: unknown USERNAME",
                 self.signed(cred, classic, user=b"not-a-user-of-this-server-at-all!!!!",
                             key=b"0123456789abcdef0123456789abcdef"), 430 if classic else 401),
                (f"{style}: forged USERNAME (one character of a real one changed)",
                 self.signed(cred, classic, user=forged), 430 if classic else 401),
                (f"{style}: bad HMAC (key off by one bit)",
                 self.signed(cred, classic, key=wrong_key), 431 if classic else 401),
            ]
        for label, (msg, tid), want in cases:
            m, src = self.ask(s, msg, tid, srv.primary)
            self.check_error(f"--auth required, {label} -> {want}, unsigned", m, src, want,
                             srv.primary, label.startswith("classic"))
        # A modern request whose MI is right but whose FINGERPRINT is not:
        # dropped, as any bad FINGERPRINT.
        msg, tid = self.signed(cred, classic=False)
        bad = msg[:-1] + bytes([msg[-1] ^ 0xFF])
        s.sendto(bad, srv.primary)
        got = sl.drain(s, QUIET)
        c.eq("--auth required, modern signed but bad FINGERPRINT: dropped", len(got), 0)
        # The one good request among them still works.
        msg, tid = self.signed(cred, classic=True)
        m, _ = self.ask(s, msg, tid, srv.primary)
        c.check("--auth required: the right credential still succeeds after the errors",
                m is not None and m.type == sl.BINDING_SUCCESS, show(m))
        self.eq_deltas("--auth required errors", srv, before,
                       {"reject_no_integrity": 2, "reject_missing_username": 2,
                        "reject_unknown_username": 4, "reject_bad_integrity": 2,
                        "drop_bad_fingerprint": 1, "ok": 1})

    def use_tls(self):
        c, srv = self.c, self.req
        before = srv.stats()
        s = self.udp()
        msg, tid = sl.build(sl.SHARED_SECRET_REQUEST, classic=True)
        m, src = self.ask(s, msg, tid, srv.primary)
        c.check("Shared Secret Request over UDP -> 0x0112 433",
                m is not None and m.type == sl.SHARED_SECRET_ERROR and err_code(m) == 433
                and m.raw[4:20] == tid and not m.has(sl.USERNAME), show(m))
        conn = self.keep(socket.create_connection(srv.primary, timeout=5))
        msg, tid = sl.build(sl.SHARED_SECRET_REQUEST, classic=True)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        c.check("Shared Secret Request over plain TCP -> 0x0112 433",
                m is not None and m.type == sl.SHARED_SECRET_ERROR and err_code(m) == 433
                and m.tid == tid and not m.has(sl.PASSWORD), show(m))
        conn.close()
        self.eq_deltas("433", srv, before, {"reject_use_tls": 2, "ok_minted": 0})

    def optional(self):
        c, srv = self.c, self.opt
        before = srv.stats()
        s = self.udp()
        me = sl.norm(s.getsockname())
        for classic in (True, False):
            style = "classic" if classic else "modern"
            msg, tid = sl.build(classic=classic)
            m, _ = self.ask(s, msg, tid, srv.primary)
            c.check(f"--auth optional, {style} unsigned: success, unsigned answer",
                    m is not None and m.type == sl.BINDING_SUCCESS
                    and not m.has(sl.MESSAGE_INTEGRITY), show(m))
        cred = sl.mint(srv.tls_ep, self.ctx(srv))
        for classic in (True, False):
            style = "classic" if classic else "modern"
            msg, tid = self.signed(cred, classic)
            m, _ = self.ask(s, msg, tid, srv.primary)
            self.check_signed_success(f"--auth optional, {style} signed", m, cred, me, classic)
            wrong = bytes([cred.key[0] ^ 1]) + cred.key[1:]
            msg, tid = self.signed(cred, classic, key=wrong)
            m, src = self.ask(s, msg, tid, srv.primary)
            want = 431 if classic else 401
            self.check_error(f"--auth optional, {style} bad HMAC -> {want}", m, src, want,
                             srv.primary, classic)
            msg, tid = sl.build(classic=classic, key=cred.key, fingerprint=not classic)
            m, src = self.ask(s, msg, tid, srv.primary)
            want = 432 if classic else 400
            self.check_error(f"--auth optional, {style} MI without USERNAME -> {want}", m, src,
                             want, srv.primary, classic)
        self.eq_deltas("--auth optional", srv, before,
                       {"ok": 4, "reject_bad_integrity": 2, "reject_missing_username": 2,
                        "reject_no_integrity": 0})

    def auth_none(self):
        c, srv = self.c, self.slow_srv
        s = self.udp()
        me = sl.norm(s.getsockname())
        cred = sl.mint(srv.tls_ep, self.ctx(srv))
        c.check("--auth none: Shared Secret Requests still minted", cred.username is not None)
        junk = b"\x55" * 32
        for classic in (True, False):
            style = "classic" if classic else "modern"
            msg, tid = self.signed(cred, classic, user=b"nobody!!", key=junk)
            m, _ = self.ask(s, msg, tid, srv.primary)
            addr = None if m is None else (m.addr(sl.MAPPED_ADDRESS) if classic
                                           else m.xor_addr())
            c.check(f"--auth none, {style} with a bogus USERNAME and MI: MI ignored, success "
                    "naming the client, unsigned answer",
                    m is not None and m.type == sl.BINDING_SUCCESS and addr == me
                    and not m.has(sl.MESSAGE_INTEGRITY), show(m))
        b = self.udp()
        msg, tid = sl.build(classic=True, attrs=[sl.response_address(*sl.norm(b.getsockname()))])
        m, src = self.ask(s, msg, tid, srv.primary)
        self.check_error("--auth none, classic RESPONSE-ADDRESS (unauthenticated) -> 401", m, src,
                         401, srv.primary, True)
        c.eq("--auth none, RESPONSE-ADDRESS: nothing sent to the named address",
             len(sl.drain(b, QUIET)), 0)

    # ------------------------------------------------------------ 5. RESPONSE-ADDRESS

    def response_address(self):
        c, srv = self.c, self.req
        cred = self.cred_req
        a, b = self.udp(), self.udp()
        me_a, me_b = sl.norm(a.getsockname()), sl.norm(b.getsockname())
        before = srv.stats()
        msg, tid = self.signed(cred, True, attrs=[sl.response_address(*me_b)])
        m, src = None, None
        for _ in range(3):
            a.sendto(msg, srv.primary)
            m, src = sl.recv_answer(b, tid, WAIT)
            if m is not None:
                break
        label = "signed classic RESPONSE-ADDRESS=second socket"
        if c.check(f"{label}: answered at the second socket", m is not None, "no answer"):
            c.check(f"{label}: Binding Success Response", m.type == sl.BINDING_SUCCESS, show(m))
            c.eq(f"{label}: MAPPED-ADDRESS is the requesting socket", m.addr(sl.MAPPED_ADDRESS),
                 me_a)
            c.eq(f"{label}: REFLECTED-FROM is the minting TLS connection's address",
                 m.addr(sl.REFLECTED_FROM), cred.local)
            c.eq(f"{label}: sent from A1P1", src, srv.primary)
            c.check(f"{label}: MESSAGE-INTEGRITY last and verifies",
                    m.check_integrity(cred.key) is None, f"{m.check_integrity(cred.key)}")
        c.eq(f"{label}: nothing back to the requesting socket", len(sl.drain(a, QUIET)), 0)
        # Unsigned (required server): 401 to the requester, nothing to b.
        msg, tid = sl.build(classic=True, attrs=[sl.response_address(*me_b)])
        m, src = self.ask(a, msg, tid, srv.primary)
        self.check_error("--auth required, unsigned RESPONSE-ADDRESS -> 401 to the requester",
                         m, src, 401, srv.primary, True)
        c.eq("--auth required, unsigned RESPONSE-ADDRESS: nothing sent to the named address",
             len(sl.drain(b, QUIET)), 0)
        self.eq_deltas("RESPONSE-ADDRESS (required)", srv, before,
                       {"ok": 1, "reject_no_integrity": 1})
        # Unsigned on the optional server: 401 because of RESPONSE-ADDRESS.
        srv = self.opt
        before = srv.stats()
        m, src = self.ask(a, msg, tid, srv.primary)
        self.check_error("--auth optional, unsigned RESPONSE-ADDRESS -> 401 to the requester",
                         m, src, 401, srv.primary, True)
        c.eq("--auth optional, unsigned RESPONSE-ADDRESS: nothing sent to the named address",
             len(sl.drain(b, QUIET)), 0)
        self.eq_deltas("RESPONSE-ADDRESS (optional)", srv, before,
                       {"reject_response_address": 1})
        # Signed, on a server without --response-address (same fleet key):
        # 420 naming RESPONSE-ADDRESS, signed, to the requester only.
        srv = self.k1
        before = srv.stats()
        msg, tid = self.signed(cred, True, attrs=[sl.response_address(*me_b)])
        m, src = self.ask(a, msg, tid, srv.primary)
        label = "without --response-address, signed RESPONSE-ADDRESS"
        if c.check(f"{label} -> 420 to the requester", m is not None and err_code(m) == 420,
                   show(m) if m is not None else "no answer"):
            c.eq(f"{label}: UNKNOWN-ATTRIBUTES names RESPONSE-ADDRESS", m.unknown()[:1], [0x0002])
            c.check(f"{label}: the 420 is signed", m.check_integrity(cred.key) is None,
                    f"{m.check_integrity(cred.key)}")
        c.eq(f"{label}: nothing sent to the named address", len(sl.drain(b, QUIET)), 0)
        self.eq_deltas("RESPONSE-ADDRESS (off)", srv, before, {"reject_response_address_off": 1})

    def destination_policy(self):
        """Issue 9: RESPONSE-ADDRESS=127.0.0.1 is refused by default (400
        classic, 403 modern, signed, at the requester, nothing at the named
        address); response_address() above saw the same request honoured on
        a server with --allow-peer 127.0.0.0/8."""
        c, srv, cred = self.c, self.policy, self.cred_req
        a, b = self.udp(), self.udp()
        me_b = sl.norm(b.getsockname())
        before = srv.stats()
        for classic in (True, False):
            want = 400 if classic else 403
            label = (f"default policy, signed {'classic' if classic else 'modern'} "
                     f"RESPONSE-ADDRESS={me_b[0]}:{me_b[1]} -> {want} at the requester")
            msg, tid = self.signed(cred, classic, attrs=[sl.response_address(*me_b)])
            m, src = self.ask(a, msg, tid, srv.primary)
            if not c.check(label, m is not None and m.type == sl.BINDING_ERROR
                           and err_code(m) == want and m.classic == classic,
                           show(m) if m is not None else "no answer"):
                continue
            c.eq(f"{label}: sent from A1P1", src, srv.primary)
            c.check(f"{label}: signed as the request was", m.check_integrity(cred.key) is None,
                    f"{m.check_integrity(cred.key)} ({m.describe()})")
        c.eq("default policy: nothing sent to the loopback RESPONSE-ADDRESS",
             len(sl.drain(b, QUIET)), 0)
        self.eq_deltas("destination policy", srv, before, {"reject_destination_denied": 2,
                                                           "ok": 0})

    # ------------------------------------------------------------ 7. fleet

    def fleet(self):
        c = self.c
        cred = sl.mint(self.req.tls_ep, self.ctx(self.req))
        s = self.udp()
        me = sl.norm(s.getsockname())
        for classic in (True, False):
            style = "classic" if classic else "modern"
            msg, tid = self.signed(cred, classic)
            m, _ = self.ask(s, msg, tid, self.k1.primary)
            self.check_signed_success(f"fleet: minted on 'required', {style} on fleet-k1 "
                                      "(same key)", m, cred, me, classic)
        before = self.k2.stats()
        for classic in (True, False):
            style = "classic" if classic else "modern"
            want = 430 if classic else 401
            msg, tid = self.signed(cred, classic)
            m, src = self.ask(s, msg, tid, self.k2.primary)
            self.check_error(f"fleet: minted on 'required', {style} on fleet-k2 (other key) -> "
                             f"{want}", m, src, want, self.k2.primary, classic)
        after = self.k2.stats_until(
            lambda st: st.delta(before, "reject_unknown_username")
            + st.delta(before, "reject_stale_credentials") >= 2)
        c.eq("fleet-k2: counted as unknown USERNAME",
             after.delta(before, "reject_unknown_username"), 2)

    def fleet_rollover(self):
        """--secret-key K2 --secret-key-previous K1: a credential minted under
        K1 is still accepted; one minted now is made under K2 (fleet-k2
        agrees, fleet-k1 does not)."""
        s = self.udp()
        me = sl.norm(s.getsockname())
        old = sl.mint(self.req.tls_ep, self.ctx(self.req))  # under K1
        for classic in (True, False):
            style = "classic" if classic else "modern"
            msg, tid = self.signed(old, classic)
            m, _ = self.ask(s, msg, tid, self.roll.primary)
            self.check_signed_success(f"rollover: minted under K1, {style} on K2 + previous K1",
                                      m, old, me, classic)
        new = sl.mint(self.roll.tls_ep, self.ctx(self.roll))
        msg, tid = self.signed(new, False)
        m, _ = self.ask(s, msg, tid, self.k2.primary)
        self.check_signed_success("rollover: minted on K2 + previous K1 is made under K2 "
                                  "(fleet-k2 accepts it)", m, new, me, False)
        msg, tid = self.signed(new, True)
        m, src = self.ask(s, msg, tid, self.k1.primary)
        self.check_error("rollover: ... and not under K1 (fleet-k1 -> 430)", m, src, 430,
                         self.k1.primary, True)

    def fleet_full_table(self):
        """With a fleet key the table is a cache: a full one refuses no mint,
        and a credential it could not hold is recomputed at lookup."""
        c, srv = self.c, self.small
        s = self.udp()
        me = sl.norm(s.getsockname())
        creds = []
        for i in range(2 * SMALL_TABLE):
            try:
                creds.append(sl.mint(srv.tls_ep, self.ctx(srv)))
            except (sl.StunError, OSError) as e:
                c.fail(f"fleet-small: mint {i + 1} of {2 * SMALL_TABLE}", str(e))
                return
        c.check(f"fleet-small: {2 * SMALL_TABLE} mints into a table of {SMALL_TABLE}: all "
                "answered", len(creds) == 2 * SMALL_TABLE)
        for where, target in (("itself", srv), ("fleet-k1 (same key)", self.k1)):
            msg, tid = self.signed(creds[-1], False)
            m, _ = self.ask(s, msg, tid, target.primary)
            self.check_signed_success(f"fleet-small: the last credential (not in the table) on "
                                      f"{where}", m, creds[-1], me, False)

    def mint_rate(self):
        """--mint-rate: one address mints a burst of 10 x the rate, then 500
        (counted apart) until its bucket refills."""
        c, srv = self.c, self.rate
        burst = 10 * MINT_RATE
        before = srv.stats()
        answers = []
        with sl.tls_connect(srv.tls_ep, self.ctx(srv)) as conn:
            for _ in range(burst + 3):
                answers.append(sl.shared_secret_over(conn))
            sl.tls_close(conn)
        codes = [None if m is None else (m.type, err_code(m)) for m in answers]
        ok = [x for x in codes if x is not None and x[0] == sl.SHARED_SECRET_SUCCESS]
        c.eq(f"rate: {burst + 3} mints at once: the burst passes", len(ok), burst, str(codes))
        c.check("rate: the rest are Shared Secret Errors with 500",
                all(x == (0x0112, 500) for x in codes[burst:]), str(codes[burst:]))
        self.eq_deltas("rate", srv, before, {"ok_minted": burst, "reject_mint_rate": 3})
        time.sleep(1.2 / MINT_RATE)
        try:
            sl.mint(srv.tls_ep, self.ctx(srv))
            c.check("rate: after a refill, a mint passes again", True)
        except sl.StunError as e:
            c.fail("rate: after a refill, a mint passes again", str(e))

    # ------------------------------------------------------------ 11. abrupt peers

    def abrupt_close(self):
        """A TLS client that sends a request and closes without reading (the
        server's answer and close_notify then meet a reset socket) costs that
        connection only: no SIGPIPE, the server keeps serving."""
        c, srv = self.c, self.req
        before = srv.stats()
        for i in range(ABRUPT):
            conn = sl.tls_connect(srv.tls_ep, self.ctx(srv))
            msg, _ = sl.build()
            conn.sendall(msg)
            if i % 2:  # half of them reset outright
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        time.sleep(0.3)
        c.check(f"{ABRUPT} TLS clients closed without reading: the server is alive",
                srv.alive(), f"exit {srv.proc.poll()}")
        with sl.tls_connect(srv.tls_ep, self.ctx(srv)) as conn:
            msg, tid = sl.build()
            conn.sendall(msg)
            m = sl.recv_stream_message(conn)
            c.check("a TLS Binding after them is answered", m is not None and m.tid == tid,
                    show(m) if m is not None else "no answer")
            sl.tls_close(conn)
        after = srv.stats_until(lambda st: st.delta(before, "tls_accepted") >= ABRUPT + 1)
        c.check("the abrupt ones were accepted and counted",
                after.delta(before, "tls_accepted") >= ABRUPT + 1,
                f"tls_accepted +{after.delta(before, 'tls_accepted')}")

    # ------------------------------------------------------------ 6. + 8. ttl, table

    def expiry_and_table(self):
        c, srv = self.c, self.ttl
        ctx = self.ctx(srv)
        s = self.udp()
        me = sl.norm(s.getsockname())
        before = srv.stats()
        # Mint late in a wall-clock second: a lifetime kept in whole seconds
        # must round up, not cut the credential short by up to a second.
        time.sleep((0.85 - time.time() % 1) % 1)
        cred_wall = time.time()
        cred = sl.mint(srv.tls_ep, ctx)
        t0 = time.monotonic()
        for classic in (True, False):
            msg, tid = self.signed(cred, classic)
            m, _ = self.ask(s, msg, tid, srv.primary)
            self.check_signed_success(f"ttl {TTL}s: {'classic' if classic else 'modern'} at once",
                                      m, cred, me, classic)
        # Without --secret-key, a USERNAME the server did not mint is unknown.
        forged = bytearray(cred.username)
        forged[len(forged) // 2] = ord("0") if forged[len(forged) // 2] != ord("0") else ord("1")
        msg, tid = self.signed(cred, True, user=bytes(forged))
        m, src = self.ask(s, msg, tid, srv.primary)
        self.check_error("no --secret-key: forged USERNAME (one character changed) -> 430", m, src,
                         430, srv.primary, True)
        # Fill the table.
        creds = [cred]
        refused = []
        for i in range(TABLE + 2):
            try:
                creds.append(sl.mint(srv.tls_ep, ctx))
            except sl.StunError as e:
                refused.append(str(e))
        self.table_full_at = time.monotonic()
        c.eq(f"table of {TABLE}: {TABLE} mints succeed, the next ones are refused",
             (len(creds), len(refused)), (TABLE, 3), "; ".join(refused[:2]))
        conn = self.keep(sl.tls_connect(srv.tls_ep, ctx))
        m = sl.shared_secret_over(conn)
        c.check(f"table of {TABLE} full: Shared Secret Error Response 0x0112 with 500, unsigned",
                m is not None and m.type == sl.SHARED_SECRET_ERROR and err_code(m) == 500
                and not m.has(sl.USERNAME) and not m.has(sl.MESSAGE_INTEGRITY), show(m))
        # The connection and the server keep serving.
        msg, tid = self.signed(creds[-1], False)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn)
        c.check("table full: the same TLS connection still answers a signed Binding",
                m is not None and m.type == sl.BINDING_SUCCESS
                and m.check_integrity(creds[-1].key) is None, show(m))
        sl.tls_close(conn)
        msg, tid = self.signed(creds[-1], True)
        m, _ = self.ask(s, msg, tid, srv.primary)
        c.check("table full: UDP signed Binding with the last credential succeeds",
                m is not None and m.type == sl.BINDING_SUCCESS, show(m))
        msg, tid = sl.build()
        m, src = self.ask(s, msg, tid, srv.primary)
        c.check("table full: UDP unsigned Binding still answered (400)",
                m is not None and err_code(m) == 400, show(m))
        self.eq_deltas("table full", srv, before, {"ok_minted": TABLE, "reject_server_error": 4,
                                                   "reject_unknown_username": 1})

        # Still valid just before the TTL, stale after it.
        early = t0 + TTL - 0.3 - time.monotonic()
        if early > 0:
            time.sleep(early)
        msg, tid = self.signed(cred, True)
        m, _ = self.ask(s, msg, tid, srv.primary)
        c.check(f"ttl {TTL}s: still valid {TTL - 0.3:.1f}s after the mint",
                m is not None and m.type == sl.BINDING_SUCCESS,
                show(m) + f" at {time.monotonic() - t0:.2f}s (minted at wall-clock "
                f"{cred_wall % 1:.2f} past a second)")
        before = srv.stats()
        deadline = t0 + TTL + 3.0
        m = None
        for _ in range(100):
            msg, tid = self.signed(cred, True)
            m, src = self.ask(s, msg, tid, srv.primary)
            if m is not None and m.type != sl.BINDING_SUCCESS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        took = time.monotonic() - t0
        self.check_error(f"ttl {TTL}s: classic stale after the TTL -> 430 "
                         f"(first refused {took:.1f}s after the mint)",
                         m, src, 430, srv.primary, True)
        msg, tid = self.signed(cred, False)
        m, src = self.ask(s, msg, tid, srv.primary)
        self.check_error(f"ttl {TTL}s: modern stale -> 401", m, src, 401, srv.primary, False)
        self.eq_deltas("ttl", srv, before, {"reject_stale_credentials": 2})

    def table_recovers(self):
        """Entries are reused after expiry plus a grace: the table of a
        server whose credentials all expired mints again (bounded wait)."""
        c, srv = self.c, self.ttl
        ctx = self.ctx(srv)
        deadline = self.table_full_at + TTL + 10 + 5
        cred, last = None, ""
        for _ in range(200):
            try:
                cred = sl.mint(srv.tls_ep, ctx)
                break
            except sl.StunError as e:
                last = str(e)
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        took = time.monotonic() - self.table_full_at
        c.check(f"table of {TABLE}: mints again once the credentials expired (TTL {TTL}s + "
                "grace)", cred is not None, f"still refused {took:.1f}s after filling: {last}",
                f"after {took:.1f}s")
        if cred is not None:
            s = self.udp()
            msg, tid = self.signed(cred, True)
            m, _ = self.ask(s, msg, tid, srv.primary)
            c.check("table: the re-minted credential authenticates",
                    m is not None and m.type == sl.BINDING_SUCCESS, show(m))

    # ------------------------------------------------------------ 9. slow, cap, idle

    def slow(self):
        c, srv = self.c, self.slow_srv
        ctx = self.ctx(srv)
        before = srv.stats()
        idle = []
        t0 = time.monotonic()
        for _ in range(IDLE_TLS):
            idle.append(self.keep(sl.tls_connect(srv.tls_ep, ctx)))
        c.check(f"slow: {IDLE_TLS} TLS connections completed their handshake", True,
                shown=f"{time.monotonic() - t0:.2f}s")
        half = []
        opened = time.monotonic()
        for _ in range(HALF_OPEN):
            half.append(self.keep(socket.create_connection(srv.tls_ep, timeout=5)))
        # Twenty more send the first bytes of a ClientHello and stall.
        partial = []
        for _ in range(20):
            p = self.keep(socket.create_connection(srv.tls_ep, timeout=5))
            p.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            partial.append(p)
        t1 = time.monotonic()
        try:
            cred = sl.mint(srv.tls_ep, ctx, timeout=2.0)
            took = time.monotonic() - t1
            c.check(f"slow: with {HALF_OPEN}+20 stalled handshakes and {IDLE_TLS} idle "
                    "connections, a fresh client completes a handshake and mints within 2 s",
                    took <= 2.0 and cred.username is not None, f"{took:.2f}s", f"{took:.3f}s")
        except (sl.StunError, OSError) as e:
            c.fail("slow: a fresh client completes a handshake and mints within 2 s",
                   f"{type(e).__name__}: {e} after {time.monotonic() - t1:.2f}s")
        c.check("slow: the fresh client was served while the stalled ones were still pending",
                time.monotonic() - opened < HANDSHAKE_MS / 1000,
                f"{time.monotonic() - opened:.2f}s after opening them: this machine is too slow "
                "for the check to mean anything")

        # The stalled ones are closed by the server after the deadline.
        sel = selectors.DefaultSelector()
        for sock in half + partial:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        closed_at = {}
        deadline = opened + HANDSHAKE_MS / 1000 + 4.0
        for _ in range(100000):
            left = deadline - time.monotonic()
            if left <= 0 or len(closed_at) == len(half) + len(partial):
                break
            for key, _ in sel.select(min(left, 0.5)):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, BlockingIOError) as e:
                    data = b"" if isinstance(e, ConnectionResetError) else None
                if data == b"":
                    closed_at[sock] = time.monotonic() - opened
                    sel.unregister(sock)
        sel.close()
        n_half = sum(1 for s_ in half if s_ in closed_at)
        n_part = sum(1 for s_ in partial if s_ in closed_at)
        c.eq(f"slow: all {HALF_OPEN} silent connections closed by the server within "
             f"{HANDSHAKE_MS} ms + 4 s", n_half, HALF_OPEN)
        c.eq("slow: all 20 stalled partial ClientHellos closed too", n_part, 20)
        if closed_at:
            first, last = min(closed_at.values()), max(closed_at.values())
            c.check(f"slow: none closed well before the {HANDSHAKE_MS} ms deadline",
                    first >= HANDSHAKE_MS / 1000 - 0.5,
                    f"first closed {first:.2f}s after opening", f"{first:.2f}s .. {last:.2f}s")
        after = srv.stats()
        c.check(f"slow: counter tls_handshake_timeout >= {HALF_OPEN + 20}",
                after.delta(before, "tls_handshake_timeout") >= HALF_OPEN + 20,
                f"+{after.delta(before, 'tls_handshake_timeout')}",
                f"+{after.delta(before, 'tls_handshake_timeout')}")
        c.check(f"slow: counter tls_accepted >= {IDLE_TLS + HALF_OPEN + 21}",
                after.delta(before, "tls_accepted") >= IDLE_TLS + HALF_OPEN + 21,
                f"+{after.delta(before, 'tls_accepted')}")
        # The idle (handshaken) ones were not cut by the handshake deadline.
        answered = 0
        for conn in idle:
            try:
                msg, tid = sl.build()
                conn.sendall(msg)
                m = sl.recv_stream_message(conn, 2.0)
                answered += m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS
            except OSError:
                pass
        c.eq(f"slow: the {IDLE_TLS} idle TLS connections still answer after the handshake "
             "deadline", answered, IDLE_TLS)
        for conn in idle:
            sl.tls_close(conn)
        for sock in half + partial:
            sock.close()

    def cap(self):
        c, srv = self.c, self.cap_srv
        ctx = self.ctx(srv)
        before = srv.stats()
        conns = []
        for i in range(TLS_CAP):
            try:
                conns.append(self.keep(sl.tls_connect(srv.tls_ep, ctx, timeout=3)))
            except (OSError, ssl.SSLError) as e:
                c.fail(f"cap: TLS connection {i + 1} of {TLS_CAP}", f"{type(e).__name__}: {e}")
                break
        c.eq(f"cap: {TLS_CAP} concurrent TLS connections accepted", len(conns), TLS_CAP)
        refused, why = False, ""
        t = time.monotonic()
        try:
            extra = sl.tls_connect(srv.tls_ep, ctx, timeout=3)
            self.keep(extra)
            msg, tid = sl.build()
            extra.sendall(msg)
            m = sl.recv_stream_message(extra, 2.0)
            refused = m is None
            why = "handshake completed and " + ("no answer" if m is None else "answered")
        except (OSError, ssl.SSLError) as e:
            refused, why = True, f"{type(e).__name__}: {e}"
        c.check(f"cap: connection {TLS_CAP + 1} refused", refused, why,
                f"{why[:80]} after {time.monotonic() - t:.2f}s")
        mid = srv.stats_until(lambda st: st.delta(before, "tls_refused") >= 1, 3.0)
        c.eq("cap: counter tls_refused +1", mid.delta(before, "tls_refused"), 1)
        answered = 0
        for conn in conns:
            try:
                msg, tid = sl.build(fingerprint=True)
                conn.sendall(msg)
                m = sl.recv_stream_message(conn, 2.0)
                answered += m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS
            except OSError:
                pass
        c.eq(f"cap: the first {TLS_CAP} connections are still served", answered, TLS_CAP)
        # Plain TCP has its own cap, untouched by the TLS connections.
        tcps, refused_tcp = [], None
        for i in range(TCP_CAP):
            t_ = self.keep(socket.create_connection(srv.primary, timeout=3))
            msg, tid = sl.build()
            t_.sendall(msg)
            m = sl.recv_stream_message(t_, 2.0)
            if m is not None and m.tid == tid:
                tcps.append(t_)
        c.eq(f"cap: {TCP_CAP} plain TCP connections served while {TLS_CAP} TLS ones are open",
             len(tcps), TCP_CAP)
        t_ = self.keep(socket.create_connection(srv.primary, timeout=3))
        try:
            msg, tid = sl.build()
            t_.sendall(msg)
            m = sl.recv_stream_message(t_, 2.0)
            refused_tcp = m is None
        except OSError:
            refused_tcp = True
        c.check(f"cap: plain TCP connection {TCP_CAP + 1} refused (--tcp-max-conns {TCP_CAP})",
                refused_tcp, "it was answered")
        after = srv.stats_until(lambda st: st.delta(before, "tcp_refused") >= 1, 3.0)
        c.eq("cap: counter tcp_refused +1, tls_refused still +1",
             (after.delta(before, "tcp_refused"), after.delta(before, "tls_refused")), (1, 1))
        # Closing one TLS connection frees a place.
        sl.tls_close(conns.pop())
        ok, why = False, ""
        deadline = time.monotonic() + 3.0
        for _ in range(30):
            try:
                conn = self.keep(sl.tls_connect(srv.tls_ep, ctx, timeout=2))
                msg, tid = sl.build()
                conn.sendall(msg)
                m = sl.recv_stream_message(conn, 2.0)
                ok = m is not None and m.tid == tid
                if ok:
                    break
                why = "no answer"
            except (OSError, ssl.SSLError) as e:
                why = f"{type(e).__name__}: {e}"
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        c.check("cap: once one TLS connection closes, a new one is served", ok, why)
        for conn in conns:
            sl.tls_close(conn)

    def idle(self):
        c, srv = self.c, self.idle_srv
        ctx = self.ctx(srv)
        before = srv.stats()
        quiet = self.keep(sl.tls_connect(srv.tls_ep, ctx))
        busy = self.keep(sl.tls_connect(srv.tls_ep, ctx))
        tcp = self.keep(socket.create_connection(srv.primary, timeout=3))
        msg, tid = sl.build()
        tcp.sendall(msg)
        sl.recv_stream_message(tcp, 2.0)
        t0 = time.monotonic()
        quiet.setblocking(False)
        tcp.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(quiet, selectors.EVENT_READ)
        sel.register(tcp, selectors.EVENT_READ)
        closed = {}
        busy_ok = 0
        busy_sent = 0
        next_busy = t0
        end = t0 + 2.5 * IDLE_MS / 1000
        for _ in range(10000):
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_busy:
                msg, tid = sl.build()
                busy_sent += 1
                try:
                    busy.sendall(msg)
                    m = sl.recv_stream_message(busy, 1.0)
                    busy_ok += m is not None and m.tid == tid
                except OSError:
                    pass
                next_busy = now + 0.3 * IDLE_MS / 1000
            for key, _ in sel.select(0.05):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # TLS records with no application data (tickets)
                except (OSError, ssl.SSLError):
                    data = b""
                if data == b"":
                    closed[sock] = time.monotonic() - t0
                    sel.unregister(sock)
        sel.close()
        for sock, name in ((quiet, "TLS"), (tcp, "plain TCP")):
            at = closed.get(sock)
            c.check(f"idle: an idle {name} connection is closed after --tcp-idle-ms {IDLE_MS}",
                    at is not None and at >= IDLE_MS / 1000 - 0.3,
                    "still open" if at is None else f"closed after {at:.2f}s",
                    f"after {at:.2f}s" if at is not None else "")
        c.eq("idle: a TLS connection sending a request every 0.3 idle periods stays served",
             busy_ok, busy_sent)
        after = srv.stats()
        c.eq("idle: counters tls_idle_closed +1, tcp_idle_closed +1",
             (after.delta(before, "tls_idle_closed"), after.delta(before, "tcp_idle_closed")),
             (1, 1))
        sl.tls_close(busy)

    # ------------------------------------------------------------ 10. SIGHUP

    def sighup(self):
        c, srv = self.c, self.opt
        old_der = sl.cert_der(srv.cert)
        old_ctx = self.ctx(srv)
        old = self.keep(sl.tls_connect(srv.tls_ep, old_ctx))
        c.check("SIGHUP: before, the server presents the first certificate",
                old.getpeercert(binary_form=True) == old_der, "another certificate",
                f"sha256 {hashlib.sha256(old_der).hexdigest()[:16]}")
        # A credential minted before the reload under key K1 validates on fleet-k1.
        pre = sl.mint(srv.tls_ep, old_ctx)
        s = self.udp()
        msg, tid = self.signed(pre, True)
        m, _ = self.ask(s, msg, tid, self.k1.primary)
        c.check("SIGHUP: before, 'optional' mints under K1 (fleet-k1 accepts its credential)",
                m is not None and m.type == sl.BINDING_SUCCESS, show(m))

        # Steady UDP Bindings through the reload.
        u = self.udp()
        sent, got = {}, set()
        stop = threading.Event()

        def receiver():
            u.settimeout(0.1)
            for _ in range(100000):
                if stop.is_set():
                    return
                try:
                    data, _ = u.recvfrom(2048)
                except socket.timeout:
                    continue
                except OSError:
                    return
                try:
                    got.add(sl.Message(data).tid)
                except sl.StunError:
                    pass

        th = threading.Thread(target=receiver, daemon=True)
        th.start()

        def send_some(n):
            for _ in range(n):
                msg, tid = sl.build()
                sent[tid] = time.monotonic()
                u.sendto(msg, srv.primary)
                time.sleep(0.004)

        before = srv.stats()
        send_some(50)
        new_der = srv.new_cert()
        write_key(self.opt_keyfile, self.k2_content)
        srv.reload()
        send_some(50)
        after = srv.stats_until(lambda st: st.delta(before, "tls_reloads") >= 1, 5.0)
        send_some(50)
        c.eq("SIGHUP: counter tls_reloads +1", after.delta(before, "tls_reloads"), 1)
        c.check("SIGHUP: the server is still running", srv.alive())

        new = self.keep(sl.tls_connect(srv.tls_ep, sl.tls_context(None)))
        send_some(25)
        c.check("SIGHUP: a new TLS connection sees the new certificate (DER compared)",
                new.getpeercert(binary_form=True) == new_der and new_der != old_der,
                "still the old certificate" if new.getpeercert(binary_form=True) == old_der
                else "neither the old nor the new certificate",
                f"sha256 {hashlib.sha256(new_der).hexdigest()[:16]}")
        msg, tid = sl.build(fingerprint=True)
        new.sendall(msg)
        m = sl.recv_stream_message(new)
        c.check("SIGHUP: the new connection answers a Binding",
                m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS, show(m))
        for i in range(3):
            msg, tid = sl.build(classic=(i == 1))
            old.sendall(msg)
            m = sl.recv_stream_message(old)
            if not c.check(f"SIGHUP: the connection opened before the reload still answers "
                           f"(request {i + 1} of 3)",
                           m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS,
                           show(m)):
                break
        send_some(25)
        # Wait (bounded) for the last answers, then compare.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not set(sent) <= got:
            time.sleep(0.02)
        stop.set()
        th.join(2.0)
        missing = [t for t in sent if t not in got]
        c.eq(f"SIGHUP: UDP Bindings sent steadily through the reload all answered "
             f"({len(sent)} sent)", len(sent) - len(missing), len(sent))

        # The secret key was reloaded too: new credentials are minted under K2.
        post = sl.mint(srv.tls_ep, sl.tls_context(srv.cert))
        for fleet, want in ((self.k2, None), (self.k1, 430)):
            msg, tid = self.signed(post, True)
            m, src = self.ask(s, msg, tid, fleet.primary)
            if want is None:
                c.check("SIGHUP: --secret-key reloaded: fleet-k2 accepts a credential minted "
                        "after the reload", m is not None and m.type == sl.BINDING_SUCCESS,
                        show(m))
            else:
                self.check_error("SIGHUP: fleet-k1 refuses a credential minted after the reload "
                                 "-> 430", m, src, 430, fleet.primary, True)

        # A broken certificate file: the reload fails, the server keeps the last good one.
        with open(srv.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        lines = srv.log().count("\n")
        srv.reload()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and srv.log().count("\n") == lines:
            time.sleep(0.02)
        time.sleep(0.1)
        c.check("SIGHUP with a broken certificate file: the server is still running",
                srv.alive(), f"exit {srv.proc.poll()}")
        said = [l for l in srv.log().splitlines()[lines:] if not l.startswith("stats ")]
        c.check("SIGHUP with a broken certificate file: the failure is logged",
                any("cert" in l.lower() or "reload" in l.lower() for l in said),
                f"log after the SIGHUP: {said[:5]}", said[0][:120] if said else "")
        try:
            again = self.keep(sl.tls_connect(srv.tls_ep, sl.tls_context(None)))
            c.check("SIGHUP with a broken certificate file: new connections still get the last "
                    "good certificate", again.getpeercert(binary_form=True) == new_der,
                    "a different certificate")
            sl.tls_close(again)
        except (OSError, ssl.SSLError) as e:
            c.fail("SIGHUP with a broken certificate file: new connections still get the last "
                   "good certificate", f"{type(e).__name__}: {e}")
        sl.tls_close(new)
        sl.tls_close(old)

    # ------------------------------------------------------------ main

    def run(self):
        c = self.c
        k1 = os.urandom(24).hex().encode()
        k2 = os.urandom(24).hex().encode()
        self.k2_content = k2
        try:
            # Fleet key files: a directory removed on success, kept on failure.
            kdir = tempfile.mkdtemp(prefix="stunring-e2e-keys-")
            sl._LOGDIRS.append(kdir)
            k1file, k2file = os.path.join(kdir, "k1.key"), os.path.join(kdir, "k2.key")
            self.opt_keyfile = os.path.join(kdir, "optional.key")
            write_key(k1file, k1)
            write_key(k2file, k2)
            write_key(self.opt_keyfile, k1)

            self.ttl = self.server("ttl", tls=True,
                                   extra=["--auth", "required", "--credential-ttl", str(TTL),
                                          "--max-credentials", str(TABLE)])
            self.req = self.server("required", tls=True, listen=("127.0.0.1", "::1"),
                                   extra=["--auth", "required", "--secret-key", k1file,
                                          "--response-address", "--allow-peer", "127.0.0.0/8"])
            # The same, under the default destination policy (loopback refused).
            self.policy = self.server("policy", extra=["--auth", "required", "--secret-key",
                                                       k1file, "--response-address"])
            self.k1 = self.server("fleet-k1", extra=["--auth", "required",
                                                     "--secret-key", k1file])
            self.k2 = self.server("fleet-k2", extra=["--auth", "required",
                                                     "--secret-key", k2file])
            self.roll = self.server("fleet-roll", tls=True,
                                    extra=["--auth", "required", "--secret-key", k2file,
                                           "--secret-key-previous", k1file])
            self.opt = self.server("optional", tls=True,
                                   extra=["--auth", "optional", "--secret-key",
                                          self.opt_keyfile])
            # These two fill the whole tables from one client: the
            # per-client limits (test_streams.py) are off here.
            self.slow_srv = self.server("slow", tls=True,
                                        extra=["--auth", "none", "--tls-handshake-ms",
                                               str(HANDSHAKE_MS)] + NO_CLIENT_LIMITS)
            self.cap_srv = self.server("cap", tls=True,
                                       extra=["--tls-max-conns", str(TLS_CAP),
                                              "--tcp-max-conns", str(TCP_CAP)] + NO_CLIENT_LIMITS)
            self.idle_srv = self.server("idle", tls=True, extra=["--tcp-idle-ms", str(IDLE_MS)])
            self.rate = self.server("rate", tls=True,
                                    extra=["--auth", "required", "--mint-rate", str(MINT_RATE)])
            self.small = self.server("fleet-small", tls=True,
                                     extra=["--auth", "required", "--secret-key", k1file,
                                            "--max-credentials", str(SMALL_TABLE)])
        except (sl.ServerError, RuntimeError) as e:
            c.fail("start the servers", str(e))
            self.stop_all()
            return
        self.cred_req = None
        groups = [
            ("6+8. expiry (--credential-ttl) and a full table (--max-credentials)",
             self.expiry_and_table),
            ("1. openssl s_client: TLS 1.3, 1.2, not 1.1", self.openssl_versions),
            ("2. STUN over TLS", self.tls_binding),
            ("3. Shared Secret minting, authenticated Bindings", self.mint_and_auth),
            ("4. errors under --auth required", self.errors_required),
            ("4. --auth optional", self.optional),
            ("4. --auth none", self.auth_none),
            ("4. 433 outside TLS", self.use_tls),
            ("5. RESPONSE-ADDRESS and REFLECTED-FROM", self.response_address),
            ("5. the destination policy refuses loopback", self.destination_policy),
            ("7. fleet key", self.fleet),
            ("7. fleet key rollover (--secret-key-previous)", self.fleet_rollover),
            ("9. stalled handshakes, idle connections", self.slow),
            ("9. connection caps", self.cap),
            ("9. idle deadline", self.idle),
            ("10. SIGHUP", self.sighup),
            ("8. the full table recovers", self.table_recovers),
            ("8. a full table with a fleet key refuses nothing", self.fleet_full_table),
            ("11. TLS peers that close without reading", self.abrupt_close),
            ("12. --mint-rate", self.mint_rate),
        ]
        try:
            for name, fn in groups:
                if fn in (self.response_address, self.destination_policy) and \
                        self.cred_req is None:
                    self.cred_req = sl.mint(self.req.tls_ep, self.ctx(self.req))
                c.run(name, fn)
            for srv in self.servers:
                c.check(f"{srv.name}: still running after every check", srv.alive(),
                        f"exit {srv.proc.poll()}")
        finally:
            self.stop_all()

    def stop_all(self):
        sl.close_all(self.c, self.sockets, self.servers)


def main():
    return sl.run_suite(Auth, "test_auth")


if __name__ == "__main__":
    sys.exit(main())
