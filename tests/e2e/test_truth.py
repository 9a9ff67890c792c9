#!/usr/bin/env python3
"""What stunringd tells its operator, checked against what it does (issue 14).

    python3 tests/e2e/test_truth.py --stunringd build/tools/stunringd --backend uring \
        --bench build/bench/stunring-bench --no-uring build/tests/e2e/stunring-no-uring \
        [--sanitized]

Mechanical where it can be: every flag and default of `stunringd --help`
against README's flag table, every counter SIGUSR1 prints against README's
counter table, so a new flag or counter only needs its README row. Then
one check per exit-code rule, error answers counted by the code actually
sent, SIGHUP's log and failure counters, the start-up warnings and
--print-config's effective values, and stunring-bench refusing a mix the
server cannot serve.

--sanitized: the build runs under AddressSanitizer, which cannot live under
an address-space limit; the out-of-memory check then caps ASan's own
allocations instead.
"""

import collections
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
WAIT = 1.0
UNKNOWN_TYPE = 0x0033  # comprehension-required, known to no one


def run(cmd, timeout=20, env=None, preexec_fn=None):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env, preexec_fn=preexec_fn)
    return p.returncode, p.stdout + p.stderr


def read_readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


# ---------------------------------------------------------------- --help and README

def help_flags(text):
    """{flag: default text, or None} from --help: a flag's block is its line
    and the indented lines under it; its default, '(default: ...)' in it."""
    blocks = collections.OrderedDict()
    current = None
    for line in text.splitlines():
        m = re.match(r"  (--[a-z0-9-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line.strip()
        elif current and line.startswith(" " * 10):
            blocks[current] += " " + line.strip()
        else:
            current = None
    flags = collections.OrderedDict()
    for flag, block in blocks.items():
        start = block.find("(default: ")
        flags[flag] = block[start + len("(default: "):block.rindex(")")] if start >= 0 else None
    return flags


def default_key(text):
    """The part of a default that must agree: its first phrase, lowercase,
    without backticks ('auto: io_uring if it works' -> 'auto')."""
    t = text.replace("`", "").strip().lower()
    for sep in (": ", ", ", "; ", " ("):
        i = t.find(sep)
        if i >= 0:
            t = t[:i]
    return t.strip()


def table_rows(readme):
    """Cells of every Markdown table row (split on unescaped '|')."""
    rows = []
    for line in readme.splitlines():
        if line.startswith("|") and not re.match(r"\|[-| ]+\|$", line):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def readme_flags(readme):
    """{flag: default text} from README's flag table. A row may name several
    flags ('`--a N`, `--b N`' or ' / '); its default cell then names as many."""
    flags, problems = {}, []
    for cells in table_rows(readme):
        if len(cells) < 2 or not cells[0].startswith("`--"):
            continue
        names = re.findall(r"--[a-z0-9-]+", cells[0])
        defaults = [cells[1]]
        if len(names) > 1:
            defaults = re.split(r" / |, ", cells[1])
            if len(defaults) != len(names):
                problems.append(f"row {cells[0]!r}: {len(names)} flags, default cell "
                                f"{cells[1]!r} does not name one default each")
                continue
        for name, default in zip(names, defaults):
            flags[name] = default
    return flags, problems


def readme_counters(readme):
    """Counter names of README's counter table: rows whose first cell is one
    `name` in lowercase letters, digits and '_'."""
    names = set()
    for cells in table_rows(readme):
        m = re.fullmatch(r"`([a-z0-9_]+)`", cells[0]) if cells else None
        if m:
            names.add(m.group(1))
    return names


def check_help_vs_readme(c, exe):
    code, text = run([exe, "--help"])
    c.eq("--help exits 0", code, 0)
    helped = help_flags(text)
    c.check("--help lists flags", len(helped) >= 30, text[:300], f"{len(helped)} flags")
    documented, problems = readme_flags(read_readme())
    c.check("README's flag table: one default per flag in each row", not problems,
            "; ".join(problems))
    missing = [f for f in helped if f not in documented]
    c.check("every --help flag has a row in README's flag table", not missing,
            f"missing: {missing}")
    stale = [f for f in documented if f not in helped]
    c.check("every flag of README's table is in --help", not stale, f"not in --help: {stale}")
    wrong = []
    for flag, default in helped.items():
        if flag not in documented:
            continue
        want = default_key(default) if default is not None else "-"
        got = default_key(documented[flag])
        if got != want:
            wrong.append(f"{flag}: README {documented[flag]!r}, --help {default!r}")
    c.check("README's default of every flag is --help's", not wrong, "; ".join(wrong),
            f"{len(helped)} flags")


def check_help_defaults_are_the_code(c, exe):
    """--help prints the defaults whatever else is on the command line."""
    _, alone = run([exe, "--help"])
    given = ["--log-level", "error", "--port", "4000", "--workers", "1", "--backend", "mmsg",
             "--batch", "8", "--ring-entries", "64", "--auth", "optional", "--mint-rate", "3",
             "--tcp-idle-ms", "100", "--software", "x", "--rate-prefix4", "24"]
    code, after = run([exe] + given + ["--help"])
    c.eq("--help after other flags exits 0", code, 0)
    differ = [(a, b) for a, b in zip(alone.splitlines(), after.splitlines()) if a != b]
    c.check("--help after other flags prints the same defaults", alone == after,
            f"first difference: {differ[:1]}")
    c.check("--log-level error --help says the default is info",
            "(default: info)" in after, after[-600:])


def check_exit_code_docs(c, exe):
    _, text = run([exe, "--help"])
    readme = read_readme()
    for where, body in (("--help", text), ("README", readme)):
        flat = " ".join(body.split())
        c.check(f"{where} states exit 2 for a bad flag or value, files included",
                re.search(r"2 for (any|a) bad flag or value", flat) is not None
                and "fails to load" in flat, flat[:200])
        c.check(f"{where} states exit 1 for a runtime failure",
                "1 for a runtime failure" in flat, flat[:200])


def check_counters_vs_readme(c, exe, backend):
    srv = sl.Server(exe, backend, alt=(), name="counters", tls=True,
                    extra=["--auth", "optional"]).start()
    st = srv.stats()
    sl.stop_and_check(c, srv)
    printed = set(st.c) | {"rx", "tx"}
    documented = readme_counters(read_readme())
    missing = sorted(printed - documented)
    c.check("every counter SIGUSR1 prints has a row in README's counter table", not missing,
            f"missing: {missing}", f"{len(printed)} counters")
    # heap_mallocs is printed only where jemalloc is linked (not under ASan).
    stale = sorted(documented - printed - {"heap_mallocs"})
    c.check("every counter of README's table is printed", not stale, f"never printed: {stale}")
    codes = {n for n in printed if n.startswith("error_")}
    for want in ("error_430", "error_431", "error_432"):
        c.check(f"{want} is a counter of its own", want in codes, sorted(codes))


# ---------------------------------------------------------------- exit codes

def free_port():
    return sl.free_ports(["127.0.0.1"], ["127.0.0.1"], count=1)[0]


def check_exit_codes_usage(c, exe, tmp):
    """2 for any bad flag or value, a file that fails to load included."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sl.make_cert(cert, key)
    garbage = os.path.join(tmp, "garbage.pem")
    write(garbage, "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    short, long_, good = (os.path.join(tmp, n) for n in ("short.key", "long.key", "good.key"))
    write(short, os.urandom(10))
    write(long_, os.urandom(5000))
    write(good, os.urandom(32))
    users_bad = os.path.join(tmp, "bad.users")
    write(users_bad, "broken:$bogus$form\n")
    base = ["--listen", "127.0.0.1", "--port", str(free_port()), "--workers", "1"]
    lt = ["--auth", "optional", "--realm", "example.org"]
    cases = [
        (["--cert", "/nonexistent.pem", "--key", key], "--cert", "a missing --cert"),
        (["--cert", cert, "--key", "/nonexistent.pem"], "--key", "a missing --key"),
        (["--cert", cert, "--key", garbage], "--key", "a --key that is not PEM"),
        (["--cert", garbage, "--key", key], "--cert", "a --cert that is not PEM"),
        (["--secret-key", short], "--secret-key", "a 10-byte --secret-key"),
        (["--secret-key", long_], "--secret-key", "a 5000-byte --secret-key"),
        (["--secret-key", "/nonexistent.key"], "--secret-key", "a missing --secret-key"),
        (["--secret-key", tmp], "--secret-key", "a --secret-key that is a directory"),
        (lt + ["--users", "/nonexistent.users"], "--users", "a missing --users"),
        (lt + ["--users", users_bad], "--users", "a malformed --users"),
        (["--response-address"], "--response-address", "--response-address with --auth none"),
    ]
    for args, flag, what in cases:
        code, out = run([exe] + base + args)
        c.check(f"{what}: exit 2 naming {flag}", code == 2 and flag in out,
                f"exit {code}: {out.strip()[:300]}", out.strip().splitlines()[-1][:100]
                if out.strip() else "")
        c.check(f"{what}: nothing served first", "ready:" not in out, out)
    code, out = run([exe] + base + ["--response-address"])
    c.check("--response-address with --auth none: the message names --auth too",
            "--auth" in out, out)
    code, out = run([exe] + base + ["--secret-key", good, "--print-config"])
    c.check("a good --secret-key is accepted (control)", code == 0, f"exit {code}: {out}")


def check_exit_codes_runtime(c, exe, no_uring, sanitized):
    """1 for a runtime failure: a port taken (UDP: e2e_daemon; TCP and TLS
    here, one line each), an address that cannot be bound, io_uring
    unavailable with --backend uring, out of memory."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        # UDP on this port is free (check_ports passes); the TCP listener fails.
        code, out = run([exe, "--listen", "127.0.0.1", "--port", str(port), "--workers", "1"])
    finally:
        holder.close()
    lines = out.strip().splitlines()
    c.eq("TCP port taken: exit 1", code, 1, out)
    c.check("TCP port taken: exactly one line, the error", len(lines) == 1
            and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], out)

    tmp = tempfile.mkdtemp(prefix="stunring-truth-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    sl.make_cert(cert, key)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    tls_port = holder.getsockname()[1]
    try:
        code, out = run([exe, "--listen", "127.0.0.1", "--port", str(free_port()), "--workers",
                         "1", "--cert", cert, "--key", key, "--tls-port", str(tls_port)])
    finally:
        holder.close()
    lines = out.strip().splitlines()
    c.eq("TLS port taken: exit 1", code, 1, out)
    c.check("TLS port taken: exactly one line, the error", len(lines) == 1
            and f"127.0.0.1:{tls_port}" in lines[0], out)

    # 192.0.2.1 (TEST-NET-1) is never an address of this host: bind fails,
    # nothing is sent anywhere.
    code, out = run([exe, "--listen", "192.0.2.1", "--port", str(free_port()), "--workers", "1"])
    c.check("an address that cannot be bound: exit 1 naming it",
            code == 1 and "192.0.2.1" in out, f"exit {code}: {out}")

    code, out = run([no_uring, exe, "--listen", "127.0.0.1", "--port", str(free_port()),
                     "--backend", "uring", "--workers", "1"])
    c.check("--backend uring where io_uring is blocked: exit 1",
            code == 1 and "io_uring unavailable" in out, f"exit {code}: {out}")

    # The largest credential table (2^21 slots) under a smaller memory limit.
    cmd = [exe, "--listen", "127.0.0.1", "--port", str(free_port()), "--workers", "1",
           "--auth", "optional", "--max-credentials", "1048576"]
    env = dict(os.environ)
    limit = None
    if sanitized:
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":allocator_may_return_null=1:max_allocation_size_mb=256")
    else:
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    code, out = run(cmd, env=env, preexec_fn=limit)
    c.check("out of memory for the credential table: exit 1, said",
            code == 1 and "credentials" in out and "ready:" not in out,
            f"exit {code}: {out[-400:]}")


# ---------------------------------------------------------------- counters by code

def error_code(m):
    return m.error()[0] if m is not None and m.has(sl.ERROR_CODE) else None


def code_requests(cred):
    """(label, message) pairs, each answered with an error; the code depends
    on the style: classic 430/431/432 must not be counted as 400/401."""
    wrong = b"not-the-password"
    reqs = [
        ("classic, MESSAGE-INTEGRITY without USERNAME", dict(classic=True, key=cred.key)),
        ("classic, unknown USERNAME", dict(classic=True, attrs=[sl.username("nobody00")],
                                           key=cred.key)),
        ("classic, bad HMAC", dict(classic=True, attrs=[sl.username(cred.username)], key=wrong)),
        ("classic, RESPONSE-ADDRESS unauthenticated",
         dict(classic=True, attrs=[sl.response_address("127.0.0.1", 9)])),
        ("modern, MESSAGE-INTEGRITY without USERNAME", dict(key=cred.key, fingerprint=True)),
        ("modern, unknown USERNAME", dict(attrs=[sl.username("nobody00")], key=cred.key,
                                          fingerprint=True)),
        ("modern, bad HMAC", dict(attrs=[sl.username(cred.username)], key=wrong,
                                  fingerprint=True)),
        ("modern, unknown attribute", dict(attrs=[sl.attr(UNKNOWN_TYPE, b"abcd")])),
        ("classic, unknown attribute", dict(classic=True, attrs=[sl.attr(UNKNOWN_TYPE, b"abcd")])),
        ("Shared Secret Request not over TLS",
         dict(msg_type=sl.SHARED_SECRET_REQUEST, classic=True)),
    ]
    return reqs


def check_counts_by_code(c, srv, label, exchange):
    """Sends every request of code_requests twice via exchange(msg, tid) ->
    answer; each error_CODE counter must rise by what was received."""
    cred = sl.mint(srv.tls_ep, sl.tls_context(srv.cert))
    before = srv.stats()
    got = collections.Counter()
    for what, kw in code_requests(cred):
        for _ in range(2):
            msg, tid = sl.build(**kw)
            code = error_code(exchange(msg, tid))
            c.check(f"{label}: {what}: an error answer", code is not None, "no error answer")
            if code is not None:
                got[code] += 1
    after = srv.stats()
    for want in (430, 431, 432, 433, 400, 401, 420):
        c.check(f"{label}: a {want} was received", got[want] > 0, dict(got))
    counted = {n: after.delta(before, n) for n in after.c if n.startswith("error_")}
    for code, n in sorted(got.items()):
        c.eq(f"{label}: error_{code} rose by the {code} answers received",
             counted.get(f"error_{code}"), n)
    others = {n: d for n, d in counted.items() if d and int(n[6:]) not in got}
    c.check(f"{label}: no other error_CODE moved", not others, others)
    c.eq(f"{label}: the error_CODE counters add up to answered_error",
         sum(counted.values()), after.delta(before, "answered_error"))


def check_codes(c, exe, backend):
    srv = sl.Server(exe, backend, alt=(), name="codes", tls=True,
                    extra=["--auth", "optional"]).start()
    sock = sl.udp_socket()

    def udp(msg, tid):
        return sl.transact(sock, msg, tid, srv.primary, timeout=WAIT)[0]

    check_counts_by_code(c, srv, "udp", udp)
    conn = socket.create_connection(srv.primary, timeout=3)

    def tcp(msg, tid):
        conn.sendall(msg)
        m = sl.recv_stream_message(conn, timeout=3.0)
        return m if m is not None and m.tid == tid else None

    check_counts_by_code(c, srv, "tcp", tcp)
    conn.close()
    sock.close()
    sl.stop_and_check(c, srv)


# ---------------------------------------------------------------- SIGHUP

def wait_for_line(srv, start, needle, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = srv.log()[start:]
        if needle in text:
            return text
        time.sleep(0.02)
    return srv.log()[start:]


def check_reload(c, exe, backend):
    tmp = tempfile.mkdtemp(prefix="stunring-truth-")
    keyfile, users = os.path.join(tmp, "fleet.key"), os.path.join(tmp, "users")
    write(keyfile, os.urandom(32))
    write(users, "alice:alice-password\n")
    srv = sl.Server(exe, backend, alt=(), name="reload", tls=True,
                    extra=["--auth", "optional", "--realm", "example.org", "--users", users,
                           "--secret-key", keyfile]).start()
    start = len(srv.log())
    srv.reload()
    said = wait_for_line(srv, start, "SIGHUP:")
    for what in ("certificate", "--secret-key", "--users"):
        c.check(f"good SIGHUP: 'reload: {what}: reloaded'", f"reload: {what}: reloaded" in said,
                said)
    c.check("good SIGHUP: ends 'SIGHUP: reloaded'", "SIGHUP: reloaded" in said, said)

    before = srv.stats()
    write(srv.cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    write(keyfile, os.urandom(10))
    write(users, "alice:alice-password\nbroken:$bogus$form\n")
    start = len(srv.log())
    srv.reload()
    said = wait_for_line(srv, start, "SIGHUP:")
    for what in ("certificate", "--secret-key", "--users"):
        line = [l for l in said.splitlines() if f"reload: {what}:" in l]
        c.check(f"bad SIGHUP: {what}: one line says it failed and the old one is kept",
                len(line) == 1 and "failed (" in line[0] and "keeping the old one" in line[0],
                said, line[0] if line else "")
    c.check("bad SIGHUP: the log never says 'reloaded'", "reloaded" not in said, said)
    after = srv.stats()
    for name in ("tls_reload_failures", "secret_key_reload_failures", "users_reload_failures"):
        c.eq(f"bad SIGHUP: {name} +1", after.delta(before, name), 1)
    c.eq("bad SIGHUP: tls_reloads did not move", after.delta(before, "tls_reloads"), 0)
    try:
        cred = sl.mint(srv.tls_ep, sl.tls_context(None))
        c.check("bad SIGHUP: TLS still mints with the old certificate", cred.username, "")
    except (OSError, sl.StunError) as e:
        c.fail("bad SIGHUP: TLS still mints with the old certificate", f"{type(e).__name__}: {e}")
    sl.stop_and_check(c, srv)


# ---------------------------------------------------------------- warnings, --print-config

class PrefixedServer(sl.Server):
    """stunringd started under a wrapper command (setpriv, ...)."""

    def __init__(self, prefix, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = prefix

    def command(self):
        return self.prefix + super().command()


NO_NET_ADMIN = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"]


def first_cpu():
    return sorted(os.sched_getaffinity(0))[0]


def warnings_of(log):
    return [l for l in log.splitlines() if ": warn: " in l]


def check_warnings(c, exe, backend):
    srv = sl.Server(exe, backend, alt=(), name="warnings", tls=True, workers=2,
                    extra=["--cpus", str(first_cpu()), "--batch", "8", "--ring-entries", "64"])
    srv.start()
    warns = warnings_of(srv.log())
    sl.stop_and_check(c, srv)

    def said(*words):
        return [w for w in warns if all(x in w for x in words)]

    c.check("--cert/--key with --auth none: one warning naming both",
            len(said("--cert/--key", "--auth none")) == 1, warns)
    c.check("--cpus shorter than --workers: one warning naming both",
            len(said("--cpus", "--workers")) == 1, warns)
    unused, used = ("--batch", "--ring-entries") if backend == "uring" else \
        ("--ring-entries", "--batch")
    c.check(f"{unused} under the {backend} backend: one warning", len(said(unused)) == 1, warns)
    c.check(f"{used} under the {backend} backend: no warning", not said(used), warns)

    tmp = tempfile.mkdtemp(prefix="stunring-truth-")
    empty = os.path.join(tmp, "empty.users")
    write(empty, "")
    srv = sl.Server(exe, backend, alt=(), name="empty-users",
                    extra=["--auth", "optional", "--realm", "r", "--users", empty]).start()
    warns = warnings_of(srv.log())
    sl.stop_and_check(c, srv)
    c.check("an empty --users file: one warning naming it",
            len(said_in(warns, "--users", "no users")) == 1, warns)

    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    wish = min(rmem_max * 4, (1 << 30) - 1)
    srv = PrefixedServer(NO_NET_ADMIN, exe, backend, alt=(), name="rcvbuf", workers=2,
                         extra=["--rcvbuf", str(wish)]).start()
    warns = warnings_of(srv.log())
    sl.stop_and_check(c, srv)
    c.check("--rcvbuf past rmem_max without CAP_NET_ADMIN: one warning naming it and the cap",
            len(said_in(warns, f"--rcvbuf {wish}", "rmem_max")) == 1, warns)
    code, out = run(NO_NET_ADMIN + [exe, "--print-config", "--rcvbuf", str(wish)])
    line = [l for l in out.splitlines() if l.startswith("rcvbuf ")]
    c.check("--print-config shows the rcvbuf the kernel really gives",
            code == 0 and line and f"the kernel gives {rmem_max}" in line[0], out)


def said_in(lines, *words):
    return [w for w in lines if all(x in w for x in words)]


def check_print_config(c, exe):
    with open("/proc/sys/net/core/wmem_default") as f:
        wmem_default = int(f.read())
    code, out = run([exe, "--print-config"])
    c.check("--print-config: sndbuf is the kernel's default, with its value",
            code == 0 and f"sndbuf kernel default ({wmem_default})" in out, out)
    code, out = run([exe, "--print-config", "--max-credentials", "65537"])
    line = [l for l in out.splitlines() if l.startswith("max-credentials")]
    c.check("--print-config: the credential table's bytes", line and "bytes" in line[0], out)
    code2, out2 = run([exe, "--print-config", "--max-credentials", "65536"])
    size = [int(m.group(1)) for o in (out, out2) for l in o.splitlines()
            if l.startswith("max-credentials") for m in [re.search(r"(\d+) bytes", l)] if m]
    c.check("65,536 -> 65,537 credentials doubles the table",
            len(size) == 2 and size[0] == 2 * size[1], size)
    _, text = run([exe, "--help"])
    block = " ".join(text[text.find("--max-credentials"):text.find("--mint-rate")].split())
    m = re.search(r"about (\d+) bytes a credential", block)
    # 65,536 credentials take 131,072 slots; the default 100,000 take 262,144.
    per_credential = size[1] / 131072 * 262144 / 100000 if len(size) == 2 else None
    c.check("--help: bytes a credential at the default, as the table's size says",
            m is not None and per_credential and int(m.group(1)) == round(per_credential),
            f"{block}; want {per_credential}", m.group(0) if m else "")
    c.check("--help: --tcp-idle-ms applies to TLS too",
            "TLS" in text[text.find("--tcp-idle-ms"):text.find("--tls-port")], text)


# ---------------------------------------------------------------- stunring-bench

def check_bench_probes(c, exe, bench, backend):
    srv = sl.Server(exe, backend, alt=(), name="bench-probe", tls=True).start()
    host, port = srv.primary
    cases = [
        ("change-request", [], "--alt-address"),
        ("short-term-auth", ["--tls-port", str(srv.ptls)], "--auth"),
        ("long-term-auth", ["--user", "u", "--password", "p"], "--auth required"),
    ]
    for mix, extra, flag in cases:
        code, out = run([bench, "--server", f"{host}:{port}", "--mix", mix, "--duration", "1",
                         "--warmup", "0"] + extra, timeout=30)
        lines = out.strip().splitlines()
        c.check(f"bench --mix {mix} against a server without {flag}: refused in one line "
                f"naming {flag}", code != 0 and len(lines) == 1 and flag in lines[0],
                f"exit {code}: {out[-500:]}", lines[0][:120] if lines else "")
    sl.stop_and_check(c, srv)


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--backend", required=True, choices=("uring", "mmsg"))
    ap.add_argument("--bench", required=True)
    ap.add_argument("--no-uring", required=True)
    ap.add_argument("--sanitized", action="store_true")
    a = ap.parse_args()
    c = sl.Checks(f"truth ({a.backend})")
    tmp = tempfile.mkdtemp(prefix="stunring-truth-")
    c.run("--help against README", check_help_vs_readme, c, a.stunringd)
    c.run("--help prints the code's defaults", check_help_defaults_are_the_code, c, a.stunringd)
    c.run("exit codes documented", check_exit_code_docs, c, a.stunringd)
    c.run("counters against README", check_counters_vs_readme, c, a.stunringd, a.backend)
    c.run("exit 2: bad values", check_exit_codes_usage, c, a.stunringd, tmp)
    c.run("exit 1: runtime failures", check_exit_codes_runtime, c, a.stunringd, a.no_uring,
          a.sanitized)
    c.run("error answers counted by code", check_codes, c, a.stunringd, a.backend)
    c.run("SIGHUP says what it did", check_reload, c, a.stunringd, a.backend)
    c.run("start-up warnings", check_warnings, c, a.stunringd, a.backend)
    c.run("--print-config", check_print_config, c, a.stunringd)
    c.run("bench probes", check_bench_probes, c, a.stunringd, a.bench, a.backend)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
