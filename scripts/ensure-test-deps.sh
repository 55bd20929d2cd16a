#!/usr/bin/env bash
# The differential tests compare tsetcd with real etcd 3.4 (Debian's etcd-server and etcd-client), and
# the generated-code check regenerates src/proto with protoc (Debian's protobuf-compiler). Installs
# them when missing and we are root; otherwise says how, and fails: those checks must run.
# etcd 3.4's own e2e suite (scripts/etcd-e2e.mjs, a bounded subset in npm test) is built from
# Debian's golang-etcd-server-dev sources with golang-go, offline.
#
# As root it also installs what the labs' tests use (src/cli/lab): nftables and iproute2 (network
# namespaces), tcpdump (packet counts), chromium (the HTML reports, best effort).
#
# Debian's etcd-server package would start a system etcd on 2379. The tests start their own on free
# ports, so the install runs with a policy-rc.d that denies every service start (Debian's own
# mechanism for that, exit code 101): nothing is started, so nothing has to be stopped by name.
set -euo pipefail
# tsetcd lab kube (src/cli/lab) also needs nftables (and iproute2, util-linux) when run as root;
# etcd's own e2e suite needs Go and Debian's etcd sources.
E2E_SRC=/usr/share/gocode/src/go.etcd.io/etcd/tests/e2e
if command -v etcd >/dev/null && command -v etcdctl >/dev/null && command -v protoc >/dev/null &&
  command -v go >/dev/null && [ -d "$E2E_SRC" ] &&
  { [ "$(id -u)" != 0 ] || { command -v nft >/dev/null && command -v ip >/dev/null && command -v tcpdump >/dev/null &&
    command -v chromium >/dev/null; }; }; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing etcd 3.4 (etcd-server, etcd-client, its Go sources), protoc and Go for the tests..."
  export DEBIAN_FRONTEND=noninteractive
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# tsetcd test setup: no service starts during package installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  trap 'if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
  apt-get update -qq >/dev/null
  apt-get install -y -qq etcd-server etcd-client protobuf-compiler golang-go golang-etcd-server-dev nftables iproute2 tcpdump >/dev/null
  # The labs' HTML reports are checked in headless Chromium; without it that one test is skipped.
  apt-get install -y -qq chromium >/dev/null || echo "chromium not installed: the lab report browser test will skip" >&2
  exit 0
fi
echo "etcd/etcdctl 3.4, protoc and Go are needed by the tests: apt-get install etcd-server etcd-client protobuf-compiler golang-go golang-etcd-server-dev" >&2
exit 1
