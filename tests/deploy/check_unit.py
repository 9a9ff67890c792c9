#!/usr/bin/env python3
"""deploy/systemd/stunringd.service: `systemd-analyze verify` says nothing,
`systemd-analyze security --offline=yes` rates it 2.0 or lower, and it holds
what the issue asks (Type=notify, User=stunring, CAP_NET_BIND_SERVICE and no
other capability, the io_uring calls allowed, ...).

usage: check_unit.py UNIT STUNRINGD MANDIR

verify checks that ExecStart= is an executable and that the Documentation=
man page exists: the unit is checked as installed, with ExecStart pointing
at the built stunringd and MANPATH at the built stunringd.8.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_EXPOSURE = 2.0
REQUIRED = [
    "Type=notify",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "User=stunring",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "Restart=on-failure",
    "EnvironmentFile=-/etc/default/stunringd",
    "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register",
]


def main():
    unit, stunringd, mandir = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    failures = []
    with open(unit, encoding="utf-8") as f:
        text = f.read()
    lines = set(text.splitlines())
    for want in REQUIRED:
        if want not in lines:
            failures.append(f"missing line: {want}")
    for key in ("AmbientCapabilities=", "CapabilityBoundingSet=", "LimitNOFILE=",
                "RestrictAddressFamilies="):
        if sum(1 for l in lines if l.startswith(key)) != 1:
            failures.append(f"want exactly one {key} line")

    tmp = tempfile.mkdtemp(prefix="stunring-unit-")
    try:
        os.mkdir(os.path.join(tmp, "man8"))
        shutil.copy(os.path.join(mandir, "stunringd.8"), os.path.join(tmp, "man8"))
        copy = os.path.join(tmp, "stunringd.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text.replace("ExecStart=/usr/sbin/stunringd ", f"ExecStart={stunringd} "))
        env = dict(os.environ, MANPATH=tmp)
        done = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True,
                              text=True, env=env, timeout=60)
        said = (done.stdout + done.stderr).strip()
        print(f"systemd-analyze verify: exit {done.returncode}{': ' + said if said else ''}")
        if done.returncode != 0 or said:
            failures.append(f"systemd-analyze verify: exit {done.returncode}: {said}")
        done = subprocess.run(["systemd-analyze", "security", "--offline=yes", copy],
                              capture_output=True, text=True, env=env, timeout=60)
        m = re.search(r"Overall exposure level for stunringd\.service: (\d+\.\d+)", done.stdout)
        if m is None:
            failures.append(f"systemd-analyze security: no rating: {done.stdout}{done.stderr}")
        else:
            exposure = float(m.group(1))
            print(f"systemd-analyze security --offline=yes: {exposure} (at most {MAX_EXPOSURE})")
            print("\n".join(l.rstrip() for l in done.stdout.splitlines() if "✗" in l))
            if exposure > MAX_EXPOSURE:
                failures.append(f"exposure {exposure} > {MAX_EXPOSURE}")
    finally:
        shutil.rmtree(tmp)
    for f in failures:
        print("FAIL " + f)
    print("unit: ok" if not failures else f"unit: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
