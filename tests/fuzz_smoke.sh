#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 20) from the checked-in seed corpus, without
# writing into it, and prints each target's executions. Needs nightly and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/prereqs.sh fuzz
. tests/nightly.sh
seconds=${1:-20}
echo "fuzz: $(rustc +"$NIGHTLY" --version)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in config_validation parcel_decoding guest_asm_interp mock_backend_calls mmio_ring; do
    mkdir -p "$work/$target"
    seeds=("fuzz/corpus/$target")
    # The guest programs of the repo seed the assembler/interpreter target.
    [ "$target" = guest_asm_interp ] && seeds+=(examples/guests tests/data/guest_corpus)
    if ! cargo +"$NIGHTLY" fuzz run "$target" "$work/$target" "${seeds[@]}" -- \
            -max_total_time="$seconds" -rss_limit_mb=2048 > "$work/$target.log" 2>&1; then
        tail -40 "$work/$target.log"
        echo "fuzz: $target FAILED" >&2
        exit 1
    fi
    runs=$(grep -oE 'Done [0-9]+ runs' "$work/$target.log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$work/$target.log" | tail -1)
    echo "fuzz: $target: ${runs:-?} in ${seconds}s, ${cov:-cov: ?}"
done
