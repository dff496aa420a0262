#!/usr/bin/env python3
"""Writes an h2c capture of many streams, or its HTTP/1.1 twin (issue 17's h2c bench).

    benches/h2c/gen.py OUT.pcap [--count N] [--seed S] [--http1]

N cleartext connections (default 300) to four servers on port 8080, up to ~100 open at a time,
each carrying 20-200 calls (GETs, 15 % POSTs with a 50 B - 4 KB body; answers of 100 B to
128 KiB: 70 % under 2 KB, 25 % 2-16 KB, 5 % above 16 KB; about 5 % 404 with a short body) and
closed with FIN both ways. The seed fixes every call, size, status and timestamp, so the two
kinds carry exactly the same calls and bodies:

- h2c (default): HTTP/2 with prior knowledge. The bytes are real: the `h2` library's connection
  state machines (client and server, in memory) write them, with HPACK's dynamic table (paths,
  request ids, content lengths indexed and evicted as a real peer does), SETTINGS (the client
  announces a 1 MiB stream window and opens the connection window to 16 MiB, as browsers and
  gRPC do), WINDOW_UPDATEs as the data is consumed, and the client's GOAWAY at the end. Calls
  go in batches of 1-10 concurrent streams; the server answers a batch with its DATA frames
  interleaved round-robin across the streams (16 KiB frames).
- `--http1`: the same calls one after another on keep-alive HTTP/1.1 (`Content-Length`
  framing), with the same header fields.

The HTTP/1.1 file is a little larger (headers are not compressed): the bench compares bytes per
second, and reports both sizes.

TCP as the other bench generators write it (../hostile/pcapgen.py and the event merge of
../hostile/gen.py): legacy pcap, Ethernet, correct checksums, MSS 1460, an ACK every second
segment and at the end of a flight. Needs `pip install h2` (4.x).
"""

import argparse
import importlib.util
import os
import random
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
from pcapgen import ACK, FIN, PSH, PcapWriter, TcpConn, ip4  # noqa: E402

MSS = 1460
BASE = 1_714_521_600 * 1_000_000  # 2024-05-01T00:00:00Z in microseconds
NAME = "api.bench.example"
PATHS = ["/v1/items/%d", "/v1/users/%d/orders", "/v1/search?q=item%d", "/static/app.js",
         "/v1/health", "/v1/items"]


def _hostile_gen():
    """The hostile generator module (its Scheduler), loaded by path: it is also named gen.py."""
    spec = importlib.util.spec_from_file_location(
        "hostile_gen", os.path.join(HERE, "..", "hostile", "gen.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


Scheduler = _hostile_gen().Scheduler

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


class Call:
    """One call, the same in both kinds."""

    __slots__ = ("method", "path", "rid", "req_body", "status", "resp_body")

    def __init__(self, rng, rid):
        path = PATHS[rng.randrange(len(PATHS))]
        if "%d" in path:
            path = path % rng.randrange(100000)
        self.path, self.rid = path, "%08x" % rid
        self.method, self.req_body = "GET", b""
        if rng.random() < 0.15:
            self.method, self.req_body = "POST", body(rng, rng.randint(50, 4000))
        if rng.random() < 0.05:
            self.status, self.resp_body = 404, body(rng, rng.randint(40, 300))
        else:
            self.status, self.resp_body = 200, body(rng, response_size(rng))

    def request_fields(self):
        """The request's header fields (HTTP/2 pseudo-headers first)."""
        fields = [("user-agent", "bench-client/1.0"), ("accept", "application/json"),
                  ("x-request-id", self.rid)]
        if self.req_body:
            fields += [("content-type", "application/json"),
                       ("content-length", str(len(self.req_body)))]
        return fields

    def response_fields(self):
        return [("server", "bench"), ("content-type", "application/json"),
                ("content-length", str(len(self.resp_body)))]

    def http1_request(self):
        head = "%s %s HTTP/1.1\r\nhost: %s\r\n" % (self.method, self.path, NAME)
        head += "".join("%s: %s\r\n" % f for f in self.request_fields()) + "\r\n"
        return head.encode() + self.req_body

    def http1_response(self):
        reason = "OK" if self.status == 200 else "Not Found"
        head = "HTTP/1.1 %d %s\r\n" % (self.status, reason)
        head += "".join("%s: %s\r\n" % f for f in self.response_fields()) + "\r\n"
        return head.encode() + self.resp_body


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


class H2Pair:
    """A client and a server `h2` connection talking in memory; the bytes each writes go on
    the wire."""

    def __init__(self):
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.s = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        # In the client's first SETTINGS (assigning local_settings.initial_window_size would
        # only queue a change that initiate_connection does not send).
        self.c.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.c.initiate_connection()
        self.c.increment_flow_control_window((16 << 20) - 65535)
        self.s.initiate_connection()
        self.calls = {}  # stream id -> Call
        self.pending = {}  # stream id -> response bytes still to send
        self.done = 0

    def open(self, call):
        """The client starts a call; returns the stream id."""
        sid = self.c.get_next_available_stream_id()
        headers = [(":method", call.method), (":scheme", "http"), (":authority", NAME),
                   (":path", call.path)] + call.request_fields()
        self.c.send_headers(sid, headers, end_stream=not call.req_body)
        if call.req_body:
            self.c.send_data(sid, call.req_body, end_stream=True)
        self.calls[sid] = call
        return sid

    def on_server(self, events):
        for e in events:
            if isinstance(e, h2.events.DataReceived):
                self.s.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                call = self.calls[e.stream_id]
                self.s.send_headers(e.stream_id, [(":status", str(call.status))]
                                    + call.response_fields())
                self.pending[e.stream_id] = call.resp_body

    def on_client(self, events):
        for e in events:
            if isinstance(e, h2.events.DataReceived):
                self.c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                self.done += 1

    def serve(self):
        """The server writes its pending answers, one frame per stream in turn, as far as the
        windows allow."""
        s = self.s
        while self.pending:
            moved = False
            for sid in list(self.pending):
                data = self.pending[sid]
                room = min(s.local_flow_control_window(sid), s.max_outbound_frame_size)
                if room <= 0 and data:
                    continue
                chunk, rest = data[:room], data[room:]
                s.send_data(sid, chunk, end_stream=not rest)
                moved = True
                if rest:
                    self.pending[sid] = rest
                else:
                    del self.pending[sid]
            if not moved:
                break


def h2c_session(st, t):
    """One batch of calls over HTTP/2; returns the time after the last answer."""
    pair, conn, r = st.h2, st.conn, st.rng
    batch = [st.calls.pop() for _ in range(min(len(st.calls), r.randint(1, 10)))]
    for call in batch:
        pair.open(call)
    while True:
        out = pair.c.data_to_send()
        if out:
            t = send(conn, t, True, out) + st.rtt
            pair.on_server(pair.s.receive_data(out))
        pair.serve()
        back = pair.s.data_to_send()
        if back:
            t += r.randint(100, 5000)  # the server's work
            t = send(conn, t, False, back) + 200
            pair.on_client(pair.c.receive_data(back))
        if not out and not back:
            return t


def generate(w, n, rng, http1):
    sched = Scheduler(w)
    emit = sched.emit
    servers = [ip4("198.19.3.%d" % h) for h in range(10, 14)]
    counts = {"calls": 0, "404": 0}

    class Session:
        __slots__ = ("conn", "h2", "rtt", "calls", "rng")

    def start(t, i):
        st = Session()
        st.rng = random.Random(rng.getrandbits(64))
        r = st.rng
        k = (i * 48271) % 130816
        st.conn = TcpConn(w, emit, ip4("198.18.0.0") + k + (256 if k >= 65536 else 0),
                          servers[i & 3], 10000 + i % 55000, 8080,
                          r.getrandbits(32), r.getrandbits(32))
        st.rtt = r.randint(300, 30000)
        st.calls = [Call(r, (i << 12) + j) for j in range(r.randint(20, 200))]
        st.calls.reverse()  # popped from the end: in order
        counts["calls"] += len(st.calls)
        counts["404"] += sum(c.status == 404 for c in st.calls)
        t = st.conn.handshake(t, st.rtt) + 20
        st.h2 = None
        if not http1:
            st.h2 = pair = H2Pair()
            preface = pair.c.data_to_send()
            t = send(st.conn, t, True, preface) + st.rtt
            pair.s.receive_data(preface)
            settings = pair.s.data_to_send()
            t = send(st.conn, t, False, settings) + 200
            pair.on_client(pair.c.receive_data(settings))
        sched.at(t + r.randint(50, 5000), call, st)

    def call(t, st):
        r, conn = st.rng, st.conn
        if not st.calls:
            if st.h2:
                st.h2.c.close_connection()
                t = send(conn, t, True, st.h2.c.data_to_send())
            conn.c2s(t + 10, FIN | ACK)
            conn.s2c(t + 10 + st.rtt, FIN | ACK)
            conn.c2s(t + 40 + st.rtt, ACK)
            return
        if st.h2:
            t = h2c_session(st, t)
        else:
            c = st.calls.pop()
            t = send(conn, t, True, c.http1_request()) + st.rtt
            t += r.randint(100, 5000)
            t = send(conn, t, False, c.http1_response()) + 200
        sched.at(t + r.randint(50, 200000), call, st)

    t = BASE
    for i in range(n):
        sched.at(t, start, i)
        t += rng.randint(1000, 60000)
    sched.run()
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("out", help="the pcap to write")
    ap.add_argument("--count", type=int, default=300, help="connections (default 300)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--http1", action="store_true",
                    help="the same calls on keep-alive HTTP/1.1 instead of h2c")
    a = ap.parse_args()
    if a.count < 1:
        ap.error("--count must be positive")
    started = time.monotonic()
    w = PcapWriter(a.out)
    try:
        counts = generate(w, a.count, random.Random(a.seed), a.http1)
    finally:
        w.close()
    print("%s: %d %s connections, %d calls (%d 404), %d packets in %.1f s"
          % (a.out, a.count, "HTTP/1.1" if a.http1 else "h2c", counts["calls"], counts["404"],
             w.count, time.monotonic() - started), file=sys.stderr)


if __name__ == "__main__":
    main()
