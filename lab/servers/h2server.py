#!/usr/bin/env python3
"""An HTTP/2 cleartext (h2c) server for the fault lab that misbehaves per request path, built on
the `h2` library (hyper-h2; pip install h2). One thread per connection; both h2c with prior
knowledge (the client starts with the connection preface) and the HTTP/1.1 `Upgrade: h2c`
switch (101, then the request's answer on stream 1) are accepted.

  /ok...        200 with a small JSON body
  /big          200 with a 1 MB body, sent as the client's flow-control windows allow
  /refuse       RST_STREAM REFUSED_STREAM (7) at once, no response
  /reset-mid    HEADERS 200 and one DATA frame (no END_STREAM), then RST_STREAM INTERNAL_ERROR (2)
  /calm         RST_STREAM ENHANCE_YOUR_CALM (11)
  /slow         200 after 2 s
  /hold         no answer until a /goaway on the same connection settles it
  /goaway       GOAWAY NO_ERROR with last-stream-id = the second lowest /hold stream and debug
                data "draining for restart"; then the lowest /hold stream is answered 200 and
                the connection is closed (FIN) with the others unanswered
  /upload       reads the request body but never acknowledges it: no WINDOW_UPDATE, so the
                client's window stays at zero once it has sent INITIAL_WINDOW_SIZE bytes
  /hop-by-hop   HEADERS 200 with a `connection: keep-alive` header, which HTTP/2 forbids (a
                proxy copying HTTP/1.1 hop-by-hop headers), the body 0.3 s later: nghttp2
                clients (curl, nghttp) reset the stream with PROTOCOL_ERROR first
  /crash        the server drops the connection at once with RST (SO_LINGER 0), every open
                stream unanswered, no GOAWAY
  /close        the server closes the connection (FIN) with every open stream unanswered, no
                GOAWAY
  anything else 404

Usage: h2server.py ADDR PORT MAX_SECONDS [--max-concurrent N] [--initial-window N]
                   [--tls CERT KEY]
With --tls every connection is TLS (ALPN h2, TLS 1.2 or 1.3) with the same behaviour inside; the
server never sends close_notify, and one lock serialises every read and write of the TLS
connection (OpenSSL objects are not safe to read and write from two threads at once).
With --max-concurrent N the server advertises SETTINGS_MAX_CONCURRENT_STREAMS N, takes 0.3 s per
request, and answers a stream that arrives while N are being served with RST_STREAM
REFUSED_STREAM (a client may send requests before it has the server's SETTINGS). Bounded: the
process exits after MAX_SECONDS whatever happens.
"""

import argparse
import socket
import ssl
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Conn:
    def __init__(self, sock, args):
        self.sock = sock
        self.args = args
        self.lock = threading.Lock()
        # Outbound validation and normalisation (which strips connection headers) off:
        # /hop-by-hop sends a header HTTP/2 forbids, on purpose.
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                        validate_outbound_headers=False,
                                        normalize_outbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.serving = set()
        self.holds = []
        self.closed = False

    def flush(self):
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.sock.sendall(data)

    def settings(self):
        s = {}
        if self.args.max_concurrent:
            s[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = self.args.max_concurrent
        if self.args.initial_window:
            s[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = self.args.initial_window
        return s

    def respond(self, sid, status, body=b"", end=True):
        with self.lock:
            self.h2.send_headers(sid, [(":status", str(status)), ("server", "lab-h2/1.0"),
                                       ("content-type", "application/json"),
                                       ("content-length", str(len(body)))],
                                 end_stream=not body and end)
            if body:
                self.h2.send_data(sid, body, end_stream=end)
            self.flush()

    def reset(self, sid, code):
        with self.lock:
            self.h2.reset_stream(sid, code)
            self.flush()

    def send_big(self, sid):
        body = b"x" * (1 << 20)
        with self.lock:
            self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))])
            self.flush()
        sent = 0
        deadline = time.monotonic() + 20
        while sent < len(body) and time.monotonic() < deadline and not self.closed:
            with self.lock:
                try:
                    window = min(self.h2.local_flow_control_window(sid),
                                 self.h2.max_outbound_frame_size, len(body) - sent)
                except Exception:
                    return
                if window > 0:
                    self.h2.send_data(sid, body[sent:sent + window],
                                      end_stream=sent + window == len(body))
                    sent += window
                    self.flush()
                    continue
            time.sleep(0.05)

    def request(self, sid, path):
        if self.args.max_concurrent:
            with self.lock:
                busy = len(self.serving) >= self.args.max_concurrent
                if not busy:
                    self.serving.add(sid)
            if busy:
                self.reset(sid, 7)
                return
            time.sleep(0.3)
            self.respond(sid, 200, b'{"ok": true}\n')
            with self.lock:
                self.serving.discard(sid)
            return
        if path.startswith("/ok"):
            self.respond(sid, 200, b'{"ok": true}\n')
        elif path == "/big":
            threading.Thread(target=self.send_big, args=(sid,), daemon=True).start()
        elif path == "/refuse":
            self.reset(sid, 7)
        elif path == "/reset-mid":
            with self.lock:
                self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                           ("content-length", "4000")])
                self.h2.send_data(sid, b'{"items": [' + b"1, " * 300)
                self.flush()
            time.sleep(0.2)
            self.reset(sid, 2)
        elif path == "/calm":
            self.reset(sid, 11)
        elif path == "/slow":
            def later():
                time.sleep(2.0)
                try:
                    self.respond(sid, 200, b'{"slow": true}\n')
                except Exception:
                    pass  # the client cancelled the stream
            threading.Thread(target=later, daemon=True).start()
        elif path == "/hold":
            self.holds.append(sid)
        elif path == "/goaway":
            holds = sorted(self.holds)
            last = holds[1] if len(holds) > 1 else (holds[0] if holds else 0)
            frame = GoAwayFrame(0, last_stream_id=last, error_code=0,
                                additional_data=b"draining for restart")
            with self.lock:
                self.sock.sendall(frame.serialize())
            time.sleep(0.2)
            if holds:
                self.respond(holds[0], 200, b'{"held": true}\n')
            time.sleep(0.2)
            with self.lock:
                self.closed = True
                self.sock.close()
        elif path == "/hop-by-hop":
            body = b'{"ok": true}\n'
            with self.lock:
                self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                           ("connection", "keep-alive"),
                                           ("content-length", str(len(body)))])
                self.flush()
            time.sleep(0.3)  # the body later: the client's reset comes before END_STREAM
            try:
                with self.lock:
                    self.h2.send_data(sid, body, end_stream=True)
                    self.flush()
            except h2.exceptions.StreamClosedError:
                pass
        elif path in ("/crash", "/close"):
            time.sleep(0.1)
            with self.lock:
                self.closed = True
                if path == "/crash":
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack("ii", 1, 0))
                else:
                    self.sock.shutdown(socket.SHUT_RDWR)
                self.sock.close()
        elif path == "/upload":
            pass  # the body is read (by the event loop) and never acknowledged
        else:
            self.respond(sid, 404, b'{"error": "not found"}\n')

    def upgrade(self, buf):
        """HTTP/1.1 request head in buf: 101 and h2 with the request as stream 1, or None."""
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("upgrade", "").lower() != "h2c" or "http2-settings" not in hdrs:
            self.sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                              b"Connection: close\r\n\r\n")
            return None
        self.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                          b"Upgrade: h2c\r\n\r\n")
        self.h2.initiate_upgrade_connection(hdrs["http2-settings"])
        if self.settings():
            self.h2.update_settings(self.settings())
        self.flush()
        path = lines[0].split(" ")[1]
        threading.Thread(target=self.request, args=(1, path), daemon=True).start()
        return rest

    def recv(self):
        """One read; under the lock with a short timeout when TLS (see the module doc)."""
        if not self.args.tls:
            return self.sock.recv(65536)
        while True:
            with self.lock:
                if self.closed:
                    raise OSError("closed")
                self.sock.settimeout(0.02)
                try:
                    return self.sock.recv(65536)
                except (socket.timeout, ssl.SSLWantReadError):
                    pass
            time.sleep(0.005)

    def run(self, deadline):
        # Short reads: a close from another thread takes effect when this thread's recv returns.
        self.sock.settimeout(0.1)
        buf = b""
        while len(buf) < len(PREFACE) and b"\r\n\r\n" not in buf:
            chunk = self.recv()
            if not chunk:
                return
            buf += chunk
        if buf.startswith(PREFACE[:len(buf)]) and buf.startswith(b"PRI "):
            self.h2.initiate_connection()
            if self.settings():
                self.h2.update_settings(self.settings())
            self.flush()
        else:
            while b"\r\n\r\n" not in buf:
                chunk = self.recv()
                if not chunk:
                    return
                buf += chunk
            buf = self.upgrade(buf)
            if buf is None:
                return
        while time.monotonic() < deadline and not self.closed:
            if buf:
                data, buf = buf, b""
            else:
                try:
                    data = self.recv()
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
            with self.lock:
                events = self.h2.receive_data(data)
                self.flush()
            for ev in events:
                if isinstance(ev, h2.events.RequestReceived):
                    path = dict(ev.headers).get(":path", "/")
                    threading.Thread(target=self.request, args=(ev.stream_id, path),
                                     daemon=True).start()
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return


def serve(sock, args, deadline, ctx):
    if ctx:
        try:
            sock.settimeout(5)
            sock = ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            print(f"handshake failed: {e!r}", file=sys.stderr)
            sock.close()
            return
    c = Conn(sock, args)
    try:
        c.run(deadline)
    except Exception as e:  # a lab server: log and drop the connection
        print(f"connection error: {e!r}", file=sys.stderr)
    finally:
        if not c.closed:
            c.closed = True
            sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("max_seconds", type=float)
    ap.add_argument("--max-concurrent", type=int, default=0)
    ap.add_argument("--initial-window", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        ctx.set_alpn_protocols(["h2"])
    deadline = time.monotonic() + args.max_seconds
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind((args.addr, args.port))
    ls.listen(64)
    ls.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            s, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(s, args, deadline, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
