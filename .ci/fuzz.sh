#!/usr/bin/env bash
# Builds the fuzz crate (fuzz/) and runs every cargo-fuzz target for a
# short, bounded time; fails on any crash (a panic, an abort, a stack
# overflow), an input slower than FUZZ_TIMEOUT or memory past the limit.
# A failing input is left under fuzz/artifacts/<target>/, the log under
# fuzz/logs/<target>.log, and the reproduction command printed.
#
#   .ci/fuzz.sh                     every target, FUZZ_SECONDS (20) each:
#                                   8 targets, under 3 minutes of fuzzing
#                                   (plus the build: ~10 min from cold)
#   FUZZ_SECONDS=600 .ci/fuzz.sh router bodies
#
# cargo-fuzz is made for a nightly toolchain; RUSTC_BOOTSTRAP=1 lets a
# stable one accept the nightly-only flags it may pass. The corpora grow under
# fuzz/corpus/ (git-ignored) and are reused by later runs; fuzz/seeds/ holds
# the few hand-written seeds kept in git (the documented configurations).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUSTC_BOOTSTRAP=1
SECONDS_EACH="${FUZZ_SECONDS:-20}"
# libFuzzer's own bounds: one input may take at most this long, and the
# process at most this much memory.
TIMEOUT_EACH="${FUZZ_TIMEOUT:-10}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-3072}"
# Debug assertions and overflow checks on (a wrapped length is a crash);
# no AddressSanitizer: every Tessera crate forbids unsafe code, and ASan
# halves the executions per second on a small CI machine.
BUILD_FLAGS=(--sanitizer none --debug-assertions)

echo "== cargo-fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
  mapfile -t TARGETS < <(cargo fuzz list)
fi

echo "== build (${TARGETS[*]})"
cargo fuzz build "${BUILD_FLAGS[@]}"

mkdir -p fuzz/logs
failed=()
for t in "${TARGETS[@]}"; do
  echo "== fuzz $t (${SECONDS_EACH}s)"
  mkdir -p "fuzz/corpus/$t"
  # fuzz/seeds/<target>/ (kept in git, read only) starts a corpus off.
  corpora=("fuzz/corpus/$t")
  [ -d "fuzz/seeds/$t" ] && corpora+=("fuzz/seeds/$t")
  status=0
  cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "${corpora[@]}" -- \
    -max_total_time="$SECONDS_EACH" \
    -timeout="$TIMEOUT_EACH" \
    -rss_limit_mb="$RSS_LIMIT_MB" \
    -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)|panicked at|^SUMMARY|==[0-9]+== ERROR|Test unit written|Reproduce with' \
    "fuzz/logs/$t.log" || true
  if [ "$status" -ne 0 ]; then
    echo "FAIL: fuzz target $t exited $status; the log is fuzz/logs/$t.log, the input under fuzz/artifacts/$t/" >&2
    tail -n 40 "fuzz/logs/$t.log" >&2
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAIL: fuzz targets with a crash: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets ran ${SECONDS_EACH}s each without a crash"
