#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Strong scaling of a training step on this machine: the same global batch run as
#   plain      the single-tape step (--shards 1), one thread
#   2 shards   --shards 2 on one thread (what splitting alone costs)
#   2 threads  --shards 2 --shard-threads 2 in one process
#   2 ranks    mpirun -n 2, one thread each (where flowtape was built with MPI)
# in one run, the order rotated every round, each process pinned by taskset to the cores it
# may use. Prints a Markdown table: each way's median steps/s over the rounds and the speed-up
# of the parallel ones over the plain step (with its range over rounds).
#   bash bench/scaling.sh                                   # the grid below, 3 rounds
#   LOSSES=cfm WIDTHS=64 BATCHES=1024 bash bench/scaling.sh # one cell
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD=${BUILD:-$(dirname "$HERE")/build}
LOSSES=${LOSSES:-"cfm entropic fdm"}
WIDTHS=${WIDTHS:-"64 256"}
BATCHES=${BATCHES:-"256 1024 4096"}
ROUNDS=${ROUNDS:-3}
BLOCK_S=${BLOCK_S:-0.3}
SB="$BUILD/bench/scaling_bench"
[[ -x "$SB" ]] || { echo "missing $SB: build first (cmake --build $BUILD)" >&2; exit 1; }
ways=(plain shards2 threads2)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The malloc tunables of bench/compare.sh, so the two scripts' numbers compare.
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296
if command -v mpirun >/dev/null && ldd "$SB" | grep -q libmpi; then
  ways+=(ranks2)
else
  echo "skipping 2 ranks: no mpirun, or scaling_bench built without MPI" >&2
fi
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores" >&2; exit 1; }
OUT=$(mktemp)
ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT
run() {  # way loss width batch: one JSON line, or the script stops saying why
  local common=(--loss "$2" --width "$3" --batch "$4" --block-s "$BLOCK_S" --repeats 2 --warmup 6)
  local line
  line=$(case "$1" in
    plain) taskset -c 0 "$SB" "${common[@]}" --shards 1 ;;
    shards2) taskset -c 0 "$SB" "${common[@]}" --shards 2 ;;
    threads2) taskset -c 0,1 "$SB" "${common[@]}" --shards 2 --shard-threads 2 ;;
    ranks2) mpirun --bind-to core -n 2 "$SB" "${common[@]}" --shards 2 ;;
  esac 2>"$ERR" | grep -m1 '^{') || { echo "$1 $2 W$3 B$4 failed: $(tail -3 "$ERR")" >&2; exit 1; }
  echo "${line/#\{/{\"way\": \"$1\", }"
}
# Round r runs cell c's ways starting at way (r + c) mod n: every cell's order rotates from
# round to round, and neighbouring cells start at different ways.
for r in $(seq 0 $((ROUNDS - 1))); do
  c=0
  for loss in $LOSSES; do for w in $WIDTHS; do for b in $BATCHES; do
    n=${#ways[@]}
    for i in $(seq 0 $((n - 1))); do
      run "${ways[$(((i + r + c) % n))]}" "$loss" "$w" "$b" >>"$OUT"
    done
    c=$((c + 1))
  done; done; done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cells = {}
for r in rows:
    cells.setdefault((r["loss"], r["width"], r["batch"]), {}).setdefault(r["way"], []).append(
        r["steps_per_s_median"])
names = {"plain": "plain", "shards2": "2 shards, 1 thread", "threads2": "2 threads",
         "ranks2": "2 ranks"}
ways = [w for w in names if any(w in c for c in cells.values())]
print("| loss | W | batch | " + " | ".join(names[w] + " (steps/s)" for w in ways) +
      " | " + " | ".join(names[w] + " / plain" for w in ways[2:]) + " |")
print("| --- | ---: | ---: | " + " | ".join("---:" for _ in ways) + " | " +
      " | ".join("---:" for _ in ways[2:]) + " |")
for (loss, w, b), c in cells.items():
    med = {k: statistics.median(v) for k, v in c.items()}
    base = c["plain"]
    ratios = []
    for k in ways[2:]:
        rs = [x / p for x, p in zip(c[k], base)]
        ratios.append(f"{med[k] / med['plain']:.2f} ({min(rs):.2f}-{max(rs):.2f})")
    print(f"| {loss} | {w} | {b} | " + " | ".join(f"{med[k]:.0f}" for k in ways) + " | " +
          " | ".join(ratios) + " |")
PY
