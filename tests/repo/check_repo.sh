#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Repository hygiene, for a clone (skipped, saying so, outside a git checkout):
#   - a LICENSE, and an SPDX line in the first lines of every source, build and script file;
#   - nothing points outside the repository (the project's docs are its own);
#   - the layers' dependencies point down (docs/architecture.md): kernels include no other
#     layer, the runtime only kernels, autodiff only the runtime and kernels, and so on up to
#     train (flows never includes nn: a velocity is any callable).
#   bash tests/repo/check_repo.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "SKIP: not a git checkout, the tracked files cannot be listed"
  exit 0
fi
status=0
[ -f LICENSE ] || { echo "FAIL: no LICENSE file"; status=1; }

missing=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if ! head -n 3 "$f" | grep -q "SPDX-License-Identifier: MIT"; then
    echo "FAIL: no SPDX line in $f"
    missing=$((missing + 1))
  fi
done < <(git ls-files --cached --others --exclude-standard -- \
           '*.cpp' '*.hpp' '*.cu' '*.cuh' '*.sh' '*.py' '*.cmake' '*.in' '*CMakeLists.txt' '.ci/run')
[ "$missing" -eq 0 ] || status=1

# Built from pieces so that this script does not match itself.
outside="\.\./sha""red|/work/sha""red|DESIGN""\.md|PAPERS""\.md"
if git grep -nE "$outside" -- . >/tmp/flowtape_outside.$$ 2>/dev/null; then
  echo "FAIL: references to files outside the repository:"
  cat /tmp/flowtape_outside.$$
  status=1
fi
rm -f /tmp/flowtape_outside.$$

# A layer may include the layers below it only. (Comments may name any file.)
includes_of() { git grep -hE '^#include "flowtape/' -- "$1" | sed -E 's|#include "flowtape/([a-z_]+)/.*|\1|' | sort -u; }
check_layer() {
  local layer=$1; shift
  for used in $(includes_of "$layer/"); do
    case " $* $layer " in *" $used "*) ;; *)
      echo "FAIL: $layer/ includes flowtape/$used/, a layer above it"; status=1 ;;
    esac
  done
}
check_layer kernels
check_layer runtime kernels
check_layer autodiff runtime kernels
check_layer solvers autodiff runtime kernels
check_layer nn autodiff runtime kernels
check_layer flows solvers autodiff runtime kernels
check_layer train flows nn solvers autodiff runtime kernels
[ "$status" -eq 0 ] && echo "repository checks passed"
exit "$status"
