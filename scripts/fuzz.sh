#!/usr/bin/env bash
# Fuzzes what clients send: every cargo-fuzz target in fuzz/ (the native and Socket.IO
# frame decoders, JWT verification, the REST request parsing) for a bounded time each,
# starting from the committed corpus in fuzz/corpus/<target>/. Exits non-zero when any
# target crashes; the input that did it is kept in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                   20 s per target (what CI runs)
#   scripts/fuzz.sh 600               ten minutes per target
#   scripts/fuzz.sh 60 jwt_claims     one target
#
# New inputs the fuzzer finds go to a scratch corpus under fuzz/target/, never into the
# committed one; `cargo fuzz cmin` them into fuzz/corpus/ by hand when they are worth it.
# FUZZ_SANITIZER=none builds without AddressSanitizer (faster; the code is safe Rust).
# FUZZ_PROFILE=dev builds without optimisations: a much shorter cold build, fewer runs per
# second; what CI uses for its short run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true

# cargo-fuzz passes -Z flags, so it needs a nightly rustc; without one (a machine with only
# the stable toolchain) the stable compiler is told to accept them, and the build goes
# without AddressSanitizer, whose runtime only nightly is sure to ship.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  sanitizer="${FUZZ_SANITIZER:-address}"
else
  echo "== no nightly toolchain: building with the stable one (RUSTC_BOOTSTRAP=1)"
  export RUSTC_BOOTSTRAP=1
  toolchain=()
  sanitizer="${FUZZ_SANITIZER:-none}"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
  flags=(--dev --sanitizer "$sanitizer")
else
  flags=(--release --debug-assertions --sanitizer "$sanitizer")
fi
start=$SECONDS
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
  echo "== cargo fuzz build (every target)"
  cargo "${toolchain[@]}" fuzz build "${flags[@]}"
else
  for t in "${targets[@]}"; do
    echo "== cargo fuzz build $t"
    cargo "${toolchain[@]}" fuzz build "${flags[@]}" "$t"
  done
fi
echo "== built in $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
  work="target/fuzz-corpus/$t"
  mkdir -p "$work" "corpus/$t"
  echo "== fuzz $t for ${seconds} s"
  # libFuzzer's progress lines and recommended dictionary are left out of the log.
  set +e
  cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep --line-buffered -v -e '^#[0-9]' -e '^"'
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
  fi
done
echo "== fuzzing took $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
