#!/usr/bin/env bash
# Installs what one of sift's commands needs, with apt, and nothing more.
#
#   scripts/install-deps.sh demo      # scripts/demo.sh: build tools, nginx + stream, sshd, clients
#   scripts/install-deps.sh test      # the test suite: demo + Lua module, Test::Nginx, real peers
#   scripts/install-deps.sh deb       # scripts/build-deb.sh: build tools, debhelper, lintian
#                                     # (and Debian's cargo/rustc after bookworm)
#   scripts/install-deps.sh matrix    # the version matrix on the host: debootstrap
#   scripts/install-deps.sh bench     # scripts/bench.sh: nginx + stream + njs
#   scripts/install-deps.sh           # all of the above
#
# Several profiles may be given. Works on Debian bookworm, trixie and sid
# (the latter two are what the version matrix's root filesystems run).
# Idempotent: only packages that are not installed are installed.
#
# What it never does, because it runs as root on people's servers:
#   * stop, restart or reconfigure a service. Packages whose postinst starts
#     a service (nginx, postgresql, ...) leave it running; the tests and the
#     demo run their own instances on their own ports and prefixes.
#   * replace an installed nginx: when /usr/sbin/nginx is there, the nginx
#     flavour package is not installed (modules follow its version).
#   * leave apt broken. Test::Nginx (libtest-nginx-perl) is only in Debian
#     sid. An existing sid source, in any form, is reused as it is. Only
#     when there is none does it write one, in deb822 form with Signed-By
#     (/etc/apt/sources.list.d/sift-sid.sources), plus a pin that takes only
#     libtest-nginx-perl from sid (/etc/apt/preferences.d/sift-sid-pin); if
#     `apt-get update` then fails, both files are removed again and the error
#     is printed. A sift-sid.list written by an earlier version of this
#     script is removed (it broke apt next to a sid source with Signed-By).
set -euo pipefail

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get)"
export DEBIAN_FRONTEND=noninteractive

profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(demo test deb matrix bench)

sources_d=/etc/apt/sources.list.d
our_sources=$sources_d/sift-sid.sources
old_list=$sources_d/sift-sid.list
our_pin=/etc/apt/preferences.d/sift-sid-pin
old_list_line='deb http://deb.debian.org/debian sid main'
pin_marker="# Written by sift's scripts/install-deps.sh"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# Where our own sid source points; only scripts/test-setup-safety.sh changes
# it (to an address that fails, to check that a failure is undone).
sid_uri=${SIFT_SID_URI:-http://deb.debian.org/debian}
apt_opts=(-o DPkg::Lock::Timeout=300)

# The release this machine runs: bookworm, trixie, ... or sid.
# shellcheck disable=SC1091 # the running system's file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if grep -q '/sid$' /etc/debian_version 2>/dev/null; then codename=sid; fi
[ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"

# --- what each profile needs ----------------------------------------------
build_pkgs=(build-essential pkg-config libclang-dev clang libpcre2-dev libssl-dev zlib1g-dev nginx-dev)
# The nginx binary: bookworm splits it into flavours (nginx-light is the
# smallest with --with-compat); trixie and later ship it as "nginx".
if [ "$codename" = bookworm ]; then nginx_pkg=nginx-light; else nginx_pkg=nginx; fi
nginx_pkgs=(libnginx-mod-stream)
if [ ! -x /usr/sbin/nginx ]; then nginx_pkgs=("$nginx_pkg" "${nginx_pkgs[@]}"); fi

want=()
for profile in "${profiles[@]}"; do
    case "$profile" in
        demo)
            want+=("${build_pkgs[@]}" "${nginx_pkgs[@]}" openssl ca-certificates curl
                   openssh-client openssh-server netcat-openbsd) ;;
        test)
            want+=("${build_pkgs[@]}" "${nginx_pkgs[@]}" libnginx-mod-http-lua libnginx-mod-http-ndk
                   openssl ca-certificates curl openssh-client openssh-server netcat-openbsd
                   postgresql postgresql-client redis-server redis-tools mosquitto mosquitto-clients
                   bind9-dnsutils bsdutils libtest-nginx-perl python3-prometheus-client)
            # scripts/valgrind.sh (the suite under memcheck, in the test command)
            want+=(valgrind)
            # t/021: headless Chromium, and a venv for aioquic (scripts/python-venv.sh)
            want+=(chromium python3-venv)
            ;;
        deb)
            # libnginx-mod-stream (and nginx): Build-Depends <!nocheck>, for
            # the load test in dh_auto_test.
            want+=("${build_pkgs[@]}" "${nginx_pkgs[@]}" debhelper dpkg-dev fakeroot lintian)
            # Debian's own Rust builds the package where it is new enough
            # (>= 1.82: trixie's is 1.85); bookworm's 1.63 is not (rustup).
            if [ "$codename" != bookworm ]; then want+=(cargo rustc); fi ;;
        matrix)
            want+=(debootstrap) ;;
        bench)
            want+=("${nginx_pkgs[@]}" libnginx-mod-stream-js curl) ;;
        *) die "unknown profile '$profile' (demo, test, deb, matrix, bench)" ;;
    esac
done

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# --- apt sources ----------------------------------------------------------
# Runs apt-get update; on failure prints apt's errors and returns non-zero.
apt_update() {
    local log rc=0
    log=$(mktemp)
    apt-get "${apt_opts[@]}" update -q > "$log" 2>&1 || rc=$?
    # apt-get update exits 0 for some failures (a source it could not fetch
    # is only a warning); an error or a failed fetch counts here.
    if [ "$rc" -ne 0 ] || grep -qE '^(E:|W: Failed to fetch|W: GPG error|W: .*NO_PUBKEY)' "$log"; then
        grep -E '^(E|W|Err):?' "$log" >&2 || cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# The sid (unstable) index targets apt is configured with, from every source
# file in every form (apt parses them, so one-line .list and deb822 .sources
# files, Enabled: no and Signed-By all count as apt sees them).
sid_sources() {
    # shellcheck disable=SC2016 # apt's format fields, not shell
    apt-get indextargets --no-release-info --format '$(RELEASE) $(COMPONENT) $(REPO_URI)' \
        'Created-By: Packages' 2>/dev/null | awk '($1 == "sid" || $1 == "unstable") && $2 == "main"' | sort -u
}

# An earlier version wrote this one-line source without Signed-By: next to a
# sid source that has Signed-By, apt refuses every list. Remove it if it is
# exactly what that version wrote (else it is somebody else's: keep it).
if [ -f "$old_list" ] && [ "$(cat "$old_list")" = "$old_list_line" ]; then
    say "removing $old_list (written by an earlier version of this script, without Signed-By)"
    rm -f "$old_list"
    if [ -f "$our_pin" ] && head -n 1 "$our_pin" | grep -qF "$pin_marker" && [ ! -f "$our_sources" ]; then
        rm -f "$our_pin"
    fi
    apt_update || die "apt-get update fails after removing $old_list (see above)"
    say "apt-get update works"
fi

# apt must be usable before anything is added.
if ! apt-get indextargets > /dev/null 2> /tmp/sift-install-deps.$$; then
    cat /tmp/sift-install-deps.$$ >&2; rm -f /tmp/sift-install-deps.$$
    die "apt's configuration is broken before any change by this script (see above); fix it first"
fi
rm -f /tmp/sift-install-deps.$$

need=()
for p in "${want[@]}"; do
    installed "$p" || [[ " ${need[*]} " == *" $p "* ]] || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
    say "ok: everything for ${profiles[*]} is installed"
    exit 0
fi

say "apt-get update"
apt_update || die "apt-get update fails (see above); nothing was changed"

# Packages from sid must only be what we ask for: with a sid source that is
# not pinned down, apt would take nginx-dev & co. from sid as well. For a
# sid source that is somebody else's, this pin is given to apt for this
# run only (-o Dir::Etc::PreferencesParts), so their configuration stays
# exactly as it is.
pin_text() {
    cat <<PIN
$pin_marker: take only libtest-nginx-perl
# (Test::Nginx) from Debian sid, nothing else.
Package: *
Pin: release n=sid
Pin-Priority: 1

Package: libtest-nginx-perl
Pin: release n=sid
Pin-Priority: 500
PIN
}
run_prefs=
cleanup() { if [ -n "$run_prefs" ]; then rm -rf "$run_prefs"; fi; }
trap cleanup EXIT

has_candidate() {   # has_candidate PKG: apt could install PKG from its sources
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }' | grep -qv '(none)'
}
existing=
if [ "$codename" != sid ]; then existing=$(sid_sources); fi
if [ -n "$existing" ]; then
    say "apt has a sid source: $(echo "$existing" | head -n 1 | cut -d' ' -f3) ($(echo "$existing" | head -n 1 | cut -d' ' -f1)); reusing it"
    if [ ! -f "$our_pin" ]; then
        run_prefs=$(mktemp -d)
        pin_text > "$run_prefs/00-sift-sid-pin"
        for f in /etc/apt/preferences.d/*; do
            if [ -f "$f" ]; then ln -s "$f" "$run_prefs/$(basename "$f")"; fi
        done
        apt_opts+=(-o "Dir::Etc::PreferencesParts=$run_prefs")
        say "for this run only, apt takes nothing but libtest-nginx-perl from sid (your apt preferences are unchanged)"
    fi
elif [[ " ${need[*]} " == *" libtest-nginx-perl "* ]] && [ "$codename" != sid ] \
    && ! has_candidate libtest-nginx-perl; then
    # Test::Nginx is not in this release: it needs a sid source.
    [ -f "$keyring" ] || die "$keyring missing (debian-archive-keyring): cannot add a signed sid source"
    say "adding a sid source for libtest-nginx-perl: $our_sources (Signed-By: $keyring) and $our_pin"
    cat > "$our_sources" <<SOURCES
$pin_marker for libtest-nginx-perl
# (Test::Nginx, only packaged in sid); $our_pin
# takes nothing else from sid.
Types: deb
URIs: $sid_uri
Suites: sid
Components: main
Signed-By: $keyring
SOURCES
    pin_text > "$our_pin"
    if ! apt_update; then
        rm -f "$our_sources" "$our_pin"
        apt_update > /dev/null 2>&1 || true
        die "apt-get update fails with the sid source added (see above): removed $our_sources and $our_pin again"
    fi
    say "apt-get update works with the sid source"
fi

say "installing for ${profiles[*]}: ${need[*]}"
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${need[@]}"
# Without systemd (a container, a chroot), a postinst may not start the
# service; the tests do not need it to: they start their own.
for p in "${need[@]}"; do installed "$p" || die "$p is not installed after apt-get install"; done
say "ok: ${profiles[*]}"
