#!/usr/bin/python3
"""Markdown table of a bench/compare.sh run: reads its compare.jsonl, pairs each flowtape cell
with the PyTorch process of the same (loss, width, batch, threads), and prints steps/s, the
ratio flowtape / torch, and both peak RSS.

"vs best torch" divides by torch's faster thread setting for the cell (1 or 2 threads):
torch with 2 OpenMP + 2 OpenBLAS threads can collapse on a busy 2-core machine (spinning
threads), and a ratio against that collapse would flatter flowtape.
"""
import json
import sys


def main(path):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    key = lambda r: (r["loss"], r["width"], r["batch"], r["threads"])  # noqa: E731
    ft = {key(r): r for r in rows if r["impl"] == "flowtape"}
    th = {key(r): r for r in rows if r["impl"] == "torch"}
    best = {}
    for k, r in th.items():
        best[k[:3]] = max(best.get(k[:3], 0), r["steps_per_s_median"])
    print("| loss | W | batch | threads | flowtape steps/s | torch steps/s | ratio | vs best torch "
          "| flowtape RSS MiB | torch RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k in ft:
        if k not in th:
            continue
        a, b = ft[k]["steps_per_s_median"], th[k]["steps_per_s_median"]
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {a:.1f} | {b:.1f} | {a / b:.2f} | "
              f"{a / best[k[:3]]:.2f} | {ft[k]['peak_rss_mb']:.0f} | {th[k]['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
