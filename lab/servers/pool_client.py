#!/usr/bin/env python3
"""Keep-alive clients the way a connection pool (urllib3, requests) uses http.client: several
threads, each with its own persistent connection, standard library only.

Usage: pool_client.py SCHEME PORT THREADS CAFILE ADDR...
Thread i (started i x 0.15 s after the first) talks to ADDR[i % len(ADDR)]:
  1. one connection: GET, POST, GET (keep-alive; every answer must be 2xx/3xx);
  2. it idles past the server's keepalive_timeout (2 s): the server closes it. Before reusing it,
     the pool sees the socket readable (select, as urllib3's is_connection_dropped does), closes
     it and opens a new one; a TLS client then closes with the server's close_notify unread, so
     its kernel sends RST instead of FIN (a normal close);
  3. the new connection: GET, HEAD, POST, GET, then the client closes it while idle (its FIN
     comes first).
Prints the number of calls made; exits non-zero on any failure. TLS: SSLKEYLOGFILE is honoured.
"""

import http.client
import select
import ssl
import sys
import threading
import time

FIRST = [("GET", "/status.json", None), ("POST", "/api/orders", b'{"item":1}'), ("GET", "/items.json", None)]
SECOND = [("GET", "/items.json", None), ("HEAD", "/status.json", None),
          ("POST", "/api/orders", b'{"item":2}'), ("GET", "/status.json", None)]


def main() -> int:
    scheme, port, threads, cafile, addrs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
    ctx = None
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
    calls, errors, lock = [0], [], threading.Lock()

    def connect(addr: str) -> http.client.HTTPConnection:
        if ctx is not None:
            c = http.client.HTTPSConnection(addr, port, timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection(addr, port, timeout=10)
        c.connect()
        return c

    def run(conn: http.client.HTTPConnection, calls_list) -> None:
        for method, path, body in calls_list:
            headers = {"Host": "api.lab.test"}
            if body:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            if not 200 <= r.status < 400:
                raise RuntimeError(f"{method} {path}: {r.status}")
            with lock:
                calls[0] += 1

    def worker(i: int) -> None:
        try:
            time.sleep(0.15 * i)
            addr = addrs[i % len(addrs)]
            conn = connect(addr)
            run(conn, FIRST)
            time.sleep(2.8)
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if not readable:
                raise RuntimeError("the server did not close the idle connection")
            conn.close()
            conn = connect(addr)
            run(conn, SECOND)
            time.sleep(0.2 + 0.1 * (i % 3))
            conn.close()
        except Exception as e:  # noqa: BLE001 (reported, then the exit code says it)
            with lock:
                errors.append(f"thread {i}: {e!r}")

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    print(calls[0])
    if errors or any(t.is_alive() for t in ts):
        print("\n".join(errors) or "a thread hung", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
