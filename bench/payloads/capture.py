#!/usr/bin/env python3
"""Capture a real client's TLS ClientHello, as sent on the wire, into a hex file.

Listens on 127.0.0.1, starts the client (curl or headless Chromium) against
https://localhost:PORT/, reads the first connection's bytes until the
ClientHello handshake message is complete (it may span several TLS records),
writes those records as one line of lowercase hex, and stops the client.
The listener never answers, so no TLS session is ever established.

    python3 bench/payloads/capture.py curl     bench/payloads/curl.hex
    python3 bench/payloads/capture.py chromium bench/payloads/chromium.hex
    python3 bench/payloads/capture.py listen   out.hex --port 9443   # run a client yourself
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HANDSHAKE = 22
CLIENT_HELLO = 1


def read_clienthello(conn, timeout):
    """Return the raw TLS records that carry the first ClientHello."""
    conn.settimeout(timeout)
    buf = b""
    records_end = 0  # bytes of buf consumed by whole records so far
    handshake = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                raise EOFError(f"client closed after {len(buf)} bytes")
            buf += chunk

    while True:
        need(records_end + 5)
        ctype = buf[records_end]
        length = int.from_bytes(buf[records_end + 3 : records_end + 5], "big")
        if ctype != HANDSHAKE:
            raise ValueError(f"record type {ctype}, expected handshake (22)")
        need(records_end + 5 + length)
        handshake += buf[records_end + 5 : records_end + 5 + length]
        records_end += 5 + length
        if len(handshake) >= 4:
            if handshake[0] != CLIENT_HELLO:
                raise ValueError(f"handshake type {handshake[0]}, expected ClientHello (1)")
            body = int.from_bytes(handshake[1:4], "big")
            if len(handshake) >= 4 + body:
                return buf[:records_end]


def describe(raw):
    """Short summary of a ClientHello: records, size, SNI, key share groups."""
    records = 0
    hs = b""
    i = 0
    while i + 5 <= len(raw):
        n = int.from_bytes(raw[i + 3 : i + 5], "big")
        hs += raw[i + 5 : i + 5 + n]
        i += 5 + n
        records += 1
    p = 4 + 2 + 32  # handshake header, legacy_version, random
    p += 1 + hs[p]  # session id
    p += 2 + int.from_bytes(hs[p : p + 2], "big")  # cipher suites
    p += 1 + hs[p]  # compression methods
    end = p + 2 + int.from_bytes(hs[p : p + 2], "big")
    p += 2
    sni, groups, exts = None, [], 0
    while p + 4 <= end:
        etype = int.from_bytes(hs[p : p + 2], "big")
        elen = int.from_bytes(hs[p + 2 : p + 4], "big")
        data = hs[p + 4 : p + 4 + elen]
        exts += 1
        if etype == 0 and len(data) >= 5:  # server_name: list, type 0, name
            nlen = int.from_bytes(data[3:5], "big")
            sni = data[5 : 5 + nlen].decode("ascii", "replace")
        elif etype == 51 and len(data) >= 2:  # key_share: client_shares
            q = 2
            while q + 4 <= len(data):
                g = int.from_bytes(data[q : q + 2], "big")
                klen = int.from_bytes(data[q + 2 : q + 4], "big")
                groups.append(f"0x{g:04x}({klen}B)")
                q += 4 + klen
        p += 4 + elen
    return (
        f"{len(raw)} bytes in {records} record(s), {exts} extensions, "
        f"SNI {sni!r}, key shares {' '.join(groups) or 'none'}"
    )


def client_command(kind, port):
    url = f"https://localhost:{port}/"
    if kind == "curl":
        return ["curl", "-sk", "--max-time", "10", "-o", "/dev/null", url], None
    if kind == "chromium":
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            sys.exit("capture: chromium not found (apt-get install -y chromium)")
        profile = tempfile.mkdtemp(prefix="sift-capture-chromium-")
        return [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            url,
        ], profile
    sys.exit(f"capture: unknown client {kind}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("client", choices=["curl", "chromium", "listen"])
    ap.add_argument("out", help="hex file to write")
    ap.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(16)
    lsock.settimeout(args.timeout)
    port = lsock.getsockname()[1]

    proc, profile = None, None
    if args.client == "listen":
        print(f"capture: listening on 127.0.0.1:{port}; connect a TLS client to it", file=sys.stderr)
    else:
        cmd, profile = client_command(args.client, port)
        print(f"capture: {' '.join(cmd)}", file=sys.stderr)
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            conn, peer = lsock.accept()
            try:
                raw = read_clienthello(conn, max(1.0, deadline - time.monotonic()))
                break
            except (EOFError, ValueError, socket.timeout) as e:
                print(f"capture: ignoring connection from {peer}: {e}", file=sys.stderr)
            finally:
                conn.close()
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if profile:
            shutil.rmtree(profile, ignore_errors=True)
        lsock.close()

    with open(args.out, "w", encoding="ascii") as f:
        f.write(raw.hex() + "\n")
    print(f"capture: {args.out}: {describe(raw)}", file=sys.stderr)


if __name__ == "__main__":
    main()
