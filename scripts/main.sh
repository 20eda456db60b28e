#!/usr/bin/env bash
# The main job: installs dependencies, builds flowtape, and runs the flagship example.
# Until the flow-matching examples land, the flagship is the autodiff demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target autodiff_demo
./build/examples/autodiff_demo "$@"
