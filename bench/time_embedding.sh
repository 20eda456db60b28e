#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The measurement behind the default time embedding of nn::VelocityMLP and the CLI: trains the
# same model with each embedding (raw t, sinusoidal, random Fourier) on three 2-D datasets and
# two seeds, and prints the sampling cost (dopri5 function evaluations for the evaluation
# samples) and the quality (MMD to the data, held-out NLL) of each, from the runs' metrics.json.
#   bash bench/time_embedding.sh [BUILD_DIR] [STEPS]     (about 4 minutes on 2 cores)
set -euo pipefail
BUILD=${1:-build}
STEPS=${2:-2000}
FT="$BUILD/app/flowtape"
[[ -x "$FT" ]] || { echo "missing $FT: build first (cmake --build $BUILD --target flowtape)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
printf "| dataset | seed | embedding | NFE | MMD | NLL (nats) | train s |\n| --- | ---: | --- | ---: | ---: | ---: | ---: |\n"
for dataset in moons checkerboard 8gaussians; do
  for seed in 0 1; do
    for emb in raw sinusoidal fourier; do
      dir="$OUT/$dataset-$seed-$emb"
      start=$(date +%s.%N)
      "$FT" train --dataset "$dataset" --seed "$seed" --time-embedding "$emb" --steps "$STEPS" \
        --eval-samples 2000 --nll-samples 500 --out "$dir" >/dev/null 2>&1
      secs=$(echo "$(date +%s.%N) - $start" | bc)
      python3 - "$dir/metrics.json" "$dataset" "$seed" "$emb" "$secs" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
def find(d, key):
    if isinstance(d, dict):
        if key in d: return d[key]
        for v in d.values():
            r = find(v, key)
            if r is not None: return r
    return None
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {find(m, 'nfe')} | {find(m, 'mmd_rbf'):.5f} "
      f"| {find(m, 'nll_nats'):.4f} | {float(sys.argv[5]):.1f} |")
PY
    done
  done
done
