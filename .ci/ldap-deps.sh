#!/usr/bin/env bash
# Installs what the LDAP integration tests (crates/tessera/tests/it/ldap.rs)
# need: OpenLDAP's server (slapd, with slapadd) and client tools
# (ldap-utils). The tests start their own slapd on a free 127.0.0.1 port
# with a generated configuration in a temporary directory; the packaged
# service is not needed, so it is stopped if the install started it.
# Idempotent: does nothing when slapd is already installed.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

if [ -x /usr/sbin/slapd ] && command -v ldapsearch >/dev/null 2>&1; then
  echo "slapd and ldap-utils already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

$SUDO apt-get update -qq
# slapd's debconf questions (admin password, domain) are skipped: the
# tests never use the packaged database.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slapd ldap-utils
$SUDO service slapd stop >/dev/null 2>&1 || true

[ -x /usr/sbin/slapd ] || { echo "FAIL: slapd is not at /usr/sbin/slapd after the install" >&2; exit 1; }
command -v ldapsearch >/dev/null || { echo "FAIL: ldap-utils did not install ldapsearch" >&2; exit 1; }
echo "slapd and ldap-utils installed"
