#!/usr/bin/env python3
"""stunringd across a real link: two network namespaces this test makes,
joined by a veth pair, the server in one, the client in the other.

What loopback cannot show:
- a client at an IPv6 link-local address (fe80::/10) gets its answer: the
  answer must go back with the scope id (the interface) the request came
  in on;
- a request sent to the link's IPv4 broadcast address reaches the
  wildcard socket, and its answer leaves from the interface's own unicast
  address (IP_PKTINFO's ipi_spec_dst), not from the broadcast address.

Only addresses inside the two namespaces are used; both are deleted at
the end. Needs root (ip netns), as the rest of the suite does.
"""

import argparse
import atexit
import ctypes
import os
import socket
import subprocess
import sys
import threading

import stunlib as sl

CLONE_NEWNET = 0x40000000
SERVER_V4, CLIENT_V4, BROADCAST_V4 = "10.213.0.1", "10.213.0.2", "10.213.0.255"
SERVER_LL, CLIENT_LL = "fe80::1", "fe80::2"


def ip(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    subprocess.run(cmd, check=True, timeout=30, stdout=subprocess.DEVNULL)


def make_link():
    """Two namespaces, server and client, and a veth between them."""
    tag = f"stunring-e2e-{os.getpid()}"
    srv_ns, cli_ns = f"{tag}-srv", f"{tag}-cli"
    for ns in (srv_ns, cli_ns):
        ip("ip", "netns", "add", ns)
        atexit.register(subprocess.run, ["ip", "netns", "delete", ns], timeout=30)
        ip("ip", "link", "set", "lo", "up", ns=ns)
    ip("ip", "link", "add", "s0", "netns", srv_ns, "type", "veth", "peer", "name", "c0", "netns",
       cli_ns)
    for ns, dev, v4, ll in ((srv_ns, "s0", SERVER_V4, SERVER_LL),
                            (cli_ns, "c0", CLIENT_V4, CLIENT_LL)):
        ip("ip", "addr", "add", f"{v4}/24", "brd", BROADCAST_V4, "dev", dev, ns=ns)
        ip("ip", "-6", "addr", "add", f"{ll}/64", "dev", dev, "nodad", ns=ns)
        ip("ip", "link", "set", dev, "up", ns=ns)
    return srv_ns, cli_ns


def socket_in(ns, family):
    """A UDP socket created inside namespace ns (setns in a thread of its
    own: a socket stays in the namespace it was made in)."""
    libc = ctypes.CDLL(None, use_errno=True)
    box = {}

    def make():
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                box["error"] = OSError(ctypes.get_errno(), "setns")
                return
            box["sock"] = socket.socket(family, socket.SOCK_DGRAM)
        finally:
            os.close(fd)

    t = threading.Thread(target=make)
    t.start()
    t.join(10)
    if "sock" not in box:
        raise box.get("error", RuntimeError("setns thread did not finish"))
    return box["sock"]


def ifindex_in(ns, dev):
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/ifindex"],
                         check=True, timeout=30, capture_output=True, text=True).stdout
    return int(out)


class NsServer(sl.Server):
    """stunringd inside a namespace; `ip netns exec` execs it, so the PID
    the test signals is stunringd's own."""

    def __init__(self, ns, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ns = ns

    def command(self):
        return ["ip", "netns", "exec", self.ns] + super().command()


def answer_to(sock, msg, tid, timeout=1.0):
    """The first answer to tid and the address it came from, or (None, None)."""
    sock.settimeout(timeout)
    for _ in range(20):  # bounded: strays are skipped
        try:
            data, src = sock.recvfrom(2048)
        except socket.timeout:
            return None, None
        try:
            m = sl.parse(data)
        except sl.StunError:
            continue
        if m.tid == tid:
            return m, src
    return None, None


def check_link_local(c, srv, cli_ns):
    sock = socket_in(cli_ns, socket.AF_INET6)
    scope = ifindex_in(cli_ns, "c0")
    sock.bind((CLIENT_LL, 0, 0, scope))
    port = sock.getsockname()[1]
    msg, tid = sl.build()
    got = None
    for _ in range(3):
        sock.sendto(msg, (SERVER_LL, srv.p1, 0, scope))
        got, _src = answer_to(sock, msg, tid)
        if got is not None:
            break
    c.check("link-local client: answered", got is not None and got.type == sl.BINDING_SUCCESS,
            srv.log()[-1500:])
    if got is not None:
        c.eq("link-local client: XOR-MAPPED-ADDRESS is its fe80:: address and port",
             got.xor_addr(), (CLIENT_LL, port))
    sock.close()


def check_broadcast(c, srv, cli_ns):
    sock = socket_in(cli_ns, socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind((CLIENT_V4, 0))
    msg, tid = sl.build()
    got = src = None
    for _ in range(3):
        sock.sendto(msg, (BROADCAST_V4, srv.p1))
        got, src = answer_to(sock, msg, tid)
        if got is not None:
            break
    c.check("request to the broadcast address: answered", got is not None, srv.log()[-1500:])
    if got is not None:
        c.eq("broadcast request: the answer leaves from the interface's unicast address",
             src, (SERVER_V4, srv.p1))
    sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--backend", required=True, choices=("uring", "mmsg"))
    a = ap.parse_args()
    c = sl.Checks(f"across a veth link ({a.backend})")
    srv_ns, cli_ns = make_link()
    srv = NsServer(srv_ns, a.stunringd, a.backend, listen=("0.0.0.0", "::"), alt=(), workers=1,
                   tcp=False, name="netns")
    srv.start()
    c.run("IPv6 link-local client", check_link_local, c, srv, cli_ns)
    c.run("IPv4 broadcast request", check_broadcast, c, srv, cli_ns)
    sl.stop_and_check(c, srv)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
