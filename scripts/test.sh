#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (SQLite, and Postgres in a throwaway
# cluster), then Chroma's Python and JavaScript clients against the real `silt` binary.
# Installs what it needs (Postgres binaries, a Python venv, node packages) when missing.
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

# --- Postgres: a throwaway trust-auth cluster on a free port, stopped on exit -------------
start_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    step "installing postgresql"
    need_apt postgresql
  fi
  local port
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PGDIR=$(mktemp -d)
  chown postgres "$PGDIR"
  su postgres -c "$PGBIN/initdb -D $PGDIR/data --auth=trust -U postgres -E UTF8 >/dev/null &&
    $PGBIN/pg_ctl -D $PGDIR/data -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off' -l $PGDIR/log -w start >/dev/null"
  trap 'su postgres -c "$PGBIN/pg_ctl -D $PGDIR/data -m immediate stop" >/dev/null 2>&1 || true' EXIT
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c 'create database silt_test' >/dev/null
  export SILT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/silt_test"
}

step "building"
cargo build --workspace --all-targets

step "starting a throwaway Postgres"
start_postgres

step "Rust tests (unit, integration, SQLite and Postgres contracts)"
cargo test --workspace -- --include-ignored

step "Python client compatibility (chromadb-client + pytest)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/compat/requirements.txt
(cd tests/compat && "$VENV/bin/python" -m pytest -q)

step "JavaScript client compatibility (npm chromadb + node --test)"
if ! command -v node >/dev/null; then need_apt nodejs npm; fi
(cd tests/js && npm ci --silent --no-audit --no-fund && node --test)
