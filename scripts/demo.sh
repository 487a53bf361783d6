#!/usr/bin/env bash
# The main job: builds sift, then runs Debian's nginx with it on loopback:
# one port, 127.0.0.1:8443, routing TLS / HTTP / SSH by $sift_protocol
# (nginx-conf/demo.conf), with a real sshd behind it; and on 127.0.0.1:8090
# sift's metrics, its heaviest JA4s and a live JA4 block list (sift_api).
# Runs in the foreground; Ctrl-C stops everything.
#
#   scripts/demo.sh            # build, start, print what to try, wait
#   scripts/demo.sh --check    # start, try curl/openssl/ssh, block curl's
#                              # JA4 through the API and unblock it, stop
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-run}

say() { printf '==> demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    say "installing what the demo needs (scripts/install-deps.sh demo)"
    scripts/install-deps.sh demo || die "scripts/install-deps.sh demo failed (see above)"
fi
command -v cargo >/dev/null 2>&1 \
    || die "cargo not found in PATH: sift needs Rust >= 1.82 (rustup: https://rustup.rs)"
say "building sift (cargo build --release; a few minutes the first time)"
# SIFT_TARGET_DIR (cargo's target directory) and SIFT_DEMO_PREFIX (the demo's
# nginx prefix) default to target/ and target/demo.
target=${SIFT_TARGET_DIR:-$top/target}
if ! scripts/build-module.sh release "$target/modules/release"; then
    die "the build failed (cargo's error is above)"
fi

prefix=${SIFT_DEMO_PREFIX:-$top/target/demo}
mkdir -p "$prefix"/{conf/certs,modules,logs,tmp,ssh}
install -m 0644 "$target/modules/release/ngx_stream_sift_module.so" "$prefix/modules/"
install -m 0644 nginx-conf/demo.conf "$prefix/conf/nginx.conf"

if [ ! -f "$prefix/conf/certs/demo.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sift.demo" \
        -addext "subjectAltName=DNS:sift.demo,DNS:localhost,IP:127.0.0.1" \
        -keyout "$prefix/conf/certs/demo.key" -out "$prefix/conf/certs/demo.crt" 2> /dev/null
fi

# A throwaway sshd on 127.0.0.1:2222: real key exchange, no logins accepted.
if [ ! -f "$prefix/ssh/host_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -f "$prefix/ssh/host_ed25519"
fi
cat > "$prefix/ssh/sshd_config" <<SSHD
ListenAddress 127.0.0.1:2222
HostKey $prefix/ssh/host_ed25519
PidFile $prefix/ssh/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
UsePAM no
SSHD

# Stops the demo's own nginx and sshd, and nothing else: a pid from a pid
# file is only signalled when that process runs with the demo's own files.
stop_own() {   # stop_own PIDFILE MARK
    local pid
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
        kill "$pid" 2> /dev/null || true
    fi
    rm -f "$1"
}
cleanup() {
    stop_own "$prefix/logs/nginx.pid" "$prefix"
    stop_own "$prefix/ssh/sshd.pid" "$prefix/ssh/sshd_config"
}
trap cleanup EXIT
cleanup
sleep 0.2
rm -f "$prefix"/logs/*.log

mkdir -p /run/sshd
sshd=$(command -v sshd || echo /usr/sbin/sshd)
"$sshd" -f "$prefix/ssh/sshd_config" -E "$prefix/logs/sshd.log"

/usr/sbin/nginx -p "$prefix" -c conf/nginx.conf -t -q
/usr/sbin/nginx -p "$prefix" -c conf/nginx.conf
sleep 0.3

cat <<TRY

sift demo is running: every protocol below goes to ONE port, 127.0.0.1:8443.

  curl http://127.0.0.1:8443/hello                      # -> plain HTTP backend
  curl -k --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/
                                                        # -> HTTPS backend (TLS not terminated by sift)
  openssl s_client -connect 127.0.0.1:8443 -servername sift.demo </dev/null
  ssh -p 8443 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null demo@127.0.0.1
                                                        # -> the demo sshd (key exchange, then denied)
  printf 'hello?\r\n' | nc -q1 127.0.0.1 8443            # -> default backend

Each connection's protocol is logged in:
  $prefix/logs/stream-access.log

Operate it live on 127.0.0.1:8090 (loopback only):
  curl http://127.0.0.1:8090/metrics                     # Prometheus metrics
  curl http://127.0.0.1:8090/sift/top/demo_ja4           # the JA4s seen most
  curl http://127.0.0.1:8090/sift/                       # what the API has
  # block curl's JA4 (the last one logged: run the https curl above first)
  # on the next connection, no reload:
  ja4=\$(sed -n 's/.* ja4=\(.*\)/\1/p' $prefix/logs/stream-access.log | tail -1)
  curl -X POST -d "{\"\$ja4\": \"demo\"}" http://127.0.0.1:8090/sift/lists/demo_blocked
  curl -k --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/   # -> refused
  curl -X DELETE http://127.0.0.1:8090/sift/lists/demo_blocked/\$ja4   # unblock
TRY

if [ "$mode" = --check ]; then
    echo; echo "--- trying them ---"
    curl -sS http://127.0.0.1:8443/hello
    curl -sSk --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/
    openssl s_client -connect 127.0.0.1:8443 -servername sift.demo < /dev/null 2>/dev/null \
        | grep -E '^(subject|Protocol|    Protocol)' | head -2 || true
    ssh -p 8443 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o ConnectTimeout=5 demo@127.0.0.1 true 2>&1 | tail -1 || true
    printf 'hello?\r\n' | nc -q1 127.0.0.1 8443 | head -c 300 || true
    sleep 0.5
    echo; echo "--- $prefix/logs/stream-access.log ---"
    cat "$prefix/logs/stream-access.log"

    echo; echo "--- blocking curl's JA4 through the API, then unblocking it ---"
    curl -sSk --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/ > /dev/null
    sleep 0.3
    ja4=$(sed -n 's/.* ja4=\(t.*\)/\1/p' "$prefix/logs/stream-access.log" | tail -1)
    [ -n "$ja4" ] || die "no JA4 in the access log"
    curl -sS -X POST -d "{\"$ja4\": \"demo\"}" -w '%{http_code}\n' \
        http://127.0.0.1:8090/sift/lists/demo_blocked
    if curl -sSk --max-time 5 --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/ 2>/dev/null; then
        die "curl got through with its JA4 blocked"
    fi
    echo "blocked: curl's connection was refused (JA4 $ja4)"
    curl -sS -X DELETE -w '%{http_code}\n' "http://127.0.0.1:8090/sift/lists/demo_blocked/$ja4"
    curl -sSk --resolve sift.demo:8443:127.0.0.1 https://sift.demo:8443/
    echo; echo "--- the heaviest JA4s, and some metrics ---"
    curl -sS http://127.0.0.1:8090/sift/top/demo_ja4; echo
    curl -sS http://127.0.0.1:8090/metrics | grep -E '^sift_(access_total|list_entries)' | grep -v ' 0$'
    exit 0
fi

echo; echo "Following the stream access log (Ctrl-C stops the demo):"
touch "$prefix/logs/stream-access.log"
tail -n 0 -f "$prefix/logs/stream-access.log"
