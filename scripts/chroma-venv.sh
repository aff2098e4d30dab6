#!/usr/bin/env bash
# Prepares the Python venv that holds Chroma's own server (`chroma run`), which the migration
# test (tests/migrate/) copies from. Idempotent: does nothing when the pinned version is there.
# It is separate from the test venv because chromadb and chromadb-client both provide the
# `chromadb` module. Prints the venv's path on its last line.
set -euo pipefail

CHROMA_VENV=${SILT_CHROMA_VENV:-$HOME/.cache/silt-chroma-venv}
CHROMA_VERSION=1.5.9

if [ -x "$CHROMA_VENV/bin/chroma" ] &&
  "$CHROMA_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('chromadb') != '$CHROMA_VERSION')" 2>/dev/null; then
  echo "$CHROMA_VENV"
  exit 0
fi
python3 -m venv "$CHROMA_VENV"
"$CHROMA_VENV/bin/pip" install -q --disable-pip-version-check "chromadb==$CHROMA_VERSION" >&2
echo "$CHROMA_VENV"
