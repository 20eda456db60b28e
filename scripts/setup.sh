#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what flowtape needs to build, test and benchmark on Debian (12 "bookworm" or
# later): the compiler and CMake, xtensor/xsimd, Boost (Test, and Odeint's headers as a peer in
# the solver tests), nlohmann-json, CLI11, stb (PNG plots), OpenBLAS (benchmarks only, as a
# peer), python3 with numpy (the safetensors interop test's independent reader, the docs'
# snippet extraction), python3-sklearn (the digits example's data file), clang (its libFuzzer
# builds the fuzz/ targets), pkgconf (the package test's pkg-config consumer) and OpenMPI
# (flowtape::mpi and `mpirun -n N flowtape train`; tested on 2 and 4 local ranks). Runs
# apt-get only when something is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(g++ cmake make libxtensor-dev libxsimd-dev libboost-dev libboost-test-dev
          libopenblas-dev nlohmann-json3-dev libcli11-dev libstb-dev python3 python3-numpy
          python3-sklearn clang pkgconf openmpi-bin libopenmpi-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "flowtape setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO=sudo
  else
    echo "flowtape setup: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
