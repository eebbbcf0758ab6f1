#!/usr/bin/env bash
# Runs the whole system locally (SPEC §7): PostgreSQL and NATS (the machine's, started or
# installed when missing), migrations and demo users, the chat, presence, meeting-link,
# notification and consultation services, a mail catcher with a web inbox (unless SMTP_URL
# is given), two gateway replicas and a load balancer in front of them on one port. Ctrl-C stops everything this
# script started, and nothing else.
#
# Every environment variable given to this script reaches every service it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export JWT_SECRET="${JWT_SECRET:-switchboard-dev-secret-change-me}"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchboard}"
export NATS_SUBJECT_PREFIX="${NATS_SUBJECT_PREFIX:-sb}"
LB_PORT="${LB_PORT:-8080}"
DEMO_PORT="${DEMO_PORT:-8090}"
GATEWAY1_PORT="${GATEWAY1_PORT:-8081}"
GATEWAY2_PORT="${GATEWAY2_PORT:-8082}"
export CHAT_GRPC_ADDR="${CHAT_GRPC_ADDR:-127.0.0.1:50051}"
export CHAT_HTTP_ADDR="${CHAT_HTTP_ADDR:-127.0.0.1:9101}"
export PRESENCE_GRPC_ADDR="${PRESENCE_GRPC_ADDR:-127.0.0.1:50052}"
export PRESENCE_HTTP_ADDR="${PRESENCE_HTTP_ADDR:-127.0.0.1:9102}"
export MEETING_GRPC_ADDR="${MEETING_GRPC_ADDR:-127.0.0.1:50053}"
export MEETING_HTTP_ADDR="${MEETING_HTTP_ADDR:-127.0.0.1:9103}"
export CONSULTATION_HTTP_ADDR="${CONSULTATION_HTTP_ADDR:-127.0.0.1:8085}"
export CONSULTATION_GRPC_ADDR="${CONSULTATION_GRPC_ADDR:-127.0.0.1:50055}"
export MEETING_SERVICE_URL="${MEETING_SERVICE_URL:-http://$MEETING_GRPC_ADDR}"
export NOTIFICATION_GRPC_ADDR="${NOTIFICATION_GRPC_ADDR:-127.0.0.1:50054}"
export NOTIFICATION_HTTP_ADDR="${NOTIFICATION_HTTP_ADDR:-127.0.0.1:9104}"
export APP_URL="${APP_URL:-http://127.0.0.1:${LB_PORT:-8080}}"
MAILCATCHER_SMTP_PORT="${MAILCATCHER_SMTP_PORT:-1025}"
MAILCATCHER_WEB_PORT="${MAILCATCHER_WEB_PORT:-1080}"
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$LB_PORT,http://127.0.0.1:$LB_PORT}"
PROFILE="${PROFILE:-debug}"   # PROFILE=release for an optimised build
run_dir="$root/.dev"
mkdir -p "$run_dir"

pids=()
cleanup() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "stopping ${#pids[@]} processes"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  exit 0
}
trap cleanup INT TERM EXIT

echo "== PostgreSQL and NATS"
scripts/ensure-services.sh
if ! command -v haproxy >/dev/null 2>&1; then
  echo "== installing haproxy (the local load balancer)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

db_name="${DATABASE_URL##*/}"
db_admin="${DATABASE_URL%/*}/postgres"
if ! psql "$db_admin" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  psql "$db_admin" -qc "CREATE DATABASE \"$db_name\""
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js (the demo page)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
echo "== building the demo page (client/)"
(cd client && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent >/dev/null)

echo "== building ($PROFILE)"
if [ "$PROFILE" = release ]; then cargo build --release --bins; else cargo build --bins; fi
bin="$root/target/$PROFILE"

start() { # name, then the command; logs go to .dev/<name>.log
  local name=$1; shift
  "$@" >"$run_dir/$name.log" 2>&1 &
  pids+=($!)
}

wait_ready() { # name, url
  for _ in $(seq 1 150); do
    if curl -fsS "$2" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not become ready; see $run_dir/$1.log" >&2
  tail -n 20 "$run_dir/$1.log" >&2
  exit 1
}

echo "== chat service (applies migrations)"
start chat "$bin/switchboard-chat"
wait_ready chat "http://$CHAT_HTTP_ADDR/readyz"
psql "$DATABASE_URL" -q -f scripts/seed.sql

echo "== presence service"
start presence "$bin/switchboard-presence"
wait_ready presence "http://$PRESENCE_HTTP_ADDR/readyz"

echo "== meeting-link and consultation services"
start meeting "$bin/switchboard-meeting"
wait_ready meeting "http://$MEETING_HTTP_ADDR/readyz"
start consultation "$bin/switchboard-consultation"
wait_ready consultation "http://$CONSULTATION_HTTP_ADDR/readyz"

if [ -z "${SMTP_URL:-}" ]; then
  echo "== mail catcher (maildev) on :$MAILCATCHER_SMTP_PORT, inbox on :$MAILCATCHER_WEB_PORT"
  # 2.2.1: the 3.0.0 package serves the REST API but no web inbox.
  if ! grep -qs '"version": "2.2.1"' "$run_dir/maildev/node_modules/maildev/package.json"; then
    npm install --prefix "$run_dir/maildev" --no-audit --no-fund --loglevel=error maildev@2.2.1 >/dev/null
  fi
  start mailcatcher "$run_dir/maildev/node_modules/.bin/maildev" --ip 127.0.0.1 --web-ip 127.0.0.1 \
    -s "$MAILCATCHER_SMTP_PORT" -w "$MAILCATCHER_WEB_PORT"
  wait_ready mailcatcher "http://127.0.0.1:$MAILCATCHER_WEB_PORT/"
  export SMTP_URL="smtp://127.0.0.1:$MAILCATCHER_SMTP_PORT"
  inbox="http://127.0.0.1:$MAILCATCHER_WEB_PORT/"
else
  inbox="(SMTP_URL=$SMTP_URL)"
fi
echo "== notification service"
start notification "$bin/switchboard-notification"
wait_ready notification "http://$NOTIFICATION_HTTP_ADDR/readyz"

echo "== gateways on :$GATEWAY1_PORT and :$GATEWAY2_PORT"
GATEWAY_ADDR="127.0.0.1:$GATEWAY1_PORT" GATEWAY_ID=gw1 start gateway1 "$bin/switchboard-gateway"
GATEWAY_ADDR="127.0.0.1:$GATEWAY2_PORT" GATEWAY_ID=gw2 start gateway2 "$bin/switchboard-gateway"
wait_ready gateway1 "http://127.0.0.1:$GATEWAY1_PORT/readyz"
wait_ready gateway2 "http://127.0.0.1:$GATEWAY2_PORT/readyz"

echo "== demo page on :$DEMO_PORT (behind the load balancer)"
demo_dir="$root/client/demo/dist"
{
  printf '['
  sep=''
  for u in alice:applicant bob:applicant lena:lawyer marc:lawyer; do
    name=${u%%:*}
    printf '%s{"id":"%s","name":"%s","role":"%s","token":"%s"}' "$sep" \
      "$("$bin/switchboard" token --user "$name" --print-id)" "$name" "${u##*:}" \
      "$("$bin/switchboard" token --user "$name")"
    sep=','
  done
  printf ']\n'
} >"$demo_dir/demo-users.json"
start demo python3 -m http.server "$DEMO_PORT" --bind 127.0.0.1 --directory "$demo_dir"

echo "== load balancer on :$LB_PORT"
cat >"$run_dir/haproxy.cfg" <<CFG
global
    # Two descriptors per proxied connection, and a process may hold 20,000 here.
    maxconn 9500
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend switchboard
    bind 127.0.0.1:$LB_PORT
    acl consultations path_beg /v1/consultations
    acl api path_beg /ws /socket.io /v1/ /healthz /readyz /metrics
    use_backend consultations if consultations
    use_backend gateways if api
    default_backend demo
backend consultations
    option httpchk GET /readyz
    server c1 $CONSULTATION_HTTP_ADDR check inter 1s fall 2 rise 1
backend demo
    server demo 127.0.0.1:$DEMO_PORT
backend gateways
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    server gw1 127.0.0.1:$GATEWAY1_PORT check inter 1s fall 2 rise 1
    server gw2 127.0.0.1:$GATEWAY2_PORT check inter 1s fall 2 rise 1
CFG
start haproxy haproxy -W -db -f "$run_dir/haproxy.cfg"
wait_ready haproxy "http://127.0.0.1:$LB_PORT/healthz"

alice=$("$bin/switchboard" token --user alice)
lena=$("$bin/switchboard" token --user lena)
cat <<MSG

Switchboard is running.
  WebSocket   ws://127.0.0.1:$LB_PORT/ws            (replicas :$GATEWAY1_PORT and :$GATEWAY2_PORT)
  demo page   http://127.0.0.1:$LB_PORT/          (open two windows, pick two users)
  REST        http://127.0.0.1:$LB_PORT/v1/...
  consultations http://127.0.0.1:$LB_PORT/v1/consultations   (meeting gRPC $MEETING_GRPC_ADDR)
  chat gRPC   $CHAT_GRPC_ADDR      presence gRPC $PRESENCE_GRPC_ADDR
  e-mail      $inbox   (notification gRPC $NOTIFICATION_GRPC_ADDR)
  JWT_SECRET  $JWT_SECRET   (dev default unless you set JWT_SECRET)
  logs        $run_dir/*.log

Demo tokens (24 h):
  alice (applicant)  $alice
  lena (lawyer)      $lena

Chat from two terminals, one per replica:
  $bin/switchboard chat --url ws://127.0.0.1:$GATEWAY1_PORT/ws --user alice --to lena
  $bin/switchboard chat --url ws://127.0.0.1:$GATEWAY2_PORT/ws --user lena --to alice --auto-read

Ctrl-C stops everything.
MSG

# Run until Ctrl-C or until a service dies.
wait -n "${pids[@]}" || true
echo "a service exited; stopping the rest" >&2
