#!/usr/bin/env python3
"""Writes a capture of healthy JSON API calls with a handful of error answers (issue 18's bench:
what reading error bodies costs when nearly every answer is a success).

    benches/error_bodies/gen.py OUT.pcap [--calls N] [--conns C] [--seed S]

N calls (default 10,000) on C keep-alive HTTP/1.1 connections (default 300) from distinct client
ports to four servers on port 80: GETs and 15 % POSTs (a 100-600 B JSON body), each answered
`200 OK` with a JSON body of 0.5-4 KiB (`Content-Length` framing, `Server: nginx`), and ten
error answers at fixed places among them, one per shape the issue names: 401 with a Bearer
`invalid_token` challenge, 403 `{"error_code":"APIG.0302",...}`, 404 problem+json, 429 with
`RateLimit-*` headers, 503 with `Retry-After`, 400 problem+json gzip-compressed, 403 Google
`{"error":{...}}` gzip-compressed, 410 with `Sunset`, 502 nginx's default page, and a GraphQL
`200` with `{"errors":[...]}`. Every connection closes with FIN both ways. The seed fixes every
call, size and timestamp.

TCP as the other bench generators write it (../hostile/pcapgen.py): legacy pcap, Ethernet,
correct checksums, MSS 1460, the client's ACK after every second segment and at the end of an
answer. Connections follow each other in time (one open at a time: the bench times reading, not
flow tracking). Python 3 standard library only.
"""

import argparse
import gzip
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
from pcapgen import ACK, FIN, PSH, PcapWriter, TcpConn, ip4  # noqa: E402

MSS = 1460
BASE = 1_714_521_600 * 1_000_000  # 2024-05-01T00:00:00Z in microseconds
RTT = 2_000  # microseconds
SERVERS = [ip4(f"198.19.0.{i}") for i in (10, 11, 12, 13)]
DATE = "Wed, 01 May 2024 00:00:00 GMT"


def head(status, reason, body, ctype="application/json", extra=()):
    lines = [f"HTTP/1.1 {status} {reason}", "Server: nginx", f"Date: {DATE}",
             f"Content-Type: {ctype}", f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def healthy_body(rng):
    """A JSON list of items of 0.5-4 KiB."""
    want = rng.randint(512, 4096)
    items, size = [], 12
    while size < want:
        item = {"id": rng.randint(1, 10**9), "name": f"item-{rng.randint(1, 99999)}",
                "price": round(rng.uniform(1, 500), 2), "tags": ["a", "b", "c"][: rng.randint(1, 3)],
                "in_stock": rng.random() < 0.8}
        items.append(item)
        size += len(js(item)) + 1
    return js({"items": items, "page": rng.randint(1, 50)})


NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             b"</body>\r\n</html>\r\n")


def errors():
    """The ten error answers: (method, path, response bytes)."""
    bearer = ('Bearer realm="api", error="invalid_token", '
              'error_description="The access token expired"')
    return [
        ("GET", "/v1/profile", head(401, "Unauthorized", js({"error": "invalid_token"}),
                                    extra=[("WWW-Authenticate", bearer)])),
        ("GET", "/v1/reports", head(403, "Forbidden", js({
            "error_code": "APIG.0302",
            "error_msg": "The IAM user is not authorized to access the API"}))),
        ("GET", "/v1/nothing", head(404, "Not Found", js({
            "type": "about:blank", "title": "Not Found", "status": 404,
            "detail": "No route for GET /v1/nothing"}), "application/problem+json")),
        ("GET", "/v1/search", head(429, "Too Many Requests", js({"message": "daily quota exceeded"}),
                                   extra=[("RateLimit-Policy", "1000;w=86400"),
                                          ("RateLimit-Remaining", "0"), ("Retry-After", "3600")])),
        ("GET", "/v1/maintenance", head(503, "Service Unavailable",
                                        js({"message": "down for maintenance"}),
                                        extra=[("Retry-After", "120")])),
        ("POST", "/v1/orders", head(400, "Bad Request", gzip.compress(js({
            "type": "https://api.example/problems/invalid", "title": "Invalid request",
            "status": 400, "detail": "Field 'quantity' must be a positive integer"}), mtime=0),
            "application/problem+json", extra=[("Content-Encoding", "gzip")])),
        ("GET", "/v1/secrets", head(403, "Forbidden", gzip.compress(js({"error": {
            "code": 403, "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED"}}), mtime=0), extra=[("Content-Encoding", "gzip")])),
        ("GET", "/v1/legacy", head(410, "Gone", js({"message": "v1 retired"}),
                                   extra=[("Sunset", "Sat, 01 Mar 2025 00:00:00 GMT")])),
        ("GET", "/v1/upstream", head(502, "Bad Gateway", NGINX_502, "text/html")),
        ("POST", "/graphql", head(200, "OK", js({"errors": [{
            "message": "You are not authorized to read invoices",
            "extensions": {"code": "FORBIDDEN"}}], "data": None}))),
    ]


def request(method, path, host, body=b""):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: bench/1.0",
             "Accept: application/json"]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    errs = errors()
    # Error answers at fixed, spread-out call indices.
    err_at = {a.calls * (i + 1) // (len(errs) + 1): e for i, e in enumerate(errs)}
    w = PcapWriter(a.out)
    sink = lambda ts, method, args: method(ts, *args)  # noqa: E731 (written in time order)
    ts = BASE
    call = 0
    client = ip4("198.18.0.2")
    for c in range(a.conns):
        n = a.calls // a.conns + (1 if c < a.calls % a.conns else 0)
        server = SERVERS[c % len(SERVERS)]
        host = f"api{c % len(SERVERS)}.bench.example"
        conn = TcpConn(w, sink, client, server, 20000 + c, 80, rng.getrandbits(32),
                       rng.getrandbits(32))
        ts = conn.handshake(ts, RTT)
        for _ in range(n):
            if call in err_at:
                method, path, resp = err_at[call]
                body = b'{"query":"{ invoices { id } }"}' if path == "/graphql" else (
                    b'{"sku":"A-1","quantity":-3}' if method == "POST" else b"")
            else:
                method = "POST" if rng.random() < 0.15 else "GET"
                path = f"/v1/items/{rng.randint(1, 99999)}"
                body = js({"note": "x" * rng.randint(80, 560)}) if method == "POST" else b""
                resp = head(200, "OK", healthy_body(rng))
            call += 1
            ts += 200
            conn.c2s(ts, PSH | ACK, request(method, path, host, body))
            ts += RTT // 2 + 300
            segs = [resp[i:i + MSS] for i in range(0, len(resp), MSS)]
            for k, seg in enumerate(segs):
                conn.s2c(ts, PSH | ACK if k == len(segs) - 1 else ACK, seg)
                ts += 12
                if k % 2 == 1 or k == len(segs) - 1:
                    conn.c2s(ts, ACK)  # the capture is at the client: it ACKs at once
                    ts += 12
            ts += 50
        conn.c2s(ts, FIN | ACK)
        ts += RTT // 2
        conn.s2c(ts, FIN | ACK)
        ts += RTT // 2
        conn.c2s(ts, ACK)
        ts += 1_000
    w.close()
    print(f"{a.out}: {w.count} packets, {call} calls ({len(err_at)} errors) on {a.conns} "
          f"connections", file=sys.stderr)


if __name__ == "__main__":
    main()
