#!/usr/bin/env python3
"""A small JSON API server for the fault lab: HTTP/1.1 with keep-alive, one thread per
connection, answering each route with a fixed behaviour:

  /v1/ok            200 {"ok": true}
  /v1/orders        401 WWW-Authenticate: Bearer realm="api", error="invalid_token"
  /v1/admin         403
  /v1/nothing       404
  /v1/limited       429 Retry-After: 30, X-RateLimit-Limit/Remaining/Reset
  /v1/maintenance   503 Retry-After: 120
  /v1/truncated     200 with Content-Length 4000, sends 1000 body bytes, then closes (FIN)
  /v1/chunked-cut   200 chunked, sends two chunks, then closes without the last chunk
  /v1/slow          waits SLOW_SECONDS, then 200
  /v1/crash         reads the request and closes the connection without a response (FIN)

An idle keep-alive connection is closed by the server after IDLE_SECONDS (a FIN, like nginx's
keepalive_timeout); a request arriving after that is answered by the kernel with RST.

Usage: api.py ADDR PORT MAX_SECONDS [CERT KEY]
ADDR may be "::" (dual stack). Bounded: the process exits after MAX_SECONDS whatever happens.
With CERT and KEY (PEM files) every connection is TLS (1.2 or 1.3, any suite OpenSSL's DEFAULT
list has, CBC included): the same routes, and a close is a bare FIN (no close_notify), as a
server that crashes or times a connection out does.
"""

import json
import socket
import ssl
import sys
import threading
import time

IDLE_SECONDS = 1.0
SLOW_SECONDS = 2.5
MAX_REQUEST = 65536


def response(status: int, reason: str, body: bytes, headers=()) -> bytes:
    head = [f"HTTP/1.1 {status} {reason}", "Server: lab-api/1.0",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def js(obj) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def read_request(conn: socket.socket, buf: bytes, deadline: float):
    """One request head and body (Content-Length) from buf + the socket: (head, rest) or None
    on EOF / idle timeout."""
    conn.settimeout(IDLE_SECONDS)
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline or len(buf) > MAX_REQUEST:
            return None
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            return None
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    conn.settimeout(5.0)
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        rest += chunk
    return head, rest[length:]


def handle(conn: socket.socket, peer, deadline: float, tls) -> None:
    buf = b""
    try:
        if tls is not None:
            conn.settimeout(5.0)
            conn = tls.wrap_socket(conn, server_side=True)
        while time.monotonic() < deadline:
            got = read_request(conn, buf, deadline)
            if got is None:
                print(f"{peer}: idle or closed, closing", flush=True)
                return
            head, buf = got
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            path = path.split("?", 1)[0]
            print(f"{peer}: {line}", flush=True)
            if path == "/v1/ok":
                conn.sendall(response(200, "OK", js({"ok": True})))
            elif path == "/v1/orders":
                conn.sendall(response(401, "Unauthorized", js({"error": "invalid_token"}), [
                    ("WWW-Authenticate",
                     'Bearer realm="api", error="invalid_token", '
                     'error_description="The access token expired"')]))
            elif path == "/v1/admin":
                conn.sendall(response(403, "Forbidden", js({"error": "forbidden"})))
            elif path == "/v1/nothing":
                conn.sendall(response(404, "Not Found", js({"error": "not found"})))
            elif path == "/v1/limited":
                conn.sendall(response(429, "Too Many Requests", js({"error": "slow down"}), [
                    ("Retry-After", "30"), ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "30")]))
            elif path == "/v1/maintenance":
                conn.sendall(response(503, "Service Unavailable", js({"error": "maintenance"}),
                                      [("Retry-After", "120")]))
            elif path == "/v1/truncated":
                full = response(200, "OK", b"x" * 4000)
                conn.sendall(full[: len(full) - 3000])
                return
            elif path == "/v1/chunked-cut":
                conn.sendall(b"HTTP/1.1 200 OK\r\nServer: lab-api/1.0\r\n"
                             b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"10\r\n{\"items\": [1, 2,\r\n10\r\n 3, 4, 5, 6, 7,\r\n")
                return
            elif path == "/v1/slow":
                time.sleep(SLOW_SECONDS)
                conn.sendall(response(200, "OK", js({"ok": True, "slow": True})))
            elif path == "/v1/crash":
                return
            else:
                conn.sendall(response(404, "Not Found", js({"error": "no route"})))
    except OSError as e:  # ssl.SSLError included
        print(f"{peer}: {e}", flush=True)
    finally:
        conn.close()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for CERT/KEY: TLS 1.2 and 1.3, OpenSSL's DEFAULT suites (CBC too)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("DEFAULT")
    ctx.load_cert_chain(cert, key)
    return ctx


def main() -> None:
    addr, port, max_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    tls = tls_context(sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else None
    deadline = time.monotonic() + max_seconds
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind((addr, port))
    srv.listen(64)
    srv.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn, peer, deadline, tls), daemon=True).start()
    srv.close()


if __name__ == "__main__":
    main()
