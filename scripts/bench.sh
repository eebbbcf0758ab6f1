#!/usr/bin/env bash
# The load benchmark: starts the stack in release mode (chat, presence, two gateway
# replicas, on the local PostgreSQL and NATS, in a fresh database), runs the scenarios of
# tools/loadtest and prints a table; the raw results go to target/bench/results.json.
#
#   scripts/bench.sh            full run (several minutes)
#   scripts/bench.sh --smoke    a few seconds at tiny sizes: checks the tool works
#   BENCH_ONLY="idle chat"      run only some of: idle idle_same_user chat saturate presence
#   PROFILE=debug               use the debug build (the CI smoke run)
#   BENCH_BIN_DIR=dir           use the binaries in dir instead of building (A/B runs)
#
# It measures; it never passes or fails on a number. Everything shares this machine's
# cores: the services, PostgreSQL, NATS and the load generator.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-full}

export JWT_SECRET="bench-secret-0123456789abcdef"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
export NATS_SUBJECT_PREFIX="bench$$"
export RATE_LIMIT_PER_USER=0 TYPING_RATE_LIMIT=0
export RUST_LOG=warn
db_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db_name="switchboard_bench"
export DATABASE_URL="${db_admin%/*}/$db_name"
out="$root/target/bench"
mkdir -p "$out"

scripts/ensure-services.sh
profile=${PROFILE:-release}   # the smoke run in scripts/test.sh uses PROFILE=debug
if [ -n "${BENCH_BIN_DIR:-}" ]; then
  bin=$BENCH_BIN_DIR   # binaries built elsewhere (an A/B against another commit's build)
else
  if [ "$profile" = release ]; then cargo build --release --locked --bins -q; else cargo build --locked --bins -q; fi
  bin="${CARGO_TARGET_DIR:-$root/target}/$profile"
fi

# A benchmark still running (or its leftovers) would answer on these ports instead.
# The benchmark's own ports (apart from the tests' and scripts/dev.sh's).
chat_grpc=51051 chat_http=9201 presence_grpc=51052 presence_http=9202 gw1_port=9281 gw2_port=9282
for port in $chat_grpc $chat_http $presence_grpc $presence_http $gw1_port $gw2_port; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use: another benchmark is running (or left processes behind)" >&2
    exit 1
  fi
done
# Probes, before and after the run: a fixed CPU loop, a cross-process wake-up round trip and
# the disk's flush latency. This machine's speed changes with its neighbours; runs are only
# comparable at similar probes.
# The CPU loop's time depends on the interpreter as much as on the machine (one machine ran
# it in 180 ms with Debian's Python 3.11.2 and 320 ms with a locally built 3.11.7 in the
# same minute), so its version is printed with it.
cpu_probe() { python3 -c 'import platform, time; t = time.perf_counter(); sum(range(20_000_000)); print(f"{(time.perf_counter() - t) * 1000:.0f} ms (Python {platform.python_version()})")'; }
probes() { echo "$(cpu_probe), $(python3 scripts/wakeup_probe.py), $(python3 scripts/fsync_probe.py "$out" 2)"; }
probe_before=$(probes)
psql "$db_admin" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" -c "CREATE DATABASE $db_name"

pids=()
cleanup() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$db_admin" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup INT TERM EXIT

# Each process may hold at most 20,000 files here; ask for all of it.
ulimit -n "$(ulimit -Hn)"

start() { # name, then the command
  local name=$1; shift
  # SERVICE_WORKER_THREADS=N: each service's runtime gets N worker threads (tokio's own
  # TOKIO_WORKER_THREADS; the default is one per core). The generator keeps the default.
  if [ -n "${SERVICE_WORKER_THREADS:-}" ]; then set -- env TOKIO_WORKER_THREADS="$SERVICE_WORKER_THREADS" "$@"; fi
  "$@" >"$out/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
}
wait_ready() {
  for _ in $(seq 1 150); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "not ready: $1" >&2; exit 1
}

CHAT_GRPC_ADDR=127.0.0.1:$chat_grpc CHAT_HTTP_ADDR=127.0.0.1:$chat_http CHAT_DB_MAX_CONNECTIONS=8 \
  start chat "$bin/switchboard-chat"
wait_ready http://127.0.0.1:$chat_http/readyz
PRESENCE_GRPC_ADDR=127.0.0.1:$presence_grpc PRESENCE_HTTP_ADDR=127.0.0.1:$presence_http \
  start presence "$bin/switchboard-presence"
wait_ready http://127.0.0.1:$presence_http/readyz
GATEWAY_ADDR=127.0.0.1:$gw1_port GATEWAY_ID=bench1 start gw1 "$bin/switchboard-gateway"
GATEWAY_ADDR=127.0.0.1:$gw2_port GATEWAY_ID=bench2 start gw2 "$bin/switchboard-gateway"
gw1_url=ws://127.0.0.1:$gw1_port/ws gw2_url=ws://127.0.0.1:$gw2_port/ws
wait_ready http://127.0.0.1:$gw1_port/readyz
wait_ready http://127.0.0.1:$gw2_port/readyz
urls="$gw1_url,$gw2_url"
load="$bin/switchboard-load"

if [ "$mode" = "--smoke" ]; then
  idle_n=200; chat_rates="200"; chat_secs=2; sat_secs=2; pairs=20; storm_n=200; storm_rate=200
else
  idle_n=${IDLE_CONNECTIONS:-19000}; chat_rates=${CHAT_RATES:-"2000 4000 8000"}; chat_secs=${CHAT_SECONDS:-20}
  sat_secs=${SATURATE_SECONDS:-20}; pairs=500; storm_n=${STORM_USERS:-18000}; storm_rate=1000
fi

# Seeded users for the presence storm: a ring where each user has 5 contacts either side.
psql "$DATABASE_URL" -q <<SQL
INSERT INTO users (id, role)
SELECT ('b0000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'applicant'
FROM generate_series(0, $storm_n - 1) AS i;
INSERT INTO contacts (user_id, contact_id)
SELECT ('b0000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('b0000000-0000-7000-8000-' || lpad(to_hex((i + d + $storm_n) % $storm_n), 12, '0'))::uuid
FROM generate_series(0, $storm_n - 1) AS i, generate_series(-5, 5) AS d
WHERE d <> 0
ON CONFLICT DO NOTHING;
-- Planner statistics and the visibility map, as a database that grew normally has; left to
-- autovacuum, that work would land in the middle of the first scenario.
VACUUM ANALYZE;
SQL

results="$out/results.json"
: >"$results"
# Each result gets the CPU each process used while it ran (the share of one core, over the
# scenario's wall time; "load" is the generator itself): where the two cores went.
cpu_snapshot() { python3 scripts/cpu_usage.py snapshot load=$$ chat="$pid_chat" presence="$pid_presence" gw1="$pid_gw1" gw2="$pid_gw2"; }
run() {
  local before after started line
  before=$(cpu_snapshot); started=$(date +%s.%N)
  line=$("$load" "$@")
  after=$(cpu_snapshot)
  python3 - "$line" "$(python3 scripts/cpu_usage.py diff "$before" "$after" "$started")" <<'PY' | tee -a "$results"
import json, sys
result = json.loads(sys.argv[1]); result["cpu_cores"] = json.loads(sys.argv[2]); print(json.dumps(result))
PY
}

only=${BENCH_ONLY:-idle chat saturate presence}
want() { case " $only " in *" $1 "*) return 0;; *) return 1;; esac; }
if want idle; then
  echo "== idle: $idle_n connections on one replica at 1000/s" >&2
  run idle --url "$gw1_url" --connections "$idle_n" --rate 1000 --hold 2 --measure-pid "$pid_gw1"
fi
if want idle_same_user; then
  echo "== idle, one user: $idle_n connections of one user on the other replica" >&2
  run idle --url "$gw2_url" --connections "$idle_n" --rate 1000 --hold 2 --measure-pid "$pid_gw2" --same-user
fi
# Closing thousands of idle connections keeps presence and PostgreSQL busy for a while;
# the next scenario should not measure that.
if want idle || want idle_same_user; then [ "$mode" = "--smoke" ] || sleep 15; fi
want chat || chat_rates=""
for rate in $chat_rates; do
  echo "== chat: open loop at $rate msg/s, $pairs pairs, ${chat_secs}s" >&2
  run chat --urls "$urls" --pairs "$pairs" --rate "$rate" --duration "$chat_secs"
done
if want saturate; then
  echo "== saturation: $pairs pairs, window 4, ${sat_secs}s" >&2
  run saturate --urls "$urls" --pairs "$pairs" --window 4 --duration "$sat_secs"
fi
if want presence; then
  echo "== presence storm: $storm_n users at $storm_rate/s across both replicas" >&2
  run presence --urls "$urls" --users "$storm_n" --rate "$storm_rate"
fi

machine=$(printf '%s cores, %s RAM, %s; %s; PostgreSQL %s; NATS %s; probes (a fixed CPU loop; a cross-process wake-up; the disk flush) %s before, %s after' "$(nproc)" \
  "$(free -h | awk '/^Mem:/ {print $2}')" "$(uname -sr)" "$(rustc --version)" \
  "$(psql "$db_admin" -Atc 'SHOW server_version')" "$(nats-server --version 2>/dev/null || /usr/sbin/nats-server --version)" \
  "$probe_before" "$(probes)")
python3 scripts/bench_table.py "$results" "$machine" "$mode"
