#!/usr/bin/env bash
# Gateway rule matching: time per decision with 10 rules and with 10,000
# (the matched rule last in both), in one run. Targets: under 5 us per
# decision, and 10,000 rules no more than 3x slower than 10 (a scan of
# every rule would be ~1000x).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(cargo run --quiet --release -p tessera-core --example policy_bench)"
small="$(sed -n 's/^rules=10 ns_per_decision=//p' <<<"$out")"
large="$(sed -n 's/^rules=10000 ns_per_decision=//p' <<<"$out")"
ratio="$(sed -n 's/^ratio=//p' <<<"$out")"
v() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == "<=") ? (a <= b) : (a >= b); print ok ? "PASS" : "FAIL" }'; }
printf '%-34s %12s  %-14s %s\n' "figure" "value" "target" "verdict"
printf '%-34s %12s  %-14s %s\n' "ns per decision, 10 rules" "$small" "<= 5000" "$(v "$small" "<=" 5000)"
printf '%-34s %12s  %-14s %s\n' "ns per decision, 10,000 rules" "$large" "<= 5000" "$(v "$large" "<=" 5000)"
printf '%-34s %12s  %-14s %s\n' "10,000 rules / 10 rules" "${ratio}x" "<= 3x" "$(v "$ratio" "<=" 3)"
