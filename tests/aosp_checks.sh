#!/usr/bin/env bash
# Checks the AOSP files with every real tool available outside an AOSP tree (Debian packages
# blueprint-tools, libxml2-utils, checkpolicy, m4; python3):
#   bpfmt        every .bp is formatted as bpfmt formats it
#   xmllint      every XML (VINTF fragments) is well formed
#   interface_name.py  the interface is a partner package (no android.* in aidl/: VTS treats
#                every android.* package as AOSP's) and every reference uses the one owner
#   aidl_api.py  frozen AIDL versions are intact (AOSP's .hash) and the sources equal the latest
#   check.sh     the sepolicy as a device includes it (vendor + system_ext public + system_ext
#                private) compiles with checkpolicy inside a base that models the platform
#                rules touching our types; each negative rule hits a neverallow; sesearch shows
#                the HAL may map its clients' memfds and they its MMIO ring (setools); no vendor
#                rule grants a platform process access to a vendor-declared type
#   ioctls       the ioctls the Rust code issues == ioctl_defines == the allowxperm lists
#   rustfmt      the Rust that only Soong builds (service/android/, the stand-ins) is formatted
#   soong.py     graph: one rust_library per Cargo library crate, linking the same crates;
#                deps: every module links only crates AOSP builds for its variants
#                (tests/aosp/crates.toml); env: no module reads a CARGO_* variable Soong does
#                not set it; standins: the libbinder_rs/librustutils stand-ins reject what
#                upstream rejects; standin-runs: the AOSP arm's DeathLink runs against the
#                stand-in's model of libbinder_ndk's death notifications (a dead client's
#                teardown logs no unlink error); clippy: every Rust module of Android.bp, as Soong builds it,
#                with the rustc each supported release pins, host and device (aarch64 Android)
#                variants, against the table's crates and the stand-ins
set -euo pipefail
cd "$(dirname "$0")/.."
tests/prereqs.sh aosp

soong_only_rust=$(find service/android tests/aosp -name '*.rs' | sort)
echo "== rustfmt: $(echo $soong_only_rust)"
rustfmt --edition 2021 --check $soong_only_rust

bp_files=$(find . -name '*.bp' -not -path './target/*' | sort)
echo "== bpfmt: $(echo $bp_files)"
unformatted=$(bpfmt -l $bp_files)
if [ -n "$unformatted" ]; then
    echo "not formatted as bpfmt formats them (run bpfmt -w):" >&2
    echo "$unformatted" >&2
    bpfmt -d $bp_files >&2
    exit 1
fi

xml_files=$(find . -name '*.xml' -not -path './target/*' | sort)
echo "== xmllint: $(echo $xml_files)"
xmllint --noout $xml_files

echo "== interface name"
python3 aidl/tools/interface_name.py check

echo "== frozen AIDL API"
python3 aidl/tools/aidl_api.py check

echo "== sepolicy"
tests/sepolicy/check.sh

echo "== ioctl allowlist vs the ioctls the code issues"
cargo run -q -p gunyah-vm-client --bin gunyahctl -- abi --json | python3 tests/sepolicy/check_ioctls.py

echo "== Soong: the crates each module links are built for its variants"
python3 tests/aosp/soong.py deps

echo "== Soong: Android.bp mirrors the Cargo crate graph"
python3 tests/aosp/soong.py graph

echo "== Soong: every module reads only the CARGO_* variables Soong sets it"
python3 tests/aosp/soong.py env

echo "== Soong: the stand-ins reject what upstream libbinder_rs and librustutils reject"
python3 tests/aosp/soong.py standins

echo "== Soong: the AOSP arm's death handling, run against the stand-in's model of libbinder_ndk"
python3 tests/aosp/soong.py standin-runs

echo "== Soong: clippy of every Android.bp Rust module with each release's rustc, host/system/vendor"
python3 tests/aosp/soong.py clippy

