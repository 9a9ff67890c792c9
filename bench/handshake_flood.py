#!/usr/bin/env python3
"""TCP Binding latency while a TLS handshake flood runs (issue 9, finding 3).

    bench/handshake_flood.py --stunringd build/tools/stunringd \\
        --bench build/bench/stunring-bench [--seconds 20] [--flooders 1] [--rounds 2]

Starts stunringd on 127.0.0.1 (one worker, free ports, an RSA-4096
certificate made for the run: the costly key the finding used), then runs
stunring-bench --mix tcp (open loop, --rate requests/s, from 127.0.0.1)
three ways, --rounds times interleaved: alone; while --flooders processes
per source open TLS connections as fast as they can from 127.0.0.2 and
127.0.0.3 (a handshake, then a close; a refusal, then the next at once),
with the server's defaults (--stream-max-per-client 64,
--tls-handshake-rate 20); and the same flood with both off (0). Prints
the bench's p50/p99/max per run, the handshakes the flood completed and
the server's refusal counters: a benchmark figure, not a test (nothing is
asserted). Loopback only; the server is stopped by PID.
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

SOURCES = ("127.0.0.2", "127.0.0.3")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flood(src, port, seconds, counts):
    """Opens TLS connections from src until the time is up; counts outcomes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ok = refused = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5,
                                          source_address=(src, 0)) as raw:
                with ctx.wrap_socket(raw):
                    ok += 1
        except (OSError, ssl.SSLError):
            refused += 1
    counts.put((ok, refused))


def stats(proc, log):
    """The server's counters (SIGUSR1), as a dict: the lines after the
    latest 'stats when sigusr1', once its last one ('dropped') is out."""
    before = open(log).read().count("stats when sigusr1\n")
    os.kill(proc.pid, signal.SIGUSR1)
    for _ in range(500):
        text = open(log).read()
        if text.count("stats when sigusr1\n") > before:
            block = text.rsplit("stats when sigusr1\n", 1)[1]
            out = dict((m.group(1), int(m.group(2)))
                       for m in re.finditer(r"^stats ([a-z0-9_]+) (\d+)$", block, re.M))
            if "dropped" in out:
                return out
        time.sleep(0.01)
    return {}


def run_case(args, extra, flooding, tmp, cert, key):
    port, tls_port = free_port(), free_port()
    log = os.path.join(tmp, "server.log")
    cmd = [args.stunringd, "--listen", "127.0.0.1", "--port", str(port), "--tls-port",
           str(tls_port), "--cert", cert, "--key", key, "--workers", "1"] + extra
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(500):
            if "ready:" in open(log).read():
                break
            time.sleep(0.01)
        counts = multiprocessing.Queue()
        workers = []
        if flooding:
            for src in SOURCES:
                for _ in range(args.flooders):
                    p = multiprocessing.Process(target=flood, daemon=True,
                                                args=(src, tls_port, args.seconds + 2, counts))
                    p.start()
                    workers.append(p)
            time.sleep(1)  # the flood first
        bench = subprocess.run(
            [args.bench, "--server", f"127.0.0.1:{port}", "--mix", "tcp", "--sockets", "4",
             "--rate", str(args.rate), "--duration", str(args.seconds), "--warmup", "1",
             "--json"], capture_output=True, text=True, timeout=args.seconds + 60)
        ok = refused = 0
        for p in workers:
            p.join(args.seconds + 30)
        for _ in workers:
            o, r = counts.get(timeout=10)
            ok, refused = ok + o, refused + r
        st = stats(proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    res = json.loads(bench.stdout) if bench.returncode == 0 else {}
    return res, ok, refused, st


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--flooders", type=int, default=1, help="processes per flooding source")
    ap.add_argument("--rounds", type=int, default=2, help="the three cases, interleaved")
    ap.add_argument("--rate", type=int, default=1000, help="TCP Binding Requests/s (open loop)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="stunring-flood-")
    try:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:4096", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=120)
        cases = [("no flood", [], False),
                 ("flood, default caps", [], True),
                 ("flood, caps off", ["--stream-max-per-client", "0",
                                      "--tls-handshake-rate", "0"], True)]
        print(f"stunring-bench --mix tcp --rate {args.rate} --sockets 4, {args.seconds} s; "
              f"flood: {args.flooders} processes from each of {', '.join(SOURCES)}, RSA-4096")
        print("| case | TCP answers/s | p50 µs | p99 µs | max µs | lost | flood handshakes "
              "done/s | refused (client, rate) |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for rnd, (name, extra, flooding) in ((r, c) for r in range(args.rounds) for c in cases):
            res, ok, refused, st = run_case(args, extra, flooding, tmp, cert, key)
            lat = res.get("latency_us", {})
            print(f"| {rnd + 1}: {name} | {res.get('responses_per_s', 0):,.0f} | {lat.get('p50', 0):,.0f} | "
                  f"{lat.get('p99', 0):,.0f} | {lat.get('max', 0):,.0f} | {res.get('lost', '?')} | "
                  f"{ok / (args.seconds + 2):,.0f} | "
                  f"{st.get('tls_refused_client', 0)}, {st.get('tls_refused_handshake_rate', 0)} |",
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
