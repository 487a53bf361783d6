#!/usr/bin/env bash
# Seeds fuzz/corpus/clienthello/ (gitignored) from the TLS test vectors:
# every hello of sift-core/testdata/tls/*.json, framed as the fuzz target
# reads its input (2-byte scratch size, 1 byte re-split size, then the wire
# bytes), once with a roomy scratch, once with a scratch exactly as large as
# the hello, and once re-split into small records.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/corpus/clienthello"
mkdir -p "$out"
python3 - "$here/../sift-core/testdata/tls" "$out" <<'PY'
import glob, hashlib, json, os, sys

vectors_dir, out = sys.argv[1], sys.argv[2]

def write(data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

def reframe(wire, piece):
    message = b""
    pos = 0
    while pos + 5 <= len(wire):
        length = int.from_bytes(wire[pos + 3:pos + 5], "big")
        message += wire[pos + 5:pos + 5 + length]
        pos += 5 + length
    records = b""
    for at in range(0, len(message), piece):
        fragment = message[at:at + piece]
        records += bytes([22, 3, 1]) + len(fragment).to_bytes(2, "big") + fragment
    return records

count = 0
for path in sorted(glob.glob(os.path.join(vectors_dir, "*.json"))):
    for vector in json.load(open(path)):
        wire = bytes.fromhex(vector["record_hex"])
        write(b"\xff\xff\x00" + wire)
        write(len(wire).to_bytes(2, "big") + b"\x07" + wire)
        write(b"\xff\xff\x3f" + reframe(wire, 200))
        count += 3
print("seeded %d inputs into %s" % (count, out))
PY

# Seeds fuzz/corpus/protocol/ with the first bytes of real clients
# (sift-core/testdata/protocol/protocol-captured.json), and
# fuzz/corpus/signature/ with a few signature specs (see
# fuzz_targets/signature.rs for the layout) in front of those bytes.
python3 - "$here/../sift-core/testdata/protocol" "$here/corpus" <<'PY'
import hashlib, json, os, sys

captures_dir, corpus = sys.argv[1], sys.argv[2]
captures = json.load(open(os.path.join(captures_dir, "protocol-captured.json")))

def write(target, data):
    out = os.path.join(corpus, target)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

specs = [
    bytes([0, 0]) + bytes([8, 0]),        # one pattern: a literal
    bytes([1, 1, 3, 1, 2, 3, 0]),         # one prefix of 3 bytes at offset 0
    bytes([2, 4, 200, 19, 0, 1, 5, 20]),  # a windowed search, then a prefix
]
count = 0
for capture in captures:
    wire = bytes.fromhex(capture["hex"])
    write("protocol", wire)
    count += 1
    for spec in specs:
        write("signature", spec + b"\xff\xff" + wire[:64])
        count += 1
print("seeded %d protocol and signature inputs into %s" % (count, corpus))
PY

# Seeds fuzz/corpus/quic/ (see fuzz_targets/quic.rs for the layout): every
# QUIC flow of sift-core/testdata/quic/ as raw datagrams (mode 0), the
# first datagrams of sift-core/testdata/datagram/, and the RFC 9001 A.2
# ClientHello as CRYPTO frames (in order, shuffled with PING and PADDING,
# with a duplicate) to be sealed by the target, for v1, v2 and coalesced;
# flows of several datagrams also with modes that drive the table of
# waiting readers with several sessions.
python3 - "$here/../sift-core/testdata" "$here/corpus/quic" <<'PY'
import glob, hashlib, json, os, sys

testdata, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def write(data):
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def framed(mode, chunks):
    return bytes([mode, 0x40, 0x00]) + b"".join(len(c).to_bytes(2, "big") + c for c in chunks)

def varint(value):
    return (0x4000 | value).to_bytes(2, "big") if value < 0x4000 else (0x80000000 | value).to_bytes(4, "big")

def crypto(offset, data):
    return b"\x06" + varint(offset) + varint(len(data)) + data

count = 0
# Held-table modes (bits 3-7): 4 slots and 4 sessions; 2 slots, 4 sessions
# that keep their slots.
held_modes = (0x78, 0xe8)
for path in sorted(glob.glob(os.path.join(testdata, "quic", "*.json"))):
    for flow in json.load(open(path)):
        datagrams = [bytes.fromhex(d) for d in flow["datagrams_hex"]]
        write(framed(0, datagrams))
        count += 1
        if len(datagrams) > 1:
            for held in held_modes:
                write(framed(held, datagrams))
                count += 1
for path in sorted(glob.glob(os.path.join(testdata, "quic", "*-client-initial.hex"))):
    write(framed(0, [bytes.fromhex(open(path).read().strip())]))
    count += 1
for entry in json.load(open(os.path.join(testdata, "datagram", "datagrams-captured.json"))):
    write(framed(0, [bytes.fromhex(entry["datagram_hex"])]))
    count += 1

payload = bytes.fromhex(open(os.path.join(testdata, "quic", "rfc9001-a2-client-initial-payload.hex")).read().strip())
message = payload[4:4 + 0xf1]
pieces = [crypto(at, message[at:at + 60]) for at in range(0, len(message), 60)]
shuffled = [pieces[3], b"\x01", pieces[0], b"\x00\x00", pieces[4], pieces[2], pieces[1], pieces[2]]
for mode in (1, 3, 5, 7):
    write(framed(mode, [crypto(0, message)]))
    write(framed(mode, [b"".join(shuffled)]))
    write(framed(mode, pieces))
    write(framed(mode | held_modes[mode >> 1 & 1], pieces))
    write(framed(mode, [b"\x02\x05\x00\x01\x01\x00\x00" + pieces[0], b"\x03\x00\x00\x00\x00\x01\x02\x03" + b"".join(pieces[1:])]))
    count += 5
print("seeded %d quic inputs into %s" % (count, out))
PY
