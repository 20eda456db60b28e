#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Uses flowtape the ways a user would, from outside its tree, and runs the user's program
# (train_moons.cpp) each way:
#   install   cmake --install, then find_package(flowtape) (plus every installed header alone)
#   pkgconfig the same install through pkg-config and a bare g++ command line
#   deb       cpack -G DEB, the package unpacked, then find_package against it
#   subdir    flowtape as a subproject (FetchContent, i.e. add_subdirectory), built the way a
#             parent builds it (CPU only, no -march); that build is then installed too, and
#             used with xtensor hidden, and asked for the cuda component it lacks
# In each, the user's compile line must be the project's own plus include folders only.
#   bash tests/consumer/run.sh BUILD_DIR [WORK_DIR] [MODES...]   (default: all four)
set -euo pipefail
build=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${2:-$build/consumer}
shift $(( $# >= 2 ? 2 : 1 ))
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(install pkgconfig deb subdir)
jobs=${JOBS:-$(nproc)}
consumer="$source_dir/tests/consumer"
rm -rf "$work" && mkdir -p "$work"

# The user's flags: a plain optimised build with no build type, so that a flowtape which forced
# one (or added its own flags) shows up in the checks.
user_flags=(-DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS=-O1)

# Fails unless train_moons.cpp's compile line in $1/compile_commands.json is baseline.cpp's
# (the same project, no flowtape) plus include folders.
check_compile_line() {
  python3 - "$1/compile_commands.json" <<'PY'
import json, shlex, sys
entries = {e["file"].rsplit("/", 1)[-1]: e for e in json.load(open(sys.argv[1]))}
def flags(name):
    args = shlex.split(entries[name]["command"])[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = True
            continue
        if not a.endswith(".cpp"):
            out.append(a)
    return out
base, user = flags("baseline.cpp"), flags("train_moons.cpp")
extra, i = [], 0
while i < len(user):
    a = user[i]
    if a in ("-isystem", "-I"):
        i += 2
        continue
    if a.startswith("-I") or a.startswith("-isystem"):
        i += 1
        continue
    if a not in base:
        extra.append(a)
    i += 1
missing = [a for a in base if a not in user]
if extra or missing:
    sys.exit(f"FAIL: train_moons.cpp's compile line differs from the project's own beyond "
             f"include folders: added {extra}, dropped {missing}")
print("compile line: the project's own flags plus include folders")
PY
}

# Configures, builds and runs the consumer in $1 with the extra cmake arguments after it.
build_and_run() {
  local dir=$1
  shift
  cmake -S "$consumer" -B "$dir" "${user_flags[@]}" -DFLOWTAPE_CONSUMER_CHECKS=ON "$@" >"$dir.log" || {
    cat "$dir.log"; exit 1; }
  cmake --build "$dir" -j"$jobs" >>"$dir.log" || { cat "$dir.log"; exit 1; }
  check_compile_line "$dir"
  "$dir/train_moons"
}

for mode in "${modes[@]}"; do
  echo "== consumer: $mode =="
  case $mode in
    install)
      cmake --install "$build" --prefix "$work/prefix" >/dev/null
      build_and_run "$work/install" -DCMAKE_PREFIX_PATH="$work/prefix"
      # A build with MPI installs flowtape::mpi: asked for, it is found (with MPI).
      if [ -n "$(ls "$work"/prefix/lib*/libflowtape_mpi.a "$work"/prefix/lib/*/libflowtape_mpi.a 2>/dev/null)" ]; then
        cmake -S "$consumer" -B "$work/probe-mpi" -DCMAKE_PREFIX_PATH="$work/prefix" \
          -DFLOWTAPE_CONSUMER_PROBE_COMPONENTS="core;train;mpi" >"$work/probe-mpi.log" 2>&1 || {
          cat "$work/probe-mpi.log"; echo "FAIL: find_package(flowtape COMPONENTS mpi)" >&2; exit 1; }
        # ... and a program using flowtape::mpi links (its MPI::MPI_CXX interface resolves).
        cmake --build "$work/probe-mpi" --target mpi_probe >>"$work/probe-mpi.log" 2>&1 || {
          cat "$work/probe-mpi.log"; echo "FAIL: linking flowtape::mpi" >&2; exit 1; }
        echo "find_package(flowtape COMPONENTS mpi): found and linked"
        # Not asked for, flowtape::mpi still links: its MPI is looked for quietly.
        cmake -S "$consumer" -B "$work/link-mpi" -DCMAKE_PREFIX_PATH="$work/prefix" \
          -DFLOWTAPE_CONSUMER_LINK_MPI=ON >"$work/link-mpi.log" 2>&1 &&
          cmake --build "$work/link-mpi" --target mpi_probe >>"$work/link-mpi.log" 2>&1 || {
          cat "$work/link-mpi.log"; echo "FAIL: flowtape::mpi without COMPONENTS mpi" >&2; exit 1; }
        echo "find_package(flowtape) then flowtape::mpi: linked"
      fi
      if [ -n "$(ls "$work"/prefix/lib*/libflowtape_nccl.a "$work"/prefix/lib/*/libflowtape_nccl.a 2>/dev/null)" ]; then
        cmake -S "$consumer" -B "$work/probe-nccl" -DCMAKE_PREFIX_PATH="$work/prefix" \
          -DFLOWTAPE_CONSUMER_PROBE_COMPONENTS="core;train;nccl" >"$work/probe-nccl.log" 2>&1 &&
          cmake --build "$work/probe-nccl" --target nccl_probe >>"$work/probe-nccl.log" 2>&1 || {
          cat "$work/probe-nccl.log"; echo "FAIL: find_package(flowtape COMPONENTS nccl) and linking it" >&2; exit 1; }
        echo "find_package(flowtape COMPONENTS nccl): found and linked"
      fi
      ;;
    pkgconfig)
      [ -d "$work/prefix" ] || cmake --install "$build" --prefix "$work/prefix" >/dev/null
      # lib/ or, with a system prefix such as /usr, lib/<multiarch>/
      PKG_CONFIG_PATH=$(dirname "$(ls "$work"/prefix/lib*/pkgconfig/flowtape.pc "$work"/prefix/lib/*/pkgconfig/flowtape.pc 2>/dev/null | head -n 1)")
      export PKG_CONFIG_PATH
      cflags=$(pkg-config --cflags flowtape)
      for flag in $cflags; do
        [[ $flag == -I* ]] || { echo "FAIL: pkg-config --cflags gives '$flag'" >&2; exit 1; }
      done
      echo "pkg-config: $cflags $(pkg-config --libs flowtape)"
      # shellcheck disable=SC2046  # the flags are words
      g++ -std=c++20 -O1 "$consumer/train_moons.cpp" $(pkg-config --cflags --libs flowtape) \
        -o "$work/train_moons_pc"
      "$work/train_moons_pc"
      ;;
    deb)
      (cd "$build" && cpack -G DEB -B "$work/package" >"$work/cpack.log") || {
        cat "$work/cpack.log"; exit 1; }
      deb=$(ls "$work"/package/*.deb)
      dpkg-deb --field "$deb" Package Version Depends
      dpkg-deb -x "$deb" "$work/root"
      build_and_run "$work/deb" -DCMAKE_PREFIX_PATH="$work/root/usr"
      ;;
    subdir)
      build_and_run "$work/subdir" -DFLOWTAPE_SOURCE_DIR="$source_dir" -DFLOWTAPE_INSTALL=ON
      # That CPU-only build, installed: used without xtensor, and asked for cuda.
      cmake --install "$work/subdir" --prefix "$work/cpu-prefix" >/dev/null
      build_and_run "$work/cpu" -DCMAKE_PREFIX_PATH="$work/cpu-prefix" \
        -DCMAKE_DISABLE_FIND_PACKAGE_xtensor=ON
      if cmake -S "$consumer" -B "$work/probe" -DCMAKE_PREFIX_PATH="$work/cpu-prefix" \
           -DFLOWTAPE_CONSUMER_PROBE_COMPONENTS="core;cuda" >"$work/probe.log" 2>&1; then
        echo "FAIL: find_package(flowtape COMPONENTS cuda) succeeded on a CPU-only install" >&2
        exit 1
      fi
      grep -q "built without its CUDA backend" "$work/probe.log" || {
        cat "$work/probe.log"; echo "FAIL: no reason given for the missing cuda component" >&2; exit 1; }
      echo "find_package(flowtape COMPONENTS cuda) on a CPU-only install: refused, with the reason"
      ;;
    *)
      echo "unknown mode '$mode' (install, pkgconfig, deb, subdir)" >&2
      exit 2
      ;;
  esac
done
echo "consumer: ${modes[*]} passed"
