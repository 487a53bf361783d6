#!/usr/bin/env bash
# Installs everything sift needs to build, demo and test on Debian bookworm.
# Idempotent: re-running only installs what is missing.
#
# Test::Nginx (libtest-nginx-perl) is packaged in Debian sid only. We add a sid
# source pinned at priority 1 for every package except that one, so nothing
# else is ever pulled from sid; all of its dependencies resolve in bookworm.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root (apt-get)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

build_pkgs=(build-essential pkg-config libclang-dev clang libpcre2-dev libssl-dev zlib1g-dev
            nginx-dev debhelper dpkg-dev fakeroot lintian)
runtime_pkgs=(nginx-light libnginx-mod-stream libnginx-mod-http-lua libnginx-mod-http-ndk ssl-cert
              libnginx-mod-stream-js)
client_pkgs=(openssl curl openssh-client openssh-server netcat-openbsd python3)
# Real peers for the multiplexing tests (t/020): each client and its server.
peer_pkgs=(postgresql postgresql-client redis-server redis-tools mosquitto mosquitto-clients)

sid_list=/etc/apt/sources.list.d/sift-sid.list
sid_pref=/etc/apt/preferences.d/sift-sid-pin
if [ ! -f "$sid_list" ]; then
    echo "deb http://deb.debian.org/debian sid main" > "$sid_list"
fi
cat > "$sid_pref" <<PIN
# Written by sift's scripts/install-deps.sh: take only libtest-nginx-perl from sid.
Package: *
Pin: release n=sid
Pin-Priority: 1

Package: libtest-nginx-perl
Pin: release n=sid
Pin-Priority: 500
PIN

need=()
for p in "${build_pkgs[@]}" "${runtime_pkgs[@]}" "${client_pkgs[@]}" "${peer_pkgs[@]}" \
         libtest-nginx-perl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# The test suite starts its own servers: keep the packaged services quiet.
for svc in nginx ssh postgresql redis-server mosquitto; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done
# Without systemd, the package's postinst may have started nginx itself: stop
# that one (its pid file), not anybody else's nginx on the machine.
if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    /usr/sbin/nginx -s quit 2>/dev/null || kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
echo "install-deps: ok"
