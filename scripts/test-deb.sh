#!/usr/bin/env bash
# End-to-end test of the Debian package, in a Debian release's root
# filesystem (or on this machine):
#
#   scripts/test-deb.sh trixie          # build in target/rootfs/trixie
#                                       # (scripts/build-deb.sh trixie), then all of
#                                       # the below in it, in its own network namespace
#   scripts/test-deb.sh bookworm        # the same for bookworm
#   scripts/test-deb.sh trixie --no-build   # reuse target/deb/trixie/*.deb
#   scripts/test-deb.sh [--no-build]    # on this machine (root), its own release:
#                                       # installs the package here for the test
#
# In a root filesystem nothing of this machine is touched: the package is
# installed and purged there, and the nginx it starts (stock configuration,
# port 80) listens in the test's own network namespace.
#
#   1. build it (scripts/build-deb.sh: dpkg-buildpackage + lintian)
#   2. apt-get install ./target/deb/libnginx-mod-stream-sift_*.deb
#   3. the installed files, the modules-enabled link, and Debian's stock
#      /etc/nginx/nginx.conf plus a stream server with "sift on" under
#      nginx -t (debian/tests/module-loads)
#   4. nginx started for real from the stock configuration plus that stream
#      server: HTTP, SSH and a TLS ClientHello are classified (skipped when
#      port 80 is taken or an nginx already runs from /run/nginx.pid)
#   5. the Test::Nginx suite (t/) against the installed module
#   6. apt-get purge, then: nothing of sift left (files, links, dangling
#      links, docs, dpkg database), the stock configuration passes nginx -t
#      and nginx starts and stops with it, /etc/nginx is as it was before
#
# Nothing under /etc is edited by this script (the stock configuration is
# tested through temporary files that include it); the package's own
# maintainer scripts add and remove its modules-enabled link. Every nginx
# this script starts is stopped again, and the package is purged on any exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

[ "$(id -u)" -eq 0 ] || { echo "test-deb: run as root (apt-get install/purge)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

pkg=libnginx-mod-stream-sift
nginx=/usr/sbin/nginx
so=/usr/lib/nginx/modules/ngx_stream_sift_module.so
avail=/usr/share/nginx/modules-available/mod-stream-sift.conf
enabled_dir=/etc/nginx/modules-enabled
doc=/usr/share/doc/$pkg
apt_opts=(-y -q -o DPkg::Lock::Timeout=300)

build=1
dist=
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -*) echo "test-deb: unknown argument $arg" >&2; exit 2 ;;
        *) dist=$arg ;;
    esac
done
if [ -n "$dist" ] && [ "${SIFT_ROOTFS:-}" != "$dist" ]; then
    # On the host: build in DIST's root filesystem, then test in it.
    if [ "$build" = 1 ]; then
        printf '\n==> test-deb %s: build the package (scripts/build-deb.sh %s)\n' "$dist" "$dist"
        scripts/build-deb.sh "$dist"
    fi
    scripts/rootfs.sh "$dist" setup test
    exec scripts/rootfs.sh "$dist" run-isolated scripts/test-deb.sh "$dist" --no-build
fi

step() { printf '\n==> test-deb: %s\n' "$*"; }
ok() { printf 'test-deb: ok: %s\n' "$*"; }
note() { printf 'test-deb: note: %s\n' "$*"; }
fail() { printf 'test-deb: FAIL: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d /tmp/sift-test-deb.XXXXXX)
started_pid=
installed_by_us=0

stop_nginx() {   # stops the nginx this script started, and only that one
    [ -n "$started_pid" ] || return 0
    local pid=$started_pid
    "$nginx" -s quit "$@" 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        sleep 1
    fi
    if kill -0 "$pid" 2>/dev/null; then fail "nginx master $pid did not stop"; fi
    started_pid=
}

cleanup() {
    local rc=$?
    set +e
    stop_nginx
    if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
        echo "test-deb: cleanup: purging $pkg" >&2
        apt-get purge "${apt_opts[@]}" "$pkg" >/dev/null 2>&1
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "test-deb: error: failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM

# A fingerprint of /etc/nginx: every path, its type, link target and content.
etc_snapshot() {
    find /etc/nginx -printf '%p %y %l\n' | sort
    find /etc/nginx -type f -print0 | sort -z | xargs -0 sha256sum
}

# Whether nginx can be started here with the stock configuration.
can_start_nginx() {
    if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
        note "an nginx already runs from /run/nginx.pid (pid $(cat /run/nginx.pid)): not starting another"
        return 1
    fi
    if [ -n "$(ss -Htln 'sport = :80')" ]; then
        note "port 80 is in use: not starting nginx with the stock configuration"
        return 1
    fi
    return 0
}

# Starts nginx (daemon, stock pid file) with the given arguments.
start_nginx() {
    "$nginx" "$@" || fail "nginx $* did not start"
    for _ in $(seq 1 50); do
        [ -s /run/nginx.pid ] && break
        sleep 0.1
    done
    [ -s /run/nginx.pid ] || fail "nginx started but wrote no /run/nginx.pid"
    started_pid=$(cat /run/nginx.pid)
}

# Sends bytes (hex) to 127.0.0.1:PORT and prints what comes back until EOF.
probe() {
    perl -MIO::Socket::INET -e '
        my ($port, $hex) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Timeout => 5)
            or die "connect 127.0.0.1:$port: $!\n";
        print $s pack("H*", $hex);
        local $SIG{ALRM} = sub { die "timeout reading 127.0.0.1:$port\n" }; alarm 10;
        local $/; my $r = <$s>; print defined $r ? $r : "";
    ' "$1" "$2"
}

quiet_apt() {   # apt/dpkg output, indented, without the progress noise
    { grep -v -e '^(Reading database' -e '^Reading package lists' -e '^Building dependency tree' \
        -e '^Reading state information' -e '^debconf: delaying' || true; } | sed 's/^/  /'
}

# shellcheck source=lib/ports.sh
. "$top/scripts/lib/ports.sh"

stock_conf_is_pristine() {
    local want have
    want=$(dpkg-query -W -f='${Conffiles}\n' nginx-common | awk '$1 == "/etc/nginx/nginx.conf" { print $2 }')
    have=$(md5sum /etc/nginx/nginx.conf | cut -d' ' -f1)
    [ -n "$want" ] && [ "$want" = "$have" ]
}

# ---------------------------------------------------------------------------
out=$top/target/deb${dist:+/$dist}
if [ "$build" = 1 ]; then
    step "build the package (scripts/build-deb.sh)"
    scripts/build-deb.sh
fi
shopt -s nullglob
debs=("$out/${pkg}_"*"_$(dpkg --print-architecture).deb")
shopt -u nullglob
[ ${#debs[@]} -eq 1 ] || fail "expected one ${pkg} .deb in ${out#"$top"/}, found ${#debs[@]} (run scripts/build-deb.sh $dist)"
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
step "testing $(basename "$deb") on $(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release), $("$nginx" -v 2>&1)"

step "starting state"
for p in libnginx-mod-stream libnginx-mod-http-ndk libnginx-mod-http-lua libtest-nginx-perl curl; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        scripts/install-deps.sh test
        break
    fi
done
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    note "$pkg is already installed (an earlier run?): purging it first"
    apt-get purge "${apt_opts[@]}" "$pkg" 2>&1 | quiet_apt
fi
if stock_conf_is_pristine; then
    ok "/etc/nginx/nginx.conf is Debian's stock file (nginx-common conffile checksum)"
else
    note "/etc/nginx/nginx.conf differs from nginx-common's stock file; testing it as it is"
fi
"$nginx" -t -q || fail "nginx -t fails before the package is even installed"
etc_snapshot > "$work/etc.before"
dangling_before=$(find "$enabled_dir" -xtype l | sort)

step "apt-get install $(basename "$deb")"
installed_by_us=1
apt-get install "${apt_opts[@]}" "$deb" 2>&1 | quiet_apt
dpkg-query -W -f='${Status} ${Version}\n' "$pkg" | grep -q "^install ok installed $version$" \
    || fail "$pkg $version is not installed"
ok "$pkg $version installed: $(dpkg-query -W -f='${Depends}' "$pkg")"

step "installed files and nginx -t (debian/tests/module-loads)"
debian/tests/module-loads

step "nginx started with the stock configuration plus a stream server using sift"
if can_start_nginx; then
    sport=$(free_tcp_ports 18440 1) || fail "no free port for the stock configuration test"
    cat > "$work/nginx.conf" <<CONF
# test-deb: Debian's stock configuration plus a stream server using sift.
include /etc/nginx/nginx.conf;
stream {
    server {
        listen 127.0.0.1:$sport;
        sift on;
        return "\$sift_protocol \$sift_tls_sni \$sift_ja4\n";
    }
}
CONF
    start_nginx -c "$work/nginx.conf"
    http=$(probe "$sport" "$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | od -An -tx1 | tr -d ' \n')")
    ssh=$(probe "$sport" "$(printf 'SSH-2.0-OpenSSH_9.2p1\r\n' | od -An -tx1 | tr -d ' \n')")
    tls=$(probe "$sport" "$(tr -d ' \n' < t/data/clienthello-curveball.hex)")
    want_tls=$(perl -MJSON::PP -0777 -ne '$e = decode_json($_); print "tls $e->{sni} $e->{ja4}"' \
        t/data/clienthello-curveball.expected.json)
    web=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/ || true)
    stop_nginx -c "$work/nginx.conf"
    [ "$http" = "http  " ] || fail "HTTP request classified as [$http]"
    [ "$ssh" = "ssh  " ] || fail "SSH banner classified as [$ssh]"
    [ "$tls" = "$want_tls" ] || fail "ClientHello gave [$tls], expected [$want_tls]"
    [ "$web" = 200 ] || fail "the stock default site answered $web"
    ok "nginx ran with the installed module: http, ssh and tls ($tls); stock site on :80 answered 200; stopped"
fi

step "Test::Nginx suite (t/) against the installed module $so"
port=$(free_tcp_ports 19840 4) || fail "no free ports for the Test::Nginx suite"
servroot=$out/servroot
rm -rf "$servroot"
(
    export TEST_NGINX_BINARY=$nginx
    export TEST_NGINX_LOAD_MODULES="/usr/lib/nginx/modules/ndk_http_module.so \
/usr/lib/nginx/modules/ngx_http_lua_module.so \
/usr/lib/nginx/modules/ngx_stream_module.so \
$so"
    export SIFT_RELEASE_MODULE=$so
    # Own ports and server root: other runs of the suite may be going on.
    export TEST_NGINX_PORT=$port TEST_NGINX_SERVROOT=$servroot
    unset SIFT_TEST_HOOKS TEST_NGINX_STREAM_PORT
    # Every file but t/030, which tests the ngx-stream layer's example
    # module: no part of the package (the main suite and the version matrix
    # run it).
    files=()
    for f in t/*.t; do
        [ "$f" = t/030-layer-example.t ] || files+=("$f")
    done
    prove "${files[@]}"
) || fail "Test::Nginx suite against the installed module"
rm -rf "$servroot"
ok "Test::Nginx suite passed against $so (t/010's panic tests skip: release module without test hooks; t/030 not run: the layer's example module is no part of the package)"

link=$enabled_dir/70-mod-stream-sift.conf
step "apt-get remove (not purge): the module is disabled, nginx -t passes"
apt-get remove "${apt_opts[@]}" "$pkg" 2>&1 | quiet_apt
if [ -e "$link" ] || [ -L "$link" ]; then fail "$link is still there after remove"; fi
[ -L "$link.removed" ] || fail "remove left no $link.removed marker (dh_nginx's postrm)"
[ ! -e "$so" ] || fail "$so is still there after remove"
"$nginx" -t -q || fail "nginx -t fails after remove"
ok "removed: $(basename "$link") renamed to $(basename "$link").removed (not loaded: nginx includes *.conf), nginx -t passes"

step "apt-get install again: re-enabled; a link the admin deleted stays deleted on reinstall"
apt-get install "${apt_opts[@]}" "$deb" 2>&1 | quiet_apt
if [ ! -L "$link" ] || [ -L "$link.removed" ]; then fail "reinstall after remove did not re-enable $link"; fi
rm "$link"
apt-get install --reinstall "${apt_opts[@]}" "$deb" 2>&1 | quiet_apt
[ ! -L "$link" ] || fail "reinstall re-enabled $link although the admin had deleted it"
"$nginx" -t -q || fail "nginx -t fails with the module disabled by the admin"
ln -s "$avail" "$link"
debian/tests/module-loads >/dev/null 2>&1 || fail "module-loads after re-enabling by hand"
ok "re-enabled after remove; an admin's deletion of the link survives a reinstall"

step "apt-get purge $pkg"
apt-get purge "${apt_opts[@]}" "$pkg" 2>&1 | quiet_apt
installed_by_us=0

step "nothing of sift left"
# Purged: dpkg has forgotten the package, or at most knows it as not installed.
status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
case "$status" in
    "" | un* | pn*) ;;
    *) fail "dpkg still has $pkg: [$status] ($(dpkg -l "$pkg" 2>&1 | tail -n 1))" ;;
esac
echo "  dpkg -l $pkg: $(dpkg -l "$pkg" 2>&1 | tail -n 1)"
for f in "$so" "$avail" "$doc"; do
    if [ -e "$f" ] || [ -L "$f" ]; then fail "$f is left after purge"; fi
done
left=$(find "$enabled_dir" /usr/lib/nginx/modules /usr/share/nginx/modules-available -name '*sift*' | sort)
[ -z "$left" ] || fail "left after purge: $left"
dangling_after=$(find "$enabled_dir" -xtype l | sort)
[ "$dangling_after" = "$dangling_before" ] || fail "dangling links in $enabled_dir: $dangling_after"
ok "no module, load file, modules-enabled link (dangling or not), docs or dpkg entry left"

step "the stock configuration after the purge"
"$nginx" -t -q || fail "nginx -t fails after the purge"
ok "nginx -t passes"
if can_start_nginx; then
    start_nginx
    web=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/ || true)
    stop_nginx
    [ "$web" = 200 ] || fail "nginx started after the purge but the default site answered $web"
    ok "nginx starts with the stock configuration (default site answered 200) and stopped again"
    started="started and stopped"
else
    started="start skipped (see note)"
fi
etc_snapshot > "$work/etc.after"
diff -u "$work/etc.before" "$work/etc.after" >&2 || fail "/etc/nginx differs from before the test"
ok "/etc/nginx is exactly as before the test"

echo
echo "test-deb: all passed: $pkg $version built, installed, nginx -t with the stock config + sift, suite passed, purged clean; stock nginx -t ok, $started"
