#!/usr/bin/env bash
# Runs the Test::Nginx suite under valgrind (Test::Nginx's own mode,
# TEST_NGINX_USE_VALGRIND: every nginx it starts, master and workers, runs
# under memcheck with full leak checking) and fails on any valgrind error
# (invalid read/write/free, use of uninitialised memory, bad syscall
# argument, ...) and on any leak with a sift frame in its stack.
#
#   scripts/valgrind.sh          # the files that run sift's code paths (test command)
#   scripts/valgrind.sh FULL     # every Test::Nginx file
#   scripts/valgrind.sh t/005-access.t ...   # only these
#
# Suppressions: t/valgrind.supp (LuaJIT and lua-nginx-module, which the
# suite's http{} clients use, and sift's one process-wide panic hook; each
# entry says why). Per-process logs: target/reliability/valgrind/logs/.
# Result: target/reliability/valgrind.json.
#
# Plain Test::More files start their own nginx, which Test::Nginx's mode
# does not reach; these run it under valgrind themselves when
# TEST_NGINX_USE_VALGRIND holds valgrind's options (as here), and are in
# the test command's set: t/016-new-detectors.t (dig, logger),
# t/017-udp-quic.t (UDP and QUIC: hellos held over several datagrams),
# t/041-metrics-live.t (two workers, reloads, a zone resized),
# t/043-lists.t, t/050-redis-sync.t (the first of its three nginx: Redis
# calls, the keepalive pool, backoff, garbage and stalled servers),
# t/051-lists-sync.t (the first of its three nginx, two workers: list
# syncs from worker tasks, Redis stopped, restarted empty, faults),
# t/090-faults.t.
# Files that do not run under valgrind: t/012-release-build.t,
# t/013-example-configs.t (nginx -t of configurations, and a release
# build's symbols), t/020-real-clients.t and t/021-quic-real-clients.t
# (browsers and Python QUIC clients with their own handshake timeouts;
# t/003 and t/017 run the same nginx paths under valgrind),
# t/044-lists-live.t (two workers, reloads, restarts and a 2 s expiry,
# timed for a normal nginx).
# SIFT_MODULE, TEST_NGINX_SERVROOT, TEST_NGINX_PORT as for scripts/prove.sh.
# VALGRIND_SUPP: another suppression file (e.g. /dev/null: then the panic
# hook's once-per-process box, a leak with a sift frame, must fail the run;
# that is how the check itself is checked).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (scripts/install-deps.sh test)" >&2; exit 1; }

# Files that do not run under valgrind (see above), left out of every mode.
not_test_nginx=(t/012-release-build.t t/013-example-configs.t t/020-real-clients.t
                t/021-quic-real-clients.t t/044-lists-live.t)
# The default (test command) set, within its time budget (~5 min on 2
# cores): detection of every protocol, TLS parsing and JA4, access rules,
# rate limits (own and shared zones), panic containment, session ends,
# signatures, sift_auth_request (its HTTP calls: allow, deny, slow, down,
# 500, cache), metrics, sift_top, the lists API (t/043: every method and
# error, a full list zone), Redis-synced zones (t/050), UDP and QUIC
# (t/017), detectors against real clients (t/016), metrics across reloads
# (t/041), and the faults of t/090 (a backend resetting or refusing, a
# full rate zone). Left out by default only to save time, run by FULL:
#   t/002-preread.t, t/004-multiplex.t  preread and timeouts: the same
#       session paths as t/001 and t/014, with more waiting
#   t/008-config-errors.t, t/011-config.t  configuration parsing (t/008's
#       must_die blocks run without valgrind in Test::Nginx anyway)
#   t/030-layer-example.t  the layer's example module, not sift
quick=(t/001-protocol.t t/003-tls.t t/005-access.t t/006-ratelimit.t t/007-ratelimit-shared.t
       t/010-panic-containment.t t/014-session-end.t t/015-signatures.t t/018-auth-request.t
       t/040-metrics.t t/042-top.t t/043-lists.t t/050-redis-sync.t t/051-lists-sync.t t/090-faults.t
       t/016-new-detectors.t t/017-udp-quic.t t/041-metrics-live.t)

mode=quick
files=()
if [ "${1:-}" = FULL ]; then
    mode=full
    for f in t/[0-9]*.t; do
        skip=0
        for n in "${not_test_nginx[@]}"; do [ "$f" = "$n" ] && skip=1; done
        [ $skip = 1 ] || files+=("$f")
    done
elif [ $# -gt 0 ]; then
    mode=files
    files=("$@")
else
    for f in "${quick[@]}"; do [ -f "$f" ] && files+=("$f"); done
fi

out=$top/target/reliability
logs=$out/valgrind/logs
rm -rf "$logs"
mkdir -p "$logs"
supp=${VALGRIND_SUPP:-$top/t/valgrind.supp}

# Not numeric: Test::Nginx then runs "valgrind -q $TEST_NGINX_USE_VALGRIND nginx ..."
# (-v after its -q: the normal verbosity, so that every complete log ends
# with an ERROR SUMMARY and a log without one is a process killed early).
# --log-file with %p: one file per process, forked workers included.
export TEST_NGINX_USE_VALGRIND="-v --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --keep-debuginfo=yes --num-callers=40 \
--gen-suppressions=all --suppressions=$supp --log-file=$logs/vg.%p.log"
# valgrind makes nginx 20-50x slower: give each test more time to start and answer.
export TEST_NGINX_SLEEP=${TEST_NGINX_SLEEP:-1}
export TEST_NGINX_TIMEOUT=${TEST_NGINX_TIMEOUT:-20}
# Most of a test's time is Test::Nginx waiting (for nginx under valgrind
# to listen, then to exit after its leak check), so two files at a time
# (VALGRIND_JOBS), each on random ports with its own t/servroot_PID.
export TEST_NGINX_RANDOMIZE=1
jobs=${VALGRIND_JOBS:-2}

echo "valgrind.sh: $mode: ${files[*]}"
started=$SECONDS
prove_rc=0
scripts/prove.sh -j"$jobs" "${files[@]}" 2>&1 | tee "$out/valgrind/prove.log" || prove_rc=$?
elapsed=$((SECONDS - started))

# Every valgrind report: errors (not leaks) and leaks, each with its stack.
vg_rc=0
python3 - "$logs" "$out/valgrind.json" "$mode" "$elapsed" "$prove_rc" "${#files[@]}" <<'PY' || vg_rc=$?
import glob, json, os, re, sys

logs, result, mode, elapsed, prove_rc, nfiles = sys.argv[1:7]
sift = re.compile(r"ngx_stream_sift_module|sift_core::|ngx_stream::|first_bytes")
errors, sift_leaks, other_leaks, processes, incomplete = [], [], [], 0, 0
for path in sorted(glob.glob(os.path.join(logs, "vg.*.log"))):
    processes += 1
    blocks, current = [], []
    if "ERROR SUMMARY" not in open(path, errors="replace").read():
        incomplete += 1   # killed before its leak check (Test::Nginx gave up waiting)
    for line in open(path, errors="replace"):
        body = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
        if body == "":
            if current:
                blocks.append(current)
            current = []
        else:
            current.append(body)
    if current:
        blocks.append(current)
    for block in blocks:
        head = block[0]
        if re.match(r"(HEAP|LEAK|ERROR) SUMMARY|Memcheck|Copyright|Using Valgrind|Command:|Parent PID|   (in use|total heap|definitely|indirectly|possibly|still|suppressed|of which)|For (lists|counts)|Reachable blocks|To see them|All heap blocks|Rerun with|\{|<insert_a_suppression_name_here>|Warning: ", head):
            continue
        if head.startswith("   ") or head.startswith("}"):
            continue
        stack = "\n".join(block)
        entry = {"log": os.path.basename(path), "what": head, "stack": stack}
        if "are definitely lost" in head or "are indirectly lost" in head:
            # where it was allocated: the first frame past the allocators
            for frame in block[1:]:
                m = re.search(r"(?:at|by) 0x[0-9A-F]+: (\S+)", frame)
                if m and not re.match(r"(malloc|calloc|realloc|memalign|posix_memalign|ngx_(alloc|calloc|memalign|palloc|pnalloc|pcalloc|create_pool)|UnknownInlinedFun)$", m.group(1)):
                    entry["origin"] = m.group(1)
                    break
            (sift_leaks if sift.search(stack) else other_leaks).append(entry)
        elif re.match(r"(Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument .* of function|Jump to)", head):
            errors.append(entry)
for entry in errors + sift_leaks:
    print("valgrind.sh: %s (%s)\n%s\n" % (entry["what"], entry["log"], entry["stack"]))
summary = {
    "mode": mode, "files": int(nfiles), "seconds": int(elapsed), "prove_rc": int(prove_rc),
    "processes": processes, "incomplete_logs": incomplete, "errors": len(errors), "sift_leaks": len(sift_leaks),
    "other_leaks": len(other_leaks),
    "other_leak_origins": {o: sum(1 for e in other_leaks if e.get("origin") == o)
                           for o in sorted(set(e.get("origin", "?") for e in other_leaks))},
}
json.dump(summary, open(result, "w"), indent=1)
print("valgrind.sh: %d processes (%d killed before their leak check), %d errors, %d leaks with a sift frame, %d other leaks (nginx/LuaJIT, not failing)"
      % (processes, incomplete, len(errors), len(sift_leaks), len(other_leaks)))
if processes == 0 or incomplete * 2 > processes:
    print("valgrind.sh: valgrind did not run, or most processes were killed before their leak check", file=sys.stderr)
    sys.exit(1)
sys.exit(1 if errors or sift_leaks else 0)
PY
if [ "$prove_rc" -ne 0 ]; then
    echo "valgrind.sh: the suite failed under valgrind (prove exit $prove_rc; $out/valgrind/prove.log)" >&2
    exit 1
fi
[ "$vg_rc" -eq 0 ] || { echo "valgrind.sh: FAILED (valgrind errors or sift leaks above)" >&2; exit 1; }
echo "valgrind.sh: passed in ${elapsed}s ($out/valgrind.json)"
