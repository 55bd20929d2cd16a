#!/usr/bin/env bash
# Builds the three kubetester images (seed 001's dockerbuild.sh, one script for all three).
# REGISTRY=docker.io/you ./dockerbuild.sh && docker push ... ; kubeyamls/ name images kubetester/<service>:v1.
set -euo pipefail
cd "$(dirname "$0")"
prefix=${REGISTRY:+$REGISTRY/}kubetester
for s in hellogrpc hellohttp helloserve; do
  docker build -f "$s/Dockerfile" -t "$prefix/$s:v1" .
done
