#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what flowtape needs to build, test and benchmark on Debian (12 "bookworm" or
# later): the compiler and CMake, xtensor/xsimd, Boost (Test, and Odeint's headers as a peer in
# the solver tests), nlohmann-json, CLI11, stb (PNG plots), OpenBLAS (benchmarks only, as a
# peer), python3 with numpy (the safetensors interop test's independent reader, the docs'
# snippet extraction), python3-sklearn (the digits example's data file), clang and its
# runtimes (libFuzzer builds the fuzz/ targets), pkgconf (the package test's pkg-config consumer) and OpenMPI
# (flowtape::mpi and `mpirun -n N flowtape train`; tested on 2 and 4 local ranks). Runs
# apt-get only when something is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(g++ cmake make libxtensor-dev libxsimd-dev libboost-dev libboost-test-dev
          libopenblas-dev nlohmann-json3-dev libcli11-dev libstb-dev python3 python3-numpy
          python3-sklearn clang pkgconf openmpi-bin libopenmpi-dev)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# clang's libFuzzer and sanitizer runtimes are a package of their own, named after its major
# version, that clang only recommends (libclang-rt-14-dev on Debian 12).
clang_runtime() {
  local major
  major=$(clang -dumpversion 2>/dev/null | cut -d. -f1) || return 0
  [ -n "$major" ] && echo "libclang-rt-$major-dev"
}

install_missing() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "flowtape setup: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=sudo
    else
      echo "flowtape setup: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${UPDATED:-}" ]; then
    $sudo apt-get update -q
    UPDATED=1
  fi
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_missing "${PACKAGES[@]}"
runtime=$(clang_runtime)
if [ -n "$runtime" ] && ! installed "$runtime"; then
  # (install_missing updates the package lists first, which a fresh image may lack.)
  install_missing "$runtime" ||
    echo "flowtape setup: could not install $runtime; the fuzz targets need it" >&2
fi
