#!/usr/bin/env bash
# Store writes per operation, counted by PostgreSQL itself: the deltas of
# pg_stat_database's xact_commit (transactions committed) and
# tup_inserted + tup_updated + tup_deleted (rows written) of a database of
# its own, across WRITES_N (100) operations of each kind, done one after
# another with curl: password logins, refresh_token grants (rotating),
# client_credentials grants, /v1/authz checks with a cached token (10 x N;
# their idle-clock writes are batched, at most one per session per flush).
# The background's own writes in the same time (measured while idle) are
# subtracted. xacts counts every committed transaction, reads included;
# rows is the write figure. No target: the figures feed docs/sizing.md.
#
# BENCH_POSTGRES: a server where a database may be created and dropped
# (postgres://postgres@127.0.0.1:5432/postgres).
source "$(dirname "$0")/lib.sh"
N="${WRITES_N:-100}"
PG="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
need psql postgresql-client
DBNAME="bench_writes_$$"
psql -q "$PG" -c "CREATE DATABASE $DBNAME" >/dev/null
DBURL="${PG%/*}/$DBNAME"
drop_db() { psql -q "$PG" -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null 2>&1 || true; }
build_all
start_tessera "[store]
url = \"$DBURL\"
[lockout]
max_failed_logins = 100
$(gateway_toml 127.0.0.1:9)"
trap 'stop_tessera; drop_db' EXIT
add_bench_principals

# counters: "commits rows" of the bench database, a fresh statistics snapshot.
counters() {
  psql -At "$PG" -c "SELECT pg_stat_clear_snapshot();
    SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = '$DBNAME'" | tail -1 | tr '|' ' '
}
# measure LABEL COUNT COMMAND...: runs COMMAND, prints per-operation deltas
# net of the idle rate over the same time.
IDLE_C=0 IDLE_R=0
measure() {
  local label="$1" count="$2"; shift 2
  sleep 1.5 # let the previous kind's batched writes land
  read -r c0 r0 <<<"$(counters)"
  local t0 t1
  t0=$(date +%s.%N)
  "$@"
  sleep 1.5 # one flush period (1 s) and then some: its batched writes land
  t1=$(date +%s.%N)
  read -r c1 r1 <<<"$(counters)"
  awk -v l="$label" -v n="$count" -v dc=$((c1 - c0)) -v dr=$((r1 - r0)) -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    -v ic="$IDLE_C" -v ir="$IDLE_R" 'BEGIN {
      c = dc - ic * s; r = dr - ir * s; if (c < 0) c = 0; if (r < 0) r = 0
      printf "%-34s %8d %14.2f %14.2f   (raw: %d commits, %d rows in %.1f s)\n", l, n, c / n, r / n, dc, dr, s }'
}
idle() {
  read -r c0 r0 <<<"$(counters)"; sleep 10; read -r c1 r1 <<<"$(counters)"
  IDLE_C="$(awk -v d=$((c1 - c0)) 'BEGIN { print d / 10 }')"; IDLE_R="$(awk -v d=$((r1 - r0)) 'BEGIN { print d / 10 }')"
}
logins() { for _ in $(seq 1 "$N"); do login >/dev/null; done; }
ccs() { for _ in $(seq 1 "$N"); do curl -s -o /dev/null -u "$BENCH_CLIENT:$BENCH_SECRET" -d grant_type=client_credentials "http://$ADDR/oauth/token"; done; }
TOKEN="$(login | json_field access_token)"
checks() {
  local args=() i
  for i in $(seq 1 $((N * 10))); do args+=(-H "Authorization: Bearer $TOKEN" -H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz"); [ "$i" -lt $((N * 10)) ] && args+=(--next); done
  curl -s -o /dev/null "${args[@]}"
}
echo "== background writes while idle (10 s)" >&2
idle
show "idle: $IDLE_C commits/s, $IDLE_R rows/s"
printf '%-34s %8s %14s %14s\n' "operation" "count" "xacts/op" "rows/op"
measure "password login" "$N" logins
# The refresh figure excludes its one login: counters are read after it.
rt="$(login | json_field refresh_token)"; sleep 1.5
read -r c0 r0 <<<"$(counters)"; t0=$(date +%s.%N)
for _ in $(seq 1 "$N"); do
  rt="$(curl -s -u "$BENCH_CLIENT:$BENCH_SECRET" -d grant_type=refresh_token -d refresh_token="$rt" "http://$ADDR/oauth/token" | json_field refresh_token)"
done
[ -n "$rt" ] || echo "   (a refresh failed)" >&2
sleep 1.5; t1=$(date +%s.%N); read -r c1 r1 <<<"$(counters)"
awk -v l="refresh_token grant" -v n="$N" -v dc=$((c1 - c0)) -v dr=$((r1 - r0)) -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
  -v ic="$IDLE_C" -v ir="$IDLE_R" 'BEGIN {
    c = dc - ic * s; r = dr - ir * s; if (c < 0) c = 0; if (r < 0) r = 0
    printf "%-34s %8d %14.2f %14.2f   (raw: %d commits, %d rows in %.1f s)\n", l, n, c / n, r / n, dc, dr, s }'
measure "client_credentials grant" "$N" ccs
measure "/v1/authz check, one cached token" $((N * 10)) checks
