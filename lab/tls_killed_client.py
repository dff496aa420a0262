#!/usr/bin/env python3
"""tls_killed_client.py HOST PORT SNI: TLS handshake (no verification), one keep-alive GET, then
the process kills itself (SIGKILL) 1 s later without reading anything: the response and the
TLS 1.3 session tickets sit unread in the socket, so the kernel closes it with RST."""
import os
import signal
import socket
import ssl
import sys
import time

host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname=sni)
s.sendall(b"GET /status.json HTTP/1.1\r\nHost: " + sni.encode() + b"\r\n\r\n")
time.sleep(1.0)
os.kill(os.getpid(), signal.SIGKILL)
