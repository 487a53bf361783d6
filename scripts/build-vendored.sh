#!/usr/bin/env bash
# Build path 2: `cargo build --features vendored` builds nginx 1.28 from the
# nginx-src crate and sift against it; then the module must load into that
# very nginx binary and classify a connection.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
unset NGINX_BUILD_DIR NGINX_SOURCE_DIR

target_dir=$top/target/vendored
cargo build --release --lib --features vendored --target-dir "$target_dir"
module=$target_dir/release/libngx_stream_sift_module.so

nginx=$(ls -t "$target_dir"/release/build/nginx-sys-*/out/objs/nginx 2> /dev/null | head -n1)
[ -x "$nginx" ] || { echo "build-vendored: no nginx binary from the vendored build" >&2; exit 1; }
echo "build-vendored: $("$nginx" -v 2>&1) at $nginx"

# shellcheck source=lib/smoke.sh
. "$top/scripts/lib/smoke.sh"
smoke_module "$nginx" "$target_dir/smoke" "load_module $module;"
