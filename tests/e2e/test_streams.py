#!/usr/bin/env python3
"""stunringd's front thread (STUN over TCP and TLS) against hostile
clients, end to end: long messages, per-client connection caps, TLS
handshake floods.

    python3 tests/e2e/test_streams.py --stunringd build/tools/stunringd --backend uring

Clients bind their sockets to 127.0.0.2, 127.0.0.3, ... before they
connect, so that each is another client (/32 by --rate-prefix4's default)
on loopback. First the two flags (--help, --print-config, bad values);
then servers (loopback, ports chosen free, stopped by PID):
  long   TLS: messages at, over and far over the 2,048-byte bound: the last
         one answered whole, longer requests answered 400 "Message too
         long" with the connection kept in step, indications skipped;
  caps   --stream-max-per-client 4: a client's fifth TCP and fifth TLS
         connection are closed at once and counted, while another client
         still mints a credential over TLS and gets a TCP Binding answer;
         a closed connection gives its place back;
  flood  --tls-handshake-rate 1: one client opening TLS connections as fast
         as it can is refused past its budget (counted), and another
         client's handshake, minting and TCP Binding go through meanwhile.
Loops are bounded in count and time; nothing asserts a duration.
Prints one line per check and "N passed, M failed"; exit 1 on any failure.
"""

import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

WAIT = 3.0  # seconds to wait for one answer or one handshake
BOUND = 2048  # the longest stream message answered whole (io/front/tcp.c TCP_MAX_MESSAGE)
OPTIONAL_ATTR = 0x8FF0  # comprehension-optional, unknown: ignored by the server
PER_CLIENT = 4  # --stream-max-per-client of the caps server
EXTRA = 4  # connections a capped client tries past its cap
FLOOD_TRIES = 20000  # handshakes the flooder attempts at most (it stops when told)
FLOOD_SECONDS = 20.0  # and for this long at most
HOLDER, OTHER, FLOODER, VICTIM = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"


def sized_request(total, msg_type=sl.BINDING_REQUEST):
    """A request (or other type) of exactly total bytes: one optional attribute."""
    msg, tid = sl.build(msg_type, attrs=[sl.attr(OPTIONAL_ATTR, b"\x5a" * (total - 24))])
    assert len(msg) == total, len(msg)
    return msg, tid


def connect_from(src, dest, timeout=WAIT):
    """A TCP connection to dest from the address src (any port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect(dest)
    except BaseException:
        s.close()
        raise
    return s


def tls_from(src, dest, ctx, timeout=WAIT):
    """A TLS connection from src, handshake done; raises if it failed."""
    raw = connect_from(src, dest, timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def closed_by_server(conn, timeout=WAIT):
    """True when the server closes conn (end of stream or reset) without
    answering the Binding sent on it; False on an answer or a silence."""
    msg, _ = sl.build()
    try:
        conn.sendall(msg)
    except OSError:
        return True  # already reset
    conn.settimeout(timeout)
    try:
        return conn.recv(64) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, OSError):
        return False


def binding_over(conn, timeout=WAIT):
    """A Binding Request on an open stream; its answer (a Message) or None."""
    msg, tid = sl.build()
    conn.sendall(msg)
    m = sl.recv_stream_message(conn, timeout)
    return m if m is not None and m.tid == tid else None


def mint_from(src, dest, ctx):
    """A credential minted over TLS from src: the answer, or None."""
    with tls_from(src, dest, ctx) as conn:
        m = sl.shared_secret_over(conn, WAIT)
        sl.tls_close(conn)
    return m


class Streams:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args
        self.servers = []
        self.sockets = []

    def server(self, name, extra=()):
        srv = sl.Server(self.args.stunringd, self.args.backend, name=name, extra=list(extra),
                        tls=True, alt=())
        self.servers.append(srv)
        srv.start()
        return srv

    def keep(self, conn):
        self.sockets.append(conn)
        return conn

    def deltas(self, label, srv, before, want):
        """Counters once each name of want has moved that much (bounded), then exact."""
        after = srv.stats_until(
            lambda st: all(st.delta(before, k) >= v for k, v in want.items()), WAIT)
        for name, n in want.items():
            self.c.eq(f"{label}: counter {name} +{n}", after.delta(before, name), n)

    def other_client_served(self, label, srv):
        """Another client mints over TLS and gets a TCP Binding answer."""
        c = self.c
        try:
            m = mint_from(OTHER, srv.tls_ep, sl.tls_context(srv.cert))
        except (OSError, ssl.SSLError) as e:
            m = None
            c.fail(f"{label}: {OTHER} mints a credential over TLS", f"{type(e).__name__}: {e}")
        else:
            c.check(f"{label}: {OTHER} mints a credential over TLS",
                    m is not None and m.type == sl.SHARED_SECRET_SUCCESS,
                    "no answer" if m is None else f"{m.describe()} error {m.error()}")
        with connect_from(OTHER, srv.primary) as conn:
            m = binding_over(conn)
        c.check(f"{label}: {OTHER} gets a TCP Binding answer",
                m is not None and m.type == sl.BINDING_SUCCESS,
                "no answer" if m is None else m.describe())

    # ------------------------------------------------------------ 0. the flags

    def flags(self):
        c, exe = self.c, self.args.stunringd

        def run(args):
            p = subprocess.run([exe] + args, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=20)
            return p.returncode, p.stdout + p.stderr

        code, out = run(["--help"])
        for flag, default in (("--stream-max-per-client", 64), ("--tls-handshake-rate", 20)):
            text = out[out.find(flag):]
            text = text[:text.find("\n  --")]
            c.check(f"--help documents {flag} and its default ({default})",
                    code == 0 and f"(default: {default})" in text, text or out[-500:])
        code, out = run(["--print-config", "--listen", "127.0.0.1", "--stream-max-per-client",
                         "7", "--tls-handshake-rate", "0"])
        c.check("--print-config shows both", code == 0 and "stream-max-per-client 7\n" in out
                and "tls-handshake-rate 0\n" in out, out)
        for args in (["--stream-max-per-client", "-1"], ["--stream-max-per-client", "65537"],
                     ["--tls-handshake-rate", "fast"], ["--tls-handshake-rate"]):
            code, out = run(args)
            c.check(f"{' '.join(args)}: exit 2 naming the flag", code == 2 and args[0] in out,
                    f"exit {code}: {out[-300:]}")

    # ------------------------------------------------------------ 1. long messages

    def long_on(self, label, conn, srv):
        c = self.c
        msg, tid = sized_request(BOUND)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn, WAIT)
        c.check(f"{label}: a {BOUND}-byte Binding Request is answered",
                m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS,
                "no answer" if m is None else m.describe())
        before = srv.stats()
        msg, tid = sized_request(BOUND + 4)
        conn.sendall(msg)
        m = sl.recv_stream_message(conn, WAIT)
        if c.check(f"{label}: a {BOUND + 4}-byte Binding Request is answered", m is not None,
                   "no answer: the connection was closed or stalled"):
            c.eq(f"{label}: ... with a Binding Error Response", m.type, sl.BINDING_ERROR)
            c.eq(f"{label}: ... for its transaction", m.tid, tid)
            c.eq(f"{label}: ... 400 'Message too long'", m.error(), (400, "Message too long"))
        m = binding_over(conn)
        c.check(f"{label}: the same connection answers the next request (in step)",
                m is not None and m.type == sl.BINDING_SUCCESS,
                "no answer" if m is None else m.describe())
        self.deltas(label, srv, before, {"stream_too_long": 1, "tcp_garbage_closed": 0})

    def long_messages(self, srv):
        c = self.c
        with socket.create_connection(srv.primary, timeout=WAIT) as conn:
            self.long_on("TCP", conn, srv)
            # The largest a header can announce, sent in pieces, then a
            # Binding Request right behind it in the same stream.
            before = srv.stats()
            big, big_tid = sized_request(sl.HEADER_LEN + 65532)
            small, small_tid = sl.build()
            data = big + small
            for i in range(0, len(data), 4096):
                conn.sendall(data[i:i + 4096])
            first = sl.recv_stream_message(conn, WAIT)
            second = sl.recv_stream_message(conn, WAIT)
            c.check("TCP: a 65,552-byte request is answered 400",
                    first is not None and first.tid == big_tid
                    and first.error() == (400, "Message too long"),
                    "no answer" if first is None else f"{first.describe()} {first.error()}")
            c.check("TCP: ... and the request behind it answered",
                    second is not None and second.tid == small_tid
                    and second.type == sl.BINDING_SUCCESS,
                    "no answer" if second is None else second.describe())
            # An over-long indication: skipped, counted, never answered.
            ind, _ = sized_request(3000, sl.BINDING_INDICATION)
            req, tid = sl.build()
            conn.sendall(ind + req)
            m = sl.recv_stream_message(conn, WAIT)
            c.check("TCP: an over-long indication gets nothing; the next request its answer",
                    m is not None and m.tid == tid and m.type == sl.BINDING_SUCCESS,
                    "no answer" if m is None else m.describe())
            self.deltas("TCP", srv, before, {"stream_too_long": 2})
        with sl.tls_connect(srv.tls_ep, sl.tls_context(srv.cert), WAIT) as conn:
            self.long_on("TLS", conn, srv)
            sl.tls_close(conn)

    # ------------------------------------------------------------ 2. per-client caps

    def hold(self, kind, srv, ctx):
        """HOLDER opens PER_CLIENT connections of kind, each answering a
        Binding; returns them (their number is checked)."""
        held = []
        for _ in range(PER_CLIENT):
            try:
                conn = (connect_from(HOLDER, srv.primary) if kind == "TCP"
                        else tls_from(HOLDER, srv.tls_ep, ctx))
            except (OSError, ssl.SSLError):
                break
            held.append(self.keep(conn))
            if binding_over(conn) is None:
                break
        self.c.eq(f"{kind}: {HOLDER} opens {PER_CLIENT} connections, each answered",
                  len(held), PER_CLIENT)
        return held

    def refused_tls(self, srv, ctx):
        """True when a TLS connection from HOLDER fails its handshake."""
        try:
            conn = self.keep(tls_from(HOLDER, srv.tls_ep, ctx))
        except (OSError, ssl.SSLError):
            return True
        return closed_by_server(conn)

    def caps(self, srv):
        c = self.c
        ctx = sl.tls_context(srv.cert)
        before = srv.stats()
        tcp = self.hold("TCP", srv, ctx)
        refused = sum(closed_by_server(self.keep(connect_from(HOLDER, srv.primary)))
                      for _ in range(EXTRA))
        c.eq(f"TCP: {HOLDER}'s {EXTRA} connections past the cap are closed unanswered",
             refused, EXTRA)
        tls = self.hold("TLS", srv, ctx)
        refused = sum(self.refused_tls(srv, ctx) for _ in range(EXTRA))
        c.eq(f"TLS: {HOLDER}'s {EXTRA} connections past the cap fail their handshake",
             refused, EXTRA)
        self.deltas("caps", srv, before, {"tcp_refused_client": EXTRA,
                                          "tls_refused_client": EXTRA,
                                          "tls_handshake_failed": 0, "tls_handshakes": PER_CLIENT})
        self.other_client_served(f"while {HOLDER} holds its caps", srv)
        # A closed connection gives its place back (the close is seen
        # asynchronously: a bounded number of tries).
        for conns in (tcp, tls):
            if conns:
                conns.pop().close()
        got_tcp = got_tls = False
        for _ in range(50):
            if not got_tcp:
                conn = self.keep(connect_from(HOLDER, srv.primary))
                got_tcp = binding_over(conn, 0.5) is not None
            if not got_tls:
                try:
                    conn = self.keep(tls_from(HOLDER, srv.tls_ep, ctx, 0.5))
                    got_tls = binding_over(conn, 0.5) is not None
                except (OSError, ssl.SSLError):
                    pass
            if got_tcp and got_tls:
                break
            time.sleep(0.05)
        c.check(f"TCP: after {HOLDER} closes one, it may open another", got_tcp)
        c.check(f"TLS: after {HOLDER} closes one, it may open another", got_tls)

    # ------------------------------------------------------------ 3. handshake flood

    def flood(self, srv):
        c = self.c
        ctx = sl.tls_context(srv.cert)
        before = srv.stats()
        done = threading.Event()
        tally = {"ok": 0, "refused": 0}

        def flooder():
            deadline = time.monotonic() + FLOOD_SECONDS
            for _ in range(FLOOD_TRIES):
                if done.is_set() or time.monotonic() > deadline:
                    break
                try:
                    with tls_from(FLOODER, srv.tls_ep, ctx):
                        tally["ok"] += 1
                except (OSError, ssl.SSLError):
                    tally["refused"] += 1

        t = threading.Thread(target=flooder, daemon=True)
        t.start()
        try:
            # Meanwhile, once the flooder has been refused: another client.
            for _ in range(200):
                if tally["refused"] > 0 or not t.is_alive():
                    break
                time.sleep(0.02)
            c.check(f"{FLOODER} flooding handshakes is refused past --tls-handshake-rate",
                    tally["refused"] > 0, f"{tally}")
            self.other_client_served(f"while {FLOODER} floods", srv)
            try:
                with tls_from(VICTIM, srv.tls_ep, ctx) as conn:
                    m = binding_over(conn)
            except (OSError, ssl.SSLError) as e:
                m = None
                c.fail(f"{VICTIM}: TLS Binding during the flood", f"{type(e).__name__}: {e}")
            c.check(f"{VICTIM}: a TLS handshake and Binding during the flood",
                    m is not None and m.type == sl.BINDING_SUCCESS,
                    "no answer" if m is None else m.describe())
            c.check("the flood went on all along", t.is_alive(),
                    f"the flooder stopped first ({tally}): raise FLOOD_TRIES or FLOOD_SECONDS")
        finally:
            done.set()
            t.join(FLOOD_SECONDS + 2 * WAIT)
        after = srv.stats()
        c.check("flood: refusals counted as tls_refused_handshake_rate",
                after.delta(before, "tls_refused_handshake_rate") >= tally["refused"] > 0,
                f"counter {after.delta(before, 'tls_refused_handshake_rate')}, seen {tally}",
                f"{after.delta(before, 'tls_refused_handshake_rate')} refused, "
                f"{tally['ok']} let through")
        c.eq("flood: no refusal spent a handshake", after.delta(before, "tls_handshake_failed"),
             0)

    # ------------------------------------------------------------ run

    def run(self):
        c = self.c
        c.run("0. --stream-max-per-client and --tls-handshake-rate", self.flags)
        groups = [
            ("1. stream messages over 2,048 bytes", "long", [], self.long_messages),
            ("2. per-client connection caps", "caps",
             ["--stream-max-per-client", str(PER_CLIENT), "--tls-handshake-rate", "0"],
             self.caps),
            ("3. a TLS handshake flood from one client", "flood",
             ["--tls-handshake-rate", "1", "--stream-max-per-client", "0"], self.flood),
        ]
        try:
            for name, server, flags, fn in groups:
                c.run(name, self.with_server, server, flags, fn)
        finally:
            self.stop_all()

    def with_server(self, name, flags, fn):
        """Starts the group's own server, runs the group, checks it survived."""
        srv = self.server(name, flags)
        fn(srv)
        self.c.check(f"{name}: still running after its checks", srv.alive(),
                     f"exit {srv.proc.poll()}")

    def stop_all(self):
        sl.close_all(self.c, self.sockets, self.servers)


def main():
    return sl.run_suite(Streams, "test_streams")


if __name__ == "__main__":
    sys.exit(main())
