#!/usr/bin/env bash
# Latency that sift_auth_request adds to a connection: Debian's nginx (one
# worker, loopback) with three stream servers answering "ok" after sift has
# read a curl ClientHello —
#   control   sift on, no auth request
#   uncached  sift_auth_request to an nginx http service answering 204,
#             over kept connections (sift_auth_request_keepalive's default)
#   new_conn  the same with sift_auth_request_keepalive 0: a connection
#             per request
#   cached    the same with sift_auth_request_cache key=$remote_addr
# — and a client making sequential connections (connect, send the hello,
# read the answer) timing each; p50 and p99 per case, and what each adds to
# the control's. See BENCHMARKS.md.
#
#   scripts/bench-auth.sh              # 3,000 connections per case and round, 3 rounds
#   scripts/bench-auth.sh 500 1        # shorter: connections, rounds
#
# Environment: SIFT_BENCH_PORT (first port, default 18600), SIFT_BENCH_MODULE
# (a prebuilt ngx_stream_sift_module.so: skip the build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
count=${1:-3000}
rounds=${2:-3}
port=${SIFT_BENCH_PORT:-18600}
prefix=$top/target/bench-auth
nginx=/usr/sbin/nginx
say() { printf '==> %s\n' "$*"; }

# shellcheck source=scripts/lib/bench-module.sh
. "$top/scripts/lib/bench-module.sh"
module=$(bench_module bench-auth)

rm -rf "$prefix"
mkdir -p "$prefix/logs"
stream_module=/usr/lib/nginx/modules/ngx_stream_module.so
cat > "$prefix/nginx.conf" <<CONF
load_module $stream_module;
load_module $module;
worker_processes 1;
error_log $prefix/logs/error.log notice;
pid $prefix/nginx.pid;
events { worker_connections 4096; }
http {
    log_format path '\$uri \$connection_requests';
    access_log $prefix/logs/auth.log path;
    server {
        listen 127.0.0.1:$port;
        location / { return 204; }
    }
}
stream {
    server {
        listen 127.0.0.1:$((port + 1));
        sift on;
        return "ok\n";
    }
    server {
        listen 127.0.0.1:$((port + 2));
        sift on;
        sift_auth_request http://127.0.0.1:$port/uncached;
        return "ok\n";
    }
    server {
        listen 127.0.0.1:$((port + 4));
        sift on;
        sift_auth_request http://127.0.0.1:$port/new_conn;
        sift_auth_request_keepalive 0;
        return "ok\n";
    }
    server {
        listen 127.0.0.1:$((port + 3));
        sift on;
        sift_auth_request http://127.0.0.1:$port/cached;
        sift_auth_request_cache key=\$remote_addr valid=1h zone=bench_auth:1m;
        return "ok\n";
    }
}
CONF
"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -t -q
"$nginx" -p "$prefix" -c "$prefix/nginx.conf"
trap '"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -s stop 2>/dev/null || true' EXIT
sleep 0.3

say "$count sequential connections per case, $rounds rounds (curl ClientHello)"
python3 - "$port" "$count" "$rounds" "$top/t/data/clienthello-curl.hex" "$prefix/result.json" <<'PY'
import json, socket, statistics, sys, time

base, count, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hello = bytes.fromhex("".join(open(sys.argv[4]).read().split()))
cases = [("control", base + 1), ("uncached", base + 2), ("new_conn", base + 4), ("cached", base + 3)]

def connection(port):
    start = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = s.recv(64)
        if not chunk:
            break
        answer += chunk
    s.close()
    if answer != b"ok\n":
        raise SystemExit(f"bench-auth: port {port} answered {answer!r}")
    return (time.perf_counter() - start) * 1e6

samples = {name: [] for name, _ in cases}
for _ in range(rounds):
    for name, port in cases:      # interleaved, so drift hits every case alike
        for _ in range(min(200, count)):
            connection(port)      # warm-up
        samples[name] += [connection(port) for _ in range(count)]

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]

result = {}
for name, _ in cases:
    v = samples[name]
    result[name] = {"p50_us": pct(v, 0.50), "p99_us": pct(v, 0.99), "n": len(v)}
print(f"{'case':10} {'p50 µs':>8} {'p99 µs':>8} {'+p50 µs':>8} {'+p99 µs':>8}")
for name, _ in cases:
    r = result[name]
    c = result["control"]
    print(f"{name:10} {r['p50_us']:8.1f} {r['p99_us']:8.1f} "
          f"{r['p50_us'] - c['p50_us']:8.1f} {r['p99_us'] - c['p99_us']:8.1f}")
json.dump(result, open(sys.argv[5], "w"), indent=1)
PY
# The cache must have absorbed the repeats: one call in all for the cached
# server (valid=1h, one client address), one per connection uncached.
uncached=$(grep -c '^/uncached ' "$prefix/logs/auth.log" || true)
cached=$(grep -c '^/cached ' "$prefix/logs/auth.log" || true)
# Connections the service saw for the kept ones: requests that were the
# first on their connection.
kept_connections=$(grep -c '^/uncached 1$' "$prefix/logs/auth.log" || true)
say "service calls: uncached $uncached on $kept_connections connections, cached $cached"
if [ "$cached" -ne 1 ] || [ "$uncached" -lt "$((count * rounds))" ]; then
    echo "bench-auth: expected 1 cached call and at least $((count * rounds)) uncached ones" >&2
    exit 1
fi
if grep -E '\[(alert|crit|emerg)\]' "$prefix/logs/error.log"; then
    echo "bench-auth: nginx logged the lines above" >&2
    exit 1
fi
