#!/usr/bin/env python3
"""stunringd judged by clients and a dissector that no one here wrote.

    python3 tests/e2e/test_clients.py --stunringd build/tools/stunringd --backend uring

  - Debian's `stun` (package stun-client, RFC 3489): "Open" (no NAT), every
    test answered, CHANGED-ADDRESS = the alternate endpoint A2:P2; against
    a single-address server, test I (CHANGE-REQUEST 0) learns the mapped
    address;
  - coturn's turnutils_stunclient (plain and -f, RFC 5780 mode) and
    turnutils_natdiscovery -m -f: endpoint-independent mapping and filtering;
  - tshark (Wireshark's STUN dissectors) on a loopback capture of a mix of
    classic, modern, CHANGE-REQUEST and error-provoking requests, signed
    short-term Bindings, a long-term challenge, a 438 and a USERHASH +
    MESSAGE-INTEGRITY-SHA256 success: every one of our answers recognised as
    STUN, none malformed, no expert warning.

A missing client is a failure, not a skip: tools/dev setup installs them.
Capturing needs root (CI runs as root).
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402


def run_tool(checks, label, argv, timeout=30):
    """Runs a client, bounded; prints what it printed. Returns (rc, out) or
    (None, out) when it is missing or hung."""
    exe = shutil.which(argv[0])
    if exe is None:
        checks.fail(f"{label}: {argv[0]} installed",
                    f"{argv[0]} not found in PATH: run tools/dev setup (packages stun-client, "
                    f"coturn, tshark)")
        return None, ""
    print(f"# $ {' '.join(argv)}", flush=True)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        rc = p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        checks.fail(f"{label}: finishes within {timeout}s", "hung (killed); output so far:\n" + out)
        return None, out
    for line in out.splitlines():
        print(f"#   | {line}")
    print(f"#   exit {rc}", flush=True)
    return rc, out


# ---------------------------------------------------------------- stun-client

def stun_client(checks, srv):
    """Debian's stun client (Vovida, RFC 3489 NAT classification)."""
    a1p1, a2p2 = srv.ep("A1P1"), srv.ep("A2P2")
    # It opens the source port and the next one, on every address.
    cport = sl.free_ports(["0.0.0.0"], [], count=2, consecutive=True)[0]
    rc, out = run_tool(checks, "stun", ["stun", f"{a1p1[0]}:{a1p1[1]}", "-v", "-p", str(cport)])
    if rc is None:
        return
    # Exit status = its NAT type code: Open is 0x00; bit 0x01 = preserves
    # ports, 0x10 = no hairpin (client.cxx). Failure is -1 (255).
    checks.check("stun: exits with the 'Open' type code (status & 0x0e == 0)",
                 rc != 255 and (rc & 0x0E) == 0, f"exit {rc}", f"exit {rc}")
    checks.check("stun: reports 'Primary: Open' (no NAT, open Internet)",
                 re.search(r"^Primary: Open\b", out, re.M) is not None,
                 "no 'Primary: Open' line", "Primary: Open")
    for test in ("test I = 1", "test II = 1", "test III = 1", "test I(2) = 1", "is nat  = 0"):
        checks.check(f"stun: verbose '{test}'", test in out, "missing")

    # Its answers, one block per "Received message of type T  id=N".
    answers = {}
    block = {}
    for line in out.splitlines():
        m = re.match(r"(MappedAddress|SourceAddress|ChangedAddress) = (\S+)", line.strip())
        if m:
            block[m.group(1)] = m.group(2)
        m = re.match(r"Received message of type (\d+)\s+id=(\d+)", line.strip())
        if m:
            answers.setdefault(int(m.group(2)), dict(block, type=int(m.group(1))))
            block = {}
    ep = lambda e: f"{e[0]}:{e[1]}"  # noqa: E731
    a1 = answers.get(1, {})
    checks.eq("stun: test I answer: MappedAddress = its own address",
              a1.get("MappedAddress"), f"127.0.0.1:{cport}")
    checks.eq("stun: test I answer: SourceAddress = A1:P1", a1.get("SourceAddress"), ep(a1p1))
    checks.eq("stun: test I answer: CHANGED-ADDRESS = the alternate endpoint A2:P2",
              a1.get("ChangedAddress"), ep(a2p2))
    checks.eq("stun: test II (change IP) answered from A2:P1",
              answers.get(2, {}).get("SourceAddress"), ep(srv.ep("A2P1")))
    checks.eq("stun: test III (change port) answered from A1:P2",
              answers.get(3, {}).get("SourceAddress"), ep(srv.ep("A1P2")))
    checks.eq("stun: test I(2) (sent to A2:P1) answered from A2:P1, CHANGED-ADDRESS A1:P2",
              (answers.get(10, {}).get("SourceAddress"), answers.get(10, {}).get("ChangedAddress")),
              (ep(srv.ep("A2P1")), ep(srv.ep("A1P2"))))


def stun_client_single(checks, single):
    """Issue 9 item 6: Debian's stun test I (CHANGE-REQUEST with no flag set)
    against the default single-address configuration is answered, and the
    client prints the mapped address (it used to get 420 and learn nothing)."""
    a1p1 = single.ep("A1P1")
    cport = sl.free_ports(["0.0.0.0"], [], count=2, consecutive=True)[0]
    rc, out = run_tool(checks, "stun test I, single-address",
                       ["stun", f"{a1p1[0]}:{a1p1[1]}", "1", "-v", "-p", str(cport)])
    if rc is None:
        return
    checks.check("stun test I vs single-address: sends CHANGE-REQUEST 0",
                 "Encoding ChangeRequest: 0" in out, "no 'Encoding ChangeRequest: 0' line")
    m = re.search(r"^\s*MappedAddress = (\S+)", out, re.M)
    checks.eq("stun test I vs single-address: prints the mapped address",
              m.group(1) if m else None, f"127.0.0.1:{cport}")
    checks.check("stun test I vs single-address: the test succeeds (ok=1)",
                 re.search(r"^\s*ok=1\b", out, re.M) is not None, "no 'ok=1' line")


# ---------------------------------------------------------------- coturn

RESP_RE = re.compile(r"RFC 5780 response (\d+)")


def coturn_blocks(out):
    """turnutils output split per answer: [{'origin':..., 'other':..., 'reflexive':...}]."""
    blocks, cur = [], None
    for line in out.splitlines():
        if line.startswith("=" * 10):
            continue
        if RESP_RE.search(line) or (cur is None and "UDP reflexive addr" in line):
            cur = {}
            blocks.append(cur)
        if cur is None:
            continue
        for key, pat in (("origin", r"Response origin: : (\S+)"),
                         ("other", r"Other addr: : (\S+)"),
                         ("reflexive", r"UDP reflexive addr: (\S+)")):
            m = re.search(pat, line)
            if m and key not in cur:
                cur[key] = m.group(1)
    return blocks


BAD_COTURN = re.compile(r"error|not a|Cannot|Wrong|timeout|not well formed", re.I)


def coturn_stunclient(checks, srv, single):
    a1p1 = srv.ep("A1P1")
    ep = lambda e: f"{e[0]}:{e[1]}"  # noqa: E731
    for mode in ("plain", "-f"):
        label = f"turnutils_stunclient {mode}"
        argv = ["turnutils_stunclient"] + (["-f"] if mode == "-f" else []) + \
            ["-p", str(a1p1[1]), a1p1[0]]
        rc, out = run_tool(checks, label, argv, timeout=20)
        if rc is None:
            continue
        checks.eq(f"{label}: exit 0", rc, 0)
        bad = [l for l in out.splitlines() if BAD_COTURN.search(l)]
        checks.check(f"{label}: no error or malformed-answer line", not bad, "; ".join(bad))
        blocks = coturn_blocks(out)
        # The server advertises OTHER-ADDRESS, so even plain mode goes on to
        # the RFC 5780 requests: plain, CHANGE-REQUEST ip+port with
        # RESPONSE-PORT, CHANGE-REQUEST ip+port with PADDING.
        checks.eq(f"{label}: three RFC 5780 answers", len(RESP_RE.findall(out)), 3)
        if len(blocks) >= 3:
            checks.eq(f"{label}: answer 1 from A1:P1, OTHER-ADDRESS A2:P2",
                      (blocks[0].get("origin"), blocks[0].get("other")), (ep(a1p1), ep(srv.ep("A2P2"))))
            checks.check(f"{label}: answer 1 reflexive address is 127.0.0.1:port",
                         re.fullmatch(r"127\.0\.0\.1:\d+", blocks[0].get("reflexive", "")) is not None,
                         str(blocks[0]), blocks[0].get("reflexive", ""))
            for i in (1, 2):
                checks.eq(f"{label}: answer {i + 1} (change IP and port) from A2:P2",
                          blocks[i].get("origin"), ep(srv.ep("A2P2")))
    # Against a single-address server: one plain answer, no RFC 5780.
    p = single.ep("A1P1")
    rc, out = run_tool(checks, "turnutils_stunclient plain, single-address server",
                       ["turnutils_stunclient", "-p", str(p[1]), p[0]], timeout=20)
    if rc is not None:
        blocks = coturn_blocks(out)
        checks.check("turnutils_stunclient vs single-address: one answer with a reflexive address, "
                     "no RFC 5780 answer",
                     rc == 0 and len(blocks) == 1 and "reflexive" in blocks[0]
                     and not RESP_RE.search(out), f"exit {rc}, blocks {blocks}",
                     blocks[0].get("reflexive", "") if blocks else "")


def coturn_natdiscovery(checks, srv):
    a1p1 = srv.ep("A1P1")
    rc, out = run_tool(checks, "turnutils_natdiscovery",
                       ["turnutils_natdiscovery", "-m", "-f", "-p", str(a1p1[1]), a1p1[0]],
                       timeout=30)
    if rc is None:
        return
    checks.eq("turnutils_natdiscovery: exit 0", rc, 0)
    checks.check("turnutils_natdiscovery: 'NAT with Endpoint Independent Mapping!'",
                 "NAT with Endpoint Independent Mapping!" in out, "conclusion missing")
    checks.check("turnutils_natdiscovery: 'NAT with Endpoint Independent Filtering!'",
                 "NAT with Endpoint Independent Filtering!" in out, "conclusion missing")
    dep = [l for l in out.splitlines() if "Dependent" in l or "timeout" in l]
    checks.check("turnutils_natdiscovery: no dependent behaviour, no timeout", not dep,
                 "; ".join(dep))
    blocks = coturn_blocks(out)
    ep = lambda e: f"{e[0]}:{e[1]}"  # noqa: E731
    # Mapping test II is sent to OTHER-ADDRESS's IP on the primary port.
    if len(blocks) >= 2:
        checks.eq("turnutils_natdiscovery: mapping test II answered from A2:P1 "
                  "with OTHER-ADDRESS A1:P2",
                  (blocks[1].get("origin"), blocks[1].get("other")),
                  (ep(srv.ep("A2P1")), ep(srv.ep("A1P2"))))


# ---------------------------------------------------------------- tshark

# Wireshark's expert severities (epan/proto.h).
PI_WARN = 0x00600000
# Wireshark's classicstun dissector defines Shared Secret Error Response as
# 0x1112 (epan/dissectors/packet-classicstun.c); RFC 3489 §11.1 says 0x0112,
# which is what we send. Such a frame is checked by our own parser instead.
SS_ERROR_HEX = "0112"


class Capture:
    def __init__(self, checks, path, bpf):
        self.checks = checks
        self.path = path
        self.bpf = bpf
        self.proc = None
        self.errpath = path + ".stderr"

    def start(self, timeout=20):
        argv = ["tshark", "-i", "lo", "-f", self.bpf, "-w", self.path, "-a", "duration:120"]
        if shutil.which("tshark") is None:
            raise RuntimeError("tshark not found in PATH: run tools/dev setup (package tshark)")
        print(f"# $ {' '.join(argv)}", flush=True)
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.err()
            if "Capture started" in text or "Capturing on" in text:
                time.sleep(0.5)  # dumpcap has the filter attached; let it settle
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"tshark exited {self.proc.returncode} at start "
                                   f"(capturing needs root): {text}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tshark did not start capturing within {timeout}s: {self.err()}")

    def err(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return
        time.sleep(0.3)  # the last answers reach the capture
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise RuntimeError(f"tshark still running {timeout}s after SIGINT: killed")


def tshark_traffic(srv):
    """A mix of requests; returns (udp answers received, tcp answers received)."""
    udp = 0
    s, s2 = sl.udp_socket(), sl.udp_socket()
    sock_list = [s, s2]
    p2 = s2.getsockname()[1]
    a1p1 = srv.ep("A1P1")
    victim = s2.getsockname()
    third_party = struct.pack("!BBH", 0, 1, victim[1]) + socket.inet_aton(victim[0])
    reqs = [
        sl.build(classic=True),
        sl.build(),
        sl.build(fingerprint=True),
        sl.build(attrs=[sl.attr(sl.SOFTWARE, b"e2e tshark")], fingerprint=True),
        sl.build(attrs=[sl.attr(0x8ABC, b"optional")]),
        sl.build(attrs=[sl.padding(200)]),
        sl.build(attrs=[sl.padding(120)], fingerprint=True),
        # error-provoking
        sl.build(attrs=[sl.padding(64), sl.response_port(p2)]),                # 400
        sl.build(attrs=[sl.attr(0x7ABC, b"abcd")]),                            # 420
        sl.build(attrs=[sl.attr(0x7ABC, b"abcd"), sl.attr(0x7ABD, b"efgh")], classic=True),
        sl.build(attrs=[sl.attr(0x7ABC, b"abcd")], fingerprint=True),          # 420 + FP
        sl.build(sl.SHARED_SECRET_REQUEST, classic=True),                      # 433
        sl.build(attrs=[sl.attr(sl.RESPONSE_ADDRESS, third_party)], classic=True),  # 401
        sl.build(attrs=[sl.attr(sl.RESPONSE_ADDRESS, third_party)]),           # 401
        # Canary: a classic request whose 1-byte attribute Wireshark's
        # classicstun (which ignores padding) calls malformed. It shows the
        # malformed check below can fire; the request is ours, not judged.
        sl.build(attrs=[sl.attr(0x7ABE, b"x")], classic=True),                 # 420
    ]
    for msg, tid in reqs:
        m, _ = sl.transact(s, msg, tid, a1p1)
        udp += m is not None
    for classic in (True, False):
        for ep_name in ("A1P1", "A1P2", "A2P1", "A2P2"):
            for flags in (0, sl.CHANGE_PORT, sl.CHANGE_IP, sl.CHANGE_IP | sl.CHANGE_PORT):
                msg, tid = sl.build(attrs=[sl.change_request(flags)], classic=classic,
                                    fingerprint=not classic and flags == 6)
                m, _ = sl.transact(s, msg, tid, srv.ep(ep_name))
                udp += m is not None
    msg, tid = sl.build(attrs=[sl.response_port(p2)])
    m, _ = sl.transact(s, msg, tid, a1p1, reply_sock=s2)
    udp += m is not None
    udp += authenticated_traffic(srv, s, a1p1)
    # TCP: RFC 8489 framing (RFC 3489 defines no Binding over TCP).
    tcp = 0
    conn = socket.create_connection(a1p1, timeout=5)
    batch = [sl.build(), sl.build(fingerprint=True), sl.build(attrs=[sl.attr(0x7ABC, b"abcd")])]
    conn.sendall(b"".join(b[0] for b in batch))
    for _ in batch:
        tcp += sl.recv_stream_message(conn) is not None
    conn.close()
    for x in sock_list:
        x.close()
    return udp, tcp


LT_USER, LT_PASSWORD, LT_REALM = "tshark-user", "tshark-password", "example.org"


def authenticated_traffic(srv, s, a1p1):
    """Signed exchanges over UDP for the dissector: a Shared Secret minted
    over TLS (not captured) then classic and modern Bindings with
    MESSAGE-INTEGRITY; the long-term challenge (401 with REALM, NONCE,
    PASSWORD-ALGORITHMS), a 438, and a USERHASH + MESSAGE-INTEGRITY-SHA256
    success. Returns the answers received."""
    got = 0
    cred = sl.mint(srv.tls_ep, sl.tls_context(srv.cert))
    for classic in (True, False):
        msg, tid = sl.build(attrs=[sl.attr(sl.USERNAME, cred.username)], classic=classic,
                            key=cred.key, fingerprint=not classic)
        m, _ = sl.transact(s, msg, tid, a1p1)
        got += m is not None
    msg, tid = sl.build_lt(attrs=[sl.realm_attr(LT_REALM)])  # asks for the challenge
    m, _ = sl.transact(s, msg, tid, a1p1)
    got += m is not None
    if m is None or not m.has(sl.NONCE):
        return got
    nonce = m.get(sl.NONCE)
    msg, tid = sl.build_lt(attrs=[sl.attr(sl.USERNAME, LT_USER.encode()), sl.realm_attr(LT_REALM),
                                  sl.nonce_attr(nonce[:-1] + b"A")],
                           key=sl.lt_key(LT_USER, LT_REALM, LT_PASSWORD))  # forged: 438
    m, _ = sl.transact(s, msg, tid, a1p1)
    got += m is not None
    algs = sl.password_algorithms_value([sl.ALG_SHA256, sl.ALG_MD5])
    msg, tid = sl.build_lt(
        attrs=[sl.userhash_attr(LT_USER, LT_REALM), sl.realm_attr(LT_REALM), sl.nonce_attr(nonce),
               sl.attr(sl.PASSWORD_ALGORITHMS, algs),
               sl.attr(sl.PASSWORD_ALGORITHM, struct.pack("!HH", sl.ALG_SHA256, 0))],
        key_sha256=sl.lt_key(LT_USER, LT_REALM, LT_PASSWORD, sl.ALG_SHA256), fingerprint=True)
    m, _ = sl.transact(s, msg, tid, a1p1)
    got += m is not None and m.type == sl.BINDING_SUCCESS
    return got


def tshark_check(checks, args, srv):
    if os.geteuid() != 0:
        checks.fail("tshark: capture possible", "capturing on lo needs root (CI runs as root)")
        return
    p1, p2 = srv.p1, srv.p2
    bpf = f"udp port {p1} or udp port {p2} or tcp port {p1}"
    path = os.path.join(srv.logdir, "stun.pcapng")
    cap = Capture(checks, path, bpf)
    try:
        cap.start()
        udp_answers, tcp_answers = tshark_traffic(srv)
    finally:
        cap.stop()
    checks.check("tshark: capture written", os.path.exists(path) and os.path.getsize(path) > 0,
                 cap.err())
    fields = ["frame.number", "ip.src", "udp.srcport", "tcp.srcport", "tcp.len",
              "frame.protocols", "stun.type", "classicstun.type", "_ws.malformed",
              "_ws.expert.severity", "_ws.expert.message", "data.data"]
    argv = ["tshark", "-r", path, "-d", f"udp.port=={p1},stun", "-d", f"udp.port=={p2},stun",
            "-d", f"tcp.port=={p1},stun", "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        argv += ["-e", f]
    print(f"# $ {' '.join(argv)}", flush=True)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if not checks.eq("tshark -r: exit 0", p.returncode, 0, p.stderr.decode(errors="replace")):
        return
    server_ips = {"127.0.0.1", "127.0.0.2"}
    udp_frames = tcp_pdus = 0
    unrecognised, malformed, warned, notes, ss_errors = [], [], [], [], []
    n_frames = 0
    canary_malformed = canary_warned = False
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        row = dict(zip(fields, line.split("\t") + [""] * len(fields)))
        n_frames += 1
        is_udp = row["udp.srcport"] in (str(p1), str(p2))
        is_tcp = row["tcp.srcport"] == str(p1) and row["tcp.len"] not in ("", "0")
        if row["ip.src"] not in server_ips or not (is_udp or is_tcp):
            # A request (or a bare TCP segment): only the canaries look here.
            canary_malformed |= bool(row["_ws.malformed"])
            canary_warned |= any(s and (int(s, 0) if s[0].isdigit() else PI_WARN) >= PI_WARN
                                 for s in row["_ws.expert.severity"].split("|"))
            continue
        protos = row["frame.protocols"].split(":")
        desc = f"frame {row['frame.number']} ({row['frame.protocols']})"
        if is_udp:
            udp_frames += 1
        if is_tcp:
            tcp_pdus += len([t for t in row["stun.type"].split("|") if t])
        if "stun" not in protos and "classicstun" not in protos:
            payload = row["data.data"].replace(":", "")
            if is_udp and payload.startswith(SS_ERROR_HEX):
                ss_errors.append(desc)
                try:
                    m = sl.Message(bytes.fromhex(payload))
                    ok = m.type == sl.SHARED_SECRET_ERROR and (m.error() or (0,))[0] == 433
                except (sl.StunError, ValueError) as e:
                    ok, m = False, e
                checks.check(f"tshark: {desc}: Shared Secret Error Response (0x0112, 433) "
                             f"well formed by our parser (Wireshark's classicstun "
                             f"expects 0x1112, against RFC 3489 §11.1)", ok, str(m))
            else:
                unrecognised.append(desc)
        if row["_ws.malformed"]:
            malformed.append(f"{desc}: {row['_ws.malformed']}")
        for sev, msg in zip(row["_ws.expert.severity"].split("|"),
                            row["_ws.expert.message"].split("|")):
            if not sev:
                continue
            sev_n = int(sev, 0) if sev[0].isdigit() else {"Warning": PI_WARN, "Error": 0x800000}.get(sev, 0)
            (warned if sev_n >= PI_WARN else notes).append(f"{desc}: [{sev}] {msg}")
    print(f"# tshark: {n_frames} frames, {udp_frames} UDP answers, {tcp_pdus} TCP STUN PDUs "
          f"from the server")
    for n in notes:
        print(f"#   expert note/chat (allowed): {n}")
    # The checks below would pass vacuously if the fields came out empty.
    checks.check("tshark: canary: our malformed classic request is marked malformed",
                 canary_malformed, "_ws.malformed never set: the malformed check is blind")
    checks.check("tshark: canary: our unknown-attribute request raises an expert warning",
                 canary_warned, "_ws.expert.severity never >= warning: the expert check is blind")
    checks.eq("tshark: every UDP answer we received is in the capture", udp_frames, udp_answers)
    checks.eq("tshark: every TCP answer we received dissected as a STUN PDU", tcp_pdus, tcp_answers)
    checks.check(f"tshark: all {udp_frames + tcp_pdus} answers recognised as STUN "
                 f"(classicstun or stun)", not unrecognised and udp_frames > 0,
                 "; ".join(unrecognised), f"{len(ss_errors)} Shared Secret Error Response(s) "
                 f"checked separately")
    checks.check("tshark: no answer marked malformed", not malformed, "; ".join(malformed))
    checks.check("tshark: no expert warning or error on any answer", not warned, "; ".join(warned))


# ---------------------------------------------------------------- main

def main():
    args = sl.parse_args(__doc__)
    checks = sl.Checks(f"test_clients ({args.backend}): {args.stunringd}")
    # Credentials on (optional: the unauthenticated clients see no change),
    # so the dissector also judges signed answers and long-term challenges.
    users = tempfile.NamedTemporaryFile("w", prefix="stunring-e2e-users-", delete=False)
    users.write(f"{LT_USER}:{LT_PASSWORD}\n")
    users.close()
    srv = sl.Server(args.stunringd, args.backend, name="dual-address", tls=True,
                    extra=["--auth", "optional", "--realm", LT_REALM, "--users", users.name])
    single = sl.Server(args.stunringd, args.backend, alt=(), name="single-address")
    try:
        srv.start()
        single.start()
        checks.run("Debian stun-client: stun", stun_client, checks, srv)
        checks.run("Debian stun-client: stun 1 (test I), single address", stun_client_single,
                   checks, single)
        checks.run("coturn: turnutils_stunclient", coturn_stunclient, checks, srv, single)
        checks.run("coturn: turnutils_natdiscovery", coturn_natdiscovery, checks, srv)
        checks.run("tshark: STUN dissector", tshark_check, checks, args, srv)
        st = srv.stats()
        checks.check("dual-address: still running, answers counted", srv.alive(),
                     "", f"answered_success {st['answered_success']}, "
                     f"answered_error {st['answered_error']}, dropped {st['dropped']}")
    except sl.ServerError as e:
        checks.fail("servers start", str(e))
    finally:
        sl.stop_and_check(checks, srv)
        sl.stop_and_check(checks, single)
        os.unlink(users.name)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
