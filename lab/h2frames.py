#!/usr/bin/env python3
"""One line per HTTP/2 frame tshark dissects in a capture, for the lab's expected files.

    h2frames.py CAPTURE [TSHARK_OPTION...]

Runs `tshark -T json --no-duplicate-keys` (options such as `-d tcp.port==8081,http2` or
`-o tls.keylog_file:KEYS` are passed through) and prints, tab-separated, per HTTP/2 frame:

    frame  tcp.stream  srcport  dstport  h2_stream  type  flags  error  last_stream_id
    :status  grpc-status  :path

`frame` is the packet tshark shows the HTTP/2 frame in (the segment that completes it), `type`
the frame type number (0 DATA, 1 HEADERS, 3 RST_STREAM, 4 SETTINGS, 7 GOAWAY, 8 WINDOW_UPDATE),
`flags` the flags byte as a decimal number, `error` the RST_STREAM or GOAWAY error code, and the
three header columns are the decoded header values of a HEADERS frame ('-' when absent). Every
value comes from tshark's dissection; nothing here parses HTTP/2 itself.
"""
import json
import subprocess
import sys


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def headers(frame):
    out = {}
    for h in as_list(frame.get("http2.header")):
        name = h.get("http2.header.name")
        if isinstance(name, list):
            name = name[0]
        value = h.get("http2.header.value", "")
        if isinstance(value, list):
            value = value[0]
        if name is not None and name not in out:
            out[name] = value
    return out


def main():
    cap, opts = sys.argv[1], sys.argv[2:]
    # tshark's "Running as user root" notice goes to stderr and is dropped.
    out = subprocess.run(
        ["tshark", "-r", cap, *opts, "-Y", "http2", "-T", "json", "--no-duplicate-keys"],
        check=True, capture_output=True, text=True).stdout
    for pkt in json.loads(out or "[]"):
        layers = pkt["_source"]["layers"]
        num = as_list(layers["frame"]["frame.number"])[0]
        tcp = layers.get("tcp", {})
        if isinstance(tcp, list):
            tcp = tcp[0]
        stream = as_list(tcp.get("tcp.stream"))[0]
        sport = as_list(tcp.get("tcp.srcport"))[0]
        dport = as_list(tcp.get("tcp.dstport"))[0]
        for layer in as_list(layers.get("http2")):
            for f in as_list(layer.get("http2.stream")):
                if "http2.type" not in f:
                    continue  # the connection preface (http2.magic)
                ftype = as_list(f["http2.type"])[0]
                err = f.get("http2.rst_stream.error", f.get("http2.goaway.error", "-"))
                last = f.get("http2.goaway.last_stream_id", "-")
                h = headers(f)
                print("\t".join(str(x) for x in (
                    num, stream, sport, dport, as_list(f["http2.streamid"])[0], ftype,
                    int(as_list(f["http2.flags"])[0], 16), as_list(err)[0], as_list(last)[0],
                    h.get(":status", "-"), h.get("grpc-status", "-"),
                    h.get(":path", "-").replace("\t", " ") or "-")))


if __name__ == "__main__":
    main()
