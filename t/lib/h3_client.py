#!/usr/bin/env python3
"""HTTP/3 client and QUIC Initial maker on aioquic's library API, for
t/021-quic-real-clients.t.

    h3_client.py get --connect 127.0.0.1:PORT --sni alpha.test [--path /]
                 [--cafile cert.pem] [--quic-version 1|2] [--long-alpns N]
        One GET over HTTP/3; prints the response body (exit 0 on status 200).
        --long-alpns N offers N long ALPN names before h3: the ClientHello
        then spans several Initial packets (N=12: about 3.4 KB, three).

    h3_client.py initials --sni flood.test --count N [--quic-version 1|2]
        Sends nothing: prints, one line per connection, the hex of the
        datagrams a fresh aioquic client would send first (space-separated;
        a new random connection ID each time).
"""
import argparse
import asyncio
import ssl
import sys
import time

from aioquic.asyncio import QuicConnectionProtocol
from aioquic.asyncio.client import connect
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicProtocolVersion


def configuration_for(options):
    alpns = ["sift-long-alpn-%02d-%s" % (n, "y" * 225) for n in range(options.long_alpns)]
    configuration = QuicConfiguration(is_client=True, alpn_protocols=alpns + H3_ALPN,
                                      server_name=options.sni)
    if options.quic_version == 2:
        configuration.supported_versions = [QuicProtocolVersion.VERSION_2]
    if getattr(options, "cafile", None):
        configuration.load_verify_locations(options.cafile)
    else:
        configuration.verify_mode = ssl.CERT_NONE
    return configuration


class PageClient(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.status = None
        self.body = b""
        self.done = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.status = dict(h3_event.headers).get(b":status")
            elif isinstance(h3_event, DataReceived):
                self.body += h3_event.data
            if getattr(h3_event, "stream_ended", False) and not self.done.done():
                self.done.set_result(True)

    def get(self, authority, path):
        stream_id = self._quic.get_next_available_stream_id()
        self.h3.send_headers(stream_id, [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
            (b"user-agent", b"sift-h3-client aioquic"),
        ], end_stream=True)
        self.transmit()


async def get(options):
    host, port = options.connect.rsplit(":", 1)
    async with connect(host, int(port), configuration=configuration_for(options),
                       create_protocol=PageClient) as client:
        client.get(options.sni, options.path)
        await client.done
        if client.status != b"200":
            print("status %r" % client.status, file=sys.stderr)
            return 1
        sys.stdout.write(client.body.decode(errors="replace"))
        return 0


def initials(options):
    for _ in range(options.count):
        connection = QuicConnection(configuration=configuration_for(options))
        now = time.time()
        connection.connect(("127.0.0.1", 443), now=now)
        print(" ".join(data.hex() for data, _ in connection.datagrams_to_send(now=now)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["get", "initials"])
    parser.add_argument("--connect")
    parser.add_argument("--sni", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--cafile")
    parser.add_argument("--quic-version", type=int, choices=[1, 2], default=1)
    parser.add_argument("--long-alpns", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10)
    options = parser.parse_args()
    if options.mode == "initials":
        initials(options)
        return 0
    try:
        return asyncio.run(asyncio.wait_for(get(options), options.timeout))
    except asyncio.TimeoutError:
        print("timed out after %gs" % options.timeout, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
