#!/usr/bin/env python3
"""Start-up warnings about host limits below what the flags ask for
(issue 11, part 5; io/main/host_check.c).

- An open files limit (RLIMIT_NOFILE, LimitNOFILE= in the unit) below
  --tcp-max-conns and the sockets: one warning naming the limit and the
  need, and the server still starts and answers.
- A limit above the need: no such warning.
"""

import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stunlib as sl  # noqa: E402


def start_with_nofile(args, soft, extra):
    """A server started under an open files limit of soft (inherited)."""
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, saved[1]))
    try:
        return sl.Server(args.stunringd, args.backend, alt=(), extra=extra).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def warnings_of(srv):
    return [l for l in srv.log().splitlines() if "open files limit" in l]


def low_limit(c, args):
    srv = start_with_nofile(args, 512, ["--tcp-max-conns", "1000"])
    try:
        said = warnings_of(srv)
        c.check("limit 512, --tcp-max-conns 1000: one warning", len(said) == 1
                and "warn:" in said[0] and "limit 512 " in said[0], f"{said}",
                said[0] if said else "")
        request, tid = sl.build()
        with sl.udp_socket() as s:
            answer, _ = sl.transact(s, request, tid, srv.primary)
        c.check("... and it still answers", answer is not None)
    finally:
        sl.stop_and_check(c, srv)


def enough(c, args):
    """Limit 1024 (any machine's hard limit allows it) against a cap of 100."""
    srv = start_with_nofile(args, 1024, ["--tcp-max-conns", "100"])
    try:
        c.eq("limit 1024, --tcp-max-conns 100: no warning", warnings_of(srv), [])
    finally:
        sl.stop_and_check(c, srv)


def main():
    args = sl.parse_args(__doc__)
    c = sl.Checks(f"test_host_check ({args.backend}): {args.stunringd}")
    c.run("an open files limit below the caps", low_limit, c, args)
    c.run("an open files limit above them", enough, c, args)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
