#!/usr/bin/env python3
"""Captures the first client datagrams of real QUIC clients (aioquic and
qh3, from PyPI) on 127.0.0.1, for tests/quic_vectors.rs.

No server runs: a UDP socket on 127.0.0.1 records what the client sends in
its first flight (everything within RECORD_SECONDS of the first datagram,
before any retransmission timer fires), then the client is cancelled.
Nothing leaves the loopback interface.

Expected values are computed independently of sift's Rust code: the
Initial packets are opened with the client library's own crypto
(aioquic.quic.crypto.CryptoPair, server side), the CRYPTO frames are
reassembled here, and the JA4 forms come from ../tls/ja4_reference.py
(with JA4's QUIC prefix `q`).

Usage:   pip install aioquic==1.7.2 qh3==2.1.0
         python3 capture_quic.py [OUT.json]   (default: quic-captured.json here)
"""
import asyncio
import importlib.util
import json
import os
import socket
import sys

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
    returns (version, initial packet count, hello message)."""
    pair, version, packets, pieces = None, None, 0, {}
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
            buf.seek(end)
    stream = b""
    for offset in sorted(pieces):
        stream = stream[:offset] + pieces[offset] + stream[offset + len(pieces[offset]):]
    length = 4 + int.from_bytes(stream[1:4], "big")
    return version, packets, stream[:length]


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


def cases():
    from aioquic.asyncio.client import connect as aioquic_connect
    from aioquic.quic.configuration import QuicConfiguration as AioquicConfiguration
    from qh3.asyncio.client import connect as qh3_connect
    from qh3.quic.configuration import QuicConfiguration as Qh3Configuration

    long_alpns = ["sift-test-%02d-%s" % (n, "x" * 230) for n in range(12)] + ["h3"]
    yield ("aioquic %s" % aioquic.__version__, "h3, QUIC v1", aioquic_connect,
           AioquicConfiguration(is_client=True, alpn_protocols=["h3"],
                                server_name="aioquic.sift.test"))
    yield ("aioquic %s" % aioquic.__version__, "QUIC v2", aioquic_connect,
           AioquicConfiguration(is_client=True, alpn_protocols=["h3", "hq-interop"],
                                server_name="v2.sift.test",
                                supported_versions=[QuicProtocolVersion.VERSION_2]))
    yield ("aioquic %s" % aioquic.__version__, "13 long ALPNs: a hello in three Initials",
           aioquic_connect,
           AioquicConfiguration(is_client=True, alpn_protocols=long_alpns,
                                server_name="three.sift.test"))
    yield ("qh3 %s" % qh3.__version__, "h3, QUIC v1", qh3_connect,
           Qh3Configuration(is_client=True, alpn_protocols=["h3"], server_name="qh3.sift.test"))
    yield ("qh3 %s" % qh3.__version__, "QUIC v2", qh3_connect,
           Qh3Configuration(is_client=True, alpn_protocols=["h3"], server_name="v2.qh3.sift.test",
                            supported_versions=[QuicProtocolVersion.VERSION_2]))


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "quic-captured.json")
    results = []
    for client, what, connect, configuration in cases():
        datagrams = asyncio.run(first_flight(connect, configuration))
        version, packets, message = open_flight(datagrams)
        # Keep the datagrams up to the one that completes the hello.
        used = 0
        for used in range(1, len(datagrams) + 1):
            if open_flight(datagrams[:used])[2] == message and len(message) > 4:
                break
        entry = {"client": client, "what": what, "quic_version": "0x%08x" % version,
                 "datagrams_hex": [d.hex() for d in datagrams[:used]],
                 "datagram_lengths": [len(d) for d in datagrams[:used]],
                 "initial_packets": open_flight(datagrams[:used])[1],
                 "hello_len": len(message)}
        entry.update(expected_for(message))
        entry["version"] = "TLSv1.3"
        results.append(entry)
        print("%-14s %-42s v=%s datagrams=%d packets=%d hello=%d %s" % (
            client, what, entry["quic_version"], used, entry["initial_packets"],
            len(message), entry["ja4"]), file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
