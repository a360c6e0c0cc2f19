#!/usr/bin/env bash
# Gateway rule matching: time per decision with 10 rules and with 10,000
# (the matched rule last in both), in one run. Targets: under 5 us per
# decision, and 10,000 rules no more than 3x slower than 10 (a scan of
# every rule would be ~1000x).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
out="$(cargo run --quiet --release -p tessera-core --example policy_bench)"
small="$(sed -n 's/^rules=10 ns_per_decision=//p' <<<"$out")"
large="$(sed -n 's/^rules=10000 ns_per_decision=//p' <<<"$out")"
ratio="$(sed -n 's/^ratio=//p' <<<"$out")"
header
figure "ns per decision, 10 rules" "$small" "<= 5000" "$(verdict "$small" "<=" 5000)"
figure "ns per decision, 10,000 rules" "$large" "<= 5000" "$(verdict "$large" "<=" 5000)"
figure "10,000 rules / 10 rules" "${ratio}x" "<= 3x" "$(verdict "$ratio" "<=" 3)"
finish
