#!/usr/bin/env python3
"""Writes a sift list through the HTTP API for scripts/soak.sh: POSTs
--listed once (it must answer 201), touches --ready, then every
--interval seconds PATCHes a batch that adds a new key, deletes the one
added --keep batches before (a null value) and writes --listed again (so
the zone's timeout never expires it), and once a second GETs --listed back
(200 with it in the body). Each request on a connection of its own, so
reloads in between are met as a new client would meet them. Prints one
JSON object: writes, reads, failures (any answer but the expected status,
or no answer) and samples of them.

  api_writer.py --url http://127.0.0.1:PORT/sift/lists/NAME --listed SNI
                --seconds N --ready FILE [--interval 0.075] [--keep 20]
"""
import argparse, http.client, json, sys, time, urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--listed", required=True)
ap.add_argument("--seconds", type=float, required=True)
ap.add_argument("--ready", required=True)
ap.add_argument("--interval", type=float, default=0.075)
ap.add_argument("--keep", type=int, default=20)
args = ap.parse_args()
url = urllib.parse.urlsplit(args.url)
r = {"writes": 0, "reads": 0, "failures": 0, "samples": [], "max_ms": 0.0}


def call(method, path, body, want):
    started = time.time()
    try:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=3)
        headers = {"Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = conn.getresponse()
        status, text = resp.status, resp.read().decode(errors="replace")
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        status, text = None, "%s: %s" % (type(e).__name__, e)
    r["max_ms"] = max(r["max_ms"], round((time.time() - started) * 1000, 1))
    r["reads" if method == "GET" else "writes"] += 1
    if status != want:
        r["failures"] += 1
        if len(r["samples"]) < 10:
            r["samples"].append("%.3f %s %s: %s %s" % (started, method, path, status, text[:200]))
        return None
    return text


if call("POST", url.path, {args.listed: "soak"}, 201) is None:
    print(json.dumps(r))
    sys.exit("api_writer.py: the first POST failed: %s" % r["samples"])
open(args.ready, "w").close()
end = time.time() + args.seconds
n, next_read = 0, time.time() + 1
while time.time() < end:
    n += 1
    batch = {args.listed: "soak", "soak-key-%d" % n: "value-%d" % n}
    if n > args.keep:
        batch["soak-key-%d" % (n - args.keep)] = None
    call("PATCH", url.path, batch, 204)
    if time.time() >= next_read:
        next_read += 1
        got = call("GET", url.path + "/" + args.listed, None, 200)
        if got is not None and args.listed not in got:
            r["failures"] += 1
            r["samples"].append("GET %s answered without it: %s" % (args.listed, got[:200]))
    time.sleep(args.interval)
print(json.dumps(r))
