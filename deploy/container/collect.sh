#!/bin/sh
# Gathers the runtime image's tree into OUT: the two programs, exactly the
# shared libraries they load (ldd) and the dynamic loader, busybox for a
# shell, kill, grep and sleep (the DaemonSet's flags and preStop, the
# HEALTHCHECK), and the user stunring (uid 999) to run as.
# usage: collect.sh BUILD_DIR OUT
set -eu
build=$1 out=$2
mkdir -p "$out/usr/sbin" "$out/usr/bin" "$out/bin" "$out/etc" "$out/tmp"
chmod 1777 "$out/tmp"
cp "$build/tools/stunringd" "$out/usr/sbin/"
cp "$build/bench/stunring-bench" "$out/usr/bin/"
strip "$out/usr/sbin/stunringd" "$out/usr/bin/stunring-bench"
for lib in $(ldd "$build/tools/stunringd" "$build/bench/stunring-bench" |
    awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | sort -u); do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
cp /bin/busybox "$out/bin/busybox"
for tool in sh kill grep sleep; do
    ln -s busybox "$out/bin/$tool"
done
printf '%s\n' 'root:x:0:0:root:/:/bin/sh' 'stunring:x:999:999:stunring:/nonexistent:/bin/false' \
    >"$out/etc/passwd"
printf '%s\n' 'root:x:0:' 'stunring:x:999:' >"$out/etc/group"
