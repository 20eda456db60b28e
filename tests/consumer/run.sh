#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Uses flowtape the ways a user would, from outside its tree, and runs the user's program
# (train_moons.cpp) each way:
#   install   cmake --install, then find_package(flowtape) (plus every installed header alone)
#   pkgconfig the same install through pkg-config and a bare g++ command line
#   deb       cpack -G DEB, the package unpacked, then find_package against it
#   subdir    add_subdirectory(<flowtape source>) from a parent project
# In each, the user's own compile line must carry none of flowtape's flags.
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
# one (or added its own -O3, -march or warnings) shows up in the checks.
user_flags=(-DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS=-O1)

# Fails if the compile line of train_moons.cpp in $1/compile_commands.json has a flowtape flag.
check_compile_line() {
  local line
  line=$(grep -o '"command": "[^"]*train_moons.cpp[^"]*"' "$1/compile_commands.json")
  for flag in -march -Wall -Wextra -Wpedantic -Wshadow -Werror -O3 -fsanitize; do
    if grep -q -- " $flag" <<<"$line"; then
      echo "FAIL: flowtape put $flag on the user's compile line: $line" >&2
      exit 1
    fi
  done
  echo "compile line clean: $line"
}

# Configures, builds and runs the consumer in $1 with the extra cmake arguments after it.
build_and_run() {
  local dir=$1
  shift
  cmake -S "$consumer" -B "$dir" "${user_flags[@]}" -DFLOWTAPE_CONSUMER_CHECKS=ON "$@" >"$dir.log"
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
      ;;
    pkgconfig)
      [ -d "$work/prefix" ] || cmake --install "$build" --prefix "$work/prefix" >/dev/null
      flags=$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs flowtape)
      echo "pkg-config: $flags"
      # shellcheck disable=SC2086  # the flags are words
      g++ -std=c++20 -O1 "$consumer/train_moons.cpp" $flags -o "$work/train_moons_pc"
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
      build_and_run "$work/subdir" -DFLOWTAPE_SOURCE_DIR="$source_dir"
      ;;
    *)
      echo "unknown mode '$mode' (install, pkgconfig, deb, subdir)" >&2
      exit 2
      ;;
  esac
done
echo "consumer: ${modes[*]} passed"
