#!/usr/bin/env bash
# Reloads under load: Debian's nginx with 2 workers and the sift module,
#   - TCP: a sift server with access rules and a rate zone (return
#     $sift_tls_sni), and its control, nginx's own ssl_preread (return
#     $ssl_preread_server_name), each loaded by bench/loadgen with a
#     ClientHello (bench/payloads/curl.hex) for the whole run;
#   - UDP: a sift QUIC server (return $sift_protocol) and its control (a
#     plain nginx UDP proxy to scripts/reliability/udp_backend.py, which
#     answers after 0.3 s, so that its sessions too are open across
#     reloads), each loaded by scripts/reliability/udp_sessions.py with the
#     QUIC flows of sift-core/testdata/quic (one, two and three Initial
#     datagrams);
#   - auth: a sift server with sift_auth_request to an HTTP authorization
#     service in the same nginx (an http server answering 204, or 403 for
#     the SNI evil.test), loaded with a hello it allows and one it denies;
#   - a live list and Redis: a sift server denying the SNIs of a list zone
#     (sift_list_zone ... timeout=5s sync=soak_redis sync_interval=500ms,
#     sift_deny $soak_blocked) with a Redis-synced rate zone (sync=,
#     sync_batch=100, a limit the load never reaches), against Debian's
#     redis-server started on a port of the soak's own (own directory, no
#     persistence, stopped at the end); scripts/reliability/api_writer.py
#     POSTs list.test to the API (an http server of the same nginx, sift_api
#     write=on) once at the start, then PATCHes a batch of new and deleted
#     keys (and list.test again) every 75 ms and GETs list.test each second;
#     loaded with a hello for list.test (refused every time) and one for
#     localhost (always answered);
# while `nginx -s reload` runs every 2 s. Fails on: a failed TCP
# connection beyond its control's count in the same run; a failed UDP
# session other than a hello over several datagrams begun within a second
# of a reload (nginx's own UDP proxy, the control, loses its sessions open
# at a reload too); any [alert]/[crit]/[emerg] in the error log (for the
# UDP servers: one whose message the UDP control does not also log in the
# same run); an auth session not decided as the service said (allowed
# with 200, denied with 403: a failed call, a timeout, a wrong decision)
# or a failed connection of the auth clients, beyond the TCP control's
# failures; an API answer other than the one expected (201, 204, 200) or
# none; a list.test session answered (by the client's count or the access
# log), a localhost one refused, or failed connections of the list clients
# beyond the TCP control's; a sync with Redis that failed (the metric
# sift_list_sync_failures_total, or a log line of the list's or the rate
# zone's sync or of the call to Redis); changes still pending 1.5 s after
# the writer stops, or the live entries of the host (GET) and of Redis
# (HGETALL sift:list:soak_list) differing then; a worker exiting on a signal; the rate zone created more than
# once (sift logs its capacity at notice each
# time it creates one; the same for the list zone and the synced rate
# zone), or no reload taking effect. The UDP servers listen
# with reuseport, as QUIC with several workers needs (without it the
# datagrams of one hello are read by different workers and the hello is
# never whole: measured 12 of 170 two- and three-datagram flows lost in 10 s).
# Known, reported, not failing (SIFT_SOAK_STRICT=1 fails on it): a UDP
# session held for the rest of a hello at a reload outlives the old
# worker's listening socket and logs "sendmsg() failed (9: Bad file
# descriptor)" / "(106: ...)" at alert when sift_timeout ends it.
#
#   scripts/soak.sh [SECONDS]     (default 30; the test command runs 30)
#
# SIFT_MODULE: the module (default target/modules/release/...).
# SIFT_SOAK_PORT: the first of 10 ports (default from the shell's pid).
# Needs redis-server and redis-cli (Debian's redis-server package).
# Result: target/reliability/soak.json.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-30}
module=${SIFT_MODULE:-$top/target/modules/release/ngx_stream_sift_module.so}
[ -f "$module" ] || { echo "soak.sh: no $module (scripts/build-module.sh release)" >&2; exit 1; }
nginx=/usr/sbin/nginx
prefix=$top/target/reliability/soak
# Below 32768: ports in Linux's ephemeral range (ip_local_port_range) may be
# taken by any client connection of the moment (bind() then fails).
base=${SIFT_SOAK_PORT:-$((21000 + $$ % 700 * 16))}
p_sift=$base p_ctl=$((base + 1)) p_usift=$((base + 2)) p_uctl=$((base + 3)) p_uback=$((base + 4))
p_auth=$((base + 5)) p_asift=$((base + 6)) p_redis=$((base + 7)) p_lsift=$((base + 8)) p_api=$((base + 9))
for tool in redis-server redis-cli curl; do
    command -v "$tool" >/dev/null || { echo "soak.sh: needs $tool (apt-get install redis-server curl)" >&2; exit 1; }
done
say() { printf '==> soak: %s\n' "$*"; }

say "building bench/loadgen"
cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
loadgen=$top/bench/loadgen/target/release/loadgen
[ -x "$loadgen" ] || loadgen=$top/target/release/loadgen
[ -x "$loadgen" ] || { echo "soak.sh: loadgen not built" >&2; exit 1; }

rm -rf "$prefix"
mkdir -p "$prefix/logs" "$prefix/conf"
# The curl hello with the SNI the auth service denies (same length).
tr -d ' \n' < bench/payloads/curl.hex | sed "s/$(printf localhost | od -An -tx1 | tr -d ' \n')/$(printf evil.test | od -An -tx1 | tr -d ' \n')/" > "$prefix/denied.hex"
grep -q "$(printf evil.test | od -An -tx1 | tr -d ' \n')" "$prefix/denied.hex" || { echo "soak.sh: could not make the denied hello" >&2; exit 1; }
# The hello with the SNI the API lists (same length again).
tr -d ' \n' < bench/payloads/curl.hex | sed "s/$(printf localhost | od -An -tx1 | tr -d ' \n')/$(printf list.test | od -An -tx1 | tr -d ' \n')/" > "$prefix/listed.hex"
grep -q "$(printf list.test | od -An -tx1 | tr -d ' \n')" "$prefix/listed.hex" || { echo "soak.sh: could not make the listed hello" >&2; exit 1; }
cat > "$prefix/conf/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $module;
worker_processes 2;
error_log $prefix/logs/error.log info;
pid $prefix/nginx.pid;
events { worker_connections 4096; }
stream {
    sift_rate_zone \$binary_remote_addr zone=soak_rate:1m rate=100000r/s;
    map \$sift_tls_sni \$soak_bad_sni { evil.example 1; default ""; }
    server {
        listen 127.0.0.1:$p_sift;
        sift on;
        sift_timeout 5s;
        sift_deny 10.0.0.0/8;
        sift_deny 192.168.0.0/16;
        sift_deny \$soak_bad_sni;
        sift_allow all;
        sift_rate zone=soak_rate burst=1000000;
        return \$sift_tls_sni;
    }
    server {
        listen 127.0.0.1:$p_ctl;
        ssl_preread on;
        preread_timeout 5s;
        return \$ssl_preread_server_name;
    }
    server {
        listen 127.0.0.1:$p_usift udp reuseport;
        sift on;
        sift_timeout 5s;
        sift_deny 10.0.0.0/8;
        sift_allow all;
        sift_rate zone=soak_rate burst=1000000;
        return "\$sift_protocol \$sift_quic_version\n";
    }
    server {
        listen 127.0.0.1:$p_uctl udp reuseport;
        proxy_pass 127.0.0.1:$p_uback;
        proxy_responses 1;
        proxy_timeout 5s;
    }
    log_format soak_auth '\$sift_tls_sni \$sift_auth \$sift_auth_status \$status';
    server {
        listen 127.0.0.1:$p_asift;
        sift on;
        sift_timeout 5s;
        sift_auth_request http://127.0.0.1:$p_auth/check;
        sift_auth_request_timeout 3s;
        access_log $prefix/logs/auth.log soak_auth;
        return "\$sift_tls_sni \$sift_auth";
    }
    # timeout=1s: Redis shares the 2 cores with the load, so that a failed
    # sync means breakage, not a starved redis-server.
    sift_redis name=soak_redis server=127.0.0.1:$p_redis timeout=1s;
    sift_rate_zone \$binary_remote_addr zone=soak_sync_rate:1m rate=100000r/s sync=soak_redis sync_batch=100;
    sift_list_zone zone=soak_list:1m timeout=5s sync=soak_redis sync_interval=500ms;
    sift_list \$sift_tls_sni \$soak_blocked zone=soak_list;
    log_format soak_list '\$sift_tls_sni \$status';
    server {
        listen 127.0.0.1:$p_lsift;
        sift on;
        sift_timeout 5s;
        sift_deny \$soak_blocked;
        sift_allow all;
        sift_rate zone=soak_sync_rate burst=1000000;
        access_log $prefix/logs/list.log soak_list;
        return \$sift_tls_sni;
    }
}
http {
    access_log off;
    server {
        listen 127.0.0.1:$p_auth;
        location = /check {
            if (\$http_x_sift_sni = evil.test) { return 403; }
            return 204;
        }
    }
    server {
        listen 127.0.0.1:$p_api;
        location /sift/ { sift_api write=on; }
        location = /metrics { sift_metrics; }
    }
}
EOF
mkdir -p "$prefix/redis"
redis-server --port "$p_redis" --bind 127.0.0.1 --dir "$prefix/redis" --save '' --appendonly no \
    --daemonize no > "$prefix/logs/redis.log" 2>&1 &
redis=$!
trap 'kill $redis 2>/dev/null || true' EXIT
rcli() { redis-cli -p "$p_redis" "$@"; }
for _ in $(seq 100); do [ "$(rcli PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(rcli PING 2>/dev/null)" = PONG ] || { echo "soak.sh: redis-server did not start:" >&2; cat "$prefix/logs/redis.log" >&2; exit 1; }
"$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf" -t -q
: > "$prefix/logs/error.log"   # what nginx -t logged (it creates the zones too)
python3 scripts/reliability/udp_backend.py --port "$p_uback" --delay 0.3 --seconds $((seconds + 15)) &
backend=$!
say "nginx on 127.0.0.1:$p_sift (sift), :$p_ctl (ssl_preread), udp :$p_usift (sift QUIC), :$p_uctl (udp control), :$p_asift (auth), :$p_lsift (list), :$p_api (API); redis-server :$p_redis; ${seconds}s, reload every 2 s"
"$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf"
stop_nginx() {
    if [ -f "$prefix/nginx.pid" ]; then
        "$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf" -s quit 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$prefix/nginx.pid" ] || break; sleep 0.1; done
    fi
}
trap 'stop_nginx; kill $backend $redis 2>/dev/null || true' EXIT
sleep 0.5

# list.test is POSTed once before its client starts; the writer goes on.
python3 scripts/reliability/api_writer.py --url "http://127.0.0.1:$p_api/sift/lists/soak_list" \
    --listed list.test --seconds "$seconds" --ready "$prefix/api-ready" \
    > "$prefix/api-writer.json" 2> "$prefix/api-writer.err" &
writer=$!
for _ in $(seq 50); do [ -f "$prefix/api-ready" ] && break; sleep 0.1; done
[ -f "$prefix/api-ready" ] || { echo "soak.sh: the API writer did not start:" >&2; cat "$prefix"/api-writer.* >&2; exit 1; }

"$loadgen" --addr "127.0.0.1:$p_sift" --payload bench/payloads/curl.hex --expect localhost \
    --concurrency 8 --warmup 0s --duration "${seconds}s" --timeout 5s --name sift \
    > "$prefix/loadgen-sift.txt" 2>&1 &
lg_sift=$!
"$loadgen" --addr "127.0.0.1:$p_ctl" --payload bench/payloads/curl.hex --expect localhost \
    --concurrency 8 --warmup 0s --duration "${seconds}s" --timeout 5s --name ssl_preread \
    > "$prefix/loadgen-control.txt" 2>&1 &
lg_ctl=$!
"$loadgen" --addr "127.0.0.1:$p_asift" --payload bench/payloads/curl.hex --expect "localhost allowed" \
    --concurrency 4 --warmup 0s --duration "${seconds}s" --timeout 5s --name auth_allowed \
    > "$prefix/loadgen-auth_allowed.txt" 2>&1 &
lg_aok=$!
# Denied sessions end without an answer: any closed connection is fine to
# the client, the access log says how each was decided.
"$loadgen" --addr "127.0.0.1:$p_asift" --payload "$prefix/denied.hex" \
    --concurrency 4 --warmup 0s --duration "${seconds}s" --timeout 5s --name auth_denied \
    > "$prefix/loadgen-auth_denied.txt" 2>&1 &
lg_ano=$!
"$loadgen" --addr "127.0.0.1:$p_lsift" --payload bench/payloads/curl.hex --expect localhost \
    --concurrency 4 --warmup 0s --duration "${seconds}s" --timeout 5s --name list_allowed \
    > "$prefix/loadgen-list_allowed.txt" 2>&1 &
lg_lok=$!
# A refused session ends without an answer: a "mismatch" to this client;
# an answered one is counted as its "connections".
"$loadgen" --addr "127.0.0.1:$p_lsift" --payload "$prefix/listed.hex" --expect list.test \
    --concurrency 4 --warmup 0s --duration "${seconds}s" --timeout 5s --name list_listed \
    > "$prefix/loadgen-list_listed.txt" 2>&1 &
lg_lno=$!
python3 scripts/reliability/udp_sessions.py --addr "127.0.0.1:$p_usift" --expect quic \
    --seconds "$seconds" --threads 4 > "$prefix/udp-sift.json" 2> "$prefix/udp-sift.err" &
u_sift=$!
python3 scripts/reliability/udp_sessions.py --addr "127.0.0.1:$p_uctl" --expect x \
    --seconds "$seconds" --threads 4 > "$prefix/udp-control.json" 2> "$prefix/udp-control.err" &
u_ctl=$!

reloads=0
end=$((SECONDS + seconds))
while [ $SECONDS -lt "$end" ]; do
    sleep 2
    [ $SECONDS -lt "$end" ] || break
    date +%s.%N >> "$prefix/reloads.txt"
    "$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf" -s reload
    reloads=$((reloads + 1))
done
rc=0
# The list's last changes reach Redis (a sync every 500 ms): then both
# sides, while the newest entries are still live (timeout=5s), the host's
# list read before and after Redis's (an entry live after Redis's read
# must be there; one live in Redis when it was read must be on the host).
wait "$writer" || rc=1
sleep 1.5
curl -sS --max-time 5 "http://127.0.0.1:$p_api/metrics" > "$prefix/metrics-list.txt" || rc=1
curl -sS --max-time 5 "http://127.0.0.1:$p_api/sift/lists/soak_list" > "$prefix/list-host.json" || rc=1
rcli --json HGETALL sift:list:soak_list > "$prefix/list-redis.json" 2>&1 || rc=1
rcli --json HGETALL sift:list:soak_list:expires > "$prefix/list-redis-expires.json" 2>&1 || rc=1
date +%s.%N > "$prefix/list-read-at.txt"
curl -sS --max-time 5 "http://127.0.0.1:$p_api/sift/lists/soak_list" > "$prefix/list-host-after.json" || rc=1
say "$reloads reloads; waiting for the clients"
wait "$lg_sift" || rc=1
wait "$lg_ctl" || rc=1
wait "$lg_aok" || rc=1
wait "$lg_ano" || rc=1
wait "$lg_lok" || rc=1
# Every refused session is an error to this client: its exit says nothing.
wait "$lg_lno" || true
wait "$u_sift" || rc=1
wait "$u_ctl" || rc=1
[ $rc = 0 ] || { echo "soak.sh: a load client failed:" >&2; cat "$prefix"/loadgen-*.txt "$prefix"/udp-*.err "$prefix"/api-writer.* >&2; }
# Let the last reload's old workers finish, then stop.
sleep 1
curl -sS --max-time 5 "http://127.0.0.1:$p_api/metrics" > "$prefix/metrics.txt" || rc=1
rcli INFO commandstats > "$prefix/redis-commandstats.txt" 2>&1 || rc=1
stop_nginx
kill "$backend" "$redis" 2>/dev/null || true
wait "$redis" 2>/dev/null || true
trap - EXIT

python3 - "$prefix" "$top/target/reliability/soak.json" "$seconds" "$reloads" "$rc" "$p_usift" "$p_uctl" "127.0.0.1:$p_asift" \
    "127.0.0.1:$p_lsift" "127.0.0.1:$p_redis" <<'PY'
import json, os, re, sys

prefix, out, seconds, reloads, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
usift, uctl = "127.0.0.1:" + sys.argv[6], "127.0.0.1:" + sys.argv[7]

def loadgen(name):
    text = open("%s/loadgen-%s.txt" % (prefix, name)).read()
    m = re.search(r"^RESULT .*?total=(\d+) errors=(\d+) p50_us=(\d+) .*?p99_us=(\d+)", text, re.M)
    if not m:
        sys.exit("soak.sh: no RESULT line from loadgen (%s):\n%s" % (name, text))
    e = re.search(r"errors: +\d+ \(connect (\d+), reset (\d+), mismatch (\d+), timeout (\d+)\)", text)
    return {"connections": int(m.group(1)), "failed": int(m.group(2)),
            "p50_us": int(m.group(3)), "p99_us": int(m.group(4)),
            "mismatch": int(e.group(3)) if e else None}

def udp(name):
    return json.load(open("%s/udp-%s.json" % (prefix, name)))

log = open(prefix + "/logs/error.log", errors="replace").read()
def kind(line):   # the message without time, pids and connection number
    return re.sub(r"^.*?\[(alert|crit|emerg)\] \d+#\d+: (\*\d+ )?", "", line).split(" while ")[0]
severe = [l for l in log.splitlines() if re.search(r"\[(alert|crit|emerg)\]", l)]
control_kinds = {kind(l) for l in severe if "server: " + uctl in l}
# Known and reported, not failing unless SIFT_SOAK_STRICT=1: a UDP session
# sift holds for the rest of a hello when a reload comes outlives the old
# worker's listening socket; at sift_timeout its answer fails with
# "sendmsg() failed (9: Bad file descriptor)" or "(106: Transport endpoint
# is already connected)" at alert.
known_re = re.compile(r"sendmsg\(\) failed \((9|106): .*server: " + re.escape(usift) + r"$")
strict = os.environ.get("SIFT_SOAK_STRICT") == "1"
known = [l for l in severe if known_re.search(l)] if not strict else []
bad = [l for l in severe if "server: " + uctl not in l and l not in known
       and not ("server: " + usift in l and kind(l) in control_kinds)]
both = [l for l in severe if l not in bad and l not in known]
signals = [l for l in log.splitlines() if "exited on signal" in l]
zones = len(re.findall(r'sift_rate_zone "soak_rate": \d+ keys', log))
reload_seen = len(re.findall(r"signal 1 \(SIGHUP\) received", log))
# Every auth session: decided as the service says, nothing else. An
# allowed session may end with 500 when the client is gone before its
# answer (the load clients reset what is in flight when they stop): as
# many as the error log has "writev() failed (104: ...)" for that server.
auth = {"allowed": 0, "denied": 0, "wrong": [], "client_gone": 0}
for line in open(prefix + "/logs/auth.log", errors="replace"):
    f = line.split()
    if f[:4] == ["localhost", "allowed", "204", "200"]:
        auth["allowed"] += 1
    elif f[:4] == ["localhost", "allowed", "204", "500"]:
        auth["client_gone"] += 1
    elif f[:4] == ["evil.test", "denied", "403", "403"]:
        auth["denied"] += 1
    else:
        auth["wrong"].append(line.strip())
resets = len(re.findall(r"writev\(\) failed \(104: [^)]*\) while returning text, client: \S+, server: "
                        + re.escape(sys.argv[8]) + r"$", log, re.M))
if auth["client_gone"] > resets:
    auth["wrong"].append("%d allowed sessions ended with 500, %d writes to a client that reset"
                         % (auth["client_gone"], resets))
auth["wrong_count"] = len(auth["wrong"])
auth["wrong"] = auth["wrong"][:10]

# The live list: every session as the list said (list.test refused with
# 403, localhost answered with 200; 500 only for a client gone, as above).
lsrv, rsrv = sys.argv[9], sys.argv[10]
lst = {"listed_refused": 0, "listed_answered": 0, "allowed_answered": 0, "client_gone": 0, "wrong": []}
for line in open(prefix + "/logs/list.log", errors="replace"):
    f = line.split()
    if f == ["list.test", "403"]:
        lst["listed_refused"] += 1
    elif f[:1] == ["list.test"]:
        lst["listed_answered"] += f[1:] == ["200"]
        lst["wrong"].append(line.strip())
    elif f == ["localhost", "200"]:
        lst["allowed_answered"] += 1
    elif f == ["localhost", "500"]:
        lst["client_gone"] += 1
    else:
        lst["wrong"].append(line.strip())
resets = len(re.findall(r"writev\(\) failed \(104: [^)]*\) while returning text, client: \S+, server: "
                        + re.escape(lsrv) + r"$", log, re.M))
if lst["client_gone"] > resets:
    lst["wrong"].append("%d localhost sessions ended with 500, %d writes to a client that reset"
                        % (lst["client_gone"], resets))
lst["wrong_count"] = len(lst["wrong"])
lst["wrong"] = lst["wrong"][:10]
lst["clients"] = {"allowed": loadgen("list_allowed"), "listed": loadgen("list_listed")}
api = json.load(open(prefix + "/api-writer.json"))
lst.update(api_writes=api["writes"], api_reads=api["reads"], api_failures=api["failures"],
           api_failure_samples=api["samples"], api_max_ms=api["max_ms"])
# Redis: no failed sync, in the metrics (at the end) or the log; nothing
# pending once the writer stopped; the same live entries on both sides
# (Redis may still hold entries expired since its last read: they must be
# expired there too).
def metric(name, when=""):
    text = open(prefix + "/metrics%s.txt" % when, errors="replace").read()
    m = re.search(r'^%s\{list="soak_list"\} (\S+)$' % name, text, re.M)
    return float(m.group(1)) if m else None
sync_lines = [l for l in log.splitlines()
              if re.search(r'sync of sift_rate_zone "soak_sync_rate" failed|sift_list_zone "soak_list": sync with sift_redis'
                           r'|lost the list|entries in sift_redis "soak_redis" left out|call to ' + re.escape(rsrv) + " failed", l)]
failures_metric = metric("sift_list_sync_failures_total")
pending = metric("sift_list_sync_pending", "-list")
last_ok = metric("sift_list_sync_last_success_timestamp_seconds", "-list")
read_at = float(open(prefix + "/list-read-at.txt").read())
def redis_hash(name):
    text = open(prefix + "/" + name).read().strip()
    try:
        v = json.loads(text) if text else {}
    except ValueError:
        return None, text
    if isinstance(v, list):   # RESP2: key, value, key, value ...
        v = dict(zip(v[::2], v[1::2]))
    return v, None
in_redis, rerr = redis_hash("list-redis.json")
expires, _ = redis_hash("list-redis-expires.json")
def host_list(name):
    try:
        return json.load(open(prefix + "/" + name))
    except ValueError:
        return None
on_host, host_after = host_list("list-host.json"), host_list("list-host-after.json")
missing = sorted(set(on_host or {}) & set(host_after or {}) - set(in_redis or {}))
stale = sorted(k for k in set(in_redis or {}) - set(on_host or {})
               if float((expires or {}).get(k, 0) or 0) / 1000 > read_at + 0.1)
redis_zones = len(re.findall(r'sift_rate_zone "soak_sync_rate": \d+ keys', log))
list_zones = len(re.findall(r'sift_list_zone "soak_list": \d+ bytes for entries', log))
rsync = {"failures_metric": failures_metric, "pending": pending,
         "last_success_age_s": round(read_at - last_ok, 2) if last_ok else None,
         "failure_lines": len(sync_lines), "failure_samples": sync_lines[:5],
         "host_entries": len(on_host) if on_host is not None else None,
         "redis_entries": len(in_redis) if in_redis is not None else None,
         "listed_in_redis": "list.test" in (in_redis or {}),
         "missing_in_redis": missing[:10], "unknown_live_in_redis": stale[:10],
         "rate_zone_created": redis_zones, "list_zone_created": list_zones,
         # Calls Redis served, by command (the rate syncs' INCRBY, the list's EVAL).
         "redis_calls": {m.group(1): int(m.group(2)) for m in re.finditer(
             r"^cmdstat_(\w+):calls=(\d+)", open(prefix + "/redis-commandstats.txt").read(), re.M)}}
r = {
    "seconds": seconds, "workers": 2, "reloads": reloads, "reloads_seen": reload_seen,
    "tcp": {"sift": loadgen("sift"), "ssl_preread": loadgen("control")},
    "auth": dict(auth, clients={"allowed": loadgen("auth_allowed"), "denied": loadgen("auth_denied")}),
    "udp": {"sift": udp("sift"), "control": udp("control")},
    "list": lst, "redis": rsync,
    "api_writes": lst["api_writes"], "api_failures": lst["api_failures"],
    "listed_refused": lst["listed_refused"], "listed_answered": lst["listed_answered"],
    "redis_sync_failures": int(failures_metric or 0) + len(sync_lines),
    "alert_crit_emerg": len(bad), "udp_alerts_as_control": len(both), "known_udp_reload_alerts": len(known),
    "udp_alert_kinds_control": sorted(control_kinds), "worker_signals": len(signals), "rate_zone_created": zones,
}
problems = []
if rc:
    problems.append("a load client failed")
t, u = r["tcp"], r["udp"]
if t["sift"]["connections"] == 0 or u["sift"]["ok"] == 0:
    problems.append("no load went through")
if t["sift"]["failed"] > t["ssl_preread"]["failed"]:
    problems.append("TCP: %d failed connections through sift, %d through ssl_preread"
                    % (t["sift"]["failed"], t["ssl_preread"]["failed"]))
a = r["auth"]
auth_failed = a["clients"]["allowed"]["failed"] + a["clients"]["denied"]["failed"] + a["wrong_count"]
if a["allowed"] == 0 or a["denied"] == 0:
    problems.append("auth: %d sessions allowed, %d denied (want both)" % (a["allowed"], a["denied"]))
if auth_failed > t["ssl_preread"]["failed"]:
    problems.append("auth: %d failed connections or wrongly decided sessions (ssl_preread %d failed): %s"
                    % (auth_failed, t["ssl_preread"]["failed"], a["wrong"][:5]))
li = r["list"]
list_failed = (li["clients"]["allowed"]["failed"] + li["clients"]["listed"]["failed"]
               - (li["clients"]["listed"]["mismatch"] or 0) + li["wrong_count"])
if li["listed_refused"] == 0 or li["allowed_answered"] == 0:
    problems.append("list: %d list.test sessions refused, %d localhost answered (want both)"
                    % (li["listed_refused"], li["allowed_answered"]))
if li["listed_answered"] or li["clients"]["listed"]["connections"]:
    problems.append("list: list.test answered %d times (access log), %d (its client)"
                    % (li["listed_answered"], li["clients"]["listed"]["connections"]))
if list_failed > t["ssl_preread"]["failed"]:
    problems.append("list: %d failed connections or sessions not as listed (ssl_preread %d failed): %s"
                    % (list_failed, t["ssl_preread"]["failed"], li["wrong"][:5]))
if li["api_failures"] or li["api_writes"] < seconds:
    problems.append("API: %d of %d writes and %d reads failed: %s"
                    % (li["api_failures"], li["api_writes"], li["api_reads"], li["api_failure_samples"][:5]))
rs = r["redis"]
if r["redis_sync_failures"] or failures_metric is None:
    problems.append("redis: sift_list_sync_failures_total %s, %d log lines: %s"
                    % (failures_metric, len(sync_lines), sync_lines[:3]))
if pending != 0 or last_ok is None or read_at - last_ok > 2:
    problems.append("redis: %s changes still pending, last sync %s s before the end"
                    % (pending, rs["last_success_age_s"]))
if rerr is not None or on_host is None or host_after is None or not rs["listed_in_redis"] or missing or stale:
    problems.append("redis: list.test %sin Redis's list; live on the host, not in Redis: %s; live in Redis, "
                    "not on the host: %s %s" % ("" if rs["listed_in_redis"] else "NOT ", missing[:5], stale[:5], rerr or ""))
if not rs["redis_calls"].get("incrby") or not (rs["redis_calls"].get("eval") or rs["redis_calls"].get("evalsha")):
    problems.append("redis: the zones did not sync (calls Redis served: %s)" % rs["redis_calls"])
if redis_zones != 1 or list_zones != 1:
    problems.append("the synced rate zone was created %d times, the list zone %d (want once each)"
                    % (redis_zones, list_zones))
# A UDP session through sift may fail only where nginx's own do (the
# control loses its sessions open at a reload): a hello over several
# datagrams begun within a second before a reload (its datagrams then split
# between the old worker and a new one).
reload_times = [float(x) for x in open(prefix + "/reloads.txt").read().split()] if reloads else []
def at_reload(f):
    return f["datagrams"] > 1 and any(-1.0 <= r - f["began"] <= 1.0 for r in reload_times)
elsewhere = [f for f in u["sift"]["failures"] if not at_reload(f)]
r["udp"]["sift_failed_at_reload"] = u["sift"]["failed"] - len(elsewhere)
if elsewhere or len(u["sift"]["failures"]) < u["sift"]["failed"]:
    problems.append("UDP: %d sessions through sift failed away from a reload or with one datagram: %s"
                    % (len(elsewhere), elsewhere[:5]))
if u["control"]["failed"] == 0 and u["sift"]["failed"]:
    problems.append("UDP: %d failed sessions through sift, none through the control" % u["sift"]["failed"])
if bad:
    problems.append("error log: %s" % bad[:5])
if signals:
    problems.append("workers exited on a signal: %s" % signals[:5])
if zones != 1:
    problems.append("the rate zone was created %d times (want once, kept across reloads)" % zones)
if reloads == 0 or reload_seen < reloads:
    problems.append("%d reloads sent, %d seen by nginx" % (reloads, reload_seen))
r["problems"] = problems
json.dump(r, open(out, "w"), indent=1)
print("soak: auth %d allowed, %d denied, %d failed or wrongly decided (clients: %d and %d connections)"
      % (a["allowed"], a["denied"], auth_failed, a["clients"]["allowed"]["connections"],
         a["clients"]["denied"]["connections"]))
print("soak: %d s, %d reloads; TCP sift %d connections, %d failed (ssl_preread %d, %d failed); "
      "UDP sift %d sessions (%d over several datagrams), %d failed (control %d, %d failed); "
      "alert/crit %d (and %d UDP ones the control logs too, %d known: UDP held across a reload), workers on signal %d, rate zone created %d time(s)"
      % (seconds, reloads, t["sift"]["connections"], t["sift"]["failed"], t["ssl_preread"]["connections"],
         t["ssl_preread"]["failed"], u["sift"]["sessions"], u["sift"]["multi_datagram"], u["sift"]["failed"],
         u["control"]["sessions"], u["control"]["failed"], len(bad), len(both), len(known), len(signals), zones))
if known:
    print("soak.sh: KNOWN BUG (reported, not failing; SIFT_SOAK_STRICT=1 fails on it): %d [alert] lines "
          "from sift UDP sessions held across a reload, e.g. %s" % (len(known), known[0]), file=sys.stderr)
print("soak: list %d list.test sessions refused, %d answered; localhost %d answered; %d failed or not as listed; "
      "API %d writes, %d reads, %d failed (slowest %.1f ms); Redis: %d sync failures, %s pending at the end, "
      "%s entries on the host, %s in Redis, list.test in Redis: %s"
      % (li["listed_refused"], li["listed_answered"], li["allowed_answered"], list_failed, li["api_writes"],
         li["api_reads"], li["api_failures"], li["api_max_ms"], r["redis_sync_failures"], pending,
         rs["host_entries"], rs["redis_entries"], rs["listed_in_redis"]))
for p in problems:
    print("soak.sh: FAILED: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "soak.sh: passed (target/reliability/soak.json)"
