#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ThreadSanitizer over the code that runs on more than one thread: the thread pool
# (kernels/cpu/parallel.cpp, whose workers spin and sleep between jobs) and the kernels that
# split work over it (GEMM blocks, elementwise chunks), with their test suites; and the autodiff
# engine with two threads differentiating one shared model, each on its own tape
# (tests/autodiff/test_shared_model.cpp); and the sharded training step's worker threads and
# in-process ranks (tests/train/test_workers.cpp). Built directly with the compiler, outside CMake,
# since only these files are needed (~4 minutes on 2 cores).
#   bash scripts/tsan.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-build-tsan}
mkdir -p "$OUT"
CXX=${CXX:-c++}
# Sources include <flowtape/LAYER/...>: map the prefix as the CMake build does (cmake/headers.cmake).
mkdir -p "$OUT/include/flowtape"
ln -sfn "$PWD/kernels" "$OUT/include/flowtape/kernels"
ln -sfn "$PWD/runtime" "$OUT/include/flowtape/runtime"
ln -sfn "$PWD/autodiff" "$OUT/include/flowtape/autodiff"
ln -sfn "$PWD/train" "$OUT/include/flowtape/train"
FLAGS=(-std=c++20 -O1 -g -fsanitize=thread -march=native -I"$OUT/include" -I. -Itests -DBOOST_TEST_DYN_LINK)

# Every CPU kernel source (a glob, so that a new file cannot be left out of the link).
KERNELS=(kernels/cpu/*.cpp)
# The runtime (its CUDA backend's stand-in, as in a build without CUDA) and autodiff.
AUTODIFF=()
for f in runtime/*.cpp autodiff/*.cpp; do [[ "$f" == runtime/cuda_backend.cpp ]] || AUTODIFF+=("$f"); done
KERNEL_TESTS=(tests/kernels/main.cpp tests/kernels/test_parallel.cpp tests/kernels/test_gemm.cpp
              tests/kernels/test_gemm_kernels.cpp tests/kernels/test_elementwise.cpp)
AUTODIFF_TESTS=(tests/autodiff/main.cpp tests/autodiff/test_shared_model.cpp)
# The sharded step's threads: its workers and in-process ranks (train/).
TRAIN=(train/collective.cpp train/shard_workers.cpp)
TRAIN_TESTS=(tests/train/main.cpp tests/train/test_workers.cpp)

object_of() { echo "$OUT/$(echo "$1" | tr / _).o"; }
compile() {
  local extra=()
  case "$1" in kernels/cpu/gemm*.cpp | kernels/cpu/sum_of_squares.cpp) extra=(-ffp-contract=off) ;; esac
  "$CXX" "${FLAGS[@]}" "${extra[@]}" -c "$1" -o "$(object_of "$1")"
}
rm -f "$OUT"/*.o  # a failed compile must not leave an old object to link
# As many compiles at once as there are cores; the first that fails stops the script.
running=0
for f in "${KERNELS[@]}" "${AUTODIFF[@]}" "${KERNEL_TESTS[@]}" "${AUTODIFF_TESTS[@]}" "${TRAIN[@]}" \
         "${TRAIN_TESTS[@]}"; do
  compile "$f" &
  if ((++running >= $(nproc))); then wait -n || exit 1; ((running--)); fi
done
while ((running > 0)); do wait -n || exit 1; ((running--)); done

objects() { for f in "$@"; do object_of "$f"; done; }
mapfile -t kernel_objects < <(objects "${KERNELS[@]}" "${KERNEL_TESTS[@]}")
mapfile -t autodiff_objects < <(objects "${KERNELS[@]}" "${AUTODIFF[@]}" "${AUTODIFF_TESTS[@]}")
mapfile -t train_objects < <(objects "${KERNELS[@]}" "${AUTODIFF[@]}" "${TRAIN[@]}" "${TRAIN_TESTS[@]}")
"$CXX" -fsanitize=thread "${kernel_objects[@]}" -lboost_unit_test_framework -lpthread \
  -o "$OUT/kernels_tsan"
"$CXX" -fsanitize=thread "${train_objects[@]}" -lboost_unit_test_framework -lpthread \
  -o "$OUT/train_tsan"
"$CXX" -fsanitize=thread "${autodiff_objects[@]}" -lboost_unit_test_framework -lpthread \
  -o "$OUT/autodiff_tsan"
# setarch -R turns address-space randomisation off for the run: with the 32 random mmap bits
# of recent kernels, GCC 12's ThreadSanitizer can stop at start-up on an "unexpected memory
# mapping".
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$OUT/kernels_tsan" \
  --run_test=parallel,gemm,gemm_kernels,elementwise --report_level=short
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$OUT/autodiff_tsan" \
  --run_test=shared_model --report_level=short
TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$OUT/train_tsan" \
  --run_test=workers --report_level=short
