#!/usr/bin/env python3
"""One UDP "call": udp_client.py HOST PORT SIZE TRIES [TTL]. A connected socket sends a SIZE-byte
datagram (a QUIC-like first byte 0xc3 for port 443, else ASCII) and waits 1 s for an answer, up to
TRIES times; TTL sets IP_TTL / IPV6_UNICAST_HOPS. Prints the source port, then "answer", the
exception's class name, or "timeout"."""
import socket
import sys

host, port, size, tries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ttl = int(sys.argv[5]) if len(sys.argv) > 5 else 0
v6 = ":" in host
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
if ttl:
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
s.connect((host, port))
s.settimeout(1.0)
payload = (b"\xc3\x00\x00\x00\x01" if port == 443 else b"<14>lab: ") + b"x" * size
payload = payload[:size]
result = "timeout"
for _ in range(tries):
    try:
        s.send(payload)
        s.recv(65535)
        result = "answer"
        break
    except socket.timeout:
        continue
    except OSError as e:
        result = type(e).__name__
        break
print(s.getsockname()[1], result)
