#!/usr/bin/env python3
"""The man pages against the programs' --help, and mandoc -T lint.

usage: check_man.py --man-dir DIR PAGE=BINARY...

For each PAGE (stunringd.8) built from BINARY's --help (deploy/man/mkman.py):
- the flags of the page's OPTIONS section are exactly the flags --help
  lists, in its order: one missing either way fails;
- every flag the page names anywhere (the hand-written DESCRIPTION,
  SIGNALS, EXIT STATUS...) is a flag of one of our programs;
- `mandoc -T lint -W style` says nothing (not even a style note).
It also proves its own comparison fails on a page with a flag dropped and
one with a flag added, so a broken check cannot pass silently.
"""
import argparse
import re
import subprocess
import sys

HELP_FLAG_LINE = re.compile(r"^  (--[a-z0-9-]+)(.*)$")
MORE_FLAGS = re.compile(r"^[^ ]*(?: [^ -][^ ]*)?, (--[a-z0-9-]+)")
FLAG = re.compile(r"--[a-z0-9][a-z0-9-]*")


def help_flags(binary):
    done = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{binary} --help exited {done.returncode}"
    flags = []
    for line in done.stdout.splitlines():
        m = HELP_FLAG_LINE.match(line)
        if not m:
            continue
        flags.append(m.group(1))
        rest = m.group(2)
        while (more := MORE_FLAGS.match(rest)) is not None:
            flags.append(more.group(1))
            rest = rest[more.end():]
    return flags


def plain(roff):
    return roff.replace("\\-", "-").replace("\\&", "")


def options_flags(page):
    """Flags of the OPTIONS section's .TP tags, in order."""
    lines = page.splitlines()
    start = lines.index(".SH OPTIONS")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(".SH "))
    flags = []
    for i in range(start + 1, end - 1):
        if lines[i] == ".TP":
            flags += FLAG.findall(plain(lines[i + 1]))
    return flags


def mentioned_flags(page):
    body = [l for l in page.splitlines() if not l.startswith('.\\"')]
    return set(FLAG.findall(plain("\n".join(body))))


def drift(page, flags):
    """What differs between the page's options and --help's flags."""
    on_page = options_flags(page)
    problems = []
    missing = [f for f in flags if f not in on_page]
    extra = [f for f in on_page if f not in flags]
    if missing:
        problems.append(f"in --help, not on the page: {missing}")
    if extra:
        problems.append(f"on the page, not in --help: {extra}")
    if not missing and not extra and on_page != flags:
        problems.append(f"order differs: page {on_page}, --help {flags}")
    return problems


def lint(path):
    done = subprocess.run(["mandoc", "-T", "lint", "-W", "style", path],
                          capture_output=True, text=True, timeout=30)
    said = (done.stdout + done.stderr).strip()
    return [f"mandoc -T lint: {said or 'exit ' + str(done.returncode)}"] \
        if said or done.returncode != 0 else []


def check_detects_drift(page, flags):
    """The comparison must fail on a page with one flag dropped or added."""
    first = flags[0].replace("-", "\\-")
    lines = page.splitlines()
    tag = next(i for i, l in enumerate(lines) if l.startswith(".TP") and first in lines[i + 1])
    dropped = "\n".join(lines[:tag] + lines[tag + 3:])
    assert drift(dropped, flags), "a page without " + flags[0] + " passed"
    added = page.replace(".SH OPTIONS\n", ".SH OPTIONS\n.TP\n\\fB\\-\\-no\\-such\\-flag\\fR\nx\n")
    assert drift(added, flags), "a page with --no-such-flag passed"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--man-dir", required=True)
    parser.add_argument("pages", nargs="+", metavar="PAGE=BINARY")
    args = parser.parse_args()
    pairs = [p.split("=", 1) for p in args.pages]
    flags_of = {name: help_flags(binary) for name, binary in pairs}
    every_flag = set().union(*flags_of.values())
    failures = []
    for name, _ in pairs:
        path = f"{args.man_dir}/{name}"
        with open(path, encoding="utf-8") as f:
            page = f.read()
        flags = flags_of[name]
        assert len(flags) >= 3, f"{name}: only {flags} found in --help"
        problems = drift(page, flags) + lint(path)
        unknown = sorted(mentioned_flags(page) - every_flag)
        if unknown:
            problems.append(f"names flags no program has: {unknown}")
        check_detects_drift(page, flags)
        for p in problems:
            failures.append(f"{name}: {p}")
        print(f"{name}: {len(flags)} flags, page and --help agree" if not problems
              else f"{name}: FAILED")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
