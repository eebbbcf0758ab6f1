"""Prints the benchmark table from the JSON lines scripts/bench.sh collected, next to the
figures the replaced Node.js/Socket.IO server reached in the same scenarios on this kind of
machine (as measured for the issue that set the targets)."""
import json
import sys

path, machine, mode = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(line) for line in open(path) if line.strip()]


def lat(x, key="p99"):
    return f"{x[key]:.2f} ms"


print()
print(f"Switchboard benchmark ({'smoke run' if mode == '--smoke' else 'full run'})")
print(f"machine: {machine}")
print()
print(f"| scenario | result | Node/Socket.IO 4.7 + pg | target |")
print(f"|---|---|---|---|")
for r in rows:
    s = r["scenario"]
    if s == "idle_same_user":
        per = r["rss_per_connection_kib"]
        per = f"{per:.2f} KiB/conn" if per is not None else "n/a"
        print(f"| idle, {r['connections']} conns of one user on one replica | {per}, {r['failed']} failed, "
              f"connect p99 {lat(r['connect_ms'])} | – | (diagnostic: the per-connection share) |")
    if s == "idle":
        per = r["rss_per_connection_kib"]
        per = f"{per:.2f} KiB/conn" if per is not None else "n/a"
        print(f"| idle, {r['connections']} conns on one replica at {r['connect_rate']:.0f}/s "
              f"| {per}, {r['failed']} failed, connect p99 {lat(r['connect_ms'])} "
              f"| 12–15 KiB | ≤ 5 KiB, 0 failures, p99 ≤ 20 ms |")
    elif s == "chat":
        print(f"| open loop {r['target_rate']:.0f} msg/s ({r['pairs']} pairs) "
              f"| {r['achieved_rate']:.0f} msg/s; ack p50/p99/p99.9/max {r['ack_ms']['p50']:.2f}/"
              f"{r['ack_ms']['p99']:.2f}/{r['ack_ms']['p999']:.2f}/{r['ack_ms']['max']:.1f} ms; delivery p99 "
              f"{lat(r['delivery_ms'])}; lost {r['acked_not_delivered']}, errors {r['errors']} "
              f"| {'p99 19–24 ms' if r['target_rate'] <= 2000 else 'p99 59–323 ms' if r['target_rate'] <= 4000 else 'overloaded, p99 16–19 s'} "
              f"| {'p99 ≤ 5 ms' if r['target_rate'] <= 2000 else 'p99 ≤ 10 ms' if r['target_rate'] <= 4000 else 'p99 ≤ 25 ms'} |")
    elif s == "saturate":
        print(f"| saturation, {r['pairs']} pairs, window {r['window']} "
              f"| {r['achieved_rate']:.0f} msg/s persisted+delivered; ack p50 {lat(r['ack_ms'], 'p50')}; "
              f"lost {r['acked_not_delivered']} | 4,900–5,000 msg/s, ack p50 ~400 ms | ≥ 20,000 msg/s, 0 lost |")
    elif s == "presence":
        print(f"| presence storm, {r['users']} users at {r['rate']:.0f}/s "
              f"| {r['failed']} failed, connect p99 {lat(r['connect_ms'])}; {r['online_events']} online events, "
              f"{r['pairs_announced']}/{r['contact_pairs']} contact pairs announced, "
              f"{r['to_non_contacts']} to non-contacts, {r['duplicates']} duplicates "
              f"| 15–20 % failed, connect p50 ~20 s | 0 failures, p99 ≤ 50 ms, exact |")
print()
print("CPU while each scenario ran, in cores (2 = both cores busy); 'load' is the generator,")
print("'postgres' and 'nats' every process of the machine's servers:")
print()
procs = ["load", "gw1", "gw2", "chat", "presence", "nats", "postgres", "total"]
print("| scenario | " + " | ".join(procs) + " | µs of CPU per delivered message |")
print("|---|" + "---|" * (len(procs) + 1))
for r in rows:
    cpu = r.get("cpu_cores")
    if not cpu:
        continue
    name = r["scenario"] + (f" {r['target_rate']:.0f}/s" if r.get("target_rate") else "")
    delivered = r.get("delivered")
    per = f"{cpu['total'] * cpu['wall_s'] / delivered * 1e6:.0f}" if delivered else "–"
    print(f"| {name} | " + " | ".join(f"{cpu.get(p, 0):.2f}" for p in procs) + f" | {per} |")
print()
print(f"raw results: {path}")
