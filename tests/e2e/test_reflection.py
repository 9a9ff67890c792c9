#!/usr/bin/env python3
"""The reflection cap and the mint limits (issue 9), with spoofed sources.

    python3 tests/e2e/test_reflection.py --stunringd build/tools/stunringd --backend uring

Spoofing is done on loopback only: a raw socket (IP_HDRINCL) writes IPv4
packets whose sources lie in 127.0.0.0/8 and whose destination is the
server on 127.0.0.1. Needs CAP_NET_RAW (the tests run as root).

  victim   5,000 unauthenticated requests (Binding, classic Binding, and
           ones with an unknown comprehension-required attribute, which get
           420) spoofed from one victim address, its source ports spread so
           that SO_REUSEPORT hands them to every worker. Sockets bound at the
           victim address count what arrives: at most --rate-burst (+ workers
           - 1 of rounding) + --rate-limit x the seconds it took, and the
           server counts the rest as drop_rate_limited, not as answers. A
           client at another address is still answered. On a server without
           the cap, all 5,000 arrived (the issue's measurement).
  churn    one million distinct spoofed sources: the server's RSS stays
           within a few MiB of what it was (the tables are allocated and
           touched at start) and every worker still answers a fresh client.
  mint     TLS clients bound at 20 addresses of one /24 (--rate-prefix4 24)
           mint from a table of 1,000 with --mint-share 5: the /24 holds at
           most 50 credentials, and mints at most a tenth of that at once;
           the rest get 500, counted reject_mint_share; another /24 still
           mints. (IPv6 /64 keying cannot be spoofed on ::1: the unit tests
           test_ratelimit and test_credentials rotate the low 64 bits.)
"""

import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

WORKERS = 2
RATE = 50  # --rate-limit of the victim server
BURST = 200  # --rate-burst
VICTIM = "127.55.1.1"
VICTIM_PORTS = 16  # sockets at the victim address: source ports SO_REUSEPORT spreads
SPOOFED = 5000
BYSTANDER = "127.55.9.9"
CHURN = 1_000_000
CHURN_TABLE = 65536  # --rate-table of the churn server: far fewer than the sources
RSS_SLACK_KIB = 4096
MINT_TABLE = 1000
MINT_SHARE = 5  # percent: 50 credentials, a burst of 5
MINT_TRIES = 20
UNKNOWN_ATTR = 0x0031  # comprehension-required, unknown to the server: 420


def raw_socket():
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def spoofed(src, sport, dst, dport, payload):
    """An IPv4+UDP packet from src:sport; the kernel fills the IP checksum,
    length and id; a UDP checksum of 0 means none (RFC 768)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, socket.IPPROTO_UDP,
                     0, socket.inet_aton(src), socket.inet_aton(dst))
    return bytearray(ip + udp)


def requests():
    """The unauthenticated kinds the cap must charge alike: success answers
    (modern and classic) and an error (420)."""
    plain, _ = sl.build()
    classic, _ = sl.build(classic=True)
    unknown, _ = sl.build(attrs=[sl.attr(UNKNOWN_ATTR, b"\0\0\0\0")])
    return [plain, classic, unknown]


def count_arrivals(socks, quiet=1.0, limit=20.0):
    """Datagrams arriving on socks until none came for `quiet` seconds
    (bounded by `limit` seconds and 100,000 datagrams)."""
    for s in socks:
        s.setblocking(False)
    n = 0
    deadline = time.monotonic() + limit
    last = time.monotonic()
    while time.monotonic() < deadline and n < 100_000:
        got = 0
        for s in socks:
            for _ in range(1000):
                try:
                    s.recv(2048)
                except BlockingIOError:
                    break
                got += 1
        n += got
        now = time.monotonic()
        if got:
            last = now
        elif now - last >= quiet:
            break
        else:
            time.sleep(0.01)
    return n


def victim(c, srv):
    socks = [sl.udp_socket(VICTIM) for _ in range(VICTIM_PORTS)]
    ports = [s.getsockname()[1] for s in socks]
    kinds = requests()
    dport = srv.primary[1]
    packets = [spoofed(VICTIM, ports[i % VICTIM_PORTS], "127.0.0.1", dport,
                       kinds[i % len(kinds)]) for i in range(SPOOFED)]
    raw = raw_socket()
    before = srv.stats()
    t0 = time.monotonic()
    for i, p in enumerate(packets):
        raw.sendto(p, ("127.0.0.1", 0))
        if i % 500 == 499:
            time.sleep(0.005)  # the server's queue, not the cap, must not be the limit
    arrived = count_arrivals(socks)
    took = time.monotonic() - t0
    after = srv.stats_until(lambda st: st.delta(before, "rx") >= SPOOFED, timeout=5)
    raw.close()
    bound = BURST + WORKERS - 1 + RATE * took
    rx = after.delta(before, "rx")
    limited = after.delta(before, "drop_rate_limited")
    answered = after.delta(before, "answered_success") + after.delta(before, "answered_error")
    c.eq(f"victim: the server received the {SPOOFED} spoofed requests", rx, SPOOFED)
    c.check(f"victim: at most burst {BURST} + {WORKERS - 1} + {RATE}/s x {took:.1f} s = "
            f"{bound:.0f} answers reach {VICTIM}", arrived <= bound,
            f"{arrived} arrived", f"{arrived}")
    c.check("victim: the cap let the burst through (the count is not vacuous)",
            arrived >= BURST // 2, f"{arrived} arrived")
    c.eq("victim: what arrived is what the server counted as answers", arrived, answered)
    c.eq("victim: the rest counted drop_rate_limited, not as answers", limited, rx - answered)
    c.check("victim: 420s were charged too (error answers and drops both)",
            after.delta(before, "reject_unknown_attr") > 0 and limited > 0,
            f"reject_unknown_attr +{after.delta(before, 'reject_unknown_attr')}")
    with sl.udp_socket(BYSTANDER) as s:
        msg, tid = sl.build()
        m, _ = sl.transact(s, msg, tid, srv.primary)
        c.check(f"victim: a client at another address ({BYSTANDER}) is still answered",
                m is not None and m.type == sl.BINDING_SUCCESS)
    for s in socks:
        s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise sl.ServerError(f"no VmRSS for pid {pid}")


def churn_source(i):
    return f"127.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def send_churn(dport, first, count):
    """count spoofed Binding Requests, each from its own address."""
    msg, _ = sl.build()
    pkt = spoofed(churn_source(first), 40000, "127.0.0.1", dport, msg)
    raw = raw_socket()
    for i in range(first, first + count):
        pkt[13] = 64 + (i >> 16)
        pkt[14] = (i >> 8) & 255
        pkt[15] = i & 255
        raw.sendto(pkt, ("127.0.0.1", 0))
        if i % 20000 == 0:
            time.sleep(0.01)  # lets the workers keep up on a shared machine
    raw.close()


def every_worker_answers(c, srv, label):
    """Fresh sockets (new source ports) until every worker's rx moved and
    each of them was answered; at most 64 sockets."""
    before = srv.stats()
    unanswered = 0
    moved = set()
    for n in range(64):
        with sl.udp_socket("127.58.0.1") as s:
            msg, tid = sl.build()
            m, _ = sl.transact(s, msg, tid, srv.primary)
            unanswered += m is None
        st = srv.stats()
        moved = {w for w, (rx, _) in st.workers.items() if rx > before.workers[w][0]}
        if len(moved) == WORKERS:
            break
    c.eq(f"{label}: every worker received a fresh client", sorted(moved), list(range(WORKERS)))
    c.eq(f"{label}: and every one of those clients was answered", unanswered, 0)


def churn(c, srv):
    dport = srv.primary[1]
    send_churn(dport, CHURN, 50_000)  # warm-up: buffers, slots and rings in use once
    time.sleep(0.5)
    rss0 = rss_kib(srv.proc.pid)
    before = srv.stats()
    send_churn(dport, 0, CHURN)
    after = srv.stats_until(lambda st: st.delta(before, "rx") >= CHURN, timeout=10)
    rss1 = rss_kib(srv.proc.pid)
    rx = after.delta(before, "rx")
    c.check(f"churn: most of the {CHURN} spoofed sources reached the server",
            rx >= CHURN // 2, f"rx +{rx}", f"rx +{rx}")
    c.check(f"churn: RSS flat: {rss0} KiB -> {rss1} KiB (within {RSS_SLACK_KIB} KiB)",
            rss1 - rss0 <= RSS_SLACK_KIB, f"grew {rss1 - rss0} KiB")
    c.eq("churn: each source is a new client: none was capped",
         after.delta(before, "drop_rate_limited"), 0)
    every_worker_answers(c, srv, "churn")


def mint_from(src, tls_ep, ctx):
    """One Shared Secret Request over TLS from src; the answer's (type, code)."""
    raw = socket.create_connection(tls_ep, timeout=5, source_address=(src, 0))
    with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.settimeout(5)
        m = sl.shared_secret_over(conn)
        sl.tls_close(conn)
    return None if m is None else (m.type, m.error()[0] if m.error() else None)


def mint(c, srv):
    ctx = sl.tls_context(srv.cert)
    before = srv.stats()
    got = [mint_from(f"127.60.0.{i + 1}", srv.tls_ep, ctx) for i in range(MINT_TRIES)]
    after = srv.stats()
    ok = sum(1 for g in got if g is not None and g[0] == sl.SHARED_SECRET_SUCCESS)
    share = MINT_TABLE * MINT_SHARE // 100
    c.check(f"mint: {MINT_TRIES} addresses of one /24 mint at most a tenth of its share of "
            f"{share} at once (+1 of refill)", 1 <= ok <= share // 10 + 1, str(got), f"{ok}")
    c.check("mint: the rest are Shared Secret Errors with 500",
            all(g == (sl.SHARED_SECRET_ERROR, 500) for g in got[ok:]), str(got[ok:]))
    c.eq("mint: counted reject_mint_share", after.delta(before, "reject_mint_share"),
         MINT_TRIES - ok)
    g = mint_from("127.61.0.1", srv.tls_ep, ctx)
    c.eq("mint: another /24 still mints", g and g[0], sl.SHARED_SECRET_SUCCESS)


def run_server(c, args, name, extra, fn, tls=False):
    srv = sl.Server(args.stunringd, args.backend, alt=(), workers=WORKERS, tcp=False, name=name,
                    extra=extra, tls=tls)
    try:
        srv.start()
        c.run(name, fn, c, srv)
    except sl.ServerError as e:
        c.fail(f"{name}: server", str(e))
    finally:
        sl.stop_and_check(c, srv)


def main():
    args = sl.parse_args(__doc__)
    c = sl.Checks(f"test_reflection ({args.backend}): {args.stunringd}")
    run_server(c, args, "victim", ["--rate-limit", str(RATE), "--rate-burst", str(BURST)], victim)
    run_server(c, args, "churn", ["--rate-table", str(CHURN_TABLE)], churn)
    run_server(c, args, "mint", ["--max-credentials", str(MINT_TABLE), "--mint-share",
                                 str(MINT_SHARE), "--mint-rate", "0", "--rate-prefix4", "24"],
               mint, tls=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
