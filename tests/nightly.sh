# The nightly toolchain of the fuzzers and Miri, pinned by date (sourced by tests/miri.sh and
# tests/fuzz_smoke.sh). Sets NIGHTLY to a rustup toolchain name: the dated toolchain if it is
# installed or installable, else the machine's `nightly` when it is that same build, else the
# machine's `nightly` with a warning naming both (CI machines reach crates.io, not always the
# Rust release servers). To move the pin: change the date, run both scripts, commit.
NIGHTLY_DATE=2026-05-19
if rustup toolchain list | grep -q "^nightly-$NIGHTLY_DATE"; then
    NIGHTLY="nightly-$NIGHTLY_DATE"
elif rustc +nightly --version 2>/dev/null | grep -q "$NIGHTLY_DATE"; then
    NIGHTLY=nightly
elif rustup toolchain install "nightly-$NIGHTLY_DATE" --profile minimal \
        --component miri,rust-src >/dev/null 2>&1; then
    NIGHTLY="nightly-$NIGHTLY_DATE"
else
    NIGHTLY=nightly
    echo "warning: nightly-$NIGHTLY_DATE is pinned but not installable here;" \
        "using $(rustc +nightly --version 2>/dev/null || echo 'no nightly')" >&2
fi
export NIGHTLY
