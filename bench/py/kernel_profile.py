#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sums an Nsight Compute CSV (ncu --metrics gpu__time_duration.sum --csv) by kernel name and
prints the kernels by total time, with their share: where a profiled training step goes.

  python3 bench/py/kernel_profile.py profile.csv [top]
"""
import collections
import csv
import sys


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # skip ncu's own log lines
    total = collections.Counter()
    count = collections.Counter()
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3,
                 "msecond": 1e3, "s": 1e6, "second": 1e6}[row["Metric Unit"]]
        name = row["Kernel Name"]
        name = name if len(name) <= 90 else name[:87] + "..."
        total[name] += value * scale
        count[name] += 1
    grand = sum(total.values())
    if not grand:
        print("kernel_profile: no kernel durations in", path)
        return 1
    print(f"{len(total)} kernels, {sum(count.values())} launches, {grand:.1f} us in all")
    print(f"{'us':>9} {'share':>6} {'calls':>5}  kernel")
    for name, us in total.most_common(top):
        print(f"{us:9.1f} {100 * us / grand:5.1f}% {count[name]:5d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
