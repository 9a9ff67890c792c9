#!/usr/bin/env python3
"""Builds a man page from a hand-written template and the program's --help.

The OPTIONS section is never written by hand: it is the program's own
--help, run at build time, turned into roff. A flag added to, changed in or
removed from print_help() reaches the page on the next build, so the two
cannot drift; tests/man/check_man.py proves it against the built binary.

usage: mkman.py BINARY TEMPLATE OUTPUT VERSION

TEMPLATE is a man(7) page whose line "@OPTIONS@" becomes the options and
whose "@VERSION@" becomes VERSION. The help's options are its lines that
start with two spaces and "--"; a line indented further continues the
option above; a blank line ends the list.
"""
import re
import subprocess
import sys
import textwrap

# A flag, its argument (NAME, ADDR:PORT, NAME[:GROUP], md5|sha256) if any,
# and more flags after commas; then the description, even when a long flag
# left it only one space.
ARGUMENT = r"(?: [A-Z][A-Z0-9_:\[\]]*| [a-z0-9]+(?:\|[a-z0-9]+)+)?"
OPTION_START = re.compile(
    r"^  (--[a-z0-9-]+" + ARGUMENT + r"(?:, --[a-z0-9-]+" + ARGUMENT + r")*)(?:\s+(\S.*))?$")
CONTINUATION = re.compile(r"^\s{8,}(\S.*)$")
# Said of the build machine ("the CPUs available, 16 here"): not of the
# machine that reads the page.
BUILD_MACHINE_FACT = re.compile(r", \d+ here\)")


def help_text(binary):
    done = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        sys.exit(f"mkman: {binary} --help exited {done.returncode}")
    return done.stdout


def parse_options(text):
    """[(spec, description)] in --help's order: spec is '--port N'."""
    options, current = [], None
    for line in text.splitlines():
        start = OPTION_START.match(line)
        more = CONTINUATION.match(line)
        if start:
            current = [start.group(1).strip(), start.group(2) or ""]
            options.append(current)
        elif more and current is not None:
            current[1] = (current[1] + " " + more.group(1)).strip()
        else:
            current = None
    return [(spec, BUILD_MACHINE_FACT.sub(")", desc)) for spec, desc in options]


def roff_text(text):
    """Plain text as roff: backslashes, flags' hyphens, non-ASCII escaped."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ord(ch) > 126:
            out.append(f"\\[u{ord(ch):04X}]")
        else:
            out.append(ch)
    escaped = "".join(out)
    escaped = re.sub(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)",
                     lambda m: "\\-\\-" + m.group(1).replace("-", "\\-"), escaped)
    return escaped


def roff_lines(text):
    """A paragraph as roff lines of at most 72 bytes (mandoc's style limit
    is 80), none starting with a control character."""
    wrapped = textwrap.wrap(roff_text(text), 72, break_long_words=False,
                            break_on_hyphens=False)
    return ["\\&" + line if line.startswith((".", "'")) else line for line in wrapped]


def roff_spec(spec):
    """'--port N' as bold flag, italic argument; commas stay plain."""
    words = []
    for word in spec.split():
        comma = word.endswith(",")
        bare = word.rstrip(",")
        if bare.startswith("--"):
            words.append("\\fB" + roff_text(bare) + "\\fR")
        else:
            words.append("\\fI" + roff_text(bare) + "\\fR")
        if comma:
            words[-1] += ","
    return " ".join(words)


def options_roff(options):
    lines = []
    for spec, desc in options:
        lines += [".TP", roff_spec(spec)] + roff_lines(desc)
    return "\n".join(lines)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, template, output, version = sys.argv[1:]
    options = parse_options(help_text(binary))
    if not options:
        sys.exit(f"mkman: no option found in {binary} --help")
    with open(template, encoding="utf-8") as f:
        page = f.read()
    if page.count("@OPTIONS@\n") != 1:
        sys.exit(f"mkman: {template} needs one line '@OPTIONS@'")
    page = page.replace("@OPTIONS@\n", options_roff(options) + "\n")
    page = page.replace("@VERSION@", version)
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
