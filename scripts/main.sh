#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs dependencies, builds flowtape, and runs the flagship example, rings
# (rectified vs risk-entropic flow matching on ring data with gaps, 3 seeds). Its table is
# printed and written to runs/rings/results.md, with plots under runs/rings/<method>/.
# Extra arguments go to the program, e.g. `bash scripts/main.sh --steps 500 --seeds 1`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target rings flowtape
./build/examples/rings --out runs/rings "$@"
