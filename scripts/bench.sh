#!/usr/bin/env bash
# The published benchmark: Silt embedded against Chroma's own server (`chroma run`), same data,
# same requests, alternating, on wordnet-20k and on synthetic 200k × 128. Writes the JSON
# results and plots to docs/bench/ and the tables into docs/benchmarks.md.
#
#   bash scripts/bench.sh                 # both datasets
#   bash scripts/bench.sh --queries 100   # extra flags go to `silt bench compare`
#
# Datasets: SILT_BENCH_DATA (required) is a directory holding wordnet-20k and gen_synthetic.py;
# the synthetic set is generated once into SILT_BENCH_CACHE (default ~/.cache/silt-bench),
# ground truth included. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DATA=${SILT_BENCH_DATA:?set SILT_BENCH_DATA to the directory holding the benchmark datasets (wordnet-20k, gen_synthetic.py)}
CACHE=${SILT_BENCH_CACHE:-$HOME/.cache/silt-bench}
VENV=${SILT_BENCH_VENV:-$HOME/.cache/silt-bench-venv}
DATASETS=${SILT_BENCH_DATASETS:-"wordnet-20k syn-200k-128"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
export AWS_EC2_METADATA_DISABLED=true ANONYMIZED_TELEMETRY=False

cargo build --release -p silt
SILT=$CARGO_TARGET_DIR/release/silt

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt

mkdir -p "$CACHE" docs/bench
results=()
for ds in $DATASETS; do
  case $ds in
    syn-*)
      # syn-<N>k-<dim>: spread 1.0, as the data README advises for recall.
      n=${ds#syn-}; n=${n%%k-*}; dim=${ds##*-}
      dir=$CACHE/$ds
      if [ ! -f "$dir/gt_bucket3.npy" ]; then
        "$VENV/bin/python" "$DATA/gen_synthetic.py" --n $((n * 1000)) --dim "$dim" --spread 1.0 --out "$dir"
      fi ;;
    *) dir=$DATA/$ds ;;
  esac
  "$SILT" bench compare --data "$dir" --chroma "$VENV/bin/chroma" \
    --json "docs/bench/$ds.json" --markdown docs/benchmarks.md "$@"
  results+=("docs/bench/$ds.json")
done
"$VENV/bin/python" bench/plot.py "${results[@]}" --out docs/bench
