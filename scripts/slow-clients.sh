#!/usr/bin/env bash
# Slow and idle clients (scripts/reliability/slow_clients.py does the
# clients and the checks): two nginx, one worker each, one with sift and one
# with nginx's own ssl_preread as the control:
#   - IDLE (2000) connections that send nothing to each: the worker's memory
#     per connection, sift against ssl_preread (must be within 1 KB); every
#     one ended by sift_timeout / preread_timeout (8 s), none earlier;
#     the worker's RSS back near its start once they have ended, and a
#     second wave no larger than the first;
#   - DRIP (2000) clients sending a ClientHello one byte every 250 ms (18 s),
#     2000 more idle ones and 500 UDP sessions sending only the first
#     datagram of a QUIC hello spanning several (held until sift_timeout,
#     5 s), while a normal client sends a whole hello every 50 ms: every
#     dripping client answered, every held UDP session answered at
#     sift_timeout, the normal client's latency measured;
#   - no [alert]/[crit]/[emerg] in either error log.
#
#   scripts/slow-clients.sh [IDLE [DRIP [UDP]]]   (default 2000 2000 500)
#
# SIFT_MODULE: the module (default target/modules/release/...).
# Result: target/reliability/slow-clients.json.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
idle=${1:-2000} drip=${2:-2000} udp=${3:-500}
module=${SIFT_MODULE:-$top/target/modules/release/ngx_stream_sift_module.so}
[ -f "$module" ] || { echo "slow-clients.sh: no $module (scripts/build-module.sh release)" >&2; exit 1; }
nginx=/usr/sbin/nginx
prefix=$top/target/reliability/slow-clients
# Below 32768, out of Linux's ephemeral range (see soak.sh).
base=${SIFT_SLOW_PORT:-$((25000 + $$ % 1900 * 4))}
p_idle=$base p_drip=$((base + 1)) p_udp=$((base + 2)) p_ctl=$((base + 3))
say() { printf '==> slow-clients: %s\n' "$*"; }

rm -rf "$prefix"
mkdir -p "$prefix/sift/logs" "$prefix/control/logs"
common="worker_processes 1;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }"
cat > "$prefix/sift/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $module;
$common
error_log $prefix/sift/logs/error.log notice;
pid $prefix/sift/nginx.pid;
stream {
    server {
        listen 127.0.0.1:$p_idle backlog=4096;
        sift on;
        sift_timeout 8s;
        return \$sift_protocol;
    }
    server {
        listen 127.0.0.1:$p_drip backlog=4096;
        sift on;
        sift_timeout 60s;
        preread_timeout 61s;
        return \$sift_tls_sni;
    }
    server {
        listen 127.0.0.1:$p_udp udp;
        sift on;
        sift_timeout 5s;
        return "\$sift_protocol \$sift_tls_status\n";
    }
}
EOF
cat > "$prefix/control/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
$common
error_log $prefix/control/logs/error.log notice;
pid $prefix/control/nginx.pid;
stream {
    server {
        listen 127.0.0.1:$p_ctl backlog=4096;
        ssl_preread on;
        preread_timeout 8s;
        return \$ssl_preread_server_name;
    }
}
EOF
stop() {
    for d in sift control; do
        if [ -f "$prefix/$d/nginx.pid" ]; then
            "$nginx" -p "$prefix/$d" -c "$prefix/$d/nginx.conf" -s quit 2>/dev/null || true
        fi
    done
    sleep 0.5
}
trap stop EXIT
worker_of() { # the one worker of the nginx whose pid file is $1
    local master w
    for _ in $(seq 50); do
        master=$(cat "$1" 2>/dev/null || true)
        w=$([ -n "$master" ] && pgrep -P "$master" | head -1 || true)
        [ -n "$w" ] && { echo "$w"; return; }
        sleep 0.1
    done
    echo "slow-clients.sh: no worker process for $1" >&2
    exit 1
}
for d in sift control; do "$nginx" -p "$prefix/$d" -c "$prefix/$d/nginx.conf"; done
wsift=$(worker_of "$prefix/sift/nginx.pid")
wctl=$(worker_of "$prefix/control/nginx.pid")
say "sift worker $wsift (tcp :$p_idle idle, :$p_drip drip, udp :$p_udp), ssl_preread worker $wctl (:$p_ctl); $idle idle, $drip dripping, $udp held UDP"
rc=0
python3 scripts/reliability/slow_clients.py --sift-idle "$p_idle" --control-idle "$p_ctl" --sift-drip "$p_drip" \
    --sift-udp "$p_udp" --sift-pid "$wsift" --control-pid "$wctl" --idle "$idle" --drip "$drip" --udp "$udp" \
    --idle-timeout 8 --udp-timeout 5 > "$prefix/result.json" || rc=$?
stop
trap - EXIT
severe=$(grep -hE '\[(alert|crit|emerg)\]' "$prefix"/*/logs/error.log || true)
signals=$(grep -h 'exited on signal' "$prefix"/*/logs/error.log || true)
python3 - "$prefix/result.json" "$top/target/reliability/slow-clients.json" "$severe$signals" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read() or "{}")
if sys.argv[3]:
    r.setdefault("problems", []).append("error log: " + sys.argv[3][:2000])
json.dump(r, open(sys.argv[2], "w"), indent=1)
n = r.get("normal_client", {})
print("slow-clients: idle connection: sift %s bytes, ssl_preread %s bytes; dripping answered %s/%s; "
      "held UDP answered at sift_timeout %s/%s; normal client p50 %s ms, p99 %s ms (%s requests, %s failed)"
      % (r.get("bytes_per_idle_sift"), r.get("bytes_per_idle_ssl_preread"), r.get("drip_answered"), r.get("drip"),
         r.get("udp_held_answered_after_timeout"), r.get("udp"), n.get("p50_ms"), n.get("p99_ms"),
         n.get("requests"), n.get("failed")))
sys.exit(1 if r.get("problems") else 0)
PY
[ $rc = 0 ] || { echo "slow-clients.sh: FAILED (above)" >&2; exit 1; }
echo "slow-clients.sh: passed (target/reliability/slow-clients.json)"
