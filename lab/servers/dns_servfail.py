#!/usr/bin/env python3
"""A broken DNS server for the fault lab: it answers every standard query with SERVFAIL (RCODE 2),
echoing the question, like an authoritative server whose zone failed to load or a resolver whose
upstreams all failed.

Usage: dns_servfail.py ADDR PORT MAX_SECONDS
Bounded: the process exits after MAX_SECONDS whatever happens.
"""

import socket
import sys
import time


def answer(query: bytes) -> bytes | None:
    """The SERVFAIL response to a query, or None when it is not a query with one question."""
    if len(query) < 12 or query[2] & 0x80 or query[4:6] != b"\x00\x01":
        return None
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    end += 5  # root label, QTYPE, QCLASS
    if end > len(query):
        return None
    flags = bytes([0x80 | (query[2] & 0x79), 0x80 | 2])  # QR, opcode and RD kept; RA; SERVFAIL
    return query[:2] + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" + query[12:end]


def main() -> None:
    addr, port, max_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    deadline = time.monotonic() + max_seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            query, peer = sock.recvfrom(4096)
        except socket.timeout:
            break
        response = answer(query)
        if response is not None:
            sock.sendto(response, peer)


if __name__ == "__main__":
    main()
