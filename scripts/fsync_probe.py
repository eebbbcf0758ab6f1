#!/usr/bin/env python3
"""8 KiB write + fdatasync for a second or two, like a WAL flush: prints p50/p99/max.

PostgreSQL acks a commit only after such a flush, so this disk's flush latency at the
moment of a benchmark bounds the open-loop latencies and the saturated commit rate; on a
shared virtual disk it changes with the neighbours."""
import os
import sys
import time

path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", ".fsync_probe")
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
block = b"\0" * 8192
latencies = []
try:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.pwrite(fd, block, (len(latencies) % 128) * 8192)
        t = time.perf_counter()
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - t)
finally:
    os.close(fd)
    os.unlink(path)
latencies.sort()
n = len(latencies)
ms = lambda q: latencies[min(n - 1, int(n * q))] * 1000
print(f"fsync p50/p99/max {ms(0.5):.2f}/{ms(0.99):.2f}/{latencies[-1] * 1000:.1f} ms")
