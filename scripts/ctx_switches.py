#!/usr/bin/env python3
"""Context switches and CPU per thread of the benchmark's processes over a window.

    ctx_switches.py SECONDS RATE

Run it while a `scripts/bench.sh` scenario sends RATE messages per second (e.g. `sleep 7;
ctx_switches.py 6 2000` beside `BENCH_ONLY=chat CHAT_RATES=2000 scripts/bench.sh`). For each
thread of the switchboard processes, each PostgreSQL process and the NATS server it prints
voluntary (the thread slept: a wake-up follows) and involuntary (preempted) switches per
message, and the share of one core used. On this virtual machine a wake-up on the other
core is a round trip through the hypervisor, so switches per message are what moderate
rates pay for.
"""
import os
import sys
import time


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def threads():
    """(label) -> [voluntary, involuntary, cpu ticks]."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        comm = (read(f"/proc/{pid}/comm") or "").strip()
        if comm.startswith("postgres"):
            title = (read(f"/proc/{pid}/cmdline") or "").replace("\0", " ").strip()
            label, per_thread = f"{title[:48]} [{pid}]", False
        elif comm == "nats-server":
            label, per_thread = "nats-server", False
        elif comm.startswith("switchboard"):
            label, per_thread = f"{comm} [{pid}]", True
        else:
            continue
        for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
            status = read(f"/proc/{pid}/task/{tid}/status")
            stat = read(f"/proc/{pid}/task/{tid}/stat")
            if status is None or stat is None:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            ticks = stat.rsplit(")", 1)[1].split()
            key = label
            if per_thread:
                name = (read(f"/proc/{pid}/task/{tid}/comm") or "").strip()
                key = f"{label} {name}/{tid}"
            row = out.setdefault(key, [0, 0, 0])
            row[0] += int(fields["voluntary_ctxt_switches"])
            row[1] += int(fields["nonvoluntary_ctxt_switches"])
            row[2] += int(ticks[11]) + int(ticks[12])
    return out


def main():
    seconds, rate = float(sys.argv[1]), float(sys.argv[2])
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    before, started = threads(), time.time()
    time.sleep(seconds)
    after, elapsed = threads(), time.time() - started
    messages = rate * elapsed
    print(f"{'thread':64} {'vol/msg':>8} {'invol/msg':>9} {'cores':>6}")
    for key in sorted(after):
        if key not in before:
            continue
        v, n, c = (a - b for a, b in zip(after[key], before[key]))
        if v + n == 0:
            continue
        print(f"{key:64} {v / messages:8.2f} {n / messages:9.2f} {c / ticks_per_s / elapsed:6.3f}")


if __name__ == "__main__":
    main()
