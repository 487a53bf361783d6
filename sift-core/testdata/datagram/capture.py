#!/usr/bin/env python3
"""Captures the first UDP datagram of real clients on 127.0.0.1 for the
tests of sift_core::datagram::classify (src/datagram/tests.rs).

No server runs: a UDP socket on 127.0.0.1 records what the client sends
first, then the client is stopped. Nothing leaves the loopback interface.

Clients (Debian bookworm packages):
  dig (bind9-dnsutils)      DNS queries, with and without EDNS
  nsupdate (bind9-dnsutils) a DNS UPDATE
  openssl s_client          DTLS 1.2 and DTLS 1.0 ClientHellos
  openvpn                   UDP hard reset (plain, and with tls-auth)
  wireguard-go + wg         a WireGuard handshake initiation (needs root
                            and /dev/net/tun; skipped when unavailable)

Usage: capture.py [OUT.json]   (default: datagrams-captured.json here)
Regenerate with: apt-get install bind9-dnsutils openssl openvpn wireguard-go wireguard-tools
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def first_datagram(command_for_port, timeout=15.0, setup=None, cleanup=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.settimeout(timeout)
    command = command_for_port(port)
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if setup:
            setup(port)
        data, _ = sock.recvfrom(65535)
        return command, data
    finally:
        proc.kill()
        proc.wait()
        if cleanup:
            cleanup()
        sock.close()


def version_of(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        text = (out.stdout + out.stderr).strip().splitlines()
        return text[0] if text else ""
    except OSError:
        return ""


def make_pki(directory):
    def run(*args):
        subprocess.run(args, check=True, capture_output=True, cwd=directory)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=sift test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=client")
    run("openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "client.pem", "-days", "30")
    run("openvpn", "--genkey", "secret", "ta.key")


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "datagrams-captured.json")
    work = tempfile.mkdtemp(prefix="sift-capture-")
    results = []

    def record(client, expected, command_for_port, **kwargs):
        try:
            command, data = first_datagram(command_for_port, **kwargs)
        except (OSError, socket.timeout) as error:
            print("skipped %s: %s" % (client, error), file=sys.stderr)
            return
        shown = [part if not part.startswith(work) else os.path.basename(part) for part in command]
        results.append({"client": client, "command": " ".join(shown), "expected": expected,
                        "datagram_hex": data.hex()})
        print("%-28s %4d bytes" % (client, len(data)), file=sys.stderr)

    dig = version_of(["dig", "-v"])
    record("dig " + dig, "dns", lambda p: ["dig", "@127.0.0.1", "-p", str(p), "+tries=1",
                                           "+time=5", "www.example.net", "AAAA"])
    record("dig +noedns", "dns", lambda p: ["dig", "@127.0.0.1", "-p", str(p), "+tries=1",
                                            "+time=5", "+noedns", "example.org", "MX"])
    record("dig root NS +norecurse", "dns", lambda p: ["dig", "@127.0.0.1", "-p", str(p),
                                                      "+tries=1", "+time=5", "+norecurse", ".", "NS"])
    record("dig +nocookie CH TXT", "dns", lambda p: ["dig", "@127.0.0.1", "-p", str(p),
                                                    "+tries=1", "+time=5", "+nocookie", "CH",
                                                    "TXT", "version.bind"])
    update = os.path.join(work, "update.txt")

    def nsupdate(port):
        with open(update, "w") as f:
            f.write("server 127.0.0.1 %d\nzone example.test\n"
                    "update add host.example.test 300 A 192.0.2.7\nsend\n" % port)
        return ["nsupdate", "-t", "5", update]
    record("nsupdate", "dns", nsupdate)

    openssl = version_of(["openssl", "version"])
    for flag in ("-dtls1_2", "-dtls1"):
        record("openssl s_client %s (%s)" % (flag, openssl), "dtls",
               lambda p, flag=flag: ["openssl", "s_client", flag, "-connect", "127.0.0.1:%d" % p,
                                     "-servername", "dtls.example"] +
               (["-cipher", "DEFAULT:@SECLEVEL=0"] if flag == "-dtls1" else []))

    if shutil.which("openvpn"):
        make_pki(work)
        base = lambda p: ["openvpn", "--client", "--dev", "null", "--proto", "udp",
                          "--remote", "127.0.0.1", str(p), "--nobind",
                          "--ca", os.path.join(work, "ca.pem"),
                          "--cert", os.path.join(work, "client.pem"),
                          "--key", os.path.join(work, "client.key"), "--verb", "0"]
        openvpn = version_of(["openvpn", "--version"])
        record("openvpn (%s)" % openvpn.split(" [")[0], "openvpn", base)
        record("openvpn --tls-auth", "openvpn",
               lambda p: base(p) + ["--tls-auth", os.path.join(work, "ta.key"), "1"])
        record("openvpn --tls-crypt", "openvpn",
               lambda p: base(p) + ["--tls-crypt", os.path.join(work, "ta.key")])

    if shutil.which("wireguard-go") and shutil.which("wg"):
        interface = "siftwg0"
        private = subprocess.run(["wg", "genkey"], capture_output=True, text=True).stdout.strip()
        peer = subprocess.run(["wg", "pubkey"], input=subprocess.run(
            ["wg", "genkey"], capture_output=True, text=True).stdout,
            capture_output=True, text=True).stdout.strip()
        key_file = os.path.join(work, "wg.key")
        with open(key_file, "w") as f:
            f.write(private + "\n")

        def configure(port):
            # Wait for the interface, then give it a peer on 127.0.0.1 with a
            # keepalive: that alone starts a handshake, sent to 127.0.0.1
            # only (the interface gets no address and routes nothing).
            for _ in range(50):
                if subprocess.run(["wg", "show", interface], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            subprocess.run(["wg", "set", interface, "private-key", key_file, "peer", peer,
                            "endpoint", "127.0.0.1:%d" % port, "persistent-keepalive", "1",
                            "allowed-ips", "0.0.0.0/32"], check=True)
            subprocess.run(["ip", "link", "set", interface, "up"], check=True)

        def remove():
            subprocess.run(["ip", "link", "del", interface], capture_output=True)

        env_command = lambda p: ["env", "WG_PROCESS_FOREGROUND=1", "wireguard-go", "-f", interface]
        record("wireguard-go " + version_of(["wireguard-go", "--version"]), "wireguard",
               env_command, setup=configure, cleanup=remove)

    shutil.rmtree(work, ignore_errors=True)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print("wrote %d datagrams to %s" % (len(results), out_path), file=sys.stderr)


if __name__ == "__main__":
    main()
