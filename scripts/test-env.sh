# Helpers shared by scripts/test.sh and scripts/nemesis.sh (sourced, not run): a throwaway
# Postgres and moto's S3 server on free ports of 127.0.0.1, stopped when the caller exits, and
# the Python venv. Expects REPO and VENV to be set.

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
  # TLS on (a throwaway self-signed certificate), plain connections still allowed: the catalog
  # test that connects with sslmode=require proves the driver speaks TLS, as RDS requires.
  su postgres -c "$PGBIN/initdb -D $PGDIR/data --auth=trust -U postgres -E UTF8 >/dev/null &&
    openssl req -new -x509 -days 2 -nodes -subj /CN=127.0.0.1 -keyout $PGDIR/data/server.key \
      -out $PGDIR/data/server.crt >/dev/null 2>&1 && chmod 600 $PGDIR/data/server.key &&
    $PGBIN/pg_ctl -D $PGDIR/data -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500 -c ssl=on' -l $PGDIR/log -w start >/dev/null"
  CLEANUP+=("su postgres -c '$PGBIN/pg_ctl -D $PGDIR/data -m immediate stop'")
  psql -q -h 127.0.0.1 -p "$port" -U postgres -c 'create database silt_test' >/dev/null
  export SILT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/silt_test"
  # How the nemesis test (tests/cluster/test_nemesis.py) restarts this server.
  export SILT_TEST_PG_CTL="$PGBIN/pg_ctl" SILT_TEST_PG_DATA="$PGDIR/data" SILT_TEST_PG_LOG="$PGDIR/log" \
    SILT_TEST_PG_USER=postgres
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

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/tests/requirements.txt"
}
