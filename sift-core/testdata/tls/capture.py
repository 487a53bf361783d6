#!/usr/bin/env python3
"""Capture the ClientHello of real TLS clients on this machine.

  capture.py listen [--port N]
      Listen on 127.0.0.1, accept one connection, read the client's first
      bytes until its ClientHello handshake message is complete (across any
      number of records and TCP segments), print them as hex and exit.

  capture.py all [--out FILE] [--clients a,b,...]
      For each client (openssl, openssl-split, curl, gnutls, python,
      chromium): listen,
      point the client at https://localhost:PORT/, capture its hello, then
      compute the expected values with tools that share no code with sift:
        ja3_tshark, ja3_full_tshark  Wireshark's tshark (fed a pcap made by
                                     text2pcap from the captured bytes)
        ja3, ja3_string, ja4, ja4_r, ja4_o, ja4_ro
                                     ja4_reference.py (this folder)
      and write them all as a JSON list (default tls-clienthello-captured.json
      beside this script).

Needs: openssl, curl, gnutls-cli (gnutls-bin), chromium, tshark and
text2pcap (tshark/wireshark-common), all from Debian's packages. Nothing
leaves the machine: every connection goes to 127.0.0.1.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ja4_reference  # noqa: E402

RECORD_HEADER = 5
READ_TIMEOUT = 20.0
MAX_CAPTURE = 1 << 16


def hello_complete(data):
    """True once `data` holds a whole first handshake message."""
    payload = b""
    pos = 0
    while pos + RECORD_HEADER <= len(data):
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        payload += data[pos + RECORD_HEADER:pos + RECORD_HEADER + length]
        pos += RECORD_HEADER + length
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            return True
    return False


def record_bytes(data):
    """The leading whole records that carry the first handshake message,
    without anything the client sent after them."""
    pos = 0
    while pos + RECORD_HEADER <= len(data):
        pos += RECORD_HEADER + int.from_bytes(data[pos + 3:pos + 5], "big")
        if hello_complete(data[:pos]):
            return data[:pos]
    return data


def record_count(wire):
    count = 0
    pos = 0
    while pos + RECORD_HEADER <= len(wire):
        pos += RECORD_HEADER + int.from_bytes(wire[pos + 3:pos + 5], "big")
        count += 1
    return count


class Listener:
    """One-shot loopback listener that keeps the first ClientHello."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(1)
        self.sock.settimeout(READ_TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.data = None
        self.segments = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            conn, _ = self.sock.accept()
        except socket.timeout:
            return
        with conn:
            conn.settimeout(READ_TIMEOUT)
            data = b""
            while not hello_complete(data) and len(data) < MAX_CAPTURE:
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    break
                if not chunk:
                    break
                self.segments += 1
                data += chunk
            if hello_complete(data):
                self.data = record_bytes(data)
        self.sock.close()

    def wait(self, timeout=READ_TIMEOUT + 5):
        self.thread.join(timeout)
        return self.data


def version_of(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


LONG_ALPN_LIST = ",".join(["h2", "http/1.1"] + ["sift-test-protocol-%02d" % i for i in range(16)])


def client_commands(port):
    url = "https://localhost:%d/" % port
    python_client = (
        "import socket, ssl\n"
        "ctx = ssl.create_default_context()\n"
        "ctx.check_hostname = False\n"
        "ctx.verify_mode = ssl.CERT_NONE\n"
        "ctx.set_alpn_protocols(['h2', 'http/1.1'])\n"
        "s = socket.create_connection(('127.0.0.1', %d))\n"
        "try:\n"
        "    ctx.wrap_socket(s, server_hostname='localhost')\n"
        "except (ssl.SSLError, OSError):\n"
        "    pass\n" % port
    )
    profile = tempfile.mkdtemp(prefix="sift-chromium-")
    return {
        "openssl": (["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                     "-servername", "localhost"], ["openssl", "version"], None),
        # A real multi-record hello: OpenSSL caps every record at 512 bytes
        # and a long ALPN list pushes its hello past that.
        "openssl-split": (["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                           "-servername", "localhost", "-max_send_frag", "512",
                           "-alpn", LONG_ALPN_LIST], ["openssl", "version"], None),
        "curl": (["curl", "-sk", "--max-time", "10", "--connect-to",
                  "localhost:%d:127.0.0.1:%d" % (port, port), url],
                 ["curl", "--version"], None),
        "gnutls": (["gnutls-cli", "--insecure", "-p", str(port), "localhost"],
                   ["gnutls-cli", "--version"], None),
        "python": ([sys.executable, "-c", python_client],
                   [sys.executable, "-c", "import ssl, sys; print('Python', sys.version.split()[0], ssl.OPENSSL_VERSION)"],
                   None),
        "chromium": (["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--user-data-dir=" + profile,
                      "--host-resolver-rules=MAP localhost 127.0.0.1", url],
                     ["chromium", "--version"], profile),
    }


def capture_client(name):
    listener = Listener().start()
    command, version_command, cleanup = client_commands(listener.port)[name]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = listener.wait()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    if data is None:
        raise RuntimeError("%s: no complete ClientHello captured" % name)
    return data, listener.segments, version_of(version_command)


def tshark_ja3(wire):
    """JA3 and JA3 full string as Wireshark computes them."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "hello.txt")
        pcap = os.path.join(tmp, "hello.pcap")
        with open(dump, "w") as f:
            for offset in range(0, len(wire), 16):
                chunk = wire[offset:offset + 16]
                f.write("%06x %s\n" % (offset, " ".join("%02x" % b for b in chunk)))
        subprocess.run(["text2pcap", "-q", "-T", "50000,443", dump, pcap],
                       check=True, capture_output=True)
        out = subprocess.run(
            ["tshark", "-r", pcap, "-d", "tcp.port==443,tls", "-T", "fields",
             "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3_full"],
            check=True, capture_output=True, text=True).stdout
    line = out.strip().splitlines()[0].split("\t")
    return line[0], line[1]


def describe(name, wire, segments, client_version):
    entry = {
        "source": "captured on loopback by capture.py: %s" % name,
        "client": name,
        "client_version": client_version,
        "tcp_segments": segments,
        "tls_records": record_count(wire),
        "client_hello_bytes": len(ja4_reference.handshake_message(wire)) + 4,
    }
    reference = ja4_reference.fingerprints(wire.hex())
    entry["sni"] = reference.pop("sni")
    entry["ja3_tshark"], entry["ja3_full_tshark"] = tshark_ja3(wire)
    entry.update(reference)
    entry["record_hex"] = wire.hex()
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listen = sub.add_parser("listen")
    listen.add_argument("--port", type=int, default=0)
    run_all = sub.add_parser("all")
    run_all.add_argument("--out", default=os.path.join(HERE, "tls-clienthello-captured.json"))
    run_all.add_argument("--clients", default="openssl,openssl-split,curl,gnutls,python,chromium")
    args = parser.parse_args()

    if args.command == "listen":
        listener = Listener(args.port).start()
        print("listening on 127.0.0.1:%d" % listener.port, file=sys.stderr, flush=True)
        data = listener.wait()
        if data is None:
            sys.exit("no complete ClientHello")
        print(data.hex())
        return

    entries = []
    for name in args.clients.split(","):
        wire, segments, version = capture_client(name)
        entry = describe(name, wire, segments, version)
        print("%-9s %5d bytes in %d segment(s)  %s  %s" % (
            name, len(wire), segments, entry["ja4"], entry["ja3_tshark"]), file=sys.stderr)
        entries.append(entry)
    with open(args.out, "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
