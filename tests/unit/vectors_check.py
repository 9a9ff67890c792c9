#!/usr/bin/env python3
"""Independent verification of tests/unit/vectors.h.

Standalone (Python 3 standard library only). Usage:

    python3 tests/unit/vectors_check.py [path/to/vectors.h]

For every vector the script
  * parses the C arrays/strings out of vectors.h,
  * compares them byte-for-byte with hex transcribed here from the RFC text
    (RFC 5769 s2.1-2.4; RFC 8489 Appendix B.1 as corrected by Errata ID 6268),
  * walks the STUN header and attributes (length field, magic cookie, padding),
  * recomputes MESSAGE-INTEGRITY (HMAC-SHA1, RFC 5389 s15.4),
    MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, RFC 8489 s14.6),
    FINGERPRINT (CRC-32 ^ 0x5354554e, RFC 5389 s15.5), USERHASH (RFC 8489 s14.4)
    and the long-term keys (MD5 / SHA-256 of user:realm:pass),
  * decodes XOR-MAPPED-ADDRESS and the text attributes and compares them with
    the expected values,
  * re-derives what Errata 6268 changed in RFC 8489 B.1.
It prints every check and exits 1 if any fails.
"""
import hashlib
import hmac
import ipaddress
import os
import re
import struct
import sys
import zlib

MAGIC = 0x2112A442
FP_XOR = 0x5354554E

ATTR = {
    "USERNAME": 0x0006, "MESSAGE-INTEGRITY": 0x0008, "REALM": 0x0014, "NONCE": 0x0015,
    "MESSAGE-INTEGRITY-SHA256": 0x001C, "PASSWORD-ALGORITHM": 0x001D, "USERHASH": 0x001E,
    "XOR-MAPPED-ADDRESS": 0x0020, "PRIORITY": 0x0024, "SOFTWARE": 0x8022,
    "FINGERPRINT": 0x8028, "ICE-CONTROLLED": 0x8029,
}
ATTR_NAME = {v: k for k, v in ATTR.items()}

failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    print("  [%s] %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failures += 1
    return ok


def h(s):
    return bytes.fromhex("".join(s.split()))


# ---------------------------------------------------------------------------
# Hex transcribed from the RFC text (independent of vectors.h).
# ---------------------------------------------------------------------------
RFC = {}
RFC["rfc5769_request"] = h("""
00 01 00 58  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
80 22 00 10  53 54 55 4e  20 74 65 73  74 20 63 6c  69 65 6e 74
00 24 00 04  6e 00 01 ff
80 29 00 08  93 2f f9 b1  51 26 3b 36
00 06 00 09  65 76 74 6a  3a 68 36 76  59 20 20 20
00 08 00 14  9a ea a7 0c  bf d8 cb 56  78 1e f2 b5  b2 d3 f2 49  c1 b5 71 a2
80 28 00 04  e5 7a 3b cf""")
RFC["rfc5769_response_v4"] = h("""
01 01 00 3c  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
00 20 00 08  00 01 a1 47  e1 12 a6 43
00 08 00 14  2b 91 f5 99  fd 9e 90 c3  8c 74 89 f9  2a f9 ba 53  f0 6b e7 d7
80 28 00 04  c0 7d 4c 96""")
RFC["rfc5769_response_v6"] = h("""
01 01 00 48  21 12 a4 42  b7 e7 a7 01  bc 34 d6 86  fa 87 df ae
80 22 00 0b  74 65 73 74  20 76 65 63  74 6f 72 20
00 20 00 14  00 02 a1 47  01 13 a9 fa  a5 d3 f1 79  bc 25 f4 b5  be d2 b9 d9
00 08 00 14  a3 82 95 4e  4b e6 7b f1  17 84 c9 7c  82 92 c2 75  bf e3 ed 41
80 28 00 04  c8 fb 0b 4c""")
RFC["rfc5769_request_lt"] = h("""
00 01 00 60  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
00 06 00 12  e3 83 9e e3  83 88 e3 83  aa e3 83 83  e3 82 af e3  82 b9 00 00
00 15 00 1c  66 2f 2f 34  39 39 6b 39  35 34 64 36  4f 4c 33 34  6f 4c 39 46
             53 54 76 79  36 34 73 41
00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
00 08 00 14  f6 70 24 65  6d d6 4a 3e  02 b8 e0 71  2e 85 c9 a2  8c a8 96 66""")
# RFC 8489 Appendix B.1, "It should say" text of Errata ID 6268 (Verified).
RFC["rfc8489_b1_request"] = h("""
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
# RFC 8489 Appendix B.1 as originally published (the "Section Appendix B.1 says"
# text of Errata 6268). Used only to re-derive what the erratum changed.
RFC8489_B1_PUBLISHED = h("""
00 01 00 9c  21 12 a4 42  78 ad 34 33  c6 ad 72 c0  29 da 41 2e
00 1e 00 20  4a 3c f3 8f  ef 69 92 bd  a9 52 c6 78  04 17 da 0f
             24 81 94 15  56 9e 60 b2  05 c4 6e 41  40 7f 17 04
00 15 00 29  6f 62 4d 61  74 4a 6f 73  32 41 41 41  43 66 2f 2f  34 39 39 6b
             39 35 34 64  36 4f 4c 33  34 6f 4c 39  46 53 54 76  79 36 34 73
             41 00 00 00
00 14 00 0b  65 78 61 6d  70 6c 65 2e  6f 72 67 00
00 1c 00 20  e4 68 6c 8f  0e de b5 90  13 e0 70 90  01 0a 93 ef
             cc bc cc 54  4c 0a 45 d9  f8 30 aa 6d  6f 73 5a 01""")

# Parameters stated in the RFC text.
SHORT_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
SHORT_USERNAME = b"evtj:h6vY"
LT_USERNAME = "\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9".encode("utf-8")
LT_PASSWORD = b"TheMatrIX"  # after SASLprep / OpaqueString
LT_REALM = b"example.org"
LT_NONCE_5769 = b"f//499k954d6OL34oL9FSTvy64sA"
NONCE_8489 = b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"
TXID_A = h("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
TXID_B = h("78 ad 34 33 c6 ad 72 c0 29 da 41 2e")


# ---------------------------------------------------------------------------
# vectors.h parser
# ---------------------------------------------------------------------------
def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def c_string_bytes(body):
    """Decode a C string literal body (no quotes); \\x escapes are greedy as in C."""
    out, i = bytearray(), 0
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            j = i + 2
            while j < len(body) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            v = int(body[i + 2:j], 16)
            if v > 0xFF:
                raise ValueError("hex escape out of range in C string: %r" % body[i:j])
            out.append(v)
            i = j
        elif e in simple:
            out.append(simple[e])
            i += 2
        else:
            raise ValueError("unsupported escape \\%s" % e)
    return bytes(out)


def parse_header(path):
    text = strip_comments(open(path, encoding="utf-8").read())
    arrays, strings, scalars = {}, {}, {}
    for m in re.finditer(r"static\s+const\s+uint8_t\s+(\w+)\s*\[\s*(\d*)\s*\]\s*"
                         r"(?:STUN_VECTOR_UNUSED\s*)?=\s*\{([^}]*)\}\s*;", text):
        name, size, body = m.group(1), m.group(2), m.group(3)
        items = [x.strip() for x in body.split(",") if x.strip()]
        vals = [int(x, 0) for x in items]
        if any(v < 0 or v > 255 for v in vals):
            raise ValueError("%s: element out of range" % name)
        if size and int(size) != len(vals):
            raise ValueError("%s: declared size %s but %d initialisers" % (name, size, len(vals)))
        arrays[name] = bytes(vals)
    for m in re.finditer(r"static\s+const\s+char\s+(\w+)\s*\[\s*\]\s*"
                         r"(?:STUN_VECTOR_UNUSED\s*)?=\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+);", text):
        parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2))
        strings[m.group(1)] = b"".join(c_string_bytes(p) for p in parts)
    for m in re.finditer(r"static\s+const\s+uint16_t\s+(\w+)\s*"
                         r"(?:STUN_VECTOR_UNUSED\s*)?=\s*(\w+)\s*;", text):
        scalars[m.group(1)] = int(m.group(2), 0)
    return arrays, strings, scalars


# ---------------------------------------------------------------------------
# STUN helpers
# ---------------------------------------------------------------------------
def walk(msg):
    """Return list of (offset, type, length, value); raise on malformed framing."""
    if len(msg) < 20:
        raise ValueError("short message")
    mtype, mlen, cookie = struct.unpack_from(">HHI", msg, 0)
    if mtype & 0xC000:
        raise ValueError("top two bits not zero")
    if cookie != MAGIC:
        raise ValueError("bad magic cookie")
    if mlen != len(msg) - 20 or mlen % 4:
        raise ValueError("length field %d but body is %d bytes" % (mlen, len(msg) - 20))
    attrs, off = [], 20
    while off < len(msg):
        if off + 4 > len(msg):
            raise ValueError("truncated attribute header at %d" % off)
        t, l = struct.unpack_from(">HH", msg, off)
        end = off + 4 + ((l + 3) & ~3)
        if end > len(msg):
            raise ValueError("attribute at %d overruns message" % off)
        attrs.append((off, t, l, msg[off + 4:off + 4 + l]))
        off = end
    return attrs


def with_length(msg, upto, new_len):
    buf = bytearray(msg[:upto])
    struct.pack_into(">H", buf, 2, new_len)
    return bytes(buf)


def mi_sha1(msg, mi_off, key):
    return hmac.new(key, with_length(msg, mi_off, mi_off + 4 + 20 - 20), hashlib.sha1).digest()


def mi_sha256(msg, mi_off, key, length_field=None):
    if length_field is None:
        length_field = mi_off + 4 + 32 - 20
    return hmac.new(key, with_length(msg, mi_off, length_field), hashlib.sha256).digest()


def fingerprint(msg, fp_off):
    crc = zlib.crc32(with_length(msg, fp_off, fp_off + 8 - 20)) & 0xFFFFFFFF
    return struct.pack(">I", crc ^ FP_XOR)


def xor_address(value, txid):
    family = value[1]
    port = struct.unpack_from(">H", value, 2)[0] ^ (MAGIC >> 16)
    mask = struct.pack(">I", MAGIC) + txid
    if family == 0x01:
        addr = bytes(a ^ b for a, b in zip(value[4:8], mask[:4]))
        return family, str(ipaddress.IPv4Address(addr)), port, addr
    if family == 0x02:
        addr = bytes(a ^ b for a, b in zip(value[4:20], mask))
        return family, str(ipaddress.IPv6Address(addr)), port, addr
    raise ValueError("bad family")


def find(attrs, name):
    got = [a for a in attrs if a[1] == ATTR[name]]
    return got[0] if len(got) == 1 else None


def describe(attrs):
    for off, t, l, _ in attrs:
        print("      offset %3d  %-26s 0x%04x len %d" % (off, ATTR_NAME.get(t, "?"), t, l))


def common(name, msg, exp_type, exp_txid, exp_order, padding):
    """Framing checks shared by all vectors; returns attribute list or None."""
    check(msg == RFC[name], "%s: vectors.h bytes identical to RFC hex transcription (%d bytes)"
          % (name, len(msg)))
    try:
        attrs = walk(msg)
    except ValueError as e:
        check(False, "%s: framing: %s" % (name, e))
        return None
    check(True, "%s: magic cookie, length field 0x%04x == %d-20, attributes tile body"
          % (name, len(msg) - 20, len(msg)))
    describe(attrs)
    check(struct.unpack_from(">H", msg, 0)[0] == exp_type,
          "%s: message type 0x%04x" % (name, exp_type))
    check(msg[8:20] == exp_txid, "%s: transaction ID %s" % (name, exp_txid.hex()))
    check([ATTR_NAME.get(t) for _, t, _, _ in attrs] == exp_order,
          "%s: attribute order %s" % (name, ", ".join(exp_order)))
    for off, t, l, _ in attrs:
        pad = msg[off + 4 + l:off + 4 + ((l + 3) & ~3)]
        if pad:
            check(set(pad) == {padding}, "%s: %s padding bytes are 0x%02x x%d"
                  % (name, ATTR_NAME.get(t), padding, len(pad)))
    return attrs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "vectors.h")
    print("checking %s" % path)
    arrays, strings, scalars = parse_header(path)

    needed_arrays = ["rfc5769_request", "rfc5769_response_v4", "rfc5769_response_v6",
                     "rfc5769_request_lt", "rfc8489_b1_request", "rfc8489_b1_userhash",
                     "rfc5769_lt_key", "rfc8489_b1_key", "rfc5769_txid",
                     "rfc5769_mapped_v4", "rfc5769_mapped_v6"]
    needed_strings = ["rfc5769_password", "rfc5769_username", "rfc5769_request_software",
                      "rfc5769_response_software", "rfc5769_lt_username", "rfc5769_lt_password",
                      "rfc5769_lt_realm", "rfc5769_lt_nonce", "rfc8489_b1_username",
                      "rfc8489_b1_password", "rfc8489_b1_realm", "rfc8489_b1_nonce"]
    print("\n== parse")
    for n in needed_arrays:
        if not check(n in arrays, "array %s present" % n):
            return 1
    for n in needed_strings:
        if not check(n in strings, "string %s present" % n):
            return 1
    if not check("rfc5769_mapped_port" in scalars, "scalar rfc5769_mapped_port present"):
        return 1

    print("\n== credentials / constants")
    check(strings["rfc5769_password"] == SHORT_PASSWORD, "rfc5769_password")
    check(strings["rfc5769_username"] == SHORT_USERNAME, "rfc5769_username")
    check(strings["rfc5769_request_software"] == b"STUN test client", "rfc5769_request_software")
    check(strings["rfc5769_response_software"] == b"test vector", "rfc5769_response_software")
    check(strings["rfc5769_lt_username"] == LT_USERNAME,
          "rfc5769_lt_username == UTF-8 of U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 (%s)"
          % LT_USERNAME.hex())
    check(strings["rfc5769_lt_password"] == LT_PASSWORD, "rfc5769_lt_password")
    check(strings["rfc5769_lt_realm"] == LT_REALM, "rfc5769_lt_realm")
    check(strings["rfc5769_lt_nonce"] == LT_NONCE_5769, "rfc5769_lt_nonce")
    check(strings["rfc8489_b1_username"] == LT_USERNAME, "rfc8489_b1_username")
    check(strings["rfc8489_b1_password"] == LT_PASSWORD, "rfc8489_b1_password")
    check(strings["rfc8489_b1_realm"] == LT_REALM, "rfc8489_b1_realm")
    check(strings["rfc8489_b1_nonce"] == NONCE_8489, "rfc8489_b1_nonce")
    check(arrays["rfc5769_txid"] == TXID_A, "rfc5769_txid")
    check(scalars["rfc5769_mapped_port"] == 32853, "rfc5769_mapped_port == 32853")
    check(arrays["rfc5769_mapped_v4"] == bytes([192, 0, 2, 1]), "rfc5769_mapped_v4 == 192.0.2.1")
    check(arrays["rfc5769_mapped_v6"] ==
          ipaddress.IPv6Address("2001:db8:1234:5678:11:2233:4455:6677").packed,
          "rfc5769_mapped_v6 == 2001:db8:1234:5678:11:2233:4455:6677")
    md5_key = hashlib.md5(LT_USERNAME + b":" + LT_REALM + b":" + LT_PASSWORD).digest()
    sha_key = hashlib.sha256(LT_USERNAME + b":" + LT_REALM + b":" + LT_PASSWORD).digest()
    userhash = hashlib.sha256(LT_USERNAME + b":" + LT_REALM).digest()
    check(arrays["rfc5769_lt_key"] == md5_key,
          "rfc5769_lt_key == MD5(user:realm:pass) = %s" % md5_key.hex())
    check(arrays["rfc8489_b1_key"] == sha_key,
          "rfc8489_b1_key == SHA-256(user:realm:pass) = %s" % sha_key.hex())
    check(arrays["rfc8489_b1_userhash"] == userhash,
          "rfc8489_b1_userhash == SHA-256(user:realm) = %s" % userhash.hex())

    # ---- RFC 5769 2.1
    name = "rfc5769_request"
    print("\n== RFC 5769 s2.1 sample request")
    msg = arrays[name]
    attrs = common(name, msg, 0x0001, TXID_A,
                   ["SOFTWARE", "PRIORITY", "ICE-CONTROLLED", "USERNAME",
                    "MESSAGE-INTEGRITY", "FINGERPRINT"], 0x20)
    if attrs:
        check(find(attrs, "SOFTWARE")[3] == b"STUN test client", 'SOFTWARE == "STUN test client"')
        check(find(attrs, "PRIORITY")[3] == h("6e 00 01 ff"), "PRIORITY == 0x6e0001ff")
        check(find(attrs, "ICE-CONTROLLED")[3] == h("93 2f f9 b1 51 26 3b 36"),
              "ICE-CONTROLLED tie-breaker == 0x932ff9b151263b36")
        check(find(attrs, "USERNAME")[3] == SHORT_USERNAME, 'USERNAME == "evtj:h6vY"')
        off, _, l, val = find(attrs, "MESSAGE-INTEGRITY")
        calc = mi_sha1(msg, off, SHORT_PASSWORD)
        check(l == 20 and calc == val, "MESSAGE-INTEGRITY @%d: HMAC-SHA1(password, msg[0:%d], "
              "len=0x%04x) = %s" % (off, off, off + 4, calc.hex()))
        off, _, l, val = find(attrs, "FINGERPRINT")
        calc = fingerprint(msg, off)
        check(l == 4 and calc == val and off + 8 == len(msg),
              "FINGERPRINT @%d (last): CRC32(msg[0:%d], len=0x%04x)^0x5354554e = %s"
              % (off, off, off - 12, calc.hex()))

    # ---- RFC 5769 2.2 / 2.3
    for name, title, fam, addr_s in (
            ("rfc5769_response_v4", "s2.2 sample IPv4 response", 1, "192.0.2.1"),
            ("rfc5769_response_v6", "s2.3 sample IPv6 response", 2,
             "2001:db8:1234:5678:11:2233:4455:6677")):
        print("\n== RFC 5769 %s" % title)
        msg = arrays[name]
        attrs = common(name, msg, 0x0101, TXID_A,
                       ["SOFTWARE", "XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"],
                       0x20)
        if not attrs:
            continue
        check(find(attrs, "SOFTWARE")[3] == b"test vector", 'SOFTWARE == "test vector"')
        f, a, p, raw = xor_address(find(attrs, "XOR-MAPPED-ADDRESS")[3], msg[8:20])
        check(f == fam and ipaddress.ip_address(a) == ipaddress.ip_address(addr_s) and p == 32853,
              "XOR-MAPPED-ADDRESS decodes to family %d %s port %d" % (f, a, p))
        off, _, l, val = find(attrs, "MESSAGE-INTEGRITY")
        calc = mi_sha1(msg, off, SHORT_PASSWORD)
        check(l == 20 and calc == val, "MESSAGE-INTEGRITY @%d: HMAC-SHA1(password, msg[0:%d], "
              "len=0x%04x) = %s" % (off, off, off + 4, calc.hex()))
        off, _, l, val = find(attrs, "FINGERPRINT")
        calc = fingerprint(msg, off)
        check(l == 4 and calc == val and off + 8 == len(msg),
              "FINGERPRINT @%d (last): CRC32(msg[0:%d], len=0x%04x)^0x5354554e = %s"
              % (off, off, off - 12, calc.hex()))

    # ---- RFC 5769 2.4
    name = "rfc5769_request_lt"
    print("\n== RFC 5769 s2.4 sample request with long-term authentication")
    msg = arrays[name]
    attrs = common(name, msg, 0x0001, TXID_B,
                   ["USERNAME", "NONCE", "REALM", "MESSAGE-INTEGRITY"], 0x00)
    if attrs:
        check(find(attrs, "USERNAME")[3] == LT_USERNAME, "USERNAME == 18-byte UTF-8 username")
        check(find(attrs, "NONCE")[3] == LT_NONCE_5769, 'NONCE == "%s"' % LT_NONCE_5769.decode())
        check(find(attrs, "REALM")[3] == LT_REALM, 'REALM == "example.org"')
        check(find(attrs, "FINGERPRINT") is None, "no FINGERPRINT")
        off, _, l, val = find(attrs, "MESSAGE-INTEGRITY")
        calc = mi_sha1(msg, off, md5_key)
        check(l == 20 and calc == val and off + 24 == len(msg),
              "MESSAGE-INTEGRITY @%d (last): HMAC-SHA1(MD5(user:realm:pass), msg[0:%d], "
              "len=0x%04x) = %s" % (off, off, off + 4, calc.hex()))

    # ---- RFC 8489 B.1 (Errata 6268)
    name = "rfc8489_b1_request"
    print("\n== RFC 8489 Appendix B.1 (corrected by Errata ID 6268)")
    msg = arrays[name]
    attrs = common(name, msg, 0x0001, TXID_B,
                   ["USERHASH", "NONCE", "REALM", "PASSWORD-ALGORITHM",
                    "MESSAGE-INTEGRITY-SHA256"], 0x00)
    if attrs:
        check(find(attrs, "USERHASH")[3] == userhash,
              "USERHASH == SHA-256(user:realm) = %s" % userhash.hex())
        check(find(attrs, "NONCE")[3] == NONCE_8489, 'NONCE == "%s"' % NONCE_8489.decode())
        check(NONCE_8489.startswith(b"obMatJos2"), 'NONCE starts with nonce cookie "obMatJos2"')
        check(find(attrs, "REALM")[3] == LT_REALM, 'REALM == "example.org"')
        pa = find(attrs, "PASSWORD-ALGORITHM")[3]
        alg, plen = struct.unpack(">HH", pa)
        check(alg == 0x0002 and plen == 0,
              "PASSWORD-ALGORITHM == 0x0002 (SHA-256), params length 0 -> SHA-256 key")
        check(find(attrs, "MESSAGE-INTEGRITY") is None and find(attrs, "FINGERPRINT") is None
              and find(attrs, "USERNAME") is None,
              "no MESSAGE-INTEGRITY, FINGERPRINT or USERNAME")
        off, _, l, val = find(attrs, "MESSAGE-INTEGRITY-SHA256")
        calc = mi_sha256(msg, off, sha_key)
        check(l == 32 and calc == val and off + 36 == len(msg),
              "MESSAGE-INTEGRITY-SHA256 @%d (last): HMAC-SHA256(SHA-256(user:realm:pass), "
              "msg[0:%d], len=0x%04x) = %s" % (off, off, off + 16, calc.hex()))
        check(mi_sha256(msg, off, md5_key) != val,
              "(MD5 key does NOT produce the B.1 MESSAGE-INTEGRITY-SHA256)")

    print("\n== Errata 6268 analysis (published RFC 8489 B.1 vs corrected)")
    pub = RFC8489_B1_PUBLISHED
    check(len(pub) == 156 and struct.unpack_from(">H", pub, 2)[0] == 0x9C,
          "published B.1 is 156 bytes and its length field is 0x009c (= total incl. header)")
    try:
        walk(pub)
        check(False, "published B.1 must fail framing (length field != body length)")
    except ValueError as e:
        check(True, "published B.1 fails framing: %s" % e)
    pub_mi_off = 120
    check(pub[pub_mi_off:pub_mi_off + 4] == h("00 1c 00 20"),
          "published B.1 MESSAGE-INTEGRITY-SHA256 at offset 120")
    pub_val = pub[pub_mi_off + 4:]
    check(mi_sha256(pub, pub_mi_off, sha_key, length_field=0x9C) == pub_val,
          "published MI-SHA256 (e4686c8f...) == HMAC-SHA256(SHA-256 key, published bytes with "
          "bogus length 0x009c): published example already used the SHA-256 key")
    check(all(mi_sha256(pub, pub_mi_off, md5_key, length_field=L) != pub_val
              for L in range(0, 0x10000, 4)),
          "no length field value makes the published MI-SHA256 match with the MD5 key")
    check(mi_sha256(pub, pub_mi_off, sha_key) != pub_val,
          "published MI-SHA256 does not verify with the proper length 0x0088")
    same = pub[:2] == msg[:2] and pub[4:120] == msg[4:120]
    check(same and msg[2:4] == h("00 90") and msg[120:128] == h("00 1d 00 04 00 02 00 00")
          and msg[128:132] == h("00 1c 00 20") and len(msg) == len(pub) + 8,
          "corrected = published bytes 0..119 with length 0x009c -> 0x0090, then "
          "PASSWORD-ALGORITHM(SHA-256) at 120, then recomputed MI-SHA256 at 128")

    print("\n%d checks, %d failures" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
