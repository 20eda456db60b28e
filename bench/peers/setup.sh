#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark peers from PyPI, pinned, in a virtual environment (not part of CI or the build:
# the wheels are a few GB): PyTorch 2.x (eager and torch.compile) and JAX with XLA's CPU
# backend. Debian's PyTorch 1.13 (apt-get install python3-torch) is the fourth peer and needs
# nothing from here.
#   bash bench/peers/setup.sh            # creates $PEERS_VENV (default build/peers-venv)
# Prints the environment's python on stdout. Exit codes: 0 ready; 69 (EX_UNAVAILABLE) when
# python3-venv is missing or PyPI cannot be reached.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
VENV=${PEERS_VENV:-build/peers-venv}
PINS=(numpy==2.4.6 torch==2.15.0 "jax[cpu]==0.10.2")
bash scripts/make_venv.sh "$VENV" "${PINS[@]}"
"$VENV/bin/python" -c 'import torch, jax; print(f"peers: torch {torch.__version__}, jax {jax.__version__}")' >&2
echo "$(cd "$VENV" && pwd)/bin/python"
