#!/usr/bin/env bash
# Copies every crate the workspace needs (Cargo.lock) into target/vendor
# with `cargo vendor`, on this machine (which reaches crates.io), so builds
# in the version matrix's root filesystems and the trixie package build
# with Debian's own cargo run offline. Redone only when Cargo.lock changes
# (stamp: target/vendor.stamp). Prints the vendor directory.
#
#   scripts/vendor-crates.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
vendor=$top/target/vendor
stamp=$top/target/vendor.stamp
want=$(sha256sum Cargo.lock | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$vendor" ]; then
    echo "$vendor"
    exit 0
fi
rm -rf "$vendor" "$stamp"
mkdir -p "$top/target"
if ! cargo vendor --locked --versioned-dirs "$vendor" > "$top/target/vendor.log" 2>&1; then
    cat "$top/target/vendor.log" >&2
    echo "vendor-crates: cargo vendor failed (see above)" >&2
    exit 1
fi
echo "$want" > "$stamp"
echo "$vendor"
