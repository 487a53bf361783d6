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
