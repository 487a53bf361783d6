#!/usr/bin/env python3
"""Sends QUIC client flows (each from its own UDP socket, so each is a new
nginx session) and counts what a sink receives: the load side of
scripts/bench-quic.sh.

  udpflows.py sink PORT SECONDS            count datagrams until SECONDS of quiet
  udpflows.py send PORT FLOWS_JSON INDEX N RATE
      send N flows of capture INDEX (its datagrams, in order) at RATE flows/s
"""
import json
import os
import socket
import sys
import time


def sink(port, quiet):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(quiet)
    count = 0
    try:
        while True:
            sock.recv(65535)
            count += 1
    except socket.timeout:
        pass
    print(count)


def send(port, path, index, flows, rate):
    entry = json.load(open(path))[index]
    hexes = entry["datagrams_hex"]
    if isinstance(hexes, str):
        hexes = eval(hexes)  # noqa: S307 - the project's own capture file
    datagrams = [bytes.fromhex(h) for h in hexes]
    # A pool of sockets, each reused only after its session has ended
    # (proxy_timeout in the bench configuration is far below the reuse gap).
    pool_size = min(flows, 4000)
    pool = []
    for _ in range(pool_size):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
        pool.append(s)
    start = time.monotonic()
    for n in range(flows):
        s = pool[n % pool_size]
        for d in datagrams:
            s.send(d)
        due = start + (n + 1) / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - start
    print(f"{flows} {elapsed:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]), float(sys.argv[3]))
    else:
        send(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
