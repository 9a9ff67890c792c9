#!/usr/bin/env bash
# Shared-secret table micro-benchmark: ns/op measured natively, then
# instructions/op counted by callgrind (deterministic, whatever else the
# machine does).
#   bench/secret.sh [BUILD_DIR]     (default: build; run tools/dev build first)
set -euo pipefail

build=${1:-build}
bin=$build/bench/stunring-bench-secret
iterations=10000
ops=(lookup_hit lookup_miss lookup_verify verify_only reclaim)

if [[ ! -x $bin ]]; then
    echo "secret.sh: $bin not found; build first (tools/dev build)" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "secret.sh: valgrind is not installed" >&2; exit 1; }

echo "== time (ns/op, this machine, noisy)"
"$bin"

echo "== instructions/op (callgrind, $iterations calls of each op, call overhead included)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for op in "${ops[@]}"; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$op" --collect-atstart=no \
        --toggle-collect="op_$op" "$bin" --op "$op" --iterations "$iterations" >/dev/null 2>&1
    total=$(awk '/^(summary|totals):/ { print $2; exit }' "$out/$op")
    printf '%-14s %8d instructions/op\n' "$op" $((total / iterations))
done
