#!/usr/bin/env python3
"""Capture the first bytes real clients send, for sift's protocol detectors.

  capture.py [--out FILE] [--clients a,b,...] [--haproxy PATH]

For each client: listen on 127.0.0.1 (a port the kernel picks), point the
client at it, keep what it sends until it closes or goes quiet, and write
a JSON list (default protocol-captured.json beside this script) of

  {"name", "protocol", "client", "version", "command", "hex"}

where `hex` is the client's first bytes exactly as a server reads them,
`version` the client's own version line and `protocol` the name sift
should detect.

Clients (all Debian bookworm packages; nothing leaves 127.0.0.1):
  dig      bind9-dnsutils  dig +tcp (A, and AXFR)
  kdig     knot-dnsutils   kdig +tcp
  logger   bsdutils        logger --tcp, RFC 5424 / RFC 3164, with and
                           without RFC 6587 octet counting
  adb      adb             adb connect 127.0.0.1:PORT (its own server on a
                           private port, killed afterwards; HOME in a
                           temporary directory for its key)
  tinc     tinc            tincd with a throwaway config, DeviceType dummy,
                           ConnectTo a node at 127.0.0.1:PORT
  nginx    nginx           /usr/sbin/nginx with its own prefix under /tmp, a
                           stream server with `proxy_protocol on` (v1)
  haproxy  haproxy         `send-proxy` (v1) and `send-proxy-v2`; pass the
                           binary with --haproxy (e.g. unpacked with
                           `apt-get download haproxy; dpkg -x`), it is run
                           in the foreground with its own config.

Every process started here is stopped here, by its own pid.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ACCEPT_TIMEOUT = 20.0
# A client that waits for an answer goes quiet once its first flight is out.
QUIET = 1.0
MAX_CAPTURE = 1 << 16


class Listener:
    """One-shot loopback listener keeping everything the first client sends
    until it closes or stays quiet for QUIET seconds."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.data = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(ACCEPT_TIMEOUT)
        try:
            conn, _ = self.sock.accept()
        except socket.timeout:
            return
        data = b""
        conn.settimeout(QUIET)
        try:
            while len(data) < MAX_CAPTURE:
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            conn.close()
            self.sock.close()
        self.data = data

    def wait(self):
        self.thread.join(ACCEPT_TIMEOUT + 5)
        if self.data is None:
            raise RuntimeError("no connection on port %d" % self.port)
        return self.data


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_line(command):
    out = subprocess.run(command, capture_output=True, text=True)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else ""


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_client(command, env=None, timeout=15):
    subprocess.run(command, capture_output=True, timeout=timeout, env=env)


def capture(name, protocol, client, version, command_for, run=None):
    listener = Listener()
    command = command_for(listener.port)
    (run or run_client)(command)
    data = listener.wait()
    shown = [part.replace(str(listener.port), "PORT") for part in command]
    print("%-22s %4d bytes  %s" % (name, len(data), data[:40]), file=sys.stderr)
    return {
        "name": name,
        "protocol": protocol,
        "client": client,
        "version": version,
        "command": " ".join(shown),
        "hex": data.hex(),
    }


def dns_captures():
    out = []
    version = first_line(["dig", "-v"])
    out.append(capture(
        "dig +tcp A", "dns", "dig", version,
        lambda port: ["dig", "+tcp", "+tries=1", "+time=2", "@127.0.0.1",
                      "-p", str(port), "example.com", "A"]))
    out.append(capture(
        "dig +tcp AXFR", "dns", "dig", version,
        lambda port: ["dig", "+tries=1", "+time=2", "@127.0.0.1",
                      "-p", str(port), "example.org", "AXFR"]))
    version = first_line(["kdig", "--version"])
    out.append(capture(
        "kdig +tcp AAAA", "dns", "kdig", version,
        lambda port: ["kdig", "+tcp", "+retry=0", "+timeout=2", "@127.0.0.1",
                      "-p", str(port), "www.example.net", "AAAA"]))
    return out


def logger_captures():
    version = first_line(["logger", "--version"])
    out = []
    base = ["logger", "--tcp", "--server", "127.0.0.1", "-t", "sift",
            "-p", "user.notice"]
    for name, extra in [
        ("logger --tcp", []),
        ("logger --tcp --rfc5424", ["--rfc5424"]),
        ("logger --tcp --rfc3164", ["--rfc3164"]),
        ("logger --tcp --octet-count", ["--octet-count"]),
        ("logger --tcp --rfc3164 --octet-count", ["--rfc3164", "--octet-count"]),
    ]:
        out.append(capture(
            name, "syslog", "logger", version,
            lambda port, extra=extra: base + extra + ["--port", str(port),
                                                      "hello from sift"]))
    return out


def adb_captures():
    version = " ".join(first_line(["adb", "version"]).split()) + " / " + \
        subprocess.run(["adb", "version"], capture_output=True,
                       text=True).stdout.splitlines()[1].strip()
    home = tempfile.mkdtemp(prefix="sift-adb-")
    server_port = str(free_port())
    env = dict(os.environ, HOME=home, ANDROID_SDK_HOME=home)

    def run(command):
        run_client(command, env=env, timeout=30)

    try:
        entry = capture(
            "adb connect", "adb", "adb", version,
            lambda port: ["adb", "-P", server_port, "connect",
                          "127.0.0.1:%d" % port],
            run=run)
        entry["command"] = entry["command"].replace(server_port, "SERVER_PORT")
    finally:
        subprocess.run(["adb", "-P", server_port, "kill-server"],
                       capture_output=True, env=env, timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    return [entry]


def tinc_captures():
    version = first_line(["tincd", "--version"])
    root = tempfile.mkdtemp(prefix="sift-tinc-")
    own_port = free_port()
    processes = []

    def run(command):
        # command: the config dir; tincd runs until the capture is over.
        confdir = command[-1]
        hosts = os.path.join(confdir, "hosts")
        os.makedirs(hosts)
        port = command[0]
        with open(os.path.join(confdir, "tinc.conf"), "w") as f:
            f.write("Name = sift_alice\nConnectTo = sift_bob\n"
                    "DeviceType = dummy\nAddressFamily = ipv4\n"
                    "BindToAddress = 127.0.0.1\n")
        with open(os.path.join(hosts, "sift_alice"), "w") as f:
            f.write("Port = %d\n" % own_port)
        subprocess.run(["tincd", "-c", confdir, "-K2048"], input=b"\n\n",
                       capture_output=True, timeout=60)
        with open(os.path.join(hosts, "sift_alice")) as f:
            text = f.read()
        public = text[text.index("-----BEGIN"):]
        with open(os.path.join(hosts, "sift_bob"), "w") as f:
            f.write("Address = 127.0.0.1\nPort = %s\n%s" % (port, public))
        processes.append(subprocess.Popen(
            ["tincd", "-c", confdir, "-D", "-d0",
             "--pidfile=" + os.path.join(root, "tinc.pid"),
             "--logfile=" + os.path.join(root, "tinc.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        entry = capture(
            "tincd ConnectTo", "tinc", "tincd", version,
            lambda port: [str(port), "tincd", "-c",
                          os.path.join(root, "conf")],
            run=run)
        entry["command"] = "tincd -c CONF -D (tinc.conf: Name = sift_alice, " \
            "ConnectTo = sift_bob, DeviceType = dummy)"
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(root, ignore_errors=True)
    return [entry]


def proxied_capture(name, client, version, start_proxy):
    """Start a proxy that forwards 127.0.0.1:FRONT to the listener with a
    PROXY header, connect to FRONT, send a line, keep what arrives."""
    listener = Listener()
    front = free_port()
    process = start_proxy(front, listener.port)
    try:
        for _ in range(50):
            try:
                with socket.create_connection(("127.0.0.1", front), 1) as sock:
                    sock.sendall(b"hello\n")
                    time.sleep(QUIET + 0.5)
                break
            except OSError:
                time.sleep(0.1)
        data = listener.wait()
    finally:
        stop(process)
    print("%-22s %4d bytes  %s" % (name, len(data), data[:60]), file=sys.stderr)
    return {
        "name": name,
        "protocol": "proxy_protocol",
        "client": client,
        "version": version,
        "command": "a client sending b'hello\\n' through the proxy",
        "hex": data.hex(),
    }


def nginx_captures(nginx="/usr/sbin/nginx"):
    version = first_line([nginx, "-v"])
    prefix = tempfile.mkdtemp(prefix="sift-nginx-")
    module = "/usr/lib/nginx/modules/ngx_stream_module.so"

    def start(front, back):
        load = "load_module %s;\n" % module if os.path.exists(module) else ""
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(load + (
                "daemon off;\nmaster_process off;\n"
                "pid %s/nginx.pid;\nerror_log %s/error.log;\n"
                "events { worker_connections 16; }\n"
                "stream {\n  server {\n    listen 127.0.0.1:%d;\n"
                "    proxy_pass 127.0.0.1:%d;\n    proxy_protocol on;\n  }\n}\n"
            ) % (prefix, prefix, front, back))
        return subprocess.Popen(
            [nginx, "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"),
             "-e", os.path.join(prefix, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    try:
        entry = proxied_capture("nginx proxy_protocol on", "nginx", version,
                                start)
        entry["command"] = "nginx -p PREFIX -c nginx.conf (stream server: " \
            "proxy_pass 127.0.0.1:PORT; proxy_protocol on;), " + entry["command"]
        return [entry]
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def haproxy_captures(haproxy):
    version = first_line([haproxy, "-v"])
    workdir = tempfile.mkdtemp(prefix="sift-haproxy-")
    out = []

    def starter(option):
        def start(front, back):
            path = os.path.join(workdir, "haproxy.cfg")
            with open(path, "w") as f:
                f.write(
                    "defaults\n  mode tcp\n  timeout connect 2s\n"
                    "  timeout client 5s\n  timeout server 5s\n"
                    "frontend front\n  bind 127.0.0.1:%d\n"
                    "  default_backend back\n"
                    "backend back\n  server capture 127.0.0.1:%d %s\n"
                    % (front, back, option))
            return subprocess.Popen([haproxy, "-db", "-f", path],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        return start

    try:
        for option in ["send-proxy", "send-proxy-v2"]:
            entry = proxied_capture("haproxy " + option, "haproxy", version,
                                    starter(option))
            entry["command"] = "haproxy -db -f haproxy.cfg (mode tcp, " \
                "server capture 127.0.0.1:PORT %s), %s" % (option, entry["command"])
            out.append(entry)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", default=os.path.join(HERE, "protocol-captured.json"))
    parser.add_argument("--clients", default="dns,logger,adb,tinc,nginx,haproxy")
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "")
    args = parser.parse_args()
    wanted = args.clients.split(",")
    captures = []
    if "dns" in wanted:
        captures += dns_captures()
    if "logger" in wanted:
        captures += logger_captures()
    if "adb" in wanted:
        captures += adb_captures()
    if "tinc" in wanted:
        captures += tinc_captures()
    if "nginx" in wanted:
        captures += nginx_captures()
    if "haproxy" in wanted:
        if not args.haproxy:
            sys.exit("haproxy: pass --haproxy PATH")
        captures += haproxy_captures(args.haproxy)
    with open(args.out, "w") as f:
        json.dump(captures, f, indent=1)
        f.write("\n")
    print("wrote %d captures to %s" % (len(captures), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
