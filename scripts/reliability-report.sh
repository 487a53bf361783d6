#!/usr/bin/env bash
# Renders the README's reliability figures from the last runs' results
# (target/reliability/{valgrind,soak,slow-clients,fuzz}.json, written by
# scripts/valgrind.sh, scripts/soak.sh, scripts/slow-clients.sh and
# scripts/fuzz.sh) between the markers
#   <!-- reliability:begin ... -->  and  <!-- reliability:end -->
# of README.md (or FILE). The test command runs it after those steps, so
# the README shows the figures of the last run, never typed by hand.
#
#   scripts/reliability-report.sh [FILE]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
file=${1:-README.md}
python3 - "$top/target/reliability" "$file" <<'PY'
import datetime, json, os, re, subprocess, sys

results, path = sys.argv[1], sys.argv[2]

def load(name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None, None
    when = datetime.datetime.fromtimestamp(os.path.getmtime(p), datetime.timezone.utc)
    return json.load(open(p)), when.strftime("%Y-%m-%d")

def n(x):
    return "{:,}".format(x) if isinstance(x, int) else str(x)

lines = []
nginx = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True).stderr.strip().replace("nginx version: ", "")
lines.append("Figures of the last `scripts/test.sh` run (Debian bookworm, %s, 2 cores, shared with other jobs):" % nginx)
lines.append("")
lines.append("| check | command | result |")
lines.append("| --- | --- | --- |")
v, d = load("valgrind")
if v:
    origins = v.get("other_leak_origins") or {}
    other = ", ".join("`%s` %d" % (k, c) for k, c in sorted(origins.items())) or "none"
    lines.append("| memcheck over the suite (%s) | `scripts/valgrind.sh%s` | %s test files, %s nginx processes under memcheck: **%s errors** (invalid reads/writes/frees, uninitialised values), **%s leaks with a sift frame**; other leak records, none in sift (where allocated: %s); %s s |"
                 % (d, " FULL" if v["mode"] == "full" else "", v["files"], n(v["processes"]), v["errors"], v["sift_leaks"],
                    other, v["seconds"]))
s, d = load("soak")
if s:
    t, u = s["tcp"], s["udp"]
    lines.append("| reloads under load (%s) | `scripts/soak.sh %d` | %d s, %d workers, `nginx -s reload` every 2 s (%d reloads): TCP through sift **%s connections, %s failed** (ssl_preread control: %s, %s failed); QUIC over UDP through sift %s sessions (%s over several datagrams), %s failed, %s of them hellos over several datagrams caught by a reload (nginx's own UDP proxy control: %s, %s failed); %d [alert]/[crit] (%d known: UDP held across a reload), %d workers lost, rate zone created %d time |"
                 % (d, s["seconds"], s["seconds"], s["workers"], s["reloads"], n(t["sift"]["connections"]), t["sift"]["failed"],
                    n(t["ssl_preread"]["connections"]), t["ssl_preread"]["failed"], n(u["sift"]["sessions"]),
                    n(u["sift"]["multi_datagram"]), u["sift"]["failed"], u.get("sift_failed_at_reload", "?"), n(u["control"]["sessions"]), u["control"]["failed"],
                    s["alert_crit_emerg"], s.get("known_udp_reload_alerts", 0), s["worker_signals"], s["rate_zone_created"]))
    a = s.get("auth")
    if a:
        lines[-1] = lines[-1][:-2] + ("; sift_auth_request to an http service in the same nginx: %s sessions allowed, %s denied, **%s failed or wrongly decided** |"
                                      % (n(a["allowed"]), n(a["denied"]), a["wrong_count"] + a["clients"]["allowed"]["failed"] + a["clients"]["denied"]["failed"]))
    li, rs = s.get("list"), s.get("redis")
    if li and rs:
        lines[-1] = lines[-1][:-2] + ("; a list zone synced with a redis-server of its own, written by the HTTP API every 75 ms: **%s API writes, %s failed**; the listed SNI **refused %s times, answered %s**, another SNI answered %s times; **%s Redis sync failures** (list and Redis-synced rate zone), list.test in Redis at the end: %s |"
                                      % (n(s["api_writes"]), s["api_failures"], n(s["listed_refused"]), s["listed_answered"],
                                         n(li["allowed_answered"]), s["redis_sync_failures"], "yes" if rs["listed_in_redis"] else "**no**"))
c, d = load("slow-clients")
if c and "bytes_per_idle_sift" in c:
    nc = c.get("normal_client", {})
    lines.append("| slow and idle clients (%s) | `scripts/slow-clients.sh` | %s idle connections: **%s bytes each** in sift's worker, ssl_preread's **%s**; all ended by the timeout; %s clients dripping a hello one byte every %d ms: %s answered; %s UDP sessions holding half a QUIC hello: %s answered at sift_timeout; a normal client meanwhile: p50 %s ms, p99 %s ms over %s connections, %s failed |"
                 % (d, n(c["idle"]), n(c["bytes_per_idle_sift"]), n(c["bytes_per_idle_ssl_preread"]), n(c["drip"]), c["drip_ms"],
                    n(c["drip_answered"]), n(c["udp"]), n(c["udp_held_answered_after_timeout"]), nc.get("p50_ms"),
                    nc.get("p99_ms"), n(nc.get("requests")), nc.get("failed")))
f, d = load("fuzz")
if f:
    parts = ", ".join("%s %s" % (name, n(t["executions"])) for name, t in sorted(f["targets"].items()))
    crashed = [name for name, t in f["targets"].items() if t["exit"] != 0]
    lines.append("| fuzzing (%s) | `scripts/fuzz.sh %d` | %d s per target, executions: %s; %s |"
                 % (d, f["seconds_per_target"], f["seconds_per_target"], parts,
                    "crashed: " + ", ".join(crashed) if crashed else "no crash"))
if len(lines) == 4:
    sys.exit("reliability-report.sh: no results under %s (run scripts/test.sh)" % results)

text = open(path).read()
begin = re.search(r"<!-- reliability:begin[^>]*-->\n", text)
end = text.find("<!-- reliability:end -->")
if not begin or end < begin.end():
    sys.exit("reliability-report.sh: no reliability markers in %s" % path)
new = text[:begin.end()] + "\n".join(lines) + "\n" + text[end:]
if new != text:
    open(path, "w").write(new)
print("reliability-report.sh: %s updated (%d rows)" % (path, len(lines) - 4))
PY
