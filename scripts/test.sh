#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (SQLite and Postgres in a throwaway cluster;
# memory, local directory and a real S3-compatible server), then Chroma's Python and JavaScript
# clients against the real `silt` binary, embedded and as a cluster of processes, and the
# cluster's failover tests. Installs what it needs (Postgres binaries, a Python venv with moto's
# S3 server, node packages) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export AWS_EC2_METADATA_DISABLED=true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
VENV=${SILT_VENV:-$HOME/.cache/silt-venv}

step() { printf '\n==> %s\n' "$*"; }

need_apt() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

CLEANUP=()
cleanup() { for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

# --- Postgres: a throwaway trust-auth cluster on a free port, stopped on exit -------------
start_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    step "installing postgresql"
    need_apt postgresql
  fi
  local port
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  port=$(free_port)
  PGDIR=$(mktemp -d)
  chown postgres "$PGDIR"
  su postgres -c "$PGBIN/initdb -D $PGDIR/data --auth=trust -U postgres -E UTF8 >/dev/null &&
    $PGBIN/pg_ctl -D $PGDIR/data -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500' -l $PGDIR/log -w start >/dev/null"
  CLEANUP+=("su postgres -c '$PGBIN/pg_ctl -D $PGDIR/data -m immediate stop'")
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c 'create database silt_test' >/dev/null
  export SILT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/silt_test"
}

# --- S3: moto's server on a free port, holding data in memory, stopped on exit ------------
start_s3() {
  local port log
  port=$(free_port)
  log=$(mktemp)
  # Fixed test credentials; nothing may look for real ones or leave 127.0.0.1.
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  CLEANUP+=("kill $!")
  "$VENV/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        break
    except Exception:
        time.sleep(0.1)
urllib.request.urlopen(urllib.request.Request(f"{url}/silt-test", method="PUT"), timeout=5)
PY
  export SILT_TEST_S3_ENDPOINT="http://127.0.0.1:$port" SILT_TEST_S3_BUCKET=silt-test
}

step "building"
cargo build --workspace --all-targets

step "Python venv (Chroma's client, pytest, moto)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt

step "starting a throwaway Postgres and an S3 server"
start_postgres
start_s3

step "Rust tests (unit, integration; SQLite/Postgres and memory/local/S3 contracts)"
cargo test --workspace -- --include-ignored

step "Python client compatibility (chromadb-client + pytest), embedded: silt run"
(cd tests/compat && "$VENV/bin/python" -m pytest -q)

step "The same compatibility suite against a cluster (gateway, 2 log, 3 query, compactor on Postgres + S3)"
(cd tests/compat && SILT_COMPAT_TARGET=cluster "$VENV/bin/python" -m pytest -q)

step "Cluster failover: kill -9 of a query node, a log node, the compactor; a joining query node"
(cd tests/cluster && "$VENV/bin/python" -m pytest -q -s)

step "JavaScript client compatibility (npm chromadb + node --test)"
if ! command -v node >/dev/null; then need_apt nodejs npm; fi
(cd tests/js && npm ci --silent --no-audit --no-fund && node --test)
