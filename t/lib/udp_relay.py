#!/usr/bin/env python3
"""A recording UDP relay for t/021-quic-real-clients.t: what a client sends
to --listen goes, unchanged and one datagram for one datagram, to --to from
a socket of its own per client; the answers go back to that client. Every
datagram from a client is written to --log before it is forwarded (one JSON
object a line: {"ev": "c2s", "client": "127.0.0.1:PORT", "len": N, "hex": ...}),
so the test can compare what a client sent with what the server behind
nginx received; when a client's socket towards --to is made, its address
is logged too ({"ev": "flow", "client": ..., "via": "127.0.0.1:PORT"}: the
client address nginx sees and logs).

    udp_relay.py --listen 127.0.0.1:PORT --to 127.0.0.1:PORT --log relay.jsonl
"""
import argparse
import asyncio
import json


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards --to for one client."""

    def __init__(self, front, client):
        self.front, self.client = front, client

    def datagram_received(self, data, addr):
        self.front.transport.sendto(data, self.client)


class Front(asyncio.DatagramProtocol):
    def __init__(self, target, log_file):
        self.target, self.log_file = target, log_file
        self.upstreams = {}
        self.pending = {}

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        client = "%s:%d" % addr[:2]
        self.log_file.write(json.dumps({"ev": "c2s", "client": client, "len": len(data),
                                        "hex": data.hex()}) + "\n")
        self.log_file.flush()
        if addr in self.upstreams:
            self.upstreams[addr].sendto(data)
        elif addr in self.pending:
            self.pending[addr].append(data)
        else:
            # Datagrams that arrive while the upstream socket is being made
            # wait, in order.
            self.pending[addr] = [data]
            asyncio.ensure_future(self.open(addr))

    async def open(self, addr):
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Upstream(self, addr), remote_addr=self.target)
        self.upstreams[addr] = transport
        via = transport.get_extra_info("sockname")
        self.log_file.write(json.dumps({"ev": "flow", "client": "%s:%d" % addr[:2],
                                        "via": "%s:%d" % via[:2]}) + "\n")
        self.log_file.flush()
        for data in self.pending.pop(addr):
            transport.sendto(data)


async def main(options):
    loop = asyncio.get_running_loop()
    log_file = open(options.log, "a")
    await loop.create_datagram_endpoint(lambda: Front(address(options.to), log_file),
                                        local_addr=address(options.listen))
    print("udp_relay %s -> %s" % (options.listen, options.to), flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--log", required=True)
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        pass
