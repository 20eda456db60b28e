#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end checks of the `flowtape` command (run by ctest as app.cli): training with
# periodic checkpoints, --resume ending bit-identical to an uninterrupted run, exit code 3 and
# the message on a diverging run with only a finite checkpoint kept, the exit codes of bad
# input (1: bad config file, 2: bad command line) and --version, --device cuda on a machine
# without a GPU, run folders (an existing run refused, --overwrite, the lock, stale temporary
# files), SIGTERM / SIGINT (a checkpoint, then 143 / 130), outputs that are links, devices,
# stdout or folders, the strict CSV of nll --data with valid JSON out, training on your own
# CSV / .npy data with labels (conditional sampling and likelihood, hostile files refused) and a
# conditional built-in dataset whose --class samples land on their class.
#   bash tests/app/cli_test.sh path/to/flowtape
set -uo pipefail
FLOWTAPE=${1:?usage: cli_test.sh path/to/flowtape}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# with_config_value SRC DST KEY JSON: a copy of checkpoint SRC whose recorded config has KEY set
# to the JSON value (the header rewritten, the tensors' bytes kept).
with_config_value() {
  python3 - "$@" <<'PY'
import json, struct, sys
src, dst, key, value = sys.argv[1:5]
data = open(src, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
config = json.loads(header["__metadata__"]["config"])
config[key] = json.loads(value)
header["__metadata__"]["config"] = json.dumps(config)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
}
# Small and fast; a constant learning rate so that the schedule does not depend on --steps.
COMMON=(--dataset rings --hidden 16 --depth 2 --batch 32 --schedule constant --seed 5 --no-eval)

# 1. An uninterrupted 6-step run with a checkpoint every 3 steps.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e-3 --steps 6 --checkpoint-every 3 --out "$TMP/full" 2>"$TMP/full.err"
rc=$?; [ $rc -eq 0 ] || fail "train exited $rc: $(cat "$TMP/full.err")"
# It ends with one summary line: steps, speed, the loss, the checkpoint.
grep -Eq "^summary: 6 steps \(now at 6 of 6\) in [0-9.]+ s, [0-9]+ steps/s; loss [-0-9.e+]+ at the last step, [-0-9.e+]+ over the last 1; saved $TMP/full/model.safetensors$" "$TMP/full.err" ||
  fail "no summary line: $(tail -n 2 "$TMP/full.err")"

# 2. The same run cut after 3 steps, then resumed to 6: the checkpoint has the same bytes.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e-3 --steps 3 --checkpoint-every 3 --out "$TMP/cut" 2>/dev/null
rc=$?; [ $rc -eq 0 ] || fail "the 3-step train exited $rc"
"$FLOWTAPE" train --resume --steps 6 --no-eval --out "$TMP/cut" 2>"$TMP/resume.err"
rc=$?; [ $rc -eq 0 ] || fail "train --resume exited $rc: $(cat "$TMP/resume.err")"
grep -q "resumed .* at step 3" "$TMP/resume.err" || fail "--resume did not say where it resumed"
cmp -s "$TMP/full/model.safetensors" "$TMP/cut/model.safetensors" ||
  fail "the resumed run's checkpoint differs from the uninterrupted run's"

# Numbered checkpoints: checkpoints/step-N every --checkpoint-every steps, the newest --keep.
"$FLOWTAPE" train "${COMMON[@]}" --steps 5 --checkpoint-every 1 --keep 2 --out "$TMP/keep" \
  2>/dev/null || fail "the --keep run failed"
[ "$(ls "$TMP/keep/checkpoints" | tr '\n' ' ')" = "step-4.safetensors step-5.safetensors " ] ||
  fail "checkpoints kept: $(ls "$TMP/keep/checkpoints" | tr '\n' ' ')"
cmp -s "$TMP/keep/checkpoints/step-5.safetensors" "$TMP/keep/model.safetensors" ||
  fail "model.safetensors is not the latest checkpoint"

# metrics.csv: a row per step, and a resumed run keeps its rows up to the checkpoint.
[ "$(head -1 "$TMP/full/metrics.csv")" = "step,wall_s,loss,cfm,divergence,lr,lambda,grad_norm" ] ||
  fail "metrics.csv header: $(head -1 "$TMP/full/metrics.csv")"
[ "$(cut -d, -f1 "$TMP/cut/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "1 2 3 4 5 6 " ] ||
  fail "the resumed run's metrics.csv steps: $(cut -d, -f1 "$TMP/cut/metrics.csv" | tr '\n' ' ')"
"$FLOWTAPE" train "${COMMON[@]}" --loss fdm --steps 2 --out "$TMP/fdm" 2>"$TMP/fdm.err" ||
  fail "an fdm run failed: $(cat "$TMP/fdm.err")"
grep -q "(cfm [0-9.]*, divergence [0-9.]*)" "$TMP/fdm.err" || fail "no fdm parts: $(cat "$TMP/fdm.err")"
awk -F, 'NR > 1 && ($4 == "" || $5 == "" || $8 <= 0) { bad = 1 } END { exit bad }' \
  "$TMP/fdm/metrics.csv" || fail "fdm rows lack parts or a gradient norm: $(cat "$TMP/fdm/metrics.csv")"

# 3. A diverging run (Adam with lr 1e30): exit code 3, the step named, the checkpoint kept.
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e30 --steps 50 --checkpoint-every 1 --out "$TMP/nan" \
  2>"$TMP/nan.err"
rc=$?; [ $rc -eq 3 ] || fail "a diverging run exited $rc, expected 3"
grep -Eq "training stopped at step [0-9]+: the (loss is|gradient of|parameter)" "$TMP/nan.err" ||
  fail "no step / quantity in the message: $(cat "$TMP/nan.err")"
grep -q "the last good checkpoint is" "$TMP/nan.err" || fail "the kept checkpoint was not named"
[ -f "$TMP/nan/model.safetensors" ] || fail "the last good checkpoint is missing"
# Samples are CSV with one column per dimension, named dim0, dim1 (not x0, x1: in flow-matching
# notation those are the noise and the data).
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out "$TMP/three.csv" 2>/dev/null
[ "$(head -n 1 "$TMP/three.csv")" = "dim0,dim1" ] && [ "$(wc -l < "$TMP/three.csv")" -eq 4 ] ||
  fail "samples CSV: $(head -n 2 "$TMP/three.csv")"

# "The last good checkpoint" is good: an update to non-finite weights is never saved (with lr
# 1e39 the first update already overflows, so no checkpoint is written at all).
"$FLOWTAPE" train "${COMMON[@]}" --lr 1e39 --steps 5 --checkpoint-every 1 --out "$TMP/inf" \
  2>"$TMP/inf-lr.err"
rc=$?; [ $rc -eq 3 ] || fail "lr 1e39 exited $rc, expected 3"
if [ -f "$TMP/inf/model.safetensors" ]; then
  "$FLOWTAPE" sample --model "$TMP/inf/model.safetensors" -n 5 --out "$TMP/inf.csv" 2>/dev/null ||
    fail "the kept checkpoint of the lr 1e39 run does not sample"
  grep -qiE "nan|inf" "$TMP/inf.csv" && fail "the kept checkpoint holds non-finite weights"
else
  grep -q "was not overwritten" "$TMP/inf-lr.err" || fail "no reason: $(cat "$TMP/inf-lr.err")"
fi
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

# An unknown GEMM kernel in FLOWTAPE_GEMM_KERNEL: exit 1, the name in the message, no run folder.
FLOWTAPE_GEMM_KERNEL=avx9000 "$FLOWTAPE" train "${COMMON[@]}" --steps 2 --out "$TMP/kernel" \
  2>"$TMP/kernel.err"
rc=$?; [ $rc -eq 1 ] || fail "an unknown GEMM kernel exited $rc, expected 1"
grep -q "FLOWTAPE_GEMM_KERNEL: no GEMM kernel named 'avx9000'" "$TMP/kernel.err" ||
  fail "the unknown kernel's message: $(cat "$TMP/kernel.err")"
[ ! -e "$TMP/kernel" ] || fail "an unknown GEMM kernel left a run folder"

# FLOWTAPE_NUM_THREADS is read strictly: "8cores" is reported and ignored, not read as 8.
FLOWTAPE_NUM_THREADS=8cores "$FLOWTAPE" train --steps 1 --no-eval --out "$TMP/threads-env" \
  >/dev/null 2>"$TMP/threads-env.err" || fail "a run with a bad FLOWTAPE_NUM_THREADS failed"
grep -q "ignoring FLOWTAPE_NUM_THREADS='8cores'" "$TMP/threads-env.err" ||
  fail "a bad FLOWTAPE_NUM_THREADS went unreported: $(cat "$TMP/threads-env.err")"

# An infinite tolerance was accepted and written to config.json as null (found by fuzz_cli).
"$FLOWTAPE" train --rtol inf --out "$TMP/bad" 2>"$TMP/inf.err"
rc=$?; [ $rc -eq 2 ] || fail "--rtol inf exited $rc, expected 2 (a bad command line)"
grep -q -- "--rtol: must be a finite number above 0, got .inf." "$TMP/inf.err" || fail "rtol not named: $(cat "$TMP/inf.err")"
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
  with_config_value "$TMP/full/model.safetensors" "$TMP/gpu.safetensors" device '"cuda"'
  "$FLOWTAPE" sample --model "$TMP/gpu.safetensors" -n 10 --out "$TMP/gpu.csv" 2>"$TMP/gpu.err"
  rc=$?; [ $rc -eq 0 ] || fail "sampling a cuda-trained checkpoint exited $rc: $(cat "$TMP/gpu.err")"
  grep -q "no CUDA device here, using the cpu" "$TMP/gpu.err" || fail "no note: $(cat "$TMP/gpu.err")"
  [ "$(wc -l <"$TMP/gpu.csv")" -ge 10 ] || fail "the samples were not written"
  "$FLOWTAPE" sample --model "$TMP/gpu.safetensors" --device cuda -n 10 --out "$TMP/gpu2.csv" \
    2>/dev/null
  rc=$?; [ $rc -eq 1 ] || fail "an explicit --device cuda without a GPU exited $rc, expected 1"
fi
# Shard threads are how a cpu run computed its shards: its checkpoint still samples and
# resumes with --device cuda (on this machine refused only for want of a GPU, if it has none).
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --shards 2 --shard-threads 2 --out "$TMP/threads" \
  2>/dev/null || fail "a run with --shard-threads 2 failed"
"$FLOWTAPE" sample --model "$TMP/threads/model.safetensors" --device cuda -n 4 \
  --out "$TMP/threads.csv" 2>"$TMP/threads-sample.err"
grep -q "shard_threads" "$TMP/threads-sample.err" &&
  fail "sample --device cuda refused the run's shard threads: $(cat "$TMP/threads-sample.err")"
"$FLOWTAPE" train --resume --device cuda --steps 3 --out "$TMP/threads" 2>"$TMP/threads-resume.err"
rc=$?
grep -q "shard_threads" "$TMP/threads-resume.err" &&
  fail "resume --device cuda refused the run's shard threads: $(cat "$TMP/threads-resume.err")"
# With a GPU the sharded run resumes there (exit 0); without one it is refused (exit 1).
if grep -q "no CUDA device\|no CUDA backend" "$TMP/threads-resume.err"; then
  [ $rc -eq 1 ] || fail "resume --device cuda without a GPU exited $rc, expected 1"
else
  [ $rc -eq 0 ] || fail "resume --device cuda exited $rc: $(tail -3 "$TMP/threads-resume.err")"
fi
# Combinations the command line alone gets wrong are refused before anything is made (exit 2):
# guidance without condition dropout (it used to fail after training), and a conditional run
# on a built-in dataset without labels (it used to exit 1 and leave its folder behind).
"$FLOWTAPE" train --dataset 8gaussians --hidden 16 --depth 2 --steps 2 --conditional --cond-drop 0 \
  --guidance 2 --out "$TMP/guided" 2>"$TMP/guided.err"
rc=$?; [ $rc -eq 2 ] || fail "--guidance 2 --cond-drop 0 exited $rc, expected 2"
grep -q "cond_drop > 0" "$TMP/guided.err" || fail "no reason: $(cat "$TMP/guided.err")"
[ -e "$TMP/guided" ] && fail "--guidance 2 --cond-drop 0 left a folder"
# A checkpoint written before that rule may hold guidance its model cannot use (this one is
# unconditional): it still samples
# (unguided), and a --guidance given now is refused in words.
with_config_value "$TMP/full/model.safetensors" "$TMP/old-guided.safetensors" guidance 2
"$FLOWTAPE" sample --model "$TMP/old-guided.safetensors" -n 4 --out "$TMP/old-guided.csv" \
  2>"$TMP/old-guided.err" || fail "a checkpoint holding guidance 2: $(cat "$TMP/old-guided.err")"
"$FLOWTAPE" sample --model "$TMP/old-guided.safetensors" -n 4 --guidance 2 \
  --out "$TMP/old-guided2.csv" 2>"$TMP/old-guided2.err"
rc=$?; [ $rc -ne 0 ] && grep -q "cond_drop > 0" "$TMP/old-guided2.err" ||
  fail "--guidance 2 on a model without condition dropout: exit $rc: $(cat "$TMP/old-guided2.err")"
"$FLOWTAPE" train "${COMMON[@]}" --conditional --out "$TMP/unlabeled" 2>"$TMP/unlabeled.err"
rc=$?; [ $rc -eq 2 ] || fail "--conditional on rings exited $rc, expected 2"
grep -q "has no labels" "$TMP/unlabeled.err" || fail "no reason: $(cat "$TMP/unlabeled.err")"
[ -e "$TMP/unlabeled" ] && fail "--conditional on rings left a folder"
"$FLOWTAPE" train --no-such-option 2>/dev/null
rc=$?; [ $rc -eq 2 ] || fail "an unknown option exited $rc, expected 2"
# A choice takes its names only (not the enum's numbers), and a wrong one lists them.
"$FLOWTAPE" train --solver 4 --out "$TMP/numbered" 2>"$TMP/numbered.err"
rc=$?; [ $rc -eq 2 ] || fail "--solver 4 exited $rc, expected 2"
grep -q "'4' is not one of {euler,midpoint,heun,rk4,bosh3,dopri5,tsit5,dopri8,dop853}" \
  "$TMP/numbered.err" || fail "no list of solvers: $(cat "$TMP/numbered.err")"
# The subcommands that read a trained model show the run's settings as their defaults, not a
# fresh run's.
"$FLOWTAPE" sample --help >"$TMP/sample_help.txt" || fail "sample --help failed"
grep -q -- "--device {cpu,cuda} *where to sample: cpu or cuda (default: the run's)" \
  "$TMP/sample_help.txt" || fail "sample --help: $(grep -- --device "$TMP/sample_help.txt")"
grep -q -- "=cpu\|=dopri5\|=1e-05" "$TMP/sample_help.txt" &&
  fail "sample --help shows a fresh run's defaults: $(cat "$TMP/sample_help.txt")"

# 4b. Resume: the run's own config (a --config beside --resume is refused), its schedule kept
# to the original horizon when steps are added, and a finished run says there is nothing to do.
"$FLOWTAPE" train --resume --config "$TMP/bad.json" --out "$TMP/cut" 2>/dev/null
rc=$?; [ $rc -eq 2 ] || fail "--resume with --config exited $rc, expected 2"
"$FLOWTAPE" train --dataset rings --hidden 16 --depth 2 --batch 32 --seed 5 --no-eval \
  --schedule cosine --lr 1e-3 --steps 4 --out "$TMP/cos" 2>/dev/null || fail "the cosine run failed"
"$FLOWTAPE" train --resume --steps 6 --no-eval --out "$TMP/cos" 2>"$TMP/cos.err" ||
  fail "extending the cosine run failed: $(cat "$TMP/cos.err")"
grep -q '"schedule_steps": 4' "$TMP/cos/config.json" ||
  fail "the resumed run did not keep its horizon: $(grep schedule "$TMP/cos/config.json")"
grep -q "lr 0.00e+00" "$TMP/cos.err" || fail "the lr restarted: $(tail -c 300 "$TMP/cos.err")"
"$FLOWTAPE" train --resume --no-eval --out "$TMP/cos" 2>"$TMP/done.err" ||
  fail "resuming a finished run failed: $(cat "$TMP/done.err")"
grep -q "nothing to train: the run is at step 6 of 6" "$TMP/done.err" ||
  fail "no 'nothing to train': $(cat "$TMP/done.err")"
grep -q "loss 0.0000" "$TMP/done.err" && fail "a finished run printed a zero loss"

# 5. Exit codes of the command line: bad values are 2, with short messages; --version is 0.
"$FLOWTAPE" --version >"$TMP/version.out"; rc=$?
[ $rc -eq 0 ] && grep -Eq "^flowtape [0-9]+\.[0-9]+\.[0-9]+" "$TMP/version.out" ||
  fail "--version exited $rc: $(cat "$TMP/version.out")"
for args in "train --steps 0 --out $TMP/zero" "train --seed -1 --out $TMP/zero" \
            "sample --model $TMP/full/model.safetensors -n 2305843009213693952" \
            "train --dataset foo --out $TMP/zero" "sample --model $TMP/full/model.safetensors -n 0" \
            "train --solver euler --euler-steps 200000 --out $TMP/zero" \
            "train --rank-timeout 1e10 --out $TMP/zero"; do
  # shellcheck disable=SC2086
  "$FLOWTAPE" $args 2>"$TMP/code.err"; rc=$?
  [ $rc -eq 2 ] || fail "'$args' exited $rc, expected 2"
  [ "$(wc -c <"$TMP/code.err")" -lt 300 ] || fail "'$args' printed a long message: $(cat "$TMP/code.err")"
done
[ -f "$TMP/zero/model.safetensors" ] && fail "a refused command line trained anyway"
# Sizes are bounded before anything is allocated: refused in words, not by std::bad_alloc.
"$FLOWTAPE" train --batch 100000000 --out "$TMP/big" 2>"$TMP/big.err"; rc=$?
[ $rc -eq 2 ] && grep -q "invalid batch = 100000000: must be in \[1, 16777216\]" "$TMP/big.err" ||
  fail "a huge --batch exited $rc: $(cat "$TMP/big.err")"
"$FLOWTAPE" train --batch 10000000 --hidden 4096 --out "$TMP/big" 2>"$TMP/big.err"; rc=$?
[ $rc -eq 2 ] && grep -q "GiB per step; lower batch, hidden or depth" "$TMP/big.err" ||
  fail "a step too large for memory exited $rc: $(cat "$TMP/big.err")"

# 6. Run folders. A folder that holds a run's files is refused without --resume / --overwrite,
# and its files are untouched; --overwrite replaces the run's files and keeps others; sample
# and eval replace existing outputs only with --overwrite.
cp "$TMP/full/model.safetensors" "$TMP/full.before"
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --out "$TMP/full" 2>"$TMP/exists.err"
rc=$?; [ $rc -eq 1 ] || fail "training over an existing run exited $rc, expected 1"
grep -q "already holds model.safetensors, config.json, .*; continue that run with --resume, replace those files with --overwrite" \
  "$TMP/exists.err" || fail "no advice: $(cat "$TMP/exists.err")"
cmp -s "$TMP/full.before" "$TMP/full/model.safetensors" || fail "the refused run changed the model"
mkdir -p "$TMP/over" && cp "$TMP/full/model.safetensors" "$TMP/over/" &&
  echo '{}' >"$TMP/over/metrics.json" && echo keep >"$TMP/over/notes.txt"
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --overwrite --out "$TMP/over" 2>"$TMP/over.err"
rc=$?; [ $rc -eq 0 ] || fail "--overwrite exited $rc: $(cat "$TMP/over.err")"
[ -f "$TMP/over/metrics.json" ] && fail "--overwrite left the old run's metrics.json"
[ -f "$TMP/over/notes.txt" ] || fail "--overwrite removed a file that is not the run's"
cmp -s "$TMP/full.before" "$TMP/over/model.safetensors" && fail "--overwrite kept the old model"
# --overwrite deletes nothing when the new run cannot start (here: a bad config file).
cp "$TMP/over/model.safetensors" "$TMP/over.before"
"$FLOWTAPE" train --overwrite --config "$TMP/bad.json" --out "$TMP/over" 2>/dev/null
rc=$?; [ $rc -eq 1 ] || fail "--overwrite with a bad config exited $rc, expected 1"
cmp -s "$TMP/over.before" "$TMP/over/model.safetensors" ||
  fail "--overwrite removed the old run although the new one was refused"
# Any file a run writes is protected, not only a checkpoint or config: a folder holding a user's
# own samples.csv is refused and left as it was (no lock file added).
mkdir -p "$TMP/mine" && echo "x,y" >"$TMP/mine/samples.csv"
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --out "$TMP/mine" 2>"$TMP/mine.err"
rc=$?; [ $rc -eq 1 ] && grep -q "already holds samples.csv" "$TMP/mine.err" ||
  fail "training over a user's samples.csv exited $rc: $(cat "$TMP/mine.err")"
[ "$(ls -A "$TMP/mine")" = "samples.csv" ] || fail "the refused run left: $(ls -A "$TMP/mine")"
# --overwrite, and keeping the newest --keep checkpoints, remove only numbered checkpoints
# (step-N.safetensors) from checkpoints/, never other files there.
mkdir -p "$TMP/over/checkpoints" && echo mine >"$TMP/over/checkpoints/my.pt" &&
  echo mine >"$TMP/over/checkpoints/step-3-best.safetensors" &&
  cp "$TMP/over/model.safetensors" "$TMP/over/checkpoints/step-7.safetensors"
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --checkpoint-every 1 --keep 1 --overwrite \
  --out "$TMP/over" 2>"$TMP/over2.err" ||
  fail "--overwrite with user files in checkpoints/ failed: $(cat "$TMP/over2.err")"
[ -f "$TMP/over/checkpoints/my.pt" ] && [ -f "$TMP/over/checkpoints/step-3-best.safetensors" ] ||
  fail "--overwrite or --keep removed a user's file from checkpoints/"
[ "$(cd "$TMP/over/checkpoints" && ls step-?.safetensors)" = "step-2.safetensors" ] ||
  fail "numbered checkpoints after --overwrite --keep 1: $(ls "$TMP/over/checkpoints")"
# --resume of a folder that does not exist is refused without making it.
"$FLOWTAPE" train --resume --out "$TMP/typo" 2>"$TMP/typo.err"
rc=$?; [ $rc -eq 1 ] && grep -q "there is no run folder" "$TMP/typo.err" ||
  fail "--resume of a missing folder exited $rc: $(cat "$TMP/typo.err")"
[ -e "$TMP/typo" ] && fail "--resume of a missing folder created it"
# sample replaces an existing file, and eval existing outputs, only with --overwrite.
echo mine >"$TMP/taken.csv"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out "$TMP/taken.csv" 2>"$TMP/taken.err"
rc=$?; [ $rc -eq 1 ] && grep -q "exists; replace it with --overwrite" "$TMP/taken.err" ||
  fail "sample onto an existing file exited $rc: $(cat "$TMP/taken.err")"
[ "$(cat "$TMP/taken.csv")" = mine ] || fail "the refused sample changed the file"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out "$TMP/taken.csv" --overwrite \
  2>/dev/null || fail "sample --overwrite failed"
[ "$(wc -l <"$TMP/taken.csv")" -eq 4 ] || fail "sample --overwrite did not write the samples"
mkdir -p "$TMP/ev" && echo '{}' >"$TMP/ev/metrics.json"
"$FLOWTAPE" eval --model "$TMP/full/model.safetensors" --out "$TMP/ev" --eval-samples 50 --no-nll \
  >/dev/null 2>"$TMP/ev.err"
rc=$?; [ $rc -eq 1 ] && grep -q "already holds metrics.json; replace those files with --overwrite" \
  "$TMP/ev.err" || fail "eval over existing outputs exited $rc: $(cat "$TMP/ev.err")"
[ "$(cat "$TMP/ev/metrics.json")" = '{}' ] || fail "the refused eval changed metrics.json"
"$FLOWTAPE" eval --model "$TMP/full/model.safetensors" --out "$TMP/ev" --eval-samples 50 --no-nll \
  --overwrite >/dev/null 2>"$TMP/ev.err" || fail "eval --overwrite failed: $(cat "$TMP/ev.err")"
[ "$(cat "$TMP/ev/metrics.json")" != '{}' ] || fail "eval --overwrite kept the old metrics.json"
# A folder locked by another process is refused, naming the holder.
mkdir -p "$TMP/locked"
flock -n "$TMP/locked/.lock" sleep 20 &
holder=$!
sleep 0.5
"$FLOWTAPE" train "${COMMON[@]}" --steps 2 --out "$TMP/locked" 2>"$TMP/locked.err"
rc=$?; [ $rc -eq 1 ] || fail "training into a locked folder exited $rc, expected 1"
grep -q "is in use by another flowtape process" "$TMP/locked.err" ||
  fail "no reason: $(cat "$TMP/locked.err")"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
# Temporary files of killed writers (pids that no longer run) are removed.
mkdir -p "$TMP/stale"
: >"$TMP/stale/model.safetensors.tmp.999999999"
: >"$TMP/stale/config.json.tmp.999999999.3"
: >"$TMP/stale/notes.tmp"        # the user's, not a run file: kept
: >"$TMP/stale/config.json.tmp"  # no writer's pid in its name: kept
"$FLOWTAPE" train "${COMMON[@]}" --steps 1 --out "$TMP/stale" 2>/dev/null ||
  fail "training into a folder with stale temporaries failed"
ls "$TMP/stale" | grep -v -e '^notes\.tmp$' -e '^config\.json\.tmp$' | grep -q '\.tmp' &&
  fail "stale temporaries were left: $(ls "$TMP/stale")"
[ -f "$TMP/stale/notes.tmp" ] && [ -f "$TMP/stale/config.json.tmp" ] ||
  fail "a user's .tmp file was removed"

# 7. SIGTERM and SIGINT: a checkpoint of the last finished step, exit 143 / 130, resumable.
for sig in TERM INT; do
  "$FLOWTAPE" train "${COMMON[@]}" --steps 1000000 --out "$TMP/sig$sig" 2>"$TMP/sig$sig.err" &
  pid=$!
  # config.json is written just before training starts (and the handlers with it).
  for _ in $(seq 100); do [ -f "$TMP/sig$sig/config.json" ] && break; sleep 0.1; done
  sleep 1
  kill -s "$sig" "$pid"; wait "$pid"; rc=$?
  want=$([ "$sig" = TERM ] && echo 143 || echo 130)
  [ $rc -eq "$want" ] || fail "SIG$sig exited $rc, expected $want: $(tail -c 300 "$TMP/sig$sig.err")"
  grep -q "interrupted (SIG$sig) after step [0-9]*; saved" "$TMP/sig$sig.err" ||
    fail "no message for SIG$sig: $(tail -c 300 "$TMP/sig$sig.err")"
  [ -f "$TMP/sig$sig/model.safetensors" ] || fail "no checkpoint after SIG$sig"
done
# A signal during the last step (here the only one, of a model big enough to take seconds)
# finds the run finished: the checkpoint is whole, the evaluation is skipped, and the exit
# status still says the run was interrupted.
# (One thread, whatever FLOWTAPE_NUM_THREADS says: the step takes seconds on any core, and the
# signal comes 0.3 s into it.)
FLOWTAPE_NUM_THREADS=1 "$FLOWTAPE" train --dataset rings --hidden 2048 --depth 4 --batch 16384 \
  --steps 1 --out "$TMP/siglast" 2>"$TMP/siglast.err" &
pid=$!
for _ in $(seq 200); do [ -f "$TMP/siglast/config.json" ] && break; sleep 0.05; done
sleep 0.3
kill -s TERM "$pid"; wait "$pid"; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM in the last step exited $rc, expected 143: $(tail -c 300 "$TMP/siglast.err")"
grep -q "interrupted (SIGTERM) after the last step 1; saved" "$TMP/siglast.err" ||
  fail "no message for SIGTERM in the last step: $(tail -c 300 "$TMP/siglast.err")"
[ -f "$TMP/siglast/model.safetensors" ] || fail "no checkpoint after SIGTERM in the last step"
"$FLOWTAPE" train --resume --steps 3 --no-eval --out "$TMP/sigTERM" 2>"$TMP/sig-resume.err"
rc=$?
# (The interrupted run is past 3 steps, so there is nothing left to do; it must still load.)
[ $rc -eq 0 ] || fail "resuming after SIGTERM exited $rc: $(cat "$TMP/sig-resume.err")"

# 8. Outputs: a symbolic link is written through, a device written into, a folder refused.
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out - >"$TMP/stdout.csv" 2>/dev/null
[ "$(wc -l <"$TMP/stdout.csv")" -eq 4 ] || fail "--out - did not write 3 samples and a header"
ln -s "$TMP/target.csv" "$TMP/link.csv"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out "$TMP/link.csv" 2>/dev/null
[ -L "$TMP/link.csv" ] || fail "the symbolic link was replaced by a file"
[ "$(wc -l <"$TMP/target.csv")" -eq 4 ] || fail "the link's target was not written"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out /dev/stdout >"$TMP/dev.csv" \
  2>/dev/null || fail "--out /dev/stdout failed"
[ "$(wc -l <"$TMP/dev.csv")" -eq 4 ] || fail "--out /dev/stdout did not write the samples"
mkdir -p "$TMP/adir"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --out "$TMP/adir" 2>"$TMP/adir.err"
rc=$?; [ $rc -eq 1 ] || fail "--out DIR exited $rc, expected 1"
grep -q "it is a directory" "$TMP/adir.err" || fail "no reason: $(cat "$TMP/adir.err")"
ls "$TMP" | grep -q '^adir\.tmp' && fail "--out DIR left a temporary file"

# 8b. Checkpoints are read once, in order, and checked before anything is allocated: a pipe
# works, /dev/zero is refused at once, and a config claiming a huge model in a small file is
# refused before the model is built.
"$FLOWTAPE" sample --model <(cat "$TMP/full/model.safetensors") -n 3 --out "$TMP/pipe.csv" \
  2>"$TMP/pipe.err" || fail "a checkpoint through a pipe failed: $(cat "$TMP/pipe.err")"
timeout 20 "$FLOWTAPE" sample --model /dev/zero -n 3 --out "$TMP/zero.csv" 2>"$TMP/zero.err"
rc=$?; [ $rc -eq 1 ] || fail "--model /dev/zero exited $rc, expected 1: $(cat "$TMP/zero.err")"
with_config_value "$TMP/full/model.safetensors" "$TMP/huge.safetensors" hidden 60000
timeout 20 "$FLOWTAPE" sample --model "$TMP/huge.safetensors" -n 3 --out "$TMP/huge.csv" \
  2>"$TMP/huge.err"
rc=$?; [ $rc -eq 1 ] || fail "a config claiming hidden 60000 exited $rc, expected 1"
grep -q "describes a model of at least" "$TMP/huge.err" || fail "no reason: $(cat "$TMP/huge.err")"
# The sizes in the architecture metadata count toward that bound, so each must be a size: a
# negative input_dim would cancel a huge hidden.
python3 - "$TMP/huge.safetensors" "$TMP/negative.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
architecture = json.loads(header["__metadata__"]["architecture"])
architecture["input_dim"] = -1e12
header["__metadata__"]["architecture"] = json.dumps(architecture)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
timeout 20 "$FLOWTAPE" sample --model "$TMP/negative.safetensors" -n 3 --out "$TMP/negative.csv" \
  2>"$TMP/negative.err"
rc=$?; [ $rc -eq 1 ] && grep -q "metadata input_dim = -1000000000000.0 is not a size" "$TMP/negative.err" ||
  fail "a negative input_dim exited $rc: $(cat "$TMP/negative.err")"

# 9. nll --data: strict CSV, non-finite rows refused by line or dropped on request, and the
# output is JSON even when the NLL is not finite.
printf 'x,y\n0.1,0.2\n1,2abc\n' >"$TMP/bad.csv"
"$FLOWTAPE" nll --model "$TMP/full/model.safetensors" --data "$TMP/bad.csv" 2>"$TMP/bad-csv.err"
rc=$?; [ $rc -eq 1 ] || fail "a malformed CSV exited $rc, expected 1"
grep -q "bad.csv:3: column 2: '2abc' is not a number" "$TMP/bad-csv.err" ||
  fail "no line / column: $(cat "$TMP/bad-csv.err")"
printf 'nan,1\n0.1,0.2\n' >"$TMP/nan.csv"
"$FLOWTAPE" nll --model "$TMP/full/model.safetensors" --data "$TMP/nan.csv" 2>"$TMP/nan-csv.err"
rc=$?; [ $rc -eq 1 ] || fail "a nan row exited $rc, expected 1"
grep -q "nan.csv:1: column 1: 'nan' is not a finite" "$TMP/nan-csv.err" ||
  fail "no line: $(cat "$TMP/nan-csv.err")"
"$FLOWTAPE" nll --model "$TMP/full/model.safetensors" --data "$TMP/nan.csv" --drop-nonfinite \
  >"$TMP/drop.json" 2>"$TMP/drop.err" || fail "--drop-nonfinite failed: $(cat "$TMP/drop.err")"
grep -q "dropped 1 rows" "$TMP/drop.err" || fail "the dropped rows were not counted"
printf '1e30,1e30\n0.1,0.2\n' >"$TMP/far.csv"
"$FLOWTAPE" nll --model "$TMP/full/model.safetensors" --data "$TMP/far.csv" >"$TMP/far.json" \
  2>/dev/null
python3 -c 'import json, sys; json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit(c))' \
  "$TMP/far.json" ||
  fail "nll printed invalid JSON: $(cat "$TMP/far.json")"

# 10. Your own data: a 3-D CSV with a label column trains a conditional model (standardised,
# 10% held out); samples are 3-D with a class column, --class picks the class, nll takes each
# point's label; a .npy file of the same points trains too. Hostile files are refused by place.
python3 - "$TMP" <<'PY'
import random, struct, sys
random.seed(1)
rows = []
for i in range(1200):
    k = i % 3
    centre = [(10, 0, 0), (0, 10, 0), (0, 0, 10)][k]
    rows.append([centre[j] + random.gauss(0, 1) for j in range(3)] + [k])
with open(sys.argv[1] + "/own.csv", "w") as f:
    f.write("a,b,c,label\n")
    for r in rows:
        f.write(",".join(f"{v:.6f}" for v in r[:3]) + f",{r[3]}\n")
header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 3), }" % len(rows)
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(sys.argv[1] + "/own.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(b"".join(struct.pack("<3d", *r[:3]) for r in rows))
PY
OWN=(--hidden 32 --depth 2 --batch 128 --steps 400 --eval-samples 200 --nll-samples 50)
"$FLOWTAPE" train --data "$TMP/own.csv" --label-column 3 --standardize --holdout 0.1 "${OWN[@]}" \
  --out "$TMP/own" >"$TMP/own.json" 2>"$TMP/own.err" || fail "train --data failed: $(tail -n 3 "$TMP/own.err")"
[ "$(head -n 1 "$TMP/own/samples.csv")" = "dim0,dim1,dim2,class" ] ||
  fail "own-data samples: $(head -n 1 "$TMP/own/samples.csv")"
grep -q '"reference": "held-out rows"' "$TMP/own/metrics.json" || fail "no held-out reference"
"$FLOWTAPE" sample --model "$TMP/own/model.safetensors" -n 200 --class 2 --out "$TMP/own2.csv" 2>/dev/null
# Class 2 sits at (0, 0, 10): a model that ignored its condition would put the mean near
# (3.3, 3.3, 3.3).
python3 - "$TMP/own2.csv" <<'PY' || fail "samples of --class 2 are not at class 2's centre"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
m = [sum(float(r[j]) for r in rows) / len(rows) for j in range(3)]
print("class 2 mean", m)
sys.exit(0 if abs(m[0]) < 1.5 and abs(m[1]) < 1.5 and abs(m[2] - 10) < 1.5 else 1)
PY
"$FLOWTAPE" nll --model "$TMP/own/model.safetensors" --data "$TMP/own.csv" --label-column 3 \
  >"$TMP/own-nll.json" 2>"$TMP/own-nll.err" || fail "conditional nll failed: $(cat "$TMP/own-nll.err")"
# Three unit Gaussians in 3-D, each scored under its own class: about 3/2 log(2 pi e) = 4.26.
python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["nll_nats"]; print("nll", n); sys.exit(0 if 3.9 < n < 4.8 else 1)' \
  "$TMP/own-nll.json" || fail "conditional NLL far from 4.26: $(cat "$TMP/own-nll.json")"
"$FLOWTAPE" sample --model "$TMP/full/model.safetensors" -n 3 --class 1 --out - >/dev/null 2>"$TMP/nocls.err"
rc=$?; [ $rc -eq 1 ] && grep -q "not conditional" "$TMP/nocls.err" ||
  fail "--class on an unconditional model: rc $rc, $(cat "$TMP/nocls.err")"
"$FLOWTAPE" train --data "$TMP/own.npy" "${OWN[@]}" --no-eval --out "$TMP/own-npy" 2>"$TMP/npy.err" ||
  fail "train --data .npy failed: $(tail -n 2 "$TMP/npy.err")"
"$FLOWTAPE" sample --model "$TMP/own-npy/model.safetensors" -n 4 --out "$TMP/npy4.csv" 2>/dev/null
[ "$(head -n 1 "$TMP/npy4.csv")" = "dim0,dim1,dim2" ] || fail ".npy run samples: $(head -n 1 "$TMP/npy4.csv")"
# nll --data reads .npy as train --data does, and gives what the same points in CSV give.
"$FLOWTAPE" nll --model "$TMP/own-npy/model.safetensors" --data "$TMP/own.npy" -n 1 \
  >"$TMP/npy-nll.json" 2>"$TMP/npy-nll.err" || fail "nll --data .npy failed: $(cat "$TMP/npy-nll.err")"
cut -d, -f1-3 "$TMP/own.csv" | tail -n +2 >"$TMP/own3.csv"
"$FLOWTAPE" nll --model "$TMP/own-npy/model.safetensors" --data "$TMP/own3.csv" -n 1 \
  >"$TMP/csv-nll.json" 2>/dev/null || fail "nll --data of the same points in CSV failed"
python3 -c 'import json,sys; a,b=(json.load(open(f))["nll_nats"] for f in sys.argv[1:]); print("npy", a, "csv", b); sys.exit(0 if abs(a-b) < 1e-3 else 1)' \
  "$TMP/npy-nll.json" "$TMP/csv-nll.json" || fail "nll of the .npy and the CSV differ"
# A bad solver option of sample, nll or eval is a command-line error (2), refused at once.
"$FLOWTAPE" nll --model "$TMP/own-npy/model.safetensors" --rtol 0 >/dev/null 2>"$TMP/rtol.err"
rc=$?; [ $rc -eq 2 ] && grep -q "rtol" "$TMP/rtol.err" || fail "nll --rtol 0: rc $rc, $(cat "$TMP/rtol.err")"
printf 'a,b\n1,2\n3,inf\n' >"$TMP/own-inf.csv"
"$FLOWTAPE" train --data "$TMP/own-inf.csv" --steps 2 --no-eval --out "$TMP/own-inf" 2>"$TMP/own-inf.err"
rc=$?; [ $rc -eq 1 ] && grep -q "own-inf.csv:3: column 2: 'inf' is not a finite" "$TMP/own-inf.err" ||
  fail "a non-finite data row: rc $rc, $(cat "$TMP/own-inf.err")"
head -c 60 "$TMP/own.npy" >"$TMP/short.npy"
"$FLOWTAPE" train --data "$TMP/short.npy" --steps 2 --no-eval --out "$TMP/short" 2>"$TMP/short.err"
rc=$?; [ $rc -eq 1 ] && grep -q "short.npy: byte" "$TMP/short.err" ||
  fail "a truncated .npy: rc $rc, $(cat "$TMP/short.err")"
"$FLOWTAPE" train --data "$TMP/own.csv" --label-column 7 --steps 2 --no-eval --out "$TMP/col7" 2>"$TMP/col7.err"
rc=$?; [ $rc -eq 1 ] && grep -q "label_column 7 but the file has 4 columns" "$TMP/col7.err" ||
  fail "--label-column 7: rc $rc, $(cat "$TMP/col7.err")"
printf '0\n1\n' >"$TMP/two-labels.csv"
"$FLOWTAPE" train --data "$TMP/own.npy" --labels "$TMP/two-labels.csv" --steps 2 --no-eval \
  --out "$TMP/two" 2>"$TMP/two.err"
rc=$?; [ $rc -eq 1 ] && grep -q "has 2 rows but" "$TMP/two.err" ||
  fail "labels of the wrong length: rc $rc, $(cat "$TMP/two.err")"
printf '0\n2\n' >"$TMP/gap-labels.csv"
printf '1,2\n3,4\n' >"$TMP/two-points.csv"
"$FLOWTAPE" train --data "$TMP/two-points.csv" --labels "$TMP/gap-labels.csv" --steps 2 --no-eval \
  --out "$TMP/gap" 2>"$TMP/gap.err"
rc=$?; [ $rc -eq 1 ] && grep -q "no row has label 1" "$TMP/gap.err" ||
  fail "labels with a gap: rc $rc, $(cat "$TMP/gap.err")"
printf '1,2\n3,1e39\n' >"$TMP/big.csv"
"$FLOWTAPE" train --data "$TMP/big.csv" --steps 2 --no-eval --out "$TMP/big" 2>"$TMP/big.err"
rc=$?; [ $rc -eq 1 ] && grep -q "row 2, column 2 is .* (only finite float32" "$TMP/big.err" ||
  fail "a value beyond float32: rc $rc, $(cat "$TMP/big.err")"
# A conditional checkpoint whose metadata claims 2^24 classes is refused before its table is built.
python3 - "$TMP/own/model.safetensors" "$TMP/many-classes.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
condition = json.loads(header["__metadata__"]["condition"])
condition["classes"] = 1 << 24
header["__metadata__"]["condition"] = json.dumps(condition)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
"$FLOWTAPE" sample --model "$TMP/many-classes.safetensors" -n 2 --out - >/dev/null 2>"$TMP/many.err"
rc=$?; [ $rc -eq 1 ] && grep -q "describes a model of at least" "$TMP/many.err" ||
  fail "2^24 claimed classes: rc $rc, $(cat "$TMP/many.err")"
"$FLOWTAPE" train --data "$TMP/own.csv" --label-column 3 --loss efm --steps 2 --out "$TMP/efm" 2>"$TMP/efm.err"
rc=$?; [ $rc -eq 2 ] || fail "conditional efm exited $rc, expected 2 (a bad command line)"

# 11. A built-in conditional dataset: 8gaussians by component; --class 2 lands on (0, 5).
"$FLOWTAPE" train --dataset 8gaussians --conditional --coupling ot --hidden 64 --depth 2 \
  --batch 256 --steps 600 --lr 3e-3 --no-eval --out "$TMP/c8" 2>/dev/null || fail "conditional 8gaussians failed"
for guidance in 0 2; do
  "$FLOWTAPE" sample --model "$TMP/c8/model.safetensors" -n 300 --class 2 --guidance $guidance \
    --out "$TMP/c8-$guidance.csv" 2>/dev/null
  python3 - "$TMP/c8-$guidance.csv" <<'PY' || fail "8gaussians --class 2 (guidance $guidance) is not at (0, 5)"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
m = [sum(float(r[j]) for r in rows) / len(rows) for j in range(2)]
sys.exit(0 if abs(m[0]) < 1.0 and abs(m[1] - 5) < 1.0 and all(r[2] == "2" for r in rows) else 1)
PY
done

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all flowtape CLI checks passed"
