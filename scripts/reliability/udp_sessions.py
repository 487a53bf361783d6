#!/usr/bin/env python3
"""UDP session load for the reliability scripts (scripts/soak.sh).

Opens datagram sessions one after another, THREADS at a time, for SECONDS:
each session is a new socket (a new source port, so a new nginx session)
that sends one client flow's datagrams (QUIC Initials from
sift-core/testdata/quic/, some over several datagrams) and waits up to
--timeout for one answer datagram starting with --expect. Prints a JSON
summary: sessions, failures, and the first failures with their time.

  udp_sessions.py --addr 127.0.0.1:PORT --expect quic --seconds 30 [--threads 4]
"""
import argparse, glob, json, os, socket, sys, threading, time

here = os.path.dirname(os.path.abspath(__file__))
testdata = os.path.join(here, "..", "..", "sift-core", "testdata", "quic")


def flows():
    out = []
    for path in sorted(glob.glob(os.path.join(testdata, "*.json"))):
        for flow in json.load(open(path)):
            out.append([bytes.fromhex(d) for d in flow["datagrams_hex"]])
    if not out:
        sys.exit("udp_sessions.py: no QUIC flows under %s" % testdata)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    peer = (host, int(port))
    expect = args.expect.encode()
    all_flows = flows()
    lock = threading.Lock()
    tally = {"sessions": 0, "ok": 0, "failed": 0, "multi_datagram": 0, "failures": []}
    start = time.time()
    deadline = start + args.seconds

    def worker(n):
        i = n
        while time.time() < deadline:
            flow = all_flows[i % len(all_flows)]
            i += args.threads
            began = time.time()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(args.timeout)
            why = None
            try:
                sock.connect(peer)
                for datagram in flow:
                    sock.send(datagram)
                answer = sock.recv(65535)
                if not answer.startswith(expect):
                    why = "answer %r" % answer[:40]
            except OSError as e:
                why = "%s" % e
            finally:
                sock.close()
            with lock:
                tally["sessions"] += 1
                tally["multi_datagram"] += len(flow) > 1
                if why is None:
                    tally["ok"] += 1
                else:
                    tally["failed"] += 1
                    tally["failed_multi_datagram"] = tally.get("failed_multi_datagram", 0) + (len(flow) > 1)
                    if len(tally["failures"]) < 200:
                        tally["failures"].append({"t": round(time.time() - start, 3), "began": round(began, 3), "datagrams": len(flow), "why": why})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally["seconds"] = round(time.time() - start, 3)
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
