#!/usr/bin/env bash
# usage: tests/check_core_purity.sh CORE_SRC_DIR LIBCORE_A
#
# Keeps core/ pure (DESIGN.md, "Layout"): no syscalls, threads, sockets,
# io_uring, TLS or allocation, so the protocol can be unit-tested and fuzzed
# with no kernel in the way. Two checks, because either alone can be fooled:
#   1. the sources include no header that brings those in;
#   2. the compiled library calls nothing outside a short allow-list
#      (a syscall wrapper or malloc reached some other way still shows up
#      as an undefined symbol).
# Exits 1 naming every offending file or symbol; registered in ctest as
# "core_purity" (label "build").
set -euo pipefail

# Headers core/ must not include, as extended regexes matched against the
# name between <>. sys/ covers sockets, uio, epoll, mman and every syscall;
# stdlib.h and malloc.h are where allocation and exit() live; stdio.h is I/O.
FORBIDDEN_SYSTEM_HEADERS=(
    'sys/.*' 'netinet/.*' 'arpa/.*' 'net/.*' 'netdb\.h' 'linux/.*'
    'pthread\.h' 'threads\.h' 'liburing\.h' 'liburing/.*' 'openssl/.*'
    'unistd\.h' 'stdlib\.h' 'stdio\.h' 'malloc\.h' 'signal\.h' 'fcntl\.h'
    'poll\.h'
)
# Dependencies point down only (io -> core -> crypto): core/ never includes io/.
FORBIDDEN_PROJECT_HEADERS=('io/.*')

# Undefined symbols core/ may leave for the linker.
ALLOWED_SYMBOLS=(
    memcpy memset memmove memcmp strlen
    # what -D_FORTIFY_SOURCE turns the same calls into
    __memcpy_chk __memset_chk __memmove_chk
    __stack_chk_fail _GLOBAL_OFFSET_TABLE_
)
ALLOWED_PREFIXES=(
    crypto_ # our crypto/ library, the one dependency core/ has
    # sanitizer and coverage runtimes, present only in instrumented builds
    __asan_ __ubsan_ __tsan_ __msan_ __sanitizer_ __sancov_ __llvm_
    __start___sancov_ __stop___sancov_
)

die() {
    echo "check_core_purity: $*" >&2
    exit 2
}

[[ $# -eq 2 ]] || die "usage: $0 CORE_SRC_DIR LIBCORE_A"
src_dir=$1
lib=$2
[[ -d $src_dir ]] || die "no such directory: $src_dir"
[[ -f $lib ]] || die "no such library: $lib"
command -v nm >/dev/null || die "nm not found (install binutils)"

violations=0

joined() {
    local IFS='|'
    echo "$*"
}

check_headers() {
    local system_re project_re files n=0 f
    system_re="^[[:space:]]*#[[:space:]]*include[[:space:]]*<($(joined "${FORBIDDEN_SYSTEM_HEADERS[@]}"))>"
    project_re="^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($(joined "${FORBIDDEN_PROJECT_HEADERS[@]}"))\""
    mapfile -t files < <(find "$src_dir" -type f \( -name '*.c' -o -name '*.h' \) | sort)
    for f in "${files[@]}"; do
        n=$((n + 1))
        # grep -n prints "LINE:TEXT"; prefix the file name ourselves.
        while IFS= read -r hit; do
            echo "core purity: $f:${hit%%:*}: forbidden include: ${hit#*:}"
            violations=$((violations + 1))
        done < <(grep -nE "$system_re|$project_re" "$f" || true)
    done
    files_checked=$n
}

allowed_symbol() {
    local sym=$1 a
    for a in "${ALLOWED_SYMBOLS[@]}"; do
        [[ $sym == "$a" ]] && return 0
    done
    for a in "${ALLOWED_PREFIXES[@]}"; do
        [[ $sym == "$a"* ]] && return 0
    done
    return 1
}

check_symbols() {
    local -A defined=() seen=()
    local line member="" sym
    # A member may call a function another member defines (writer.c calls
    # stun_integrity_compute): those references stay inside the library.
    while read -r sym _; do
        [[ -z $sym || $sym == *: ]] && continue
        defined[$sym]=1
    done < <(nm --defined-only --format=posix "$lib")
    # posix format: "lib.a[member.o]:" headers, then "symbol U" lines.
    while IFS= read -r line; do
        [[ -z $line ]] && continue
        if [[ $line =~ \[(.*)\]:$ ]]; then
            member=${BASH_REMATCH[1]}
            continue
        fi
        sym=${line%% *}
        [[ -n ${defined[$sym]:-} ]] && continue
        seen[$sym]=1
        if ! allowed_symbol "$sym"; then
            echo "core purity: $(basename "$lib")($member): calls $sym, which is not on the allow-list"
            violations=$((violations + 1))
        fi
    done < <(nm -u --format=posix "$lib")
    symbols_checked=${#seen[@]}
}

files_checked=0
symbols_checked=0
check_headers
check_symbols

if [[ $violations -gt 0 ]]; then
    echo "core purity: FAILED ($violations violation(s)); core/ must stay free of" \
        "syscalls, threads, sockets, io_uring, TLS and allocation (DESIGN.md, Layout)"
    exit 1
fi
echo "core purity: ok ($files_checked files, $symbols_checked undefined symbols checked)"
