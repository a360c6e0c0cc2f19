#!/usr/bin/env bash
# /v1/authz checks/s with a cached opaque token, beside bench/bare answering
# the same route with a HashMap lookup, in one run.
# Target: Tessera >= 0.9 x bare.
#
# Both get the same request from wrk (64 connections, WRK_THREADS threads,
# BENCH_SECONDS each): `GET /v1/authz` with `Authorization: Bearer` and
# `X-Original-Method`/`X-Original-URI`. Tessera finds the token in its
# session cache, applies the rules and answers 200 with identity headers;
# bare looks the token up in a HashMap and answers 200 with the same
# headers Tessera's answer carries (user, roles, domain, scope and the
# cache headers; until 2026-11-30 it sent user and roles only). Rounds interleave (bare, Tessera, bare, ...): each
# Tessera take is compared with the mean of the bare takes around it and
# the verdict is on the median of those ratios.
source "$(dirname "$0")/lib.sh"
CONNS="${AUTHZ_CONNS:-64}"
build_all
start_bare
start_tessera "$(gateway_toml "$BARE_ADDR")"
add_bench_principals
bench_token
ORIGINAL=(-H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts")

# bare gets the token with the identity Tessera reports for it.
headers="$(curl -s --max-time 10 -o /dev/null -D - -H "Authorization: Bearer $TOKEN" \
  "${ORIGINAL[@]}" "http://$ADDR/v1/authz" | tr -d '\r')"
grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || { echo "Tessera's /v1/authz refused the token:" >&2; echo "$headers" >&2; exit 1; }
# The yardstick answers with the same headers as Tessera: user and roles,
# and the rest of Tessera's answer (domain, scope, Cache-Control, Pragma),
# so both put the same bytes on the wire.
more="$(grep -iE '^(x-tessera-(domain|scope)|cache-control|pragma):' <<<"$headers" | sed 's/^/ | /' | tr -d '\n')"
bare_tokens "$TOKEN $(sed -n 's/^x-tessera-user: *//Ip' <<<"$headers") $(sed -n 's/^x-tessera-roles: *//Ip' <<<"$headers")$more"
expect_200 "http://$BARE_ADDR/v1/authz" "Authorization: Bearer $TOKEN"

authz() { run_wrk -c "$CONNS" -H "Authorization: Bearer $TOKEN" "${ORIGINAL[@]}" "http://$1/v1/authz"; }
echo "== GET /v1/authz: bench/bare (HashMap) and Tessera, $CONNS connections, ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
bare=("$(authz "$BARE_ADDR")"); show "bare     ${bare[0]}"
tessera=(); per_cpu=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  c0="$(cpu_ticks)"; tessera+=("$(authz "$ADDR")"); c1="$(cpu_ticks)"
  per_cpu+=("$(per_cpu_second "${tessera[-1]}" "$c0" "$c1")")
  show "tessera  ${tessera[-1]} (${per_cpu[-1]} per CPU-second of Tessera)"
  bare+=("$(authz "$BARE_ADDR")"); show "bare     ${bare[-1]}"
done
ratio="$(median $(ratios rate tessera bare))"
echo
header
figure "bare /v1/authz (HashMap), checks/s" "$(median $(values rate bare))" "(baseline; errors $(total_errors bare))" ""
figure "Tessera /v1/authz, cached token, checks/s" "$(median $(values rate tessera))" "(errors $(total_errors tessera))" ""
figure "Tessera checks per CPU-second of Tessera" "$(median "${per_cpu[@]}")" "(sizing: checks/s per core)" ""
ok="$(verdict "$ratio" ">=" 0.9)"; [ "$(total_errors tessera)" = 0 ] || ok=FAIL
figure "authz: Tessera / bare" "${ratio}x" ">= 0.9x" "$ok"
finish
