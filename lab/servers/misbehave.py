#!/usr/bin/env python3
"""A deliberately misbehaving HTTP server for the fault lab. One mode per run:

  reset     read the request, then close with SO_LINGER {1, 0}: the kernel sends RST, no response
  silent    read the request and never answer (the connection is held open until exit)
  notread   accept and never read; SO_RCVBUF is set small before listen, so the window closes
  trickle   read the request, send headers with a large Content-Length and the first part of the
            body, then a few bytes per second

Usage: misbehave.py MODE ADDR PORT MAX_SECONDS [CERT KEY]
With CERT and KEY (PEM files) every connection is TLS (1.2 or 1.3, OpenSSL's DEFAULT suites) and
the misbehaviour happens inside it: the request is read decrypted, the RST or the silence or the
trickle follows, and no close_notify is ever sent.
ADDR may be "::" (dual stack). Bounded: the process exits after MAX_SECONDS whatever happens, and
handles each connection in a daemon thread that stops at the same deadline.
"""

import socket
import ssl
import struct
import sys
import threading
import time

NOTREAD_RCVBUF = 4096
TRICKLE_LENGTH = 1_000_000  # announced Content-Length; far more than is ever sent
TRICKLE_FIRST = 1000  # body bytes sent at once with the headers
TRICKLE_CHUNK = b"abcd"  # then this much ...
TRICKLE_PERIOD = 1.0  # ... every this many seconds


def read_request(conn: socket.socket, deadline: float) -> bytes:
    """Read until the end of the request headers (or EOF / the deadline)."""
    data = b""
    conn.settimeout(1.0)
    while b"\r\n\r\n" not in data and time.monotonic() < deadline and len(data) < 65536:
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def handle(mode: str, conn: socket.socket, peer, deadline: float, tls) -> None:
    print(f"{mode}: connection from {peer}", flush=True)
    try:
        if tls is not None:
            conn.settimeout(5.0)
            conn = tls.wrap_socket(conn, server_side=True)
        if mode == "notread":
            # Never read; just keep the socket open so the window stays closed.
            while time.monotonic() < deadline:
                time.sleep(0.5)
            return
        req = read_request(conn, deadline)
        print(f"{mode}: request {req[:60]!r}", flush=True)
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST instead of FIN
            return
        if mode == "silent":
            while time.monotonic() < deadline:
                time.sleep(0.5)
            return
        if mode == "trickle":
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {TRICKLE_LENGTH}\r\nConnection: close\r\n\r\n"
            ).encode()
            conn.sendall(head + b"x" * TRICKLE_FIRST)
            while time.monotonic() < deadline:
                time.sleep(TRICKLE_PERIOD)
                conn.sendall(TRICKLE_CHUNK)
    except OSError as e:  # the client went away: that is the point
        print(f"{mode}: {peer}: {e}", flush=True)
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main() -> int:
    mode, addr, port, max_seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if mode not in ("reset", "silent", "notread", "trickle"):
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    tls = None
    if len(sys.argv) > 6:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.set_ciphers("DEFAULT")
        tls.load_cert_chain(sys.argv[5], sys.argv[6])
    deadline = time.monotonic() + max_seconds
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if mode == "notread":
        # Must be set before listen: accepted sockets inherit it and the window scale is fixed
        # at the handshake.
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, NOTREAD_RCVBUF)
    srv.bind((addr, port))
    srv.listen(16)
    srv.settimeout(0.5)
    print(f"{mode}: listening on {addr} port {port} for {max_seconds:.0f} s", flush=True)
    while time.monotonic() < deadline:
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(mode, conn, peer, deadline, tls), daemon=True).start()
    srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
