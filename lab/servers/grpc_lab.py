#!/usr/bin/env python3
"""A gRPC service and its client for the fault lab, on grpcio without protoc: generic handlers
whose serializers wrap the call's bytes in a one-field protobuf message (field 1, bytes: what
google.protobuf.BytesValue is on the wire), written by hand. Valid protobuf matters: tshark
4.0's protobuf dissector, given raw text as a gRPC message, throws and loses the HTTP/2
reassembly of the rest of that TCP segment.

  server ADDR:PORT MAX_SECONDS     serve lab.Api (h2c):
    /lab.Api/Echo    unary, answers the request bytes (healthy)
    /lab.Api/Fail    unary, the request is a status code number N: aborts with N and the
                     message "status N: café not ready, retry later" (spaces and a non-ASCII
                     character, percent-encoded in grpc-message)
    /lab.Api/Details unary, aborts PERMISSION_DENIED with grpc-status-details-bin: a
                     google.rpc.Status carrying an ErrorInfo (reason QUOTA_POLICY_DENIED,
                     domain lab.test)
    /lab.Api/Slow    unary, answers after 2 s
    /lab.Api/Count   server streaming, N messages then status 0 (healthy)
    /lab.Api/Break   server streaming, 3 messages then INTERNAL "stream broke after 3 items"
  client PLAN TARGET               one channel (one HTTP/2 connection) per run; prints each
                                   call's status and exits non-zero on a surprise
    all      Echo, Fail 1..16, Details, Slow with timeout 0.3 s (DEADLINE_EXCEEDED at the
             client: it sends RST_STREAM CANCEL), Break, Count 5, Echo
    proxied  through nginx grpc_pass: Echo, Fail 5, Count 3, then /lab.Down/Echo (a
             location whose backend is down)
    healthy  Echo x20 and Count 50 x3, concurrent from 8 threads, and one Count 2000

Bounded: the server exits after MAX_SECONDS, each client call has a deadline.
"""

import sys
import threading
import time
from concurrent import futures

import grpc

MESSAGE = "status {}: café not ready, retry later"


def enc(b):
    """bytes -> protobuf message { bytes value = 1; }"""
    n, out = len(b), bytearray(b"\x0a")
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    return bytes(out) + b


def dec(m):
    """protobuf message { bytes value = 1; } -> bytes (empty message -> b"")."""
    if not m:
        return b""
    if m[0] != 0x0A:
        raise ValueError("not field 1, length-delimited")
    n = shift = 0
    i = 1
    while True:
        n |= (m[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not m[i - 1] & 0x80:
            break
    return m[i:i + n]


def handlers():
    def echo(req, ctx):
        return req

    def fail(req, ctx):
        code = int(req.decode())
        status = next(s for s in grpc.StatusCode if s.value[0] == code)
        ctx.abort(status, MESSAGE.format(code))

    def details(req, ctx):
        from google.protobuf import any_pb2
        from google.rpc import error_details_pb2, status_pb2
        from grpc_status import rpc_status
        info = error_details_pb2.ErrorInfo(reason="QUOTA_POLICY_DENIED", domain="lab.test",
                                           metadata={"quota": "orders-per-minute"})
        detail = any_pb2.Any()
        detail.Pack(info)
        st = status_pb2.Status(code=grpc.StatusCode.PERMISSION_DENIED.value[0],
                               message="caller may not create orders", details=[detail])
        ctx.abort_with_status(rpc_status.to_status(st))

    def slow(req, ctx):
        time.sleep(2.0)
        return req

    def count(req, ctx):
        n = int(req.decode())
        for i in range(n):
            yield (b"item %06d " % i) * 8

    def brk(req, ctx):
        for i in range(3):
            yield b"item %d" % i
            time.sleep(0.05)
        ctx.abort(grpc.StatusCode.INTERNAL, "stream broke after 3 items")

    u = grpc.unary_unary_rpc_method_handler
    s = grpc.unary_stream_rpc_method_handler
    kw = dict(request_deserializer=dec, response_serializer=enc)
    return grpc.method_handlers_generic_handler("lab.Api", {
        "Echo": u(echo, **kw), "Fail": u(fail, **kw), "Details": u(details, **kw),
        "Slow": u(slow, **kw), "Count": s(count, **kw), "Break": s(brk, **kw)})


def server(addr, max_seconds):
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    srv.add_generic_rpc_handlers((handlers(),))
    srv.add_insecure_port(addr)
    srv.start()
    time.sleep(max_seconds)
    srv.stop(0)


def unary(ch, method, req, timeout=5.0):
    call = ch.unary_unary(method, request_serializer=enc, response_deserializer=dec)
    try:
        call(req, timeout=timeout)
        return 0
    except grpc.RpcError as e:
        return e.code().value[0]


def stream(ch, method, req, timeout=10.0):
    call = ch.unary_stream(method, request_serializer=enc, response_deserializer=dec)
    n = 0
    try:
        for _ in call(req, timeout=timeout):
            n += 1
        return 0, n
    except grpc.RpcError as e:
        return e.code().value[0], n


def client(plan, target):
    # One connection; no HTTP proxy from the environment.
    opts = [("grpc.enable_http_proxy", 0)]
    got, want = [], []
    with grpc.insecure_channel(target, options=opts) as ch:
        grpc.channel_ready_future(ch).result(timeout=5)
        if plan == "all":
            got.append(unary(ch, "/lab.Api/Echo", b"hello")); want.append(0)
            for code in range(1, 17):
                got.append(unary(ch, "/lab.Api/Fail", str(code).encode())); want.append(code)
            got.append(unary(ch, "/lab.Api/Details", b"order")); want.append(7)
            got.append(unary(ch, "/lab.Api/Slow", b"late", timeout=0.3)); want.append(4)
            time.sleep(0.3)
            got.append(stream(ch, "/lab.Api/Break", b"")); want.append((13, 3))
            got.append(stream(ch, "/lab.Api/Count", b"5")); want.append((0, 5))
            got.append(unary(ch, "/lab.Api/Echo", b"bye")); want.append(0)
        elif plan == "proxied":
            got.append(unary(ch, "/lab.Api/Echo", b"hello")); want.append(0)
            got.append(unary(ch, "/lab.Api/Fail", b"5")); want.append(5)
            got.append(stream(ch, "/lab.Api/Count", b"3")); want.append((0, 3))
            got.append(unary(ch, "/lab.Down/Echo", b"anyone?")); want.append(14)
        elif plan == "healthy":
            results = []

            def worker(i):
                for j in range(5):
                    results.append(unary(ch, "/lab.Api/Echo", b"ping %d %d" % (i, j)))
                results.append(stream(ch, "/lab.Api/Count", b"50")[0])

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            got.append(sorted(set(results))); want.append([0])
            got.append(stream(ch, "/lab.Api/Count", b"2000")); want.append((0, 2000))
        else:
            sys.exit(f"unknown plan {plan}")
    print(got)
    if got != want:
        sys.exit(f"unexpected statuses: got {got}, want {want}")


def main():
    if sys.argv[1] == "server":
        server(sys.argv[2], float(sys.argv[3]))
    else:
        client(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
