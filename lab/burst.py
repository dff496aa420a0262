#!/usr/bin/env python3
"""A connect burst: burst.py HOST PORT COUNT GAP_SECONDS. Starts COUNT threads GAP_SECONDS apart,
each one GET with http.client (timeout 10 s) on its own connection; prints one line per call:
its index, the status (or the exception's class name) and the seconds it took."""
import http.client
import sys
import threading
import time

host, port, count, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
results = [None] * count

def call(i):
    t0 = time.monotonic()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/v1/item/%d" % i)
        r = conn.getresponse()
        r.read()
        res = r.status
        conn.close()
    except OSError as e:
        res = type(e).__name__
    results[i] = "%d %s %.2f" % (i, res, time.monotonic() - t0)

threads = []
for i in range(count):
    t = threading.Thread(target=call, args=(i,))
    t.start()
    threads.append(t)
    time.sleep(gap)
for t in threads:
    t.join(15)
for r in results:
    print(r)
