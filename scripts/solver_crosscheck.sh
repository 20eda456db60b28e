#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The solver cross-check against scipy, torchdiffeq and diffrax (not part of CI: it needs PyPI
# and a few GB for the wheels). Builds a virtual environment with pinned versions (VENV, by
# default build/crosscheck-venv), builds flowtape's side (bench/solver_crosscheck) and prints
# the markdown tables of docs/solvers.md's cross-check section.
#   bash scripts/solver_crosscheck.sh > crosscheck.md
# Exit codes: 0 done; 69 (EX_UNAVAILABLE) when PyPI cannot be reached or python3-venv is absent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-build/crosscheck-venv}
PINS=(numpy==2.4.6 scipy==1.17.1 torch==2.15.0 torchdiffeq==0.2.5 "jax[cpu]==0.10.2" diffrax==0.7.2)

if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" >&2; then
    echo "solver_crosscheck: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
    exit 69
  fi
fi
if ! "$VENV/bin/pip" install -q "${PINS[@]}" >&2; then
  echo "solver_crosscheck: could not install ${PINS[*]} from PyPI (is it reachable?)" >&2
  exit 69
fi
if [ ! -d build ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target solver_crosscheck -j"$(nproc)" >&2
lscpu | sed -n 's/^Model name: *//p' | head -1 | sed 's/^/CPU: /'
"$VENV/bin/python" scripts/solver_crosscheck.py --flowtape build/bench/solver_crosscheck
