#!/usr/bin/env bash
# Fuzzes sift-core with libFuzzer (nightly toolchain):
#   scripts/fuzz.sh [SECONDS] [TARGET]   (default 60 s, target clienthello)
# Targets: clienthello (TLS parser and fingerprints), protocol (protocol
# detection and detail extractors). Installs cargo-fuzz if missing, seeds
# the corpus, and runs. Crashes land in fuzz/artifacts/TARGET/.
set -euo pipefail
seconds="${1:-60}"
target="${2:-clienthello}"
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

bash fuzz/seed.sh
mkdir -p fuzz/corpus/protocol
# The protocol corpus starts from the hellos too (tls) and grows by itself.
cp -n fuzz/corpus/clienthello/* fuzz/corpus/protocol/ 2>/dev/null || true
# -max_len: room for a hello split over many records; -timeout: a single
# input taking over 10 s is a bug.
cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=24576 -timeout=10 -print_final_stats=1
