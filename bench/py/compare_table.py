#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown table of a bench/compare.sh run: reads its compare.jsonl and prints, per cell
(loss, width, batch, threads), each implementation's median steps/s over rounds, flowtape's
ratio to the best peer of the cell with its range over rounds, and the peak RSS of flowtape
and of the leanest peer (the largest over rounds for each).

The best peer is taken per round: round k's ratio is flowtape's k-th run over the fastest
peer's k-th run (they ran back to back, the order rotated between rounds); the ratio column
is the median over rounds, and "best peer" names the peer fastest in most rounds (of a tie,
the one with the higher median). Where the run also has flowtape's sharded step (impl
"flowtape-shards", compare.sh at T > 1), flowtape's rate in a round is the faster of its two
ways, as each peer's best configuration is its own; both columns are shown, and the RSS is
the larger of the two. At T > 1 every implementation, peers and flowtape alike, is credited
in round k with the faster of its T-thread run and its one-thread run of the same cell and
round (compare_driver.py runs them back to back), where the run has one (THREADS without 1
credits nothing): a peer that runs slower on two threads than on one would leave a core
idle. The steps/s columns of such a cell are these credited rates.

With --peak GFLOPS (one core's f32 FMA peak, `gemm_bench --peak`), a "ceiling" column gives
the ratio to the best peer that flowtape would reach if its step were nothing but its GEMMs at
that peak on every thread: the best peer's step time over (GEMM FLOPs / (peak x threads)).
No implementation can beat it; the gap to the ratio is what the rest of the step
(activations, sampling, the loss, Adam, bookkeeping) and GEMM efficiency cost.
GEMM multiply-adds per sample of the benchmark's MLP (2 + 1 -> W -> W -> W -> 2): the forward
is 3W + 2W^2 + 2W; backward adds the weight gradients (the same again) and the input
gradients of all but the first layer (2W^2 + 2W): 6W^2 + 12W for cfm and entropic. fdm
adds the JVP's tangent pass (one more forward) and its backward (one more backward):
12W^2 + 24W.
"""
import argparse
import json
from collections import Counter
from statistics import median


def gemm_flops(loss, w, batch):
    macs = 6 * w * w + 12 * w
    if loss == "fdm":
        macs *= 2
    return 2.0 * macs * batch


def credited(cells, key):
    """The runs of cell `key`, each rate raised to the same implementation's one-thread run of
    that round where the cell has more threads (RSS and the rest stay the T-thread run's)."""
    c = cells[key]
    if key[3] <= 1:
        return c
    single = cells.get(key[:3] + (1,), {})
    out = {}
    for impl, runs in c.items():
        ones = single.get("flowtape" if impl == "flowtape-shards" else impl, [])
        out[impl] = [dict(r, steps_per_s_median=max(r["steps_per_s_median"],
                                                    ones[k]["steps_per_s_median"]))
                     if k < len(ones) else r for k, r in enumerate(runs)]
    return out


def main(path, peak):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    cells = {}  # (loss, W, batch, threads) -> impl -> runs in order
    for r in rows:
        key = (r["loss"], r["width"], r["batch"], r["threads"])
        cells.setdefault(key, {}).setdefault(r["impl"], []).append(r)
    ours = [i for i in ("flowtape", "flowtape-shards") if any(i in c for c in cells.values())]
    peers = sorted({i for c in cells.values() for i in c if i not in ours})
    head = "| loss | W | batch | threads |" + "".join(f" {p} |" for p in ours + peers)
    head += " best peer | ratio to best | range | flowtape RSS MiB | least peer RSS MiB |"
    head += " ceiling |" if peak else ""
    print(head)
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(ours + peers) +
          " --- | ---: | ---: | ---: | ---: |" + (" ---: |" if peak else ""))
    for key in sorted(cells):
        c = credited(cells, key)
        if "flowtape" not in c or len(c) < 2:
            continue
        rounds = min(len(v) for v in c.values())
        ratios, winners, best_rates = [], Counter(), []
        for k in range(rounds):
            best_impl = max((i for i in c if i not in ours),
                            key=lambda i: c[i][k]["steps_per_s_median"])
            best = c[best_impl][k]["steps_per_s_median"]
            winners[best_impl] += 1
            best_rates.append(best)
            ratios.append(max(c[i][k]["steps_per_s_median"] for i in ours if i in c) / best)
        med = {i: median(r["steps_per_s_median"] for r in runs[:rounds]) for i, runs in c.items()}
        rss = {i: max(r["peak_rss_mb"] for r in runs[:rounds]) for i, runs in c.items()}
        line = f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} |"
        line += "".join(f" {med[p]:.1f} |" if p in med else " - |" for p in ours + peers)
        top = max(winners, key=lambda i: (winners[i], med[i]))
        line += (f" {top} | {median(ratios):.2f} |"
                 f" {min(ratios):.2f}-{max(ratios):.2f} |"
                 f" {max(v for i, v in rss.items() if i in ours):.0f} |"
                 f" {min(v for i, v in rss.items() if i not in ours):.0f} |")
        if peak:
            floor_s = gemm_flops(key[0], key[1], key[2]) / (peak * 1e9 * key[3])
            line += f" {(1 / median(best_rates)) / floor_s:.2f} |"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", help="compare.jsonl of a bench/compare.sh run")
    parser.add_argument("--peak", type=float, default=None,
                        help="one core's f32 FMA peak in GFLOP/s (gemm_bench --peak)")
    args = parser.parse_args()
    main(args.jsonl, args.peak)
