#!/usr/bin/python3
"""Markdown table of a bench/compare.sh run: reads its compare.jsonl, pairs each flowtape cell
with the PyTorch process of the same (loss, width, batch, threads), and prints steps/s, the
ratio flowtape / torch, and both peak RSS.

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


def gemm_flops(loss, w, batch):
    macs = 6 * w * w + 12 * w
    if loss == "fdm":
        macs *= 2
    return 2.0 * macs * batch


def main(path, peak):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    key = lambda r: (r["loss"], r["width"], r["batch"], r["threads"])  # noqa: E731
    ft = {key(r): r for r in rows if r["impl"] == "flowtape"}
    th = {key(r): r for r in rows if r["impl"] == "torch"}
    best = {}
    for k, r in th.items():
        best[k[:3]] = max(best.get(k[:3], 0), r["steps_per_s_median"])
    ceiling = " ceiling |" if peak else ""
    print("| loss | W | batch | threads | flowtape steps/s | torch steps/s | ratio | vs best torch "
          f"| flowtape RSS MiB | torch RSS MiB |{ceiling}")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" +
          (" ---: |" if peak else ""))
    for k in ft:
        if k not in th:
            continue
        a, b = ft[k]["steps_per_s_median"], th[k]["steps_per_s_median"]
        extra = ""
        if peak:
            floor_s = gemm_flops(k[0], k[1], k[2]) / (peak * 1e9 * k[3])
            extra = f" {(1 / best[k[:3]]) / floor_s:.2f} |"
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {a:.1f} | {b:.1f} | {a / b:.2f} | "
              f"{a / best[k[:3]]:.2f} | {ft[k]['peak_rss_mb']:.0f} | {th[k]['peak_rss_mb']:.0f} |"
              f"{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsonl", help="compare.jsonl of a bench/compare.sh run")
    parser.add_argument("--peak", type=float, default=None,
                        help="one core's f32 FMA peak in GFLOP/s (gemm_bench --peak)")
    args = parser.parse_args()
    main(args.jsonl, args.peak)
