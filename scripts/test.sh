#!/usr/bin/env bash
# Every check CI runs: formatting, lints, and the whole test suite against the real
# PostgreSQL and NATS, with the real service binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-services.sh
if ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js (the socket.io-client tests)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
# The browser test drives Debian's Chromium through haproxy (as scripts/dev.sh serves the demo).
missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The notification tests mail a real SMTP server (aiosmtpd) that they start themselves.
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "== installing aiosmtpd (the SMTP server of the notification tests)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore aiosmtpd==1.4.6
fi
echo "== npm ci (socket.io-client, playwright-core for the Node-driven tests)"
npm ci --prefix tests/socketio --no-audit --no-fund --loglevel=error
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== deployment files: compose, Dockerfile, kustomize, Kubernetes schemas"
scripts/validate-deploy.sh
echo "== build the service binaries the end-to-end tests start"
cargo build --workspace --bins --locked
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== client: npm ci, typecheck, vitest, build"
(cd client && export NO_COLOR=1 && npm ci --no-audit --no-fund --loglevel=error && npm run typecheck && npx vitest run --reporter=default && npm run build --silent) 2>&1 | tee -a "$log"
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee -a "$log"
echo "== fuzz smoke run (every cargo-fuzz target, 10 s each; scripts/fuzz.sh 600 for a real run)"
# Its own build (nightly, instrumented) is kept outside the clone between runs.
CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/switchboard-fuzz-target}" FUZZ_PROFILE=dev scripts/fuzz.sh 10
echo "== benchmark smoke run (checks the load tool works; no thresholds)"
PROFILE=debug scripts/bench.sh --smoke
# One closing line for the whole run, summed over every test binary and vitest.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^ *Tests +[0-9]+/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
