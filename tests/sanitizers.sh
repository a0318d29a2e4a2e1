#!/usr/bin/env bash
# AddressSanitizer + LeakSanitizer (nightly -Zsanitizer=address, pinned by tests/nightly.sh) on
# the code where memory errors would hide: the unit tests of the service library (the mock
# driver and its guest interpreter, config validation, memfd checks, quotas, VM events) and of
# the client library (VmBuilder validation, image loading), then the host integration tests
# with every workspace binary instrumented — the real service under ASan, driven over its
# socket through create/start/destroy, client SIGKILLs, hostile configs, callbacks and MMIO.
#
# Every instrumented process (the test binaries, gunyah-vm-service, gunyah-test-client) writes
# its report to $work/asan.<pid>; LeakSanitizer reports at exit, so the service, which exits
# normally on SIGTERM, is checked for leaks too. Any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/nightly.sh
echo "sanitizers: $(rustc +"$NIGHTLY" --version)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --target keeps build scripts and proc macros uninstrumented; a target dir of its own keeps
# the instrumented artifacts apart from the normal build.
export RUSTFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1:log_path=$work/asan"
cargo_asan=(cargo +"$NIGHTLY" --quiet)
target_args=(--target x86_64-unknown-linux-gnu --target-dir target/asan)

"${cargo_asan[@]}" build "${target_args[@]}" --workspace --bins
"${cargo_asan[@]}" test "${target_args[@]}" -p gunyah-sys -p gunyah-mock -p gunyah-vm-service -p gunyah-vm-client --lib
"${cargo_asan[@]}" test "${target_args[@]}" -p gunyah-vm-tests \
    --test lifecycle --test guest --test errors --test hostile --test callbacks \
    --test client_lib --test access --test mmio_ring --test shared_fds

reports=("$work"/asan.*)
if [ -e "${reports[0]}" ]; then
    for r in "${reports[@]}"; do
        echo "--- $r"
        cat "$r"
    done
    echo "sanitizers: ${#reports[@]} AddressSanitizer/LeakSanitizer report(s)" >&2
    exit 1
fi
echo "sanitizers: no AddressSanitizer or LeakSanitizer report"
