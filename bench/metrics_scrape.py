#!/usr/bin/env python3
"""What /metrics costs (issue 10): the daemon's CPU per scrape, and the
answers lost while /metrics is scraped ten times a second under full load.

  bench/metrics_scrape.py --stunringd build/tools/stunringd \
      --bench build/bench/stunring-bench

stunringd runs one worker pinned to CPU 0 with --metrics on loopback;
stunring-bench and the scraper share CPU 1. CPU per scrape: the daemon's
on-CPU time (every thread's /proc schedstat) over N sequential scrapes of
an otherwise idle daemon, minus its idle CPU over as long, divided by N.
Under load: --rounds pairs of closed-loop stunring-bench runs, one without
scraping, one with a scraper at --scrape-hz; each reports lost answers and
responses/s.
Prints figures only (a shared machine's timings are noise, not a verdict).
"""
import argparse
import glob
import json
import os
import socket
import subprocess
import threading
import time

HOST = "127.0.0.1"


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_ns(pid):
    """On-CPU time of every thread of pid, in ns (schedstat's first field)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def scrape(port, timeout=2.0):
    """One GET /metrics: (status, body bytes)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        data = b""
        while len(data) < (1 << 22):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 else 0), body


def kernel_drops(port):
    """stunring_kernel_drops_total, read through the endpoint."""
    for line in scrape(port)[1].decode().splitlines():
        if line.startswith("stunring_kernel_drops_total "):
            return int(line.split()[1])
    return -1


def cpu_per_scrape(pid, port, n):
    before, t0 = cpu_ns(pid), time.monotonic()
    size, failed = 0, 0
    for _ in range(n):
        status, body = scrape(port)
        failed += status != 200
        size = len(body)
    busy_ns, wall = cpu_ns(pid) - before, time.monotonic() - t0
    before = cpu_ns(pid)
    time.sleep(wall)
    idle_ns = cpu_ns(pid) - before
    return (busy_ns - idle_ns) / n / 1000.0, size, failed, wall / n * 1e6


def bench_run(args, udp_port, scrape_port=None):
    """One stunring-bench run; with scrape_port, a scraper at args.scrape_hz beside it."""
    scrapes = {"ok": 0, "failed": 0, "ms": []}
    stop = threading.Event()

    def scraper():
        period = 1.0 / args.scrape_hz
        next_at = time.monotonic()
        for _ in range(int(args.scrape_hz * (args.duration + args.warmup + 5))):
            if stop.is_set():
                break
            t0 = time.monotonic()
            try:
                status, _ = scrape(scrape_port)
            except OSError:
                status = 0
            scrapes["ms"].append((time.monotonic() - t0) * 1000)
            scrapes["ok" if status == 200 else "failed"] += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=scraper) if scrape_port else None
    if thread:
        thread.start()
    out = subprocess.run([args.bench, "--server", f"{HOST}:{udp_port}", "--cpus", "1",
                          "--duration", str(args.duration), "--warmup", str(args.warmup),
                          "--json"], capture_output=True, text=True,
                         timeout=args.duration + args.warmup + 60, check=True).stdout
    stop.set()
    if thread:
        thread.join(10)
    return json.loads(out), scrapes


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stunringd", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--backend", default="uring", choices=("uring", "mmsg"))
    ap.add_argument("--scrapes", type=int, default=2000)
    ap.add_argument("--scrape-hz", type=float, default=10.0)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--log", default="/dev/null", help="the daemon's log (default: none)")
    args = ap.parse_args()
    udp_port, metrics_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    cmd = [args.stunringd, "--listen", HOST, "--port", str(udp_port), "--alt-port",
           str(free_port(socket.SOCK_DGRAM)), "--workers", "1", "--cpus", "0", "--no-tcp",
           "--backend", args.backend, "--metrics", f"{HOST}:{metrics_port}"]
    log = open(args.log, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    os.sched_setaffinity(0, {1})  # after the daemon started: it inherits no mask
    try:
        for _ in range(100):  # bounded: up to 10 s for the endpoint to answer
            try:
                scrape(metrics_port)
                break
            except OSError:
                time.sleep(0.1)
        us, size, failed, wall_us = cpu_per_scrape(proc.pid, metrics_port, args.scrapes)
        print(f"idle daemon, {args.scrapes} sequential scrapes of {size} bytes: "
              f"{us:.1f} us of daemon CPU per scrape ({wall_us:.0f} us wall each), "
              f"{failed} not 200")
        for rnd in range(1, args.rounds + 1):  # interleaved: the machine's drift hits both
            drops = [kernel_drops(metrics_port)]
            plain, _ = bench_run(args, udp_port)
            drops.append(kernel_drops(metrics_port))
            scraped, s = bench_run(args, udp_port, metrics_port)
            drops.append(kernel_drops(metrics_port))
            ms = sorted(s["ms"]) or [0.0]
            for label, r, kd in (("no scraping", plain, drops[1] - drops[0]),
                                 (f"scraped at {args.scrape_hz:g}/s", scraped,
                                  drops[2] - drops[1])):
                print(f"round {rnd}, full load, {label}: {r['responses_per_s']:,.0f} "
                      f"responses/s, sent {r['sent']:,}, valid {r['valid']:,}, "
                      f"lost {r['lost']}, invalid {r['invalid']}, kernel drops {kd}")
            print(f"round {rnd}, scrapes under load: {s['ok']} answered 200, "
                  f"{s['failed']} failed, p50 {ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms")
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
