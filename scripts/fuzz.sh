#!/usr/bin/env bash
# Fuzzes sift-core's TLS ClientHello parser and fingerprints.
#   scripts/fuzz.sh [SECONDS]     (default 60)
# Installs cargo-fuzz if missing, seeds the corpus from the TLS test vectors
# and runs the `clienthello` target under libFuzzer with the nightly
# toolchain. Crashes land in fuzz/artifacts/clienthello/.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

bash fuzz/seed.sh
# -max_len: room for a hello split over many records; -timeout: a single
# input taking over 10 s is a bug.
cargo +nightly fuzz run clienthello fuzz/corpus/clienthello -- \
    -max_total_time="$seconds" -max_len=24576 -timeout=10 -print_final_stats=1
