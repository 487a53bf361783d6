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
# while `nginx -s reload` runs every 2 s. Fails on: a failed TCP
# connection beyond its control's count in the same run; a failed UDP
# session other than a hello over several datagrams begun within a second
# of a reload (nginx's own UDP proxy, the control, loses its sessions open
# at a reload too); any [alert]/[crit]/[emerg] in the error log (for the
# UDP servers: one whose message the UDP control does not also log in the
# same run); an auth session not decided as the service said (allowed
# with 200, denied with 403: a failed call, a timeout, a wrong decision)
# or a failed connection of the auth clients, beyond the TCP control's
# failures; a worker exiting on a signal; the rate zone created more than
# once (sift logs its capacity at notice each
# time it creates one), or no reload taking effect. The UDP servers listen
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
# Not covered yet: a list zone written by the HTTP API, a Redis-synced
# zone.
# SIFT_MODULE: the module (default target/modules/release/...).
# Result: target/reliability/soak.json.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${1:-30}
module=${SIFT_MODULE:-$top/target/modules/release/ngx_stream_sift_module.so}
[ -f "$module" ] || { echo "soak.sh: no $module (scripts/build-module.sh release)" >&2; exit 1; }
nginx=/usr/sbin/nginx
prefix=$top/target/reliability/soak
base=${SIFT_SOAK_PORT:-$((21000 + $$ % 1000 * 8))}
p_sift=$base p_ctl=$((base + 1)) p_usift=$((base + 2)) p_uctl=$((base + 3)) p_uback=$((base + 4))
p_auth=$((base + 5)) p_asift=$((base + 6))
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
}
EOF
"$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf" -t -q
: > "$prefix/logs/error.log"   # what nginx -t logged (it creates the zones too)
python3 scripts/reliability/udp_backend.py --port "$p_uback" --delay 0.3 --seconds $((seconds + 15)) &
backend=$!
say "nginx on 127.0.0.1:$p_sift (sift), :$p_ctl (ssl_preread), udp :$p_usift (sift QUIC), :$p_uctl (udp control); ${seconds}s, reload every 2 s"
"$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf"
stop_nginx() {
    if [ -f "$prefix/nginx.pid" ]; then
        "$nginx" -p "$prefix" -c "$prefix/conf/nginx.conf" -s quit 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$prefix/nginx.pid" ] || break; sleep 0.1; done
    fi
}
trap 'stop_nginx; kill $backend 2>/dev/null || true' EXIT
sleep 0.5

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
say "$reloads reloads; waiting for the clients"
rc=0
wait "$lg_sift" || rc=1
wait "$lg_ctl" || rc=1
wait "$lg_aok" || rc=1
wait "$lg_ano" || rc=1
wait "$u_sift" || rc=1
wait "$u_ctl" || rc=1
[ $rc = 0 ] || { echo "soak.sh: a load client failed:" >&2; cat "$prefix"/loadgen-*.txt "$prefix"/udp-*.err >&2; }
# Let the last reload's old workers finish, then stop.
sleep 1
stop_nginx
kill "$backend" 2>/dev/null || true
trap - EXIT

python3 - "$prefix" "$top/target/reliability/soak.json" "$seconds" "$reloads" "$rc" "$p_usift" "$p_uctl" "127.0.0.1:$p_asift" <<'PY'
import json, os, re, sys

prefix, out, seconds, reloads, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
usift, uctl = "127.0.0.1:" + sys.argv[6], "127.0.0.1:" + sys.argv[7]

def loadgen(name):
    text = open("%s/loadgen-%s.txt" % (prefix, name)).read()
    m = re.search(r"^RESULT .*?total=(\d+) errors=(\d+) p50_us=(\d+) .*?p99_us=(\d+)", text, re.M)
    if not m:
        sys.exit("soak.sh: no RESULT line from loadgen (%s):\n%s" % (name, text))
    return {"connections": int(m.group(1)), "failed": int(m.group(2)),
            "p50_us": int(m.group(3)), "p99_us": int(m.group(4))}

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
r = {
    "seconds": seconds, "workers": 2, "reloads": reloads, "reloads_seen": reload_seen,
    "tcp": {"sift": loadgen("sift"), "ssl_preread": loadgen("control")},
    "auth": dict(auth, clients={"allowed": loadgen("auth_allowed"), "denied": loadgen("auth_denied")}),
    "udp": {"sift": udp("sift"), "control": udp("control")},
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
for p in problems:
    print("soak.sh: FAILED: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "soak.sh: passed (target/reliability/soak.json)"
