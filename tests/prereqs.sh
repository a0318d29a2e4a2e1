#!/usr/bin/env bash
# Installs what a test tier needs, and nothing it already has, on a Debian machine:
#
#   tests/prereqs.sh TIER...     tiers: lint aosp qemu arm64 nightly miri fuzz all
#
# .ci/run calls it with `all`; each tier's script calls it for itself, so a developer can run
# one tier alone on a fresh machine (tests/qemu/run.sh, tests/aosp_checks.sh, ...). Debian
# packages need root (apt-get); without it, the script names the missing packages and the
# command that installs them, and fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

apt_updated=""
need_debs() { # packages...
    local missing=""
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "prereqs: missing Debian packages:$missing" >&2
        echo "prereqs: install them with: sudo apt-get install$missing" >&2
        exit 1
    fi
    if [ -z "$apt_updated" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    echo "prereqs: installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

tier() {
    case "$1" in
        lint)
            rustup component add rustfmt clippy >/dev/null 2>&1 || true ;;
        aosp)
            # bpfmt, checkpolicy + sesearch, xmllint, m4 (tests/aosp_checks.sh); soong.py runs
            # clippy with the rustc each supported AOSP release pins (tests/aosp/crates.toml
            # [releases]), with clippy and the aarch64 Android target.
            tier lint
            for tc in $(sed -n 's/^rustc = "\([0-9.]*\)"$/\1/p' "$repo/tests/aosp/crates.toml"); do
                if ! rustup toolchain list | grep -q "^$tc-"; then
                    rustup toolchain install "$tc" --profile minimal --component clippy \
                        --target aarch64-linux-android >/dev/null
                fi
                rustup target list --toolchain "$tc" --installed | grep -qx aarch64-linux-android ||
                    rustup target add --toolchain "$tc" aarch64-linux-android >/dev/null
            done
            # The host toolchain ("default" in crates.toml) builds the device variants too.
            rustup target list --installed | grep -qx aarch64-linux-android ||
                rustup target add aarch64-linux-android >/dev/null
            need_debs blueprint-tools checkpolicy setools libxml2-utils m4 ;;
        qemu)
            # libc6-dev: tests/kernel/abi_check.py compiles the kernel mock's uapi.h for userspace;
            # binutils: objcopy strips the binaries packed into the guest's initramfs; sparse
            # checks the kernel mock (C=2).
            need_debs qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio \
                make gcc libc6-dev binutils sparse ;;
        arm64)
            # The arm64 cross-build of the kernel mock (tests/kernel_arm64_build.sh).
            need_debs linux-headers-amd64
            if ! dpkg --print-foreign-architectures | grep -qx arm64; then
                [ "$(id -u)" = 0 ] || { echo "prereqs: run as root: dpkg --add-architecture arm64" >&2; exit 1; }
                dpkg --add-architecture arm64
                apt_updated=""
            fi
            need_debs gcc-aarch64-linux-gnu ;;
        nightly)
            # shellcheck source=tests/nightly.sh
            . "$repo/tests/nightly.sh" ;;
        miri)
            tier nightly
            rustup component add --toolchain "$NIGHTLY" miri rust-src >/dev/null 2>&1 ;;
        fuzz)
            tier nightly
            command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked ;;
        all)
            for t in lint aosp qemu arm64 miri fuzz; do tier "$t"; done ;;
        *)
            echo "prereqs: unknown tier $1 (lint aosp qemu arm64 nightly miri fuzz all)" >&2
            exit 2 ;;
    esac
}

[ $# -gt 0 ] || set -- all
for t in "$@"; do tier "$t"; done
