#!/usr/bin/env python3
"""A small HTTP/3 server on aioquic's library API, for t/021-quic-real-clients.t.

Every request gets a 200 with a one-line HTML page that names this backend
and the request, e.g.

    <html><body><p id=answer>backend=alpha authority=alpha.test path=/ over=h3</p></body></html>

and every UDP datagram the server receives is written to --log, one JSON
object a line, before aioquic sees it ({"ev": "datagram", "peer": ...,
"hex": ...}); each request is logged too ({"ev": "request", ...}).

    h3_server.py --port 4433 --name alpha --cert c.pem --key k.pem --log alpha.jsonl
"""
import argparse
import asyncio
import json
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated

options = None
log_file = None


def log(**fields):
    log_file.write(json.dumps(fields) + "\n")
    log_file.flush()


class PageProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = None

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self.h3 = H3Connection(self._quic)
        if self.h3 is None:
            return
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.answer(h3_event)

    def answer(self, request):
        headers = dict(request.headers)
        authority = headers.get(b":authority", b"-").decode(errors="replace")
        path = headers.get(b":path", b"-").decode(errors="replace")
        peer = self._quic._network_paths[0].addr if self._quic._network_paths else ("-", 0)
        log(ev="request", peer="%s:%d" % peer[:2], authority=authority, path=path,
            method=headers.get(b":method", b"-").decode(errors="replace"),
            user_agent=headers.get(b"user-agent", b"-").decode(errors="replace"),
            version="0x%08x" % self._quic._version)
        body = ("<html><body><p id=answer>backend=%s authority=%s path=%s over=h3</p>"
                "</body></html>\n" % (options.name, authority, path)).encode()
        self.h3.send_headers(request.stream_id, [
            (b":status", b"200"),
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ])
        self.h3.send_data(request.stream_id, body, end_stream=True)
        self.transmit()


async def main():
    configuration = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    configuration.load_cert_chain(options.cert, options.key)
    server = await serve("127.0.0.1", options.port, configuration=configuration,
                         create_protocol=PageProtocol)
    # Record each datagram as it arrives, before aioquic parses it.
    received = server.datagram_received

    def recording(data, addr):
        log(ev="datagram", peer="%s:%d" % addr[:2], len=len(data), hex=data.hex())
        received(data, addr)

    server.datagram_received = recording
    print("h3_server %s listening on 127.0.0.1:%d" % (options.name, options.port), flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", required=True)
    options = parser.parse_args()
    log_file = open(options.log, "a")
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
