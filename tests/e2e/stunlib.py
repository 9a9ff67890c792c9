"""Helpers for the end-to-end tests of stunringd (Python 3 standard library only).

- Server: starts stunringd on loopback with free ports (retrying when a port
  was taken in between), waits for its ready line, reads its counters through
  SIGUSR1, stops it by PID with SIGTERM and reports the exit code.
- A STUN codec written from the RFCs, independent of the server's C code:
  build requests (classic RFC 3489 / modern RFC 8489, any attribute,
  FINGERPRINT) and parse answers strictly (lengths, padding, FINGERPRINT).
- Checks: one line per check and a final "N passed, M failed".
- TLS and short-term credentials: self-signed certificates made with the
  openssl command, Python ssl clients, RFC 3489 Shared Secret Requests,
  MESSAGE-INTEGRITY (classic: input zero-padded to 64 bytes, RFC 3489
  §11.2.8; modern: RFC 8489 §14.5) on requests and verified on answers.

Every wait here is bounded in time, every loop in count.
"""

import argparse
import atexit
import hashlib
import hmac
import ipaddress
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

# ---------------------------------------------------------------- protocol

MAGIC_COOKIE = 0x2112A442
FINGERPRINT_XOR = 0x5354554E
HEADER_LEN = 20

# Load tests send from one address far past what the reflection cap lets one
# client be sent (--rate-limit): they run with the cap on, its code on every
# packet, but its budget out of reach.
UNCAPPED = ("--rate-limit", "100000000", "--rate-burst", "100000000")

# Message types (method + class).
BINDING_REQUEST = 0x0001
BINDING_INDICATION = 0x0011
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
SHARED_SECRET_REQUEST = 0x0002
SHARED_SECRET_SUCCESS = 0x0102
SHARED_SECRET_ERROR = 0x0112

# Attributes.
MAPPED_ADDRESS = 0x0001
RESPONSE_ADDRESS = 0x0002
CHANGE_REQUEST = 0x0003
SOURCE_ADDRESS = 0x0004
CHANGED_ADDRESS = 0x0005
USERNAME = 0x0006
PASSWORD = 0x0007
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
REFLECTED_FROM = 0x000B
XOR_MAPPED_ADDRESS = 0x0020
PADDING = 0x0026
RESPONSE_PORT = 0x0027
SOFTWARE = 0x8022
FINGERPRINT = 0x8028
RESPONSE_ORIGIN = 0x802B
OTHER_ADDRESS = 0x802C

ATTR_NAMES = {
    MAPPED_ADDRESS: "MAPPED-ADDRESS",
    RESPONSE_ADDRESS: "RESPONSE-ADDRESS",
    CHANGE_REQUEST: "CHANGE-REQUEST",
    SOURCE_ADDRESS: "SOURCE-ADDRESS",
    CHANGED_ADDRESS: "CHANGED-ADDRESS",
    USERNAME: "USERNAME",
    PASSWORD: "PASSWORD",
    MESSAGE_INTEGRITY: "MESSAGE-INTEGRITY",
    ERROR_CODE: "ERROR-CODE",
    UNKNOWN_ATTRIBUTES: "UNKNOWN-ATTRIBUTES",
    REFLECTED_FROM: "REFLECTED-FROM",
    XOR_MAPPED_ADDRESS: "XOR-MAPPED-ADDRESS",
    PADDING: "PADDING",
    RESPONSE_PORT: "RESPONSE-PORT",
    SOFTWARE: "SOFTWARE",
    FINGERPRINT: "FINGERPRINT",
    RESPONSE_ORIGIN: "RESPONSE-ORIGIN",
    OTHER_ADDRESS: "OTHER-ADDRESS",
}

CHANGE_IP = 0x04
CHANGE_PORT = 0x02


class StunError(Exception):
    """A datagram that is not a well-formed STUN message."""


def new_tid(classic=False):
    """A transaction id: 16 bytes (RFC 3489) or 12 (RFC 8489)."""
    while True:
        tid = os.urandom(16 if classic else 12)
        # A classic id must not look like the magic cookie.
        if not classic or struct.unpack("!I", tid[:4])[0] != MAGIC_COOKIE:
            return tid


def attr(atype, value):
    """One TLV, value padded to 4 bytes."""
    pad = (-len(value)) % 4
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * pad


def change_request(flags):
    return attr(CHANGE_REQUEST, struct.pack("!I", flags))


def response_port(port):
    return attr(RESPONSE_PORT, struct.pack("!HH", port, 0))


def padding(n):
    return attr(PADDING, b"\0" * n)


def address_attr(atype, ip, port):
    """A plain (RFC 3489) address attribute: MAPPED-ADDRESS encoding."""
    packed = ipaddress.ip_address(ip).packed
    family = 1 if len(packed) == 4 else 2
    return attr(atype, struct.pack("!BBH", 0, family, port) + packed)


def response_address(ip, port):
    return address_attr(RESPONSE_ADDRESS, ip, port)


def username(name):
    return attr(USERNAME, name if isinstance(name, bytes) else name.encode())


def integrity_input(head_and_body, pad64):
    """The HMAC input for a MESSAGE-INTEGRITY that follows head_and_body:
    the header's length field counts up to the end of the MI attribute
    (24 bytes); classic (RFC 3489 §11.2.8) zero-pads to a multiple of 64."""
    length = len(head_and_body) - HEADER_LEN + 24
    text = head_and_body[:2] + struct.pack("!H", length) + head_and_body[4:]
    if pad64:
        text += b"\0" * ((-len(text)) % 64)
    return text


def integrity(key, head_and_body, pad64):
    return hmac.new(key, integrity_input(head_and_body, pad64), hashlib.sha1).digest()


def build(msg_type=BINDING_REQUEST, attrs=(), classic=False, tid=None, fingerprint=False,
          length=None, key=None, pad64=None):
    """Returns (message bytes, transaction id). attrs: encoded TLVs (see attr()).
    length overrides the header's length field (for lying messages).
    key: append MESSAGE-INTEGRITY (HMAC-SHA1 with key) after attrs, before
    FINGERPRINT; pad64 (default: classic) pads the HMAC input to 64 bytes."""
    if tid is None:
        tid = new_tid(classic)
    if pad64 is None:
        pad64 = classic
    body = b"".join(attrs)
    head = struct.pack("!HH", msg_type, 0)
    head += tid if classic else struct.pack("!I", MAGIC_COOKIE) + tid
    if key is not None:
        body += attr(MESSAGE_INTEGRITY, integrity(key, head + body, pad64))
    body_len = len(body) + (8 if fingerprint else 0)
    head = head[:2] + struct.pack("!H", body_len if length is None else length) + head[4:]
    msg = head + body
    if fingerprint:
        crc = (zlib.crc32(msg) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
        msg += attr(FINGERPRINT, struct.pack("!I", crc))
    return msg, tid


class Message:
    """A parsed STUN message."""

    def __init__(self, raw):
        self.raw = raw
        if len(raw) < HEADER_LEN:
            raise StunError(f"{len(raw)} bytes, shorter than a STUN header")
        self.type, self.length = struct.unpack("!HH", raw[:4])
        if self.type & 0xC000:
            raise StunError(f"leading bits of type 0x{self.type:04x} are not zero")
        if self.length != len(raw) - HEADER_LEN:
            raise StunError(f"length field {self.length}, body is {len(raw) - HEADER_LEN} bytes")
        if self.length % 4:
            raise StunError(f"length {self.length} is not a multiple of 4")
        self.cookie = struct.unpack("!I", raw[4:8])[0]
        self.classic = self.cookie != MAGIC_COOKIE
        self.tid = raw[4:20] if self.classic else raw[8:20]
        self.attrs = []  # (type, value, offset of the TLV)
        pos = HEADER_LEN
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise StunError(f"attribute header at {pos} runs past the end")
            atype, alen = struct.unpack("!HH", raw[pos:pos + 4])
            end = pos + 4 + alen
            if end > len(raw):
                raise StunError(f"attribute 0x{atype:04x} (len {alen}) runs past the end")
            padded = pos + 4 + alen + (-alen) % 4
            if padded > len(raw):
                raise StunError(f"attribute 0x{atype:04x}: padding runs past the end")
            self.attrs.append((atype, raw[pos + 4:end], pos))
            pos = padded
        fps = [a for a in self.attrs if a[0] == FINGERPRINT]
        if fps:
            atype, value, off = fps[0]
            if off + 8 != len(raw):
                raise StunError("FINGERPRINT is not the last attribute")
            if len(value) != 4:
                raise StunError(f"FINGERPRINT of {len(value)} bytes")
            want = (zlib.crc32(raw[:off]) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
            if struct.unpack("!I", value)[0] != want:
                raise StunError("FINGERPRINT does not match the CRC-32 of the message")

    def types(self):
        return [a[0] for a in self.attrs]

    def has(self, atype):
        return any(a[0] == atype for a in self.attrs)

    def get(self, atype):
        for a in self.attrs:
            if a[0] == atype:
                return a[1]
        return None

    def addr(self, atype):
        """A plain address attribute as (ip, port), or None."""
        v = self.get(atype)
        return None if v is None else decode_addr(v)

    def xor_addr(self, atype=XOR_MAPPED_ADDRESS):
        v = self.get(atype)
        return None if v is None else decode_xor_addr(v, self.tid)

    def error(self):
        """(code, reason) of ERROR-CODE, or None."""
        v = self.get(ERROR_CODE)
        if v is None:
            return None
        if len(v) < 4:
            raise StunError(f"ERROR-CODE of {len(v)} bytes")
        return (v[2] & 0x07) * 100 + v[3], v[4:].decode("utf-8", "replace")

    def check_integrity(self, key, pad64=None):
        """None when MESSAGE-INTEGRITY is present, keyed with key, and placed
        as the rules want (classic: the last attribute; modern: followed by
        FINGERPRINT at most); else what is wrong, as text."""
        if pad64 is None:
            pad64 = self.classic
        mis = [a for a in self.attrs if a[0] == MESSAGE_INTEGRITY]
        if not mis:
            return "no MESSAGE-INTEGRITY"
        if len(mis) > 1:
            return f"{len(mis)} MESSAGE-INTEGRITY attributes"
        _, value, off = mis[0]
        after = [a[0] for a in self.attrs if a[2] > off]
        allowed = [] if self.classic else [FINGERPRINT]
        if any(t not in allowed for t in after):
            return ("MESSAGE-INTEGRITY is followed by "
                    + ", ".join(ATTR_NAMES.get(t, f"0x{t:04x}") for t in after))
        if len(value) != 20:
            return f"MESSAGE-INTEGRITY of {len(value)} bytes"
        want = integrity(key, self.raw[:off], pad64)
        if not hmac.compare_digest(value, want):
            other = integrity(key, self.raw[:off], not pad64)
            hint = (" (it would match with the other padding rule: "
                    f"{'no' if pad64 else '64-byte'} padding)" if value == other else "")
            return f"HMAC mismatch: got {value.hex()}, want {want.hex()}{hint}"
        return None

    def text(self, atype):
        v = self.get(atype)
        return None if v is None else v.decode("ascii", "replace")

    def unknown(self):
        v = self.get(UNKNOWN_ATTRIBUTES)
        if v is None:
            return None
        return list(struct.unpack(f"!{len(v) // 2}H", v[: len(v) // 2 * 2]))

    def describe(self):
        names = [ATTR_NAMES.get(t, f"0x{t:04x}") for t in self.types()]
        return f"type 0x{self.type:04x} len {len(self.raw)} [{', '.join(names)}]"


def decode_addr(v):
    if len(v) < 4:
        raise StunError(f"address attribute of {len(v)} bytes")
    family, port = v[1], struct.unpack("!H", v[2:4])[0]
    if family == 1 and len(v) == 8:
        return str(ipaddress.IPv4Address(v[4:8])), port
    if family == 2 and len(v) == 20:
        return str(ipaddress.IPv6Address(v[4:20])), port
    raise StunError(f"address family {family} with {len(v)} bytes")


def decode_xor_addr(v, tid):
    if len(v) < 4:
        raise StunError(f"XOR address attribute of {len(v)} bytes")
    family = v[1]
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    key = struct.pack("!I", MAGIC_COOKIE) + tid
    if family == 1 and len(v) == 8:
        ip = bytes(a ^ b for a, b in zip(v[4:8], key[:4]))
        return str(ipaddress.IPv4Address(ip)), port
    if family == 2 and len(v) == 20:
        ip = bytes(a ^ b for a, b in zip(v[4:20], key))
        return str(ipaddress.IPv6Address(ip)), port
    raise StunError(f"XOR address family {family} with {len(v)} bytes")


def parse(data):
    return Message(data)


# ---------------------------------------------------------------- sockets

def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def norm(addr):
    """(ip, port) of a sockaddr, IPv6 flow/scope dropped, ip normalised."""
    return str(ipaddress.ip_address(addr[0])), addr[1]


def udp_socket(host="127.0.0.1", port=0):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.bind((host, port))
    return s


def recv_answer(sock, tid, timeout):
    """Waits (bounded) for a datagram carrying tid; others are skipped.
    Returns (Message, (ip, port)) or (None, None)."""
    deadline = time.monotonic() + timeout
    for _ in range(1000):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, src = sock.recvfrom(65536)
        except socket.timeout:
            break
        try:
            m = Message(data)
        except StunError as e:
            raise StunError(f"malformed answer from {src}: {e}: {data.hex()}") from None
        if m.tid == tid:
            return m, norm(src)
    return None, None


def transact(sock, data, tid, dest, timeout=1.0, tries=3, reply_sock=None):
    """Sends data to dest and waits for the answer carrying tid on reply_sock
    (default: sock), resending up to tries times (UDP may lose)."""
    rsock = reply_sock or sock
    for _ in range(tries):
        sock.sendto(data, dest)
        m, src = recv_answer(rsock, tid, timeout)
        if m is not None:
            return m, src
    return None, None


def drain(sock, timeout):
    """Every datagram arriving within timeout (bounded in count)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < 10000:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            got.append(sock.recvfrom(65536))
        except socket.timeout:
            break
    return got


def recv_exact(conn, n, timeout):
    """n bytes from a stream, or fewer if it closes or the time runs out."""
    buf = b""
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            chunk = conn.recv(n - len(buf))
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def recv_stream_message(conn, timeout=2.0):
    """One RFC 8489 framed message from a stream, or None."""
    head = recv_exact(conn, HEADER_LEN, timeout)
    if len(head) < HEADER_LEN:
        return None
    body = recv_exact(conn, struct.unpack("!H", head[2:4])[0], timeout)
    return Message(head + body)


# ---------------------------------------------------------------- ports

def _bindable(family, host, port, kind):
    s = socket.socket(family, kind)
    try:
        s.bind((host, port))
        if kind == socket.SOCK_STREAM:
            s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _port_range():
    """Ports to draw from: below the kernel's ephemeral range, so that no
    client socket of this machine takes one by chance."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 12000:
        return 10000, low
    return low, 65535  # odd set-up: take any


RESERVED_PORTS = {3478, 3479, 5349, 5350}


def free_ports(hosts_udp, hosts_tcp, count=2, consecutive=False):
    """count distinct ports free for UDP on every host of hosts_udp and for
    TCP on every host of hosts_tcp (never the STUN defaults). consecutive:
    p, p+1, ... (the stun client opens port and port+1)."""
    lo, hi = _port_range()
    rng = random.SystemRandom()
    for _ in range(500):
        if consecutive:
            base = rng.randrange(lo, hi - count)
            ports = list(range(base, base + count))
        else:
            ports = rng.sample(range(lo, hi), count)
        if RESERVED_PORTS & set(ports):
            continue
        ok = all(_bindable(family_of(h), h, p, socket.SOCK_DGRAM)
                 for p in ports for h in hosts_udp)
        ok = ok and all(_bindable(family_of(h), h, p, socket.SOCK_STREAM)
                        for p in ports for h in hosts_tcp)
        if ok:
            return ports
    raise RuntimeError("no free ports found in 500 tries")


# ---------------------------------------------------------------- TLS

def make_cert(cert, key, cn="localhost", timeout=30):
    """A self-signed P-256 certificate for cn (also named, with 127.0.0.1 and
    ::1, in subjectAltName) and its key, PEM, by the openssl command."""
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-days", "1", "-subj", f"/CN={cn}",
           "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1,IP:::1",
           "-keyout", key, "-out", cert]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: "
                           f"{r.stderr.decode(errors='replace')}")


def cert_der(cert):
    with open(cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def tls_context(cafile=None):
    """A client context: verifying the server against cafile (its own
    self-signed certificate) when given, else verifying nothing."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(addr, ctx, timeout=5.0, server_hostname="localhost"):
    """A TLS connection to addr, handshake done (bounded by timeout)."""
    raw = socket.create_connection(addr, timeout=timeout)
    try:
        conn = ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise
    conn.settimeout(timeout)
    return conn


def tls_close(conn):
    """Sends close_notify (bounded by the socket's timeout), then closes: a
    clean TLS shutdown, which the server need not count as an error."""
    try:
        conn.unwrap().close()
    except (OSError, ValueError):
        conn.close()


class Credential:
    """A minted Shared Secret: username and password (bytes), the message,
    and the local address of the TLS connection that minted it."""

    def __init__(self, msg, local):
        self.msg = msg
        self.username = msg.get(USERNAME)
        self.password = msg.get(PASSWORD)
        self.local = local

    @property
    def key(self):
        return self.password  # RFC 3489 §9.2: the password is the HMAC key as-is


def shared_secret_over(conn, timeout=3.0):
    """One Shared Secret Request on an open stream; its answer (or None)."""
    msg, tid = build(SHARED_SECRET_REQUEST, classic=True)
    conn.sendall(msg)
    m = recv_stream_message(conn, timeout)
    if m is not None and m.tid != tid:
        raise StunError(f"Shared Secret answer for another transaction: {m.describe()}")
    return m


def mint(addr, ctx, timeout=3.0):
    """Connects over TLS, sends a Shared Secret Request, returns a Credential,
    or raises StunError with what came back instead."""
    with tls_connect(addr, ctx, timeout) as conn:
        local = norm(conn.getsockname())
        m = shared_secret_over(conn, timeout)
        tls_close(conn)
    if m is None:
        raise StunError("no answer to the Shared Secret Request")
    if m.type != SHARED_SECRET_SUCCESS or not m.has(USERNAME) or not m.has(PASSWORD):
        raise StunError(f"Shared Secret Request answered {m.describe()} error {m.error()}")
    return Credential(m, local)


# ---------------------------------------------------------------- the daemon

_LIVE = []
_LOGDIRS = []  # removed when the script passes, kept (and named) when it fails


def _kill_leftovers():
    for srv in list(_LIVE):
        srv.kill()


atexit.register(_kill_leftovers)


class Stats:
    """One counters block: .c (name -> int) and .workers (id -> (rx, tx))."""

    def __init__(self, counters, workers):
        self.c = counters
        self.workers = workers

    def __getitem__(self, name):
        return self.c[name]

    def delta(self, before, name):
        return self.c[name] - before.c[name]


def parse_stats(text, when):
    """The latest complete block 'stats when WHEN' of a log, or None.
    The worker lines precede the marker; the named counters follow it."""
    lines = text.splitlines()
    marker = f"stats when {when}"
    idx = None
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == marker:
            idx = i
            break
    if idx is None:
        return None
    workers = {}
    j = idx - 1
    while j >= 0:
        m = re.fullmatch(r"stats worker\.(\d+) rx (\d+) tx (\d+)", lines[j])
        if not m:
            break
        workers[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
        j -= 1
    counters = {}
    for line in lines[idx + 1:]:
        m = re.fullmatch(r"stats ([a-z0-9_]+) (\d+)", line)
        if not m:
            break
        counters[m.group(1)] = int(m.group(2))
    if "dropped" not in counters:
        return None  # still being written
    return Stats(counters, workers)


class ServerError(Exception):
    pass


class Server:
    """One stunringd process on loopback.

    listen: primary addresses; alt: alternate addresses (empty: a
    single-address server). Ports are chosen free at start()."""

    def __init__(self, exe, backend, listen=("127.0.0.1",), alt=("127.0.0.2",), workers=2,
                 extra=(), tcp=True, name="server", env=None, tls=False):
        self.exe = exe
        self.env = env  # extra environment variables for the server
        self.backend = backend
        self.listen = list(listen)
        self.alt = list(alt)
        self.workers = workers
        self.extra = list(extra)
        self.tcp = tcp
        self.name = name
        self.proc = None
        self.p1 = self.p2 = None
        self.logdir = tempfile.mkdtemp(prefix="stunring-e2e-")
        _LOGDIRS.append(self.logdir)
        self.logpath = None
        self.returncode = None
        # tls: a free TCP port for --tls-port and a fresh self-signed
        # certificate (regenerate with new_cert(), then reload()).
        self.tls = tls
        self.ptls = None
        self.cert = os.path.join(self.logdir, "cert.pem") if tls else None
        self.key = os.path.join(self.logdir, "key.pem") if tls else None
        if tls:
            make_cert(self.cert, self.key)

    # -- endpoints

    def ep(self, name, family=socket.AF_INET):
        """Endpoint 'A1P1', 'A1P2', 'A2P1' or 'A2P2' of a family as (ip, port)."""
        prim = [a for a in self.listen if family_of(a) == family][0]
        alts = [a for a in self.alt if family_of(a) == family]
        ip = prim if name[1] == "1" else alts[0]
        return str(ipaddress.ip_address(ip)), self.p1 if name[3] == "1" else self.p2

    def endpoints(self):
        return {n: self.ep(n) for n in ("A1P1", "A1P2", "A2P1", "A2P2")}

    @property
    def primary(self):
        return self.ep("A1P1")

    @property
    def tls_ep(self):
        """The TLS listener on the first primary address, as (ip, port)."""
        return str(ipaddress.ip_address(self.listen[0])), self.ptls

    def new_cert(self):
        """Replaces the certificate and key files with a fresh self-signed
        pair (written aside, then renamed in place); returns the new DER."""
        make_cert(self.cert + ".new", self.key + ".new")
        os.replace(self.key + ".new", self.key)
        os.replace(self.cert + ".new", self.cert)
        return cert_der(self.cert)

    def reload(self):
        """SIGHUP by PID."""
        if not self.alive():
            raise ServerError(f"{self.name}: not running (exit {self.proc.poll()})")
        os.kill(self.proc.pid, signal.SIGHUP)

    # -- life cycle

    def command(self):
        cmd = [self.exe]
        for a in self.listen:
            cmd += ["--listen", a]
        for a in self.alt:
            cmd += ["--alt-address", a]
        cmd += ["--port", str(self.p1), "--alt-port", str(self.p2),
                "--workers", str(self.workers), "--backend", self.backend]
        if not self.tcp:
            cmd += ["--no-tcp"]
        if self.tls:
            cmd += ["--tls-port", str(self.ptls), "--cert", self.cert, "--key", self.key]
        return cmd + self.extra

    def start(self, ready_timeout=15.0, tries=5):
        udp_hosts = self.listen + self.alt
        tcp_hosts = self.listen if self.tcp or self.tls else []
        last = ""
        for attempt in range(1, tries + 1):
            if self.tls:
                self.p1, self.p2, self.ptls = free_ports(udp_hosts, tcp_hosts, count=3)
            else:
                self.p1, self.p2 = free_ports(udp_hosts, tcp_hosts)
            self.logpath = os.path.join(self.logdir, f"{self.name}-{attempt}.log")
            cmd = self.command()
            with open(self.logpath, "wb") as log:
                env = dict(os.environ, **self.env) if self.env else None
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env,
                                             stdout=log, stderr=subprocess.STDOUT)
            _LIVE.append(self)
            deadline = time.monotonic() + ready_timeout
            while time.monotonic() < deadline:
                text = self.log()
                if "stunringd: info: ready:" in text:
                    print(f"# {self.name}: {' '.join(cmd)}")
                    print(f"# {self.name}: pid {self.proc.pid}, "
                          f"{[l for l in text.splitlines() if 'ready:' in l][0]}")
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            code = self.proc.poll()
            if code is None:
                self.kill()
                raise ServerError(f"{self.name}: no ready line within {ready_timeout}s: "
                                  f"{' '.join(cmd)}\n{self.log()}")
            _LIVE.remove(self)
            last = self.log()
            # A port taken between our probe and its bind: new ports, again.
            if code == 1 and "in use" in last:
                print(f"# {self.name}: port taken at start (attempt {attempt}): "
                      f"{last.strip()}; retrying with new ports")
                continue
            raise ServerError(f"{self.name}: exited {code} before ready: {' '.join(cmd)}\n{last}")
        raise ServerError(f"{self.name}: ports taken {tries} times in a row; last log:\n{last}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stats(self, timeout=10.0):
        """Counters via SIGUSR1: the block after the latest 'stats when sigusr1'."""
        if not self.alive():
            raise ServerError(f"{self.name}: not running (exit {self.proc.poll()})")
        before = self.log().count("stats when sigusr1\n")
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if text.count("stats when sigusr1\n") > before:
                st = parse_stats(text, "sigusr1")
                if st is not None:
                    return st
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name}: died after SIGUSR1 (exit {self.proc.poll()})")
            time.sleep(0.01)
        raise ServerError(f"{self.name}: no counters within {timeout}s of SIGUSR1")

    def stats_until(self, done, timeout=5.0):
        """stats() again (bounded) until done(stats) holds; returns the last one.
        For what the server answers with silence (drops): no answer tells the
        client its datagram was handled, and a busy machine can leave it queued
        past any quiet period."""
        deadline = time.monotonic() + timeout
        st = self.stats()
        while not done(st) and time.monotonic() < deadline:
            time.sleep(0.02)
            st = self.stats()
        return st

    def stop(self, timeout=20.0):
        """SIGTERM by PID; returns the exit code. Kills -9 and raises on a hang."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError(f"{self.name}: still running {timeout}s after SIGTERM; "
                                  f"killed with SIGKILL\n{self.log()[-3000:]}")
        if self in _LIVE:
            _LIVE.remove(self)
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self in _LIVE:
            _LIVE.remove(self)

    def sanitizer_reports(self):
        """Lines of the log where a sanitizer spoke."""
        pat = re.compile(r"(ERROR|WARNING): (Address|Leak|Thread|UndefinedBehavior)Sanitizer"
                         r"|runtime error:")
        return [l for l in self.log().splitlines() if pat.search(l)]


# ---------------------------------------------------------------- reporting

class Checks:
    """Prints one line per check; finish() prints 'N passed, M failed'."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.t0 = time.monotonic()
        print(f"# {title}", flush=True)

    def check(self, name, cond, detail="", shown=""):
        """detail: printed when the check fails; shown: when it passes."""
        if cond:
            self.passed += 1
            print(f"ok   {name}" + (f"  [{shown}]" if shown else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def eq(self, name, got, want, note=""):
        extra = f"; {note}" if note else ""
        return self.check(name, got == want, f"got {got!r}, want {want!r}{extra}", f"{got!r}")

    def fail(self, name, detail):
        return self.check(name, False, detail)

    def run(self, name, fn, *args):
        """Runs one group of checks; an exception in it is one failure."""
        print(f"# -- {name}", flush=True)
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - report every kind, go on
            self.fail(f"{name}: raised", f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)

    def finish(self):
        took = time.monotonic() - self.t0
        print(f"# {self.title}: {took:.1f}s")
        if self.failures:
            print("# failed: " + "; ".join(self.failures))
        ok = self.failed == 0 and self.passed > 0
        for d in _LOGDIRS:
            if ok and not os.environ.get("STUNRING_KEEP_LOGS"):
                shutil.rmtree(d, ignore_errors=True)
            else:
                print(f"# server logs and captures kept in {d}")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if ok else 1


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--stunringd", default=os.environ.get("STUNRINGD"),
                    help="path to the stunringd binary (default: $STUNRINGD)")
    ap.add_argument("--backend", default=os.environ.get("STUNRING_BACKEND", "uring"),
                    choices=("uring", "mmsg", "auto"))
    args = ap.parse_args()
    if not args.stunringd:
        ap.error("--stunringd PATH (or $STUNRINGD) is required")
    if not os.access(args.stunringd, os.X_OK):
        ap.error(f"{args.stunringd}: not an executable")
    return args


def close_all(checks, sockets, servers):
    """The end of a suite: its sockets closed, each started server stopped
    by PID and its exit and log checked (stop_and_check)."""
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass
    for srv in servers:
        if srv.proc is not None:
            stop_and_check(checks, srv)


def run_suite(suite, title, args=None):
    """main() of a test file: suite(checks, args).run() under a Checks
    titled after the file, the backend and the binary; the exit code."""
    args = args if args is not None else parse_args(sys.modules["__main__"].__doc__)
    checks = Checks(f"{title} ({args.backend}): {args.stunringd}")
    suite(checks, args).run()
    return checks.finish()


def stop_and_check(checks, srv, label=None):
    """SIGTERM the server, check exit 0 and a clean sanitizer log."""
    label = label or srv.name
    try:
        code = srv.stop()
        checks.eq(f"{label}: SIGTERM -> exit 0", code, 0)
    except ServerError as e:
        checks.fail(f"{label}: SIGTERM -> exit 0", str(e))
    reports = srv.sanitizer_reports()
    log = srv.log()
    if not checks.check(f"{label}: no sanitizer report in its log", not reports,
                        "; ".join(reports[:3]) + f" (log: {srv.logpath})"):
        # The report itself, bounded, so that CI's output carries it.
        start = next(i for i, l in enumerate(log.splitlines()) if l in reports)
        for line in log.splitlines()[max(start - 2, 0):start + 60]:
            print(f"#   | {line}")
    checks.check(f"{label}: final counters printed at exit ('stats when exit' block)",
                 parse_stats(log, "exit") is not None,
                 f"no complete block in {srv.logpath}")


# ---------------------------------------------------------------- long-term credentials
#
# RFC 8489 §9.2 from the client's side: REALM, NONCE, USERHASH, the
# PASSWORD-ALGORITHM(S) negotiation, the long-term keys (MD5 or SHA-256 of
# user:realm:password, §9.2.2) and MESSAGE-INTEGRITY-SHA256 (§14.6).

REALM = 0x0014
NONCE = 0x0015
MESSAGE_INTEGRITY_SHA256 = 0x001C
PASSWORD_ALGORITHM = 0x001D
USERHASH = 0x001E
PASSWORD_ALGORITHMS = 0x8002
ALTERNATE_DOMAIN = 0x8003

ATTR_NAMES.update({
    REALM: "REALM",
    NONCE: "NONCE",
    MESSAGE_INTEGRITY_SHA256: "MESSAGE-INTEGRITY-SHA256",
    PASSWORD_ALGORITHM: "PASSWORD-ALGORITHM",
    USERHASH: "USERHASH",
    PASSWORD_ALGORITHMS: "PASSWORD-ALGORITHMS",
    ALTERNATE_DOMAIN: "ALTERNATE-DOMAIN",
})

ALG_MD5 = 0x0001  # RFC 8489 §18.5
ALG_SHA256 = 0x0002
NONCE_COOKIE = b"obMatJos2"  # RFC 8489 §9.2
FEATURE_PASSWORD_ALGORITHMS = 1 << 0  # bit numbers as RFC 8489 Errata 6290
FEATURE_USERNAME_ANONYMITY = 1 << 1


def _b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def lt_key(user, realm, password, alg=ALG_MD5):
    """The long-term key (RFC 8489 §9.2.2): MD5 or SHA-256 of
    user ":" realm ":" password (names and password already prepared)."""
    text = _b(user) + b":" + _b(realm) + b":" + _b(password)
    if alg == ALG_MD5:
        return hashlib.md5(text).digest()
    if alg == ALG_SHA256:
        return hashlib.sha256(text).digest()
    raise ValueError(f"password algorithm 0x{alg:04x}")


def userhash(user, realm):
    """USERHASH (RFC 8489 §14.4): SHA-256(user ":" realm)."""
    return hashlib.sha256(_b(user) + b":" + _b(realm)).digest()


def realm_attr(realm):
    return attr(REALM, _b(realm))


def nonce_attr(nonce):
    return attr(NONCE, _b(nonce))


def userhash_attr(user, realm):
    return attr(USERHASH, userhash(user, realm))


def password_algorithms_value(algs):
    """PASSWORD-ALGORITHMS' value: (algorithm, params) pairs, or bare
    algorithm numbers (zero-length params), each params padded to 4."""
    out = b""
    for a in algs:
        alg, params = (a, b"") if isinstance(a, int) else a
        out += struct.pack("!HH", alg, len(params)) + params + b"\0" * ((-len(params)) % 4)
    return out


def password_algorithms(algs):
    return attr(PASSWORD_ALGORITHMS, password_algorithms_value(algs))


def password_algorithm(alg, params=b""):
    return attr(PASSWORD_ALGORITHM, password_algorithms_value([(alg, params)]))


def parse_password_algorithms(value):
    """[(algorithm, params bytes)] of a PASSWORD-ALGORITHMS value; raises
    StunError on a bad encoding."""
    out = []
    pos = 0
    while pos < len(value):
        if pos + 4 > len(value):
            raise StunError(f"PASSWORD-ALGORITHMS: {len(value) - pos} stray bytes")
        alg, plen = struct.unpack("!HH", value[pos:pos + 4])
        end = pos + 4 + plen
        if end > len(value):
            raise StunError(f"PASSWORD-ALGORITHMS: params of 0x{alg:04x} run past the end")
        out.append((alg, value[pos + 4:end]))
        pos = end + (-plen) % 4
    return out


def nonce_features(nonce):
    """The 24-bit STUN Security Feature set of a nonce that starts with the
    nonce cookie (RFC 8489 §9.2), or None for any other nonce."""
    nonce = _b(nonce)
    if not nonce.startswith(NONCE_COOKIE) or len(nonce) < len(NONCE_COOKIE) + 4:
        return None
    import base64
    try:
        raw = base64.b64decode(nonce[len(NONCE_COOKIE):len(NONCE_COOKIE) + 4], validate=True)
    except ValueError:
        return None
    return int.from_bytes(raw, "big") if len(raw) == 3 else None


def mac_input(head_and_body, mac_attr_len):
    """What an integrity attribute of mac_attr_len value bytes that follows
    head_and_body covers: the header's length field counts up to its end."""
    length = len(head_and_body) - HEADER_LEN + 4 + mac_attr_len
    return head_and_body[:2] + struct.pack("!H", length) + head_and_body[4:]


def integrity_sha256(key, head_and_body, mac_len=32):
    """MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): HMAC-SHA256, truncated
    to mac_len bytes (16 to 32, a multiple of 4)."""
    return hmac.new(key, mac_input(head_and_body, mac_len), hashlib.sha256).digest()[:mac_len]


def build_lt(msg_type=BINDING_REQUEST, attrs=(), tid=None, key=None, key_sha256=None,
             fingerprint=False, mac_len=32):
    """A modern message for long-term credentials: attrs, then
    MESSAGE-INTEGRITY (HMAC-SHA1 with key) when key is given, then
    MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256 with key_sha256, mac_len bytes)
    when key_sha256 is given, then FINGERPRINT. Returns (bytes, tid)."""
    if tid is None:
        tid = new_tid()
    head = struct.pack("!HHI", msg_type, 0, MAGIC_COOKIE) + tid
    body = b"".join(attrs)
    if key is not None:
        body += attr(MESSAGE_INTEGRITY, hmac.new(key, mac_input(head + body, 20),
                                                 hashlib.sha1).digest())
    if key_sha256 is not None:
        body += attr(MESSAGE_INTEGRITY_SHA256, integrity_sha256(key_sha256, head + body, mac_len))
    body_len = len(body) + (8 if fingerprint else 0)
    msg = head[:2] + struct.pack("!H", body_len) + head[4:] + body
    if fingerprint:
        crc = (zlib.crc32(msg) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
        msg += attr(FINGERPRINT, struct.pack("!I", crc))
    return msg, tid


def check_integrity_sha256(msg, key):
    """None when msg (a Message) carries one MESSAGE-INTEGRITY-SHA256 keyed
    with key, followed by FINGERPRINT at most (RFC 8489 §14.6); else what
    is wrong, as text."""
    mis = [a for a in msg.attrs if a[0] == MESSAGE_INTEGRITY_SHA256]
    if not mis:
        return "no MESSAGE-INTEGRITY-SHA256"
    if len(mis) > 1:
        return f"{len(mis)} MESSAGE-INTEGRITY-SHA256 attributes"
    _, value, off = mis[0]
    after = [a[0] for a in msg.attrs if a[2] > off]
    if any(t != FINGERPRINT for t in after):
        return ("MESSAGE-INTEGRITY-SHA256 is followed by "
                + ", ".join(ATTR_NAMES.get(t, f"0x{t:04x}") for t in after))
    if len(value) < 16 or len(value) > 32 or len(value) % 4:
        return f"MESSAGE-INTEGRITY-SHA256 of {len(value)} bytes"
    want = integrity_sha256(key, msg.raw[:off], len(value))
    if not hmac.compare_digest(value, want):
        return f"HMAC mismatch: got {value.hex()}, want {want.hex()}"
    return None


def check_integrity_sha1_lt(msg, key):
    """None when msg's MESSAGE-INTEGRITY verifies with key (RFC 8489 §14.5:
    followed only by MESSAGE-INTEGRITY-SHA256 and FINGERPRINT); else what
    is wrong, as text."""
    mis = [a for a in msg.attrs if a[0] == MESSAGE_INTEGRITY]
    if not mis:
        return "no MESSAGE-INTEGRITY"
    if len(mis) > 1:
        return f"{len(mis)} MESSAGE-INTEGRITY attributes"
    _, value, off = mis[0]
    after = [a[0] for a in msg.attrs if a[2] > off]
    if any(t not in (MESSAGE_INTEGRITY_SHA256, FINGERPRINT) for t in after):
        return ("MESSAGE-INTEGRITY is followed by "
                + ", ".join(ATTR_NAMES.get(t, f"0x{t:04x}") for t in after))
    if len(value) != 20:
        return f"MESSAGE-INTEGRITY of {len(value)} bytes"
    want = hmac.new(key, mac_input(msg.raw[:off], 20), hashlib.sha1).digest()
    if not hmac.compare_digest(value, want):
        return f"HMAC mismatch: got {value.hex()}, want {want.hex()}"
    return None
