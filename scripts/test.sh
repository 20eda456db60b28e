#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds flowtape and runs every test suite, then the suites again under AddressSanitizer
# and UndefinedBehaviorSanitizer, the multithreaded kernels' suites under ThreadSanitizer
# (scripts/tsan.sh), then the fuzzers (scripts/fuzz.sh, 20 s each). Installs its
# dependencies first (scripts/setup.sh).
#   bash scripts/test.sh                    # all three passes
#   SANITIZE=0 FUZZ=0 bash scripts/test.sh  # the optimised pass only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${JOBS:-$(nproc)}

bash scripts/setup.sh

echo "== release build: tests =="
# CUDA=AUTO: CI's machines have the toolkit but no GPU, so the backend is compiled and its
# suites skip; where nvcc is missing it is left out, and the line below says which.
mkdir -p build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLOWTAPE_WERROR=ON -DFLOWTAPE_CUDA=AUTO \
  >build/configure.log
grep -h "flowtape: CUDA backend" build/configure.log || true
cmake --build build -j"$JOBS"
(cd build && ctest -j"$JOBS" --output-on-failure)

if [ "${SANITIZE:-1}" = "1" ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build: tests =="
  # Release flags, as the release pass: the sanitizers need no -g to report (frames come from
  # the frame pointers), the suites run faster optimised, and at -O1 GCC 12 reports false
  # "may be used uninitialized" warnings for the kernels' empty functors under the sanitizers.
  # CUDA is off here: the CUDA runtime does not run under ASan, and this pass compiles the
  # "built without CUDA" stubs instead, so both configurations are built on every CI run. MPI
  # is off too (OpenMPI's own allocations read as leaks); the ranks' logic runs here through
  # train_tests' in-process ranks, and MPI itself in the release pass (app.mpi).
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DFLOWTAPE_SANITIZE=ON \
        -DFLOWTAPE_WERROR=ON -DFLOWTAPE_BUILD_BENCH=OFF -DFLOWTAPE_CUDA=OFF -DFLOWTAPE_MPI=OFF \
        >/dev/null
  # Only the test executables: the example programs and the flowtape command are compiled,
  # warnings as errors, and smoke-tested by the release pass, so their smoke tests are skipped
  # here (they would add a third to this pass's build time for little extra coverage: the
  # trainer and configuration code they share is exercised by train_tests under the sanitizers).
  # flows_tests.flow_training (three 800-step trainings, 90 s under ASan) is skipped too: its
  # code paths run under the sanitizers in train_tests and nn_tests.training. So are the
  # documentation snippets, the package checks (a user's program does not link the ASan
  # runtime) and the repository checks, which the release pass runs.
  cmake --build build-sanitize -j"$JOBS" --target flowtape_tests
  (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j"$JOBS" --output-on-failure \
       -E '^(examples[.]|app[.](cli|mpi)$|flows_tests[.]flow_training$|docs[.]|package[.]|repo[.])')
  echo "== ThreadSanitizer: the thread pool and the kernels that use it =="
  bash scripts/tsan.sh
fi

if [ "${FUZZ:-1}" = "1" ]; then
  bash scripts/fuzz.sh
fi
