#!/usr/bin/env bash
# The differential tests compare tsetcd with real etcd 3.4 (Debian's etcd-server and etcd-client), and
# the generated-code check regenerates src/proto with protoc (Debian's protobuf-compiler). Installs
# them when missing and we are root; otherwise says how, and fails: those checks must run.
set -euo pipefail
if command -v etcd >/dev/null && command -v etcdctl >/dev/null && command -v protoc >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing etcd 3.4 (etcd-server, etcd-client) and protoc for the tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq etcd-server etcd-client protobuf-compiler >/dev/null
  # Debian's package starts a system etcd on 2379; the tests start their own on free ports.
  (systemctl stop etcd 2>/dev/null || service etcd stop 2>/dev/null || pkill -x etcd || true) >/dev/null 2>&1
  exit 0
fi
echo "etcd/etcdctl 3.4 and protoc are needed by the tests: apt-get install etcd-server etcd-client protobuf-compiler" >&2
exit 1
