#!/usr/bin/env python3
"""A plain HTTP/1.0 server from the standard library (http.server.ThreadingHTTPServer), as many
small services run: one connection per request, the server closes after each response (its FIN
comes first). Dual stack on [::]. GET/HEAD answer a small JSON body with Content-Length, POST
echoes the size it read. Exits after MAX_SECONDS whatever happens.

Usage: http10.py PORT MAX_SECONDS
"""

import http.server
import json
import socket
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def _answer(self, body: bytes, send_body: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(json.dumps({"path": self.path, "ok": True}).encode() + b"\n")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(b'{"ok": true}\n', send_body=False)

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self._answer(json.dumps({"received": len(data)}).encode() + b"\n")

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


class DualStack(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main() -> int:
    port, max_seconds = int(sys.argv[1]), float(sys.argv[2])
    server = DualStack(("::", port), Handler)
    threading.Timer(max_seconds, server.shutdown).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
