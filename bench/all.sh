#!/usr/bin/env bash
# Every figure of issue 13, one script after another, then one table.
# Exits non-zero if any figure FAILs (or a script failed to run).
# With the defaults (BENCH_SECONDS=5, BENCH_ROUNDS=3, 1,000,000 sessions)
# the whole run takes about 15-20 minutes on 2 cores; the limit is 30.
# BENCH_ONLY="authz gateway" runs a subset; BENCH_SOAK=1 adds soak.sh
# (10 more minutes). rules.sh (issue 14's rule-matching figures) runs too.
set -uo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
SCRIPTS="${BENCH_ONLY:-authz gateway logins grants storm sessions coldstart peers writes rules}"
[ "${BENCH_SOAK:-0}" = 1 ] && SCRIPTS="$SCRIPTS soak"
export BENCH_SUMMARY
BENCH_SUMMARY="$(mktemp)"
trap 'rm -f "$BENCH_SUMMARY"' EXIT
t0=$(date +%s)
failed=()
# Build once up front so the first script's figures are not the build's.
# (TESSERA_BIN: measure that binary; the workspace is then not built.)
cd "$BENCH/.." || exit 1
[ -n "${TESSERA_BIN:-}" ] || cargo build --quiet --release -p tessera || exit 1
cargo build --quiet --release --manifest-path bench/bare/Cargo.toml || exit 1
for s in $SCRIPTS; do
  ts=$(date +%s)
  echo "######## bench/$s.sh ($(date -u +%H:%M:%S) UTC)"
  if ! "$BENCH/$s.sh"; then
    failed+=("$s")
    grep -q "^$s	" "$BENCH_SUMMARY" || printf '%s\t%s\t%s\t%s\t%s\n' "$s" "(script failed)" "" "" FAIL >>"$BENCH_SUMMARY"
  fi
  echo "######## bench/$s.sh: $(( $(date +%s) - ts )) s"
  echo
done
elapsed=$(( $(date +%s) - t0 ))
echo "================ summary (BENCH_SECONDS=${BENCH_SECONDS:-5}, BENCH_ROUNDS=${BENCH_ROUNDS:-3}, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
awk -F'\t' '{ printf "%-10s %-44s %16s  %-34s %s\n", $1, $2, $3, $4, $5 }' "$BENCH_SUMMARY"
echo "total elapsed: $((elapsed / 60)) min $((elapsed % 60)) s (limit 30 min)"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAIL: ${failed[*]}"
  exit 1
fi
echo "all PASS"
