#!/usr/bin/env python3
"""stunringd's long-term credentials (RFC 8489 §9.2), end to end.

    python3 tests/e2e/test_longterm.py --stunringd build/tools/stunringd --backend uring

The client side (REALM/NONCE challenge, the MD5 and SHA-256 keys of
user:realm:password, USERHASH, the PASSWORD-ALGORITHM(S) negotiation,
MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256) is written from the RFCs in
stunlib.py, independent of the server's C code; the RFC 5769 §2.4 and
RFC 8489 B.1 (Errata 6268) samples are replayed byte for byte. A third-party
client, the npm `stun` package (pinned in tests/e2e/npm/package.json,
installed by npm into a cache directory of the build tree), runs the flow too.

Servers (loopback, ports chosen free, each stopped by PID at the end):
  main    --auth required --realm example.org --users FILE --secret-key K,
          IPv4 + IPv6: users (a plain line, stunring-passwd lines), the RFC
          samples, every error with its counter, every algorithm/integrity
          pairing, the npm client;
  ttl     the same with --nonce-ttl 2: stale nonces (438), the fleet key;
  reload  its own users file and a random key: SIGHUP adds and removes
          users, a broken file keeps the old table; its nonces are forged
          on main (another key).
Prints one line per check and "N passed, M failed"; exit 1 on any failure.
"""

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NPM_SRC = os.path.join(HERE, "npm")

WAIT = 1.0  # seconds to wait for one answer (each try)
NONCE_TTL = 2  # --nonce-ttl of the ttl server
RELOAD_WAIT = 5.0  # bound on a SIGHUP taking effect
NPM_INSTALL_TIMEOUT = 240
NODE_TIMEOUT = 30

REALM = "example.org"
# RFC 5769 §2.4 / RFC 8489 B.1: the user and password after SASLprep/OpaqueString.
MATRIX_USER = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9"
MATRIX_PASS = "TheMatrIX"

# The counters of long-term rejections (core/status.c).
LT_COUNTERS = ("reject_lt_challenge", "reject_lt_missing_attr", "reject_stale_nonce",
               "reject_forged_nonce", "reject_wrong_realm", "reject_password_algorithm",
               "reject_lt_unknown_user", "reject_lt_bad_integrity")

# What our 401s and 438s must offer: SHA-256 then MD5, no parameters.
WANT_ALGS = bytes.fromhex("0002 0000 0001 0000".replace(" ", ""))


def h(text):
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.4, sample request with long-term authentication.
RFC5769_LT_REQUEST = h("""
00 01 00 60  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
00 06 00 12  e3 83 9e e3  83 88 e3 83  aa e3 83 83  e3 82 af e3  82 b9 00 00
00 15 00 1c  66 2f 2f 34  39 39 6b 39  35 34 64 36  4f 4c 33 34  6f 4c 39 46
             53 54 76 79  36 34 73 41
00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
00 08 00 14  f6 70 24 65  6d d6 4a 3e  02 b8 e0 71  2e 85 c9 a2  8c a8 96 66""")

# RFC 8489 Appendix B.1 as corrected by Errata ID 6268 (Verified).
RFC8489_B1_REQUEST = h("""
00 01 00 90  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
00 1e 00 20  4a 3c f3 8f  ef 69 92 bd  a9 52 c6 78  04 17 da 0f
             24 81 94 15  56 9e 60 b2  05 c4 6e 41  40 7f 17 04
00 15 00 29  6f 62 4d 61  74 4a 6f 73  32 41 41 41  43 66 2f 2f  34 39 39 6b
             39 35 34 64  36 4f 4c 33  34 6f 4c 39  46 53 54 76  79 36 34 73
             41 00 00 00
00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
00 1d 00 04  00 02 00 00
00 1c 00 20  b5 c7 bf 00  5b 6c 52 a2  1c 51 c5 e8  92 f8 19 24
             13 62 96 cb  92 7c 43 14  93 09 27 8c  c6 51 8e 65""")

MD5, SHA256 = sl.ALG_MD5, sl.ALG_SHA256
ALG_NAME = {MD5: "MD5", SHA256: "SHA-256"}


def err_code(m):
    e = m.error() if m is not None else None
    return e[0] if e else None


def show(m):
    if m is None:
        return "no answer"
    return f"{m.describe()} error {m.error()}"


def nonce_expiry(nonce):
    """The expiry (seconds since the epoch) our nonce carries (core/nonce.h:
    cookie, 4 feature characters, base64 of an 8-byte expiry and a MAC),
    or None for another nonce."""
    import base64
    try:
        raw = base64.b64decode(nonce[13:45], validate=True)
    except ValueError:
        return None
    return struct.unpack("!Q", raw[:8])[0] if len(nonce) == 45 and len(raw) == 24 else None


def write_file(path, text, mode=0o600):
    """Written aside, then renamed in place: a reload sees all or nothing."""
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8") if isinstance(text, str) else text)
    os.replace(path + ".new", path)


class User:
    def __init__(self, name, password):
        self.name = name
        self.password = password

    def key(self, alg, realm=REALM):
        return sl.lt_key(self.name, realm, self.password, alg)


ALICE = User("alice", "alice-pass")  # a plain line
BOB = User("bob", "b0b:pass #x")  # a stunring-passwd line (':', ' ', '#' in it)
CAROL = User("carol", "carol-pass")  # a key line with MD5 only
DOLLAR = User("dollar", "$money")  # the plain line "dollar:$$money"
MATRIX = User(MATRIX_USER, MATRIX_PASS)  # RFC 5769 §2.4, RFC 8489 B.1
FRANK = User("frank", "frank-pass")
GEORGE = User("george", "george-pass")


class Longterm:
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

    def ask(self, sock, msg, tid, dest):
        m, _ = sl.transact(sock, msg, tid, dest, timeout=WAIT)
        return m

    def challenge(self, sock, dest, label=None):
        """A plain Binding Request; checks the 401 challenge when label is
        given. Returns (nonce bytes, PASSWORD-ALGORITHMS value) or (None, None)."""
        msg, tid = sl.build()
        m = self.ask(sock, msg, tid, dest)
        if label:
            return self.check_challenge(label, m, 401)
        if m is None or err_code(m) != 401 or not m.has(sl.NONCE):
            return None, None
        return m.get(sl.NONCE), m.get(sl.PASSWORD_ALGORITHMS)

    def check_challenge(self, label, m, code, sent_nonce=None):
        """An error answer with code carrying REALM, a nonce of ours and
        PASSWORD-ALGORITHMS (SHA-256 then MD5), unsigned; returns
        (nonce, PASSWORD-ALGORITHMS value) or (None, None)."""
        problems = []
        if m is None:
            self.c.fail(label, "no answer")
            return None, None
        if m.type != sl.BINDING_ERROR:
            problems.append(f"type 0x{m.type:04x}, want a Binding Error Response")
        if err_code(m) != code:
            problems.append(f"error {m.error()}, want {code}")
        if m.get(sl.REALM) != REALM.encode():
            problems.append(f"REALM {m.get(sl.REALM)!r}, want {REALM!r}")
        nonce = m.get(sl.NONCE)
        feats = sl.nonce_features(nonce) if nonce is not None else None
        if nonce is None:
            problems.append("no NONCE")
        else:
            if len(nonce) != 45 or feats is None:
                problems.append(f"NONCE {nonce!r}: not 45 bytes with the nonce cookie")
            elif not feats & sl.FEATURE_PASSWORD_ALGORITHMS:
                problems.append(f"NONCE {nonce!r} does not advertise password algorithms "
                                f"(features 0x{feats:06x})")
            if sent_nonce is not None and nonce == sent_nonce:
                problems.append("the NONCE sent back is the one refused, not a fresh one")
        algs = m.get(sl.PASSWORD_ALGORITHMS)
        if algs != WANT_ALGS:
            problems.append(f"PASSWORD-ALGORITHMS {algs.hex() if algs else None}, "
                            f"want {WANT_ALGS.hex()} (SHA-256, MD5)")
        for t in (sl.MESSAGE_INTEGRITY, sl.MESSAGE_INTEGRITY_SHA256, sl.XOR_MAPPED_ADDRESS):
            if m.has(t):
                problems.append(f"carries {sl.ATTR_NAMES[t]}")
        self.c.check(label, not problems, "; ".join(problems) + f" ({show(m)})",
                     f"{code}, nonce {nonce.decode(errors='replace') if nonce else None}")
        return (nonce, algs) if not problems else (None, None)

    def check_plain_error(self, label, m, code):
        """An error answer with code, no address, unsigned."""
        problems = []
        if m is None:
            self.c.fail(label, "no answer")
            return
        if m.type != sl.BINDING_ERROR or err_code(m) != code:
            problems.append(f"want a {code} Binding Error Response")
        for t in (sl.MESSAGE_INTEGRITY, sl.MESSAGE_INTEGRITY_SHA256, sl.XOR_MAPPED_ADDRESS):
            if m.has(t):
                problems.append(f"carries {sl.ATTR_NAMES[t]}")
        self.c.check(label, not problems, "; ".join(problems) + f" ({show(m)})", f"{code}")

    def signed(self, ident, nonce, key, mi="sha1", realm=REALM, algs=None, alg=None,
               fingerprint=False, mac_len=32, extra=()):
        """A Binding Request. ident: a USERNAME or USERHASH attribute (or
        None); nonce: bytes or None; algs: PASSWORD-ALGORITHMS value (bytes)
        or None; alg: PASSWORD-ALGORITHM number or None; mi: "sha1",
        "sha256" or "both" (both keyed with key)."""
        attrs = []
        if ident is not None:
            attrs.append(ident)
        if nonce is not None:
            attrs.append(sl.nonce_attr(nonce))
        if realm is not None:
            attrs.append(sl.realm_attr(realm))
        if algs is not None:
            attrs.append(sl.attr(sl.PASSWORD_ALGORITHMS, algs))
        if alg is not None:
            attrs.append(sl.password_algorithm(alg))
        attrs += list(extra)
        return sl.build_lt(attrs=attrs, key=key if mi in ("sha1", "both") else None,
                           key_sha256=key if mi in ("sha256", "both") else None,
                           fingerprint=fingerprint, mac_len=mac_len)

    def auth(self, sock, dest, user, nonce, algs, alg=MD5, mi="sha1", negotiate=None,
             use_hash=False, password=None, fingerprint=False, mac_len=32, realm=REALM):
        """A signed Binding Request for user with the key of alg; negotiate
        (default: for SHA-256 only) sends PASSWORD-ALGORITHMS as received
        and PASSWORD-ALGORITHM alg. Returns (answer, key)."""
        if negotiate is None:
            negotiate = alg != MD5
        name = user.name
        pw = user.password if password is None else password
        key = sl.lt_key(name, realm, pw, alg)
        ident = sl.userhash_attr(name, realm) if use_hash else sl.username(name)
        msg, tid = self.signed(ident, nonce, key, mi=mi, realm=realm,
                               algs=algs if negotiate else None, alg=alg if negotiate else None,
                               fingerprint=fingerprint, mac_len=mac_len)
        return self.ask(sock, msg, tid, dest), key

    def check_success(self, label, m, sock, key, mi="sha1", fingerprint=False):
        """A Binding Success Response: XOR-MAPPED-ADDRESS is sock's address,
        signed like the request (mi), FINGERPRINT when asked."""
        problems = []
        if m is None:
            self.c.fail(label, "no answer")
            return False
        if m.type != sl.BINDING_SUCCESS:
            self.c.fail(label, f"not a success: {show(m)}")
            return False
        try:
            mapped = m.xor_addr()
        except sl.StunError as e:
            mapped = f"bad XOR-MAPPED-ADDRESS: {e}"
        want = sl.norm(sock.getsockname())
        if mapped != want:
            problems.append(f"XOR-MAPPED-ADDRESS {mapped}, want {want}")
        if mi in ("sha256", "both"):
            bad = sl.check_integrity_sha256(m, key)
            if bad:
                problems.append(f"MESSAGE-INTEGRITY-SHA256: {bad}")
        if mi == "sha1":
            bad = sl.check_integrity_sha1_lt(m, key)
            if bad:
                problems.append(f"MESSAGE-INTEGRITY: {bad}")
            if m.has(sl.MESSAGE_INTEGRITY_SHA256):
                problems.append("MESSAGE-INTEGRITY-SHA256 in the answer to a request "
                                "signed with MESSAGE-INTEGRITY only")
        if mi == "sha256" and m.has(sl.MESSAGE_INTEGRITY):
            problems.append("MESSAGE-INTEGRITY in the answer to a request signed with "
                            "MESSAGE-INTEGRITY-SHA256 only")
        if mi == "both" and m.has(sl.MESSAGE_INTEGRITY):
            bad = sl.check_integrity_sha1_lt(m, key)
            if bad:
                problems.append(f"MESSAGE-INTEGRITY: {bad}")
        if fingerprint and not m.has(sl.FINGERPRINT):
            problems.append("no FINGERPRINT though the request had one")
        kinds = [sl.ATTR_NAMES[t] for t in (sl.MESSAGE_INTEGRITY, sl.MESSAGE_INTEGRITY_SHA256)
                 if m.has(t)]
        return self.c.check(label, not problems, "; ".join(problems) + f" ({show(m)})",
                            f"{mapped}, {'+'.join(kinds)} verified")

    def counters(self, srv, before, want, label):
        """The long-term counters moved by exactly want (name -> delta; the
        others by 0), and return the new block. Missing counters fail."""
        after = srv.stats()
        missing = [n for n in LT_COUNTERS if n not in after.c]
        if missing:
            self.c.fail(f"{label}: counters", f"no counter {', '.join(missing)} in the "
                        "SIGUSR1 block")
            return after
        got = {n: after.c[n] - before.c.get(n, 0) for n in LT_COUNTERS}
        expect = {n: want.get(n, 0) for n in LT_COUNTERS}
        for n in want:
            if n not in LT_COUNTERS:
                got[n] = after.c.get(n, 0) - before.c.get(n, 0)
                expect[n] = want[n]
        diff = {n: (got[n], expect[n]) for n in expect if got[n] != expect[n]}
        self.c.check(f"{label}: counters", not diff,
                     "; ".join(f"{n} +{g}, want +{w}" for n, (g, w) in diff.items()),
                     ", ".join(f"{n} +{v}" for n, v in want.items()))
        return after

    # ------------------------------------------------------------ set-up

    def passwd_line(self, user, realm=REALM):
        exe = self.args.passwd
        r = subprocess.run([exe, "--realm", realm, "--", user.name, user.password],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{exe}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
        line = r.stdout.decode("utf-8").rstrip("\n")
        md5 = sl.lt_key(user.name, realm, user.password, MD5).hex()
        sha = sl.lt_key(user.name, realm, user.password, SHA256).hex()
        want = f"{user.name}:$key${realm}${md5}${sha}"
        self.c.eq(f"stunring-passwd --realm {realm} {user.name} PASSWORD: the key line", line, want)
        return line

    # ------------------------------------------------------------ 1. users

    def users(self):
        c, srv = self.c, self.main
        sock = self.udp()
        before = srv.stats()
        nonce, algs = self.challenge(sock, srv.primary, "plain Binding Request -> 401 challenge")
        if nonce is None:
            return
        for user, how in ((ALICE, "plain line"), (BOB, "stunring-passwd line"),
                          (DOLLAR, "plain '$$' line"), (MATRIX, "plain line, UTF-8 name")):
            m, key = self.auth(sock, srv.primary, user, nonce, algs, MD5)
            self.check_success(f"{user.name} ({how}): MD5, MESSAGE-INTEGRITY -> success",
                               m, sock, key)
            m, key = self.auth(sock, srv.primary, user, nonce, algs, SHA256, mi="sha256")
            self.check_success(f"{user.name} ({how}): SHA-256, MESSAGE-INTEGRITY-SHA256 -> "
                               "success", m, sock, key, "sha256")
        m, key = self.auth(sock, srv.primary, CAROL, nonce, algs, MD5)
        self.check_success("carol (key line, MD5 only): MD5 -> success", m, sock, key)
        m, _ = self.auth(sock, srv.primary, CAROL, nonce, algs, SHA256, mi="sha256")
        self.check_challenge("carol (key line, MD5 only): SHA-256 -> 401", m, 401)
        # IPv6: a nonce is bound to the client's address family and IP.
        s6 = self.udp("::1")
        dest6 = srv.ep("A1P1", socket.AF_INET6)
        n6, a6 = self.challenge(s6, dest6, "IPv6: plain Binding Request -> 401 challenge")
        if n6 is not None:
            m, key = self.auth(s6, dest6, ALICE, n6, a6, SHA256, mi="sha256", fingerprint=True)
            self.check_success("IPv6: alice, SHA-256, MESSAGE-INTEGRITY-SHA256, FINGERPRINT -> "
                               "success", m, s6, key, "sha256", fingerprint=True)
        self.counters(srv, before, {"ok": 10, "reject_lt_challenge": 2,
                                    "reject_lt_unknown_user": 1}, "users")
        c.check("users: the nonce of 127.0.0.1 is not the nonce of ::1",
                n6 is None or n6 != nonce)

    # ------------------------------------------------------------ 2. RFC samples

    def rfc_samples(self):
        srv = self.main
        sock = self.udp()
        before = srv.stats()
        # RFC 5769 §2.4: its nonce is not ours.
        sample = sl.Message(RFC5769_LT_REQUEST)
        key = sl.lt_key(MATRIX_USER, REALM, MATRIX_PASS, MD5)
        self.c.check("RFC 5769 §2.4 sample: our client code reproduces its MESSAGE-INTEGRITY",
                     sl.check_integrity_sha1_lt(sample, key) is None,
                     sl.check_integrity_sha1_lt(sample, key))
        m = self.ask(sock, RFC5769_LT_REQUEST, sample.tid, srv.primary)
        nonce, algs = self.check_challenge(
            "RFC 5769 §2.4 sample as published -> 438 with a fresh nonce", m, 438,
            sent_nonce=sample.get(sl.NONCE))
        if nonce is not None:
            msg, tid = sl.build_lt(attrs=[sl.attr(sl.USERNAME, sample.get(sl.USERNAME)),
                                          sl.nonce_attr(nonce), sl.realm_attr(REALM)], key=key)
            m = self.ask(sock, msg, tid, srv.primary)
            self.check_success("RFC 5769 §2.4 sample with our nonce, the sample's key -> success, "
                               "MESSAGE-INTEGRITY verifies with that key", m, sock, key)
        # RFC 8489 B.1 (Errata 6268): USERHASH, SHA-256, MESSAGE-INTEGRITY-SHA256.
        b1 = sl.Message(RFC8489_B1_REQUEST)
        skey = sl.lt_key(MATRIX_USER, REALM, MATRIX_PASS, SHA256)
        self.c.check("RFC 8489 B.1 sample: our client code reproduces its USERHASH and "
                     "MESSAGE-INTEGRITY-SHA256",
                     b1.get(sl.USERHASH) == sl.userhash(MATRIX_USER, REALM)
                     and sl.check_integrity_sha256(b1, skey) is None,
                     sl.check_integrity_sha256(b1, skey))
        m = self.ask(sock, RFC8489_B1_REQUEST, b1.tid, srv.primary)
        nonce, algs = self.check_challenge(
            "RFC 8489 B.1 sample as published -> 438 with a fresh nonce", m, 438,
            sent_nonce=b1.get(sl.NONCE))
        if nonce is not None:
            msg, tid = sl.build_lt(attrs=[sl.attr(sl.USERHASH, b1.get(sl.USERHASH)),
                                          sl.nonce_attr(nonce), sl.realm_attr(REALM),
                                          sl.attr(sl.PASSWORD_ALGORITHMS, algs),
                                          sl.password_algorithm(SHA256)], key_sha256=skey)
            m = self.ask(sock, msg, tid, srv.primary)
            self.check_success("RFC 8489 B.1 with our nonce (+ PASSWORD-ALGORITHMS as offered): "
                               "USERHASH, SHA-256 -> success, MESSAGE-INTEGRITY-SHA256 verifies",
                               m, sock, skey, "sha256")
        self.counters(srv, before, {"ok": 2, "reject_forged_nonce": 2}, "RFC samples")

    # ------------------------------------------------------------ 3. errors

    def errors(self):
        srv, dest = self.main, self.main.primary
        sock = self.udp()
        before = srv.stats()
        # The challenge, with FINGERPRINT and with credentials but no integrity.
        msg, tid = sl.build(fingerprint=True)
        nonce, algs = self.check_challenge("no integrity, FINGERPRINT -> 401 challenge",
                                           self.ask(sock, msg, tid, dest), 401)
        msg, tid = sl.build_lt(attrs=[sl.username("alice"), sl.realm_attr(REALM),
                                      sl.nonce_attr(nonce or b"x")])
        self.check_challenge("USERNAME, REALM, NONCE but no integrity -> 401 challenge",
                             self.ask(sock, msg, tid, dest), 401)
        if nonce is None:
            return
        key = ALICE.key(MD5)
        want = {"reject_lt_challenge": 2}

        # 400: integrity without USERNAME/USERHASH, REALM or NONCE.
        missing = [
            ("no USERNAME or USERHASH", self.signed(None, nonce, key)),
            ("no REALM", self.signed(sl.username("alice"), nonce, key, realm=None)),
            ("no NONCE", self.signed(sl.username("alice"), None, key)),
            ("MESSAGE-INTEGRITY-SHA256, no USERNAME", self.signed(None, nonce, key, mi="sha256")),
        ]
        for what, (msg, tid) in missing:
            self.check_plain_error(f"integrity, {what} -> 400", self.ask(sock, msg, tid, dest),
                                   400)
        want["reject_lt_missing_attr"] = len(missing)

        # 400: the PASSWORD-ALGORITHM(S) negotiation of a nonce that advertises it.
        skey = ALICE.key(SHA256)
        md5_first = sl.password_algorithms_value([MD5, SHA256])
        nego = [
            ("PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS", None, SHA256, skey),
            ("PASSWORD-ALGORITHMS without PASSWORD-ALGORITHM", algs, None, key),
            ("PASSWORD-ALGORITHMS reordered (MD5, SHA-256)", md5_first, MD5, key),
            ("PASSWORD-ALGORITHMS with SHA-256 only", sl.password_algorithms_value([SHA256]),
             SHA256, skey),
            ("PASSWORD-ALGORITHM 0x0003, not offered", algs, 0x0003, key),
        ]
        for what, a_list, a_one, k in nego:
            msg, tid = self.signed(sl.username("alice"), nonce, k, algs=a_list, alg=a_one)
            self.check_plain_error(f"{what} -> 400", self.ask(sock, msg, tid, dest), 400)
        want["reject_password_algorithm"] = len(nego)

        # 401: unknown user, bad MAC, another realm.
        bad401 = [
            ("unknown USERNAME", "reject_lt_unknown_user",
             self.signed(sl.username("nobody"), nonce, key)),
            ("unknown USERHASH", "reject_lt_unknown_user",
             self.signed(sl.userhash_attr("nobody", REALM), nonce, skey, mi="sha256",
                         algs=algs, alg=SHA256)),
            ("alice, wrong password (MESSAGE-INTEGRITY)", "reject_lt_bad_integrity",
             self.signed(sl.username("alice"), nonce, sl.lt_key("alice", REALM, "wrong", MD5))),
            ("alice, wrong password (MESSAGE-INTEGRITY-SHA256)", "reject_lt_bad_integrity",
             self.signed(sl.username("alice"), nonce, sl.lt_key("alice", REALM, "wrong", SHA256),
                         mi="sha256", algs=algs, alg=SHA256)),
            ("alice, MD5 key under PASSWORD-ALGORITHM SHA-256", "reject_lt_bad_integrity",
             self.signed(sl.username("alice"), nonce, key, mi="sha256", algs=algs, alg=SHA256)),
            ("alice, REALM other.org (key for it)", "reject_wrong_realm",
             self.signed(sl.username("alice"), nonce, ALICE.key(MD5, "other.org"),
                         realm="other.org")),
        ]
        for what, counter, (msg, tid) in bad401:
            self.check_challenge(f"{what} -> 401 with REALM, NONCE, PASSWORD-ALGORITHMS",
                                 self.ask(sock, msg, tid, dest), 401)
            want[counter] = want.get(counter, 0) + 1
        # A MAC that is right but for a tampered byte after signing.
        msg, tid = self.signed(sl.username("alice"), nonce, key)
        tampered = bytearray(msg)
        tampered[-1] ^= 0x01  # the MAC's last byte
        self.check_challenge("alice, MESSAGE-INTEGRITY with one bit flipped -> 401",
                             self.ask(sock, bytes(tampered), tid, dest), 401)
        want["reject_lt_bad_integrity"] += 1

        # 438: forged nonces (each answer a fresh nonce, which works).
        flipped = nonce[:-1] + (b"B" if nonce[-1:] != b"B" else b"C")
        other, _ = self.challenge(self.udp(), self.reload_srv.primary)
        forged = [
            ("last character changed", flipped),
            ("truncated", nonce[:-4]),
            ("no nonce cookie", b"f//499k954d6OL34oL9FSTvy64sA"),
            ("made by a server with another key", other or b"none"),
        ]
        fresh = None
        for what, bad in forged:
            msg, tid = self.signed(sl.username("alice"), bad, key)
            fresh, _ = self.check_challenge(f"NONCE {what} -> 438, fresh NONCE",
                                            self.ask(sock, msg, tid, dest), 438, sent_nonce=bad)
        want["reject_forged_nonce"] = len(forged)
        # The nonce of 127.0.0.1 used from 127.0.0.3: bound to the client's IP.
        try:
            s3 = self.udp("127.0.0.3")
        except OSError as e:
            self.c.fail("bind 127.0.0.3", str(e))
        else:
            m, _ = self.auth(s3, dest, ALICE, nonce, algs, MD5)
            n3, _ = self.check_challenge("the nonce of 127.0.0.1 sent from 127.0.0.3 -> 438",
                                         m, 438, sent_nonce=nonce)
            want["reject_forged_nonce"] += 1
            if n3 is not None:
                m, key3 = self.auth(s3, dest, ALICE, n3, None, MD5)
                self.check_success("127.0.0.3 with the nonce of its 438 -> success", m, s3, key3)
                want["ok"] = want.get("ok", 0) + 1
        if fresh is not None:
            m, k = self.auth(sock, dest, ALICE, fresh, WANT_ALGS, SHA256, mi="sha256")
            self.check_success("the fresh NONCE of a 438 -> success", m, sock, k, "sha256")
            want["ok"] = want.get("ok", 0) + 1
        self.counters(srv, before, want, "errors")

    # ------------------------------------------------------------ 3. fleet key rollover

    def rollover(self):
        """roll: --secret-key NEW --secret-key-previous K (main's key). A nonce
        made by one server, used signed on the other."""
        sock = self.udp()
        crossings = (
            (self.main, self.roll, "a nonce of main (made under K) -> success on a server with "
                                   "--secret-key-previous K"),
            (self.roll, self.main, "roll's fresh nonces are made under NEW (main, on K alone, "
                                   "-> 438)"),
        )
        for maker, user, label in crossings:
            nonce, algs = self.challenge(sock, maker.primary)
            if nonce is None:
                self.c.fail(f"rollover: a challenge from {maker.name}", "no 401 with a nonce")
                continue
            m, key = self.auth(sock, user.primary, ALICE, nonce, algs, SHA256, mi="sha256")
            if user is self.roll:
                self.check_success(f"rollover: {label}", m, sock, key, "sha256")
            else:
                self.check_challenge(f"rollover: {label}", m, 438, nonce)

    # ------------------------------------------------------------ 3. stale nonces

    def stale(self):
        srv, dest = self.ttl, self.ttl.primary
        sock = self.udp()
        before = srv.stats()
        want = {"ok": 0}
        # The fleet key: a nonce of main (same --secret-key) is good here.
        n_main, a_main = self.challenge(sock, self.main.primary)
        if n_main is not None:
            m, key = self.auth(sock, dest, ALICE, n_main, a_main, SHA256, mi="sha256")
            self.check_success("a nonce of main (same --secret-key) -> success on ttl",
                               m, sock, key, "sha256")
            want["ok"] += 1
        # Issue the nonce late in a wall-clock second (the server's clock for
        # nonces): a whole-second expiry rounded down would then cut its life
        # to little more than NONCE_TTL - 1 s, which the check below sees.
        for _ in range(100):
            if 0.70 <= time.time() % 1 < 0.85:
                break
            time.sleep(0.01)
        t_issue = time.time()
        t0 = time.monotonic()
        nonce, algs = self.challenge(sock, dest, f"ttl (--nonce-ttl {NONCE_TTL}): 401 challenge")
        if nonce is None:
            return
        expiry = nonce_expiry(nonce)
        want["reject_lt_challenge"] = 1
        m, key = self.auth(sock, dest, ALICE, nonce, algs, MD5)
        self.check_success("a fresh nonce -> success", m, sock, key)
        want["ok"] += 1
        # Still valid NONCE_TTL - 0.6 s after it was issued.
        later = NONCE_TTL - 0.6
        time.sleep(max(0.0, t0 + later - time.monotonic()))
        m, key = self.auth(sock, dest, ALICE, nonce, algs, MD5)
        self.c.check(f"--nonce-ttl {NONCE_TTL}: the nonce is still good {later:.1f}s after it "
                     "was issued", m is not None and m.type == sl.BINDING_SUCCESS,
                     f"{show(m)}; the nonce was issued at wall clock {t_issue:.3f} and says it "
                     f"expires at {expiry} ({expiry - t_issue if expiry else 0:.3f}s later, "
                     f"not {NONCE_TTL})", f"expires {expiry - t_issue if expiry else 0:.2f}s "
                     "after issue")
        if m is not None and m.type == sl.BINDING_SUCCESS:
            want["ok"] += 1
        elif err_code(m) == 438:
            want["reject_stale_nonce"] = 1
        # Until the nonce goes stale: bounded by its TTL + 4 s.
        last = m
        while time.monotonic() - t0 < NONCE_TTL + 4:
            if last is not None and last.type != sl.BINDING_SUCCESS:
                break
            time.sleep(0.25)
            last, key = self.auth(sock, dest, ALICE, nonce, algs, MD5)
            if last is not None and last.type == sl.BINDING_SUCCESS:
                want["ok"] += 1
            elif err_code(last) == 438:
                want["reject_stale_nonce"] = want.get("reject_stale_nonce", 0) + 1
        took = time.monotonic() - t0
        fresh, _ = self.check_challenge(f"the same nonce {took:.1f}s later -> 438, fresh NONCE",
                                        last, 438, sent_nonce=nonce)
        self.c.check(f"stale no later than {NONCE_TTL + 2}s", took <= NONCE_TTL + 2,
                     f"took {took:.2f}s", f"{took:.2f}s")
        if fresh is not None:
            m, k = self.auth(sock, dest, ALICE, fresh, WANT_ALGS, SHA256, mi="both")
            self.check_success("the fresh nonce of the 438 -> success", m, sock, k, "both")
            want["ok"] += 1
        # A stale nonce with a bad MAC is not a success either.
        m, _ = self.auth(sock, dest, ALICE, nonce, algs, MD5, password="wrong")
        self.c.check("a stale nonce with a wrong password -> 401 or 438",
                     err_code(m) in (401, 438), show(m), f"{err_code(m)}")
        if err_code(m) == 401:
            want["reject_lt_bad_integrity"] = 1
        else:
            want["reject_stale_nonce"] = want.get("reject_stale_nonce", 0) + 1
        self.counters(srv, before, want, "stale nonces")

    # ------------------------------------------------------------ 4. algorithms

    def algorithms(self):
        srv = self.main
        before = srv.stats()
        cases = [
            # (label, alg, mi, negotiate, fingerprint, use_hash, mac_len)
            ("MD5, MESSAGE-INTEGRITY (no negotiation)", MD5, "sha1", False, False, False, 32),
            ("MD5, MESSAGE-INTEGRITY (negotiated)", MD5, "sha1", True, True, False, 32),
            ("SHA-256, MESSAGE-INTEGRITY-SHA256", SHA256, "sha256", True, False, False, 32),
            ("SHA-256, MESSAGE-INTEGRITY", SHA256, "sha1", True, True, False, 32),
            ("MD5, MESSAGE-INTEGRITY-SHA256", MD5, "sha256", False, False, False, 32),
            ("SHA-256, both integrity attributes", SHA256, "both", True, True, False, 32),
            ("SHA-256, USERHASH, MESSAGE-INTEGRITY", SHA256, "sha1", True, False, True, 32),
            ("MD5, USERHASH, MESSAGE-INTEGRITY-SHA256", MD5, "sha256", True, False, True, 32),
            ("SHA-256, MESSAGE-INTEGRITY-SHA256 truncated to 16 bytes", SHA256, "sha256", True,
             False, False, 16),
        ]
        for host, dest in (("127.0.0.1", srv.primary),
                           ("::1", srv.ep("A1P1", socket.AF_INET6))):
            sock = self.udp(host)
            nonce, algs = self.challenge(sock, dest)
            if not self.c.check(f"{host}: 401 challenge", nonce is not None):
                continue
            for label, alg, mi, nego, fp, uh, mac_len in cases:
                m, key = self.auth(sock, dest, BOB, nonce, algs, alg, mi=mi, negotiate=nego,
                                   fingerprint=fp, use_hash=uh, mac_len=mac_len)
                self.check_success(f"{host}: bob, {label}{', FINGERPRINT' if fp else ''} "
                                   "-> success", m, sock, key, mi, fp)
        # Over TCP.
        with socket.create_connection(srv.primary, timeout=3) as conn:
            def ask(msg, tid):
                conn.sendall(msg)
                m = sl.recv_stream_message(conn, 3.0)
                return m if m is None or m.tid == tid else None
            msg, tid = sl.build()
            m = ask(msg, tid)
            nonce, algs = self.check_challenge("TCP: 401 challenge", m, 401)
            if nonce is not None:
                key = BOB.key(SHA256)
                msg, tid = self.signed(sl.username("bob"), nonce, key, mi="sha256", algs=algs,
                                       alg=SHA256, fingerprint=True)
                m = ask(msg, tid)
                self.check_success("TCP: bob, SHA-256, MESSAGE-INTEGRITY-SHA256 -> success",
                                   m, conn, key, "sha256", True)
        self.counters(srv, before, {"ok": 2 * len(cases) + 1, "reject_lt_challenge": 3},
                      "algorithms")

    # ------------------------------------------------------------ 5. SIGHUP

    def wait_for(self, label, fn, done):
        """fn() again (bounded by RELOAD_WAIT) until done(result); checks it."""
        deadline = time.monotonic() + RELOAD_WAIT
        t0 = time.monotonic()
        r = fn()
        while not done(r) and time.monotonic() < deadline:
            time.sleep(0.1)
            r = fn()
        return self.c.check(label, done(r), f"after {RELOAD_WAIT}s: {show(r)}",
                            f"{time.monotonic() - t0:.2f}s")

    def log_lines_after(self, srv, start, needle):
        lines = srv.log()[start:].splitlines()
        return [l for l in lines if needle in l]

    def reload(self):
        srv, dest = self.reload_srv, self.reload_srv.primary
        sock = self.udp()
        nonce, algs = self.challenge(sock, dest, "reload: 401 challenge")
        if nonce is None:
            return

        def try_user(user, alg=SHA256):
            return lambda: self.auth(sock, dest, user, nonce, algs, alg,
                                     mi="sha256" if alg == SHA256 else "sha1")[0]

        def ok(m):
            return m is not None and m.type == sl.BINDING_SUCCESS

        def refused(m):
            return err_code(m) == 401

        self.c.check("before: alice -> success", ok(try_user(ALICE)()))
        self.c.check("before: frank (not yet listed) -> 401", refused(try_user(FRANK)()))
        # Add frank.
        write_file(self.reload_users, f"alice:{ALICE.password}\n{self.frank_line}\n")
        srv.reload()
        self.wait_for("frank added, SIGHUP -> frank succeeds", try_user(FRANK), ok)
        self.c.check("alice still succeeds", ok(try_user(ALICE, MD5)()))
        # Remove alice.
        write_file(self.reload_users, f"{self.frank_line}\n")
        srv.reload()
        self.wait_for("alice removed, SIGHUP -> alice gets 401", try_user(ALICE), refused)
        self.c.check("frank still succeeds", ok(try_user(FRANK, MD5)()))
        # A broken file: the old table stays, the log says so.
        start = len(srv.log())
        write_file(self.reload_users, f"{self.frank_line}\ngeorge:{GEORGE.password}\n"
                   "broken:$bogus$form\n")
        srv.reload()
        deadline = time.monotonic() + RELOAD_WAIT
        said = []
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
            said = self.log_lines_after(srv, start, self.reload_users + ":3")
        self.c.check("broken file (line 3), SIGHUP: the log names FILE:3", said,
                     f"no line naming {self.reload_users}:3 in the log after SIGHUP:\n"
                     + srv.log()[start:], said[0] if said else "")
        words = ("keep", "kept", "old", "previous", "unchanged", "still")
        kept = [l for l in srv.log()[start:].splitlines() if any(w in l.lower() for w in words)]
        self.c.check("broken file: the log says the old users are kept", kept,
                     f"no line with any of {words} after SIGHUP:\n{srv.log()[start:]}",
                     kept[0] if kept else "")
        self.c.check("broken file: frank (old table) still succeeds", ok(try_user(FRANK)()))
        self.c.check("broken file: george (only in the broken file) -> 401",
                     refused(try_user(GEORGE)()))
        self.c.check("broken file: alice (removed before) still 401", refused(try_user(ALICE)()))
        # A missing file: likewise.
        os.rename(self.reload_users, self.reload_users + ".away")
        start = len(srv.log())
        srv.reload()
        deadline = time.monotonic() + RELOAD_WAIT
        said = []
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
            said = self.log_lines_after(srv, start, self.reload_users)
        self.c.check("missing file, SIGHUP: the log names it", said,
                     "nothing in the log:\n" + srv.log()[start:], said[0] if said else "")
        self.c.check("missing file: frank still succeeds", ok(try_user(FRANK)()))
        # Repaired: george comes in.
        os.rename(self.reload_users + ".away", self.reload_users)
        write_file(self.reload_users, f"{self.frank_line}\ngeorge:{GEORGE.password}\n")
        srv.reload()
        self.wait_for("file repaired, SIGHUP -> george succeeds", try_user(GEORGE), ok)
        self.c.check("server alive after the reloads", srv.alive(), f"exit {srv.proc.poll()}")

    # ------------------------------------------------------------ 6. npm `stun`

    def npm_dir(self):
        if self.args.npm_dir:
            return self.args.npm_dir
        # The build tree: stunringd is BUILD/tools/stunringd.
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
            self.args.stunringd))), "e2e-npm")

    def npm_install(self):
        """npm install of tests/e2e/npm/package.json (and its lock) into a
        cache directory, under a lock (the backends may run at once);
        skipped when the same files were installed there. Returns the
        directory holding longterm.js and node_modules, or None."""
        node, npm = shutil.which("node"), shutil.which("npm")
        if not self.c.check("node and npm are installed", node and npm,
                            "node or npm missing: run `tools/dev setup` (it installs Debian's "
                            "nodejs and npm)", f"{node}, {npm}"):
            return None
        d = self.npm_dir()
        os.makedirs(d, exist_ok=True)
        files = [f for f in ("package.json", "package-lock.json")
                 if os.path.exists(os.path.join(NPM_SRC, f))]
        stamp = hashlib.sha256()
        for f in files:
            with open(os.path.join(NPM_SRC, f), "rb") as fh:
                stamp.update(f.encode() + b"\0" + fh.read() + b"\0")
        stamp = stamp.hexdigest()
        with open(os.path.join(d, ".lock"), "w") as lock:
            deadline = time.monotonic() + NPM_INSTALL_TIMEOUT + 30
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        self.c.fail("npm install", f"{d}/.lock held too long")
                        return None
                    time.sleep(0.2)
            try:
                shutil.copy(os.path.join(NPM_SRC, "longterm.js"), d)
                stamp_path = os.path.join(d, ".installed")
                installed = ""
                if os.path.exists(stamp_path):
                    with open(stamp_path) as f:
                        installed = f.read().strip()
                if installed == stamp and os.path.exists(
                        os.path.join(d, "node_modules", "stun", "package.json")):
                    print(f"# npm: {d}: already installed")
                    return d
                for f in files:
                    shutil.copy(os.path.join(NPM_SRC, f), d)
                cmd = [npm, "install", "--no-audit", "--no-fund"]
                env = dict(os.environ, npm_config_update_notifier="false")
                t0 = time.monotonic()
                try:
                    r = subprocess.run(cmd, cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                                       timeout=NPM_INSTALL_TIMEOUT, env=env)
                except subprocess.TimeoutExpired:
                    self.c.fail("npm install", f"{' '.join(cmd)} in {d}: over "
                                f"{NPM_INSTALL_TIMEOUT}s")
                    return None
                out = (r.stdout + r.stderr).decode(errors="replace")
                if not self.c.check(f"npm install in {d}", r.returncode == 0,
                                    f"exit {r.returncode}:\n{out[-3000:]}",
                                    f"{time.monotonic() - t0:.1f}s"):
                    return None
                with open(stamp_path, "w") as f:
                    f.write(stamp + "\n")
                return d
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def run_node(self, d, user, password):
        cmd = ["node", os.path.join(d, "longterm.js"), self.main.primary[0],
               str(self.main.primary[1]), user, password]
        try:
            r = subprocess.run(cmd, cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=NODE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.c.fail(f"node longterm.js {user}", f"over {NODE_TIMEOUT}s")
            return None
        out = r.stdout.decode(errors="replace").strip()
        print(f"# node: {' '.join(cmd[:-1])} ***: exit {r.returncode}: {out}")
        if r.returncode != 0 or not out:
            self.c.fail(f"node longterm.js {user}: exit 0 and a JSON line",
                        f"exit {r.returncode}; stdout {out!r}; stderr "
                        f"{r.stderr.decode(errors='replace')[-2000:]}")
            return None
        try:
            return json.loads(out.splitlines()[-1])
        except ValueError as e:
            self.c.fail(f"node longterm.js {user}: JSON", f"{e}: {out!r}")
            return None

    def npm(self):
        d = self.npm_install()
        if d is None:
            return
        with open(os.path.join(NPM_SRC, "package.json")) as f:
            pinned = json.load(f)["dependencies"]["stun"]
        srv = self.main
        before = srv.stats()
        want = {"ok": 0, "reject_lt_challenge": 0, "reject_lt_bad_integrity": 0}
        r = self.run_node(d, ALICE.name, ALICE.password)
        if r is not None:
            sends = r.get("sends") or {}
            want["reject_lt_challenge"] += sends.get("challenge", 0)
            want["ok"] += sends.get("signed", 0)
            self.c.eq("npm stun: the installed version is the pinned one", r.get("package"),
                      pinned)
            ch = r.get("challenge") or {}
            err = ch.get("error") or {}
            self.c.check("npm stun: first request -> 401 with REALM and a nonce of ours",
                         err.get("code") == 401 and ch.get("realm") == REALM
                         and (ch.get("nonce") or "").startswith("obMatJos2"), f"{ch}",
                         f"401 (the package's getError().code says {err.get('package_code')}), "
                         f"realm {ch.get('realm')}")
            self.c.eq("npm stun: signed retry (USERNAME, REALM, NONCE, MESSAGE-INTEGRITY, "
                      "FINGERPRINT) -> success", r.get("result"), "success",
                      f"answer {r.get('answer')}")
            mapped = r.get("mapped") or {}
            local = r.get("local") or {}
            self.c.check("npm stun: XOR-MAPPED-ADDRESS == the Node socket's address",
                         mapped.get("address") == local.get("address")
                         and mapped.get("port") == local.get("port") and local.get("port"),
                         f"mapped {mapped}, socket {local}",
                         f"{mapped.get('address')}:{mapped.get('port')}")
            self.c.eq("npm stun: validateMessageIntegrity(answer, key) (the package's own check)",
                      r.get("integrity_valid"), True)
            self.c.eq("npm stun: validateMessageIntegrity(answer, another key) is false",
                      r.get("integrity_wrong_key_valid"), False)
            self.c.eq("npm stun: validateFingerprint(answer)", r.get("fingerprint_valid"), True)
        r = self.run_node(d, ALICE.name, "wrong-password")
        if r is not None:
            sends = r.get("sends") or {}
            want["reject_lt_challenge"] += sends.get("challenge", 0)
            want["reject_lt_bad_integrity"] += sends.get("signed", 0)
            ans = r.get("answer") or {}
            self.c.check("npm stun: wrong password -> 401 with REALM and NONCE",
                         r.get("result") == "error"
                         and (ans.get("error") or {}).get("code") == 401
                         and ans.get("realm") == REALM and ans.get("nonce"), f"{r}")
        self.counters(srv, before, want, "npm stun (one per datagram node sent)")

    # ------------------------------------------------------------ main

    def run(self):
        c = self.c
        try:
            d = tempfile.mkdtemp(prefix="stunring-e2e-lt-")
            sl._LOGDIRS.append(d)
            keyfile = os.path.join(d, "fleet.key")
            write_file(keyfile, os.urandom(24).hex())
            bob_line = self.passwd_line(BOB)
            self.frank_line = self.passwd_line(FRANK)
            md5 = CAROL.key(MD5).hex()
            users = os.path.join(d, "users.txt")
            write_file(users, "\n".join([
                "# written by tests/e2e/test_longterm.py",
                f"alice:{ALICE.password}",
                bob_line,
                f"carol:$key${REALM}${md5}$-",
                "dollar:$$money",
                "",
                f"{MATRIX_USER}:{MATRIX_PASS}",
            ]) + "\n")
            self.reload_users = os.path.join(d, "reload-users.txt")
            write_file(self.reload_users, f"alice:{ALICE.password}\n")
            lt = ["--auth", "required", "--realm", REALM]
            self.main = self.server("main", listen=("127.0.0.1", "::1"),
                                    extra=lt + ["--users", users, "--secret-key", keyfile])
            self.ttl = self.server("ttl", extra=lt + ["--users", users, "--secret-key", keyfile,
                                                      "--nonce-ttl", str(NONCE_TTL)])
            newkey = os.path.join(d, "new-fleet.key")
            write_file(newkey, os.urandom(24).hex())
            self.roll = self.server("roll", extra=lt + ["--users", users, "--secret-key", newkey,
                                                        "--secret-key-previous", keyfile])
            self.reload_srv = self.server("reload", extra=lt + ["--users", self.reload_users])
        except (sl.ServerError, RuntimeError, OSError, subprocess.SubprocessError) as e:
            c.fail("set-up: users files and servers", f"{type(e).__name__}: {e}")
            self.stop_all()
            return
        groups = [
            ("1. users: plain and stunring-passwd lines", self.users),
            ("2. RFC 5769 §2.4 and RFC 8489 B.1 samples", self.rfc_samples),
            ("3. errors: 401 challenge, 400, 438 forged, 401", self.errors),
            ("3. stale nonces (--nonce-ttl) and the fleet key", self.stale),
            ("3. fleet key rollover (--secret-key-previous)", self.rollover),
            ("4. password algorithms and integrity attributes", self.algorithms),
            ("5. SIGHUP reloads the users file", self.reload),
            ("6. the npm stun package", self.npm),
        ]
        try:
            for name, fn in groups:
                c.run(name, fn)
            for srv in self.servers:
                c.check(f"{srv.name}: still running after every check", srv.alive(),
                        f"exit {srv.proc.poll()}")
        finally:
            self.stop_all()

    def stop_all(self):
        sl.close_all(self.c, self.sockets, self.servers)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stunringd", default=os.environ.get("STUNRINGD"),
                    help="path to the stunringd binary (default: $STUNRINGD)")
    ap.add_argument("--backend", default=os.environ.get("STUNRING_BACKEND", "uring"),
                    choices=("uring", "mmsg", "auto"))
    ap.add_argument("--passwd", help="stunring-passwd (default: next to --stunringd)")
    ap.add_argument("--npm-dir", help="where npm installs the `stun` package (default: "
                    "e2e-npm in the build tree: the parent of --stunringd's directory)")
    args = ap.parse_args()
    if not args.stunringd:
        ap.error("--stunringd PATH (or $STUNRINGD) is required")
    if not os.access(args.stunringd, os.X_OK):
        ap.error(f"{args.stunringd}: not an executable")
    if not args.passwd:
        args.passwd = os.path.join(os.path.dirname(os.path.abspath(args.stunringd)),
                                   "stunring-passwd")
    if not os.access(args.passwd, os.X_OK):
        ap.error(f"{args.passwd}: not an executable (build the stunring-passwd target)")
    return args


def main():
    return sl.run_suite(Longterm, "test_longterm", parse_args())


if __name__ == "__main__":
    sys.exit(main())
