#!/usr/bin/env bash
# Password-grant logins/s beside raw Argon2id verifications/s with the
# server's parameters on the same cores, in one run.
# Target: logins >= 0.9 x raw.
#
# Raw: `tessera-bare argon2` (the argon2 crate, version, features and
# release profile the server uses; parse the PHC string, verify_password,
# as the server does per login) on one thread per core (the server's
# default number of hashing threads), with [password] memory_kib,
# iterations and parallelism as configured for the server below.
# Logins: wrk POSTing `grant_type=password` to /oauth/token with client
# Basic auth, 4 connections per core. Rounds interleave (raw, logins, raw,
# ...); each login take is compared with the mean of the raw takes around
# it, the verdict is on the median ratio.
source "$(dirname "$0")/lib.sh"
# The server's [password] parameters: its defaults unless overridden.
M_KIB="${BENCH_ARGON2_M:-19456}" T_COST="${BENCH_ARGON2_T:-2}" P_COST="${BENCH_ARGON2_P:-1}"
CONNS=$((CORES * 4))
build_all
start_tessera "[password]
memory_kib = $M_KIB
iterations = $T_COST
parallelism = $P_COST
[lockout]
max_failed_logins = 100"
add_bench_principals
[ -n "$(login | json_field access_token)" ] || { echo "no access token from http://$ADDR/oauth/token" >&2; exit 1; }

raw() { "$BARE" argon2 "$CORES" "$BENCH_SECONDS" "$M_KIB" "$T_COST" "$P_COST"; }
logins() {
  WRK_BODY="grant_type=password&username=$BENCH_USER&password=$BENCH_PASSWORD" \
    run_wrk -s form.lua -c "$CONNS" -H "$BASIC" "http://$ADDR/oauth/token"
}
echo "== raw Argon2id (m=$M_KIB KiB, t=$T_COST, p=$P_COST) on $CORES threads, and password grants on $CONNS connections; ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
raw=("$(raw)"); show "raw     ${raw[0]}"
logins=(); per_cpu=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  c0="$(cpu_ticks)"; logins+=("$(logins)"); c1="$(cpu_ticks)"
  per_cpu+=("$(per_cpu_second "${logins[-1]}" "$c0" "$c1")")
  show "logins  ${logins[-1]} (${per_cpu[-1]} per CPU-second of Tessera)"
  raw+=("$(raw)"); show "raw     ${raw[-1]}"
done
ratio="$(median $(ratios rate logins raw))"
echo
header
figure "raw Argon2id verifications/s ($CORES threads)" "$(median $(values rate raw))" "(baseline)" ""
figure "password-grant logins/s" "$(median $(values rate logins))" "(errors $(total_errors logins))" ""
figure "logins per CPU-second of Tessera" "$(median "${per_cpu[@]}")" "(sizing: logins/s per core)" ""
ok="$(verdict "$ratio" ">=" 0.9)"; [ "$(total_errors logins)" = 0 ] || ok=FAIL
figure "logins: Tessera / raw Argon2id" "${ratio}x" ">= 0.9x" "$ok"
finish
