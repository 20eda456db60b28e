#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end checks of the `flowtape` command (run by ctest as app.cli): training with
# periodic checkpoints, --resume ending bit-identical to an uninterrupted run, exit code 3 and
# the message on a diverging run with the last checkpoint kept, the exit codes of bad input
# (1: bad config file, 2: bad command line), and --device cuda on a machine without a GPU
# (training refused with the reason; a GPU-trained checkpoint samples on the cpu, with a note).
#   bash tests/app/cli_test.sh path/to/flowtape
set -uo pipefail
FLOWTAPE=${1:?usage: cli_test.sh path/to/flowtape}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# Small and fast; a constant learning rate so that the schedule does not depend on --steps.
COMMON=(--dataset rings --hidden 16 --depth 2 --batch 32 --schedule constant --seed 5 --no-eval)

# 1. An uninterrupted 6-step run with a checkpoint every 3 steps.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e-3 --steps 6 --checkpoint-every 3 --out "$TMP/full" 2>"$TMP/full.err"
rc=$?; [ $rc -eq 0 ] || fail "train exited $rc: $(cat "$TMP/full.err")"

# 2. The same run cut after 3 steps, then resumed to 6: the checkpoint has the same bytes.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e-3 --steps 3 --checkpoint-every 3 --out "$TMP/cut" 2>/dev/null
rc=$?; [ $rc -eq 0 ] || fail "the 3-step train exited $rc"
"$FLOWTAPE" train --resume --steps 6 --no-eval --out "$TMP/cut" 2>"$TMP/resume.err"
rc=$?; [ $rc -eq 0 ] || fail "train --resume exited $rc: $(cat "$TMP/resume.err")"
grep -q "resumed .* at step 3" "$TMP/resume.err" || fail "--resume did not say where it resumed"
cmp -s "$TMP/full/model.safetensors" "$TMP/cut/model.safetensors" ||
  fail "the resumed run's checkpoint differs from the uninterrupted run's"

# 3. A diverging run (Adam with lr 1e30): exit code 3, the step named, the checkpoint kept.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e30 --steps 50 --checkpoint-every 1 --out "$TMP/nan" \
  2>"$TMP/nan.err"
rc=$?; [ $rc -eq 3 ] || fail "a diverging run exited $rc, expected 3"
grep -Eq "training stopped at step [0-9]+: the (loss is|gradient of)" "$TMP/nan.err" ||
  fail "no step / quantity in the message: $(cat "$TMP/nan.err")"
grep -q "the last good checkpoint is" "$TMP/nan.err" || fail "the kept checkpoint was not named"
[ -f "$TMP/nan/model.safetensors" ] || fail "the last good checkpoint is missing"
ls "$TMP/nan" | grep -q '\.tmp\.' && fail "a temporary checkpoint file was left behind"

# 4. Bad input: a config file with an unknown key (1), an unknown option (2).
echo '{"stpes": 10}' >"$TMP/bad.json"
"$FLOWTAPE" train --config "$TMP/bad.json" --out "$TMP/bad" 2>"$TMP/bad.err"
rc=$?; [ $rc -eq 1 ] || fail "a bad config file exited $rc, expected 1"
grep -q "unknown key 'stpes'" "$TMP/bad.err" || fail "the bad key was not named: $(cat "$TMP/bad.err")"
# A number beyond double (nlohmann throws out_of_range, not parse_error; found by fuzz_cli).
echo '{"lr": 1e400}' >"$TMP/overflow.json"
"$FLOWTAPE" train --config "$TMP/overflow.json" --out "$TMP/bad" 2>"$TMP/overflow.err"
rc=$?; [ $rc -eq 1 ] || fail "a config with 1e400 exited $rc, expected 1"
grep -q "overflow.json: .*number overflow" "$TMP/overflow.err" ||
  fail "the overflow was not reported with the file: $(cat "$TMP/overflow.err")"
# An infinite tolerance was accepted and written to config.json as null (found by fuzz_cli).
"$FLOWTAPE" train --rtol inf --out "$TMP/bad" 2>"$TMP/inf.err"
rc=$?; [ $rc -eq 1 ] || fail "--rtol inf exited $rc, expected 1"
grep -q "invalid rtol = inf" "$TMP/inf.err" || fail "rtol not named: $(cat "$TMP/inf.err")"
# --device cuda on a machine without a GPU (or a build without CUDA): refused, with the reason.
# (On a GPU machine the short run simply trains.)
"$FLOWTAPE" train --device cuda --steps 2 --no-eval --out "$TMP/dev" 2>"$TMP/dev.err"
rc=$?
if [ $rc -ne 0 ]; then
  [ $rc -eq 1 ] || fail "--device cuda without a GPU exited $rc, expected 1"
  grep -qE "device 'cuda': (no CUDA device|this build has no CUDA)" "$TMP/dev.err" ||
    fail "no reason given: $(cat "$TMP/dev.err")"
fi
# A checkpoint trained with --device cuda samples on a machine without a GPU: on the cpu, with a
# note. (The checkpoint is the 6-step run's with "device": "cuda" written into its config, as a
# GPU run writes it; the weights are the same either way.)
if ! "$FLOWTAPE" train --device cuda --steps 1 --no-eval --out "$TMP/probe" 2>/dev/null; then
  python3 - "$TMP/full/model.safetensors" "$TMP/gpu.safetensors" <<'PY'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
config = json.loads(header["__metadata__"]["config"])
config["device"] = "cuda"
header["__metadata__"]["config"] = json.dumps(config)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
  "$FLOWTAPE" sample --model "$TMP/gpu.safetensors" -n 10 --out "$TMP/gpu.csv" 2>"$TMP/gpu.err"
  rc=$?; [ $rc -eq 0 ] || fail "sampling a cuda-trained checkpoint exited $rc: $(cat "$TMP/gpu.err")"
  grep -q "no CUDA device here, using the cpu" "$TMP/gpu.err" || fail "no note: $(cat "$TMP/gpu.err")"
  [ "$(wc -l <"$TMP/gpu.csv")" -ge 10 ] || fail "the samples were not written"
  "$FLOWTAPE" sample --model "$TMP/gpu.safetensors" --device cuda -n 10 --out "$TMP/gpu2.csv" \
    2>/dev/null
  rc=$?; [ $rc -eq 1 ] || fail "an explicit --device cuda without a GPU exited $rc, expected 1"
fi
"$FLOWTAPE" train --no-such-option 2>/dev/null
rc=$?; [ $rc -eq 2 ] || fail "an unknown option exited $rc, expected 2"

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all flowtape CLI checks passed"
