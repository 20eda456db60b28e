#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan, in build-fuzz/) and runs each
# for a fixed time over its seed corpus (fuzz/corpus/<target>/). New interesting inputs go to
# build-fuzz/corpus/<target>/, never into the repository; a crash, sanitizer report, timeout or
# out-of-memory fails the script and leaves the input in build-fuzz/findings/. Keep such an
# input as fuzz/corpus/<target>/regress_* with a unit test that expects its error message.
#   bash scripts/fuzz.sh                      # 20 s per target (what CI runs)
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh     # longer, locally
#   FUZZ_TARGETS=cli bash scripts/fuzz.sh     # one target
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${JOBS:-$(nproc)}
SECONDS_EACH=${FUZZ_SECONDS:-20}
TARGETS=${FUZZ_TARGETS:-"safetensors cli"}

if ! command -v clang++ >/dev/null; then
  echo "scripts/fuzz.sh: needs clang++ with libFuzzer (Debian package clang); run scripts/setup.sh" >&2
  exit 1
fi

echo "== libFuzzer build (clang, ASan + UBSan) =="
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFLOWTAPE_FUZZ=ON -DFLOWTAPE_BUILD_TESTS=OFF -DFLOWTAPE_BUILD_BENCH=OFF \
      -DFLOWTAPE_BUILD_EXAMPLES=OFF -DFLOWTAPE_CUDA=OFF >/dev/null
targets=()
for t in $TARGETS; do targets+=("fuzz_$t"); done
cmake --build build-fuzz -j"$JOBS" --target "${targets[@]}"

mkdir -p build-fuzz/findings
for t in $TARGETS; do
  echo "== fuzz_$t: ${SECONDS_EACH}s =="
  mkdir -p "build-fuzz/corpus/$t"
  # -rss_limit_mb: a loader that tries to allocate what a hostile header asks for is a finding.
  # -timeout: one input taking 10 s is a hang.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -timeout=10 \
    -max_len=100000 -print_funcs=0 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t-" \
    "build-fuzz/corpus/$t" "fuzz/corpus/$t"
done
echo "fuzzing found nothing"
