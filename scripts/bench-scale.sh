#!/usr/bin/env bash
# Many small collections on a real cluster (bench/scale/scale_cluster.py): starts a throwaway
# Postgres and moto's S3 server, builds silt, and runs the benchmark. Arguments go to the script:
#   ./scripts/bench-scale.sh --collections 100000 --json /tmp/scale.json
#   ./scripts/bench-scale.sh --strong-reads      (bench/scale/strong_reads.py instead)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export AWS_EC2_METADATA_DISABLED=true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}

. "$REPO/scripts/test-env.sh"

step "building silt"
cargo build -p silt ${SILT_BENCH_PROFILE:+--profile $SILT_BENCH_PROFILE}

step "Python venv"
ensure_venv

step "starting a throwaway Postgres and an S3 server"
start_postgres
start_s3

if [ "${1:-}" = "--strong-reads" ]; then
  step "strong against eventual reads while a collection is written"
  "$VENV/bin/python" bench/scale/strong_reads.py
else
  step "many collections on a cluster"
  "$VENV/bin/python" bench/scale/scale_cluster.py "$@"
fi
