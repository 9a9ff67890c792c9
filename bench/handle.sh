#!/usr/bin/env bash
# Handler micro-benchmark: ns/op and callgrind instructions/op of stun_handle.
#   bench/handle.sh [BUILD_DIR]   (default: build)
exec "$(dirname "$0")/micro.sh" "${1:-build}/bench/stunring-bench-handle"
