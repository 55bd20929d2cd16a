#!/usr/bin/env bash
# The differential tests compare tsetcd with real etcd 3.4 (Debian's etcd-server and etcd-client).
# Installs them when missing and we are root; otherwise says how, and fails: those tests must run.
set -euo pipefail
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing etcd 3.4 (etcd-server, etcd-client) for the differential tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq etcd-server etcd-client >/dev/null
  # Debian's package starts a system etcd on 2379; the tests start their own on free ports.
  (systemctl stop etcd 2>/dev/null || service etcd stop 2>/dev/null || pkill -x etcd || true) >/dev/null 2>&1
  exit 0
fi
echo "etcd and etcdctl 3.4 are needed for the differential tests: apt-get install etcd-server etcd-client" >&2
exit 1
