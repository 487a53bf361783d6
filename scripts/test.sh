#!/usr/bin/env bash
# Runs every test sift has, installing what it needs first:
#   formatting, clippy, unit tests (sift-core and the module), a release
#   build, the module built with test hooks, and the Test::Nginx suite in t/
#   against Debian's /usr/sbin/nginx.
#
#   scripts/test.sh            # everything
#   scripts/test.sh t/001-protocol.t   # only these Test::Nginx files (after a full run)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then
    scripts/install-deps.sh
fi

export NGINX_BUILD_DIR
NGINX_BUILD_DIR=$(scripts/configure-debian-nginx.sh)

step() { printf '\n==> %s\n' "$*"; }

if [ $# -eq 0 ]; then
    step "cargo fmt --check"
    cargo fmt --all -- --check

    step "cargo clippy -D warnings (default and test-hooks builds)"
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --workspace --all-targets --features test-hooks -- -D warnings

    step "cargo test"
    cargo test --workspace
fi

step "build the release module and the suite's module (release + test hooks)"
scripts/build-module.sh release "$top/target/modules/release"
scripts/build-module.sh test-hooks "$top/target/modules/test-hooks"

step "prove -r t/ against $(/usr/sbin/nginx -v 2>&1)"
export TEST_NGINX_BINARY=/usr/sbin/nginx
export TEST_NGINX_LOAD_MODULES="/usr/lib/nginx/modules/ndk_http_module.so \
/usr/lib/nginx/modules/ngx_http_lua_module.so \
/usr/lib/nginx/modules/ngx_stream_module.so \
$top/target/modules/test-hooks/ngx_stream_sift_module.so"
export SIFT_TEST_HOOKS=1
export SIFT_RELEASE_MODULE=$top/target/modules/release/ngx_stream_sift_module.so
prove -r "${@:-t/}"
