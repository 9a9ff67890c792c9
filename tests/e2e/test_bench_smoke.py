#!/usr/bin/env python3
"""stunring-bench against stunringd: two seconds per mix, correctness only.

    python3 tests/e2e/test_bench_smoke.py --stunringd build/tools/stunringd \\
        --backend uring --bench build/bench/stunring-bench

For each mix (binding, classic, fingerprint, change-request, tcp, and a
weighted mix of all five) the bench runs --json against a server with an
alternate address, and the result must say: exit 0, one JSON object and
nothing else on stdout, valid > 0, invalid = 0, stray = 0, sent = valid +
invalid + lost. An answer after the timeout (a bench thread starved on a
loaded two-core runner) is counted late, not stray; the timeout is long
(10 s) so that a request is rarely given up at all. The same for the open-loop pacer (--rate)
and for one sendmsg per request (--no-gso). short-term-auth runs against
a server with a TLS certificate and --auth required: the bench mints its
credential over TLS (the certificate verified with --tls-ca), every
answer must pass MESSAGE-INTEGRITY, and the server's counters must show
the requests authenticated and answered (ok, no reject_*). long-term-auth
runs against --auth required --realm --users with a user of a users file
(SHA-256 with MESSAGE-INTEGRITY-SHA256, then MD5 with MESSAGE-INTEGRITY):
every answer must pass the long-term integrity check, and the server must
show one reject_lt_challenge (the bench's single 401 before the run) and
no other reject_*. With --nonce-ttl 1 and a 3-second run the nonce expires
mid-run: the 438s are counted invalid as stale_nonce (and nothing else),
and the run goes on valid on the fresh nonce. tls runs Binding Requests
over one TLS connection per socket (certificate verified with --tls-ca):
the server must count a handshake per socket and answer them all. No
timing is asserted: the numbers are printed, never judged. Then the
refusals: long-term-auth without --user or --password, a non-loopback
server, an unknown flag (exit 2, naming why), change-request against a
server without an alternate address, short-term-auth when no credential
can be minted, long-term-auth against a server that does not challenge,
and tls with nothing on --tls-port (exit 1).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

MIXES = ("binding", "classic", "fingerprint", "change-request", "tcp",
         "binding:3,classic:1,fingerprint:1,change-request:1,tcp:1")
# The other paths of the engine: the open-loop pacer, one sendmsg per request.
VARIANTS = (("open loop", "binding:3,classic:1,fingerprint:1,change-request:1,tcp:1",
             ("--rate", "20000")),
            ("no GSO", "binding:1,fingerprint:1", ("--no-gso",)))
KEYS = ("sent", "valid", "invalid", "lost", "stray", "late", "responses_per_s", "latency_us",
        "request_bytes", "response_bytes", "amplification", "duration_s", "mix", "threads",
        "sockets", "window", "rate")
LATENCY_KEYS = ("p50", "p90", "p99", "p999", "max")
BENCH_TIMEOUT = 60  # seconds for one run: 2.5 s of load, the drain, set-up
LT_USER, LT_PASSWORD, LT_REALM = "benchuser", "bench-secret-1", "bench.test"


def bench(exe, *args):
    """Runs the bench; returns (exit code, stdout, stderr)."""
    p = subprocess.run([exe, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=BENCH_TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_mix(c, exe, srv, mix, extra=(), name=None, duration="2", clean=True):
    """One 2-second run of mix (with extra flags); checks are named name (default: mix).
    clean False: invalid answers are the caller's to judge. Returns the bench's
    JSON result, or None when it gave none."""
    name = name or mix
    ip, port = srv.primary
    code, out, err = bench(exe, "--server", f"{ip}:{port}", "--mix", mix, "--duration", duration,
                           "--warmup", "0.5", "--json", "--timeout-ms", "10000",
                           *extra)
    if not c.eq(f"{name}: exit 0", code, 0, f"stderr: {err.strip()}"):
        return
    lines = out.splitlines()
    if not c.eq(f"{name}: stdout is one line", len(lines), 1, f"stdout: {out!r}"):
        return
    try:
        r = json.loads(lines[0])
    except ValueError as e:
        c.fail(f"{name}: stdout is JSON", f"{e}: {lines[0]!r}")
        return
    c.check(f"{name}: JSON object with every key", isinstance(r, dict) and all(
        k in r for k in KEYS) and all(k in r["latency_us"] for k in LATENCY_KEYS),
        f"got {sorted(r) if isinstance(r, dict) else r!r}")
    shown = (f"sent {r['sent']} valid {r['valid']} lost {r['lost']} "
             f"{r['responses_per_s']:.0f}/s p50 {r['latency_us']['p50']:.0f} us "
             f"p99 {r['latency_us']['p99']:.0f} us amplification {r['amplification']:.2f} "
             f"late {r['late']}")
    c.check(f"{name}: valid > 0", r["valid"] > 0, shown, shown)
    if clean:
        c.eq(f"{name}: invalid = 0", r["invalid"], 0, f"by reason: {r.get('invalid_by_reason')}")
    c.eq(f"{name}: stray = 0", r["stray"], 0)
    c.eq(f"{name}: sent = valid + invalid + lost", r["sent"],
         r["valid"] + r["invalid"] + r["lost"])
    want = dict(item.split(":") if ":" in item else (item, "1") for item in mix.split(","))
    c.eq(f"{name}: the mix reported", r["mix"], {k: int(v) for k, v in want.items()})
    return r


def check_refusals(c, exe):
    code, out, err = bench(exe, "--mix", "binding,long-term-auth")
    c.check("long-term-auth without --user: exit 2 naming --user",
            code == 2 and "--user" in err and out == "", f"exit {code}: {err.strip()}")
    code, out, err = bench(exe, "--mix", "long-term-auth", "--user", "u")
    c.check("long-term-auth without --password: exit 2 naming --password",
            code == 2 and "--password" in err and out == "", f"exit {code}: {err.strip()}")
    code, out, err = bench(exe, "--mix", "long-term-auth", "--user", "u", "--password", "p",
                           "--password-algorithm", "sha1")
    c.check("a bad --password-algorithm: exit 2 naming it",
            code == 2 and "--password-algorithm" in err, f"exit {code}: {err.strip()}")
    code, out, err = bench(exe, "--server", "192.0.2.1:3478")
    c.check("a remote server refused without --allow-remote: exit 2, says why",
            code == 2 and "loopback" in err and "--allow-remote" in err, f"exit {code}: {err}")
    code, out, err = bench(exe, "--bogus")
    c.check("an unknown flag: exit 2 naming it", code == 2 and "--bogus" in err,
            f"exit {code}: {err}")
    code, out, err = bench(exe, "--window", "0")
    c.check("a bad value: exit 2 naming the flag", code == 2 and "--window" in err,
            f"exit {code}: {err}")


def check_short_term(c, exe, stunringd, backend):
    """short-term-auth against --auth required: every answer signed, none refused."""
    srv = sl.Server(stunringd, backend, tls=True, extra=("--auth", "required") + sl.UNCAPPED,
                    name="auth").start()
    try:
        before = srv.stats()
        r = check_mix(c, exe, srv, "short-term-auth",
                      ("--tls-port", str(srv.ptls), "--tls-ca", srv.cert))
        valid = r["valid"] if isinstance(r, dict) else 1
        after = srv.stats_until(lambda st: st.delta(before, "ok") >= valid)
        c.check("short-term-auth: the server minted over TLS (ok_minted)",
                after.delta(before, "ok_minted") >= 1,
                f"ok_minted +{after.delta(before, 'ok_minted')}")
        c.check("short-term-auth: the server answered them all (ok rose by valid or more)",
                after.delta(before, "ok") >= valid, f"ok +{after.delta(before, 'ok')}, "
                f"valid {valid}")
        rejects = {k: after.delta(before, k) for k in after.c
                   if k.startswith("reject_") and after.delta(before, k)}
        c.eq("short-term-auth: no reject_* rose (all authenticated, so all signed)", rejects, {})
    finally:
        sl.stop_and_check(c, srv)


def users_file(tmp):
    """A --users file with the bench's long-term user (private, as the README asks)."""
    path = os.path.join(tmp, "users")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{LT_USER}:{LT_PASSWORD}\n")
    return path


def lt_flags(alg):
    return ("--user", LT_USER, "--password", LT_PASSWORD, "--password-algorithm", alg)


def rejects_of(after, before):
    return {k: after.delta(before, k) for k in after.c
            if k.startswith("reject_") and after.delta(before, k)}


def check_long_term(c, exe, stunringd, backend):
    """long-term-auth against --auth required: one 401, then every answer signed."""
    tmp = tempfile.mkdtemp(prefix="stunring-bench-users-")
    try:
        srv = sl.Server(stunringd, backend, tls=True, name="long-term",
                        extra=("--auth", "required", "--realm", LT_REALM,
                               "--users", users_file(tmp)) + sl.UNCAPPED).start()
        try:
            for alg in ("sha256", "md5"):
                name = f"long-term-auth ({alg})"
                before = srv.stats()
                r = check_mix(c, exe, srv, "long-term-auth", lt_flags(alg), name)
                valid = r["valid"] if isinstance(r, dict) else 1
                after = srv.stats_until(lambda st: st.delta(before, "ok") >= valid)
                c.check(f"{name}: the server answered them all (ok rose by valid or more)",
                        after.delta(before, "ok") >= valid,
                        f"ok +{after.delta(before, 'ok')}, valid {valid}")
                c.eq(f"{name}: the only reject_* is the one 401 challenge before the run",
                     rejects_of(after, before), {"reject_lt_challenge": 1})
        finally:
            sl.stop_and_check(c, srv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_stale_nonce(c, exe, stunringd, backend):
    """--nonce-ttl 1: the nonce expires mid-run; 438s are stale_nonce, then valid again."""
    tmp = tempfile.mkdtemp(prefix="stunring-bench-users-")
    try:
        srv = sl.Server(stunringd, backend, name="stale",
                        extra=("--auth", "required", "--realm", LT_REALM, "--nonce-ttl", "1",
                               "--users", users_file(tmp)) + sl.UNCAPPED).start()
        try:
            name = "long-term-auth, nonce expiring"
            before = srv.stats()
            r = check_mix(c, exe, srv, "long-term-auth", (*lt_flags("sha256"), "--sockets", "4"),
                          name, duration="3", clean=False)
            if not isinstance(r, dict):
                return
            stale = r["invalid_by_reason"].get("stale_nonce", 0)
            c.check(f"{name}: some 438s, counted stale_nonce", stale > 0, f"{r}", f"{stale}")
            c.eq(f"{name}: every invalid one is stale_nonce", r["invalid"], stale,
                 f"by reason: {r['invalid_by_reason']}")
            c.eq(f"{name}: the stale_nonce key says the same", r.get("stale_nonce"), stale)
            after = srv.stats_until(lambda st: st.delta(before, "reject_stale_nonce") >= stale)
            c.check(f"{name}: the server sent at least as many 438s",
                    after.delta(before, "reject_stale_nonce") >= stale,
                    f"reject_stale_nonce +{after.delta(before, 'reject_stale_nonce')}")
        finally:
            sl.stop_and_check(c, srv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_tls(c, exe, stunringd, backend):
    """tls: a TLS connection per socket, every answer from it."""
    srv = sl.Server(stunringd, backend, tls=True, name="tls", extra=sl.UNCAPPED).start()
    try:
        before = srv.stats()
        sockets = 16
        r = check_mix(c, exe, srv, "tls", ("--tls-port", str(srv.ptls), "--tls-ca", srv.cert,
                                           "--sockets", str(sockets)))
        valid = r["valid"] if isinstance(r, dict) else 1
        after = srv.stats_until(lambda st: st.delta(before, "ok") >= valid)
        c.eq("tls: a handshake per socket", after.delta(before, "tls_handshakes"), sockets)
        c.check("tls: the server answered them all (ok rose by valid or more)",
                after.delta(before, "ok") >= valid, f"ok +{after.delta(before, 'ok')}, "
                f"valid {valid}")
        c.eq("tls: no reject_*", rejects_of(after, before), {})
        r = check_mix(c, exe, srv, "binding:2,tcp:1,tls:1",
                      ("--tls-port", str(srv.ptls), "--sockets", "8"), "udp, tcp and tls mixed")
    finally:
        sl.stop_and_check(c, srv)


def check_short_term_refused(c, exe, stunringd, backend):
    """No credential, no run: exit 1 naming why, before any load."""
    srv = sl.Server(stunringd, backend, tls=True, name="full",
                    extra=("--auth", "required", "--max-credentials", "1") + sl.UNCAPPED).start()
    try:
        ip, port = srv.primary
        args = ("--server", f"{ip}:{port}", "--mix", "short-term-auth", "--duration", "0.2",
                "--warmup", "0", "--json")
        code, out, err = bench(exe, *args, "--tls-port", str(srv.p2))
        c.check("short-term-auth, nothing on --tls-port: exit 1, says why",
                code == 1 and "no credential" in err and out == "", f"exit {code}: {err}")
        code, out, err = bench(exe, *args, "--tls-port", str(srv.ptls))
        c.eq("short-term-auth: the first mint of a 1-credential table: exit 0", code, 0, err)
        code, out, err = bench(exe, *args, "--tls-port", str(srv.ptls))
        c.check("short-term-auth, the table full: exit 1, says 500",
                code == 1 and "500" in err and out == "", f"exit {code}: {err}")
    finally:
        sl.stop_and_check(c, srv)


def check_no_alternate(c, exe, stunringd, backend):
    srv = sl.Server(stunringd, backend, alt=(), name="single", extra=sl.UNCAPPED).start()
    try:
        ip, port = srv.primary
        code, out, err = bench(exe, "--server", f"{ip}:{port}", "--mix", "change-request",
                               "--duration", "0.2", "--warmup", "0", "--json")
        c.check("change-request without an alternate address: exit 1, says why",
                code == 1 and "OTHER-ADDRESS" in err and out == "", f"exit {code}: {err}")
        code, out, err = bench(exe, "--server", f"{ip}:{port}", "--mix", "long-term-auth",
                               *lt_flags("sha256"), "--duration", "0.2", "--warmup", "0")
        c.check("long-term-auth against a server that does not challenge: exit 1, says why",
                code == 1 and "401" in err and out == "", f"exit {code}: {err}")
        code, out, err = bench(exe, "--server", f"{ip}:{port}", "--mix", "tls", "--tls-port",
                               str(srv.p2), "--duration", "0.2", "--warmup", "0")
        c.check("tls with no TLS listener on --tls-port: exit 1, says why",
                code == 1 and "TLS" in err and out == "", f"exit {code}: {err}")
    finally:
        sl.stop_and_check(c, srv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--backend", required=True, choices=("uring", "mmsg"))
    ap.add_argument("--bench", required=True)
    a = ap.parse_args()
    c = sl.Checks(f"bench smoke ({a.backend})")
    srv = sl.Server(a.stunringd, a.backend, extra=sl.UNCAPPED).start()
    try:
        for mix in MIXES:
            c.run(mix, check_mix, c, a.bench, srv, mix)
        for name, mix, extra in VARIANTS:
            c.run(name, check_mix, c, a.bench, srv, mix, extra, name)
        st = srv.stats()
        c.check("server alive after the runs", srv.alive(), "", f"dropped {st['dropped']}")
    finally:
        sl.stop_and_check(c, srv)
    c.run("short-term-auth", check_short_term, c, a.bench, a.stunringd, a.backend)
    c.run("long-term-auth", check_long_term, c, a.bench, a.stunringd, a.backend)
    c.run("long-term-auth, nonce expiring", check_stale_nonce, c, a.bench, a.stunringd,
          a.backend)
    c.run("tls", check_tls, c, a.bench, a.stunringd, a.backend)
    c.run("refusals", check_refusals, c, a.bench)
    c.run("short-term-auth refused", check_short_term_refused, c, a.bench, a.stunringd,
          a.backend)
    c.run("no alternate", check_no_alternate, c, a.bench, a.stunringd, a.backend)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
