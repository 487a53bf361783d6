#!/usr/bin/env bash
# Runs every test sift has, installing what it needs first:
#   formatting, clippy, unit tests (sift-core), a release build and a build
#   with test hooks, the Test::Nginx suite in t/ against Debian's
#   /usr/sbin/nginx, then the two other build paths (nginx's `config` with
#   `make modules`, and `--features vendored`), each loaded and smoke-tested.
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
scripts/prove.sh "$@"

if [ $# -eq 0 ]; then
    step "build path: ./configure --add-dynamic-module + make modules"
    scripts/build-config-path.sh

    step "build path: cargo build --features vendored (nginx 1.28)"
    scripts/build-vendored.sh

    if [ "$(id -u)" -eq 0 ]; then
        step "the Debian package: build, lintian, install, suite on the installed module, purge"
        scripts/test-deb.sh
    else
        echo "test.sh: not root: skipping scripts/test-deb.sh (it installs a package)"
    fi
fi
echo
echo "scripts/test.sh: all passed"
