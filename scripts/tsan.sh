#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer over the code that runs on more than one thread: the thread pool
# (kernels/cpu/parallel.cpp, whose workers spin and sleep between jobs) and the kernels that
# split work over it (GEMM blocks, elementwise chunks), with their test suites. Built directly
# with the compiler, outside CMake, since only these few files are needed (~1 minute).
#   bash scripts/tsan.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-build-tsan}
mkdir -p "$OUT"
CXX=${CXX:-c++}
# Sources include <flowtape/kernels/...>: map the prefix as the CMake build does (cmake/headers.cmake).
mkdir -p "$OUT/include/flowtape"
ln -sfn "$PWD/kernels" "$OUT/include/flowtape/kernels"
FLAGS=(-std=c++20 -O1 -g -fsanitize=thread -march=native -I"$OUT/include" -I. -Itests -DBOOST_TEST_DYN_LINK)
objs=()
pids=()
rm -f "$OUT"/*.o  # a failed compile must not leave an old object to link
for f in kernels/cpu/parallel.cpp kernels/cpu/gemm.cpp kernels/cpu/gemm_thin.cpp \
         tests/kernels/main.cpp tests/kernels/test_parallel.cpp tests/kernels/test_gemm.cpp \
         tests/kernels/test_elementwise.cpp; do
  o="$OUT/$(echo "$f" | tr / _).o"
  extra=()
  case "$f" in kernels/cpu/gemm*.cpp) extra=(-ffp-contract=off) ;; esac
  "$CXX" "${FLAGS[@]}" "${extra[@]}" -c "$f" -o "$o" &
  pids+=($!)
  objs+=("$o")
done
for pid in "${pids[@]}"; do wait "$pid"; done  # set -e: the first failed compile stops here
"$CXX" -fsanitize=thread "${objs[@]}" -lboost_unit_test_framework -lpthread -o "$OUT/kernels_tsan"
# setarch -R turns address-space randomisation off for the run: with the 32 random mmap bits
# of recent kernels, GCC 12's ThreadSanitizer can stop at start-up on an "unexpected memory
# mapping".
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$OUT/kernels_tsan" \
  --run_test=parallel,gemm,elementwise --report_level=short
