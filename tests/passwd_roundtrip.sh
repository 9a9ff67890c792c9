#!/usr/bin/env bash
# The '$' in single quotes below are literal: they test the '$' handling.
# shellcheck disable=SC2016
# usage: tests/passwd_roundtrip.sh STUNRING_PASSWD
#
# Checks stunring-passwd's lines against an independent computation
# (Python's hashlib) of the io/users.h format, its password from standard
# input, and its exit codes. Registered in ctest as "passwd_roundtrip".
set -euo pipefail

[[ $# -eq 1 ]] || {
    echo "usage: $0 STUNRING_PASSWD" >&2
    exit 2
}
tool=$1
failures=0

expect() { # NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then
        echo "ok: $1"
    else
        echo "FAIL: $1: want '$2', got '$3'"
        failures=$((failures + 1))
    fi
}

# USER:$key$REALM$MD5HEX$SHA256HEX, computed by Python.
key_line() { # USER REALM PASSWORD
    python3 - "$1" "$2" "$3" <<'PY'
import hashlib, sys
user, realm, password = sys.argv[1:4]
text = f"{user}:{realm}:{password}".encode()
print(f"{user}:$key${realm}${hashlib.md5(text).hexdigest()}${hashlib.sha256(text).hexdigest()}")
PY
}

expect "key line, password argument" "$(key_line alice example.org secret)" \
    "$("$tool" --realm example.org alice secret)"
expect "key line, UTF-8 and odd characters" "$(key_line 'b ø b' 'r$e:alm' 'p:a $s#')" \
    "$("$tool" --realm 'r$e:alm' 'b ø b' 'p:a $s#')"
expect "key line, password on stdin" "$(key_line alice example.org secret)" \
    "$(printf 'secret\n' | "$tool" --realm example.org alice)"
expect "key line, CRLF on stdin" "$(key_line alice example.org secret)" \
    "$(printf 'secret\r\n' | "$tool" --realm example.org alice)"
expect "key line, no newline on stdin" "$(key_line alice example.org secret)" \
    "$(printf 'secret' | "$tool" --realm example.org alice)"
expect "plain line" "alice:secret" "$("$tool" --plain alice secret)"
expect "plain line, leading dollar" 'alice:$$ecret' "$("$tool" --plain alice '$ecret')"
expect "password after --" "alice:-pw" "$("$tool" --plain alice -- -pw)"

status() { # ARGS...: the exit status
    local rc=0
    "$tool" "$@" </dev/null >/dev/null 2>&1 || rc=$?
    echo "$rc"
}
expect "--help exits 0" 0 "$(status --help)"
expect "unknown flag exits 2" 2 "$(status --bogus alice pw)"
expect "missing --realm exits 2" 2 "$(status alice pw)"
expect "no user exits 2" 2 "$(status --realm r)"
expect "three arguments exit 2" 2 "$(status --realm r a b c)"
expect "user with ':' exits 2" 2 "$(status --realm r a:b pw)"
expect "empty password exits 2" 2 "$(status --realm r alice '')"
expect "no password on stdin exits 1" 1 "$(status --realm r alice)"
msg=$("$tool" --bogus alice pw 2>&1 || true)
expect "bad flag is named" "stunring-passwd: unknown flag '--bogus' (see --help)" "$msg"

if [[ $failures -gt 0 ]]; then
    echo "passwd_roundtrip: $failures failure(s)"
    exit 1
fi
echo "passwd_roundtrip: ok"
