"""Fast legacy-pcap writing for the hostile-capture generator (Python 3 stdlib only).

Every frame is Ethernet + IPv4 + TCP or UDP with correct IPv4, TCP and UDP checksums. Headers
are packed with one precompiled ``struct`` call per frame; checksums are summed arithmetically
from the header fields, and payload sums are cached for payloads that are reused (templates),
which keeps a few microseconds per frame: millions of frames in seconds.
"""

import struct
import sys

US = 1_000_000
M32 = 0xFFFFFFFF

GLOBAL = struct.Struct("<IHHiIII")
REC = struct.Struct("<IIII")
IP_TCP = struct.Struct("!BBHHHBBHIIHHIIBBHHH")
IP_UDP = struct.Struct("!BBHHHBBHIIHHHH")

# Client-side host and the router (gateway) MACs; locally administered.
MAC_CLIENT = bytes.fromhex("020000000001")
MAC_ROUTER = bytes.fromhex("020000000002")
ETH_C2S = MAC_ROUTER + MAC_CLIENT + b"\x08\x00"  # dst, src, IPv4
ETH_S2C = MAC_CLIENT + MAC_ROUTER + b"\x08\x00"

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# SYN options: MSS 1460, NOP, NOP, SACK permitted.
SYN_OPTS = bytes.fromhex("020405b401010402")


def ip4(text):
    """Dotted quad to a 32-bit integer."""
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def fold(s):
    """Folds a one's complement sum to 16 bits."""
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def raw_sum(data):
    """Big-endian one's complement sum (folded) of ``data``, padded to even length.

    Sums native-order words through a memoryview (fast) and swaps the folded result on a
    little-endian host: the one's complement sum is byte-order independent (RFC 1071).
    """
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    s = fold(sum(memoryview(data).cast("H")))
    if sys.byteorder == "little":
        s = ((s & 0xFF) << 8) | (s >> 8)
    return s


_SUMS = {}


def psum(data):
    """``raw_sum`` cached for reused payloads (the cache is bounded; unique payloads pass)."""
    s = _SUMS.get(data)
    if s is None:
        s = raw_sum(data)
        if len(_SUMS) < 65536:
            _SUMS[data] = s
    return s


class PcapWriter:
    """Writes a legacy pcap (microsecond stamps, Ethernet) in large buffered chunks."""

    def __init__(self, path, snaplen=262144):
        self.f = open(path, "wb")  # noqa: SIM115 (closed by close())
        self.f.write(GLOBAL.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        self.buf = []
        self.count = 0
        self.ipid = 0

    def put(self, rec):
        """Appends one complete record (record header and frame); the caller counts it."""
        buf = self.buf
        buf.append(rec)
        if len(buf) >= 32768:
            self.f.write(b"".join(buf))
            buf.clear()

    def tcp(self, ts, c2s, src, dst, sport, dport, seq, ack, flags, payload=b"", opts=b"",
            win=64240, ttl=64):
        """One TCP segment stamped ``ts`` microseconds since the epoch (seconds fit in u32)."""
        olen = len(opts)
        plen = len(payload)
        thl = 20 + olen
        tot = 20 + thl + plen
        ipid = self.ipid = (self.ipid + 1) & 0xFFFF
        ipc = 0x8500 + tot + ipid + (ttl << 8 | 6) + (src >> 16) + (src & 0xFFFF) \
            + (dst >> 16) + (dst & 0xFFFF)
        ipc = (ipc & 0xFFFF) + (ipc >> 16)
        ipc = ~((ipc & 0xFFFF) + (ipc >> 16)) & 0xFFFF
        seq &= M32
        ack &= M32
        s = ((src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 6 + thl + plen
             + sport + dport + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
             + (thl << 10 | flags) + win)
        if olen:
            s += psum(opts)
        if plen:
            s += psum(payload)
        s = (s & 0xFFFF) + (s >> 16)
        tc = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
        flen = 14 + tot
        self.count += 1
        self.put(REC.pack(ts // US, ts % US, flen, flen) + (ETH_C2S if c2s else ETH_S2C)
                  + IP_TCP.pack(0x45, 0, tot, ipid, 0x4000, ttl, 6, ipc, src, dst, sport, dport,
                                 seq, ack, thl << 2, flags, win, tc, 0)
                  + opts + payload)

    def udp(self, ts, c2s, src, dst, sport, dport, payload, ttl=64):
        """One UDP datagram stamped ``ts`` microseconds since the epoch."""
        plen = len(payload)
        ulen = 8 + plen
        tot = 20 + ulen
        ipid = self.ipid = (self.ipid + 1) & 0xFFFF
        ipc = ~fold(0x8500 + tot + ipid + (ttl << 8 | 17) + (src >> 16) + (src & 0xFFFF)
                    + (dst >> 16) + (dst & 0xFFFF)) & 0xFFFF
        s = ((src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 17 + ulen
             + sport + dport + ulen + psum(payload))
        uc = ~fold(s) & 0xFFFF or 0xFFFF
        flen = 14 + tot
        self.count += 1
        self.put(REC.pack(ts // US, ts % US, flen, flen) + (ETH_C2S if c2s else ETH_S2C)
                  + IP_UDP.pack(0x45, 0, tot, ipid, 0x4000, ttl, 17, ipc, src, dst, sport, dport,
                                 ulen, uc)
                  + payload)

    def close(self):
        """Flushes and closes the file."""
        if self.buf:
            self.f.write(b"".join(self.buf))
            self.buf.clear()
        self.f.close()


class TcpConn:
    """Both directions' sequence numbers of one TCP connection, emitting specs into a sink.

    A spec is ``(ts, method, args)``; ``sink(ts, method, args)`` decides when it is written
    (directly, or through a time-ordered merge).
    """

    __slots__ = ("w", "sink", "c", "s", "cp", "sp", "cseq", "sseq", "ttl_c", "ttl_s")

    def __init__(self, w, sink, client, server, cport, sport, cisn, sisn, ttl_c=64, ttl_s=60):
        self.w, self.sink = w, sink
        self.c, self.s, self.cp, self.sp = client, server, cport, sport
        self.cseq, self.sseq = cisn, sisn
        self.ttl_c, self.ttl_s = ttl_c, ttl_s

    def c2s(self, ts, flags, payload=b"", opts=b""):
        """Client to server; advances the client's sequence number."""
        self.sink(ts, self.w.tcp, (True, self.c, self.s, self.cp, self.sp, self.cseq,
                                   self.sseq if flags & ACK else 0, flags, payload, opts,
                                   64240, self.ttl_c))
        self.cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def s2c(self, ts, flags, payload=b"", opts=b""):
        """Server to client; advances the server's sequence number."""
        self.sink(ts, self.w.tcp, (False, self.s, self.c, self.sp, self.cp, self.sseq,
                                   self.cseq if flags & ACK else 0, flags, payload, opts,
                                   65160, self.ttl_s))
        self.sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)

    def handshake(self, ts, rtt):
        """SYN, SYN-ACK one round trip later, ACK; returns the time of the ACK."""
        self.c2s(ts, SYN, opts=SYN_OPTS)
        ts += rtt
        self.s2c(ts, SYN | ACK, opts=SYN_OPTS)
        ts += 20
        self.c2s(ts, ACK)
        return ts


def segments(data, mss=1460):
    """Splits ``data`` into MSS-sized chunks once (so their checksum sums are cached)."""
    return [data[i:i + mss] for i in range(0, len(data), mss)]
