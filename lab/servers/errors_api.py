#!/usr/bin/env python3
"""The lab's API behind a gateway: each route answers with an error in the shape a real vendor
documents, so the captures hold what servers actually say (issue 18). Python's threaded
http.server, HTTP/1.1 keep-alive, every answer with a Content-Length.

  GET  /v1/ok                 200 {"ok": true}
  GET  /v1/items              200 with RateLimit-Policy 10;w=1 and RateLimit-Remaining falling
                              9..0 within one 1 s window, then 429 Retry-After: 1 (throttled)
  POST /v1/orders             400 application/problem+json (RFC 9457) with detail
  POST /v1/users              422 application/problem+json with detail and errors
  GET  /v1/profile            401 Bearer error="invalid_token", "The access token expired"
  GET  /v1/account            401 Bearer error="invalid_token", "The access token signature is invalid"
  GET  /v1/admin/reports      403 Bearer error="insufficient_scope" (RFC 6750 3.1)
  POST /oauth/token           400 {"error":"invalid_client"} (client_credentials) or
                              {"error":"invalid_grant"} (refresh_token), RFC 6749 5.2
  GET  /v1/reports            403 Huawei APIG style {"error_code":"APIG.0302","error_msg":...}
  GET  /prod/v1/invoke        403 AWS API Gateway: x-amzn-ErrorType: AccessDeniedException
  GET  /v1/projects/lab/secrets  403 Google {"error":{"code":403,"status":"PERMISSION_DENIED"}},
                              gzip-compressed
  GET  /v2/catalog            404 APIG.0101 "The API does not exist or has not been published in
                              the environment"
  GET  /v1/beta/search        404 naming the stage the X-Stage header asked for
  GET  /v1/search             429 daily quota (RateLimit-Policy: 1000;w=86400), br-compressed
  POST /v1/batch              400 AWS x-amzn-ErrorType: ThrottlingException "Rate exceeded"
  GET  /v1/legacy/orders      410 Gone with Sunset (past) and Deprecation, problem+json
  GET  /v1/orders/42          406 when the request's Accept has no JSON
  GET  /v1/plain-upgrade      426 Upgrade: TLS/1.2 (RFC 2817)
  POST /graphql               200 GraphQL errors: FORBIDDEN (query invoices) or
                              INTERNAL_SERVER_ERROR (query billing), "data": null
  GET  /loop-a, /loop-b       302 to each other (a redirect loop)
  GET  /v1/misdirected        421 Misdirected Request
  else                        404 problem+json

Usage: errors_api.py ADDR PORT MAX_SECONDS
Bounded: the process exits after MAX_SECONDS whatever happens; connection threads are daemons.
"""

import gzip
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli

PROBLEM = "application/problem+json"
JSON = "application/json"


def js(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class Window:
    """A fixed 1 s rate-limit window shared by every client of /v1/items."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.start, self.used = 0.0, 0
        self.lock = threading.Lock()

    def take(self):
        """(allowed, remaining, reset_seconds) for one more request."""
        with self.lock:
            now = time.monotonic()
            if now - self.start >= self.seconds:
                self.start, self.used = now, 0
            reset = max(1, round(self.seconds - (now - self.start)))
            if self.used >= self.limit:
                return False, 0, reset
            self.used += 1
            return True, self.limit - self.used, reset


ITEMS = Window(10, 1.0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle keep-alive connection is closed after this
    server_version = "lab-errors-api/1.0"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # quiet: the capture is the record
        pass

    def send(self, status, body=b"", ctype=JSON, headers=(), encoding=None):
        if encoding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif encoding == "br":
            body = brotli.compress(body)
        self.send_response(status)
        if body or ctype:
            self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 65536)) if n > 0 else b""

    def problem(self, status, title, detail, **extra):
        doc = {"type": f"https://api.lab.test/problems/{title.lower().replace(' ', '-')}",
               "title": title, "status": status, "detail": detail,
               "instance": self.path}
        doc.update(extra)
        self.send(status, js(doc), PROBLEM)

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.body())

    def route(self, data: bytes):
        path = self.path.split("?", 1)[0]
        handler = ROUTES.get((self.command, path))
        if handler is None:
            self.problem(404, "Not Found", f"No route for {self.command} {path}")
        else:
            handler(self, data)

    # -- healthy ---------------------------------------------------------------------------
    def ok(self, _):
        self.send(200, js({"ok": True, "service": "orders", "version": "1.4.2"}))

    def items(self, _):
        allowed, remaining, reset = ITEMS.take()
        limits = [("RateLimit-Policy", "10;w=1"), ("RateLimit-Limit", "10"),
                  ("RateLimit-Remaining", str(remaining)), ("RateLimit-Reset", str(reset))]
        if allowed:
            self.send(200, js({"items": [{"id": i, "name": f"item-{i}"} for i in range(3)]}),
                      headers=limits)
        else:
            self.send(429, js({"message": "Rate limit exceeded: 10 requests per second"}),
                      headers=limits + [("Retry-After", "1")])

    # -- RFC 9457 problem details ------------------------------------------------------------
    def orders(self, _):
        self.problem(400, "Invalid request",
                     "Field 'quantity' must be a positive integer, got -3")

    def users(self, _):
        self.problem(422, "Unprocessable Entity",
                     "The email address is already registered to another account",
                     errors=[{"pointer": "/email", "detail": "must be unique"}])

    # -- RFC 6750 bearer tokens --------------------------------------------------------------
    def bearer(self, status, error, description, extra=""):
        challenge = (f'Bearer realm="api.lab.test", error="{error}", '
                     f'error_description="{description}"{extra}')
        self.send(status, js({"error": error, "error_description": description}),
                  headers=[("WWW-Authenticate", challenge)])

    def profile(self, _):
        self.bearer(401, "invalid_token", "The access token expired")

    def account(self, _):
        self.bearer(401, "invalid_token", "The access token signature is invalid")

    def admin_reports(self, _):
        self.bearer(403, "insufficient_scope",
                    "The request requires higher privileges than provided by the access token",
                    ', scope="reports:read"')

    # -- RFC 6749 token endpoint -------------------------------------------------------------
    def token(self, data):
        headers = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if b"grant_type=refresh_token" in data:
            doc = {"error": "invalid_grant",
                   "error_description": "The refresh token has been revoked"}
        else:
            doc = {"error": "invalid_client",
                   "error_description": "Client authentication failed: unknown client_id"}
        self.send(400, js(doc), headers=headers)

    # -- gateways and clouds -----------------------------------------------------------------
    def apig_denied(self, _):
        # Huawei APIG's documented code for an IAM user without permission on the API.
        self.send(403, js({"error_code": "APIG.0302",
                           "error_msg": "The IAM user is not authorized to access the API",
                           "request_id": "6c1c7a0f2a5b4e6f9d3e8b1a2c4d5e6f"}),
                  headers=[("X-Request-Id", "6c1c7a0f2a5b4e6f9d3e8b1a2c4d5e6f")])

    def aws_denied(self, _):
        msg = ("User: arn:aws:iam::123456789012:user/lab-ci is not authorized to perform: "
               "execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:"
               "a1b2c3d4e5/prod/GET/v1/invoke with an explicit deny")
        self.send(403, js({"message": msg}),
                  headers=[("x-amzn-RequestId", "8d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09"),
                           ("x-amzn-ErrorType", "AccessDeniedException")])

    def google_denied(self, _):
        doc = {"error": {"code": 403,
                         "message": "The caller does not have permission",
                         "status": "PERMISSION_DENIED"}}
        self.send(403, js(doc), "application/json; charset=UTF-8", encoding="gzip")

    def not_published(self, _):
        self.send(404, js({"error_code": "APIG.0101",
                           "error_msg": "The API does not exist or has not been published in "
                                        "the environment",
                           "request_id": "0b9e8d7c6b5a49384756a1b2c3d4e5f6"}))

    def wrong_stage(self, _):
        stage = self.headers.get("X-Stage", "RELEASE")
        self.send(404, js({"error_code": "APIG.0101",
                           "error_msg": f"The API is not published in the environment {stage} "
                                        f"named by the X-Stage header; it is published in "
                                        f"RELEASE"}))

    def quota(self, _):
        self.send(429, js({"message": "daily quota exceeded: 1000 requests per day for this "
                                      "API key, resets at 00:00 UTC"}),
                  headers=[("RateLimit-Policy", "1000;w=86400"), ("RateLimit-Limit", "1000"),
                           ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "37211"),
                           ("Retry-After", "37211")],
                  encoding="br")

    def aws_throttled(self, _):
        self.send(400, js({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                  "application/x-amz-json-1.1",
                  headers=[("x-amzn-RequestId", "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f"),
                           ("x-amzn-ErrorType", "ThrottlingException")])

    # -- versions and content negotiation ----------------------------------------------------
    def legacy(self, _):
        self.send(410, js({"type": "https://api.lab.test/problems/version-retired",
                           "title": "Gone", "status": 410,
                           "detail": "API version v1 was retired on 2025-03-01; use /v2/orders",
                           "instance": self.path}), PROBLEM,
                  headers=[("Deprecation", "@1719792000"),
                           ("Sunset", "Sat, 01 Mar 2025 00:00:00 GMT"),
                           ("Link", '</v2/orders>; rel="successor-version"')])

    def order_42(self, _):
        accept = self.headers.get("Accept", "*/*")
        if "json" in accept or "*/*" in accept:
            self.send(200, js({"id": 42, "status": "shipped"}))
        else:
            self.send(406, js({"message": f"Not Acceptable: {accept} is not available; this "
                                          f"resource is served as application/json"}))

    def plain_upgrade(self, _):
        self.send(426, js({"message": "This API requires TLS 1.2 or later"}),
                  headers=[("Upgrade", "TLS/1.2"), ("Connection", "Upgrade")])

    def graphql(self, data):
        if b"billing" in data:
            err = {"message": "Cannot reach the billing service", "path": ["billing"],
                   "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        else:
            err = {"message": "You are not authorized to read invoices",
                   "locations": [{"line": 1, "column": 3}], "path": ["invoices"],
                   "extensions": {"code": "FORBIDDEN"}}
        self.send(200, js({"errors": [err], "data": None}),
                  "application/graphql-response+json; charset=utf-8")

    def loop_a(self, _):
        self.send(302, b"", None, headers=[("Location", "/loop-b")])

    def loop_b(self, _):
        self.send(302, b"", None, headers=[("Location", "/loop-a")])

    def misdirected(self, _):
        self.send(421, js({"message": "Misdirected Request: this server is not configured "
                                      "for the requested host"}))


ROUTES = {
    ("GET", "/v1/ok"): Handler.ok,
    ("GET", "/v1/items"): Handler.items,
    ("POST", "/v1/orders"): Handler.orders,
    ("POST", "/v1/users"): Handler.users,
    ("GET", "/v1/profile"): Handler.profile,
    ("GET", "/v1/account"): Handler.account,
    ("GET", "/v1/admin/reports"): Handler.admin_reports,
    ("POST", "/oauth/token"): Handler.token,
    ("GET", "/v1/reports"): Handler.apig_denied,
    ("GET", "/prod/v1/invoke"): Handler.aws_denied,
    ("GET", "/v1/projects/lab/secrets"): Handler.google_denied,
    ("GET", "/v2/catalog"): Handler.not_published,
    ("GET", "/v1/beta/search"): Handler.wrong_stage,
    ("GET", "/v1/search"): Handler.quota,
    ("POST", "/v1/batch"): Handler.aws_throttled,
    ("GET", "/v1/legacy/orders"): Handler.legacy,
    ("GET", "/v1/orders/42"): Handler.order_42,
    ("GET", "/v1/plain-upgrade"): Handler.plain_upgrade,
    ("POST", "/graphql"): Handler.graphql,
    ("GET", "/loop-a"): Handler.loop_a,
    ("GET", "/loop-b"): Handler.loop_b,
    ("GET", "/v1/misdirected"): Handler.misdirected,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    addr, port, max_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    # Bounded lifetime: whatever the threads are doing, the process ends.
    threading.Timer(max_seconds, lambda: os._exit(0)).start()
    Server((addr, port), Handler).serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
