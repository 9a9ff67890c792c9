#!/usr/bin/env python3
"""The container image (issue 11, part 3), built with podman (runc) from
deploy/container/Containerfile on a local base (make-base.sh: debootstrap;
no registry), then run with host networking:

- it answers a Binding Request with the client's address, as uid 999 with
  no capability (read from /proc/PID/status of the container's process);
- under podman's default seccomp profile io_uring is refused: stunringd
  falls back to mmsg and says so; unconfined, it serves with io_uring;
- the HEALTHCHECK passes while it answers, and fails against a port no
  one serves;
- SIGTERM to the container's process, by PID: exit 0.
Every container runs with explicit --ulimit nofile and nproc.

usage: test_container.py --source DIR --version VERSION
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import stunlib as sl  # noqa: E402

BASE = "localhost/stunring-build-base:bookworm"
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=512:512"]


def podman(*args, timeout=120):
    done = subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout.strip(), done.stderr.strip()


def build(c, source, tag):
    if podman("image", "exists", BASE)[0] != 0:
        done = subprocess.run(["sh", os.path.join(source, "deploy/container/make-base.sh")],
                              capture_output=True, text=True, timeout=900)
        if not c.check("make-base.sh made the build base", done.returncode == 0,
                       done.stdout[-2000:] + done.stderr[-2000:]):
            return False
    ctx = tempfile.mkdtemp(prefix="stunring-ctx-")
    try:
        files = subprocess.run(["git", "-C", source, "ls-files", "-co", "--exclude-standard",
                                "-z"], capture_output=True, check=True).stdout
        tar = subprocess.Popen(["tar", "-C", source, "--null", "-T", "-", "-c"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        untar = subprocess.Popen(["tar", "-C", ctx, "-x"], stdin=tar.stdout)
        tar.stdin.write(files)
        tar.stdin.close()
        untar.wait(120)
        tar.wait(120)
        code, out, err = podman("build", "--format", "docker", "-f",
                                os.path.join(ctx, "deploy/container/Containerfile"), "-t", tag,
                                ctx, timeout=1200)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return c.check("podman build", code == 0, (out + err)[-3000:], tag)


class Container:
    def __init__(self, tag, flags, extra=(), env=()):
        self.tag, self.flags, self.extra, self.env = tag, flags, list(extra), list(env)
        self.cid = None

    def start(self, timeout=20):
        env = sum((["-e", e] for e in self.env), [])
        code, out, err = podman("run", "-d", "--network", "host", *LIMITS, *env, *self.extra,
                                self.tag, *self.flags)
        if code != 0:
            raise RuntimeError(f"podman run: {err}")
        self.cid = out.splitlines()[-1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "info: ready:" in self.log():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"no ready line in {timeout}s: {self.log()}")

    def log(self):
        _, out, err = podman("logs", self.cid)
        return out + "\n" + err

    def pid(self):
        return int(podman("inspect", "-f", "{{.State.Pid}}", self.cid)[1])

    def stop_by_pid(self):
        os.kill(self.pid(), signal.SIGTERM)
        code, out, _ = podman("wait", self.cid, timeout=30)
        return int(out) if code == 0 else None

    def remove(self):
        if self.cid:
            podman("rm", "-f", self.cid)


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def serve(c, tag):
    p1, p2 = sl.free_ports(["127.0.0.1"], ["127.0.0.1"])
    box = Container(tag, ["--listen", "127.0.0.1", "--port", str(p1), "--alt-port", str(p2),
                          "--workers", "2"], env=[f"STUN_PORT={p1}"]).start()
    try:
        request, tid = sl.build()
        with sl.udp_socket() as s:
            answer, _ = sl.transact(s, request, tid, ("127.0.0.1", p1))
            mine = s.getsockname()
        c.check("the image answers a Binding Request (host network)", answer is not None)
        if answer is not None:
            c.eq("with the client's address", answer.xor_addr(), (mine[0], mine[1]))
        st = status_of(box.pid())
        c.eq("it runs as uid 999", st["Uid"].split()[0], "999")
        c.eq("with no capability", st["CapEff"].strip(), "0000000000000000")
        log = box.log()
        c.check("default seccomp: io_uring refused, mmsg, said so",
                "io_uring unavailable" in log and "backend mmsg" in log, log)
        code = podman("healthcheck", "run", box.cid, timeout=60)[0]
        c.eq("HEALTHCHECK passes while it answers", code, 0)
        c.eq("SIGTERM by PID: exit 0", box.stop_by_pid(), 0)
    finally:
        box.remove()


def unconfined(c, tag):
    p1, p2 = sl.free_ports(["127.0.0.1"], ["127.0.0.1"])
    box = Container(tag, ["--listen", "127.0.0.1", "--port", str(p1), "--alt-port", str(p2),
                          "--workers", "2"], extra=["--security-opt", "seccomp=unconfined"])
    try:
        box.start()
        c.check("seccomp unconfined: the io_uring backend", "backend uring" in box.log(),
                box.log())
        c.eq("SIGTERM by PID: exit 0", box.stop_by_pid(), 0)
    finally:
        box.remove()


def unhealthy(c, tag):
    p1, p2, dead = sl.free_ports(["127.0.0.1"], ["127.0.0.1"], count=3)
    box = Container(tag, ["--listen", "127.0.0.1", "--port", str(p1), "--alt-port", str(p2),
                          "--workers", "1"], env=[f"STUN_PORT={dead}"])
    try:
        box.start()
        code = podman("healthcheck", "run", box.cid, timeout=60)[0]
        c.check("HEALTHCHECK fails against a port no one serves", code != 0, f"exit {code}")
        box.stop_by_pid()
    finally:
        box.remove()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", required=True)
    ap.add_argument("--version", required=True)
    args = ap.parse_args()
    c = sl.Checks("test_container")
    if os.geteuid() != 0:
        c.fail("runs as root", "podman with host networking and runc: run the suite as root")
        return c.finish()
    tag = f"localhost/stunring:test-{os.getpid()}"
    try:
        if build(c, os.path.abspath(args.source), tag):
            c.run("serving", serve, c, tag)
            c.run("io_uring when the profile allows it", unconfined, c, tag)
            c.run("an unhealthy container", unhealthy, c, tag)
    finally:
        podman("rmi", "-f", tag)
        # The build stage's image is left untagged (643 MB a run): dangling
        # images are what a build leaves behind, so they go too.
        podman("image", "prune", "-f")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
