#!/usr/bin/env bash
# A micro-benchmark's ns/op measured natively, then instructions/op counted
# by callgrind (deterministic, whatever else the machine does).
#   bench/micro.sh BINARY [ARGS...]
# BINARY is built from bench/microbench.c's driver: --list names its ops,
# and callgrind counts each op's function op_NAME over a fixed count.
set -euo pipefail

bin=${1:?usage: bench/micro.sh BINARY [ARGS...]}
shift
iterations=10000

if [[ ! -x $bin ]]; then
    echo "micro.sh: $bin not found; build first (tools/dev build)" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "micro.sh: valgrind is not installed" >&2; exit 1; }

echo "== time (ns/op, this machine, noisy)"
"$bin" "$@"

echo "== instructions/op (callgrind, $iterations calls of each op, call overhead included)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t ops < <("$bin" --list "$@")
for op in "${ops[@]}"; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$op" --collect-atstart=no \
        --toggle-collect="op_$op" "$bin" --op "$op" --iterations "$iterations" "$@" \
        >/dev/null 2>&1
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$out/$op")
    printf '%-18s %8d instructions/op\n' "$op" $((total / iterations))
done
