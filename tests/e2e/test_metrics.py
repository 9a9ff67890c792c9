#!/usr/bin/env python3
"""The metrics endpoint (--metrics) against the real thing (issue 10, part 1).

- /healthz answers 200; another path 404, another method 405, a request
  that is not HTTP 400; each answer closes its connection.
- `promtool check metrics` (Debian's prometheus package) finds nothing to
  say about a scrape.
- Every counter SIGUSR1 prints, its name taken from the running daemon,
  is in a scrape through `stunringd --print-metrics-map`, with the same
  value once the traffic has stopped.
- Slow-loris scrapers (more than the connection cap), each holding half a
  request, do not keep another scraper from its answer: it comes while
  they are still connected.
- Debian's `prometheus` server, started here on loopback (its own config
  and storage in a temporary directory, scraping every second, stopped by
  PID), reads back the increase of stunring_requests_total after a known
  number of UDP and TCP requests, through its HTTP query API.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

HOST = "127.0.0.1"
UDP_REQUESTS = 200
TCP_REQUESTS = 7


def http(port, request, timeout=5.0):
    """Sends raw request bytes, reads to EOF (bounded): (status, headers, body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < (1 << 22) and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def get(port, path):
    return http(port, f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())


def parse_scrape(text):
    """{(name, frozenset of (label, value)): float} of the samples."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        name, _, labels = key.partition("{")
        pairs = []
        for pair in labels.rstrip("}").split(",") if labels else []:
            k, _, v = pair.partition("=")
            pairs.append((k, v.strip('"')))
        series[(name, frozenset(pairs))] = float(value)
    return series


def select(series, selector):
    """Sum of the series matching 'name{k="v",...}' (labels a subset), or None."""
    name, _, labels = selector.partition("{")
    want = set()
    for pair in labels.rstrip("}").split(",") if labels.rstrip("}") else []:
        k, _, v = pair.partition("=")
        want.add((k, v.strip('"')))
    found = [v for (n, ls), v in series.items() if n == name and want <= ls]
    return sum(found) if found else None


def read_map(exe):
    """{SIGUSR1 name or rule with N: selector} from --print-metrics-map."""
    out = subprocess.run([exe, "--print-metrics-map"], capture_output=True, text=True,
                         timeout=20, check=True).stdout
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def selector_for(mapping, name):
    if name in mapping:
        return mapping[name]
    for rule, sel in mapping.items():
        if "N" not in rule:
            continue
        pre, _, post = rule.partition("N")
        mid = name[len(pre):len(name) - len(post)] if post else name[len(pre):]
        if name.startswith(pre) and name.endswith(post) and mid.isdigit():
            return sel.replace('"N"', f'"{mid}"')
    return None


def udp_requests(srv, n):
    """n Binding Requests, each answered (resent if lost): the answered count."""
    sock = sl.udp_socket(HOST)
    answered = 0
    try:
        for _ in range(n):
            data, tid = sl.build()
            m, _ = sl.transact(sock, data, tid, srv.primary, timeout=1.0, tries=1)
            answered += m is not None
    finally:
        sock.close()
    return answered


def tcp_requests(srv, n):
    answered = 0
    with socket.create_connection(srv.primary, timeout=5) as s:
        for _ in range(n):
            data, tid = sl.build()
            s.sendall(data)
            m = sl.recv_stream_message(s)
            answered += m is not None and m.tid == tid
    return answered


class Metrics:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args
        self.exe = args.stunringd

    def start(self):
        (self.mport,) = sl.free_ports([], [HOST], count=1)
        return sl.Server(self.exe, self.args.backend, alt=(), name="metrics", tls=True,
                         extra=["--auth", "optional", "--metrics", f"{HOST}:{self.mport}",
                                "--metrics-per-worker"]).start()

    def flags(self):
        def run(*flags):
            p = subprocess.run([self.exe, *flags], capture_output=True, text=True, timeout=20)
            return p.returncode, p.stdout + p.stderr
        for bad in ("127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:9100", "[::1]9100",
                    "localhost:9100", "[127.0.0.1]:9100", ":9100"):
            code, out = run("--metrics", bad, "--print-config")
            self.c.check(f"--metrics {bad}: exit 2 naming the flag",
                         code == 2 and "--metrics" in out, f"exit {code}: {out.strip()}")
        code, out = run("--metrics-per-worker", "--print-config")
        self.c.check("--metrics-per-worker without --metrics: exit 2",
                     code == 2 and "needs --metrics" in out, f"exit {code}: {out.strip()}")
        code, out = run("--print-config")
        self.c.check("--print-config: metrics (off) by default",
                     code == 0 and "\nmetrics (off)\n" in out
                     and "\nmetrics-per-worker off\n" in out, out)
        code, out = run("--metrics", "[::1]:9100", "--metrics-per-worker", "--print-config")
        self.c.check("--print-config: an IPv6 endpoint and per-worker",
                     code == 0 and "\nmetrics [::1]:9100\n" in out
                     and "\nmetrics-per-worker on\n" in out, out)
        # A taken port: a runtime failure, exit 1, after saying which.
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            udp, alt = sl.free_ports([HOST], [HOST])
            p = subprocess.run([self.exe, "--listen", HOST, "--port", str(udp), "--alt-port",
                                str(alt), "--workers", "1", "--no-tcp", "--backend",
                                self.args.backend, "--metrics", f"{HOST}:{port}"],
                               capture_output=True, text=True, timeout=30)
        self.c.check("--metrics on a taken port: exit 1, said",
                     p.returncode == 1 and "--metrics" in p.stderr and "in use" in p.stderr,
                     f"exit {p.returncode}: {p.stderr.strip()}")

    def routes(self):
        st, h, body = get(self.mport, "/healthz")
        self.c.eq("/healthz: 200 while every worker is armed", st, 200)
        self.c.eq("/healthz: body ok", body, b"ok\n")
        self.c.eq("/healthz: Connection: close", h.get("connection"), "close")
        st, h, body = get(self.mport, "/metrics")
        self.c.eq("/metrics: 200", st, 200)
        self.c.check("/metrics: text format 0.0.4", "version=0.0.4" in h.get("content-type", ""),
                     h)
        self.c.eq("/metrics: Content-Length is the body's", int(h.get("content-length", -1)),
                  len(body))
        self.c.eq("another path: 404", get(self.mport, "/")[0], 404)
        self.c.eq("/metrics/x: 404", get(self.mport, "/metrics/x")[0], 404)
        st, h, _ = http(self.mport, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        self.c.eq("POST: 405", st, 405)
        self.c.eq("405 says Allow: GET", h.get("allow"), "GET")
        self.c.eq("not HTTP: 400", http(self.mport, b"\x16\x03\x01\x00\x05hello\r\n\r\n")[0], 400)
        self.c.eq("no end of headers in 2048 bytes: 431",
                  http(self.mport, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 3000)[0], 431)

    def promtool(self):
        _, _, body = get(self.mport, "/metrics")
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           timeout=60)
        findings = (p.stdout + p.stderr).decode(errors="replace").strip()
        self.c.check("promtool check metrics: exit 0, no finding", p.returncode == 0
                     and not findings, f"exit {p.returncode}: {findings[:2000]}",
                     f"{len(body)} bytes")

    def every_sigusr1_counter(self, srv):
        mapping = read_map(self.exe)
        before = parse_scrape(get(self.mport, "/metrics")[2].decode())
        self.c.eq("stunring_credentials: 0 before any mint",
                  before.get(("stunring_credentials", frozenset())), 0.0)
        ctx = sl.tls_context()
        for _ in range(3):
            sl.mint(srv.tls_ep, ctx)
        after = parse_scrape(get(self.mport, "/metrics")[2].decode())
        self.c.eq("stunring_credentials: 3 after three mints (read off the front thread)",
                  after.get(("stunring_credentials", frozenset())), 3.0)
        self.c.eq("a TLS handshake completed per mint",
                  select(after, 'stunring_tls_handshakes_total{result="completed"}'), 3.0)
        self.c.eq("UDP traffic answered", udp_requests(srv, 20), 20)
        self.c.eq("TCP traffic answered", tcp_requests(srv, 3), 3)
        bad = sl.udp_socket(HOST)
        bad.sendto(b"\x80" * 24, srv.primary)  # not STUN: dropped, counted
        bad.close()
        srv.stats_until(lambda s: s["drop_not_stun"] >= 1)
        # Quiet now: SIGUSR1 and a scrape agree, or a few tries (bounded) say why not.
        for attempt in range(5):
            st = srv.stats()
            series = parse_scrape(get(self.mport, "/metrics")[2].decode())
            names = dict(st.c)
            for wid, (rx, tx) in st.workers.items():
                names[f"worker.{wid} rx"] = rx
                names[f"worker.{wid} tx"] = tx
            missing, differ = [], []
            for name, value in names.items():
                sel = selector_for(mapping, name)
                got = select(series, sel) if sel else None
                if got is None:
                    missing.append(f"{name} ({sel})")
                elif got != value and name != "heap_mallocs":  # a scrape allocates
                    differ.append(f"{name}: SIGUSR1 {value}, {sel} {got}")
            if not differ:
                break
            time.sleep(0.2)
        self.c.check("every SIGUSR1 counter is in the scrape", not missing, missing,
                     f"{len(names)} counters")
        self.c.check("... with SIGUSR1's value", not differ, differ[:10])
        self.c.check("per-worker series with --metrics-per-worker",
                     len(st.workers) == 2 and "worker.1 rx" in names, st.workers)

    def slow_loris(self):
        lorises = []
        try:
            for _ in range(10):  # more than the cap of 8
                s = socket.create_connection((HOST, self.mport), timeout=5)
                s.sendall(b"GET /metr")
                lorises.append(s)
            st, _, body = get(self.mport, "/metrics")
            self.c.eq("a scraper is answered while slow-loris connections hang", st, 200)
            self.c.check("... in full", b"stunring_requests_total" in body, body[:200])
            still = 0
            for s in lorises:
                s.setblocking(False)
                try:
                    still += s.recv(1) != b""
                except BlockingIOError:
                    still += 1
                except OSError:
                    pass
            # The newest ones keep their slots (the cap evicts the oldest):
            # the answer came before their deadline closed them.
            self.c.check("... before the slow ones were closed", still >= 1, still,
                         f"{still} of 10 still connected")
        finally:
            for s in lorises:
                s.close()
        self.c.eq("/healthz still 200 afterwards", get(self.mport, "/healthz")[0], 200)

    def prometheus(self, srv):
        exe = shutil.which("prometheus")
        if not self.c.check("Debian's prometheus is installed (tools/dev setup)", exe, "missing"):
            return
        tmp = tempfile.mkdtemp(prefix="stunring-prom-")
        (pport,) = sl.free_ports([], [HOST], count=1)
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: stunring\n    static_configs:\n"
                    f"      - targets: ['{HOST}:{self.mport}']\n")
        log = open(os.path.join(tmp, "prometheus.log"), "wb")
        proc = subprocess.Popen([exe, f"--config.file={cfg}",
                                 f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                 f"--web.listen-address={HOST}:{pport}", "--log.level=warn"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        print(f"# prometheus: pid {proc.pid} on {HOST}:{pport}, {tmp}")
        try:
            self.query_increase(srv, pport, proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
            self.c.check("prometheus stopped by PID", proc.poll() is not None)
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def query(pport, expr):
        url = f"http://{HOST}:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                data = json.load(r)
        except (OSError, ValueError):
            return None
        result = data.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else None

    def wait_value(self, pport, expr, done, timeout=40.0):
        """The query's value once done(value) holds, or the last (bounded)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.query(pport, expr)
            if value is not None and done(value):
                break
            time.sleep(0.25)
        return value

    def query_increase(self, srv, pport, proc):
        up = self.wait_value(pport, 'up{job="stunring"}', lambda v: v == 1)
        if not self.c.eq("prometheus scrapes stunringd: up == 1", up, 1.0,
                         f"prometheus running: {proc.poll() is None}"):
            return
        udp = 'stunring_requests_total{job="stunring",transport="udp"}'
        tcp = 'stunring_requests_total{job="stunring",transport="tcp"}'
        udp0 = self.wait_value(pport, udp, lambda v: True)
        tcp0 = self.wait_value(pport, tcp, lambda v: True)
        # Quiet: what Prometheus holds is what the daemon counted.
        st = srv.stats()
        udp0 = self.wait_value(pport, udp, lambda v: v == st["rx"])
        tcp0 = self.wait_value(pport, tcp, lambda v: v == st["tcp_messages"])
        self.c.eq("prometheus holds the daemon's udp count", udp0, float(st["rx"]))
        self.c.eq("UDP requests answered", udp_requests(srv, UDP_REQUESTS), UDP_REQUESTS)
        self.c.eq("TCP requests answered", tcp_requests(srv, TCP_REQUESTS), TCP_REQUESTS)
        udp1 = self.wait_value(pport, udp, lambda v: v >= udp0 + UDP_REQUESTS)
        tcp1 = self.wait_value(pport, tcp, lambda v: v >= tcp0 + TCP_REQUESTS)
        self.c.eq("prometheus reads the udp increase", udp1 - udp0, float(UDP_REQUESTS))
        self.c.eq("prometheus reads the tcp increase", tcp1 - tcp0, float(TCP_REQUESTS))
        ok = self.wait_value(pport, 'sum(stunring_answers_total{class="success"})',
                             lambda v: v >= UDP_REQUESTS + TCP_REQUESTS)
        self.c.check("prometheus reads the successes", ok is not None
                     and ok >= UDP_REQUESTS + TCP_REQUESTS, ok)
        workers = self.query(pport, "stunring_workers")
        self.c.eq("prometheus reads stunring_workers", workers, 2.0)

    def run(self):
        self.c.run("flags", self.flags)
        srv = self.start()
        try:
            self.c.run("routes", self.routes)
            self.c.run("promtool", self.promtool)
            self.c.run("every SIGUSR1 counter", self.every_sigusr1_counter, srv)
            self.c.run("slow loris", self.slow_loris)
            self.c.run("prometheus", self.prometheus, srv)
        finally:
            sl.stop_and_check(self.c, srv)


def main():
    args = sl.parse_args(__doc__)
    checks = sl.Checks(f"test_metrics ({args.backend}): {args.stunringd}")
    Metrics(checks, args).run()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
