#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Markdown table of a bench/compare.sh run: reads its compare.jsonl, pairs the k-th flowtape
process of each (loss, width, batch, threads) cell with the k-th PyTorch process of the same
cell (one pair per round; the two ran back to back), and prints the medians over rounds of
steps/s and of each pair's ratio flowtape / torch, the range of the ratios, and both peak
RSS (the largest over rounds). A run with one round gives one pair per cell and no range.

"vs best torch" divides by torch's faster thread setting for the cell (1 or 2 threads):
torch with 2 OpenMP + 2 OpenBLAS threads can collapse on a busy 2-core machine (spinning
threads), and a ratio against that collapse would flatter flowtape.

With --peak GFLOPS (one core's f32 FMA peak, `gemm_bench --peak`), a "ceiling" column gives
the ratio to torch's best thread setting that flowtape would reach if its step were nothing
but its GEMMs at that peak on every thread: torch's best step time over (GEMM FLOPs / (peak x
threads)). No implementation can beat it; the gap to "vs best torch" is what the rest of the
step (activations, sampling, the loss, Adam, bookkeeping) and GEMM efficiency cost.
GEMM multiply-adds per sample of the benchmark's MLP (2 + 1 -> W -> W -> W -> 2): the forward
is 3W + 2W^2 + 2W; backward adds the weight gradients (the same again) and the input
gradients of all but the first layer (2W^2 + 2W): 6W^2 + 12W for cfm and entropic. fdm
adds the JVP's tangent pass (one more forward) and its backward (one more backward):
12W^2 + 24W.
"""
import argparse
import json
import sys
from statistics import median


def gemm_flops(loss, w, batch):
    macs = 6 * w * w + 12 * w
    if loss == "fdm":
        macs *= 2
    return 2.0 * macs * batch


def main(path, peak):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    key = lambda r: (r["loss"], r["width"], r["batch"], r["threads"])  # noqa: E731
    ft, th = {}, {}
    for r in rows:
        (ft if r["impl"] == "flowtape" else th).setdefault(key(r), []).append(r)
    # Round i's best torch for (loss, W, batch): the faster of its two thread settings' i-th
    # runs. Those ran minutes apart (the grid loops over threads inside batch), so this pairing
    # is not back to back; "ratio" is the paired measure.
    best = {}
    for k, runs in th.items():
        cur = best.setdefault(k[:3], [])
        for i, r in enumerate(runs):
            if i < len(cur):
                cur[i] = max(cur[i], r["steps_per_s_median"])
            else:
                cur.append(r["steps_per_s_median"])
    rounds = max(len(v) for v in ft.values()) if ft else 0
    spread = " ratio range |" if rounds > 1 else ""
    ceiling = " ceiling |" if peak else ""
    print("| loss | W | batch | threads | flowtape steps/s | torch steps/s | ratio |"
          f"{spread} vs best torch | flowtape RSS MiB | torch RSS MiB |{ceiling}")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if rounds > 1 else "") +
          " ---: | ---: | ---: |" + (" ---: |" if peak else ""))
    for k in ft:
        if k not in th:
            print(f"warning: {k}: no torch run, cell left out", file=sys.stderr)
            continue
        n = min(len(ft[k]), len(th[k]))
        if len(ft[k]) != len(th[k]):
            print(f"warning: {k}: {len(ft[k])} flowtape and {len(th[k])} torch runs; "
                  f"pairing the first {n}", file=sys.stderr)
        a = [r["steps_per_s_median"] for r in ft[k][:n]]
        b = [r["steps_per_s_median"] for r in th[k][:n]]
        ratios = [x / y for x, y in zip(a, b)]
        vs_best = median([x / y for x, y in zip(a, best[k[:3]])])
        extra = f" {min(ratios):.2f}-{max(ratios):.2f} |" if rounds > 1 else ""
        rss_a = max(r["peak_rss_mb"] for r in ft[k][:n])
        rss_b = max(r["peak_rss_mb"] for r in th[k][:n])
        tail = ""
        if peak:
            floor_s = gemm_flops(k[0], k[1], k[2]) / (peak * 1e9 * k[3])
            tail = f" {(1 / median(best[k[:3]])) / floor_s:.2f} |"
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {median(a):.1f} | {median(b):.1f} | "
              f"{median(ratios):.2f} |{extra} {vs_best:.2f} | {rss_a:.0f} | {rss_b:.0f} |{tail}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", help="compare.jsonl of a bench/compare.sh run")
    parser.add_argument("--peak", type=float, default=None,
                        help="one core's f32 FMA peak in GFLOP/s (gemm_bench --peak)")
    args = parser.parse_args()
    main(args.jsonl, args.peak)
