#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two builds of flowtape against each other on training steps: same bits, and steps/s.
#
#   bench/ab_steps.sh BUILD_A BUILD_B          # A is the reference (the build before a change)
#   LOSSES=fdm WIDTHS=64 BATCHES=256 ROUNDS=5 bench/ab_steps.sh base build
#
# First, for each loss x width, both builds run DIGEST_STEPS steps from the same seed and the
# parameters' digests must be equal (a change to the core that keeps the arithmetic keeps the
# bits). Then each cell (loss x width x batch, THREADS threads) runs A and B back to back
# ROUNDS times, the order swapped every round, and the table gives the median over rounds of
# B / A steps/s with its range. Exit status 1 if a digest differs.
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n 3,12p "$0" >&2; exit 2; }
A="$1/bench/flow_bench"
B="$2/bench/flow_bench"
for f in "$A" "$B"; do [[ -x "$f" ]] || { echo "missing $f: build the flow_bench target" >&2; exit 2; }; done
LOSSES=${LOSSES:-"cfm entropic fdm"}
WIDTHS=${WIDTHS:-"64 256"}
BATCHES=${BATCHES:-"256 4096"}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-5}
DIGEST_STEPS=${DIGEST_STEPS:-20}
TUNABLES="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
run() { env GLIBC_TUNABLES="$TUNABLES" OMP_NUM_THREADS="$THREADS" "$@"; }
rate() { sed -n 's/.*"steps_per_s_median": \([0-9.]*\).*/\1/p'; }

echo "date: $(date -u +%Y-%m-%dT%H:%MZ); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); threads: $THREADS"
status=0
for loss in $LOSSES; do
  for w in $WIDTHS; do
    common=(--loss "$loss" --width "$w" --batch 256 --threads "$THREADS" --digest-steps "$DIGEST_STEPS")
    da=$(run "$A" "${common[@]}" | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')
    db=$(run "$B" "${common[@]}" | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')
    if [[ "$da" == "$db" ]]; then verdict=same; else verdict=DIFFERENT; status=1; fi
    echo "bits $loss W=$w after $DIGEST_STEPS steps: A $da, B $db: $verdict"
  done
done

echo
echo "| loss | W | batch | B/A steps/s (median) | range | A steps/s | B steps/s |"
echo "|---|---|---|---|---|---|---|"
for loss in $LOSSES; do
  for w in $WIDTHS; do
    for b in $BATCHES; do
      common=(--loss "$loss" --width "$w" --batch "$b" --threads "$THREADS" --repeats 3 --block-s 0.3 --warmup 4)
      ra=(); rb=()
      for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then
          ra+=("$(run "$A" "${common[@]}" | rate)"); rb+=("$(run "$B" "${common[@]}" | rate)")
        else
          rb+=("$(run "$B" "${common[@]}" | rate)"); ra+=("$(run "$A" "${common[@]}" | rate)")
        fi
      done
      python3 - "$loss" "$w" "$b" "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
loss, w, b, ra, rb = sys.argv[1:]
ra = [float(x) for x in ra.split()]; rb = [float(x) for x in rb.split()]
ratios = sorted(y / x for x, y in zip(ra, rb))
print(f"| {loss} | {w} | {b} | {statistics.median(ratios):.3f} | {ratios[0]:.3f}-{ratios[-1]:.3f} "
      f"| {statistics.median(ra):.1f} | {statistics.median(rb):.1f} |")
PY
    done
  done
done
exit $status
