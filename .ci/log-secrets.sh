#!/usr/bin/env bash
# Runs the integration tests with every server logging at debug level into
# files, then fails if any password, token, refresh token, client secret or
# master key the tests used appears in those logs (issue 11).
#
# - The harness (crates/tessera/tests/it/log_capture.rs), when
#   TESSERA_TEST_LOG_DIR is set, logs each in-process test server at debug
#   level into <dir>/<test>.log, keeps the logs of the `tessera` processes
#   the tests start (cli.<test>.log, serve.<test>.log), and lists in
#   <dir>/secrets.jsonl every secret it hands out or receives: the admin
#   password, users' passwords, client secrets, tokens from its logins,
#   CLI standard input (--password-stdin, --secret-stdin), tokens and
#   generated secrets the CLI prints, configuration secrets (bootstrap
#   admin token, service token) and each data dir's master key.
# - This script adds the passwords and secrets written as literals in the
#   tests (JSON bodies, forms, curl -u, Basic auth), which the tests send
#   without the harness (wrong guesses included).
# - Tokens are also found by shape, whoever issued them: opaque tokens
#   (tsa_, tsr_, tsp_), JWTs, and any Authorization header value (Basic or
#   Bearer) that reached a log.
#
# A secret is looked for as written, URL-encoded and JSON-escaped. Secrets
# shorter than 6 characters, or words the server's messages use, cannot
# be told from ordinary log text and are skipped (counted in the summary).
# Output names the secret by its first 4 characters only.
#
# Environment: LOG_SECRETS_TIMEOUT (seconds for the test run, default
# 1200); TESSERA_TEST_POSTGRES as for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)

LOGDIR="$ROOT/target/log-secrets"
rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"
export TESSERA_TEST_LOG_DIR="$LOGDIR"
export RUST_LOG=debug

echo "== integration tests at debug log level (logs in $LOGDIR)"
status=0
timeout --kill-after=30 "${LOG_SECRETS_TIMEOUT:-1200}" \
  cargo test -q -p tessera --test it >"$LOGDIR/cargo-test.out" 2>&1 || status=$?
tail -n 5 "$LOGDIR/cargo-test.out"
if [ "$status" -ne 0 ]; then
  grep -E "^(failures:|    [a-z_:]+$|test .* FAILED|---- )" "$LOGDIR/cargo-test.out" | head -n 40 >&2 || true
  echo "FAIL: the integration tests failed under debug logging (exit $status; $LOGDIR/cargo-test.out)" >&2
  exit 1
fi
echo "tests: $(($(date +%s) - started))s"

echo "== scanning the logs for the tests' secrets"
python3 - "$LOGDIR" "$ROOT/crates/tessera/tests/it" <<'PY'
import base64, json, pathlib, re, sys, urllib.parse

logdir, testdir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
logs = {p.name: p.read_text(errors="replace") for p in sorted(logdir.glob("*.log"))}
if not logs:
    sys.exit("FAIL: no log files: the harness wrote nothing (is TESSERA_TEST_LOG_DIR honoured?)")
total_bytes = sum(len(t) for t in logs.values())
debug_lines = sum(t.count(" DEBUG ") for t in logs.values())
if debug_lines == 0:
    sys.exit("FAIL: the logs hold no DEBUG line: the servers did not log at debug level")

secrets = {}  # value -> what
secrets_file = logdir / "secrets.jsonl"
if secrets_file.exists():
    for line in secrets_file.read_text().splitlines():
        entry = json.loads(line)
        secrets.setdefault(entry["value"], entry["what"])
harness_count = len(secrets)

# Literals the tests send themselves.
literal = [
    r'"(?:current_)?password"\s*:\s*"([^"{}$]+)"',
    r'\\"(?:current_)?password\\"\s*:\s*\\"([^"\\{}$]+)\\"',
    r'(?:^|[?&"\s])(?:password|client_secret|current_password)=([^&"\'\s{}$]+)',
    r'-u\s+["\']?[^:"\'\s]+:([^"\'\s{}$]+)',
    r'\(\s*"(?:password|client_secret|secret|current_password)"\s*,\s*"([^"]+)"\s*\)',
    r'basic_auth\(\s*"[^"]*"\s*,\s*Some\(\s*"([^"]+)"\s*\)\s*\)',
    r'(?:const|let)\s+[A-Za-z_]*(?:PASSWORD|SECRET|TOKEN|password|secret)[A-Za-z_]*\s*(?::\s*&str\s*)?=\s*"([^"]+)"',
]
for source in sorted(testdir.glob("*.rs")):
    text = source.read_text()
    for pattern in literal:
        for m in re.finditer(pattern, text, re.M):
            secrets.setdefault(m.group(1), f"literal in {source.name}")

# Words the server's own messages use: a "secret" equal to one cannot be
# told from ordinary log text.
ordinary = {"password", "passwords", "wrong", "secret", "emergency", "refresh_token", "client_credentials",
            "readonly", "read_only", "admin", "invalid", "expired", "revoked", "unknown"}
checked, skipped = {}, []
for value, what in secrets.items():
    if len(value) < 6 or value.lower() in ordinary:
        skipped.append(value)
    else:
        checked[value] = what

def forms(value):
    out = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value),
           json.dumps(value)[1:-1]}
    return {f for f in out if f}

leaks = []
for value, what in sorted(checked.items(), key=lambda kv: kv[1]):
    for name, text in logs.items():
        n = sum(text.count(f) for f in forms(value))
        if n:
            leaks.append(f"{what}: {value[:4]}… in {name} ({n}×)")

def basic_credentials(value):
    """Whether a `Basic` value decodes to `user:password`."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except Exception:
        return False
    return ":" in decoded and decoded.isprintable()

shapes = {
    "an opaque token": (re.compile(r"\bts[apr]_[A-Za-z0-9_-]{20,}"), None),
    "a JWT": (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), None),
    "HTTP Basic credentials": (re.compile(r"\bBasic\s+([A-Za-z0-9+/]{8,}={0,2})"), basic_credentials),
    "a Bearer token": (re.compile(r"\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)"),
                       lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v)),
}
for what, (rx, judge) in shapes.items():
    for name, text in logs.items():
        found = [m for m in rx.findall(text) if judge is None or judge(m)]
        if found:
            leaks.append(f"{what} (by its shape): {found[0][:4]}… in {name} ({len(found)}×)")

print(f"logs: {len(logs)} files, {total_bytes // 1024} KiB, {debug_lines} DEBUG lines")
print(f"secrets: {len(checked)} looked for ({harness_count} recorded by the harness, the rest literals "
      f"in the tests), {len(skipped)} too short or too ordinary to look for "
      f"({', '.join(sorted(v[:2] + '…' for v in skipped))}), plus token shapes")
if leaks:
    print(f"FAIL: {len(leaks)} secret(s) reached the logs:", file=sys.stderr)
    for leak in leaks:
        print(f"  {leak}", file=sys.stderr)
    sys.exit(1)
print("no secret in the logs")
PY
echo "log-secrets: $(($(date +%s) - started))s in all"
