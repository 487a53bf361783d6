#!/usr/bin/env bash
# Proves that the set-up scripts are safe on a real server, in throwaway
# copies of a Debian bookworm root filesystem (never on this machine's apt):
#
#   1. The issue's machine: a sid source of its own, one-line with
#      Signed-By, and nginx and sshd running as services (their init
#      scripts, on the default ports 80 and 22, in a network namespace of
#      their own so this machine's ports are not touched). Then
#      install-deps.sh demo, scripts/demo.sh --check and install-deps.sh
#      test. Afterwards: the same nginx and sshd processes still run and
#      answer, `apt-get update` works, the existing sid source was reused
#      (unchanged, no second one, no pin file written), and nothing but
#      libtest-nginx-perl came from sid.
#   2. An earlier version's sift-sid.list (no Signed-By) next to a deb822
#      sid source with Signed-By: apt is broken at the start ("Conflicting
#      values set for option Signed-By"); install-deps.sh removes its old
#      file and apt works again, the other source untouched.
#   3. No sid source, and adding ours fails (it points at a closed loopback
#      port): install-deps.sh test exits non-zero with apt's error, its
#      files are gone again, and `apt-get update` works.
#
# (Writing our own deb822 sid source when there is none, and that apt
# works with it, is what the trixie root filesystem of the version matrix
# does; scripts/test-matrix.sh checks it there.)
#
#   scripts/test-setup-safety.sh         # all three
#   scripts/test-setup-safety.sh 2 3     # only these scenarios
# shellcheck disable=SC2016,SC2015 # dpkg-query formats; ok() always succeeds
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "$(id -u)" -eq 0 ] || { echo "test-setup-safety: run as root" >&2; exit 1; }

dist=bookworm
base=$top/target/rootfs/safety-$dist
ready=$base.services-installed
copy=
holder=
user_list_line='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main'
failures=0
scenarios=" ${*:-1 2 3} "
want() { [[ "$scenarios" == *" $1 "* ]]; }

step() { printf '\n==> test-setup-safety: %s\n' "$*"; }
ok() { printf 'test-setup-safety: ok: %s\n' "$*"; }
bad() { printf 'test-setup-safety: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
die() { printf 'test-setup-safety: error: %s\n' "$*" >&2; exit 1; }

R() { SIFT_ROOTFS_DIR=$copy scripts/rootfs.sh "$dist" run "$@"; }
# In the services' network namespace (no network beyond its loopback).
RN() { SIFT_ROOTFS_DIR=$copy SIFT_ROOTFS_NETNS=/proc/$holder/ns/net scripts/rootfs.sh "$dist" run "$@"; }
in_ns() { nsenter --net="/proc/$holder/ns/net" "$@"; }

# Kills what this script started: the services in the copy (by their pid
# files, checked to be processes chrooted there) and the namespace holder.
stop_copy_services() {
    local f pid
    [ -n "$copy" ] || return 0
    for f in "$copy/run/nginx.pid" "$copy/run/sshd.pid"; do
        [ -s "$f" ] || continue
        pid=$(cat "$f")
        if [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$copy" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    # Anything else still chrooted in the copy (the demo stops its own).
    for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        if [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$copy" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    if [ -n "$holder" ]; then kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; holder=; fi
    sleep 0.5
}
cleanup() {
    local rc=$?
    set +e
    stop_copy_services
    if [ -n "$copy" ] && [ -d "$copy" ]; then rm -rf --one-file-system "$copy" "$copy.stamp"; fi
    exit "$rc"
}
trap cleanup EXIT

# A fresh copy of the base root filesystem.
new_copy() {
    stop_copy_services
    if [ -n "$copy" ]; then rm -rf --one-file-system "$copy" "$copy.stamp"; fi
    copy=$top/target/rootfs/safety-run-$1
    rm -rf --one-file-system "$copy" "$copy.stamp"
    cp -a "$base" "$copy"
    cp "$base.stamp" "$copy.stamp"
}

apt_works() {   # apt_works WHEN: apt-get update in the copy succeeds without errors
    local out rc=0
    out=$(R apt-get -q update 2>&1) || rc=$?
    if [ "$rc" -eq 0 ] && ! grep -qE '^(E:|W: Failed|W: GPG)' <<< "$out"; then
        ok "apt-get update works $1"
    else
        bad "apt-get update fails $1: $(grep -E '^(E|W):' <<< "$out" | head -n 3)"
    fi
}

start_services() {
    unshare --net sleep 3600 &
    holder=$!
    sleep 0.2
    in_ns ip link set lo up
    SIFT_ROOTFS_DAEMONS=1 RN /etc/init.d/nginx start > /dev/null
    SIFT_ROOTFS_DAEMONS=1 RN /etc/init.d/ssh start > /dev/null
    sleep 0.5
    nginx_pid=$(cat "$copy/run/nginx.pid")
    sshd_pid=$(cat "$copy/run/sshd.pid")
    services_answer "when started" || die "the services did not start"
}

services_answer() {   # services_answer WHEN: the same nginx and sshd run and answer
    local good=0 code banner
    if kill -0 "$nginx_pid" 2>/dev/null && [ "$(cat "$copy/run/nginx.pid" 2>/dev/null)" = "$nginx_pid" ]; then
        code=$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1/ || true)
        if [ "$code" = 200 ]; then ok "nginx service (pid $nginx_pid) runs and answers 200 on :80 $1"; good=$((good + 1))
        else bad "nginx service (pid $nginx_pid) answers '$code' on :80 $1"; fi
    else
        bad "the nginx service (pid $nginx_pid) is gone $1"
    fi
    if kill -0 "$sshd_pid" 2>/dev/null; then
        banner=$(in_ns timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22; head -c 8 <&3' || true)
        if [ "$banner" = SSH-2.0- ]; then ok "sshd service (pid $sshd_pid) runs and greets on :22 $1"; good=$((good + 1))
        else bad "sshd service (pid $sshd_pid) sent '$banner' on :22 $1"; fi
    else
        bad "the sshd service (pid $sshd_pid) is gone $1"
    fi
    [ "$good" = 2 ]
}

no_files_of_ours() {   # no_files_of_ours WHEN
    local f left=()
    for f in etc/apt/sources.list.d/sift-sid.sources etc/apt/sources.list.d/sift-sid.list \
             etc/apt/preferences.d/sift-sid-pin; do
        [ ! -e "$copy/$f" ] || left+=("/$f")
    done
    if [ ${#left[@]} -eq 0 ]; then ok "no sift apt source or pin file $1"; else bad "${left[*]} present $1"; fi
}

bookworm_version() {   # bookworm_version PKG: installed, and bookworm's version
    local v
    v=$(R dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true)
    if [ -n "$v" ] && R apt-cache madison "$1" | awk -v v="$v" '$3 == v && /bookworm/ { f = 1 } END { exit !f }'; then
        ok "$1 $v is bookworm's"
    else
        bad "$1 is '$v', not a bookworm version"
    fi
}

# --- the base: bookworm with nginx and sshd installed as services ---------
t0=$SECONDS
step "base root filesystem (bookworm with nginx-light and openssh-server)"
if [ ! -f "$ready" ]; then
    SIFT_ROOTFS_DIR=$base scripts/rootfs.sh "$dist" setup -
    SIFT_ROOTFS_DIR=$base scripts/rootfs.sh "$dist" run bash -c \
        'apt-get -q update && apt-get -q install -y --no-install-recommends nginx-light openssh-server curl' > "$base.install.log" 2>&1 \
        || { tail -n 20 "$base.install.log" >&2; die "installing nginx-light and openssh-server in the base failed"; }
    date -u +%FT%TZ > "$ready"
fi
echo "base ready in $((SECONDS - t0))s"

# --- 1 -----------------------------------------------------------------------
if want 1; then
t=$SECONDS
step "1: a sid source with Signed-By (one-line) and running nginx + sshd services"
new_copy existing-sid
echo "$user_list_line" > "$copy/etc/apt/sources.list.d/debian-sid.list"
user_sum=$(sha256sum < "$copy/etc/apt/sources.list.d/debian-sid.list")
apt_works "with the machine's own sid source (before)"
start_services

step "1a: scripts/install-deps.sh demo"
R scripts/install-deps.sh demo 2>&1 | grep -E '^install-deps' || true
R dpkg-query -W -f='${Status}' clang | grep -q 'ok installed' || bad "install-deps demo did not install clang"
for p in postgresql redis-server mosquitto lintian libtest-nginx-perl; do
    if R dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then bad "the demo profile installed $p"; fi
done
ok "the demo profile installed no PostgreSQL, Redis, Mosquitto, lintian or Test::Nginx"
services_answer "after install-deps demo" || true
no_files_of_ours "after install-deps demo"
apt_works "after install-deps demo"

step "1b: scripts/demo.sh --check (in the services' network namespace: the demo's own ports)"
build=/sift/target/rootfs-build/safety
# The build needs the crates (vendored); the demo itself runs offline next
# to the services.
R env SIFT_TARGET_DIR=$build scripts/build-module.sh release > "$top/target/rootfs/safety-build.log" 2>&1 \
    || { tail -n 30 "$top/target/rootfs/safety-build.log" >&2; die "building sift in the copy failed"; }
demo_out=$(RN env SIFT_TARGET_DIR=$build SIFT_DEMO_PREFIX=$build/demo scripts/demo.sh --check 2>&1) \
    || { echo "$demo_out" >&2; bad "scripts/demo.sh --check failed"; }
for proto in http tls ssh unknown; do
    grep -q "protocol=$proto " <<< "$demo_out" || bad "the demo's log has no protocol=$proto line"
done
ok "demo.sh --check ran: $(grep -c 'protocol=' <<< "$demo_out") connections logged (http, tls, ssh, unknown)"
services_answer "after demo.sh --check" || true
apt_works "after demo.sh"

step "1c: scripts/install-deps.sh test (needs Test::Nginx from sid: reuses the existing source)"
R scripts/install-deps.sh test 2>&1 | grep -E '^install-deps' || true
tn=$(R dpkg-query -W -f='${Version}' libtest-nginx-perl 2>/dev/null || true)
[ -n "$tn" ] && ok "libtest-nginx-perl $tn installed" || bad "libtest-nginx-perl not installed"
[ "$(sha256sum < "$copy/etc/apt/sources.list.d/debian-sid.list")" = "$user_sum" ] \
    && ok "the machine's sid source is unchanged" || bad "the machine's sid source was changed"
no_files_of_ours "after install-deps test"
bookworm_version nginx-dev
bookworm_version libnginx-mod-stream
bookworm_version postgresql-client
services_answer "after install-deps test" || true
apt_works "after install-deps test"
echo "scenario 1 took $((SECONDS - t))s"
fi

# --- 2 -----------------------------------------------------------------------
if want 2; then
t=$SECONDS
step "2: an earlier version's sift-sid.list next to a deb822 sid source with Signed-By"
new_copy old-list
cat > "$copy/etc/apt/sources.list.d/debian-sid.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
user_sum=$(sha256sum < "$copy/etc/apt/sources.list.d/debian-sid.sources")
echo 'deb http://deb.debian.org/debian sid main' > "$copy/etc/apt/sources.list.d/sift-sid.list"
printf "# Written by sift's scripts/install-deps.sh: take only libtest-nginx-perl from sid.\nPackage: *\nPin: release n=sid\nPin-Priority: 1\n" \
    > "$copy/etc/apt/preferences.d/sift-sid-pin"
out=$(R apt-get -q update 2>&1 || true)
grep -q 'Conflicting values set for option Signed-By' <<< "$out" \
    && ok "precondition: apt is broken (Conflicting values set for option Signed-By)" \
    || bad "precondition: expected apt to be broken, got: $(grep -E '^(E|W):' <<< "$out" | head -n 2)"
if R scripts/install-deps.sh matrix 2>&1 | grep -E '^install-deps'; then :; fi
no_files_of_ours "after install-deps matrix"
[ "$(sha256sum < "$copy/etc/apt/sources.list.d/debian-sid.sources")" = "$user_sum" ] \
    && ok "the machine's deb822 sid source is unchanged" || bad "the machine's sid source was changed"
apt_works "after install-deps removed its old file"
bookworm_version debootstrap
echo "scenario 2 took $((SECONDS - t))s"
fi

# --- 3 -----------------------------------------------------------------------
if want 3; then
t=$SECONDS
step "3: no sid source, and the one install-deps adds fails"
new_copy failing-sid
rc=0
out=$(R env SIFT_SID_URI=http://127.0.0.1:1/debian scripts/install-deps.sh test 2>&1) || rc=$?
while IFS= read -r line; do printf '  | %s\n' "$line"; done <<< "$out"
[ "$rc" -ne 0 ] && ok "install-deps exited $rc" || bad "install-deps exited 0 although apt-get update failed"
grep -q '127.0.0.1:1' <<< "$out" && grep -q 'install-deps: error: apt-get update fails with the sid source added' <<< "$out" \
    && ok "it printed apt's error and what it undid" || bad "no error printed"
no_files_of_ours "after the failed attempt"
apt_works "after the failed attempt"
if R dpkg-query -W -f='${Status}' libtest-nginx-perl 2>/dev/null | grep -q 'ok installed'; then bad "something was installed"; fi
echo "scenario 3 took $((SECONDS - t))s"
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test-setup-safety: $failures check(s) FAILED" >&2
    exit 1
fi
echo "test-setup-safety: all passed in $((SECONDS - t0))s"
