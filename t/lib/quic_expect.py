#!/usr/bin/env python3
"""What a QUIC client's first datagrams carry, computed without sift's code,
for t/021-quic-real-clients.t: the Initial packets are opened with aioquic's
crypto (server side), the CRYPTO frames put back in order here, and the
ClientHello's fingerprints come from sift-core/testdata/tls/ja4_reference.py
with JA4's QUIC prefix `q`.

Reads one client flow a line on stdin: the hex of the datagrams the client
sent, in order, space-separated. Writes one JSON object a line:
{"hello_datagrams": N, "lengths": [...], "version": "0x00000001",
 "sni": ..., "alpn": "h3,...", "ja4": "q13d...", "error": null}; hello_datagrams
is how many datagrams it took to complete the ClientHello.
"""
import importlib.util
import json
import os
import sys

from aioquic.buffer import Buffer
from aioquic.quic.crypto import CryptoPair
from aioquic.quic.packet import QuicPacketType, pull_quic_header

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
spec = importlib.util.spec_from_file_location(
    "ja4_reference", os.path.join(TOP, "sift-core", "testdata", "tls", "ja4_reference.py"))
ja4_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ja4_reference)


def read_varint(data, at):
    size = 1 << (data[at] >> 6)
    value = data[at] & 0x3F
    for i in range(1, size):
        value = (value << 8) | data[at + i]
    return value, at + size


def crypto_pieces(payload):
    """The (offset, bytes) of each CRYPTO frame in an Initial's payload."""
    at, pieces = 0, []
    while at < len(payload):
        kind = payload[at]
        at += 1
        if kind in (0x00, 0x01):            # PADDING, PING
            continue
        if kind == 0x06:                    # CRYPTO
            offset, at = read_varint(payload, at)
            size, at = read_varint(payload, at)
            pieces.append((offset, payload[at:at + size]))
            at += size
        elif kind in (0x02, 0x03):          # ACK (with ECN counts)
            _, at = read_varint(payload, at)        # largest
            _, at = read_varint(payload, at)        # delay
            ranges, at = read_varint(payload, at)
            for _ in range(1 + 2 * ranges + (3 if kind == 0x03 else 0)):
                _, at = read_varint(payload, at)
        elif kind == 0x1C:                  # CONNECTION_CLOSE: nothing more
            break
        else:
            raise ValueError("frame type 0x%02x in an Initial" % kind)
    return pieces


def complete_hello(stream):
    """The handshake message, if the bytes from offset 0 hold all of it."""
    if len(stream) < 4:
        return None
    size = 4 + int.from_bytes(stream[1:4], "big")
    return stream[:size] if len(stream) >= size else None


def examine(datagrams):
    out = {"lengths": [len(d) for d in datagrams], "hello_datagrams": None, "error": None}
    pair, first_dcid, pieces = None, None, {}
    for count, datagram in enumerate(datagrams, 1):
        buf = Buffer(data=datagram)
        while not buf.eof() and datagram[buf.tell()] & 0x80:
            start = buf.tell()
            header = pull_quic_header(buf, host_cid_length=8)
            end = start + header.packet_length
            if header.packet_type == QuicPacketType.INITIAL:
                if pair is None:
                    first_dcid = header.destination_cid
                    out["version"] = "0x%08x" % header.version
                    pair = CryptoPair()
                    pair.setup_initial(first_dcid, is_client=False, version=header.version)
                if header.destination_cid == first_dcid:
                    _, payload, _ = pair.decrypt_packet(datagram[start:end], buf.tell() - start, 0)
                    for offset, data in crypto_pieces(payload):
                        pieces[offset] = data
            buf.seek(end)
        stream = b""
        for offset in sorted(pieces):
            if offset > len(stream):
                break
            stream = stream[:offset] + pieces[offset] + stream[offset + len(pieces[offset]):]
        hello = complete_hello(stream)
        if hello is not None:
            out["hello_datagrams"] = count
            record = bytes([0x16, 0x03, 0x01]) + len(hello).to_bytes(2, "big") + hello
            prints = ja4_reference.fingerprints(record.hex())
            parsed = ja4_reference.parse_hello(hello[4:])
            alpn_data = ja4_reference.ext_data(parsed, 0x0010) or b""
            names, at = [], 2
            while at < len(alpn_data):
                names.append(alpn_data[at + 1:at + 1 + alpn_data[at]].decode())
                at += 1 + alpn_data[at]
            out.update(sni=prints["sni"], alpn=",".join(names), ja4="q" + prints["ja4"][1:])
            return out
    out["error"] = "no complete ClientHello in %d datagrams" % len(datagrams)
    return out


for line in sys.stdin:
    try:
        result = examine([bytes.fromhex(h) for h in line.split()])
    except Exception as exc:      # reported, not raised: the test prints it
        result = {"error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(result), flush=True)
