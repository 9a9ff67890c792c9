#!/usr/bin/env python3
"""deploy/sysctl/90-stunring.conf: every setting a key this kernel has,
each with a comment above it saying why, in sysctl.d syntax, and at least
what stunringd's defaults ask for (--rcvbuf against net.core.rmem_max,
as --print-config states it).

usage: check_sysctl.py CONF STUNRINGD
"""
import os
import re
import subprocess
import sys

SETTING = re.compile(r"^([a-z0-9_.]+) = (\d+(?: \d+)*)$")


def parse(path):
    """{key: (values, the comment block above it)}; failures."""
    settings, failures, comment = {}, [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                comment.append(line)
                continue
            if not line:
                comment = []
                continue
            m = SETTING.match(line)
            if m is None:
                failures.append(f"line {number}: not 'key = value': {line!r}")
            elif not comment:
                failures.append(f"line {number}: {m.group(1)} has no comment saying why")
            else:
                settings[m.group(1)] = ([int(v) for v in m.group(2).split()], comment)
            comment = []
    return settings, failures


def main():
    conf, stunringd = sys.argv[1], sys.argv[2]
    settings, failures = parse(conf)
    for key, (values, _) in settings.items():
        proc = "/proc/sys/" + key.replace(".", "/")
        if not os.path.exists(proc):
            failures.append(f"{key}: no {proc} on this kernel")
            continue
        with open(proc) as f:
            have = f.read().split()
        if len(have) != len(values):
            failures.append(f"{key}: {len(values)} values, the kernel has {len(have)}")
    for key in ("net.core.rmem_max", "net.core.wmem_max", "net.core.netdev_max_backlog",
                "net.ipv4.udp_mem"):
        if key not in settings:
            failures.append(f"{key}: missing")
    config = subprocess.run([stunringd, "--print-config"], capture_output=True, text=True,
                            timeout=30).stdout
    m = re.search(r"^rcvbuf (\d+)", config, re.M)
    if m is None:
        failures.append(f"no rcvbuf line in --print-config: {config}")
    elif "net.core.rmem_max" in settings and settings["net.core.rmem_max"][0][0] < int(m.group(1)):
        failures.append(f"net.core.rmem_max below the default --rcvbuf {m.group(1)}")
    for f in failures:
        print("FAIL " + f)
    print(f"sysctl: {len(settings)} settings" + (", ok" if not failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
