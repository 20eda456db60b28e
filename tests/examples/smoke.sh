#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of one example program at a tiny setting (seconds): it must run, exit 0, and write
# outputs that parse. Usage: smoke.sh <examples bin dir> <check_outputs> <example> <scratch dir>
# <flowtape command>
set -euo pipefail
bin=$1 check=$2 name=$3 out=$4/$3 flowtape=$5
rm -rf "$out" && mkdir -p "$out"
digits_data=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
case "$name" in
  digits|memorisation|closed_form)
    # The data ships with Debian's python3-sklearn (scripts/setup.sh installs it).
    if [ ! -f "$digits_data" ]; then
      echo "SKIP: $digits_data is absent (apt-get install python3-sklearn)"; exit 77
    fi ;;
esac
case "$name" in
  rings)
    "$bin/rings" --steps 30 --seeds 1 --variants batch,late,point --lambdas 0.3,-0.1 \
                 --samples 200 --alpha 0.3 --out "$out"
    "$check" "$out/results.json" "$out/results.md" "$out/rectified/samples.png" \
             "$out/batch_0.30/density.png" "$out/late_-0.10/trajectories.png" \
             "$out/point_0.00/samples.png" "$out/point_0.30/samples.png" ;;
  divergence)
    "$bin/divergence" --steps 20 --seeds 2 --samples 200 --nll-points 50 --hidden 32 --out "$out"
    "$check" "$out/results.json" "$out/results.md" "$out/checkerboard_fdm_seed0/metrics.json" \
             "$out/checkerboard_fdm_seed0/samples.csv" "$out/checkerboard_cfm_seed0/density.png" \
             "$out/gmm1d_fdm_seed0/histogram.png"
    # The official protocol at a tiny width: Euler-Hutchinson evaluations and the official loss.
    "$bin/divergence" --protocol official --steps 20 --eval-every 10 --seeds 1 --hidden 16 \
                      --depth 2 --batch 64 --samples 200 --nll-points 50 --out "$out/official"
    "$check" "$out/official/results.json" "$out/official/results.md"
    grep -q "best Euler NLL" "$out/official/results.md" ;;
  memorisation)
    "$bin/memorisation" --pairs 8,16 --steps 30 --seeds 2 --samples 200 --hidden 32 --out "$out"
    "$check" "$out/results.json" "$out/results.md"
    "$bin/memorisation" --data 8gaussians --pairs 8 --steps 30 --seeds 1 --samples 200 \
                        --hidden 32 --out "$out/2d"
    "$check" "$out/2d/results.json" "$out/2d/deterministic_training_pairs.png" \
             "$out/2d/noisy_fresh_samples.png"
    # Pairs are drawn without replacement: more than the 1438 training images is refused.
    set +e
    "$bin/memorisation" --pairs 8,1500 --steps 1 --seeds 1 --out "$out/too_many" 2> "$out/too_many.txt"
    code=$?
    set -e
    [ "$code" = 2 ] || { echo "--pairs 1500 exited $code, expected 2"; cat "$out/too_many.txt"; exit 1; }
    grep -q "1438 training images" "$out/too_many.txt" ;;
  closed_form)
    "$bin/closed_form" --train-size 40 --steps 30 --samples 100 --efm-extra 16 --high-dim 16 \
                       --digits-steps 20 --digits-heldout 20 \
                       --hidden 32 --out "$out"
    "$check" "$out/results.json" "$out/results.md" "$out/CFM_samples.png" "$out/closed_form_samples.png" ;;
  cli)
    "$flowtape" train --dataset moons --loss entropic --steps 30 --eval-samples 200 \
                          --nll-samples 50 --hidden 32 --out "$out/run"
    "$check" "$out/run/model.safetensors" "$out/run/config.json" "$out/run/samples.csv" \
             "$out/run/metrics.json" "$out/run/samples.png" "$out/run/density.png" \
             "$out/run/trajectories.png"
    "$flowtape" sample --model "$out/run/model.safetensors" -n 50 --out "$out/s.csv"
    "$flowtape" nll --model "$out/run/model.safetensors" --data "$out/s.csv" > "$out/nll.json"
    "$flowtape" eval --model "$out/run/model.safetensors" --out "$out/eval" --eval-samples 100 --no-nll
    "$check" "$out/s.csv" "$out/nll.json" "$out/eval/metrics.json" "$out/eval/samples.png"
    # A bad option is a clear error with exit code 2, not a crash.
    set +e
    "$flowtape" train --loss bogus --out "$out/bad" 2> "$out/err.txt"
    code=$?
    set -e
    [ "$code" = 2 ] || { echo "expected exit code 2 for a bad option, got $code"; exit 1; }
    grep -q "bogus" "$out/err.txt" || { echo "the error does not name the bad value"; cat "$out/err.txt"; exit 1; } ;;
  embed_trainer)
    (cd "$out" && "$bin/embed_trainer" model.safetensors) | tee "$out/log.txt"
    "$check" "$out/model.safetensors"
    # The trained flow must reach the data: a broken trainer leaves the MMD near 1.
    awk '/MMD/ { if ($NF + 0 > 0.01) { print "FAIL: MMD " $NF " > 0.01"; exit 1 } }' "$out/log.txt" ;;
  digits)
    data=$digits_data
    "$bin/digits" --steps 300 --per-class 20 --classifier-steps 300 --out "$out" | tee "$out/log.txt"
    "$check" "$out/results.json" "$out/results.md" "$out/grid.png"
    # Even 300 steps draw digits the judge mostly recognises; a broken conditioning gives ~10%.
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); a=r["accuracy_guided"]; print("guided accuracy", a); sys.exit(0 if a > 0.5 else 1)' "$out/results.json"
    # A damaged file is refused with the reason (here: one byte of the deflate stream flipped).
    python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[len(b)//2]^=0xff; open(sys.argv[2],"wb").write(b)' "$data" "$out/bad.csv.gz"
    if "$bin/digits" --data "$out/bad.csv.gz" --out "$out/bad" 2> "$out/bad.txt"; then
      echo "FAIL: a damaged digits file was accepted"; exit 1
    fi
    grep -q "not a readable gzip file" "$out/bad.txt" ;;
  autodiff_demo)
    "$bin/autodiff_demo" ;;
  *) echo "unknown example $name"; exit 1 ;;
esac
# The paper programs share the CLI's exit codes: a bad command line is 2 (not CLI11's own 105
# and up), refused before any training, and --help is 0; an --out that is a file is an error
# (1, with the reason), found before any training.
case "$name" in
  rings|divergence|memorisation|closed_form|digits)
    : > "$out/a_file"
    set +e
    "$bin/$name" --out "$out/a_file" 2> "$out/file.txt"
    code=$?
    set -e
    [ "$code" = 1 ] || { echo "'$name --out <a file>' exited $code, expected 1"; cat "$out/file.txt"; exit 1; }
    grep -q "^error: " "$out/file.txt" || { echo "no error message"; cat "$out/file.txt"; exit 1; } ;;
esac
case "$name" in
  rings|divergence|memorisation|closed_form)
    bad=(--steps 0)
    [ "$name" = rings ] && bad=(--lambdas 0.2,nan)
    [ "$name" = divergence ] && bad=(--fdm-weight inf)
    set +e
    "$bin/$name" "${bad[@]}" --out "$out/bad" 2> "$out/bad.txt"
    code=$?
    "$bin/$name" --help > /dev/null
    help=$?
    set -e
    [ "$code" = 2 ] || { echo "'$name ${bad[*]}' exited $code, expected 2"; cat "$out/bad.txt"; exit 1; }
    [ ! -e "$out/bad" ] || { echo "'$name ${bad[*]}' wrote $out/bad before refusing"; exit 1; }
    [ "$help" = 0 ] || { echo "'$name --help' exited $help"; exit 1; } ;;
esac
echo "smoke test of $name passed"
