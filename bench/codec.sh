#!/usr/bin/env bash
# Codec micro-benchmark: ns/op and callgrind instructions/op.
#   bench/codec.sh [BUILD_DIR]   (default: build)
exec "$(dirname "$0")/micro.sh" "${1:-build}/bench/stunring-bench-codec"
