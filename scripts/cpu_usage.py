#!/usr/bin/env python3
"""CPU time used by the benchmark's processes, for bench.sh.

    cpu_usage.py snapshot name=pid ...      prints a JSON object of CPU seconds so far
    cpu_usage.py diff BEFORE AFTER STARTED   the share of one core each used since STARTED (epoch s)

PostgreSQL and NATS are found by process name (every postgres backend counts), since
their work per message is as much a part of the cost as the services' own.
"""
import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 (1-based); after ")" the index is -3.
    return sum(int(x) for x in fields[11:15]) / TICKS


def by_name(name):
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == name or (name == "postgres" and comm.startswith("postgres")):
            total += cpu_seconds(entry)
    return total


def snapshot(args):
    out = {}
    for arg in args:
        name, pid = arg.split("=", 1)
        out[name] = cpu_seconds(pid)
    out["postgres"] = by_name("postgres")
    out["nats"] = by_name("nats-server")
    print(json.dumps(out))


def diff(before, after, started):
    a, b = json.loads(before), json.loads(after)
    seconds = time.time() - float(started)
    shares = {k: round((b[k] - a.get(k, 0.0)) / seconds, 3) for k in b}
    shares["total"] = round(sum(shares.values()), 3)
    shares["wall_s"] = round(seconds, 2)
    print(json.dumps(shares))


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        snapshot(sys.argv[2:])
    else:
        diff(*sys.argv[2:5])
