#!/usr/bin/env python3
"""Captures the first client datagrams of real QUIC clients (aioquic and
qh3, from PyPI, and the system's Chromium) on 127.0.0.1, for
tests/quic_vectors.rs and benches/quic.rs.

No server runs: a UDP socket on 127.0.0.1 records what the client sends in
its first flight (everything within RECORD_SECONDS of the first datagram,
before any retransmission timer fires), then the client is cancelled (the
Python clients) or killed (Chromium, headless, QUIC forced for a made-up
name that --host-resolver-rules maps to the socket). Nothing leaves the
loopback interface.

Expected values are computed independently of sift's Rust code: the
Initial packets are opened with the client library's own crypto
(aioquic.quic.crypto.CryptoPair, server side), the CRYPTO frames are
reassembled here, and the JA4 forms come from ../tls/ja4_reference.py
(with JA4's QUIC prefix `q`).

Usage:   pip install aioquic==1.7.2 qh3==2.1.0
         python3 capture_quic.py [--only CLIENT] [OUT.json]
OUT.json defaults to quic-captured.json here. --only aioquic|qh3|chromium
captures just that client and replaces its entries in the existing OUT.json
(appends them if it has none), leaving every other entry as it was.
"""
import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import aioquic
import qh3
from aioquic.buffer import Buffer
from aioquic.quic.crypto import CryptoPair
from aioquic.quic.packet import QuicPacketType, QuicProtocolVersion, pull_quic_header

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD_SECONDS = 0.25

spec = importlib.util.spec_from_file_location(
    "ja4_reference", os.path.join(HERE, "..", "tls", "ja4_reference.py"))
ja4_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ja4_reference)


async def first_flight(connect, configuration):
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]

    async def client():
        async with connect("127.0.0.1", port, configuration=configuration,
                           wait_connected=True):
            pass

    task = asyncio.ensure_future(client())
    datagrams = []
    try:
        datagrams.append(await asyncio.wait_for(loop.sock_recv(sock, 65535), 10))
        deadline = loop.time() + RECORD_SECONDS
        while True:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                datagrams.append(await asyncio.wait_for(loop.sock_recv(sock, 65535), left))
            except asyncio.TimeoutError:
                break
    finally:
        task.cancel()
        try:
            await task
        except BaseException:
            pass
        sock.close()
    return datagrams


def chromium_version():
    # "Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)"
    out = subprocess.run(["chromium", "--version"], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[1]


def chromium_flight(host):
    """Headless Chromium with QUIC forced for `host`, which resolves to the
    recording socket; no answer comes, so Chromium is killed afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    profile = tempfile.mkdtemp(prefix="sift-chromium-")
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=" + profile, "--enable-quic",
         "--origin-to-force-quic-on=%s:443" % host,
         "--host-resolver-rules=MAP %s:443 127.0.0.1:%d" % (host, port),
         "--dump-dom", "https://%s/" % host],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        sock.settimeout(30)
        first, sender = sock.recvfrom(65535)
        datagrams = [first]
        deadline = time.monotonic() + RECORD_SECONDS
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, source = sock.recvfrom(65535)
            except socket.timeout:
                break
            # Only the connection that sent first.
            if source == sender:
                datagrams.append(data)
    finally:
        # Its own process group: the zygote and renderers go with it.
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
        time.sleep(0.5)
        shutil.rmtree(profile, ignore_errors=True)
        sock.close()
    return datagrams


def varint(data, pos):
    length = 1 << (data[pos] >> 6)
    value = data[pos] & 0x3F
    for byte in data[pos + 1:pos + length]:
        value = value << 8 | byte
    return value, pos + length


def crypto_frames(payload):
    pos, frames = 0, []
    while pos < len(payload):
        kind = payload[pos]
        pos += 1
        if kind == 0x00 or kind == 0x01:
            continue
        if kind == 0x06:
            offset, pos = varint(payload, pos)
            length, pos = varint(payload, pos)
            frames.append((offset, payload[pos:pos + length]))
            pos += length
            continue
        if kind in (0x02, 0x03):
            _, pos = varint(payload, pos)
            _, pos = varint(payload, pos)
            count, pos = varint(payload, pos)
            _, pos = varint(payload, pos)
            for _ in range(count * 2 + (3 if kind == 0x03 else 0)):
                _, pos = varint(payload, pos)
            continue
        raise ValueError("unexpected frame type %#x" % kind)
    return frames


def open_flight(datagrams):
    """Opens every Initial packet of the flight the way a server would, and
    returns (version, initial packet count, hello message or the part of it
    received so far, CRYPTO frames as (offset, length) in arrival order)."""
    pair, version, packets, pieces, arrivals = None, None, 0, {}, []
    for datagram in datagrams:
        buf = Buffer(data=datagram)
        while not buf.eof():
            start = buf.tell()
            if not datagram[start] & 0x80:
                break
            header = pull_quic_header(buf, host_cid_length=8)
            end = start + header.packet_length
            if header.packet_type == QuicPacketType.INITIAL:
                if pair is None:
                    version = header.version
                    pair = CryptoPair()
                    pair.setup_initial(header.destination_cid, is_client=False, version=version)
                _, payload, _ = pair.decrypt_packet(datagram[start:end], buf.tell() - start, 0)
                packets += 1
                for offset, data in crypto_frames(payload):
                    pieces[offset] = data
                    arrivals.append((offset, len(data)))
            buf.seek(end)
    # The contiguous prefix of the CRYPTO stream: pieces in offset order,
    # stopping at the first gap.
    stream = b""
    for offset in sorted(pieces):
        if offset > len(stream):
            break
        stream += pieces[offset][len(stream) - offset:]
    length = 4 + int.from_bytes(stream[1:4], "big")
    return version, packets, stream[:length], arrivals


def out_of_order(arrivals):
    """True if some CRYPTO frame arrived before one at a lower offset."""
    return any(later[0] < earlier[0] for earlier, later in zip(arrivals, arrivals[1:]))


def expected_for(message):
    record = bytes([22, 3, 1]) + len(message).to_bytes(2, "big") + message
    prints = ja4_reference.fingerprints(record.hex())
    hello = ja4_reference.parse_hello(message[4:])
    alpn_data = ja4_reference.ext_data(hello, 0x0010) or b""
    alpn, pos = [], 2
    while pos < len(alpn_data):
        alpn.append(alpn_data[pos + 1:pos + 1 + alpn_data[pos]].decode())
        pos += 1 + alpn_data[pos]
    out = {"sni": prints["sni"], "alpn": alpn,
           "ech": ja4_reference.ext_data(hello, 0xFE0D) is not None}
    for key in ("ja4", "ja4_r", "ja4_o", "ja4_ro"):
        out[key] = "q" + prints[key][1:]
    return out


def cases(only=None):
    """Yields (client key, client, what, capture) where capture() returns
    the datagrams of one first flight."""
    if only in (None, "aioquic", "qh3"):
        yield from python_cases(only)
    if only in (None, "chromium"):
        host = "chromium.sift.test"
        yield ("chromium", "Chromium %s" % chromium_version(),
               "headless, QUIC forced, h3, post-quantum key share, chaos protection",
               lambda: chromium_flight(host))


def python_cases(only):
    from aioquic.asyncio.client import connect as aioquic_connect
    from aioquic.quic.configuration import QuicConfiguration as AioquicConfiguration
    from qh3.asyncio.client import connect as qh3_connect
    from qh3.quic.configuration import QuicConfiguration as Qh3Configuration

    def flight(connect, configuration):
        return lambda: asyncio.run(first_flight(connect, configuration))

    long_alpns = ["sift-test-%02d-%s" % (n, "x" * 230) for n in range(12)] + ["h3"]
    aioquic_client = "aioquic %s" % aioquic.__version__
    qh3_client = "qh3 %s" % qh3.__version__
    if only in (None, "aioquic"):
        yield ("aioquic", aioquic_client, "h3, QUIC v1", flight(
            aioquic_connect,
            AioquicConfiguration(is_client=True, alpn_protocols=["h3"],
                                 server_name="aioquic.sift.test")))
        yield ("aioquic", aioquic_client, "QUIC v2", flight(
            aioquic_connect,
            AioquicConfiguration(is_client=True, alpn_protocols=["h3", "hq-interop"],
                                 server_name="v2.sift.test",
                                 supported_versions=[QuicProtocolVersion.VERSION_2])))
        yield ("aioquic", aioquic_client, "13 long ALPNs: a hello in three Initials", flight(
            aioquic_connect,
            AioquicConfiguration(is_client=True, alpn_protocols=long_alpns,
                                 server_name="three.sift.test")))
    if only in (None, "qh3"):
        yield ("qh3", qh3_client, "h3, QUIC v1", flight(
            qh3_connect,
            Qh3Configuration(is_client=True, alpn_protocols=["h3"],
                             server_name="qh3.sift.test")))
        yield ("qh3", qh3_client, "QUIC v2", flight(
            qh3_connect,
            Qh3Configuration(is_client=True, alpn_protocols=["h3"],
                             server_name="v2.qh3.sift.test",
                             supported_versions=[QuicProtocolVersion.VERSION_2])))

def capture(capture_flight):
    datagrams = capture_flight()
    version, _, message, _ = open_flight(datagrams)
    if len(message) <= 4 or len(message) != 4 + int.from_bytes(message[1:4], "big"):
        raise SystemExit("the first flight did not hold a whole ClientHello")
    # Keep the datagrams up to the one that completes the hello.
    used = 0
    for used in range(1, len(datagrams) + 1):
        if open_flight(datagrams[:used])[2] == message:
            break
    _, packets, _, arrivals = open_flight(datagrams[:used])
    entry = {"quic_version": "0x%08x" % version,
             "datagrams_hex": [d.hex() for d in datagrams[:used]],
             "datagram_lengths": [len(d) for d in datagrams[:used]],
             "initial_packets": packets,
             "crypto_frames": len(arrivals),
             "crypto_out_of_order": out_of_order(arrivals),
             "hello_len": len(message)}
    entry.update(expected_for(message))
    entry["version"] = "TLSv1.3"
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("aioquic", "qh3", "chromium"),
                        help="capture this client only and replace its entries in OUT")
    parser.add_argument("out", nargs="?", default=os.path.join(HERE, "quic-captured.json"))
    args = parser.parse_args()
    fresh = []
    for key, client, what, capture_flight in cases(args.only):
        entry = {"client": client, "what": what}
        entry.update(capture(capture_flight))
        fresh.append((key, entry))
        print("%-24s %-42s v=%s datagrams=%s packets=%d crypto=%d%s hello=%d %s" % (
            client, what[:42], entry["quic_version"], entry["datagram_lengths"],
            entry["initial_packets"], entry["crypto_frames"],
            " (out of order)" if entry["crypto_out_of_order"] else "",
            entry["hello_len"], entry["ja4"]), file=sys.stderr)
    results = [entry for _, entry in fresh]
    if args.only:
        with open(args.out) as f:
            kept = json.load(f)
        mine = [n for n, entry in enumerate(kept)
                if entry["client"].split(" ")[0].lower() == args.only]
        at = mine[0] if mine else len(kept)
        kept = [entry for n, entry in enumerate(kept) if n not in mine]
        results = kept[:at] + results + kept[at:]
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")

if __name__ == "__main__":
    main()
