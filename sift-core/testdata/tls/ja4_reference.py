#!/usr/bin/env python3
"""Independent reference for JA3 and JA4 (TLS client), written from the
published definitions only:

  * JA3: salesforce/ja3 README ("SSLVersion,Cipher,SSLExtension,EllipticCurve,
    EllipticCurvePointFormat", decimal, '-' separated, GREASE ignored, MD5).
  * JA4: FoxIO-LLC/ja4 technical_details/JA4.md (the specification text).

It exists to produce expected values for the captures in this folder, so the
Rust implementation is checked against something that shares none of its code.
It is deliberately naive: no streaming, no caps, plain Python lists.

Usage:
  ja4_reference.py HEX            print the fingerprints of one record hex
  ja4_reference.py --check FILE   recompute every entry of a vectors JSON file
                                  and report any disagreement (exit 1)
"""
import hashlib
import json
import sys


def is_grease(value):
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def u16s(data):
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]


def handshake_message(wire):
    """Concatenate the payloads of the leading handshake records and cut the
    first handshake message (type, u24 length, body) out of them."""
    payload = b""
    pos = 0
    while pos + 5 <= len(wire):
        if wire[pos] != 22:
            raise ValueError("not a handshake record")
        length = int.from_bytes(wire[pos + 3:pos + 5], "big")
        payload += wire[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            break
    if payload[0] != 1:
        raise ValueError("not a ClientHello")
    length = int.from_bytes(payload[1:4], "big")
    body = payload[4:4 + length]
    if len(body) != length:
        raise ValueError("truncated")
    return body


def parse_hello(body):
    hello = {"version": int.from_bytes(body[0:2], "big")}
    pos = 2 + 32
    sid_len = body[pos]
    pos += 1 + sid_len
    cs_len = int.from_bytes(body[pos:pos + 2], "big")
    hello["ciphers"] = u16s(body[pos + 2:pos + 2 + cs_len])
    pos += 2 + cs_len
    cm_len = body[pos]
    pos += 1 + cm_len
    hello["extensions"] = []
    if pos < len(body):
        ext_len = int.from_bytes(body[pos:pos + 2], "big")
        pos += 2
        end = pos + ext_len
        while pos < end:
            ext_type = int.from_bytes(body[pos:pos + 2], "big")
            ext_size = int.from_bytes(body[pos + 2:pos + 4], "big")
            hello["extensions"].append((ext_type, body[pos + 4:pos + 4 + ext_size]))
            pos += 4 + ext_size
    return hello


def ext_data(hello, ext_type):
    for t, data in hello["extensions"]:
        if t == ext_type:
            return data
    return None


def sni(hello):
    data = ext_data(hello, 0x0000)
    if data is None:
        return None
    pos = 2
    while pos + 3 <= len(data):
        name_type = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 3], "big")
        if name_type == 0:
            return data[pos + 3:pos + 3 + size].decode("latin-1")
        pos += 3 + size
    return None


def ja3_string(hello):
    ciphers = [c for c in hello["ciphers"] if not is_grease(c)]
    exts = [t for t, _ in hello["extensions"] if not is_grease(t)]
    groups_data = ext_data(hello, 0x000A)
    groups = [g for g in u16s(groups_data[2:])] if groups_data else []
    groups = [g for g in groups if not is_grease(g)]
    formats_data = ext_data(hello, 0x000B)
    formats = list(formats_data[1:]) if formats_data else []
    return ",".join([
        str(hello["version"]),
        "-".join(map(str, ciphers)),
        "-".join(map(str, exts)),
        "-".join(map(str, groups)),
        "-".join(map(str, formats)),
    ])


VERSION_CODES = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
    0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}


def alpn_code(hello):
    data = ext_data(hello, 0x0010)
    if not data or len(data) < 3:
        return "00"
    first = data[3:3 + data[2]]
    if not first:
        return "00"

    def alnum(b):
        return chr(b).isascii() and chr(b).isalnum()

    if alnum(first[0]) and alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def ja4_parts(hello, original_order):
    supported = ext_data(hello, 0x002B)
    versions = [v for v in u16s(supported[1:])] if supported else []
    versions = [v for v in versions if not is_grease(v)]
    version = max(versions) if versions else hello["version"]
    ciphers = [c for c in hello["ciphers"] if not is_grease(c)]
    ext_types = [t for t, _ in hello["extensions"] if not is_grease(t)]
    a = "t%s%s%02d%02d%s" % (
        VERSION_CODES.get(version, "00"),
        "d" if ext_data(hello, 0x0000) is not None else "i",
        min(len(ciphers), 99),
        min(len(ext_types), 99),
        alpn_code(hello),
    )
    if original_order:
        cipher_list = ["%04x" % c for c in ciphers]
        ext_list = ["%04x" % t for t in ext_types]
    else:
        cipher_list = sorted("%04x" % c for c in ciphers)
        ext_list = sorted("%04x" % t for t in ext_types if t not in (0x0000, 0x0010))
    sigalg_data = ext_data(hello, 0x000D)
    sigalgs = [s for s in u16s(sigalg_data[2:])] if sigalg_data else []
    sigalgs = ["%04x" % s for s in sigalgs if not is_grease(s)]
    b = ",".join(cipher_list)
    c = ",".join(ext_list)
    if sigalgs:
        c += "_" + ",".join(sigalgs)
    return a, b, c, bool(cipher_list), bool(ext_list)


def truncated_sha256(text, non_empty):
    if not non_empty:
        return "000000000000"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fingerprints(record_hex):
    hello = parse_hello(handshake_message(bytes.fromhex(record_hex)))
    out = {"sni": sni(hello)}
    js = ja3_string(hello)
    out["ja3_string"] = js
    out["ja3"] = hashlib.md5(js.encode()).hexdigest()
    for name, original in (("ja4", False), ("ja4_o", True)):
        a, b, c, has_b, has_c = ja4_parts(hello, original)
        out[name] = "_".join([a, truncated_sha256(b, has_b), truncated_sha256(c, has_c)])
        out[name.replace("ja4", "ja4_r") if not original else "ja4_ro"] = "_".join([a, b, c])
    return out


def check(path):
    bad = 0
    entries = json.load(open(path))
    for entry in entries:
        got = fingerprints(entry["record_hex"])
        for key, value in got.items():
            if key in entry and entry[key] != value:
                bad += 1
                print("%s %s: expected %r got %r" % (entry.get("source"), key, entry[key], value))
    print("%s: %d entries, %d disagreements" % (path, len(entries), bad))
    return bad == 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    if len(sys.argv) == 2:
        print(json.dumps(fingerprints(sys.argv[1]), indent=1))
        sys.exit(0)
    print(__doc__, file=sys.stderr)
    sys.exit(2)
