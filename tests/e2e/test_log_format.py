#!/usr/bin/env python3
"""--log-format json (issue 10, part 5): every line the daemon writes is one
JSON object, through a start-up, SIGUSR1, SIGHUP (one good reload, one that
fails) and a stop.

- Each line is valid UTF-8 and parses with Python's json module, as an
  object with time (RFC 3339 UTC, milliseconds), level and msg.
- Escaping by the daemon itself: the certificate lives in a directory whose
  name holds a quote, a backslash, a tab and a byte that is not UTF-8; the
  failed reload's line names it, and its msg reads back with the bad byte
  as U+FFFD and every other character as it was.
- The counters (SIGUSR1 and at exit) are one object per counter line whose
  msg is the text form's line ("stats rx 12"): stunlib's parser reads them
  back (README: Logs).
- Nothing per packet at info: a few hundred requests, good and malformed,
  add no line.
- --print-config says the format; a bad one exits 2 naming the flag.
"""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ODD_DIR = b'cert "q" \\ \t \xff dir'  # a quote, a backslash, a tab, a byte not UTF-8


def text_of(raw_line):
    """A JSON log line as the text form would have it (for stunlib's waits
    and counter parser); a line that is not JSON as it is."""
    try:
        obj = json.loads(raw_line)
        msg, level = obj["msg"], obj["level"]
    except (ValueError, KeyError, TypeError):
        return raw_line
    return msg if msg.startswith("stats ") else f"stunringd: {level}: {msg}"


class JsonServer(sl.Server):
    """A Server whose log() reads the JSON lines as the text form."""

    def raw(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log(self):
        lines = self.raw().decode("utf-8", "replace").splitlines(keepends=True)
        return "".join(text_of(l.rstrip("\n")) + ("\n" if l.endswith("\n") else "")
                       for l in lines)


def wait_for(srv, needle, before, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.log().count(needle) > before:
            return True
        time.sleep(0.02)
    return False


class LogFormat:
    def __init__(self, checks, args):
        self.c = checks
        self.args = args

    def lifecycle(self):
        c = self.c
        srv = JsonServer(self.args.stunringd, self.args.backend, workers=2, tls=True,
                         extra=["--log-format", "json"], name="json")
        odd = os.path.join(os.fsencode(srv.logdir), ODD_DIR)
        os.mkdir(odd)
        for name in ("cert", "key"):
            moved = os.fsdecode(os.path.join(odd, os.fsencode(name + ".pem")))
            os.replace(getattr(srv, name), moved)
            setattr(srv, name, moved)
        srv.start()
        c.check("json: the ready line read back", "stunringd: info: ready:" in srv.log())

        lines = srv.raw().count(b"\n")
        with sl.udp_socket() as s:
            for i in range(300):
                msg, _ = sl.build() if i % 2 else (b"\x00\x01junk" + bytes(i % 40), None)
                s.sendto(msg, srv.primary)
        st = srv.stats_until(lambda st: st["rx"] >= 300)
        c.eq("json: counters read back through SIGUSR1 (rx)", st["rx"], 300)
        after = srv.raw().decode("utf-8", "replace").splitlines()[lines:]
        c.check("json: 300 requests, good and malformed, add no line: all after them are "
                "SIGUSR1's counter objects",
                after and all(json.loads(l)["msg"].startswith("stats ") for l in after),
                f"{after[:3]}", f"{len(after)} lines")

        srv.new_cert()
        before = srv.log().count("reload: certificate: reloaded")
        srv.reload()
        c.check("json: a good reload logged", wait_for(srv, "reload: certificate: reloaded",
                                                       before))
        with open(srv.cert, "w") as f:
            f.write("not a certificate\n")
        before = srv.log().count("reload: certificate: failed")
        srv.reload()
        c.check("json: a failed reload logged", wait_for(srv, "reload: certificate: failed",
                                                         before))
        code = srv.stop()
        c.eq("json: a clean stop (exit 0)", code, 0)
        c.eq("json: no sanitizer report", srv.sanitizer_reports(), [])
        self.every_line(srv)

    def every_line(self, srv):
        c = self.c
        raw = srv.raw()
        try:
            text = raw.decode("utf-8")
            c.check("json: the whole log is valid UTF-8", True)
        except UnicodeDecodeError as e:
            c.fail("json: the whole log is valid UTF-8", str(e))
            text = raw.decode("utf-8", "replace")
        c.check("json: the log ends with a newline", text.endswith("\n"))
        objs, bad = [], []
        for line in text.splitlines():
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                objs.append(obj)
            except ValueError as e:
                bad.append(f"{line!r}: {e}")
        c.check(f"json: every line parses with json.loads ({len(objs)} lines)", not bad,
                "; ".join(bad[:3]))
        shape = [o for o in objs
                 if not (isinstance(o.get("msg"), str)
                         and o.get("level") in ("error", "warn", "info", "debug")
                         and isinstance(o.get("time"), str) and TIME.fullmatch(o["time"]))]
        c.check("json: each has time (RFC 3339 UTC, ms), level and msg", not shape,
                f"{shape[:3]}")
        try:
            for o in objs:
                datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            c.check("json: every time is a real date and time", True)
        except ValueError as e:
            c.fail("json: every time is a real date and time", str(e))
        msgs = [o.get("msg", "") for o in objs]
        for what in ("ready: 2 workers", "stats when sigusr1", "reload: certificate: reloaded",
                     "SIGHUP: reloaded (1)", "SIGTERM: stopping", "stats when exit",
                     "stats dropped "):
            c.check(f"json: a line says '{what}'", any(m.startswith(what) for m in msgs))
        failed = [m for m in msgs if m.startswith("reload: certificate: failed")]
        want = os.fsdecode(ODD_DIR).replace("\udcff", "\ufffd")
        c.check("json: the failed reload names the odd directory, escaped and read back "
                "(quote, backslash, tab kept; the non-UTF-8 byte as U+FFFD)",
                len(failed) == 1 and want in failed[0], f"{failed}", failed[0] if failed else "")
        levels = {o["msg"]: o["level"] for o in objs if "msg" in o}
        c.eq("json: the failed reload's level", levels.get(failed[0]) if failed else None,
             "error")

    def flags(self):
        c = self.c
        exe = self.args.stunringd
        r = subprocess.run([exe, "--log-format", "json", "--print-config"], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        c.check("--print-config says 'log-format json'",
                r.returncode == 0 and b"\nlog-format json\n" in r.stdout, r.stdout[-200:])
        r = subprocess.run([exe, "--log-format", "yaml"], capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        c.check("--log-format yaml: exit 2 naming the flag",
                r.returncode == 2 and b"--log-format" in r.stderr, r.stderr)

    def run(self):
        self.c.run("start, SIGUSR1, SIGHUP, stop in json", self.lifecycle)
        self.c.run("flags", self.flags)


def main():
    return sl.run_suite(LogFormat, "test_log_format")


if __name__ == "__main__":
    sys.exit(main())
