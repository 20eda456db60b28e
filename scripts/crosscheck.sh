#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cross-checks against outside implementations (not part of CI: they need PyPI and a few GB
# for the wheels). Builds a virtual environment with pinned versions (VENV, by default
# build/crosscheck-venv) and flowtape's side of the check, then prints its markdown tables:
#   bash scripts/crosscheck.sh solvers     # scipy, torchdiffeq, diffrax   (docs/solvers.md)
#   bash scripts/crosscheck.sh objectives  # torchcfm, flow_matching       (docs/objectives.md)
# Exit codes: 0 done; 2 bad usage; 69 (EX_UNAVAILABLE) when PyPI cannot be reached or
# python3-venv is absent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-build/crosscheck-venv}
case "${1:-}" in
  solvers) PINS=(numpy==2.4.6 scipy==1.17.1 torch==2.15.0 torchdiffeq==0.2.5 "jax[cpu]==0.10.2"
                 diffrax==0.7.2) ;;
  objectives) PINS=(numpy==2.4.6 torch==2.15.0 torchcfm==1.0.7 flow_matching==1.0.10
                    POT==0.9.7.post1) ;;
  *) echo "usage: bash scripts/crosscheck.sh solvers|objectives" >&2; exit 2 ;;
esac
PROGRAM=${1%s}_crosscheck  # solver_crosscheck, objective_crosscheck

bash scripts/make_venv.sh "$VENV" "${PINS[@]}"
if [ ! -d build ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target "$PROGRAM" -j"$(nproc)" >&2
lscpu | sed -n 's/^Model name: *//p' | head -1 | sed 's/^/CPU: /'
"$VENV/bin/python" "scripts/$PROGRAM.py" --flowtape "build/bench/$PROGRAM"
