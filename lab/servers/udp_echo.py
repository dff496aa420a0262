#!/usr/bin/env python3
"""UDP echo: udp_echo.py ADDR PORT MAX_SECONDS. Answers every datagram with its payload."""
import socket
import sys
import time

addr, port, max_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
s.settimeout(0.5)
deadline = time.monotonic() + max_s
while time.monotonic() < deadline:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    s.sendto(data, peer)
