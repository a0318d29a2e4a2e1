#!/usr/bin/env bash
# Cross-builds gunyah_mock.ko for arm64 (the architecture of every real Gunyah device) against
# Debian's arm64 kernel headers: the headers package is extracted (not installed) beside the
# host's linux-kbuild, whose build tools are architecture-independent in what they produce.
# Needs: gcc-aarch64-linux-gnu, linux-headers-amd64 (for -common and linux-kbuild), and the
# arm64 package list (dpkg --add-architecture arm64): tests/prereqs.sh arm64 installs them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/tests/prereqs.sh" arm64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

common=$(ls -d /usr/src/linux-headers-*-common | sort -V | tail -1)
version=${common#/usr/src/linux-headers-}
version=${version%-common}
echo "arm64 build: headers $version-arm64"
(cd "$work" && apt-get download -qq "linux-headers-$version-arm64:arm64" 2>/dev/null)
mkdir -p "$work/root"
dpkg -x "$work"/linux-headers-*-arm64_*.deb "$work/root"
# The headers' scripts/ points at ../../lib/linux-kbuild-<major>/scripts: the host's kbuild.
kbuild=$(readlink "$work/root/usr/src/linux-headers-$version-arm64/scripts" | cut -d/ -f4)
mkdir -p "$work/root/usr/lib"
ln -s "/usr/lib/$kbuild" "$work/root/usr/lib/$kbuild"
ln -s "$common" "$work/root/usr/src/"

cp -r "$repo/kernel/gunyah_mock" "$work/src"
make -s -C "$work/src" KDIR="$work/root/usr/src/linux-headers-$version-arm64" \
    ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if grep -q 'warning:' "$work/build.log"; then cat "$work/build.log"; echo "arm64 build: W=1 warnings" >&2; exit 1; fi
file "$work/src/gunyah_mock.ko" | grep -q 'ARM aarch64' || { echo "arm64 build: not an arm64 module" >&2; exit 1; }
echo "arm64 build: gunyah_mock.ko builds for arm64 without warnings"
