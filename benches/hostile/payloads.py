"""Application payloads for the hostile-capture generator: HTTP/1.1 messages, DNS messages in
wire format (RFC 1035) and TLS 1.3 handshake records (RFC 8446). Built once as templates and
reused, so the writer's checksum cache hits."""

import struct

API_NAMES = [b"%s.example.com" % n for n in (
    b"api", b"auth", b"orders", b"payments", b"inventory", b"search", b"cdn", b"static",
    b"users", b"billing", b"metrics", b"events", b"catalog", b"cart", b"reports", b"mail")]

_DATE = b"Date: Wed, 01 May 2024 12:00:00 GMT\r\n"
_REASONS = {200: b"OK", 404: b"Not Found", 503: b"Service Unavailable"}


def _u8(b):
    return bytes((len(b),)) + b


def _u16(b):
    return struct.pack("!H", len(b)) + b


def _u24(b):
    return len(b).to_bytes(3, "big") + b


# ------------------------------------------------------------------------------------------------
# HTTP/1.1
# ------------------------------------------------------------------------------------------------

def http_response(status, body, extra=b""):
    """A complete HTTP/1.1 response with a JSON body and Content-Length."""
    return (b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]) + _DATE
            + b"Server: nginx/1.24.0\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body)


def healthy_requests():
    """64 GET requests for the healthy conversations."""
    return [b"GET /api/v1/items/%d HTTP/1.1\r\nHost: api.example.com\r\n"
            b"User-Agent: hostile-gen/1.0\r\nAccept: application/json\r\n\r\n" % i
            for i in range(64)]


def api_requests():
    """GETs and POSTs of an API client on a keep-alive connection (256 variants)."""
    out = []
    for i in range(256):
        host = API_NAMES[i % 8]
        if i % 5 == 4:
            body = b'{"order":%d,"items":[{"sku":"SKU-%06d","qty":%d}]}' % (i, i * 37, i % 9 + 1)
            out.append(b"POST /api/v2/orders HTTP/1.1\r\nHost: %s\r\n"
                       b"User-Agent: inventory-sync/3.2\r\nAccept: application/json\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                       % (host, len(body), body))
        else:
            path = (b"/api/v2/orders/%d", b"/api/v2/items?page=%d", b"/api/v2/users/%d/cart",
                    b"/health")[i % 4]
            if b"%d" in path:
                path = path % (i * 131)
            out.append(b"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: inventory-sync/3.2\r\n"
                       b"Accept: application/json\r\nAccept-Encoding: gzip\r\n\r\n" % (path, host))
    return out


def json_bodies(k, lo, hi, rng):
    """``k`` JSON documents between ``lo`` and ``hi`` bytes long."""
    out = []
    for _ in range(k):
        want = rng.randint(lo, hi)
        rows = []
        size = 12
        i = 0
        while size < want:
            row = b'{"id":%d,"sku":"SKU-%06d","price":%d.%02d}' % (i, rng.randrange(10 ** 6),
                                                                   rng.randrange(500),
                                                                   rng.randrange(100))
            rows.append(row)
            size += len(row) + 1
            i += 1
        out.append(b'{"rows":[' + b",".join(rows) + b"]}\n")
    return out


# ------------------------------------------------------------------------------------------------
# DNS
# ------------------------------------------------------------------------------------------------

def dns_name(text):
    """A dotted name in wire format (length-prefixed labels, root label last)."""
    if isinstance(text, str):
        text = text.encode()
    return b"".join(_u8(label) for label in text.split(b".")) + b"\0"


def dns_query(qid, name):
    """A recursive A/IN query."""
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + b"\0\1\0\1"


def dns_answer(qid, name, addr):
    """The answer to ``dns_query(qid, name)``: one A record for ``addr``, or NXDOMAIN when
    ``addr`` is None."""
    question = dns_name(name) + b"\0\1\0\1"
    if addr is None:
        return struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question
            + struct.pack("!HHHIHI", 0xC00C, 1, 1, 300, 4, addr))


# ------------------------------------------------------------------------------------------------
# TLS 1.3
# ------------------------------------------------------------------------------------------------

def _ext(typ, body):
    return struct.pack("!HH", typ, len(body)) + body


def client_hello(sni, rnd, sid, key):
    """A TLS 1.3 ClientHello record offering HTTP/1.1, with SNI and an X25519 key share."""
    exts = (_ext(0, _u16(b"\0" + _u16(sni)))
            + _ext(10, _u16(bytes.fromhex("001d00170018")))
            + _ext(11, b"\x01\x00")
            + _ext(13, _u16(bytes.fromhex("0403080404010503080505010806 0601".replace(" ", ""))))
            + _ext(16, _u16(_u8(b"http/1.1")))
            + _ext(43, _u8(b"\x03\x04\x03\x03"))
            + _ext(45, _u8(b"\x01"))
            + _ext(51, _u16(b"\x00\x1d" + _u16(key))))
    body = (b"\x03\x03" + rnd + _u8(sid) + _u16(bytes.fromhex("130113021303c02fc02b"))
            + b"\x01\x00" + _u16(exts))
    return b"\x16\x03\x01" + _u16(b"\x01" + _u24(body))


def server_hello(rnd, sid, key):
    """The TLS 1.3 ServerHello record answering ``client_hello`` (TLS_AES_128_GCM_SHA256)."""
    exts = _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d" + _u16(key))
    body = b"\x03\x03" + rnd + _u8(sid) + b"\x13\x01\x00" + _u16(exts)
    return b"\x16\x03\x03" + _u16(b"\x02" + _u24(body))


def app_data(payload):
    """An encrypted TLS 1.3 record (opaque_type application_data)."""
    return b"\x17\x03\x03" + _u16(payload)


CCS = b"\x14\x03\x03\x00\x01\x01"


def tls_flights(rng, variants=32):
    """``variants`` TLS 1.3 connections' messages: (ClientHello, the server's flight split in
    MSS segments, the client's CCS+Finished, a request record, a response record, the
    encrypted close_notify)."""
    from pcapgen import segments

    out = []
    for i in range(variants):
        sni = API_NAMES[i % len(API_NAMES)]
        sid = rng.randbytes(32)
        ch = client_hello(sni, rng.randbytes(32), sid, rng.randbytes(32))
        flight = (server_hello(rng.randbytes(32), sid, rng.randbytes(32)) + CCS
                  + app_data(rng.randbytes(rng.randint(2400, 4200))))
        out.append((ch, segments(flight), CCS + app_data(rng.randbytes(53)),
                    app_data(rng.randbytes(rng.randint(200, 600))),
                    app_data(rng.randbytes(rng.randint(300, 1400))),
                    app_data(rng.randbytes(19))))
    return out
