#!/usr/bin/env python3
"""Checks with tshark that every call in a healthy capture succeeded, and counts the calls.

Usage: healthy_check.py CAPTURE [KEYLOG|-] [TSHARK_OPTION...]
KEYLOG (an SSLKEYLOGFILE the clients wrote) lets tshark decrypt TLS, so HTTP inside it is seen.
Per TCP stream: every HTTP/1.x request has a response and every HTTP/2 HEADERS request a :status
answer; every status is 1xx-3xx; no request follows a FIN from the server; an RST is allowed only
after a FIN in the same stream (the kernel's answer to data or a close arriving at a socket that
was closed: part of a normal close). In the whole capture: no retransmission, lost segment,
duplicate ACK or ICMP error; every DNS query is answered without error (NODATA is fine). Prints
"CALLS N" (HTTP exchanges) and "STREAMS N", or the problems, and exits 1 on any problem.
"""

import collections
import subprocess
import sys

FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.fin", "tcp.flags.reset", "http.request.method",
          "http.response.code", "http2.headers.method", "http2.headers.status"]


EXTRA: list[str] = []


def tshark(cap: str, keylog: str | None, *args: str) -> list[str]:
    cmd = ["tshark", "-r", cap, "-n", *EXTRA]
    if keylog:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    out = subprocess.run(cmd + list(args), check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def main() -> int:
    cap = sys.argv[1]
    keylog = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    EXTRA.extend(sys.argv[3:])  # e.g. -d tcp.port==8081,http2 for h2c
    problems = []
    bad = tshark(cap, keylog, "-Y", "tcp.analysis.retransmission || tcp.analysis.lost_segment || "
                 "tcp.analysis.duplicate_ack || tcp.analysis.ack_lost_segment || icmp || "
                 "icmpv6.type < 128", "-T", "fields", "-e", "frame.number")
    if bad:
        problems.append(f"retransmission/loss/ICMP error in frames {bad[:20]}")
    dns_bad = tshark(cap, keylog, "-Y", "dns.flags.response == 1 && dns.flags.rcode != 0",
                     "-T", "fields", "-e", "frame.number")
    if dns_bad:
        problems.append(f"DNS error answers in frames {dns_bad}")
    q = len(tshark(cap, keylog, "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "dns.id"))
    a = len(tshark(cap, keylog, "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "dns.id"))
    if q != a:
        problems.append(f"{q} DNS queries but {a} answers")

    rows = tshark(cap, keylog, "-Y", "tcp", "-T", "fields", "-E", "occurrence=a",
                  "-E", "aggregator=,", *sum((["-e", f] for f in FIELDS), []))
    streams = collections.defaultdict(lambda: {"client": None, "req": 0, "resp": 0,
                                               "fin": set(), "codes": []})
    calls = 0
    for row in rows:
        v = dict(zip(FIELDS, row.split("\t") + [""] * len(FIELDS)))
        s = streams[v["tcp.stream"]]
        src = (v["ip.src"] or v["ipv6.src"], v["tcp.srcport"])
        if v["tcp.flags.syn"] in ("1", "True") and s["client"] is None:
            s["client"] = src
        side = "client" if src == s["client"] else "server"
        reqs = [m for m in (v["http.request.method"] + "," + v["http2.headers.method"]).split(",") if m]
        codes = [c for c in (v["http.response.code"] + "," + v["http2.headers.status"]).split(",") if c]
        if reqs and "server" in s["fin"]:
            problems.append(f"stream {v['tcp.stream']}: request in frame {v['frame.number']} after the server's FIN")
        s["req"] += len(reqs)
        s["resp"] += len(codes)
        s["codes"] += codes
        calls += len(reqs)
        if v["tcp.flags.reset"] in ("1", "True") and not s["fin"]:
            problems.append(f"stream {v['tcp.stream']}: RST in frame {v['frame.number']} before any FIN")
        if v["tcp.flags.fin"] in ("1", "True"):
            s["fin"].add(side)
    for sid, s in streams.items():
        if s["client"] is None:
            problems.append(f"stream {sid}: no SYN (the capture missed its start)")
        if s["req"] != s["resp"]:
            problems.append(f"stream {sid}: {s['req']} requests, {s['resp']} responses")
        for c in s["codes"]:
            if not 100 <= int(c) < 400:
                problems.append(f"stream {sid}: status {c}")
        if not s["fin"]:
            problems.append(f"stream {sid}: never closed")
    print(f"CALLS {calls}")
    print(f"STREAMS {len(streams)}")
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
