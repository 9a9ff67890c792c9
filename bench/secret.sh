#!/usr/bin/env bash
# Shared-secret table micro-benchmark: ns/op and callgrind instructions/op.
#   bench/secret.sh [BUILD_DIR [--users N]]   (default: build)
exec "$(dirname "$0")/micro.sh" "${1:-build}/bench/stunring-bench-secret" "${@:2}"
