#!/usr/bin/env bash
# Runs the unit tests of the pure code under Miri (undefined behaviour, leaks): the guest
# assembler, encoding and interpreter, quotas, VM events, names, sizes, errors, the MMIO ring's
# protocol over its words and the dump's VM line. Not the
# ioctl/mmap/memfd code, which Miri cannot execute.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/prereqs.sh miri
. tests/nightly.sh
echo "miri: $(rustc +"$NIGHTLY" --version)"
cargo +"$NIGHTLY" miri test -q -p gunyah-guest --lib
cargo +"$NIGHTLY" miri test -q -p gunyah-mock --lib -- interp
cargo +"$NIGHTLY" miri test -q -p gunyah-vm-service --lib -- \
    quota:: size:: names:: error:: vm::events
cargo +"$NIGHTLY" miri test -q -p gunyah-contract --lib -- mmio_ring diagnostics::vm_line
