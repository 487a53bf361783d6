#!/usr/bin/env bash
# How much connection rate a fixed amount of user-space work costs in the
# connection-rate benchmark's set-up (issue #10; BENCHMARKS.md, "Why the
# small-hello targets are out of reach"). Debian's nginx, one worker pinned
# to CPU 0 with loopback's receive work steered there (as scripts/bench.sh
# does), answering `ssl_preread on; return $ssl_preread_server_name;` to
# curl's hello from bench/loadgen on CPU 1. bench/spin/spin.c, preloaded
# into nginx, adds SPIN_NS of pure user-space work (no memory, no system
# call) per connection; each round runs every amount once.
#
#   scripts/bench-amplification.sh [SECONDS] [ROUNDS] [NS,NS,...]
#                                  (default 6 s, 3 rounds, 0,250,500,1000,2000)
#
# Prints, per amount: median conn/s, the worker's CPU time per connection,
# what it added over no spin, and that divided by the spin (1.0 = the
# work costs what it takes; more = the rest of the connection got slower).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-6}
rounds=${2:-3}
amounts=${3:-0,250,500,1000,2000}
prefix=$top/target/bench-amplification
port=${SIFT_BENCH_PORT:-18470}
nginx=/usr/sbin/nginx
say() { printf '==> %s\n' "$*"; }

[ "$(nproc)" -ge 2 ] || { echo "bench-amplification: needs 2 CPUs" >&2; exit 1; }
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || { echo "bench-amplification: needs libnginx-mod-stream" >&2; exit 1; }
command -v cc > /dev/null || { echo "bench-amplification: needs a C compiler (cc)" >&2; exit 1; }

rm -rf "$prefix"
mkdir -p "$prefix/logs"
say "building bench/spin/spin.c and bench/loadgen"
cc -O2 -shared -fPIC -o "$prefix/spin.so" bench/spin/spin.c -ldl
cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
loadgen=$top/bench/loadgen/target/release/loadgen

cat > "$prefix/nginx.conf" << CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 65536;
error_log $prefix/logs/error.log warn;
pid $prefix/nginx.pid;
events { worker_connections 16384; }
stream {
    server {
        listen 127.0.0.1:$port backlog=4096;
        ssl_preread on;
        return \$ssl_preread_server_name;
    }
}
CONF

rps_file=/sys/class/net/lo/queues/rx-0/rps_cpus
rps_saved=
master=
stop_nginx() {
    if [ -n "$master" ] && kill -0 "$master" 2> /dev/null; then
        kill "$master"
        for _ in $(seq 50); do kill -0 "$master" 2> /dev/null || break; sleep 0.1; done
    fi
    master=
}
cleanup() {
    stop_nginx
    if [ -n "$rps_saved" ]; then echo "$rps_saved" > "$rps_file" 2> /dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -w "$rps_file" ]; then
    rps_saved=$(cat "$rps_file")
    echo 1 > "$rps_file"
    say "lo receive work steered to CPU 0 (rps_cpus was $rps_saved; restored at exit)"
else
    say "cannot steer lo's receive work ($rps_file not writable): results not comparable with scripts/bench.sh"
fi

results=$prefix/results.tsv
: > "$results"
IFS=, read -r -a spins <<< "$amounts"
for round in $(seq "$rounds"); do
    for ns in "${spins[@]}"; do
        rm -f "$prefix/nginx.pid"
        SPIN_NS=$ns LD_PRELOAD=$prefix/spin.so taskset -c 0 "$nginx" -p "$prefix" -c "$prefix/nginx.conf"
        for _ in $(seq 50); do [ -s "$prefix/nginx.pid" ] && break; sleep 0.1; done
        master=$(cat "$prefix/nginx.pid")
        worker=
        for _ in $(seq 50); do worker=$(pgrep -P "$master" | head -1 || true); [ -n "$worker" ] && break; sleep 0.1; done
        [ -n "$worker" ] || { echo "bench-amplification: nginx started no worker" >&2; exit 1; }
        out=$(taskset -c 1 "$loadgen" --addr "127.0.0.1:$port" --payload bench/payloads/curl.hex \
            --concurrency 64 --duration "${seconds}s" --warmup 2s --expect localhost \
            --name "spin$ns" --server-pid "$worker" 2>&1 | grep '^RESULT' || true)
        stop_nginx
        cps=$(sed -n 's/.* cps=\([0-9.]*\).*/\1/p' <<< "$out")
        cpu=$(sed -n 's/.* server_cpu=\([0-9.]*\).*/\1/p' <<< "$out")
        errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<< "$out")
        [ -n "$cps" ] || { echo "bench-amplification: loadgen failed: $out" >&2; exit 1; }
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$ns" "$cps" "$cpu" "$errors" >> "$results"
        printf '    round %s  spin %5s ns  %9s conn/s  worker %s of a CPU  errors %s\n' "$round" "$ns" "$cps" "$cpu" "$errors"
    done
done

say "median of $rounds round(s) ($seconds s each)"
printf '| spin per connection | conn/s | vs no spin | worker µs/conn | added µs/conn | added / spin |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n'
awk -F'\t' '
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { cps[$2] = cps[$2] " " $3; us[$2] = us[$2] " " (1e6 * $4 / $3); if (!($2 in seen)) { order[++k] = $2; seen[$2] = 1 } }
    END {
        base_cps = median(cps[order[1]]); base_us = median(us[order[1]])
        for (i = 1; i <= k; i++) {
            s = order[i]; c = median(cps[s]); u = median(us[s])
            ratio = (s + 0 > 0) ? sprintf("%.1f", (u - base_us) * 1000 / s) : "-"
            printf "| %d ns | %.0f | %.3f | %.1f | %+.2f | %s |\n", s, c, c / base_cps, u, u - base_us, ratio
        }
    }' "$results"
