#!/usr/bin/env bash
# Runs only the cluster's nemesis and stale-writer tests (tests/cluster/test_nemesis.py,
# test_stale_writer.py) on a throwaway Postgres and moto, for as long as asked:
#   SILT_NEMESIS_SECONDS=600 ./scripts/nemesis.sh       (default 30 s, as in CI)
#   SILT_NEMESIS_SEED=1234 ./scripts/nemesis.sh         (replays a run's fault schedule)
# Extra arguments go to pytest (e.g. -k nemesis).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export AWS_EC2_METADATA_DISABLED=true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}

. "$REPO/scripts/test-env.sh"

step "building silt"
cargo build -p silt

step "Python venv (Chroma's client, pytest, moto)"
ensure_venv

step "starting a throwaway Postgres and an S3 server"
start_postgres
start_s3

step "the stale log writer and the nemesis (${SILT_NEMESIS_SECONDS:-30} s)"
(cd tests/cluster && "$VENV/bin/python" -m pytest -q -s test_stale_writer.py test_nemesis.py "$@")
