#!/usr/bin/env bash
# Builds ngx_stream_sift_module.so against the nginx in NGINX_BUILD_DIR
# (Debian's, by default) and copies it to DEST under its installed name.
#
#   scripts/build-module.sh release    [DEST]   # what ships
#   scripts/build-module.sh test-hooks [DEST]   # + test-only panic triggers,
#                                               #   and the ngx-stream layer's
#                                               #   example module beside it
#
# SIFT_TARGET_DIR: cargo's target directory (default target/; the test-hooks
# build uses its test-hooks/ subdirectory), e.g. one per root filesystem.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
flavour=${1:-release}
base=${SIFT_TARGET_DIR:-$top/target}
dest=${2:-$base/modules/$flavour}

if [ -z "${NGINX_BUILD_DIR:-}" ] && [ -z "${NGINX_SOURCE_DIR:-}" ]; then
    if [ -n "${SIFT_TARGET_DIR:-}" ]; then
        NGINX_BUILD_DIR=$(scripts/configure-debian-nginx.sh "$SIFT_TARGET_DIR/nginx")
    else
        NGINX_BUILD_DIR=$(scripts/configure-debian-nginx.sh)
    fi
    export NGINX_BUILD_DIR
fi

case "$flavour" in
    release)    features=();                        target_dir=$base ;;
    test-hooks) features=(--features test-hooks);   target_dir=$base/test-hooks ;;
    *) echo "build-module: unknown flavour $flavour" >&2; exit 2 ;;
esac

cargo build --release --lib "${features[@]}" --target-dir "$target_dir"
mkdir -p "$dest"
install -m 0644 "$target_dir/release/libngx_stream_sift_module.so" "$dest/ngx_stream_sift_module.so"
echo "build-module: $dest/ngx_stream_sift_module.so"

if [ "$flavour" = test-hooks ]; then
    # The layer's example module (ngx-stream/examples/first_bytes.rs), which
    # the suite loads in t/030-layer-example.t.
    cargo build --release -p ngx-stream --example first_bytes --target-dir "$target_dir"
    install -m 0644 "$target_dir/release/examples/libfirst_bytes.so" \
        "$dest/ngx_stream_first_bytes_module.so"
    echo "build-module: $dest/ngx_stream_first_bytes_module.so"
fi
