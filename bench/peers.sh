#!/usr/bin/env bash
# Tessera beside node-oidc-provider (npm `oidc-provider`, a widely used
# certified OpenID provider) on the same machine, in one run: RFC 7662
# token introspection of a client_credentials access token, and
# client_credentials grants. A comparison, not a target: PASS when both
# servers answered every request; the Tessera / peer ratios are printed.
# Tessera's /v1/authz (its forward-auth check) against the peer's
# introspection is printed too.
#
# The peer: bench/peer-oidc.mjs, installed with `npm install oidc-provider`
# into bench/.peers/ (not committed) on first use; one Node process, its
# in-memory adapter, opaque tokens. Tessera: SQLite store, plain HTTP.
# Same client id and secret (HTTP Basic) on both. wrk, 64 connections,
# BENCH_SECONDS a take; rounds interleave (peer, Tessera, peer, ...), each
# Tessera take compared with the mean of the peer takes around it, ratios
# are medians.
source "$(dirname "$0")/lib.sh"
CONNS="${PEERS_CONNS:-64}"
need node nodejs
need npm
PEERS="$BENCH/.peers"
if [ ! -d "$PEERS/node_modules/oidc-provider" ]; then
  echo "== installing oidc-provider (npm) into $PEERS" >&2
  mkdir -p "$PEERS"
  (cd "$PEERS" && { [ -f package.json ] || echo '{"name": "tessera-bench-peers", "private": true}' >package.json; } && npm install --no-audit --no-fund oidc-provider >/dev/null)
fi
cp "$BENCH/peer-oidc.mjs" "$PEERS/"
build_all
start_tessera "$(gateway_toml 127.0.0.1:9)"
add_bench_principals
PEER_PORT="$(free_port)"
PEER_ADDR="127.0.0.1:$PEER_PORT"
(cd "$PEERS" && exec node peer-oidc.mjs "$PEER_PORT" "$BENCH_CLIENT" "$BENCH_SECRET") >"$WORK/peer.out" 2>"$WORK/peer.log" &
track $!
for _ in $(seq 1 100); do grep -q 'peer listening' "$WORK/peer.out" 2>/dev/null && break; sleep 0.1; done
grep -q 'peer listening' "$WORK/peer.out" || { echo "oidc-provider did not start:" >&2; cat "$WORK/peer.log" >&2; exit 1; }
PEER_VERSION="$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$PEERS/node_modules/oidc-provider/package.json")"

cc_token() { curl -s --max-time 10 -u "$BENCH_CLIENT:$BENCH_SECRET" -d grant_type=client_credentials "$@" | json_field access_token; }
T_TOKEN="$(cc_token "http://$ADDR/oauth/token")"
P_TOKEN="$(cc_token -d scope=api "http://$PEER_ADDR/token")"
[ -n "$T_TOKEN" ] && [ -n "$P_TOKEN" ] || { echo "no client_credentials token (Tessera: ${T_TOKEN:-none}, peer: ${P_TOKEN:-none})" >&2; exit 1; }
active() { curl -s --max-time 10 -u "$BENCH_CLIENT:$BENCH_SECRET" -d token="$2" "$1"; }
grep -q '"active":true' <<<"$(active "http://$ADDR/oauth/introspect" "$T_TOKEN")" || { echo "Tessera's introspection does not say active: $(active "http://$ADDR/oauth/introspect" "$T_TOKEN")" >&2; exit 1; }
grep -q '"active":true' <<<"$(active "http://$PEER_ADDR/token/introspection" "$P_TOKEN")" || { echo "the peer's introspection does not say active" >&2; exit 1; }
expect_200 "http://$ADDR/v1/authz" "Authorization: Bearer $T_TOKEN" "X-Original-Method: GET" "X-Original-URI: /api/hosts"

form() { local url="$1" body="$2"; WRK_BODY="$body" run_wrk -s form.lua -c "$CONNS" -H "$BASIC" "$url"; }
t_intro() { form "http://$ADDR/oauth/introspect" "token=$T_TOKEN"; }
p_intro() { form "http://$PEER_ADDR/token/introspection" "token=$P_TOKEN"; }
t_authz() { run_wrk -c "$CONNS" -H "Authorization: Bearer $T_TOKEN" -H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz"; }
t_cc() { form "http://$ADDR/oauth/token" "grant_type=client_credentials"; }
p_cc() { form "http://$PEER_ADDR/token" "grant_type=client_credentials&scope=api"; }

echo "== introspection and client_credentials: oidc-provider $PEER_VERSION and Tessera; $CONNS connections, ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
p_i=("$(p_intro)"); show "peer introspect     ${p_i[0]}"
p_c=("$(p_cc)"); show "peer cc             ${p_c[0]}"
t_i=(); t_a=(); t_c=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  t_i+=("$(t_intro)"); show "tessera introspect  ${t_i[-1]}"
  t_a+=("$(t_authz)"); show "tessera /v1/authz   ${t_a[-1]}"
  p_i+=("$(p_intro)"); show "peer introspect     ${p_i[-1]}"
  t_c+=("$(t_cc)"); show "tessera cc          ${t_c[-1]}"
  p_c+=("$(p_cc)"); show "peer cc             ${p_c[-1]}"
done
echo
header
both() { [ "$(total_errors "$1")" = 0 ] && [ "$(total_errors "$2")" = 0 ] && echo PASS || echo FAIL; }
figure "oidc-provider $PEER_VERSION introspections/s" "$(median $(values rate p_i))" "(peer; errors $(total_errors p_i))" ""
figure "Tessera /oauth/introspect/s" "$(median $(values rate t_i))" "(errors $(total_errors t_i))" ""
figure "Tessera /v1/authz checks/s" "$(median $(values rate t_a))" "(errors $(total_errors t_a))" ""
figure "introspection: Tessera / peer" "$(median $(ratios rate t_i p_i))x" "(comparison; both ran)" "$(both t_i p_i)"
figure "Tessera /v1/authz / peer introspection" "$(median $(ratios rate t_a p_i))x" "(comparison)" ""
figure "oidc-provider client_credentials/s" "$(median $(values rate p_c))" "(peer; errors $(total_errors p_c))" ""
figure "Tessera client_credentials/s" "$(median $(values rate t_c))" "(errors $(total_errors t_c))" ""
figure "client_credentials: Tessera / peer" "$(median $(ratios rate t_c p_c))x" "(comparison; both ran)" "$(both t_c p_c)"
finish
