#!/usr/bin/env bash
# Runs every test sift has, installing what it needs first:
#   formatting, clippy, unit tests, a release build and a build with test
#   hooks, the Test::Nginx suite in t/ against this machine's Debian
#   /usr/sbin/nginx (bookworm: 1.22.1), the two other build paths (nginx's
#   `config` with `make modules`; `--features vendored`, nginx 1.28, with
#   the part of the suite that needs no Lua module), and as root:
#     - scripts/test-setup-safety.sh: the set-up scripts leave apt and
#       running services alone (throwaway bookworm root filesystems)
#     - scripts/test-matrix.sh trixie / sid: the whole suite against Debian
#       trixie's nginx 1.26 and sid's 1.30 (root filesystems of their own)
#     - scripts/test-deb.sh bookworm / trixie: each release's package built,
#       linted, installed, tested, purged, in that release's root filesystem
#   and the reliability checks (valgrind over the suite, reloads under load,
#   slow and idle clients, every fuzz target briefly; README figures).
#   Each step's time is printed at the end.
#
#   scripts/test.sh                    # everything
#   scripts/test.sh t/001-protocol.t   # only these Test::Nginx files (after a full run)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

started=$SECONDS
times=()
step_name=
step_started=
step() {
    finish_step
    step_name=$*
    step_started=$SECONDS
    printf '\n==> %s\n' "$*"
}
finish_step() {
    if [ -n "$step_name" ]; then times+=("$(printf '%5ss  %s' "$((SECONDS - step_started))" "$step_name")"); fi
    step_name=
}
report() {
    local rc=$?
    finish_step
    if [ ${#times[@]} -gt 0 ]; then
        echo
        echo "scripts/test.sh: time per step"
        printf '  %s\n' "${times[@]}"
        printf '  %5ss  total\n' "$((SECONDS - started))"
    fi
    exit "$rc"
}
trap report EXIT

if [ "$(id -u)" -eq 0 ]; then
    step "install what the tests need (scripts/install-deps.sh test matrix)"
    scripts/install-deps.sh test matrix
fi

export NGINX_BUILD_DIR
NGINX_BUILD_DIR=$(scripts/configure-debian-nginx.sh)

if [ $# -eq 0 ]; then
    # fuzz/ and bench/loadgen/ are workspaces of their own (cargo-fuzz
    # builds fuzz/ with nightly flags: RUSTC_BOOTSTRAP lets stable check it).
    step "cargo fmt --check (the workspace, fuzz/, bench/loadgen/)"
    cargo fmt --all -- --check
    (cd fuzz && cargo fmt -- --check)
    (cd bench/loadgen && cargo fmt -- --check)

    step "cargo clippy -D warnings (default and test-hooks builds, fuzz targets, load generator)"
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --workspace --all-targets --features test-hooks -- -D warnings
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo clippy --bins -- -D warnings)
    (cd bench/loadgen && cargo clippy --all-targets -- -D warnings)

    step "cargo test"
    cargo test --workspace
fi

step "build the release module and the suite's module (release + test hooks)"
scripts/build-module.sh release "$top/target/modules/release"
scripts/build-module.sh test-hooks "$top/target/modules/test-hooks"

step "prove -r t/ against $(/usr/sbin/nginx -v 2>&1) (this machine)"
scripts/prove.sh "$@"

if [ $# -eq 0 ]; then
    step "build path: ./configure --add-dynamic-module + make modules"
    scripts/build-config-path.sh

    step "build path: cargo build --features vendored (nginx 1.28) + t/012, t/013, t/020 on it"
    scripts/build-vendored.sh

    if [ "$(id -u)" -eq 0 ]; then
        step "set-up safety: install-deps.sh and demo.sh next to a sid source and running services"
        scripts/test-setup-safety.sh

        step "version matrix: the whole suite on Debian trixie (nginx 1.26)"
        scripts/test-matrix.sh trixie

        step "version matrix: the whole suite on Debian sid (nginx 1.30)"
        scripts/test-matrix.sh sid

        step "the bookworm package: build, lintian, install, suite, purge (in target/rootfs/bookworm)"
        scripts/test-deb.sh bookworm

        step "the trixie package: Debian's cargo, lintian, install, suite, purge (in target/rootfs/trixie)"
        scripts/test-deb.sh trixie
    else
        echo "test.sh: not root: skipping the set-up safety test, the version matrix and the packages"
    fi
fi

# --- reliability (#15): each writes target/reliability/*.json; the last
# step renders those figures into the README's reliability section. Longer
# runs: scripts/valgrind.sh FULL, scripts/soak.sh 600, scripts/fuzz.sh 600.
if [ $# -eq 0 ]; then
    step "reliability: the suite's files on sift's paths under valgrind (scripts/valgrind.sh)"
    scripts/valgrind.sh

    step "reliability: reloads every 2 s under TCP, QUIC, auth and live-list load with Redis sync, 30 s (scripts/soak.sh 30)"
    scripts/soak.sh 30

    step "reliability: 2,000 idle and 2,000 dripping clients, held QUIC hellos (scripts/slow-clients.sh)"
    scripts/slow-clients.sh

    step "reliability: every fuzz target for 30 s (scripts/fuzz.sh 30)"
    scripts/fuzz.sh 30

    step "reliability: the README's figures (scripts/reliability-report.sh)"
    scripts/reliability-report.sh
fi
finish_step
echo
echo "scripts/test.sh: all passed"
