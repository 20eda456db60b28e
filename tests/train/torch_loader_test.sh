#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The documented way to load a flowtape checkpoint into PyTorch (scripts/flowtape_to_torch.py)
# must rebuild each model exactly: its velocities agree with flowtape's to float32 rounding, for
# every time embedding and every kind of condition (labels, with the null label, by
# concatenation and by FiLM; context vectors). A reference with one velocity changed must fail the check (so the
# check can fail). Skipped (exit 77), saying why, where python3 lacks torch or safetensors; set
# FLOWTAPE_PYTHON to a python that has them (pip install torch safetensors).
# Usage: torch_loader_test.sh <torch_reference> <flowtape_to_torch.py> <scratch dir>
set -euo pipefail
reference=$1 script=$2 out=$3
py=${FLOWTAPE_PYTHON:-python3}
if ! "$py" -c 'import torch, safetensors' 2>/dev/null; then
  echo "SKIP: $py has no torch or safetensors (pip install torch safetensors, or set FLOWTAPE_PYTHON)"
  exit 77
fi
rm -rf "$out" && mkdir -p "$out"
"$reference" "$out"
for name in raw_silu sinusoidal_gelu fourier_tanh labels_concat labels_film context_concat; do
  "$py" "$script" "$out/$name.safetensors" --check "$out/$name.csv"
done
# A --standardize model hands back its mean and scale, and to_data maps with them.
"$py" - "$script" "$out/standardized.safetensors" "$out/standardized.txt" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
from flowtape_to_torch import load_velocity_model
m = load_velocity_model(sys.argv[2])
mean0, mean1, scale0, scale1 = map(float, open(sys.argv[3]).read().split())
assert m.standardization is not None, "no standardization"
x = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
want = torch.tensor([[mean0, mean1], [mean0 + scale0, mean1 - scale1]])
got = m.to_data(x)
assert torch.allclose(got, want, rtol=1e-6), (got, want)
assert load_velocity_model(sys.argv[2].replace("standardized", "raw_silu")).standardization is None
print("standardization handed back")
PY
# A changed velocity (row 5, v0 + 1%) must be caught.
awk -F, 'BEGIN { OFS = "," } NR == 6 { $4 = $4 * 1.01 + 0.01 } { print }' \
    "$out/fourier_tanh.csv" > "$out/changed.csv"
if "$py" "$script" "$out/fourier_tanh.safetensors" --check "$out/changed.csv"; then
  echo "FAIL: a changed velocity passed the check"
  exit 1
fi
# A file without an architecture is refused with the reason, exit 1.
"$py" - "$out/plain.safetensors" <<'PY'
import sys, torch
from safetensors.torch import save_file
save_file({"w": torch.zeros(2)}, sys.argv[1])
PY
if "$py" "$script" "$out/plain.safetensors" 2> "$out/err.txt"; then
  echo "FAIL: a file without an architecture was accepted"
  exit 1
fi
grep -q "no architecture in its metadata" "$out/err.txt"
echo "torch loader checks passed"
