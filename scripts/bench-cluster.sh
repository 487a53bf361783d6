#!/usr/bin/env bash
# Connection rate with a rate limit synced across hosts through Redis
# (sift_rate_zone ... sync=) against the same limit local only: Debian's
# nginx (one worker, loopback), a redis-server of its own on a loopback
# port, four stream servers answering "ok" after sift has read a curl
# ClientHello, every connection counted by a zone keyed by the client
# address with a limit no connection reaches —
#   local      sift_rate_zone ... rate=1000000r/s           (no Redis)
#   synced     the same with sync=bench (default sync_batch: a tenth of
#              the limit, so this key never waits for Redis: the cost of
#              the sync table alone)
#   batch100   sync=bench sync_batch=100: 1 connection in 100 waits for
#              a Redis round trip
#   batch1     sync=bench sync_batch=1: every connection does (worst case)
# — and C client processes making sequential connections for S seconds
# per case, cases interleaved over R rounds (drift hits all alike).
# Reports conn/s per case (median of rounds), the ratio to local, p50/p99
# latency, and Redis's calls and connections (keepalive at work).
#
#   scripts/bench-cluster.sh               # 5 s per case, 3 rounds, 4 clients
#   scripts/bench-cluster.sh 2 1 2         # short: seconds, rounds, clients
#
# The machine is shared and has 2 cores: the client processes compete with
# nginx and Redis for them, so the figures are noisy (compare the ratios,
# not the absolute rates). Environment: SIFT_BENCH_PORT (first port,
# default 18700), SIFT_BENCH_MODULE (a prebuilt module: skip the build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-5}
rounds=${2:-3}
clients=${3:-4}
port=${SIFT_BENCH_PORT:-18700}
redis_port=$((port + 9))
prefix=$top/target/bench-cluster
nginx=/usr/sbin/nginx
say() { printf '==> %s\n' "$*"; }

command -v redis-server >/dev/null || { echo "bench-cluster: redis-server is not installed (scripts/install-deps.sh test)" >&2; exit 1; }
# shellcheck source=scripts/lib/bench-module.sh
. "$top/scripts/lib/bench-module.sh"
module=$(bench_module bench-cluster)

rm -rf "$prefix"
mkdir -p "$prefix/logs" "$prefix/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$prefix/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$prefix/redis/redis.pid" --logfile "$prefix/redis/redis.log"
stop_all() {
    "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -s stop 2>/dev/null || true
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
}
trap stop_all EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

stream_module=/usr/lib/nginx/modules/ngx_stream_module.so
load_stream=""
[ -f "$stream_module" ] && load_stream="load_module $stream_module;"
cat > "$prefix/nginx.conf" <<CONF
$load_stream
load_module $module;
worker_processes 1;
error_log $prefix/logs/error.log notice;
pid $prefix/nginx.pid;
events { worker_connections 4096; }
stream {
    sift_redis name=bench server=127.0.0.1:$redis_port keepalive=8;
    sift_rate_zone \$binary_remote_addr zone=local:1m rate=1000000r/s;
    sift_rate_zone \$binary_remote_addr zone=synced:1m rate=1000000r/s sync=bench;
    sift_rate_zone \$binary_remote_addr zone=batch100:1m rate=1000000r/s sync=bench sync_batch=100;
    sift_rate_zone \$binary_remote_addr zone=batch1:1m rate=1000000r/s sync=bench sync_batch=1;
    server { listen 127.0.0.1:$((port + 1)); sift on; sift_rate zone=local burst=1000000; return "ok\n"; }
    server { listen 127.0.0.1:$((port + 2)); sift on; sift_rate zone=synced burst=1000000; return "ok\n"; }
    server { listen 127.0.0.1:$((port + 3)); sift on; sift_rate zone=batch100 burst=1000000; return "ok\n"; }
    server { listen 127.0.0.1:$((port + 4)); sift on; sift_rate zone=batch1 burst=1000000; return "ok\n"; }
}
CONF
"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -t -q
"$nginx" -p "$prefix" -c "$prefix/nginx.conf"
sleep 0.3

say "$clients clients, ${seconds}s per case, $rounds rounds (curl ClientHello)"
python3 - "$port" "$seconds" "$rounds" "$clients" "$top/t/data/clienthello-curl.hex" "$prefix/result.json" "$redis_port" <<'PY'
import json, multiprocessing, socket, statistics, subprocess, sys, time

base, seconds, rounds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hello = bytes.fromhex("".join(open(sys.argv[5]).read().split()))
out, redis_port = sys.argv[6], sys.argv[7]
cases = [("local", base + 1), ("synced", base + 2), ("batch100", base + 3), ("batch1", base + 4)]

def client(port, until, queue):
    done, errors, lat = 0, 0, []
    while time.perf_counter() < until:
        start = time.perf_counter()
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(hello)
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                answer += chunk
            s.close()
        except OSError:
            answer = b""
        if answer == b"ok\n":
            done += 1
            lat.append((time.perf_counter() - start) * 1e6)
        else:
            errors += 1
    queue.put((done, errors, lat))

def run(port):
    queue = multiprocessing.Queue()
    until = time.perf_counter() + seconds
    procs = [multiprocessing.Process(target=client, args=(port, until, queue)) for _ in range(clients)]
    for p in procs: p.start()
    results = [queue.get() for _ in procs]
    for p in procs: p.join()
    done = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[2])
    return done / seconds, sum(r[1] for r in results), lat

def redis_stat(field):
    info = subprocess.run(["redis-cli", "-p", redis_port, "INFO"], capture_output=True, text=True).stdout
    for line in info.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    return -1

rates = {name: [] for name, _ in cases}
lats = {name: [] for name, _ in cases}
errors = {name: 0 for name, _ in cases}
calls = {name: 0 for name, _ in cases}
for r in range(rounds):
    for name, port in cases:
        before = redis_stat("total_commands_processed")
        rate, err, lat = run(port)
        calls[name] += max(0, redis_stat("total_commands_processed") - before - 1) // 2
        rates[name].append(rate); lats[name] += lat; errors[name] += err
        print(f"  round {r + 1} {name:9} {rate:8.0f} conn/s  errors {err}", flush=True)

def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")

local = statistics.median(rates["local"])
result = {}
print(f"{'case':9} {'conn/s':>8} {'vs local':>8} {'p50 µs':>8} {'p99 µs':>8} {'Redis calls':>11} {'errors':>6}")
for name, _ in cases:
    v = sorted(lats[name])
    med = statistics.median(rates[name])
    result[name] = {"conn_per_s": med, "ratio": med / local, "p50_us": pct(v, .5), "p99_us": pct(v, .99),
                    "redis_calls": calls[name], "errors": errors[name], "runs": rates[name]}
    print(f"{name:9} {med:8.0f} {med / local:8.3f} {pct(v, .5):8.1f} {pct(v, .99):8.1f} {calls[name]:11} {errors[name]:6}")
result["redis_connections_received"] = redis_stat("total_connections_received")
print(f"Redis connections received in all: {result['redis_connections_received']} (keepalive=8; redis-cli's INFO calls included)")
json.dump(result, open(out, "w"), indent=1)
bad = [n for n in result if isinstance(result[n], dict) and result[n]["errors"]]
if bad:
    raise SystemExit(f"bench-cluster: failed connections in {bad}")
PY
if grep -E '\[(alert|crit|emerg)\]' "$prefix/logs/error.log"; then
    echo "bench-cluster: nginx logged the lines above" >&2
    exit 1
fi
say "result: $prefix/result.json"
