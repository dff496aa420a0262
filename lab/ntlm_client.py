#!/usr/bin/env python3
"""An NTLM-style client on one keep-alive connection (http.client, timeout 5):
ntlm_client.py HOST PORT. GET without credentials (401), then Authorization: NTLM <type 1> (401
with the type 2 challenge), then NTLM <type 3> (plausible tokens, no real crypto). Prints the
three statuses."""
import base64
import http.client
import os
import struct
import sys

host, port = sys.argv[1], int(sys.argv[2])
conn = http.client.HTTPConnection(host, port, timeout=5)
statuses = []


def get(auth=None):
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    conn.request("GET", "/reports/q3", headers=headers)
    r = conn.getresponse()
    r.read()
    statuses.append(r.status)
    return r


r = get()
assert "NTLM" in r.getheader("WWW-Authenticate", "") or "NTLM" in str(r.headers.get_all("WWW-Authenticate"))
t1 = b"NTLMSSP\x00" + struct.pack("<II", 1, 0xE2088297) + b"\x00" * 16 + b"\x0a\x00\x63\x45\x00\x00\x00\x0f"
r = get("NTLM " + base64.b64encode(t1).decode())
chal = [h for h in r.headers.get_all("WWW-Authenticate") if h.startswith("NTLM ")]
assert chal, "no type 2 challenge"
user, domain, ws = "alice".encode("utf-16-le"), "LAB".encode("utf-16-le"), "WS01".encode("utf-16-le")
t3 = (b"NTLMSSP\x00" + struct.pack("<I", 3) + b"\x00" * 56 + struct.pack("<I", 0xE2888215)
      + domain + user + ws + os.urandom(24) + os.urandom(24))
get("NTLM " + base64.b64encode(t3).decode())
conn.close()
print(" ".join(map(str, statuses)))
