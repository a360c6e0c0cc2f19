#!/usr/bin/env bash
# Password-grant logins/s beside raw Argon2id verifications/s with the
# server's parameters on the same cores, in one run.
# Target: logins >= 0.9 x raw.
#
# Raw: `tessera-bare argon2` (the argon2 crate, version, features and
# release profile the server uses; each thread hashes into one memory area
# allocated once, so the baseline is the hashing work alone, with no
# allocation or parsing) on one thread per core (the server's default
# number of hashing threads), with [password] memory_kib, iterations and
# parallelism as configured for the server below.
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

# Each take also reports per_cpu=: answers per CPU-second of the measured
# process itself (raw: GNU time's user + system; Tessera: /proc/PID/stat).
# On a machine other work competes for, the two rates also measure how
# much CPU each side was given; per CPU-second compares their cost alone.
need /usr/bin/time time
raw() {
  local line
  line="$(/usr/bin/time -f "%U %S" -o "$WORK/raw.time" "$BARE" argon2 "$CORES" "$BENCH_SECONDS" "$M_KIB" "$T_COST" "$P_COST")"
  echo "$line per_cpu=$(awk -v n="$(field_of ok "$line")" '{ s = $1 + $2; printf "%.1f", (s > 0 ? n / s : 0) }' "$WORK/raw.time")"
}
logins() {
  local c0 c1 line
  c0="$(cpu_ticks)"
  line="$(WRK_BODY="grant_type=password&username=$BENCH_USER&password=$BENCH_PASSWORD" \
    run_wrk -s form.lua -c "$CONNS" -H "$BASIC" "http://$ADDR/oauth/token")"
  c1="$(cpu_ticks)"
  echo "$line per_cpu=$(awk -v n="$(field_of ok "$line")" -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" \
    'BEGIN { s = (b - a) / hz; printf "%.1f", (s > 0 ? n / s : 0) }')"
}
echo "== raw Argon2id (m=$M_KIB KiB, t=$T_COST, p=$P_COST) on $CORES threads, and password grants on $CONNS connections; ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
raw=("$(raw)"); show "raw     ${raw[0]}"
logins=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  logins+=("$(logins)"); show "logins  ${logins[-1]}"
  raw+=("$(raw)"); show "raw     ${raw[-1]}"
done
ratio="$(median $(ratios rate logins raw))"
cpu_ratio="$(median $(ratios per_cpu logins raw))"
echo
header
figure "raw Argon2id verifications/s ($CORES threads)" "$(median $(values rate raw))" "(baseline)" ""
figure "raw Argon2id per CPU-second" "$(median $(values per_cpu raw))" "(baseline)" ""
figure "password-grant logins/s" "$(median $(values rate logins))" "(errors $(total_errors logins))" ""
figure "logins per CPU-second of Tessera" "$(median $(values per_cpu logins))" "(sizing: logins/s per core)" ""
# Both must hold: the rate ratio (the issue's figure) and the cost ratio
# (immune to how much CPU the shared machine gave each side).
ok="$(verdict "$ratio" ">=" 0.9)"; [ "$(total_errors logins)" = 0 ] || ok=FAIL
figure "logins: Tessera / raw Argon2id, rate" "${ratio}x" ">= 0.9x" "$ok"
figure "logins: Tessera / raw, per CPU-second" "${cpu_ratio}x" ">= 0.9x" "$(verdict "$cpu_ratio" ">=" 0.9)"
finish
