#!/usr/bin/env bash
# Soak (issue 15): Tessera under a steady mixed load at half its measured
# capacity for SOAK_SECONDS (600), then errors and memory growth.
#
#   1. Capacity, each kind alone for CAPACITY_SECONDS (10), unthrottled:
#      password logins (POST /oauth/token, grant_type=password), token
#      checks (GET /v1/authz with a cached token) and gateway calls
#      (GET /api/hosts through the gateway to bench/bare).
#   2. The soak: all three at once, each at capacity / 6, so that the mix
#      is half the machine (1/6 + 1/6 + 1/6 of each kind's capacity).
#      hey (apt; a constant-rate load generator) drives each kind.
#   3. Tessera's RSS sampled every 10 s; the answer counts by status.
#
# Passes when no request failed (every answer 200, no transport error) and
# the peak RSS of the last minute is within SOAK_RSS_GROWTH_MAX (1.5) x the
# peak of the second minute (warm caches; the login sessions' growth
# included).
source "$(dirname "$0")/lib.sh"
SOAK_SECONDS="${SOAK_SECONDS:-600}"
CAPACITY_SECONDS="${CAPACITY_SECONDS:-10}"
RSS_GROWTH_MAX="${SOAK_RSS_GROWTH_MAX:-1.5}"

if ! command -v hey >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing hey (load generator)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hey) >/dev/null
  else
    echo "FAIL: hey is not installed (apt-get install hey)" >&2
    exit 1
  fi
fi

build_all
start_bare
# bench/bare reads one token line before it answers /v1/authz; the soak
# uses only its /api/hosts, so give it a line nobody sends.
timeout 10 sh -c 'echo "unused soak - -" >"$1"' - "$BARE_DIR/tokens" || true

start_tessera "$(gateway_toml "$BARE_ADDR")"
PASSWORD="Lantern-Quill-Meadow-58"
"$TESSERA" user add soak --password-stdin <<<"$PASSWORD" 2>/dev/null
"$TESSERA" client add soak-client --secret-stdin --grant password <<<"soak-client-secret-0123456789" 2>/dev/null
TOKEN="$(curl -s --max-time 10 -u soak-client:soak-client-secret-0123456789 \
  -d grant_type=password -d username=soak -d password="$PASSWORD" \
  "http://$ADDR/oauth/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "no access token from http://$ADDR/oauth/token" >&2; exit 1; }

# Connections per kind: logins are bounded by the Argon2 threads.
conns_of() { case "$1" in login) echo 4 ;; *) echo 32 ;; esac; }
# run_hey KIND SECONDS [RATE_PER_CONNECTION] > report (hey: -q 0 is no limit).
run_hey() {
  local kind=$1 secs=$2 rate=${3:-0} a
  case "$kind" in
    # Debian's hey 0.1.4 drops -a; the Basic header is given whole.
    login) a=(-m POST -H "Authorization: Basic $(printf %s "soak-client:soak-client-secret-0123456789" | base64 -w0)"
      -T application/x-www-form-urlencoded
      -d "grant_type=password&username=soak&password=$PASSWORD" "http://$ADDR/oauth/token") ;;
    check) a=(-H "Authorization: Bearer $TOKEN" -H "X-Original-Method: GET"
      -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz") ;;
    gateway) a=(-H "Authorization: Bearer $TOKEN" "http://$ADDR/api/hosts") ;;
  esac
  hey -disable-compression -c "$(conns_of "$kind")" -q "$rate" -z "${secs}s" "${a[@]}"
}
rate_from() { sed -n 's/^[[:space:]]*Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$1"; }
# count_from REPORT: "ok=N failed=M" (ok: 200 answers; failed: any other
# status and every transport error).
count_from() {
  awk '
    /Status code distribution:/ { s = 1; next }
    /Error distribution:/ { s = 0; e = 1; next }
    s && /\[[0-9]+\]/ { code = $1; gsub(/[\[\]]/, "", code); n = $2 + 0; if (code == 200) ok += n; else bad += n }
    e && /\[[0-9]+\]/ { n = $1; gsub(/[\[\]]/, "", n); bad += n + 0 }
    END { printf "ok=%d failed=%d\n", ok, bad }' "$1"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVE_PID/status"; }

echo "== capacity: each kind alone, ${CAPACITY_SECONDS}s, unthrottled" >&2
declare -A CAP
for kind in login check gateway; do
  run_hey "$kind" "$CAPACITY_SECONDS" >"$WORK/cap-$kind.txt"
  CAP[$kind]="$(rate_from "$WORK/cap-$kind.txt")"
  echo "   $kind: ${CAP[$kind]}/s ($(count_from "$WORK/cap-$kind.txt"))" >&2
done

echo "== soak: all three at once for ${SOAK_SECONDS}s, each at its capacity / 6 (the mix: half the machine)" >&2
# hey keeps the status of at most 1,000,000 answers per run, so each kind
# runs in SEGMENT-second pieces (60): every answer's status is counted.
SEGMENT="${SOAK_SEGMENT:-60}"
soak_kind() {
  local kind=$1 q=$2 left=$SOAK_SECONDS n=0 secs
  while [ "$left" -gt 0 ]; do
    secs=$((left < SEGMENT ? left : SEGMENT))
    run_hey "$kind" "$secs" "$q" >"$WORK/soak-$kind-$n.txt"
    left=$((left - secs)); n=$((n + 1))
  done
}
pids=()
for kind in login check gateway; do
  c="$(conns_of "$kind")"
  # hey's -q is per connection.
  q="$(awk -v cap="${CAP[$kind]}" -v c="$c" 'BEGIN { q = cap / 6 / c; printf "%.2f", (q < 0.1 ? 0.1 : q) }')"
  echo "   $kind: $c connections x ${q}/s" >&2
  soak_kind "$kind" "$q" &
  pids+=($!)
done
samples=()
start=$(date +%s)
while :; do
  now=$(date +%s)
  [ $((now - start)) -ge "$SOAK_SECONDS" ] && break
  samples+=("$((now - start)) $(rss_kib)")
  sleep 10
done
for p in "${pids[@]}"; do wait "$p"; done
end_rss="$(rss_kib)"
samples+=("$SOAK_SECONDS $end_rss")

# RSS moves as the allocator hands memory back, so peaks are compared: the
# highest sample of the second minute (caches warm) against the highest of
# the last minute.
ref_rss="$(printf '%s\n' "${samples[@]}" | awk '$1 >= 60 && $1 < 120 && $2 > m { m = $2 } END { print m + 0 }')"
[ "$ref_rss" -gt 0 ] || ref_rss="$(printf '%s\n' "${samples[@]}" | awk '$2 > m { m = $2 } END { print m }')"
last_rss="$(printf '%s\n' "${samples[@]}" | awk -v t="$SOAK_SECONDS" '$1 >= t - 60 && $2 > m { m = $2 } END { print m }')"
peak_rss="$(printf '%s\n' "${samples[@]}" | awk '$2 > m { m = $2 } END { print m }')"

fail=0
printf '%-8s %12s %12s %10s %8s\n' kind capacity/s soak-rate/s ok failed
for kind in login check gateway; do
  ok=0; failed=0
  for f in "$WORK"/soak-"$kind"-*.txt; do
    counts="$(count_from "$f")"
    ok=$((ok + $(sed -n 's/ok=\([0-9]*\).*/\1/p' <<<"$counts")))
    failed=$((failed + $(sed -n 's/.*failed=\([0-9]*\)/\1/p' <<<"$counts")))
  done
  rate="$(awk -v n="$ok" -v s="$SOAK_SECONDS" 'BEGIN { printf "%.1f", n / s }')"
  printf '%-8s %12s %12s %10s %8s\n' "$kind" "${CAP[$kind]}" "$rate" "$ok" "$failed"
  [ "$failed" = 0 ] && [ "${ok:-0}" -gt 0 ] || fail=1
done
growth="$(awk -v a="$last_rss" -v b="$ref_rss" 'BEGIN { printf "%.2f", a / b }')"
echo "RSS: peak of the 2nd minute $((ref_rss / 1024)) MiB, peak of the last minute $((last_rss / 1024)) MiB, overall peak $((peak_rss / 1024)) MiB, at the end $((end_rss / 1024)) MiB: growth ${growth}x (target <= ${RSS_GROWTH_MAX}x)"
echo "RSS samples (s KiB): $(printf '%s; ' "${samples[@]}")"
rss_ok="$(verdict "$growth" "<=" "$RSS_GROWTH_MAX")"
errors="$(grep -c 'ERROR' "$WORK/serve.log" || true)"
echo "server log ERROR lines: $errors"
if [ "$fail" = 0 ] && [ "$rss_ok" = PASS ]; then
  echo "soak: PASS"
else
  echo "soak: FAIL (failed requests or RSS growth; reports kept in the output above)"
  exit 1
fi
