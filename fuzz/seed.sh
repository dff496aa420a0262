#!/usr/bin/env bash
# Builds the fuzz targets' seed directories, fuzz/corpus/<target>/, from the third-party capture
# corpus, at run time (the corpus is never copied into the repository; fuzz/corpus/ is ignored):
#   capture_reader  whole capture files (<= 1 MiB), and a few of the small ones gzip-compressed
#   decode          the first frames of every capture, one frame per seed
#   tls, http       TCP streams sniffed as TLS / HTTP/1.x: segment byte, client length, client
#                   bytes, server bytes (the layout of fuzz_targets/common/mod.rs split_streams)
#   http2           TCP streams that open with the HTTP/2 preface (h2c), same layout without the
#                   preface (the target puts it back); from the corpus and the lab's h2c captures
#   dns             DNS over UDP (a query and its answer) and over TCP (both streams), same layout
#   said            error bodies in each shape app::said reads (problem+json, Google/Azure, OAuth,
#                   APIG, AWS, GraphQL, proxy pages, text), plain and gzip/deflate-compressed (br and
#                   zstd too when python3's brotli module / the zstd tool are there), whole and cut;
#                   made here, not taken from the corpus
# Usage: fuzz/seed.sh [CORPUS_DIR]   (default: $FAULTLINE_CORPUS, else ../shared/corpus beside
# the repository). Needs tshark and python3.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-${FAULTLINE_CORPUS:-$here/../../shared/corpus}}
[ -d "$corpus" ] || { echo "seed.sh: corpus directory not found: $corpus" >&2; exit 1; }
command -v tshark >/dev/null || { echo "seed.sh: tshark is needed" >&2; exit 1; }

out="$here/corpus"
rm -rf "$out"
mkdir -p "$out"/{capture_reader,decode,tcp_reassembly,tls,http,http2,dns,said}

python3 - "$corpus" "$out" "$here/../captures" <<'PY'
import gzip, hashlib, os, shutil, struct, subprocess, sys
from collections import defaultdict

corpus, out, lab = sys.argv[1], sys.argv[2], sys.argv[3]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_CAPTURE = 1 << 20
MAX_DIRECTION = 32 << 10
FRAMES_PER_CAPTURE = 16

def save(target, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

def captures():
    # The lab's h2c captures (HTTP/2 in clear is rare in the corpus); names only, never copied.
    if os.path.isdir(lab):
        for name in sorted(os.listdir(lab)):
            if name.startswith(("h2", "grpc-", "healthy-h2")) and name.endswith((".pcap", ".pcapng")):
                yield os.path.join(lab, name)
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.endswith(".oracle"))
        for name in sorted(files):
            if name.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz")):
                yield os.path.join(root, name)

def frames(data):
    """The packet records of a pcap or pcapng file (enough of both formats for seeds)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        at = 24
        while at + 16 <= len(data):
            incl = struct.unpack(e + "I", data[at + 8:at + 12])[0]
            yield data[at + 16:at + 16 + incl]
            at += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a" and len(data) >= 12:
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        at = 0
        while at + 12 <= len(data):
            kind, length = struct.unpack(e + "II", data[at:at + 8])
            if length < 12:
                break
            if kind == 6:  # enhanced packet block
                incl = struct.unpack(e + "I", data[at + 20:at + 24])[0]
                yield data[at + 28:at + 28 + incl]
            elif kind == 3:  # simple packet block
                yield data[at + 12:at + length - 4]
            at += length

def tshark(path, *args):
    run = subprocess.run(["tshark", "-n", "-r", path, *args], capture_output=True, text=True)
    return [line.split("\t") for line in run.stdout.splitlines() if line]

def unhex(field):
    return bytes.fromhex(field.split(",")[0].replace(":", ""))

def stream_seed(client, server, segment=0):
    client, server = client[:MAX_DIRECTION], server[:MAX_DIRECTION]
    return bytes([segment]) + struct.pack(">H", len(client)) + client + server

METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ")
counts = defaultdict(int)
small = []
for path in captures():
    data = open(path, "rb").read()
    if len(data) <= MAX_CAPTURE:
        save("capture_reader", data)
        counts["capture_reader"] += 1
        if len(data) <= 64 << 10 and not path.endswith(".gz"):
            small.append(data)
    for i, frame in enumerate(frames(data)):
        if i == FRAMES_PER_CAPTURE:
            break
        save("decode", frame)
        counts["decode"] += 1
    # TCP streams: the first sender of payload is the client.
    streams = {}
    for fields in tshark(path, "-Y", "tcp.len>0", "-T", "fields", "-e", "tcp.stream",
                         "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.payload"):
        if len(fields) < 4 or not fields[3]:
            continue
        stream, sport = fields[0], fields[1]
        entry = streams.setdefault(stream, {"client": sport, "ports": fields[1:3], "c": b"", "s": b""})
        side = "c" if sport == entry["client"] else "s"
        if len(entry[side]) < MAX_DIRECTION:
            entry[side] += unhex(fields[3])
    for entry in streams.values():
        c, s = entry["c"], entry["s"]
        if "53" in entry["ports"]:
            target = "dns"
        elif c[:1] == b"\x16" or s[:1] in (b"\x15", b"\x16"):
            target = "tls"
        elif c.startswith(PREFACE):
            target = "http2"
            c = c[len(PREFACE):]
        elif c.startswith(METHODS) or s.startswith(b"HTTP/1."):
            target = "http"
        else:
            continue
        save(target, stream_seed(c, s))
        save(target, stream_seed(c, s, segment=7))  # small segments: parsers see split messages
        counts[target] += 2
    # DNS over UDP: each query with its answer (same id), or alone.
    pending = {}
    for fields in tshark(path, "-Y", "dns && udp", "-T", "fields", "-e", "udp.dstport",
                         "-e", "dns.id", "-e", "udp.payload"):
        if len(fields) < 3 or not fields[2]:
            continue
        payload = unhex(fields[2])
        if fields[0] == "53":
            pending[fields[1]] = payload
        else:
            save("dns", stream_seed(pending.pop(fields[1], b""), payload))
            counts["dns"] += 1
    for query in pending.values():
        save("dns", stream_seed(query, b""))
        counts["dns"] += 1

# gzip: the reader must take a compressed capture (and a cut one) like a plain one.
for data in small[:8]:
    packed = gzip.compress(data, mtime=0)
    save("capture_reader", packed)
    save("capture_reader", packed[: len(packed) * 3 // 5])
    counts["capture_reader"] += 2
# tcp_reassembly: the TLS and HTTP streams as records of that target (fuzz_targets/
# tcp_reassembly.rs): handshake, data in order / retransmitted / swapped in pairs, FIN.
def records(client, server, variant):
    isn = [1000, 5000]
    nxt = list(isn)
    out = bytearray(struct.pack(">II", *isn))
    def send(side, flags, seq, payload=b""):
        off = (seq - nxt[side] + (1 << 31)) % (1 << 32) - (1 << 31)
        ack_off = 0
        out.extend(bytes([side, flags]) + struct.pack(">hh", off, ack_off)
                   + bytes([255, len(payload), 1, 0]) + payload)
        if off >= 0:
            nxt[side] = (seq + len(payload) + (1 if flags & 3 else 0)) % (1 << 32)
    send(0, 0x02, isn[0])
    send(1, 0x12, isn[1])
    send(0, 0x10, isn[0] + 1)
    for side, data in ((0, client[:2048]), (1, server[:2048])):
        base = isn[side] + 1
        chunks = [(base + i, data[i:i + 200]) for i in range(0, len(data), 200)]
        if variant == 1:
            chunks = [c for i, c in enumerate(chunks) for c in ([c, c] if i % 3 == 0 else [c])]
        elif variant == 2:
            for i in range(0, len(chunks) - 1, 2):
                chunks[i], chunks[i + 1] = chunks[i + 1], chunks[i]
        for seq, payload in chunks:
            send(side, 0x18, seq, payload)
        isn[side] = base + len(data) - 1
    send(0, 0x11, isn[0] + 1)
    send(1, 0x11, isn[1] + 1)
    send(0, 0x10, isn[0] + 2)
    return bytes(out)

for target in ("tls", "http"):
    for name in sorted(os.listdir(os.path.join(out, target)))[:32]:
        data = open(os.path.join(out, target, name), "rb").read()
        n = struct.unpack(">H", data[1:3])[0]
        for variant in range(3):
            save("tcp_reassembly", records(data[3:3 + n], data[3 + n:], variant))
            counts["tcp_reassembly"] += 1
# said: byte 0 the encoding (index in fuzz_targets/said.rs ENCODINGS), byte 1 the content type
# (TYPES), byte 2 the flags, then the body.
import zlib
BODIES = [
    (2, b'{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc","balance":30,"errors":[{"detail":"must be positive","pointer":"#/age"}]}'),
    (1, b'{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com"}]}}'),
    (1, b'{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired.","innererror":{"code":"ExpiredToken"}}}'),
    (1, b'{"error":"invalid_grant","error_description":"The refresh token has expired","error_uri":"https://auth.example.com/e"}'),
    (1, b'{"error_msg":"No API found in group","error_code":"APIG.0101","request_id":"req-1"}'),
    (1, b'{"code":42901,"message":"Too many requests"}'),
    (1, b'{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"not authorized","api_key":"abc"}'),
    (5, b'{"errors":[{"message":"Cannot query field","locations":[{"line":1,"column":2}],"path":["a",1],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}],"data":null}'),
    (1, b'{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}'),
    (3, b'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n'),
    (3, b'<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n'),
    (4, b'upstream connect error or disconnect/reset before headers. reset reason: connection failure'),
    (3, b'<html><head><title>Error 522</title></head><body><div id="cf-wrapper"><span class="cf-error-code">522</span> cloudflare</div></body></html>'),
    (6, b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>'),
]
def said_seed(encoding, content_type, flags, body):
    save("said", bytes([encoding, content_type, flags]) + body)
    counts["said"] += 1
def raw_deflate(body):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(body) + c.flush()
try:
    import brotli
except ImportError:
    brotli = None
for content_type, body in BODIES:
    said_seed(0, content_type, 0, body)
    said_seed(0, content_type, 1, body[: len(body) * 2 // 3])
    said_seed(1, content_type, 0, gzip.compress(body))
    said_seed(1, content_type, 1, gzip.compress(body)[:-12])
    said_seed(2, content_type, 0, zlib.compress(body))
    said_seed(2, content_type, 0, raw_deflate(body))
    if brotli is not None:
        said_seed(3, content_type, 0, brotli.compress(body))
    zstd = subprocess.run(["zstd", "-q", "-c"], input=body, capture_output=True) if shutil.which("zstd") else None
    if zstd is not None and zstd.returncode == 0:
        said_seed(4, content_type, 0, zstd.stdout)
        said_seed(4, content_type, 2, zstd.stdout[:-6])
for target in sorted(counts):
    print(f"{target}: {len(os.listdir(os.path.join(out, target)))} seeds")
PY
