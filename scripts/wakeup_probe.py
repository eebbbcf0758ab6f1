#!/usr/bin/env python3
"""Round trip of one byte between two processes over pipes, on whichever cores the
scheduler picks: the cost of a cross-process wake-up on this machine.

Below saturation nearly every chat message pays a chain of such wake-ups (generator →
gateway → NATS → chat → PostgreSQL and back), so their price moves the open-loop latencies
and the CPU per message more than raw CPU speed does; on a virtual machine a wake-up on
the other core goes through the hypervisor and its price changes with the neighbours."""
import os
import time

ROUND_TRIPS = 20_000

to_child, from_parent = os.pipe()
to_parent, from_child = os.pipe()
if os.fork() == 0:
    for _ in range(ROUND_TRIPS):
        os.read(to_child, 1)
        os.write(from_child, b"x")
    os._exit(0)
started = time.perf_counter()
for _ in range(ROUND_TRIPS):
    os.write(from_parent, b"x")
    os.read(to_parent, 1)
elapsed = time.perf_counter() - started
os.wait()
print(f"wake-up round trip {elapsed / ROUND_TRIPS * 1e6:.1f} us")
