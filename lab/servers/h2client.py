#!/usr/bin/env python3
"""A small HTTP/2 cleartext client for the fault lab (hyper-h2, prior knowledge), one connection
per run, following a plan:

  mixed     GET /ok, /refuse, /reset-mid, /calm, /slow, /ok, all sent at once; /slow is
            cancelled by the client (RST_STREAM CANCEL) 0.5 s later; then GOAWAY and close
  goaway    GET /hold, /hold, /goaway, /hold at once (streams 1, 3, 5, 7); the server's GOAWAY
            and close end the connection
  burst     GET /ok x3 in the client's first flight, before the server's SETTINGS (whose
            MAX_CONCURRENT_STREAMS is 1) have arrived; then, settings known, one more /ok
  upload    POST /upload with a 200 kB body, sent as the server's window allows; the server
            never reopens it: after 3 s stalled the client closes the connection
  hold P... GET each path P at once (e.g. /hold /hold /crash); read until the server closes the
            connection, or for 3 s and then close it (FIN, no GOAWAY): no stream may be answered
  noread    GET /big with INITIAL_WINDOW_SIZE 16384; the client never acknowledges (no
            WINDOW_UPDATE): the server stalls at a zero window; after 3 s the client closes

Usage: h2client.py PLAN ADDR PORT [--tls CA KEYLOG]. With --tls the connection is TLS (ALPN h2,
server name api.lab.test, certificate verified against CA) and the keys go to KEYLOG. Prints "STREAM PATH RESULT" per stream; exits non-zero when
the server did not behave as the plan expects. Bounded by socket timeouts (10 s).
"""

import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


TLS = None  # (CA, KEYLOG) with --tls


class Client:
    def __init__(self, addr, port, settings=None):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect((addr, port))
        if TLS:
            ctx = ssl.create_default_context(cafile=TLS[0])
            ctx.keylog_filename = TLS[1]
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="api.lab.test")
            if self.sock.selected_alpn_protocol() != "h2":
                sys.exit("the server did not select ALPN h2")
        self.authority = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
        if TLS:
            self.authority = f"api.lab.test:{port}"
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.initiate_connection()
        if settings:
            self.h2.update_settings(settings)
        self.results = {}
        self.paths = {}
        self.closed = False

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def get(self, path, method="GET", end=True):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", method), (":scheme", "http"),
                                   (":authority", self.authority), (":path", path),
                                   ("user-agent", "lab-h2client/1.0")], end_stream=end)
        self.paths[sid] = path
        return sid

    def pump(self, seconds, until=None):
        """Read and handle events for up to `seconds`, or until until() is true."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.closed:
            if until and until():
                return
            self.sock.settimeout(max(0.01, min(0.2, end - time.monotonic())))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                self.closed = True
                return
            if "goaway" in self.results:
                # hyper-h2 takes nothing after a GOAWAY; tshark checks what else arrived.
                self.results["after_goaway"] = self.results.get("after_goaway", 0) + len(data)
                continue
            for ev in self.h2.receive_data(data):
                sid = getattr(ev, "stream_id", None)
                if isinstance(ev, h2.events.ResponseReceived):
                    self.results[sid] = dict(ev.headers)[":status"]
                elif isinstance(ev, h2.events.StreamReset):
                    self.results[sid] = f"reset {int(ev.error_code)}"
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.results["goaway"] = (int(ev.error_code), ev.last_stream_id,
                                              ev.additional_data)
                    break
            self.flush()

    def bye(self):
        if not self.closed:
            self.h2.close_connection()
            self.flush()
            time.sleep(0.1)
        self.sock.close()

    def report(self):
        for sid in sorted(self.paths):
            print(sid, self.paths[sid], self.results.get(sid, "-"))
        if "goaway" in self.results:
            print("goaway", *self.results["goaway"])


def check(cond, what):
    if not cond:
        sys.exit(f"unexpected: {what}")


def main():
    global TLS
    plan, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        TLS = (sys.argv[i + 1], sys.argv[i + 2])
    if plan == "mixed":
        c = Client(addr, port)
        ids = [c.get(p) for p in ("/ok", "/refuse", "/reset-mid", "/calm", "/slow", "/ok2")]
        c.flush()
        c.pump(0.5)
        c.h2.reset_stream(ids[4], 8)  # CANCEL: the client gives up on /slow
        c.flush()
        c.pump(1.0)
        c.report()
        r = c.results
        check([r.get(i) for i in ids] == ["200", "reset 7", "200", "reset 11", None, "200"]
              or [r.get(i) for i in ids] == ["200", "reset 7", "reset 2", "reset 11", None, "200"],
              r)
        c.bye()
    elif plan == "goaway":
        c = Client(addr, port)
        for p in ("/hold", "/hold", "/goaway", "/hold"):
            c.get(p)
        c.flush()
        c.pump(3.0)
        c.report()
        check(c.closed and c.results.get("goaway", (None, None))[1] == 3, c.results)
        check(c.results.get("after_goaway", 0) > 0 and 3 not in c.results, c.results)
        c.sock.close()
    elif plan == "burst":
        c = Client(addr, port)
        ids = [c.get("/ok") for _ in range(3)]
        c.flush()
        c.pump(1.0)
        ids.append(c.get("/ok-after-settings"))
        c.flush()
        c.pump(1.0, until=lambda: ids[-1] in c.results)
        c.report()
        got = [c.results.get(i) for i in ids]
        check(got == ["200", "reset 7", "reset 7", "200"], got)
        c.bye()
    elif plan == "upload":
        c = Client(addr, port)
        c.flush()
        c.pump(0.3)  # the server's SETTINGS (INITIAL_WINDOW_SIZE) first
        sid = c.get("/upload", method="POST", end=False)
        c.flush()
        body = b"u" * 200_000
        sent = 0
        stalled_since = None
        while sent < len(body):
            window = min(c.h2.local_flow_control_window(sid), c.h2.max_outbound_frame_size,
                         len(body) - sent)
            if window > 0:
                c.h2.send_data(sid, body[sent:sent + window])
                sent += window
                c.flush()
                stalled_since = None
                continue
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 3.0:
                break
            c.pump(0.2)
        print(f"{sid} /upload sent {sent} of {len(body)} bytes, window 0")
        check(sent < len(body), "the upload was not stalled")
        c.sock.close()  # the client gives up: close without GOAWAY (FIN)
    elif plan == "hold":
        c = Client(addr, port)
        for p in sys.argv[4:]:
            if p == "--tls":
                break
            c.get(p)
        c.flush()
        try:
            c.pump(3.0)
        except ConnectionResetError:
            c.closed = True
            print("reset by the server")
        c.report()
        check(not any(isinstance(k, int) for k in c.results), c.results)
        c.sock.close()
    elif plan == "noread":
        c = Client(addr, port, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16384})
        sid = c.get("/big")
        c.flush()
        received = 0
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            c.sock.settimeout(0.2)
            try:
                data = c.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            for ev in c.h2.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    received += ev.flow_controlled_length  # never acknowledged
            c.flush()
        print(f"{sid} /big received {received} bytes, never acknowledged")
        check(received == 16384, received)
        c.sock.close()
    else:
        sys.exit(f"unknown plan {plan}")


if __name__ == "__main__":
    main()
