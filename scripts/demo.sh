#!/usr/bin/env bash
# The main job: builds sift, then runs Debian's nginx with it on loopback:
# one port, 127.0.0.1:8443, routing TLS / HTTP / SSH by $sift_protocol
# (nginx-conf/demo.conf), with a real sshd behind it. Runs in the
# foreground; Ctrl-C stops everything.
#
#   scripts/demo.sh            # build, start, print what to try, wait
#   scripts/demo.sh --check    # start, try curl/openssl/ssh, show the log, stop
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-run}

[ "$(id -u)" -ne 0 ] || scripts/install-deps.sh
scripts/build-module.sh release "$top/target/modules/release" > /dev/null 2>&1

prefix=$top/target/demo
mkdir -p "$prefix"/{conf/certs,modules,logs,tmp,ssh}
install -m 0644 target/modules/release/ngx_stream_sift_module.so "$prefix/modules/"
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

cleanup() {
    [ -f "$prefix/logs/nginx.pid" ] && kill "$(cat "$prefix/logs/nginx.pid")" 2> /dev/null || true
    [ -f "$prefix/ssh/sshd.pid" ] && kill "$(cat "$prefix/ssh/sshd.pid")" 2> /dev/null || true
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
    exit 0
fi

echo; echo "Following the stream access log (Ctrl-C stops the demo):"
touch "$prefix/logs/stream-access.log"
tail -n 0 -f "$prefix/logs/stream-access.log"
