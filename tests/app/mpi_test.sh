#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Data-parallel training under MPI (run by ctest as app.mpi): `mpirun -n N flowtape train ARGS`
# writes the checkpoint that `flowtape train ARGS` writes, byte for byte, for N = 2 and 4 and
# the CFM, entropic and FDM objectives; a run resumed on another rank count continues
# bit-identically; a killed rank ends the job, a hung one makes the others stop with exit 4
# within --rank-timeout, and ranks started with different arguments are refused (exit 4);
# a bad option on one rank ends the job with exit 2 at once; after a failed exchange the
# collective refuses every later call, and leaving the job waits no longer than the timeout
# (mpi_failed_exchange).
# Skips (77) where flowtape was built without MPI or mpirun is missing.
#   bash tests/app/mpi_test.sh path/to/flowtape HAS_MPI path/to/mpi_failed_exchange
set -uo pipefail
FLOWTAPE=${1:?usage: mpi_test.sh path/to/flowtape HAS_MPI}
if [ "${2:-OFF}" != "ON" ]; then
  echo "SKIP: this flowtape was built without MPI (Debian: libopenmpi-dev)"
  exit 77
fi
if ! command -v mpirun >/dev/null; then
  echo "SKIP: mpirun not found (Debian: openmpi-bin)"
  exit 77
fi
# OpenMPI refuses root unless told; CI runs as root. --oversubscribe: 4 ranks on 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
COMMON=(--dataset rings --hidden 16 --depth 2 --batch 64 --shards 4 --seed 7 --no-eval)

# 1. The same bytes on 1, 2 and 4 ranks (threads inside the ranks too), per objective.
for loss in cfm entropic fdm; do
  ARGS=("${COMMON[@]}" --loss "$loss" --steps 30)
  [ "$loss" = entropic ] && ARGS+=(--lambda-max 1 --ramp-end 0)
  "$FLOWTAPE" train "${ARGS[@]}" --out "$TMP/$loss-1" 2>"$TMP/$loss-1.err" ||
    fail "$loss: one process failed: $(tail -2 "$TMP/$loss-1.err")"
  for n in 2 4; do
    extra=()
    [ "$n" = 2 ] && extra=(--shard-threads 2)
    "${MPIRUN[@]}" -n "$n" "$FLOWTAPE" train "${ARGS[@]}" "${extra[@]}" --out "$TMP/$loss-$n" \
      >"$TMP/$loss-$n.out" 2>&1 || fail "$loss: $n ranks failed: $(tail -3 "$TMP/$loss-$n.out")"
    if [ "$n" = 2 ]; then
      # --shard-threads is recorded in the config: compare the weights' bytes.
      python3 - "$TMP/$loss-1/model.safetensors" "$TMP/$loss-$n/model.safetensors" <<'PY' ||
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__")
    return header, data[8 + n:]
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY
        fail "$loss: 2 ranks x 2 threads trained other weights than one process"
    else
      cmp -s "$TMP/$loss-1/model.safetensors" "$TMP/$loss-$n/model.safetensors" ||
        fail "$loss: the $n-rank checkpoint differs from one process's"
    fi
  done
  # Only rank 0 writes: one metrics row per step.
  rows=$(($(wc -l <"$TMP/$loss-4/metrics.csv") - 1))
  [ "$rows" = 30 ] || fail "$loss: 4 ranks wrote $rows metrics rows for 30 steps"
done

# 2. Resumed on another rank count: 2 ranks for 20 steps, then 4 ranks to 30, ends where one
# process's 30 steps end (the weights; the configs differ in the recorded step count).
CONST=("${COMMON[@]}" --schedule constant)
"$FLOWTAPE" train "${CONST[@]}" --steps 30 --out "$TMP/whole" 2>/dev/null || fail "whole run"
"${MPIRUN[@]}" -n 2 "$FLOWTAPE" train "${CONST[@]}" --steps 20 --out "$TMP/parts" >/dev/null 2>&1 ||
  fail "first part on 2 ranks"
"${MPIRUN[@]}" -n 4 "$FLOWTAPE" train --resume --steps 30 --out "$TMP/parts" --no-eval \
  >"$TMP/resume.out" 2>&1 || fail "resume on 4 ranks: $(tail -3 "$TMP/resume.out")"
"$FLOWTAPE" sample --model "$TMP/whole/model.safetensors" -n 64 --out "$TMP/whole.csv" 2>/dev/null
"$FLOWTAPE" sample --model "$TMP/parts/model.safetensors" -n 64 --out "$TMP/parts.csv" 2>/dev/null
cmp -s "$TMP/whole.csv" "$TMP/parts.csv" || fail "resumed on 4 ranks: other samples than one run"

# 3. Failures. rank1.sh makes rank 1 misbehave as MODE says.
cat >"$TMP/rank1.sh" <<'SH'
#!/usr/bin/env bash
if [ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then
  case "$MODE" in
    kill) (sleep 2; kill -KILL $$) & exec "$@" ;;
    hang) (sleep 2; kill -STOP $$) & exec "$@" ;;
    other) exec "$@" --lr 0.5 ;;
    badarg) exec "$@" --lr nan ;;
  esac
fi
exec "$@"
SH
chmod +x "$TMP/rank1.sh"
LONG=("${COMMON[@]}" --steps 10000000 --rank-timeout 5)
for mode in kill hang other badarg; do
  start=$(date +%s)
  MODE=$mode timeout 120 "${MPIRUN[@]}" -x MODE -n 2 "$TMP/rank1.sh" "$FLOWTAPE" train "${LONG[@]}" \
    --out "$TMP/fail-$mode" >"$TMP/fail-$mode.out" 2>&1
  code=$?
  took=$(($(date +%s) - start))
  echo "$mode: exit $code after $took s"
  [ "$code" != 0 ] && [ "$code" != 124 ] || fail "$mode: exit $code (expected the job to fail)"
  [ "$took" -lt 60 ] || fail "$mode: took $took s to end"
  case $mode in
    hang) [ "$code" = 4 ] && grep -q "did not" "$TMP/fail-$mode.out" ||
      fail "hang: expected exit 4 and a timeout message: $(grep error "$TMP/fail-$mode.out")" ;;
    other) [ "$code" = 4 ] && grep -q "disagree on the training configuration" "$TMP/fail-$mode.out" ||
      fail "other arguments: expected exit 4 and the disagreement: $(grep error "$TMP/fail-$mode.out")" ;;
    # A bad value on one rank's command line ends the job with that rank's exit 2 at once,
    # not with the others' timeout (exit 4, after --rank-timeout).
    badarg) [ "$code" = 2 ] && grep -q "error: .*lr" "$TMP/fail-$mode.out" && [ "$took" -lt 5 ] ||
      fail "a bad option on rank 1: expected exit 2 within 5 s: exit $code after $took s: $(grep error "$TMP/fail-$mode.out")" ;;
  esac
done

# 4. A rank count that does not divide the shards (1, the default) is refused in words.
"${MPIRUN[@]}" -n 2 "$FLOWTAPE" train --dataset rings --hidden 16 --depth 2 --batch 64 --no-eval \
  --steps 5 --out "$TMP/odd" \
  >"$TMP/odd.out" 2>&1 && fail "2 ranks with --shards 1 were accepted"
grep -q "power of two dividing shards" "$TMP/odd.out" || fail "2 ranks, shards 1: $(grep error "$TMP/odd.out")"

# 5. After a failed exchange nothing more goes through that collective; leaving the job waits
# for a late rank no longer than the timeout.
PROBE=${3:?usage: mpi_test.sh path/to/flowtape HAS_MPI path/to/mpi_failed_exchange}
for what in exchange leave; do
  "${MPIRUN[@]}" -n 2 "$PROBE" "$what" >"$TMP/broken-$what.out" 2>&1 ||
    fail "$what after a failure: $(grep -m3 FAIL "$TMP/broken-$what.out")"
  [ "$(grep -c '^ok' "$TMP/broken-$what.out")" = 2 ] ||
    fail "$what after a failure: $(tail -3 "$TMP/broken-$what.out")"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "mpi: all checks passed"
