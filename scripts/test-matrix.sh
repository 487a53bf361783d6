#!/usr/bin/env bash
# The version matrix: the whole Test::Nginx suite (prove -r t/) against
# another Debian release's own nginx, in a root filesystem of that release.
#
#   scripts/test-matrix.sh trixie      # Debian 13, nginx 1.26.x
#   scripts/test-matrix.sh sid         # Debian unstable, nginx 1.30.x
#   scripts/test-matrix.sh trixie sid  # both, one after the other
#
# For each DIST: scripts/rootfs.sh DIST setup test (debootstrap once, then
# that release's nginx, nginx-dev, libnginx-mod-stream, the Lua module,
# Test::Nginx and the real peers of t/020), then inside it:
# scripts/configure-debian-nginx.sh configures that release's nginx-dev
# sources, sift is built against them (release and test-hooks, cargo target
# target/rootfs-build/DIST/), and prove -r t/ runs with that release's
# /usr/sbin/nginx in its own network namespace (its own loopback: no port of
# this machine is used or seen). Each step prints how long it took.
# shellcheck disable=SC2016 # the inner script is expanded inside the chroot
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

[ $# -gt 0 ] || set -- trixie sid
[ "$(id -u)" -eq 0 ] || { echo "test-matrix: run as root (debootstrap, chroot)" >&2; exit 1; }

step() { printf '\n==> test-matrix %s: %s\n' "$dist" "$*"; }
took() { printf 'test-matrix %s: %s took %ss\n' "$dist" "$1" "$((SECONDS - $2))"; }

for dist in "$@"; do
    t=$SECONDS
    step "root filesystem target/rootfs/$dist"
    scripts/rootfs.sh "$dist" setup test
    took "root filesystem" "$t"

    build=/sift/target/rootfs-build/$dist
    t=$SECONDS
    step "build sift against $dist's nginx-dev (release + test hooks)"
    scripts/rootfs.sh "$dist" run bash -c '
        set -euo pipefail
        build=$1
        echo "nginx: $(/usr/sbin/nginx -v 2>&1); nginx-dev $(dpkg-query -W -f="\${Version}" nginx-dev)"
        NGINX_BUILD_DIR=$(scripts/configure-debian-nginx.sh "$build/nginx")
        export NGINX_BUILD_DIR SIFT_TARGET_DIR=$build
        scripts/build-module.sh release
        scripts/build-module.sh test-hooks
    ' bash "$build"
    took "build" "$t"

    t=$SECONDS
    step "prove -r t/ against $dist's /usr/sbin/nginx (own network namespace)"
    rc=0
    scripts/rootfs.sh "$dist" run-isolated env \
        SIFT_MODULE="$build/modules/test-hooks/ngx_stream_sift_module.so" \
        SIFT_RELEASE_MODULE="$build/modules/release/ngx_stream_sift_module.so" \
        TEST_NGINX_SERVROOT="$build/servroot" \
        scripts/prove.sh || rc=$?
    took "suite" "$t"
    if [ "$rc" -ne 0 ]; then
        echo "test-matrix $dist: FAIL: prove -r t/ against $dist's nginx exited $rc (see above)" >&2
        exit 1
    fi
done
echo
echo "test-matrix: all passed: $*"
