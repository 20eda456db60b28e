#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# flowtape against PyTorch CPU on flow-matching training steps, side by side, in one run.
#
#   bench/compare.sh                      # the full grid, 3 rounds (~8 minutes)
#   LOSSES=cfm WIDTHS=64 BATCHES=256 THREADS=1 bench/compare.sh   # a sub-grid
#
# Grid: loss {cfm, entropic, fdm} x width {64, 256} x batch {256, 1024, 4096} x threads {1, 2}.
# For each cell the flowtape process (build/bench/flow_bench) and the PyTorch process
# (bench/py/flow_torch.py, the same step op for op) run back to back, ROUNDS times, the
# order swapped every round, so that each pair sees the same machine load: on a shared VM
# one process's speed moved by up to 1.9x between runs minutes apart. Each process reports
# the median steps/s of REPEATS timed blocks of ~BLOCK_S seconds and its peak RSS. Output:
# one JSON line per process in $OUT/compare.jsonl, then a Markdown table on stdout with the
# median over rounds of each pair's ratio (flowtape / torch steps/s), its range, and each
# cell's ceiling (bench/py/compare_table.py, which also re-prints the table of an earlier
# run: compare_table.py OUT/compare.jsonl [--peak GFLOPS]).
#
# Fairness: torch gets torch.set_num_threads(T) and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = T
# (Debian's torch calls OpenBLAS, which set_num_threads does not reach), and glibc malloc
# tuned against per-step page faults (GLIBC_TUNABLES below, as the peers' usual setup does);
# flowtape gets flowtape::set_num_threads(T) and the same environment.
# Needs Debian's python3-torch (run with /usr/bin/python3, not a pyenv python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD=${BUILD:-$ROOT/build}
PY=${PY:-/usr/bin/python3}
OUT=${OUT:-$BUILD/compare}
LOSSES=${LOSSES:-"cfm entropic fdm"}
WIDTHS=${WIDTHS:-"64 256"}
BATCHES=${BATCHES:-"256 1024 4096"}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
REPEATS=${REPEATS:-2}
WARMUP=${WARMUP:-4}
BLOCK_S=${BLOCK_S:-0.35}
JVP_API=${JVP_API:-fwad}
TUNABLES="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"

FT="$BUILD/bench/flow_bench"
[[ -x "$FT" ]] || { echo "missing $FT: build first (cmake --build $BUILD)" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "no torch in $PY: apt-get install python3-torch" >&2; exit 1; }
mkdir -p "$OUT"
RES="$OUT/compare.jsonl"
: > "$RES"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; torch $($PY -c 'import torch; print(torch.__version__)')" | tee "$OUT/env.txt"

# One process of the current cell ($t threads, arguments $common), its JSON line appended to $RES.
run_ft() {
  env GLIBC_TUNABLES="$TUNABLES" OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
    "$FT" "${common[@]}" | tee -a "$RES"
}
run_torch() {
  env GLIBC_TUNABLES="$TUNABLES" OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
    $PY "$HERE/py/flow_torch.py" "${common[@]}" --jvp-api "$JVP_API" | tee -a "$RES"
}

start=$SECONDS
for loss in $LOSSES; do
  for w in $WIDTHS; do
    for b in $BATCHES; do
      for t in $THREADS; do
        common=(--loss "$loss" --width "$w" --batch "$b" --threads "$t"
                --repeats "$REPEATS" --block-s "$BLOCK_S" --warmup "$WARMUP")
        for ((r = 1; r <= ROUNDS; r++)); do
          if ((r % 2)); then run_ft; run_torch; else run_torch; run_ft; fi
        done
      done
    done
  done
done
echo "elapsed: $((SECONDS - start)) s" >&2

# The ceiling column needs this core's FMA peak, which gemm_bench measures (built when OpenBLAS
# is installed); without it the table has no ceiling column.
PEAK=()
if [[ -x "$BUILD/bench/gemm_bench" ]] && peak=$("$BUILD/bench/gemm_bench" --peak); then
  PEAK=(--peak "$peak")
  echo "FMA peak of one core: $peak GFLOP/s f32" | tee -a "$OUT/env.txt"
fi
$PY "$HERE/py/compare_table.py" "$RES" "${PEAK[@]}"
