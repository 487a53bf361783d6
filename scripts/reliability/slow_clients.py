#!/usr/bin/env python3
"""Slow and idle clients against nginx with sift, for scripts/slow-clients.sh.

Phases (all on loopback, every wait bounded):
 1. memory: IDLE connections that send nothing to the sift server and as
    many to the ssl_preread server (each nginx has one worker); the growth
    of each worker's RSS, per connection. Every one must then be ended by
    the server (sift_timeout / preread_timeout), none earlier than the
    timeout. A second wave of as many must not grow the sift worker beyond
    the first wave's peak, and the worker's RSS must be back near where it
    was once the first wave has ended.
 2. drip: DRIP connections sending a ClientHello one byte every --drip-ms,
    IDLE idle ones, and UDP sessions that send only the first datagram of a
    hello spanning several (held by sift until sift_timeout), all at once;
    meanwhile a normal client connects, sends a whole hello and reads the
    answer every 50 ms. Every dripping client must get its answer (the SNI),
    every UDP session its answer after sift_timeout, the normal client every
    answer.
Prints one JSON object; exit 1 with the reasons on stderr when a check fails.
"""
import argparse, glob, json, os, resource, selectors, socket, statistics, sys, time

here = os.path.dirname(os.path.abspath(__file__))


def client_hello(sni=b"localhost"):
    name = b"\x00" + len(sni).to_bytes(2, "big") + sni
    sni_ext = b"\x00\x00" + (len(name) + 2).to_bytes(2, "big") + len(name).to_bytes(2, "big") + name
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x04\x13\x01\x00\x2f" + b"\x01\x00"
            + len(sni_ext).to_bytes(2, "big") + sni_ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def open_idle(port, n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        if i % 200 == 199:
            time.sleep(0.02)   # stay within the listen backlog
    return socks


def wait_ended(socks, deadline):
    """Waits until the server ends every connection; returns the time each ended."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    ended = {}
    while len(ended) < len(socks) and time.time() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                ended[s] = time.time()
                sel.unregister(s)
    sel.close()
    return ended


def close_all(socks):
    for s in socks:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    for a in ("sift-idle", "control-idle", "sift-drip", "sift-udp"):
        ap.add_argument("--" + a, type=int, required=True)
    ap.add_argument("--sift-pid", type=int, required=True)
    ap.add_argument("--control-pid", type=int, required=True)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--drip", type=int, default=2000)
    ap.add_argument("--udp", type=int, default=500)
    ap.add_argument("--drip-ms", type=int, default=250)
    ap.add_argument("--idle-timeout", type=float, required=True, help="sift_timeout = preread_timeout of the idle servers")
    ap.add_argument("--udp-timeout", type=float, required=True, help="sift_timeout of the UDP server")
    args = ap.parse_args()
    want = 2 * args.idle + args.drip + args.udp + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, hard) if hard != resource.RLIM_INFINITY else want, max(want, hard) if hard != resource.RLIM_INFINITY else hard))
    problems, r = [], {"idle": args.idle, "drip": args.drip, "udp": args.udp, "drip_ms": args.drip_ms}

    # 1. memory per idle connection, sift against ssl_preread, then the timeouts.
    # First a few whole sessions to each, so that what a worker allocates
    # once (on its first session) is not counted per connection.
    hello = client_hello()
    for port in (args.sift_idle, args.control_idle) * 20:
        w = socket.create_connection(("127.0.0.1", port), timeout=10)
        w.sendall(hello)
        while w.recv(4096):
            pass
        w.close()
    time.sleep(0.5)
    base_s, base_c = rss(args.sift_pid), rss(args.control_pid)
    t0 = time.time()
    sift_idle = open_idle(args.sift_idle, args.idle)
    ctl_idle = open_idle(args.control_idle, args.idle)
    time.sleep(1.5)
    peak_s, peak_c = rss(args.sift_pid), rss(args.control_pid)
    per_s = (peak_s - base_s) / args.idle
    per_c = (peak_c - base_c) / args.idle
    r["bytes_per_idle_sift"] = round(per_s)
    r["bytes_per_idle_ssl_preread"] = round(per_c)
    if per_s - per_c > 1024:
        problems.append("an idle connection costs sift's worker %d bytes, ssl_preread's %d (over 1 KB more)" % (per_s, per_c))
    ended = wait_ended(sift_idle + ctl_idle, t0 + args.idle_timeout + 15)
    early = [s for s, t in ended.items() if t - t0 < args.idle_timeout - 1.0]
    r["idle_ended_by_timeout"] = len(ended) - len(early)
    if len(ended) != 2 * args.idle:
        problems.append("%d of %d idle connections were not ended by the server within its timeout + 15 s"
                        % (2 * args.idle - len(ended), 2 * args.idle))
    if early:
        problems.append("%d idle connections ended before the timeout" % len(early))
    close_all(sift_idle + ctl_idle)
    time.sleep(0.5)
    after_s = rss(args.sift_pid)
    if after_s > base_s + max(0.2 * (peak_s - base_s), 512 * 1024):
        problems.append("sift's worker kept %d of the %d bytes the idle connections took after they ended"
                        % (after_s - base_s, peak_s - base_s))
    # A second wave: the first wave's memory must be reused, not kept.
    wave2 = open_idle(args.sift_idle, args.idle)
    time.sleep(1.5)
    peak2_s = rss(args.sift_pid)
    close_all(wave2)
    r["sift_rss"] = {"before": base_s, "idle_peak": peak_s, "after_timeouts": after_s, "second_wave_peak": peak2_s}
    if peak2_s > peak_s + max(0.1 * (peak_s - base_s), 256 * 1024):
        problems.append("a second wave of idle connections grew sift's worker from %d to %d bytes (first wave peak %d)"
                        % (base_s, peak2_s, peak_s))

    # 2. dripping clients, idle ones and held UDP sessions, with a normal client meanwhile.
    flows = []
    for path in sorted(glob.glob(os.path.join(here, "..", "..", "sift-core", "testdata", "quic", "*.json"))):
        flows += [f["datagrams_hex"] for f in json.load(open(path)) if len(f["datagrams_hex"]) > 1]
    udp = []
    t_udp = time.time()
    for i in range(args.udp):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setblocking(False)
        u.connect(("127.0.0.1", args.sift_udp))
        u.send(bytes.fromhex(flows[i % len(flows)][0]))
        udp.append(u)
        if i % 25 == 24:
            time.sleep(0.02)   # within the socket's receive buffer (rmem_default)
    drip = open_idle(args.sift_drip, args.drip)
    idle = open_idle(args.sift_idle, args.idle)
    sel = selectors.DefaultSelector()
    answers, udp_answers = {}, {}
    for s in drip:
        sel.register(s, selectors.EVENT_READ, "drip")
    for u in udp:
        sel.register(u, selectors.EVENT_READ, "udp")
    sent = 0
    next_byte = time.time()
    next_probe = time.time()
    latencies, probe_failures = [], []
    deadline = time.time() + len(hello) * args.drip_ms / 1000.0 + 20
    rss_drip_peak = 0
    while time.time() < deadline and (len(answers) < args.drip or len(udp_answers) < args.udp):
        now = time.time()
        if sent < len(hello) and now >= next_byte:
            for s in drip:
                try:
                    s.send(hello[sent:sent + 1])
                except OSError:
                    pass
            sent += 1
            next_byte += args.drip_ms / 1000.0
            rss_drip_peak = max(rss_drip_peak, rss(args.sift_pid))
        if now >= next_probe:
            next_probe = now + 0.05
            start = time.time()
            try:
                p = socket.create_connection(("127.0.0.1", args.sift_drip), timeout=5)
                p.sendall(hello)
                got = b""
                while True:
                    d = p.recv(256)
                    if not d:
                        break
                    got += d
                p.close()
                if got != b"localhost":
                    probe_failures.append(repr(got[:40]))
                else:
                    latencies.append(time.time() - start)
            except OSError as e:
                probe_failures.append(str(e))
        for key, _ in sel.select(timeout=0.01):
            s = key.fileobj
            try:
                data = s.recv(65535)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if key.data == "udp":
                udp_answers[s] = (time.time(), data)
                sel.unregister(s)
            else:
                answers.setdefault(s, b"")
                if data:
                    answers[s] += data
                else:
                    sel.unregister(s)
    sel.close()
    good = [a for a in answers.values() if a == b"localhost"]
    r["drip_answered"] = len(good)
    if len(good) != args.drip:
        problems.append("%d of %d dripping clients got their answer (sample: %s)"
                        % (len(good), args.drip, [a[:20] for a in list(answers.values())[:3]]))
    r["udp_held_answered_after_timeout"] = sum(1 for t, d in udp_answers.values()
                                              if d.startswith(b"quic") and t - t_udp >= args.udp_timeout - 0.5)
    if r["udp_held_answered_after_timeout"] != args.udp:
        problems.append("%d of %d held UDP sessions were answered at sift_timeout (answered at all: %d)"
                        % (r["udp_held_answered_after_timeout"], args.udp, len(udp_answers)))
    r["bytes_per_drip_or_idle_sift_peak"] = round((rss_drip_peak - base_s) / (args.drip + args.idle)) if rss_drip_peak else None
    if latencies:
        latencies.sort()
        r["normal_client"] = {"requests": len(latencies), "failed": len(probe_failures),
                              "p50_ms": round(statistics.median(latencies) * 1000, 2),
                              "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}
    else:
        r["normal_client"] = {"requests": 0, "failed": len(probe_failures)}
    if probe_failures or not latencies:
        problems.append("the normal client failed %d times during the drip: %s" % (len(probe_failures), probe_failures[:3]))
    close_all(drip + idle + udp)
    r["problems"] = problems
    print(json.dumps(r))
    for p in problems:
        print("slow-clients: FAILED: " + p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
