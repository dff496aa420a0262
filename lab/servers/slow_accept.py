#!/usr/bin/env python3
"""A serial HTTP/1.0-style server with a chosen listen backlog: slow_accept.py ADDR PORT BACKLOG
WORK_SECONDS MAX_SECONDS. It accepts one connection at a time, reads the request, works
WORK_SECONDS, answers 200 and closes, then accepts the next; so with a tiny backlog a connect
burst overflows the kernel's accept queue (Linux then drops the SYNs). Exits after MAX_SECONDS."""
import socket
import sys
import time

addr, port, backlog, work, max_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(backlog)
deadline = time.monotonic() + max_s
s.settimeout(0.5)
while time.monotonic() < deadline:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(3)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        if work:
            time.sleep(work)
        body = b'{"ok":true}\n'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (len(body), body))
    except OSError:
        pass
    finally:
        c.close()
