#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A Python virtual environment with pinned packages from PyPI, for the scripts that compare
# flowtape with outside implementations (never CI, never the build).
#   bash scripts/make_venv.sh VENV PIN...     e.g. build/peers-venv torch==2.15.0
# Exit codes: 0 ready; 69 (EX_UNAVAILABLE) when python3-venv is missing or PyPI cannot be
# reached; 2 bad usage.
set -euo pipefail
(($# >= 2)) || { echo "usage: make_venv.sh VENV PIN..." >&2; exit 2; }
venv=$1
shift
if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >&2; then
  echo "make_venv: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
  exit 69
fi
if ! "$venv/bin/pip" install -q "$@" >&2; then
  echo "make_venv: could not install $* from PyPI (is it reachable?)" >&2
  exit 69
fi
