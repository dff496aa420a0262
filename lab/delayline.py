#!/usr/bin/env python3
"""A userspace delay line on a TUN device: every packet the kernel routes into the device comes
back out of it DELAY_MS later, in order, and the kernel forwards it on. The lab routes the
router's transit traffic through it (policy routing on the input interface), which gives the path
a WAN-like round-trip time without `tc netem`.

Usage: delayline.py IFNAME DELAY_MS MAX_SECONDS
Creates the TUN device IFNAME (the caller configures it), then runs for at most MAX_SECONDS.
Bounded: at most QUEUE_CAP packets wait at once; more are dropped (and counted on exit).
"""

import collections
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
QUEUE_CAP = 20000


def main() -> int:
    ifname, delay_ms, max_seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    delay = delay_ms / 1000.0
    deadline = time.monotonic() + max_seconds
    queue: collections.deque = collections.deque()
    forwarded = dropped = 0
    while not stop and time.monotonic() < deadline:
        now = time.monotonic()
        timeout = min(0.5, max(0.0, queue[0][0] - now)) if queue else 0.5
        readable, _, _ = select.select([fd], [], [], timeout)
        if readable:
            for _ in range(256):
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if len(queue) >= QUEUE_CAP:
                    dropped += 1
                    continue
                queue.append((time.monotonic() + delay, packet))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, packet = queue.popleft()
            try:
                os.write(fd, packet)
                forwarded += 1
            except OSError:
                dropped += 1
    print(f"delayline {ifname}: forwarded {forwarded}, dropped {dropped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
