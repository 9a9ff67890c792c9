#!/usr/bin/env python3
"""The Debian package, end to end (issue 11, part 1): built with CPack from
this build, installed with apt, run, and purged leaving nothing behind.

usage: test_package.py --build-dir BUILD --version VERSION

- cpack -G DEB from BUILD's CPackConfig.cmake into a fresh directory;
- `apt-get install ./stunring_VERSION_ARCH.deb` under a policy-rc.d that
  forbids starting services (as tools/dev installs packages): the postinst
  makes the system user stunring; /etc/default/stunringd is a conffile;
  the running kernel's settings are left alone (sysctl.d applies at boot);
- /usr/sbin/stunringd --version says VERSION; the installed daemon starts
  on free loopback ports with --user stunring (the postinst's user), answers
  one Binding Request with the client's address, and stops on SIGTERM by
  PID with exit 0; stunring-passwd and stunring-bench run;
- `apt-get purge`: every file `dpkg -L` listed is gone, and the user and
  group, and dpkg knows nothing of the package.
Needs root; refuses to run where stunring is already installed or the user
exists (it would remove someone's).
"""
import argparse
import glob
import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import stunlib as sl  # noqa: E402

POLICY = "/usr/sbin/policy-rc.d"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(cmd, timeout=300, env=None):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return done.returncode, done.stdout + done.stderr


def installed():
    code, out = run(["dpkg-query", "-W", "-f=${Status}", "stunring"])
    return code == 0 and "install ok installed" in out


def user_exists():
    try:
        pwd.getpwnam("stunring")
        return True
    except KeyError:
        return False


def group_exists():
    try:
        grp.getgrnam("stunring")
        return True
    except KeyError:
        return False


def build_package(c, build_dir, out_dir):
    code, out = run(["cpack", "-G", "DEB", "--config",
                     os.path.join(build_dir, "CPackConfig.cmake"), "-B", out_dir], timeout=600)
    debs = glob.glob(os.path.join(out_dir, "stunring_*.deb"))
    c.check("cpack -G DEB made one package", code == 0 and len(debs) == 1,
            f"exit {code}, {debs}: {out[-2000:]}", os.path.basename(debs[0]) if debs else "")
    return debs[0] if len(debs) == 1 else None


def install(c, deb):
    created = not os.path.exists(POLICY)
    if created:
        with open(POLICY, "w") as f:
            f.write("#!/bin/sh\n# test_package: start no service while installing\nexit 101\n")
        os.chmod(POLICY, 0o755)
    try:
        code, out = run(["apt-get", "install", "-y", "--no-install-recommends", deb], env=APT_ENV)
    finally:
        if created:
            os.unlink(POLICY)
    c.check("apt-get install ./stunring.deb", code == 0 and installed(), out[-3000:])


SYSCTLS = ("net/core/rmem_max", "net/core/wmem_max", "net/core/netdev_max_backlog",
           "net/ipv4/udp_mem", "net/core/somaxconn")


def sysctls():
    """The kernel settings 90-stunring.conf names, as they are now."""
    values = {}
    for key in SYSCTLS:
        with open("/proc/sys/" + key) as f:
            values[key] = f.read().split()
    return values


def listed_files():
    code, out = run(["dpkg", "-L", "stunring"])
    return [p for p in out.splitlines() if p.startswith("/")] if code == 0 else []


def check_installed(c, version):
    c.check("postinst made the system user stunring", user_exists()
            and pwd.getpwnam("stunring").pw_uid < 1000, "no such user, or not a system uid")
    code, conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "stunring"])
    c.check("/etc/default/stunringd is a conffile", "/etc/default/stunringd" in conffiles,
            conffiles)
    for path in ("/usr/sbin/stunringd", "/usr/bin/stunring-bench", "/usr/bin/stunring-passwd",
                 "/usr/lib/systemd/system/stunringd.service", "/usr/lib/sysctl.d/90-stunring.conf",
                 "/etc/default/stunringd"):
        c.check(f"{path} installed", os.path.isfile(path))
    code, out = run(["/usr/sbin/stunringd", "--version"])
    c.eq("stunringd --version", out.strip(), f"stunringd {version}")
    code, out = run(["/usr/bin/stunring-passwd", "--realm", "r", "--plain", "u", "p"])
    c.eq("stunring-passwd --plain u p", (code, out.strip()), (0, "u:p"))
    code, out = run(["/usr/bin/stunring-bench", "--version"])
    c.check("stunring-bench --version", code == 0 and version in out, out)


def serve_once(c):
    srv = sl.Server("/usr/sbin/stunringd", "auto", alt=(), extra=["--user", "stunring"],
                    name="installed")
    try:
        srv.start()
        c.check("the installed stunringd dropped to the user stunring",
                "running as user stunring" in srv.log(), srv.log())
        request, tid = sl.build()
        with sl.udp_socket() as s:
            answer, _ = sl.transact(s, request, tid, srv.primary)
            mine = s.getsockname()
        c.check("it answers a Binding Request", answer is not None)
        if answer is not None:
            c.eq("with the client's address", answer.xor_addr(), (mine[0], mine[1]))
    finally:
        sl.stop_and_check(c, srv)


def purge(c, files):
    code, out = run(["apt-get", "purge", "-y", "stunring"], env=APT_ENV)
    c.check("apt-get purge stunring", code == 0, out[-3000:])
    code, out = run(["dpkg-query", "-W", "-f=${Status}", "stunring"])
    c.check("dpkg knows nothing of it", code != 0 or "not-installed" in out, out)
    left = [p for p in files if os.path.lexists(p) and not os.path.isdir(p)]
    c.eq("every file dpkg -L listed is gone", left, [])
    own_dirs = [p for p in files if "stunring" in p and os.path.isdir(p)]
    c.eq("and its own directories", own_dirs, [])
    c.check("the user stunring is gone", not user_exists())
    c.check("the group stunring is gone", not group_exists())
    leftovers = glob.glob("/var/lib/systemd/deb-systemd-helper-*/**/stunringd*", recursive=True)
    c.eq("no enablement state left", leftovers, [])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--version", required=True)
    args = ap.parse_args()
    c = sl.Checks(f"test_package: {args.build_dir}")
    if os.geteuid() != 0:
        c.fail("runs as root", "installing a package needs root: run the suite as root")
        return c.finish()
    if installed() or user_exists() or group_exists():
        c.fail("a clean machine", "stunring (the package, user or group) is here already: "
               "this test would remove it; purge it first")
        return c.finish()
    out_dir = tempfile.mkdtemp(prefix="stunring-package-")
    try:
        deb = build_package(c, args.build_dir, out_dir)
        if deb is None:
            return c.finish()
        before = sysctls()
        install(c, deb)
        c.eq("the install changed no kernel setting (they apply at boot)", sysctls(), before)
        files = listed_files()
        c.check("dpkg -L lists the package's files", len(files) > 10, f"{files}", len(files))
        if installed():
            c.run("the installed package", check_installed, c, args.version)
            c.run("the installed daemon serves", serve_once, c)
        purge(c, files)
    finally:
        if installed():  # a failure above: leave the machine as it was
            run(["apt-get", "purge", "-y", "stunring"], env=APT_ENV)
        shutil.rmtree(out_dir, ignore_errors=True)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
