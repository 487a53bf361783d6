#!/usr/bin/env python3
"""A UDP backend for scripts/soak.sh's control: answers every datagram with
"x\\n" after --delay seconds, so that the control's sessions, like sift's
held ones, are open across reloads.

  udp_backend.py --port PORT [--delay 0.3] --seconds N
"""
import argparse, heapq, select, socket, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--delay", type=float, default=0.3)
ap.add_argument("--seconds", type=float, required=True)
args = ap.parse_args()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", args.port))
sock.setblocking(False)
due = []
end = time.time() + args.seconds
while time.time() < end:
    wait = max(0.0, min(0.05, due[0][0] - time.time())) if due else 0.05
    if select.select([sock], [], [], wait)[0]:
        while True:
            try:
                _, peer = sock.recvfrom(65535)
            except BlockingIOError:
                break
            heapq.heappush(due, (time.time() + args.delay, peer))
    now = time.time()
    while due and due[0][0] <= now:
        _, peer = heapq.heappop(due)
        try:
            sock.sendto(b"x\n", peer)
        except OSError:
            pass
