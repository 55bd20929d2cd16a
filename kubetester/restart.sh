#!/usr/bin/env bash
# Re-applies kubeyamls/ from scratch (seed 001's restart.sh).
set -euo pipefail
cd "$(dirname "$0")"
kubectl delete -f kubeyamls --ignore-not-found
kubectl apply -f kubeyamls
