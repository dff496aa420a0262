#!/usr/bin/env python3
"""Writes the hostile captures of issue 15, reproducibly (same kind, count and seed: same bytes).

    benches/hostile/gen.py KIND OUT.pcap [--count N] [--seed S]

Kinds (N is what --count sets):
  syn-flood     N TCP SYNs (default 2,000,000) from distinct addresses in 198.18.0.0/15 and
                ports to 198.19.0.1:443 at ~20k/s, never answered.
  dns-flood     N DNS A queries (default 1,000,000) for distinct random-looking names under
                example.com, distinct ids and ports, to 198.19.0.53:53 at ~10k/s, never answered.
  healthy-2106  N healthy HTTP/1.1 conversations (default 200,000; 9 packets each, handshake,
                GET, 200, FIN both ways) from many clients to 4 servers, plus nothing else, except
                that the final pure ACK of conversation N/2 is stamped 0xFFFFFFFF s (2106-02-07).
  api-mix       ~N packets (default 5,000,000, which writes 4,345,786) over 10 minutes: long-lived
                keep-alive HTTP/1.1 connections with many requests each, TLS 1.3 connections
                (ClientHello with SNI, ServerHello), DNS lookups with answers, and a few failures
                (503s, resets, refused connections, NXDOMAIN, a few unanswered queries).
  backwards     N healthy conversations (default 2,000) as in healthy-2106; halfway through the
                clock steps back 3 s once, and one pure ACK is stamped 1970-01-01T00:00:01.

Legacy pcap, Ethernet, microsecond stamps, correct IPv4/TCP/UDP checksums; the capture point is
next to the clients (a server's packet is stamped one round trip after the client's).
Python 3 standard library only.
"""

import argparse
import heapq
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payloads  # noqa: E402
import pcapgen  # noqa: E402
from pcapgen import (ACK, FIN, PSH, RST, SYN, SYN_OPTS, US, PcapWriter,  # noqa: E402
                     TcpConn, ip4, segments)

BASE = 1714564800 * US  # 2024-05-01T12:00:00Z
POOL = 130816  # client addresses: 198.18.0.0/15 minus 198.19.0.0/24 (the servers)
NET = ip4("198.18.0.0")


def client_addr(k):
    """The k-th client address (k < POOL), skipping 198.19.0.0/24."""
    return NET + k + (256 if k >= 65536 else 0)


class Scheduler:
    """Discrete-event merge: actions run in time order and emit packets at or after their own
    time; a packet is written once no pending action is earlier, so the file is time-ordered
    while only near-future packets are held."""

    def __init__(self, w, stamp=None):
        self.w = w
        self.packets = []
        self.actions = []
        self.n = 0
        self.stamp = stamp  # optional function: capture time -> written time
        self.override = None  # written time for the next emitted packet only

    def emit(self, ts, method, args):
        """Queues one packet (the sink of TcpConn)."""
        self.n += 1
        wts, self.override = self.override, None
        heapq.heappush(self.packets, (ts, self.n, method, args, wts))

    def at(self, ts, fn, *args):
        """Runs ``fn(ts, *args)`` at capture time ``ts``."""
        self.n += 1
        heapq.heappush(self.actions, (ts, self.n, fn, args))

    def _flush(self, until):
        packets, stamp = self.packets, self.stamp
        while packets and (until is None or packets[0][0] < until):
            ts, _, method, args, wts = heapq.heappop(packets)
            if wts is None:
                wts = stamp(ts) if stamp else ts
            method(wts, *args)

    def run(self):
        """Runs every action, then writes what is left."""
        actions = self.actions
        while actions:
            ts, _, fn, args = heapq.heappop(actions)
            self._flush(ts)
            fn(ts, *args)
        self._flush(None)


# ------------------------------------------------------------------------------------------------
# floods
# ------------------------------------------------------------------------------------------------

def syn_flood(w, n, rng):
    """N unanswered SYNs from distinct (address, port) pairs at ~20k/s.

    The frame is packed inline (as PcapWriter.tcp would) for speed: only the addresses, port,
    sequence number, TTL, IP id and checksums change."""
    server = ip4("198.19.0.1")
    rec, hdr, put = pcapgen.REC.pack, pcapgen.IP_TCP.pack, w.put
    eth, opts = pcapgen.ETH_C2S, SYN_OPTS
    tot, flen = 48, 62
    ip_base = 0x8500 + tot + (server >> 16) + (server & 0xFFFF)
    tcp_base = ((server >> 16) + (server & 0xFFFF) + 6 + 28 + 443 + (28 << 10 | SYN) + 64240
                + pcapgen.psum(opts))
    bits = rng.getrandbits
    ipid = w.ipid
    ts = BASE
    for i in range(n):
        k = (i * 48271) % POOL  # a permutation of the pool in each block of POOL SYNs
        src = NET + k + (256 if k >= 65536 else 0)
        port = 1024 + (k * 7919 + (i // POOL) * 12345) % 64000
        seq = bits(32)
        ttl = 40 + k % 24
        ipid = (ipid + 1) & 0xFFFF
        a = ip_base + ipid + (ttl << 8 | 6) + (src >> 16) + (src & 0xFFFF)
        a = (a & 0xFFFF) + (a >> 16)
        b = tcp_base + (src >> 16) + (src & 0xFFFF) + port + (seq >> 16) + (seq & 0xFFFF)
        b = (b & 0xFFFF) + (b >> 16)
        put(rec(ts // US, ts % US, flen, flen) + eth
            + hdr(0x45, 0, tot, ipid, 0x4000, ttl, 6, ~((a & 0xFFFF) + (a >> 16)) & 0xFFFF,
                  src, server, port, 443, seq, 0, 7 << 4, SYN, 64240,
                  ~((b & 0xFFFF) + (b >> 16)) & 0xFFFF, 0)
            + opts)
        ts += 1 + (bits(7) * 99 >> 7)
    w.ipid = ipid
    w.count += n


def dns_flood(w, n, rng):
    """N unanswered A queries for distinct names under example.com at ~10k/s."""
    resolver = ip4("198.19.0.53")
    zone = payloads.dns_name("example.com")
    udp = w.udp
    pack = struct.Struct("!HHHHHHB").pack
    bits = rng.getrandbits
    ts = BASE
    for i in range(n):
        k = (i * 48271) % POOL
        # distinct for i < 2**40 (the multiplier is odd), random-looking
        label = b"%010x" % ((i + 0x5BD1E995) * 2654435761 % (1 << 40))
        query = pack(bits(16), 0x0100, 1, 0, 0, 0, 10) + label + zone + b"\0\1\0\1"
        port = 1024 + (k * 7919 + (i // POOL) * 12345) % 64000
        udp(ts, True, client_addr(k), resolver, port, 53, query, 64)
        ts += 1 + (bits(8) * 199 >> 8)


# ------------------------------------------------------------------------------------------------
# healthy conversations (healthy-2106, backwards)
# ------------------------------------------------------------------------------------------------

def healthy(w, n, rng, special, stamp=None):
    """N complete short HTTP/1.1 conversations, ~2,000 per second; ``special`` maps a
    conversation index to the written time of its final pure ACK."""
    sched = Scheduler(w, stamp)
    servers = [ip4("198.19.0.%d" % h) for h in (10, 11, 12, 13)]
    reqs = payloads.healthy_requests()
    resp = payloads.http_response(200, b'{"status":"ok","items":[1,2,3]}\n')

    def conversation(t, i):
        k = (i * 48271) % POOL
        conn = TcpConn(w, sched.emit, client_addr(k), servers[i & 3],
                       1024 + (k * 7919 + (i // POOL) * 12345) % 64000, 80,
                       rng.getrandbits(32), rng.getrandbits(32))
        rtt = rng.randint(200, 20000)
        t = conn.handshake(t, rtt) + 30
        conn.c2s(t, PSH | ACK, reqs[i % len(reqs)])
        t += rtt + rng.randint(200, 5000)
        conn.s2c(t, PSH | ACK, resp)
        conn.c2s(t + 40, ACK)
        t += 300
        conn.c2s(t, FIN | ACK)
        t += rtt
        conn.s2c(t, FIN | ACK)
        if i in special:
            sched.override = special[i]
        conn.c2s(t + 25, ACK)

    t = BASE
    for i in range(n):
        sched.at(t, conversation, i)
        t += rng.randint(1, 999)
    sched.run()


def healthy_2106(w, n, rng):
    """Healthy conversations, one final ACK in the middle stamped 0xFFFFFFFF seconds."""
    healthy(w, n, rng, {n // 2: 0xFFFFFFFF * US + 123456})


def backwards(w, n, rng):
    """Healthy conversations; the clock steps back 3 s halfway, one ACK is stamped 1970."""
    mid = BASE + n * 500 // 2  # conversations start ~500 us apart

    def stamp(ts):
        return ts - 3 * US if ts >= mid else ts

    healthy(w, n, rng, {n // 4: 1 * US + 234567}, stamp)


# ------------------------------------------------------------------------------------------------
# api-mix
# ------------------------------------------------------------------------------------------------

def api_mix(w, n, rng):
    """A realistic ~N-packet mix over 10 minutes (see the module doc)."""
    span = 600 * US
    end = BASE + span
    sched = Scheduler(w)
    emit = sched.emit
    http_servers = [ip4("198.19.1.%d" % h) for h in range(10, 18)]
    tls_servers = [ip4("198.19.2.%d" % h) for h in range(10, 14)]
    resolver = ip4("198.19.0.53")
    refused_server = ip4("198.19.1.20")
    clients = 600
    port_of = [0]

    def next_client():
        k = port_of[0]
        port_of[0] += 1
        return client_addr((k % clients) * 211 % POOL), 10000 + (k // clients) % 55000

    reqs = payloads.api_requests()
    small = [payloads.http_response(200, b) for b in payloads.json_bodies(24, 60, 900, rng)]
    large = [segments(payloads.http_response(200, b))
             for b in payloads.json_bodies(6, 2000, 16000, rng)]
    unavailable = payloads.http_response(503, b'{"error":"upstream unavailable"}\n',
                                         b"Retry-After: 5\r\n")
    not_found = payloads.http_response(404, b'{"error":"not found"}\n')

    # Keep-alive actors: each keeps one connection open for hundreds of requests, then
    # closes it and opens another; ~72 % of the packets.
    actors = max(4, n // 2500)
    think = actors * 3.8 * span / (0.72 * n)  # ~3.8 packets per request

    class Keepalive:
        __slots__ = ("conn", "left", "rtt")

    def keepalive(t, st):
        if t >= end:
            return
        conn = st.conn
        if conn is None:
            c, port = next_client()
            conn = st.conn = TcpConn(w, emit, c, http_servers[rng.randrange(8)], port, 80,
                                     rng.getrandbits(32), rng.getrandbits(32))
            st.rtt = rng.randint(300, 3000)
            st.left = rng.randint(50, 2000)
            t = conn.handshake(t, st.rtt)
        elif st.left == 0:
            conn.c2s(t, FIN | ACK)
            conn.s2c(t + st.rtt, FIN | ACK)
            conn.c2s(t + st.rtt + 30, ACK)
            st.conn = None
            sched.at(t + rng.randint(100_000, 3_000_000), keepalive, st)
            return
        else:
            st.left -= 1
            rtt = st.rtt
            conn.c2s(t, PSH | ACK, reqs[rng.randrange(len(reqs))])
            t += rtt + rng.randint(300, 30000)
            x = rng.random()
            if x < 0.00002:  # the server resets the connection mid-call
                conn.s2c(t, RST | ACK)
                st.conn = None
                sched.at(t + rng.randint(100_000, 3_000_000), keepalive, st)
                return
            if x < 0.002:
                conn.s2c(t, PSH | ACK, unavailable)
            elif x < 0.004:
                conn.s2c(t, PSH | ACK, not_found)
            elif x < 0.054:
                segs = large[rng.randrange(len(large))]
                for j, seg in enumerate(segs):
                    last = j == len(segs) - 1
                    conn.s2c(t, (PSH | ACK) if last else ACK, seg)
                    if j & 1 and not last:
                        conn.c2s(t + 20, ACK)  # ACK every second segment
                    t += 15
            else:
                conn.s2c(t, PSH | ACK, small[rng.randrange(len(small))])
            t += 40
            conn.c2s(t, ACK)
        sched.at(t + int(rng.expovariate(1 / think)) + 50, keepalive, st)

    for _ in range(actors):
        st = Keepalive()
        st.conn = None
        sched.at(BASE + rng.randrange(30 * US), keepalive, st)

    # TLS 1.3 connections: ~16 % of the packets, ~19 packets each.
    hellos = payloads.tls_flights(rng)
    tls_gap = span * 19 / (0.16 * n)

    def tls(t):
        if t >= end:
            return
        c, port = next_client()
        conn = TcpConn(w, emit, c, tls_servers[rng.randrange(4)], port, 443,
                       rng.getrandbits(32), rng.getrandbits(32))
        rtt = rng.randint(500, 40000)
        ch, flight, fin, app_c, app_s, alert = hellos[rng.randrange(len(hellos))]
        t0 = t
        t = conn.handshake(t, rtt) + 20
        conn.c2s(t, PSH | ACK, ch)
        t += rtt + 800
        for j, seg in enumerate(flight):
            conn.s2c(t, (PSH | ACK) if j == len(flight) - 1 else ACK, seg)
            t += 15
        t += 300
        conn.c2s(t, PSH | ACK, fin)
        for _ in range(rng.randint(1, 4)):
            t += 100
            conn.c2s(t, PSH | ACK, app_c)
            t += rtt + rng.randint(500, 20000)
            conn.s2c(t, PSH | ACK, app_s)
            t += 40
            conn.c2s(t, ACK)
        t += 2000
        conn.c2s(t, PSH | ACK, alert)
        conn.c2s(t + 10, FIN | ACK)
        t += rtt + 10
        conn.s2c(t, FIN | ACK)
        conn.c2s(t + 30, ACK)
        sched.at(t0 + int(rng.expovariate(1 / tls_gap)) + 1, tls)

    sched.at(BASE + 1000, tls)

    # DNS lookups, ~10 % of the packets: answered, 1 % NXDOMAIN, 0.05 % never answered.
    names = payloads.API_NAMES
    dns_gap = span * 2 / (0.10 * n)

    def dns(t):
        if t >= end:
            return
        c, port = next_client()
        qid = rng.getrandbits(16)
        name = names[rng.randrange(len(names))]
        x = rng.random()
        if x < 0.01:
            name = b"missing-%d.internal.example" % rng.randrange(1000)
        emit(t, w.udp, (True, c, resolver, port, 53, payloads.dns_query(qid, name), 64))
        if x >= 0.0005:
            addr = None if x < 0.01 else ip4("198.19.1.%d" % (10 + len(name) % 8))
            emit(t + rng.randint(300, 30000), w.udp,
                 (False, resolver, c, 53, port, payloads.dns_answer(qid, name, addr), 60))
        sched.at(t + int(rng.expovariate(1 / dns_gap)) + 1, dns)

    sched.at(BASE + 500, dns)

    # A client retrying a closed port every ~5 s: SYN answered by RST.
    def refused(t):
        if t >= end:
            return
        c, port = next_client()
        conn = TcpConn(w, emit, c, refused_server, port, 8080, rng.getrandbits(32), 0)
        conn.c2s(t, SYN, opts=SYN_OPTS)
        conn.s2c(t + 400, RST | ACK)
        sched.at(t + rng.randint(2 * US, 8 * US), refused)

    sched.at(BASE + 2 * US, refused)
    sched.run()


KINDS = {
    "syn-flood": (syn_flood, 2_000_000),
    "dns-flood": (dns_flood, 1_000_000),
    "healthy-2106": (healthy_2106, 200_000),
    "api-mix": (api_mix, 5_000_000),
    "backwards": (backwards, 2_000),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("out", help="the pcap to write")
    ap.add_argument("--count", type=int, help="see the kinds above for what it counts")
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    fn, default = KINDS[a.kind]
    count = default if a.count is None else a.count
    if count < 1:
        ap.error("--count must be positive")
    started = time.monotonic()
    w = PcapWriter(a.out)
    try:
        fn(w, count, random.Random(a.seed))
    finally:
        w.close()
    print("%s: %s, %d packets in %.1f s" % (a.out, a.kind, w.count,
                                            time.monotonic() - started), file=sys.stderr)


if __name__ == "__main__":
    main()
