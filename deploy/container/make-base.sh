#!/bin/sh
# Makes the local base image of the container's build stage (no registry
# is reachable here): Debian bookworm by debootstrap, with the build
# dependencies, imported into podman as localhost/stunring-build-base:bookworm.
# usage: make-base.sh [MIRROR]   (needs root, debootstrap and podman)
set -eu
mirror=${1:-http://deb.debian.org/debian}
image=localhost/stunring-build-base:bookworm
root=$(mktemp -d /tmp/stunring-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase \
    --include=build-essential,cmake,pkg-config,liburing-dev,libssl-dev,libjemalloc-dev,zlib1g-dev,python3-minimal,busybox-static,gzip \
    bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import - "$image"
echo "make-base.sh: $image"
