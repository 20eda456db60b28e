#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmarks' documented exit codes (ctest bench.arguments): a bad command line exits 2
# with one line naming the problem, a run that works exits 0 and prints its JSON line.
#   bash tests/bench/arguments_test.sh path/to/flow_bench path/to/scaling_bench
set -uo pipefail
FLOW=${1:?usage: arguments_test.sh flow_bench scaling_bench}
SCALING=${2:?usage: arguments_test.sh flow_bench scaling_bench}
failures=0
expect() {  # expect CODE WORDS PROGRAM ARGS...
  local code=$1 words=$2
  shift 2
  local err
  err=$("$@" 2>&1 >/dev/null)
  local got=$?
  if [ "$got" != "$code" ] || ! grep -q -- "$words" <<<"$err"; then
    echo "FAIL: $* exited $got (expected $code) saying: $err"
    failures=$((failures + 1))
  fi
}
expect 2 "takes a finite number" "$FLOW" --width 4294967360
expect 2 "takes a finite number" "$FLOW" --batch 12x
expect 2 "must be cfm, entropic or fdm" "$FLOW" --loss foo
expect 2 "at least 1" "$FLOW" --batch 0
expect 2 "power of two" "$FLOW" --shards 3
expect 2 "every option takes a value" "$FLOW" --width
expect 2 "unknown option" "$SCALING" --depth 3
expect 2 "invalid loss" "$SCALING" --loss nope
expect 2 "power of two" "$SCALING" --shards 3
expect 2 "--repeats must be at least 1" "$SCALING" --repeats 0
out=$("$FLOW" --loss fdm --width 8 --batch 16 --digest-steps 2) ||
  { echo "FAIL: a digest run exited $?"; failures=$((failures + 1)); }
grep -q '"digest"' <<<"$out" || { echo "FAIL: no digest in: $out"; failures=$((failures + 1)); }
out=$("$SCALING" --width 8 --batch 16 --shards 2 --repeats 1 --warmup 2 --block-s 0.05) ||
  { echo "FAIL: a timed run exited $?"; failures=$((failures + 1)); }
grep -q '"steps_per_s_median"' <<<"$out" || { echo "FAIL: no rate in: $out"; failures=$((failures + 1)); }
[ "$failures" = 0 ] || exit 1
echo "ok"
