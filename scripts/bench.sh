#!/usr/bin/env bash
# Connection-rate benchmark: Debian's nginx (one worker, loopback) answering
# `return $variable;` per connection, for a Chromium and a curl ClientHello,
# with no preread, ssl_preread, an njs SNI parser, and sift's variables.
# See BENCHMARKS.md for the method.
#
#   scripts/bench.sh                # 10 s per case and round
#   scripts/bench.sh 3s             # shorter
#   scripts/bench.sh 10s --micro    # then sift-core's criterion microbench
#   scripts/bench.sh 4s --rounds 20 --profile --cases sift_sni,sift_rules,sift_sni_twin
#                                   # the rules target, with CPU attribution
#   scripts/bench.sh --instructions [N] --cases ssl_preread,sift_sni,sift_ja4
#                                   # user-space instructions and lines of
#                                   # code per connection (callgrind, N
#                                   # connections per case and payload,
#                                   # default 500): deterministic
#
# Options: DURATION (first argument, e.g. 10s), --rounds N (default 3),
# --warmup D (default 2s), --concurrency N (default 64), --cases a,b,...,
# --payloads chromium,curl, --no-pin, --no-rps, --micro, --profile (sample
# nginx's worker with perf during each run: where its CPU time goes, in
# µs per connection), --report (only print the table of the last run again).
# Environment: SIFT_BENCH_PORT (first port, default 18400),
# SIFT_BENCH_NGINX_CPU / SIFT_BENCH_LOADGEN_CPU (default 0 / 1),
# SIFT_BENCH_MODULE (a prebuilt ngx_stream_sift_module.so: skip the build),
# SIFT_BENCH_QUIET_WAIT (seconds a run may wait for an idle machine, 60).
#
# Always exits 0 once the cases have run: targets print PASS/FAIL, they do
# not fail the script.

# shellcheck disable=SC2016 # nginx variables and awk programs in single quotes
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

duration=10s
warmup=2s
rounds=3
concurrency=64
pin=1
rps=1
profile=0
micro=0
report_only=0
instructions=0
only_cases=
only_payloads=
while [ $# -gt 0 ]; do
    case "$1" in
        --micro) micro=1 ;;
        --report) report_only=1 ;;
        --instructions)
            instructions=500
            if [[ ${2:-} =~ ^[0-9]+$ ]]; then instructions=$2; shift; fi
            ;;
        --no-pin) pin=0 ;;
        --no-rps) rps=0 ;;
        --profile) profile=1 ;;
        --rounds) rounds=$2; shift ;;
        --warmup) warmup=$2; shift ;;
        --concurrency) concurrency=$2; shift ;;
        --cases) only_cases=$2; shift ;;
        --payloads) only_payloads=$2; shift ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "bench: unknown option $1" >&2; exit 2 ;;
        *) duration=$1 ;;
    esac
    shift
done

nginx=/usr/sbin/nginx
modules=/usr/lib/nginx/modules
prefix=$top/target/bench
port_base=${SIFT_BENCH_PORT:-18400}
nginx_cpu=${SIFT_BENCH_NGINX_CPU:-0}
loadgen_cpu=${SIFT_BENCH_LOADGEN_CPU:-1}

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# --- cases ------------------------------------------------------------------
# name | server-block directives | what the answer must start with
# (@SNI@ is the payload's server_name).
all_cases=(
    'plain|return "x";|x'
    'ssl_preread|ssl_preread on; return $ssl_preread_server_name;|@SNI@'
    'njs|js_preread sni.preread; return $njs_sni;|@SNI@'
    'sift_protocol|sift on; return $sift_protocol;|tls'
    'sift_sni|sift on; return $sift_tls_sni;|@SNI@'
    'sift_ja4|sift on; return $sift_ja4;|t13d'
    # Where sift_ja4's extra time goes (#10): JA4 computed but a 4-byte
    # answer (a map reads $sift_ja4), and sift_sni with an answer as long
    # as a JA4 (36 bytes) but no JA4.
    'sift_ja4_short|sift on; return $bench_ja4_seen;|t13d'
    'sift_sni_long|sift on; return "$sift_tls_sni-answer-as-long-as-a-ja4-xx";|@SNI@'
    # The same 4-byte answer after other work on the hello: $sift_ja4_r
    # (JA4's sorting and hex, no SHA-256) and $sift_ja3 (MD5 in software).
    'sift_ja4r_short|sift on; return $bench_ja4r_seen;|t13d'
    'sift_ja3_short|sift on; return $bench_ja3_seen;|t13d'
    # The hello parsed again and a value copied into the pool, as every
    # derived variable does, but no fingerprint: $sift_tls_alpn.
    'sift_alpn|sift on; return $sift_tls_alpn;|h2'
    # sift_sni plus 10 access rules (none matches until the last) and one rate
    # limit that never refuses: the cost of rules and limits (issue target:
    # >= 0.97 x sift_sni). The rules use SNI and protocol maps, not JA4, so
    # that what is measured is the rules, not the fingerprint.
    'sift_rules|sift on; sift_deny 10.0.0.0/8; sift_deny 172.16.0.0/12; sift_deny 192.168.0.0/16; sift_deny 198.51.100.7; sift_deny 203.0.113.0/24; sift_deny 2001:db8::/32; sift_deny unix:; sift_deny $bench_bad_sni; sift_deny $bench_not_tls; sift_allow all; sift_rate zone=bench_rate burst=1000000; return $sift_tls_sni;|@SNI@'
    # The A/A control: the very server of sift_sni on another port. How far
    # apart two identical servers measure is this machine's noise floor.
    'sift_sni_twin|sift on; return $sift_tls_sni;|@SNI@'
    # sift_protocol with ten user-defined signatures (five prefixes, five
    # patterns): built-in detectors decide TLS and HTTP first, so the
    # signatures should cost nothing there (issue #16 target: >= 0.98 x
    # sift_protocol).
    'sift_signatures|sift on; sift_signature game prefix=cafe0001; sift_signature legacy prefix=4c4f47 offset=4; sift_signature rpc1 prefix=52504331; sift_signature beacon prefix=be:ac:00; sift_signature probe prefix=ffff0000; sift_signature device "pattern=HELLO [A-Z0-9]{8}\\r?\\n"; sift_signature banner "pattern=(?i)hi there" min=8; sift_signature magic "pattern=\\x00\\x01[\\x00-\\x0f]"; sift_signature chat "pattern=CHAT/[0-9]\\.[0-9] "; sift_signature query "pattern=Q[A-Z]{3}:" min=5; return $sift_protocol;|tls'
    # sift_sni with a live list consulted per session (sift_deny of a
    # sift_list variable keyed by the SNI, in a list of 1,000 entries that
    # does not hold it): what a lookup under the zone's lock costs.
    'sift_list|sift on; sift_deny $bench_listed; return $sift_tls_sni;|@SNI@'
    # Its baseline: the same rule on a map of the SNI (one name) instead.
    'sift_deny_map|sift on; sift_deny $bench_bad_sni; return $sift_tls_sni;|@SNI@'
    # sift_sni without its Prometheus counters (on by default): what
    # counting costs (issue target: sift_sni >= 0.99 x this).
    'sift_sni_nocount|sift on; sift_metrics_count off; return $sift_tls_sni;|@SNI@'
)
# sift_rules runs between its two baselines (sift_sni before, the twin
# after; swapped in reversed rounds), so drift during a round cancels out of
# its ratio to their mean.
run_order="plain njs sift_protocol sift_signatures ssl_preread sift_sni sift_rules sift_sni_twin sift_sni_nocount sift_deny_map sift_list sift_ja4 sift_ja4_short sift_sni_long sift_ja4r_short sift_ja3_short sift_alpn"
# name | hex file | SNI inside it
all_payloads=(
    'chromium|bench/payloads/chromium.hex|localhost'
    'curl|bench/payloads/curl.hex|localhost'
)

wanted() { # wanted NAME LIST: LIST empty or NAME in the comma list
    [ -z "$2" ] || [[ ",$2," == *",$1,"* ]]
}

# --- report -------------------------------------------------------------------
# Prints the table and the targets from $results (all runs of this invocation).
report() {
    say "results ($rounds round(s); conn/s: best valid run; ratios to ssl_preread with the same payload)"
    # Per payload and case: the best conn/s among the runs where nginx was the
    # bottleneck (or among all runs, marked "void", if there was none such).
    # Also per round (valid runs only), for the median of the per-round ratios.
    best_awk='
        NR == 1 { next }
        $4 > 0 && ($15 || !anyvalid[$3, $2]) {
            if ($15 && !anyvalid[$3, $2]) { anyvalid[$3, $2] = 1; best[$3, $2] = "" }
            if (best[$3, $2] == "" || $4 > best[$3, $2]) { best[$3, $2] = $4; row[$3, $2] = $0 }
        }
        $4 > 0 && $15 && $4 > inround[$1, $3, $2] { inround[$1, $3, $2] = $4; if ($1 > nrounds) nrounds = $1 }
        # A baseline is a case, or "a+b": the mean of both cases (a round
        # counts only if it has valid runs of both).
        function base_in_round(r, p, bc,    parts, n, i, s) {
            n = split(bc, parts, "+"); s = 0
            for (i = 1; i <= n; i++) {
                if (!(inround[r, p, parts[i]] > 0)) return 0
                s += inround[r, p, parts[i]]
            }
            return s / n
        }
        function best_base(p, bc,    parts, n, i, s) {
            n = split(bc, parts, "+"); s = 0
            for (i = 1; i <= n; i++) {
                if (best[p, parts[i]] == "") return ""
                s += best[p, parts[i]]
            }
            return s / n
        }
        function median(v, n,    i, j, t) {
            for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        # Also sets rounds_used (how many rounds had both).
        function median_ratio(p, c, bc,    r, n, v, b) {
            n = 0
            for (r = 1; r <= nrounds; r++) {
                b = base_in_round(r, p, bc)
                if (inround[r, p, c] > 0 && b > 0) v[++n] = inround[r, p, c] / b
            }
            rounds_used = n
            if (n == 0) return "-"
            return sprintf("%.3f", median(v, n))
        }
    '
    table=$prefix/results/table.md
    {
        echo "| case | payload | conn/s (best) | all runs | vs ssl_preread (median of rounds) | vs ssl_preread (best runs) | errors | p99 ms | nginx worker us/conn | worker CPU | nginx CPU busy | loadgen CPU busy |"
        echo "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for p in "${payloads[@]}"; do
            IFS='|' read -r pname _ _ <<< "$p"
            for c in "${all_cases[@]}"; do
                IFS='|' read -r name _ _ <<< "$c"
                wanted "$name" "$only_cases" || continue
                awk -F'\t' -v c="$name" -v p="$pname" "$best_awk"'
                    $3 == p && $2 == c {
                        n++; all = all (n > 1 ? ", " : "") sprintf("%.0f%s", $4, $15 ? "" : " (void)")
                        err += ($6 < 0 ? 0 : $6)
                    }
                    END {
                        if (n == 0) exit
                        b = best[p, c]
                        if (b == "") { printf "| %s | %s | failed | %s | | | | | | | | |\n", c, p, all; exit }
                        split(row[p, c], r, "\t")
                        base = best[p, "ssl_preread"]
                        ratio = base > 0 ? sprintf("%.3f", b / base) : "-"
                        printf "| %s | %s | %.0f%s | %s | %s | %s | %d | %.2f | %s | %s%% | %s%% | %s%% |\n",
                            c, p, b, anyvalid[p, c] ? "" : " (void)", all, median_ratio(p, c, "ssl_preread"), ratio, err,
                            r[8] / 1000, r[10], r[9], r[12], r[13]
                    }' "$results"
            done
        done
        for s in "${skipped[@]}"; do
            IFS='|' read -r name reason <<< "$s"
            echo "| $name | all | not run | | | | | | | | | |"
        done
    } > "$table"
    cat "$table"
    for s in "${skipped[@]}"; do
        IFS='|' read -r name reason <<< "$s"
        echo "  not run: $name: $reason"
    done

    say "targets (on the median of per-round ratios: each round's run against that round's ssl_preread)"
    # sift_rules against the mean of sift_sni and its twin when both ran,
    # else against sift_sni alone.
    targets=('sift_sni|0.97|ssl_preread' 'sift_ja4|0.95|ssl_preread'
        'sift_protocol|0.98|ssl_preread' 'sift_rules|0.97|sift_sni+sift_sni_twin'
        'sift_sni|0.99|sift_sni_nocount' 'sift_signatures|0.98|sift_protocol')
    for t in "${targets[@]}"; do
        IFS='|' read -r name want base_case <<< "$t"
        for p in "${payloads[@]}"; do
            IFS='|' read -r pname _ _ <<< "$p"
            awk -F'\t' -v c="$name" -v p="$pname" -v want="$want" -v bc="$base_case" "$best_awk"'
                END {
                    if (index(bc, "+") && best_base(p, bc) == "") { split(bc, parts, "+"); bc = parts[1] }
                    b = best[p, c]; base = best_base(p, bc); m = median_ratio(p, c, bc)
                    if (b == "" || base == "") { printf "  SKIP  %-14s %-9s >= %.2f x %s: not run\n", c, p, want, bc; exit }
                    if (m == "-") { printf "  SKIP  %-14s %-9s >= %.2f x %s: no round with valid runs of both\n", c, p, want, bc; exit }
                    printf "  %-5s %-14s %-9s >= %.2f x %s: %s, median of per-round ratios (best runs: %.0f vs %.0f conn/s = %.3f)\n",
                        (m + 0 >= want ? "PASS" : "FAIL"), c, p, want, bc, m, b, base, b / base
                }' "$results"
        done
    done
    for p in "${payloads[@]}"; do
        IFS='|' read -r pname _ _ <<< "$p"
        awk -F'\t' -v p="$pname" "$best_awk"'
            END {
                m = median_ratio(p, "sift_sni_twin", "sift_sni")
                if (m == "-") exit
                printf "  NOISE sift_sni_twin  %-9s vs sift_sni, the same server: %s, median of per-round ratios over %d rounds\n", p, m, rounds_used
            }' "$results"
    done
    profile_report
    note "raw runs: $results; loadgen output: $prefix/results/loadgen.log"
}

# With --profile: where nginx's worker spends its time, and what each case
# adds over its baseline. Every case here sends the same bytes over the same
# kind of socket, so the kernel's work per connection is the same in all of
# them; a case can only add user-space work (sift's, and the nginx code it
# calls). With K the kernel time and u the user-space share of the worker's
# time, K = T * (1 - u), and equal K gives T_base / T_case = (1 - u_case) /
# (1 - u_base): a rate ratio from sample shares alone, which a slow period
# of the VM (everything takes longer, the shares stay) does not move.
profile_report() {
    awk -F'\t' 'NR > 1 && $15 && $16 != "" && $16 != "-" { found = 1 } END { exit !found }' "$results" || return 0
    say "CPU attribution (--profile: perf cpu-clock samples of nginx's worker over each measured window; means over valid runs)"
    local profile_awk='
        NR > 1 && $15 && $16 != "" && $16 != "-" {
            k = $3 SUBSEP $2; n[k]++; total[k] += $10; user[k] += $16; sift[k] += $17
        }
    '
    {
        echo "| case | payload | worker µs/conn | user space: share | µs/conn | sift: share | µs/conn | runs |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        for p in "${payloads[@]}"; do
            IFS='|' read -r pname _ _ <<< "$p"
            for c in "${all_cases[@]}"; do
                IFS='|' read -r name _ _ <<< "$c"
                awk -F'\t' -v c="$name" -v p="$pname" "$profile_awk"'
                    END {
                        k = p SUBSEP c
                        if (!n[k]) exit
                        t = total[k] / n[k]; u = user[k] / n[k]; s = sift[k] / n[k]
                        printf "| %s | %s | %.1f | %.2f%% | %.2f | %.2f%% | %.2f | %d |\n", c, p, t, u, t * u / 100, s, t * s / 100, n[k]
                    }' "$results"
            done
        done
    } | tee "$prefix/results/profile.md"
    note "what each case adds in user space over its baseline, and the rate ratio that leaves (same kernel work per connection);"
    note "the targets again, on that ratio (- : the A/A control, no target):"
    local t name want base
    for t in 'sift_sni|0.97|ssl_preread' 'sift_ja4|0.95|ssl_preread' 'sift_protocol|0.98|ssl_preread' \
        'sift_rules|0.97|sift_sni+sift_sni_twin' 'sift_sni_twin|-|sift_sni' 'sift_sni|0.99|sift_sni_nocount' \
        'sift_signatures|0.98|sift_protocol'; do
        IFS='|' read -r name want base <<< "$t"
        for p in "${payloads[@]}"; do
            IFS='|' read -r pname _ _ <<< "$p"
            awk -F'\t' -v c="$name" -v bc="$base" -v p="$pname" -v want="$want" "$profile_awk"'
                END {
                    k = p SUBSEP c
                    if (!n[k]) exit
                    # A baseline "a+b" is the mean of both, or a alone if b did not run.
                    nb = split(bc, parts, "+")
                    if (nb > 1 && !n[p SUBSEP parts[2]]) { nb = 1; bc = parts[1] }
                    ub = 0; t = 0
                    for (i = 1; i <= nb; i++) {
                        kb = p SUBSEP parts[i]
                        if (!n[kb]) exit
                        ub += user[kb] / n[kb] / nb; t += total[kb] / n[kb] / nb
                    }
                    u = user[k] / n[k]; r = (100 - u) / (100 - ub)
                    verdict = want == "-" ? "     " : (r >= want ? "PASS " : "FAIL ")
                    printf "  CPU   %s%-14s %-9s vs %s: user space %.2f%% -> %.2f%% of the worker (%+.2f µs/conn at %.1f µs/conn): rate ratio %.3f\n",
                        verdict, c, p, bc, ub, u, t * (u - ub) / 100, t, r
                }' "$results"
        done
    done
}

if [ "$report_only" -eq 1 ]; then
    results=$prefix/results/runs.tsv
    payloads=("${all_payloads[@]}")
    skipped=()
    [ -s "$results" ] || { echo "bench: no $results to report on" >&2; exit 1; }
    rounds=$(awk -F'\t' 'NR > 1 && $1 > n { n = $1 } END { print n + 0 }' "$results")
    report
    exit 0
fi

# --- what the benchmark needs --------------------------------------------
if [ ! -x "$nginx" ] || [ ! -f "$modules/ngx_stream_module.so" ] \
    || [ ! -f "$modules/ngx_stream_js_module.so" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing nginx, its stream and njs modules (scripts/install-deps.sh)"
        scripts/install-deps.sh
    else
        echo "bench: needs $nginx with $modules/ngx_stream_module.so and ngx_stream_js_module.so;" \
            "run scripts/install-deps.sh as root" >&2
        exit 1
    fi
fi
have_njs=1
[ -f "$modules/ngx_stream_js_module.so" ] || have_njs=0
if [ "$profile" -eq 1 ] && ! perf --version > /dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing perf for --profile (Debian's linux-perf)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-perf > /dev/null
    fi
    perf --version > /dev/null 2>&1 || { echo "bench: --profile needs perf (apt-get install linux-perf)" >&2; exit 1; }
fi

if [ "$pin" -eq 1 ] && command -v taskset > /dev/null \
    && [ "$(nproc)" -gt "$((nginx_cpu > loadgen_cpu ? nginx_cpu : loadgen_cpu))" ]; then
    pin_nginx=(taskset -c "$nginx_cpu")
    pin_loadgen=(taskset -c "$loadgen_cpu")
else
    pin=0
    pin_nginx=()
    pin_loadgen=()
fi

# Stop an nginx left running by an earlier, interrupted run of this script.
stop_nginx() {
    local pidfile=$prefix/logs/nginx.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2> /dev/null || true)
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q -- "-p $prefix "; then
        kill -QUIT "$pid" 2> /dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2> /dev/null || true
    fi
    rm -f "$pidfile"
}
mkdir -p "$prefix"/{conf,logs,modules,results}
# Receive packet steering on lo: see BENCHMARKS.md. On loopback the kernel
# does the receiving side's TCP work on the sending CPU, so without this the
# load generator's CPU does nginx's share of the handshakes and saturates
# first. Steering all of lo's receive work to nginx's CPU makes nginx's CPU
# the bottleneck. The old value is put back on exit.
rps_file=/sys/class/net/lo/queues/rx-0/rps_cpus
rps_saved=
restore_rps() {
    if [ -n "$rps_saved" ]; then
        echo "$rps_saved" > "$rps_file" 2> /dev/null || true
        rps_saved=
    fi
}
cleanup() {
    stop_nginx
    restore_rps
}
stop_nginx
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$instructions" -eq 0 ] || rps=0 # callgrind counts user space: no steering needed
if [ "$rps" -eq 1 ] && [ "$pin" -eq 1 ]; then
    if [ -w "$rps_file" ] && rps_saved=$(cat "$rps_file") \
        && printf '%x' $((1 << nginx_cpu)) > "$rps_file" 2> /dev/null; then
        :
    else
        rps_saved=
        rps=0
    fi
else
    rps=0
fi

# --- builds -----------------------------------------------------------------
say "building loadgen (bench/loadgen, release)"
cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
loadgen=$top/bench/loadgen/target/release/loadgen

have_sift=0
if [ -n "${SIFT_BENCH_MODULE:-}" ]; then
    say "using the sift module in SIFT_BENCH_MODULE=$SIFT_BENCH_MODULE (not building)"
    install -m 0644 "$SIFT_BENCH_MODULE" "$prefix/modules/ngx_stream_sift_module.so"
    have_sift=1
else
    say "building the sift module (scripts/build-module.sh release)"
    if scripts/build-module.sh release > "$prefix/logs/build-module.log" 2>&1; then
        install -m 0644 target/modules/release/ngx_stream_sift_module.so "$prefix/modules/"
        have_sift=1
        note "ok: target/modules/release/ngx_stream_sift_module.so"
    else
        note "the sift module does not build right now: every sift case is skipped"
        note "(build log: $prefix/logs/build-module.log; first errors:)"
        grep -E '^error' "$prefix/logs/build-module.log" | head -5 | sed 's/^/      /' || true
    fi
fi

# --- nginx configuration ----------------------------------------------------
conf_head() { # conf_head WITH_SIFT
    echo "load_module $modules/ngx_stream_module.so;"
    [ "$have_njs" -eq 0 ] || echo "load_module $modules/ngx_stream_js_module.so;"
    [ "$1" -eq 0 ] || echo "load_module modules/ngx_stream_sift_module.so;"
    cat << 'EOF'
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
stream {
EOF
    [ "$have_njs" -eq 0 ] || printf '    js_import sni from sni.js;\n    js_set $njs_sni sni.server_name;\n'
    # For sift_rules: what its rules and its rate limit look at.
    [ "$1" -eq 0 ] || cat << 'SIFT_RULES'
    map $sift_tls_sni $bench_bad_sni { hostnames; bad.example 1; *.bad.example 1; default 0; }
    map $sift_protocol $bench_not_tls { tls 0; default 1; }
    map $sift_ja4 $bench_ja4_seen { default t13d; }
    map $sift_ja4_r $bench_ja4r_seen { default t13d; }
    map $sift_ja3 $bench_ja3_seen { default t13d; }
    sift_rate_zone $binary_remote_addr zone=bench_rate:1m rate=1000000r/s;
    sift_list_zone zone=bench_list:1m state=bench-list.state;
    sift_list $sift_tls_sni $bench_listed zone=bench_list;
SIFT_RULES
}

cp bench/njs/sni.js "$prefix/conf/sni.js"
# The sift_list case's list: 1,000 names, none of them the payloads' SNI.
python3 - "$prefix/bench-list.state" << 'PY'
import hashlib, json, sys
lines = ["sift-list-state 1 type=string\n"]
lines += [json.dumps({"key": f"blocked-{i}.example", "value": "1", "expires": 0}, separators=(",", ":")) + "\n" for i in range(1000)]
body = "".join(lines)
open(sys.argv[1], "w").write(body + f"end 1000 sha256={hashlib.sha256(body.encode()).hexdigest()}\n")
PY

say "checking each case with nginx -t"
cases=()   # name|port|expect
skipped=() # name|reason
servers=
port=$port_base
for c in "${all_cases[@]}"; do
    IFS='|' read -r name directives expect <<< "$c"
    wanted "$name" "$only_cases" || continue
    port=$((port + 1))
    reason=
    if [[ $name == sift_* ]] && [ "$have_sift" -eq 0 ]; then
        reason="the sift module did not build"
    elif [ "$name" = njs ] && [ "$have_njs" -eq 0 ]; then
        reason="no ngx_stream_js_module.so"
    else
        server="    server { listen 127.0.0.1:$port; $directives }"
        with_sift=0
        [[ $name != sift_* ]] || with_sift=1
        { conf_head "$with_sift"; echo "$server"; echo "}"; } > "$prefix/conf/check.conf"
        if ! out=$("$nginx" -p "$prefix" -c conf/check.conf -t -q 2>&1); then
            reason=$(echo "$out" | grep -m1 emerg | sed 's/^nginx: //; s/^.*\[emerg\] [0-9#]*: //; s/ in .*check.conf:[0-9]*//')
            [ -n "$reason" ] || reason=$(echo "$out" | head -1)
        fi
    fi
    if [ -n "$reason" ]; then
        skipped+=("$name|$reason")
        note "skip $name: $reason"
    else
        cases+=("$name|$port|$expect")
        servers+="$server"$'\n'
        note "ok   $name (127.0.0.1:$port)"
    fi
done
if [ ${#cases[@]} -eq 0 ]; then
    echo "bench: no case can run" >&2
    exit 1
fi

{ conf_head "$have_sift"; printf '%s' "$servers"; echo "}"; } > "$prefix/conf/nginx.conf"
rm -f "$prefix/conf/check.conf" "$prefix/logs/error.log"
"$nginx" -p "$prefix" -c conf/nginx.conf -t -q

payloads=()
for p in "${all_payloads[@]}"; do
    IFS='|' read -r pname _ _ <<< "$p"
    wanted "$pname" "$only_payloads" && payloads+=("$p")
done

# --- instructions per connection (--instructions N) --------------------------
# nginx (one process: no master, so callgrind follows no fork) under
# callgrind; per case and payload the counters are zeroed, N connections
# made one after another (send the hello, read the answer to the server's
# close, close with an RST as loadgen does), and the counters dumped: the
# instructions nginx executed in user space for those N connections, / N.
# valgrind hides SHA-NI from the code it runs, so SHA-256 (JA4's digests)
# runs in software here: about 10,000 instructions more per JA4 than natively.
if [ "$instructions" -gt 0 ]; then
    command -v valgrind > /dev/null || { echo "bench: --instructions needs valgrind" >&2; exit 1; }
    rm -f "$prefix"/results/callgrind.out*
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$prefix/results/callgrind.out" \
        "$nginx" -p "$prefix" -c conf/nginx.conf -g "master_process off; daemon off;" \
        > "$prefix/logs/valgrind.log" 2>&1 &
    vg=$!
    trap 'kill $vg 2> /dev/null || true; restore_rps' EXIT
    first_port=$(echo "${cases[0]}" | cut -d'|' -f2)
    for _ in $(seq 150); do
        (echo > "/dev/tcp/127.0.0.1/$first_port") 2> /dev/null && break
        sleep 0.2
    done
    say "instructions per connection (callgrind), $instructions connections per case and payload"
    printf '| case | payload | instructions per connection | code lines per connection (all, sift) | answer |\n| --- | --- | ---: | ---: | --- |\n' | tee "$prefix/results/instructions.md"
    for p in "${payloads[@]}"; do
        IFS='|' read -r pname pfile psni <<< "$p"
        for c in "${cases[@]}"; do
            IFS='|' read -r name port expect <<< "$c"
            callgrind_control -z "$vg" > /dev/null 2>&1
            answer=$(python3 - "$port" "$pfile" "$instructions" << 'PY'
import socket, struct, sys
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
hello = bytes.fromhex("".join(open(path).read().split()))
answer = b""
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    answer = b""
    while True:
        try:
            d = s.recv(4096)
        except ConnectionResetError:  # plain: nginx closed with the hello unread
            break
        if not d:
            break
        answer += d
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
print(answer.decode(errors="replace").strip())
PY
)
            sleep 0.3
            callgrind_control -d "$vg" > /dev/null 2>&1
            dump=$(ls -t "$prefix"/results/callgrind.out* | head -1)
            per=$(awk -v n="$instructions" '/^totals:/ { printf "%.0f", $2 / n }' "$dump")
            # Distinct 64-byte lines of code run on every connection (see
            # bench/code_lines.py): what each connection brings into the
            # instruction cache.
            lines=$(python3 bench/code_lines.py "$instructions" "$dump" | awk '
                / in all$/ { all = $1 } /ngx_stream_sift_module/ { sift = $1 }
                END { printf "%d, %d", all, sift }')
            case "$answer" in "${expect//@SNI@/$psni}"*) ;; *) answer="$answer (expected ${expect//@SNI@/$psni})" ;; esac
            printf '| %s | %s | %s | %s | %s |\n' "$name" "$pname" "$per" "$lines" "$answer" | tee -a "$prefix/results/instructions.md"
        done
    done
    exit 0
fi

# Starts nginx (pinned) unless it is running; sets $worker to its worker's pid.
master=
worker=
start_nginx() {
    if [ -n "$worker" ] && [ -d "/proc/$worker" ] && [ -n "$master" ] && [ -d "/proc/$master" ]; then
        return 0
    fi
    stop_nginx
    "${pin_nginx[@]}" "$nginx" -p "$prefix" -c conf/nginx.conf
    for _ in $(seq 50); do
        [ -s "$prefix/logs/nginx.pid" ] && break
        sleep 0.1
    done
    master=$(cat "$prefix/logs/nginx.pid")
    worker=
    for _ in $(seq 50); do
        worker=$(pgrep -P "$master" | head -1 || true)
        [ -n "$worker" ] && break
        sleep 0.1
    done
    [ -n "$worker" ] || { echo "bench: nginx started no worker" >&2; exit 1; }
    sleep 0.2
}
start_nginx

# --- measurement helpers ------------------------------------------------------
# CPU the whole machine is using right now (percent of all cores), over 0.5 s.
background_busy() {
    local a b
    a=$(awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat)
    sleep 0.5
    b=$(awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat)
    echo "$a $b" | awk '{ printf "%.0f", ($4 - $2 > 0) ? 100 * ($3 - $1) / ($4 - $2) : 0 }'
}
# Waits (up to SIFT_BENCH_QUIET_WAIT seconds, default 60) for the machine to
# be under 10% busy, so other people's builds and tests do not land in a
# run; prints the last reading.
quiet_wait=${SIFT_BENCH_QUIET_WAIT:-60}
wait_quiet() {
    local b i=0
    b=$(background_busy)
    while [ "$b" -gt 10 ] && [ $((i * 2)) -lt "$quiet_wait" ]; do
        sleep 1.5
        i=$((i + 1))
        b=$(background_busy)
    done
    echo "$b"
}

results=$prefix/results/runs.tsv
printf 'round\tcase\tpayload\tcps\ttotal\terrors\tp50_us\tp99_us\tnginx_worker_cpu_pct\tnginx_us_per_conn\tloadgen_cpu_pct\tnginx_core_busy_pct\tloadgen_core_busy_pct\tbackground_pct\tvalid\tuser_pct_of_worker\tsift_pct_of_worker\n' > "$results"

# `sleep` takes 2s and 1m but not 500ms: durations in seconds, for perf.
seconds() {
    awk -v d="$1" 'BEGIN {
        if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000 }
        else if (d ~ /m$/) { sub(/m$/, "", d); print d * 60 }
        else { sub(/s$/, "", d); print d + 0 }
    }'
}
# --profile: samples nginx's worker with perf (cpu-clock: this VM has no
# PMU) over the measured window only, in the background, from the load
# generator's CPU so that perf itself takes no time from nginx's.
perf_data=$prefix/results/perf.data
start_profile() {
    profile_pid=
    [ "$profile" -eq 1 ] || return 0
    rm -f "$perf_data"
    (
        sleep "$(seconds "$warmup")"
        exec "${pin_loadgen[@]}" perf record -q -e cpu-clock -F 2000 -p "$worker" -o "$perf_data" -- sleep "$(seconds "$duration")"
    ) > /dev/null 2>&1 &
    profile_pid=$!
}
# Prints "user_percent sift_percent" of the samples, or "- -". Call
# finish_profile first, in this shell (perf is its child).
finish_profile() {
    [ -z "$profile_pid" ] || wait "$profile_pid" 2> /dev/null || true
}
profile_shares() {
    if [ -z "$profile_pid" ] || [ ! -s "$perf_data" ]; then
        echo "- -"
        return 0
    fi
    perf report -i "$perf_data" --sort dso --stdio -q 2> /dev/null | awk '
        $1 ~ /%$/ { p = $1; sub(/%$/, "", p); all += p
                    if ($2 ~ /^\[kernel/) kernel += p
                    if ($2 == "ngx_stream_sift_module.so") sift += p }
        END { if (all > 0) printf "%.3f %.3f\n", 100 * (all - kernel) / all, 100 * sift / all; else print "- -" }'
}

say "$("$nginx" -v 2>&1 | sed 's/^nginx version: //'), 1 worker (pid $worker)$([ "$pin" -eq 1 ] && echo ", pinned to CPU $nginx_cpu; loadgen on CPU $loadgen_cpu" || echo ", not pinned")"
note "kernel $(uname -r), $(nproc) CPUs; concurrency $concurrency, warm-up $warmup + $duration per run, $rounds round(s)"
if [ "$rps" -eq 1 ]; then
    note "lo receive work steered to CPU $nginx_cpu (rps_cpus $(cat "$rps_file"), was $rps_saved; --no-rps to leave it)"
else
    note "lo receive work not steered (--no-rps, no pinning, or $rps_file not writable): the load generator's CPU is likely the bottleneck"
fi
if [ "$(background_busy)" -gt 10 ]; then
    note "the machine is busy (other builds or tests?); each run waits up to ${quiet_wait}s for quiet. Top CPU users:"
    ps -eo pcpu,pid,comm --sort=-pcpu | sed -n '2,4p' | sed 's/^/      /'
fi

# One measured run; appends a row to $results and sets $valid: 1 if nginx
# was the bottleneck (with lo steering: its worker used >= 90% of a CPU;
# without: nothing else competed for nginx's CPU), else 0.
valid=0
measure_once() { # measure_once ROUND NAME PORT EXPECT PAYLOAD_NAME FILE
    local round=$1 name=$2 port=$3 expect=$4 pname=$5 file=$6
    local bg out line cps total errors p50 p99 lcpu ncpu ncore lcore us flag
    valid=0
    for _ in 1 2 3; do
        start_nginx
        bg=$(wait_quiet)
        start_profile
        out=$("${pin_loadgen[@]}" "$loadgen" --addr "127.0.0.1:$port" --payload "$file" \
            --concurrency "$concurrency" --duration "$duration" --warmup "$warmup" \
            --expect "$expect" --name "$name/$pname" --server-pid "$worker" 2>&1 || true)
        echo "$out" >> "$prefix/results/loadgen.log"
        [ -d "/proc/$worker" ] && break
        # Something else on the machine stopped our nginx (e.g. a
        # `pkill -x nginx` elsewhere): this run is void, start over.
        note "round $round $name/$pname: nginx was stopped from outside during the run; running it again"
        worker=
    done
    finish_profile
    read -r user_pct sift_pct <<< "$(profile_shares)"
    line=$(echo "$out" | grep '^RESULT' || true)
    if [ -z "$line" ]; then
        note "round $round $name/$pname: loadgen failed:"
        echo "$out" | tail -5 | sed 's/^/      /'
        printf '%s\t%s\t%s\t0\t0\t-1\t0\t0\t-\t-\t-\t-\t-\t%s\t0\t-\t-\n' "$round" "$name" "$pname" "$bg" >> "$results"
        valid=1 # nothing to gain from a retry
        return
    fi
    field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    percent() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else printf "%.0f", 100 * x }'; }
    cps=$(field cps) total=$(field total) errors=$(field errors)
    p50=$(field p50_us) p99=$(field p99_us)
    lcpu=$(percent "$(field cpu)") ncpu=$(percent "$(field server_cpu)")
    ncore=$(percent "$(field "cpu${nginx_cpu}_busy")")
    lcore=$(percent "$(field "cpu${loadgen_cpu}_busy")")
    us=$(awk -v c="$(field server_cpu)" -v r="$cps" 'BEGIN { if (r > 0 && c != "") printf "%.1f", 1e6 * c / r; else print "-" }')
    user_us=- sift_us=-
    if [ "$user_pct" != - ] && [ "$us" != - ]; then
        user_us=$(awk -v u="$us" -v s="$user_pct" 'BEGIN { printf "%.2f", u * s / 100 }')
        sift_us=$(awk -v u="$us" -v s="$sift_pct" 'BEGIN { printf "%.2f", u * s / 100 }')
    fi
    flag=
    if [ "$ncpu" = - ] || [ "$ncore" = - ]; then
        valid=1
    elif [ "$rps" -eq 1 ]; then
        [ "$ncpu" -lt 90 ] || valid=1
        [ "$valid" -eq 1 ] || flag+="  (void: nginx's worker not saturated"
        [ "$valid" -eq 1 ] || [ $((ncore - ncpu)) -le 10 ] || flag+=", CPU$nginx_cpu shared with other processes"
        [ "$valid" -eq 1 ] || flag+=")"
    else
        [ $((ncore - ncpu)) -gt 10 ] || valid=1
        [ "$valid" -eq 1 ] || flag+="  (void: CPU$nginx_cpu shared with other processes)"
    fi
    if [ "$lcore" != - ] && [ "$lcore" -ge 95 ]; then
        flag+="  (the load generator's CPU was saturated)"
    fi
    [ "$bg" -le 10 ] || flag+="  (machine ${bg}% busy before the run)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$pname" \
        "$cps" "$total" "$errors" "$p50" "$p99" "$ncpu" "$us" "$lcpu" "$ncore" "$lcore" "$bg" "$valid" \
        "$user_pct" "$sift_pct" >> "$results"
    printf '    round %s %-14s %-9s %9s conn/s  errors %-3s p99 %6s us | nginx worker %3s%% (%5s us/conn), CPU%s %3s%% | loadgen %3s%%, CPU%s %3s%%%s\n' \
        "$round" "$name" "$pname" "$cps" "$errors" "$p99" "$ncpu" "$us" "$nginx_cpu" "$ncore" \
        "$lcpu" "$loadgen_cpu" "$lcore" "$flag"
    [ "$user_us" = - ] || note "  perf: user space $user_pct% of the worker's time ($user_us us/conn), sift $sift_pct% ($sift_us us/conn)"
    if [ "$errors" != 0 ]; then
        echo "$out" | grep 'error sample' | head -3 | sed 's/^/      /'
    fi
}

# A run is repeated (up to SIFT_BENCH_RETRIES more times, default 2) while it
# is void, e.g. because another process took CPU time from nginx.
retries=${SIFT_BENCH_RETRIES:-2}
run_case() {
    local n=0
    measure_once "$@"
    while [ "$valid" -eq 0 ] && [ "$n" -lt "$retries" ]; do
        n=$((n + 1))
        measure_once "$@"
    done
}

: > "$prefix/results/loadgen.log"
for round in $(seq "$rounds"); do
    say "round $round of $rounds"
    # Run order: the baseline in the middle, next to the sift cases, so each
    # ratio compares runs close in time; reversed every other round, so no
    # case always runs first or last.
    order=()
    for name in $run_order; do
        for c in "${cases[@]}"; do
            [[ $c == "$name|"* ]] && order+=("$c")
        done
    done
    if [ $((round % 2)) -eq 0 ]; then
        rev=()
        for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[$i]}"); done
        order=("${rev[@]}")
    fi
    for p in "${payloads[@]}"; do
        IFS='|' read -r pname pfile psni <<< "$p"
        for c in "${order[@]}"; do
            IFS='|' read -r name port expect <<< "$c"
            run_case "$round" "$name" "$port" "${expect//@SNI@/$psni}" "$pname" "$pfile"
        done
    done
done

cleanup
if [ -s "$prefix/logs/error.log" ]; then
    say "nginx error.log (warn and above) is not empty: $prefix/logs/error.log"
    tail -3 "$prefix/logs/error.log" | sed 's/^/    /'
fi

report
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$results" "$prefix/results/runs-$stamp.tsv"
cp "$prefix/results/table.md" "$prefix/results/table-$stamp.md"
note "kept as $prefix/results/runs-$stamp.tsv and table-$stamp.md"

if [ "$micro" -eq 1 ]; then
    say "microbenchmark: cargo bench -p sift-core --bench clienthello"
    if ! cargo bench -p sift-core --bench clienthello; then
        note "the microbenchmark did not run (it may not exist yet)"
    fi
fi
exit 0
