#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# flowtape against the CPU peers people pick today, on flow-matching training steps, side by
# side in one run:
#   torch1-eager    Debian's PyTorch 1.13 (python3-torch), tuned: AVX-512 ATen where the CPU
#                   has it, OpenBLAS's auto-detected kernel, glibc malloc tunables
#   torch2-eager    PyTorch 2.x from PyPI (its own MKL/oneDNN; on an AMD CPU with AVX-512,
#                   MKL's AVX-512 kernels: bench/peers/mkl_on_amd.c), the fused Adam
#   torch2-compile  the same through torch.compile (inductor) and a compiled Adam step
#   jax-jit         JAX with the whole step in one jit (XLA CPU)
# The last three come from bench/peers/setup.sh (a pinned virtual environment); a peer whose
# interpreter or package is missing is skipped, saying so. FDM uses each peer's fastest
# correct Hutchinson formulation: z . (J^T z) by a create_graph VJP in eager PyTorch,
# torch.func.jvp under torch.compile, jax.jvp under jit (bench/peers/flow_torch.py says why).
#
#   bash bench/peers/setup.sh && bash bench/compare.sh     # the full grid, 2 rounds
#   LOSSES=cfm WIDTHS=64 BATCHES=256 THREADS=1 bash bench/compare.sh   # a sub-grid
#   PEERS="torch2-eager jax-jit" bash bench/compare.sh
#
# Grid: loss {cfm, entropic, fdm} x width {64, 256} x batch {256, 1024, 4096} x threads {1, 2}.
# In each cell every implementation runs once per round, the order rotated every round, so
# each sees the same machine load; every process is pinned by taskset to T cores and told to
# use T threads, with the same malloc tunables (bench/py/compare_driver.py runs the loop,
# keeping one served process per peer and thread count). Each run reports the median steps/s
# of REPEATS timed blocks of ~BLOCK_S seconds and its peak RSS, as one JSON line in
# $OUT/compare.jsonl; then bench/py/compare_table.py prints the Markdown table: each
# implementation's median steps/s, flowtape's ratio to the best peer of the cell (with its
# range over rounds) and the peak RSS. At T = 2 every implementation is credited with the
# faster of its two-thread and one-thread runs of the round (a peer may do better leaving a
# core idle, and flowtape also has its sharded step).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD=${BUILD:-$ROOT/build}
OUT=${OUT:-$BUILD/compare}
LOSSES=${LOSSES:-"cfm entropic fdm"}
WIDTHS=${WIDTHS:-"64 256"}
BATCHES=${BATCHES:-"256 1024 4096"}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-2}
REPEATS=${REPEATS:-2}
WARMUP=${WARMUP:-6}
BLOCK_S=${BLOCK_S:-0.3}
PEERS=${PEERS:-"torch1-eager torch2-eager torch2-compile jax-jit"}
SYSTEM_PY=${SYSTEM_PY:-/usr/bin/python3}
PEERS_PY=${PEERS_PY:-$BUILD/peers-venv/bin/python}
ATEN=$(grep -qw avx512f /proc/cpuinfo && echo avx512 || echo default)

FT="$BUILD/bench/flow_bench"
[[ -x "$FT" ]] || { echo "missing $FT: build first (cmake --build $BUILD)" >&2; exit 1; }
# Which peers can run here.
available=()
for p in $PEERS; do
  case "$p" in
    torch1-eager) py=$SYSTEM_PY; probe='import torch; assert torch.__version__.startswith("1.")' ;;
    torch2-*) py=$PEERS_PY; probe='import torch; assert int(torch.__version__.split(".")[0]) >= 2' ;;
    jax-jit) py=$PEERS_PY; probe='import jax' ;;
    *) echo "unknown peer $p" >&2; exit 2 ;;
  esac
  if [[ -x "$py" ]] && "$py" -c "$probe" 2>/dev/null; then
    available+=("$p")
  else
    echo "skipping $p: $py cannot import it (bash bench/peers/setup.sh; apt-get install python3-torch)" >&2
  fi
done
((${#available[@]})) || { echo "no peer available" >&2; exit 1; }
mkdir -p "$OUT"
RES="$OUT/compare.jsonl"
: > "$RES"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) cores"
  echo "peers: ${available[*]}"
  [[ -x "$PEERS_PY" ]] && "$PEERS_PY" -c 'import torch, jax; print(f"PyPI: torch {torch.__version__} (ATen {torch.backends.cpu.get_cpu_capability()}), jax {jax.__version__}")' 2>/dev/null || true
} | tee "$OUT/env.txt"

# The PyPI wheels' MKL runs its AVX2 kernels on an AMD CPU unless told it may take its AVX-512
# ones (bench/peers/mkl_on_amd.c says how and what it is worth): their best configuration here.
MKL_ENV=""
if grep -qm1 AuthenticAMD /proc/cpuinfo && grep -qw avx512f /proc/cpuinfo; then
  if cc -shared -fPIC -O2 -o "$OUT/libmkl_on_amd.so" "$HERE/peers/mkl_on_amd.c"; then
    MKL_ENV="LD_PRELOAD=$OUT/libmkl_on_amd.so MKL_ENABLE_INSTRUCTIONS=AVX512"
  else
    echo "warning: no C compiler for bench/peers/mkl_on_amd.c: PyTorch 2's MKL stays on AVX2" >&2
  fi
fi
echo "PyTorch 2 MKL: ${MKL_ENV:-its own choice}" | tee -a "$OUT/env.txt"

# Each peer as NAME=COMMAND [| VAR=VALUE ...] for the driver, which keeps one served process
# per peer and thread count (bench/py/compare_driver.py).
peer_args=()
for p in "${available[@]}"; do
  case "$p" in
    torch1-eager) peer_args+=(--peer "$p=$SYSTEM_PY $HERE/peers/flow_torch.py --jvp-api vjp | ATEN_CPU_CAPABILITY=$ATEN") ;;
    torch2-eager) peer_args+=(--peer "$p=$PEERS_PY $HERE/peers/flow_torch.py --jvp-api vjp | $MKL_ENV") ;;
    torch2-compile) peer_args+=(--peer "$p=$PEERS_PY $HERE/peers/flow_torch.py --mode compile --jvp-api functorch | $MKL_ENV") ;;
    jax-jit) peer_args+=(--peer "$p=$PEERS_PY $HERE/peers/flow_jax.py") ;;
  esac
done
# At T > 1 flowtape runs both ways it can use T cores: the plain step with T kernel threads
# (flow_bench), and the trainer's sharded step (T micro-batches on T threads, --shards T); the
# table takes the faster, as each peer's best configuration is its own. SHARDS=0 leaves it out.
SHARDS_ARG=()
[ "${SHARDS:-1}" = 1 ] && SHARDS_ARG=(--flowtape-shards)
start=$SECONDS
python3 "$HERE/py/compare_driver.py" --flow-bench "$FT" "${peer_args[@]}" --out "$RES" \
  --losses "$LOSSES" --widths "$WIDTHS" --batches "$BATCHES" --threads "$THREADS" \
  --rounds "$ROUNDS" --repeats "$REPEATS" --warmup "$WARMUP" --block-s "$BLOCK_S" \
  "${SHARDS_ARG[@]}"
echo "elapsed: $((SECONDS - start)) s" | tee -a "$OUT/env.txt" >&2
# The ceiling column needs this core's FMA peak, which gemm_bench measures (built when OpenBLAS
# is installed); without it the table has no ceiling column.
PEAK=()
if [[ -x "$BUILD/bench/gemm_bench" ]] && peak=$("$BUILD/bench/gemm_bench" --peak); then
  PEAK=(--peak "$peak")
  echo "FMA peak of one core: $peak GFLOP/s f32" | tee -a "$OUT/env.txt"
fi
python3 "$HERE/py/compare_table.py" "$RES" "${PEAK[@]}"
