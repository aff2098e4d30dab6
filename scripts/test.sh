#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (SQLite and Postgres in a throwaway cluster;
# memory, local directory and a real S3-compatible server), then Chroma's Python and JavaScript
# clients against the real `silt` binary, embedded and as a cluster of processes, and the
# cluster's failover tests, the web console in a real browser, migration from Chroma's own server,
# and the terraform checks. Installs what it needs (Postgres binaries, a Python venv with moto's
# S3 server, Chroma's server in a venv of its own, Debian's chromium, node packages, checkov)
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export AWS_EC2_METADATA_DISABLED=true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}

. "$REPO/scripts/test-env.sh"

step "building"
cargo build --workspace --all-targets

step "Python venv (Chroma's client, pytest, moto)"
ensure_venv

step "terraform/: parses, references resolve, user data is valid shell, checkov finds nothing unexplained"
SILT_VENV="$VENV" bash "$REPO/scripts/check-terraform.sh"

step "starting a throwaway Postgres and an S3 server"
start_postgres
start_s3

step "Rust tests (unit, integration; SQLite/Postgres and memory/local/S3 contracts)"
cargo test --workspace -- --include-ignored

step "Python client compatibility (chromadb-client + pytest), embedded: silt run"
(cd tests/compat && "$VENV/bin/python" -m pytest -q)

step "API fuzzing: schemathesis from Silt's /openapi.json against silt run, auth off and on (SILT_FUZZ_SEED, SILT_FUZZ_EXAMPLES)"
"$VENV/bin/python" tests/fuzz/fuzz.py --silt "$CARGO_TARGET_DIR/debug/silt" --auth \
  --seed "${SILT_FUZZ_SEED:-1}" --max-examples "${SILT_FUZZ_EXAMPLES:-40}"

step "The same compatibility suite against a cluster (gateway, 2 log, 3 query, compactor on Postgres + S3)"
(cd tests/compat && SILT_COMPAT_TARGET=cluster "$VENV/bin/python" -m pytest -q)

step "Cluster failover (kill -9 of each role, a joining query node), the stale log writer, and the nemesis (SILT_NEMESIS_SECONDS, default 30)"
(cd tests/cluster && "$VENV/bin/python" -m pytest -q -s)

step "Web console in a real browser (Debian's chromium driven by Playwright; screenshots in tests/console/screenshots)"
"$REPO/scripts/ensure-chromium.sh"
(cd tests/console && "$VENV/bin/python" -m pytest -q)

step "silt migrate from Chroma's own server (chromadb in its own venv), silt export/import through Parquet, locally and on S3"
"$REPO/scripts/chroma-venv.sh" >/dev/null
(cd tests/migrate && "$VENV/bin/python" -m pytest -q)

step "JavaScript client compatibility (npm chromadb + node --test)"
if ! command -v node >/dev/null; then need_apt nodejs npm; fi
(cd tests/js && npm ci --silent --no-audit --no-fund && node --test)
