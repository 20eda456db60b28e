#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The GPU checks, as one script for a machine with an NVIDIA GPU: the CUDA test suite, the CPU
# suites (the same binaries, on that machine's host; train_tests' device suite trains on the GPU
# there), one `flowtape train --device cuda` run and the same run on the cpu, on a machine with
# two GPUs and mpirun a two-rank run compared byte for byte with one GPU, the GPU training
# benchmark and its PyTorch peer, then the CUDA op suites again under compute-sanitizer with
# the caching allocator off (and, with PROFILE=1, a per-kernel time profile of one training step through Nsight Compute;
# BENCH=0 stops after the tests and the command-line runs).
#
# It runs prebuilt programs, so the GPU machine needs only the CUDA runtime, cuBLAS and
# (for the peer) PyTorch; the build happens on a machine with the project's dependencies:
#   bash scripts/gpu_check.sh pack            # here: copies the built programs into .gpu/
#   bash scripts/gpu_check.sh run             # on the GPU machine, from the repository root
#                                             # (logs in .gpu/logs, or LOG_DIR=dir)
# The build needs the CUDA backend, which is off unless asked for:
#   cmake -S . -B build -DFLOWTAPE_CUDA=ON && cmake --build build -j2
# On a machine that has both, build so, then `bash scripts/gpu_check.sh pack run`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PACK=.gpu

pack() {
  rm -rf "$PACK" && mkdir -p "$PACK/lib" || return 1
  cp build/tests/*_tests build/bench/gpu_train_bench build/app/flowtape "$PACK/" || return 1
  # The shared libraries the programs link that the GPU machine's image may lack (Boost.Test,
  # stb, OpenMPI and its helpers): everything but the C/C++ runtime and the CUDA runtime,
  # cuBLAS and NCCL (hundreds of MB), which run() finds there.
  local libs lib
  libs=$(ldd "$PACK"/* 2>/dev/null | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libpthread|libdl|librt|libcuda|libcudart|libcublas[^/]*|libnccl)\.so') || true
  for lib in $libs; do cp -L "$lib" "$PACK/lib/" || return 1; done
  echo "packed into $PACK/: $(ls "$PACK" | tr '\n' ' ')"
}

# memcheck LOG PROGRAM [ARGS...]: one suite under compute-sanitizer, its tail appended to
# LOG/memcheck.txt; fails on any memory error or failed test.
memcheck() {
  local log=$1
  shift
  FLOWTAPE_CUDA_ALLOCATOR=direct timeout "${SANITIZER_SECONDS:-300}" \
    compute-sanitizer --tool memcheck --print-limit 20 --error-exitcode 1 \
    "$@" --report_level=short 2>&1 | tail -60 | tee -a "$log/memcheck.txt"
}

# Two GPU ranks under mpirun train the bytes of one GPU with the same shards (the NCCL
# exchanges that one rank never makes); skipped, saying why, with one GPU or no mpirun.
two_gpus() {
  local log=$1 gpus
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU') || true
  if [ "${gpus:-0}" -lt 2 ] || ! command -v mpirun >/dev/null; then
    echo "== two GPU ranks: skipped (${gpus:-0} GPU(s); mpirun $(command -v mpirun >/dev/null &&
      echo found || echo missing)) ==" | tee "$log/two_gpus.txt"
    return 0
  fi
  echo "== two GPU ranks (mpirun -n 2) against one GPU =="
  local args=(train --device cuda --dataset rings --loss entropic --lambda-max 1 --ramp-end 0
    --hidden 64 --batch 1024 --shards 4 --steps 50 --seed 7 --no-eval)
  rm -rf /tmp/flowtape_one_gpu /tmp/flowtape_two_gpus
  if "$PACK/flowtape" "${args[@]}" --out /tmp/flowtape_one_gpu >"$log/one_gpu.txt" 2>&1 &&
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n 2 --bind-to none \
      "$PACK/flowtape" "${args[@]}" --out /tmp/flowtape_two_gpus >"$log/two_gpus.txt" 2>&1 &&
    cmp /tmp/flowtape_one_gpu/model.safetensors /tmp/flowtape_two_gpus/model.safetensors; then
    echo "two GPUs: the bytes of one" | tee -a "$log/two_gpus.txt"
  else
    echo "two GPUs: FAILED (see $log/one_gpu.txt and two_gpus.txt)"
    return 1
  fi
}

run() {
  local log=${1:-$PACK/logs}
  mkdir -p "$log"
  # cuBLAS and the CUDA runtime: the toolkit's, else the copies PyTorch's wheels bring.
  local libs="$PWD/$PACK/lib"
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [ -d "$d" ] && libs+=":$d"; done
  local cublas
  cublas=$(find /usr/local /opt /usr/lib -name 'libcublas.so.13' 2>/dev/null | head -1)
  [ -n "$cublas" ] && libs+=":$(dirname "$cublas")"
  local nccl  # for nccl_tests and flowtape (the toolkit's, or PyTorch's nvidia-nccl wheel)
  nccl=$(find /usr/local /opt /usr/lib -name 'libnccl.so.2' 2>/dev/null | head -1)
  [ -n "$nccl" ] && libs+=":$(dirname "$nccl")"
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$log/device.txt"
  ldd "$PACK/cuda_tests" | grep -E 'not found|cublas|cudart|boost' | tee -a "$log/device.txt"
  local rc=0
  # A loop piped into tee runs in a subshell, where rc=1 would be lost: failures inside one
  # leave this file instead.
  local failed="$log/FAILED"
  rm -f "$failed"
  echo "== cuda_tests =="
  "$PACK/cuda_tests" --log_level=test_suite --report_level=short 2>&1 | tee "$log/cuda_tests.txt" || rc=1
  echo "== the CPU suites =="
  for t in "$PACK"/*_tests; do
    [ "$(basename "$t")" = cuda_tests ] && continue
    echo "-- $(basename "$t")"
    "$t" --report_level=short 2>&1 | tail -4 || : >"$failed"
  done | tee "$log/cpu_suites.txt"
  echo "== flowtape train --device cuda, then the same run on the cpu =="
  for dev in cuda cpu; do
    local start=$SECONDS
    "$PACK/flowtape" train --device "$dev" --dataset checkerboard --loss fdm --steps 1000 \
      --batch 1024 --hidden 256 --eval-samples 2000 --out "/tmp/flowtape_$dev" >"/tmp/metrics_$dev.json" \
      2>/tmp/train_$dev.err || { : >"$failed"; tail -3 "/tmp/train_$dev.err"; }
    echo "$dev: $((SECONDS - start)) s, $(tr -d ' \n' <"/tmp/metrics_$dev.json")"
  done | tee "$log/cli_runs.txt"
  [ -e "$failed" ] && rc=1
  two_gpus "$log" || rc=1
  [ "${BENCH:-1}" = "1" ] || return $rc
  echo "== gpu_train_bench (flowtape) =="
  "$PACK/gpu_train_bench" 2>&1 | tee "$log/bench_flowtape.txt" || rc=1
  echo "== torch_gpu_train.py (PyTorch) =="
  PYTHONUNBUFFERED=1 python3 -c 'import torch; print("torch", torch.__version__)' | tee "$log/bench_torch.txt"
  PYTHONUNBUFFERED=1 python3 bench/torch_gpu_train.py 2>&1 | tee -a "$log/bench_torch.txt" || rc=1
  if [ "${PROFILE:-0}" = "1" ] && command -v ncu >/dev/null; then
    # Where a CFM step at batch 65536 spends its time: each kernel's duration over two steps,
    # after the first 200 kernels (warm-up steps)' kernels (bench/py/kernel_profile.py sums the CSV by kernel).
    echo "== kernel durations (ncu), cfm batch 65536 =="
    timeout 120 ncu --metrics gpu__time_duration.sum --clock-control none --csv \
      -s "${PROFILE_SKIP:-200}" -c "${PROFILE_COUNT:-150}" \
      "$PACK/gpu_train_bench" cfm 65536 12 >"$log/profile_cfm_65536.csv" 2>"$log/profile_stderr.txt" \
      || echo "ncu failed (rc $?): see profile_stderr.txt"
    python3 bench/py/kernel_profile.py "$log/profile_cfm_65536.csv" || true
  fi
  if command -v compute-sanitizer >/dev/null; then
    # With the caching allocator off, so that memcheck sees each request's own end and each
    # freed block; the op suites only (the training suites repeat their kernels many times).
    echo "== cuda_tests (forward, gradients, rng, flows_on_gpu) and nccl_tests under compute-sanitizer (memcheck) =="
    : >"$log/memcheck.txt"
    memcheck "$log" "$PACK/cuda_tests" --run_test=forward,gradients,rng,flows_on_gpu || rc=1
    if [ -x "$PACK/nccl_tests" ]; then  # the NCCL group's buffers, from the same allocator
      memcheck "$log" "$PACK/nccl_tests" || rc=1
    fi
  fi
  return $rc
}

status=0
for verb in "$@"; do
  case "$verb" in
    pack) pack || status=1 ;;
    run) run "${LOG_DIR:-$PACK/logs}" || status=1 ;;
    *) echo "usage: $0 pack|run ..." >&2; exit 2 ;;
  esac
done
exit $status
