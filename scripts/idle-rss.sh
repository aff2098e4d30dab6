#!/usr/bin/env bash
# Resident memory of each cluster role idle after a large ingest (scripts/idle-rss.py): starts a
# throwaway Postgres and S3 server, builds silt, runs the measurement. Arguments go to the script,
# e.g. `scripts/idle-rss.sh --records 100000 --no-trim`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}
source scripts/test-env.sh
ensure_venv
cargo build -q -p silt
start_postgres
start_s3
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
"$VENV/bin/python" scripts/idle-rss.py "$@"
