#!/usr/bin/env python3
"""Writes an all-HTTPS capture and its key log (issue 16's keys/no-keys bench).

    benches/tls/gen.py OUT.pcap [--count N] [--seed S]

Writes OUT.pcap, OUT.keys (NSS key log: every session's secrets) and OUT.ca.pem (the private CA
that signed the server certificate: give it to `faultline --ca-file` so the healthy connections
stay healthy once their TLS 1.3 certificates are decrypted).

N TLS connections (default 1,000, about 340,000 packets) to four servers on port 443, up to
~160 open at a time, each a keep-alive HTTP/1.1 session of 5-60 requests (GETs and some POSTs
with bodies; responses of 100 B to 128 KiB: 70 % under 2 KB, 5 % above 16 KB; about 3 % 4xx
and 5xx: 401, 404, 429, 500, 503), then close_notify and FIN both ways. Suites: TLS 1.3 with
AES-256-GCM (25 %), AES-128-GCM (20 %) and ChaCha20-Poly1305 (15 %); TLS 1.2 ECDHE-ECDSA with
AES-128-GCM (20 %), AES-256-GCM (10 %) and ChaCha20-Poly1305 (10 %).

The TLS is real: Python's ssl module (OpenSSL) runs client and server entirely in memory
(ssl.MemoryBIO pairs), the client's SSLContext logs its keys, and the bytes each side writes
become TCP segments (MSS 1460, an ACK every second segment and at the end of a flight) through
the hostile generator's pcap writer and event merge (../hostile/pcapgen.py, ../hostile/gen.py):
legacy pcap, Ethernet, correct checksums. The certificate is made once per run with
`openssl req` and `openssl ca` (valid 2024-2034; the capture is stamped 2024-05-01). The seed
fixes every count, HTTP size, status, suite and timestamp; the cryptographic bytes differ per run
(and with them a handshake segment by a byte or two: ECDSA signatures vary in DER length).

--plain writes the same connections, requests and answers in clear on port 80 (no handshake,
no keys; the same seed gives the same HTTP messages): reading that costs what the HTTP costs,
so it splits the price of a key log into decrypting and what the plaintext then feeds.

Needs Python 3.8+ (keylog_filename), the `openssl` command, and CPython with OpenSSL 1.1.1+:
the TLS 1.3 suite of a context is set with SSL_CTX_set_ciphersuites through ctypes (the ssl
module has no call for it); the suite each connection negotiated is checked.
"""

import argparse
import ctypes
import importlib.util
import os
import random
import ssl
import subprocess
import sys
import tempfile
import time

import _ssl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
from pcapgen import ACK, FIN, PSH, US, PcapWriter, TcpConn, ip4  # noqa: E402


def _hostile_gen():
    """The hostile generator module (its Scheduler), loaded by path: it is also named gen.py."""
    spec = importlib.util.spec_from_file_location(
        "hostile_gen", os.path.join(HERE, "..", "hostile", "gen.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


Scheduler = _hostile_gen().Scheduler

BASE = 1714564800 * US  # 2024-05-01T12:00:00Z
NAME = "api.example.test"
MSS = 1460

# (share, TLS version, OpenSSL suite name as negotiated, how to ask for it)
SUITES = [
    (25, "TLSv1.3", "TLS_AES_256_GCM_SHA384", ("13", "TLS_AES_256_GCM_SHA384")),
    (20, "TLSv1.3", "TLS_AES_128_GCM_SHA256", ("13", "TLS_AES_128_GCM_SHA256")),
    (15, "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", ("13", "TLS_CHACHA20_POLY1305_SHA256")),
    (20, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", ("12", "ECDHE-ECDSA-AES128-GCM-SHA256")),
    (10, "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", ("12", "ECDHE-ECDSA-AES256-GCM-SHA384")),
    (10, "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305", ("12", "ECDHE-ECDSA-CHACHA20-POLY1305")),
]

# (share in 1000, status, reason)
STATUSES = [(6, 404, b"Not Found"), (4, 401, b"Unauthorized"), (4, 429, b"Too Many Requests"),
            (3, 500, b"Internal Server Error"), (7, 503, b"Service Unavailable")]

PATHS = [b"/v1/orders", b"/v1/orders/%d", b"/v1/customers/%d/invoices", b"/v2/search?q=item%d",
         b"/v1/inventory/%d", b"/healthz", b"/v1/users/%d/profile", b"/v1/reports/daily?page=%d"]

CA_CONF = """\
[ca]
default_ca = ca_sect
[ca_sect]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = faultline bench CA
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:%s
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
""" % NAME


def make_certificates(tmp):
    """A private CA and a server certificate for NAME, both valid 2024-2034 (ECDSA P-256).
    Returns (CA PEM path, server chain PEM path, server key path)."""
    conf = os.path.join(tmp, "ca.cnf")
    with open(conf, "w") as f:
        f.write(CA_CONF)
    open(os.path.join(tmp, "index.txt"), "w").close()
    with open(os.path.join(tmp, "serial"), "w") as f:
        f.write("1000\n")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    dates = ["-startdate", "20240101000000Z", "-enddate", "20340101000000Z"]
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-new", *ec, "-keyout", "ca.key", "-out", "ca.csr", "-config", conf)
    run("ca", "-batch", "-config", conf, "-selfsign", "-keyfile", "ca.key", "-in", "ca.csr",
        "-out", "ca.pem", "-extensions", "ca_ext", "-notext", *dates)
    run("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-config", conf,
        "-subj", "/CN=" + NAME)
    run("ca", "-batch", "-config", conf, "-cert", "ca.pem", "-keyfile", "ca.key", "-in",
        "server.csr", "-out", "server.pem", "-extensions", "leaf_ext", "-notext", *dates)
    return (os.path.join(tmp, "ca.pem"), os.path.join(tmp, "server.pem"),
            os.path.join(tmp, "server.key"))


_LIBSSL = ctypes.CDLL(_ssl.__file__)
_SET_SUITES = _LIBSSL.SSL_CTX_set_ciphersuites
_SET_SUITES.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_SET_SUITES.restype = ctypes.c_int


def set_tls13_suites(ctx, suites):
    """SSL_CTX_set_ciphersuites on an SSLContext: CPython's PySSLContext holds its SSL_CTX*
    right after the object header."""
    ptr = ctypes.c_void_p.from_address(id(ctx) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    if not ptr or _SET_SUITES(ptr, suites.encode()) != 1:
        sys.exit("cannot set the TLS 1.3 suites (not CPython with OpenSSL 1.1.1+?)")


def client_contexts(keylog):
    """One client SSLContext per suite, all logging keys to ``keylog``."""
    out = []
    for _, _, _, (version, suite) in SUITES:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if version == "13":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            set_tls13_suites(ctx, suite)
        else:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(suite)
        ctx.keylog_filename = keylog
        out.append(ctx)
    return out


def server_context(chain, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    return ctx


class Tls:
    """A client and a server SSLObject joined by memory BIOs; each side's output is taken as
    it is produced."""

    def __init__(self, cctx, sctx):
        self.ci, self.co, self.si, self.so = (ssl.MemoryBIO() for _ in range(4))
        self.c = cctx.wrap_bio(self.ci, self.co, server_hostname=NAME)
        self.s = sctx.wrap_bio(self.si, self.so, server_side=True)

    def handshake(self):
        """Runs the handshake; returns the flights as [(from_client, bytes)]."""
        flights = []
        done_c = done_s = False
        while not (done_c and done_s):
            done_c = done_c or _step(self.c.do_handshake)
            if self.co.pending:
                data = self.co.read()
                flights.append((True, data))
                self.si.write(data)
            done_s = done_s or _step(self.s.do_handshake)
            if self.so.pending:
                data = self.so.read()
                flights.append((False, data))
                self.ci.write(data)
        return flights

    def client_sends(self, data):
        """The client writes ``data``; the server reads it all. Returns the wire bytes."""
        self.c.write(data)
        wire = self.co.read()
        self.si.write(wire)
        _drain(self.s, len(data))
        return wire

    def server_sends(self, data):
        """The server writes ``data``; the client reads it all (TLS 1.3 tickets included)."""
        self.s.write(data)
        wire = self.so.read()
        self.ci.write(wire)
        _drain(self.c, len(data))
        return wire

    def client_closes(self):
        """The client's close_notify."""
        try:
            self.c.unwrap()
        except ssl.SSLWantReadError:
            pass
        return self.co.read()


class Plain:
    """The same conversation in clear (``--plain``): what each side writes is what is sent."""

    c = None

    def handshake(self):
        return []

    def client_sends(self, data):
        return data

    def server_sends(self, data):
        return data

    def client_closes(self):
        return b""


def _step(fn):
    try:
        fn()
        return True
    except ssl.SSLWantReadError:
        return False


def _drain(side, n):
    got = 0
    while got < n:
        try:
            got += len(side.read(n - got))
        except ssl.SSLWantReadError:
            break
    if got != n:
        sys.exit("in-memory TLS lost bytes (%d of %d)" % (got, n))


BODY_SOURCE = bytes(random.Random(7).choice(b'{}[]":,abcdefghijklmnopqrstuvwxyz0123456789 ')
                    for _ in range(256 * 1024))


def body(rng, size):
    at = rng.randrange(len(BODY_SOURCE) - size)
    return BODY_SOURCE[at:at + size]


def response_size(rng):
    x = rng.random()
    if x < 0.70:
        return rng.randint(100, 2000)
    if x < 0.95:
        return rng.randint(2000, 16000)
    return rng.randint(16000, 128 * 1024)


def request(rng, i):
    """One request head (and body for a POST)."""
    path = PATHS[rng.randrange(len(PATHS))]
    if b"%d" in path:
        path = path % rng.randrange(100000)
    if rng.random() < 0.15:
        data = body(rng, rng.randint(50, 4000))
        return (b"POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-client/1.0\r\n"
                b"Accept: application/json\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nX-Request-Id: %08x\r\n\r\n"
                % (path, NAME.encode(), len(data), i)) + data
    return (b"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-client/1.0\r\n"
            b"Accept: application/json\r\nX-Request-Id: %08x\r\n\r\n" % (path, NAME.encode(), i))


def response(rng):
    x = rng.randrange(1000)
    status, reason = 200, b"OK"
    for share, code, text in STATUSES:
        if x < share:
            status, reason = code, text
            break
        x -= share
    data = body(rng, response_size(rng) if status == 200 else rng.randint(40, 300))
    extra = b"Retry-After: 2\r\n" if status in (429, 503) else b""
    return (b"HTTP/1.1 %d %s\r\nServer: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (status, reason, len(data), extra)) + data


def send(conn, t, from_client, wire, gap=12):
    """``wire`` as MSS segments from one side, ACKed by the other every second segment and at
    the end; returns the time after the last segment."""
    out, back = (conn.c2s, conn.s2c) if from_client else (conn.s2c, conn.c2s)
    n = (len(wire) + MSS - 1) // MSS
    for j in range(n):
        last = j == n - 1
        out(t, (PSH | ACK) if last else ACK, wire[j * MSS:(j + 1) * MSS])
        if j & 1 or last:
            back(t + 30, ACK)
        t += gap
    return t


def https(w, n, rng, keylog, chain, key):
    """N keep-alive HTTPS connections merged in time order (see the module doc); ``keylog``
    None: the same connections, requests and answers in clear on port 80 (``--plain``)."""
    sched = Scheduler(w)
    emit = sched.emit
    plain = keylog is None
    cctxs = None if plain else client_contexts(keylog)
    sctx = None if plain else server_context(chain, key)
    weights = [s[0] for s in SUITES]
    servers = [ip4("198.19.2.%d" % h) for h in range(10, 14)]
    seen = {}

    class Session:
        __slots__ = ("conn", "tls", "rtt", "left", "rng")

    def start(t, i):
        st = Session()
        st.rng = random.Random(rng.getrandbits(64))  # the session's own stream of choices
        r = st.rng
        k = (i * 48271) % 130816
        suite = r.choices(range(len(SUITES)), weights)[0]
        st.conn = TcpConn(w, emit, ip4("198.18.0.0") + k + (256 if k >= 65536 else 0),
                          servers[i & 3], 10000 + i % 55000, 80 if plain else 443,
                          r.getrandbits(32), r.getrandbits(32))
        st.rtt = r.randint(300, 30000)
        st.left = r.randint(5, 60)
        st.tls = Plain() if plain else Tls(cctxs[suite], sctx)
        t = st.conn.handshake(t, st.rtt) + 20
        for from_client, data in st.tls.handshake():
            t = send(st.conn, t, from_client, data) + (300 if from_client else st.rtt)
        _, version, name, _ = SUITES[suite]
        if not plain:
            got = st.tls.c.cipher()
            if got is None or got[0] != name or got[1] != version:
                sys.exit("asked for %s %s, negotiated %r" % (version, name, got))
        seen[(version, name)] = seen.get((version, name), 0) + 1
        sched.at(t + r.randint(50, 5000), call, st)

    def call(t, st):
        r, conn = st.rng, st.conn
        if st.left == 0:
            t = send(conn, t, True, st.tls.client_closes())
            conn.c2s(t + 10, FIN | ACK)
            conn.s2c(t + 10 + st.rtt, FIN | ACK)
            conn.c2s(t + 40 + st.rtt, ACK)
            return
        st.left -= 1
        t = send(conn, t, True, st.tls.client_sends(request(r, st.left))) + st.rtt
        t += r.randint(200, 20000)  # the server's work
        t = send(conn, t, False, st.tls.server_sends(response(r)))
        sched.at(t + r.randint(50, 200000), call, st)

    t = BASE
    for i in range(n):
        sched.at(t, start, i)
        t += rng.randint(1000, 60000)
    sched.run()
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("out", help="the pcap to write (OUT.keys and OUT.ca.pem go beside it)")
    ap.add_argument("--count", type=int, default=1000, help="TLS connections (default 1000)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--plain", action="store_true",
                    help="the same HTTP in clear on port 80 (no TLS, no keys): the twin that "
                         "shows what reading the HTTP costs apart from decrypting it")
    a = ap.parse_args()
    if a.count < 1:
        ap.error("--count must be positive")
    if a.plain:
        started = time.monotonic()
        w = PcapWriter(a.out)
        try:
            https(w, a.count, random.Random(a.seed), None, None, None)
        finally:
            w.close()
        print("%s: %d plain HTTP connections, %d packets in %.1f s"
              % (a.out, a.count, w.count, time.monotonic() - started), file=sys.stderr)
        return
    stem = a.out[:-5] if a.out.endswith(".pcap") else a.out
    keylog, ca_out = stem + ".keys", stem + ".ca.pem"
    open(keylog, "w").close()  # OpenSSL's key log appends
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="faultline-tlsgen.") as tmp:
        ca, chain, key = make_certificates(tmp)
        with open(ca, "rb") as src, open(ca_out, "wb") as dst:
            dst.write(src.read())
        w = PcapWriter(a.out)
        try:
            seen = https(w, a.count, random.Random(a.seed), keylog, chain, key)
        finally:
            w.close()
    suites = ", ".join("%s %s %d" % (v, s, c) for (v, s), c in sorted(seen.items()))
    print("%s: %d connections (%s), %d packets in %.1f s; keys in %s, CA in %s"
          % (a.out, a.count, suites, w.count, time.monotonic() - started, keylog, ca_out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
