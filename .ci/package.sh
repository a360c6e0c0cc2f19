#!/usr/bin/env bash
# The Debian package, end to end: build it with cargo-deb (installed when
# missing), check what it holds, install it with dpkg, start Tessera the
# way its systemd unit does (systemctl where systemd runs, else the unit's
# own User= and ExecStart= read from the installed unit file), wait for
# /readyz, log in through the installed CLI and server, stop it, and purge
# the package. Run as root (CI is); exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

UNIT=/usr/lib/systemd/system/tessera.service
CONFIG=/etc/tessera/tessera.toml
STATE=/var/lib/tessera
READYZ=https://127.0.0.1:8443/readyz

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root: it installs and purges a package"

echo "== cargo-deb"
if ! cargo deb --version >/dev/null 2>&1; then
  cargo install cargo-deb --locked
fi
cargo deb --version

echo "== build the package"
# CARGO_DEB_ARGS: e.g. --no-build, to package a target/release/tessera
# built beforehand.
# shellcheck disable=SC2086
deb=$(cargo deb -p tessera ${CARGO_DEB_ARGS:-} | tail -n 1)
[ -f "$deb" ] || fail "cargo deb printed no package path (got: $deb)"
echo "$deb ($(du -h "$deb" | cut -f1))"

echo "== what it holds"
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/tessera "./${UNIT#/}" ".$CONFIG" ./usr/share/doc/tessera/guides/oauth2.md; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx "$CONFIG" || fail "$CONFIG is not a conffile"
dpkg-deb --field "$deb" Package Version Architecture Depends

echo "== install"
if dpkg -s tessera >/dev/null 2>&1; then
  echo "a tessera package is installed already; purging it first"
  dpkg --purge tessera
fi
dpkg -i "$deb"
getent passwd tessera >/dev/null || fail "postinst created no user tessera"
[ "$(stat -c '%U %a' "$STATE")" = "tessera 700" ] || fail "$STATE is $(stat -c '%U %a' "$STATE"), not tessera 700"
[ "$(stat -c '%U:%G %a' "$CONFIG")" = "root:tessera 640" ] || fail "$CONFIG is $(stat -c '%U:%G %a' "$CONFIG"), not root:tessera 640"

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "== systemd-analyze verify"
  systemd-analyze verify "$UNIT"
fi

echo "== start it as the unit does"
pid=""
runuser_pid=""
stop() {
  if [ -z "$pid" ] && [ -n "$runuser_pid" ]; then pid=$runuser_pid; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "tessera did not stop within 10 s of SIGTERM"
  fi
  pid=""
}
trap stop EXIT
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl restart tessera
  pid=$(systemctl show -p MainPID --value tessera)
else
  # No systemd here (a container): run the unit's ExecStart as its User,
  # in its UMask, from /, as systemd would.
  user=$(sed -n 's/^User=//p' "$UNIT")
  exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
  umask_value=$(sed -n 's/^UMask=//p' "$UNIT")
  [ -n "$user" ] && [ -n "$exec_start" ] || fail "$UNIT has no User= or ExecStart="
  echo "systemd is not running; starting: runuser -u $user -- $exec_start"
  if (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null; then
    fail "something already listens on 127.0.0.1:8443, where the installed configuration listens"
  fi
  log=$(mktemp)
  # shellcheck disable=SC2086 # ExecStart is split into words as systemd does
  (cd / && umask "${umask_value:-0022}" && exec runuser -u "$user" -- $exec_start) >"$log" 2>&1 &
  runuser_pid=$!
  # runuser forks the command and waits for it: the server is its child.
  for _ in $(seq 1 100); do
    pid=$(ps --ppid "$runuser_pid" -o pid= | tr -d ' ' || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || { cat "$log" >&2; fail "runuser started no process"; }
fi

echo "== wait for $READYZ"
ready=""
for _ in $(seq 1 300); do
  if ready=$(curl -sk --max-time 2 "$READYZ"); then break; fi
  [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && { cat "${log:-/dev/null}" >&2; fail "tessera exited before answering"; }
  sleep 0.2
done
echo "$ready"
grep -q '"status":"ready"' <<<"$ready" || { cat "${log:-/dev/null}" >&2; fail "/readyz answered: $ready"; }
[ "$(ps -o user= -p "$pid")" = tessera ] || fail "tessera runs as $(ps -o user= -p "$pid"), not as tessera"
for f in tessera.db master.key initial-admin-password; do
  [ "$(stat -c '%U %a' "$STATE/$f")" = "tessera 600" ] || fail "$STATE/$f is $(stat -c '%U %a' "$STATE/$f" 2>&1), not tessera 600"
done

echo "== log in through the installed CLI and server"
cli() { runuser -u tessera -- /usr/bin/tessera --config "$CONFIG" "$@"; }
cli client add package-check --public
password=$(cat "$STATE/initial-admin-password")
token=$(curl -sk https://127.0.0.1:8443/oauth/token -u package-check: \
  -d grant_type=password -d username=admin --data-urlencode "password=$password" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || fail "no token for admin"
whoami=$(curl -sk https://127.0.0.1:8443/v1/auth/whoami -H "Authorization: Bearer $token")
echo "$whoami"
grep -q '"name":"admin"' <<<"$whoami" || grep -q '"user":"admin"' <<<"$whoami" || fail "whoami answered: $whoami"

echo "== stop"
if [ -d /run/systemd/system ]; then
  systemctl stop tessera
  pid=""
else
  stop
  echo "stopped on SIGTERM"
fi

echo "== purge"
dpkg --purge tessera
[ ! -e /usr/bin/tessera ] || fail "/usr/bin/tessera is still there after the purge"
[ ! -e "$STATE" ] || fail "$STATE is still there after the purge"
[ ! -e "$CONFIG" ] || fail "$CONFIG is still there after the purge"
echo "package OK: built, installed, served /readyz as user tessera, purged"
