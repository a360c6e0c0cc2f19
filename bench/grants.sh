#!/usr/bin/env bash
# refresh_token and client_credentials grants/s. Targets (absolute, named
# by issue 13): each >= 10,000/s. For context, the ratio of each to
# bench/bare's in-memory `POST /oauth/token` (form parsed, a token minted
# and put in a map, JSON answered: an HTTP grant with no client check, no
# store and no hashing) measured in the same run.
#
# wrk, 64 connections, BENCH_SECONDS a take, client authenticated with
# HTTP Basic. Refresh: every connection rotates its own login's refresh
# token (bench/lua/refresh.lua; a fresh password login per connection each
# round). Rounds interleave: bare, refresh, client_credentials, bare, ...
source "$(dirname "$0")/lib.sh"
CONNS="${GRANTS_CONNS:-64}"
build_all
start_bare
bare_tokens "unused-token - -"
start_tessera $'[lockout]\nmax_failed_logins = 100'
add_bench_principals
[ -n "$(login | json_field refresh_token)" ] || { echo "no refresh token from http://$ADDR/oauth/token" >&2; exit 1; }
export -f login json_field
export BENCH_CLIENT BENCH_SECRET BENCH_USER BENCH_PASSWORD ADDR

bare() { WRK_BODY="grant_type=client_credentials" run_wrk -s form.lua -c "$CONNS" -H "$BASIC" "http://$BARE_ADDR/oauth/token"; }
cc() { WRK_BODY="grant_type=client_credentials" run_wrk -s form.lua -c "$CONNS" -H "$BASIC" "http://$ADDR/oauth/token"; }
refresh() {
  local file="$WORK/refresh-tokens"
  # One per connection, and one more per wrk thread: wrk calls request()
  # once at start to check it, which takes a token from the first pool.
  seq 1 $((CONNS + WRK_THREADS)) | xargs -P "$((CORES * 4))" -I{} bash -c 'login | json_field refresh_token' >"$file"
  [ "$(grep -c . "$file")" -ge $((CONNS + WRK_THREADS)) ] || echo "   (only $(grep -c . "$file") of $((CONNS + WRK_THREADS)) logins gave a refresh token)" >&2
  local c0 c1 line
  c0="$(cpu_ticks)"
  line="$(WRK_TOKENS="$file" run_wrk -s refresh.lua -c "$CONNS" -H "$BASIC" "http://$ADDR/oauth/token")"
  c1="$(cpu_ticks)"
  per_cpu_second "$line" "$c0" "$c1" >>"$WORK/refresh-cpu"
  echo "$line"
}
echo "== grants: bench/bare, refresh_token, client_credentials; $CONNS connections, ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
bare=("$(bare)"); show "bare     ${bare[0]}"
refresh=(); cc=(); cc_cpu=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  refresh+=("$(refresh)"); show "refresh  ${refresh[-1]}"
  c0="$(cpu_ticks)"; cc+=("$(cc)"); c1="$(cpu_ticks)"
  cc_cpu+=("$(per_cpu_second "${cc[-1]}" "$c0" "$c1")")
  show "cc       ${cc[-1]} (${cc_cpu[-1]} per CPU-second of Tessera)"
  bare+=("$(bare)"); show "bare     ${bare[-1]}"
done
refresh_rate="$(median $(values rate refresh))"
cc_rate="$(median $(values rate cc))"
echo
header
figure "bare in-memory grant/s" "$(median $(values rate bare))" "(context)" ""
ok="$(verdict "$refresh_rate" ">=" 10000)"; [ "$(total_errors refresh)" = 0 ] || ok=FAIL
figure "refresh_token grants/s" "$refresh_rate" ">= 10000 (errors $(total_errors refresh))" "$ok"
figure "refresh_token / bare" "$(median $(ratios rate refresh bare))x" "(context)" ""
figure "refresh_token per CPU-second of Tessera" "$(median $(cat "$WORK/refresh-cpu"))" "(sizing)" ""
ok="$(verdict "$cc_rate" ">=" 10000)"; [ "$(total_errors cc)" = 0 ] || ok=FAIL
figure "client_credentials grants/s" "$cc_rate" ">= 10000 (errors $(total_errors cc))" "$ok"
figure "client_credentials / bare" "$(median $(ratios rate cc bare))x" "(context)" ""
figure "client_credentials per CPU-second of Tessera" "$(median "${cc_cpu[@]}")" "(sizing)" ""
finish
