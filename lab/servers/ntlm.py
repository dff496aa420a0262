#!/usr/bin/env python3
"""An NTLM-style multi-leg HTTP authentication (no real crypto): ntlm.py MODE ADDR PORT MAX_SECONDS.
HTTP/1.1 keep-alive, one thread per connection, the handshake state kept per connection:
  no Authorization               -> 401, WWW-Authenticate: NTLM and Negotiate
  Authorization: NTLM <type 1>   -> 401, WWW-Authenticate: NTLM <type 2 challenge>
  Authorization: NTLM <type 3>   -> 200 (MODE ok) or 401 WWW-Authenticate: NTLM (MODE fail:
                                    the credentials were wrong)
Exits after MAX_SECONDS."""
import base64
import http.server
import os
import socketserver
import struct
import sys
import threading

mode, addr, port, max_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])


def type2():
    target = "LAB".encode("utf-16-le")
    body = (b"NTLMSSP\x00" + struct.pack("<I", 2) + struct.pack("<HHI", len(target), len(target), 48)
            + struct.pack("<I", 0xE2898215) + os.urandom(8) + b"\x00" * 8 + b"\x00" * 8)
    return base64.b64encode(body + target).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lab-iis"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, auth=None):
        body = body.encode()
        self.send_response(code)
        if auth:
            for a in auth:
                self.send_header("WWW-Authenticate", a)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("NTLM "):
            return self.reply(401, '{"error":"unauthorized"}\n', ["Negotiate", "NTLM"])
        msg = base64.b64decode(auth[5:])
        kind = struct.unpack("<I", msg[8:12])[0] if msg.startswith(b"NTLMSSP\x00") else 0
        if kind == 1:
            return self.reply(401, '{"error":"unauthorized"}\n', ["NTLM " + type2()])
        if kind == 3 and mode == "ok":
            return self.reply(200, '{"reports":[1,2,3]}\n')
        return self.reply(401, '{"error":"unauthorized"}\n', ["Negotiate", "NTLM"])


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    address_family = __import__("socket").AF_INET6 if ":" in addr else __import__("socket").AF_INET


srv = Server((addr, port), Handler)
threading.Timer(max_s, srv.shutdown).start()
srv.serve_forever()
