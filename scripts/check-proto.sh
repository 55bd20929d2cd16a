#!/usr/bin/env bash
# CI check: regenerates the protobuf code into a temporary directory and fails if it differs from
# the committed src/proto (someone edited a .proto without `npm run gen:proto`, or hand-edited
# generated code). Needs protoc and the ts-proto plugin from node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash scripts/gen-proto.sh "$tmp/proto" >/dev/null
if ! diff -r -u src/proto "$tmp/proto"; then
  echo "src/proto is stale: run 'npm run gen:proto' and commit the result" >&2
  exit 1
fi
echo "src/proto matches proto/"
