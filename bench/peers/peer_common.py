# SPDX-License-Identifier: MIT
"""What the benchmark peers share with bench/flow_bench.cpp: the command line, the timing
protocol and the JSON line bench/compare.sh reads.

Timing: half the warm-up pays one-off costs (compilation, first traces, page faults), the
other half sizes the blocks (~block_s seconds each); then `repeats` timed blocks, and the
median, min and max steps/s over them.

A peer runs one cell from its command line, or with --serve one cell per JSON line on stdin
(bench/py/compare_driver.py keeps one such process per implementation and thread count, so
the interpreter's start-up, 15-30 s for a CUDA-enabled wheel, is paid once, not per cell).
The peak resident set size is VmHWM, reset before each served cell (/proc/self/clear_refs)
to the resident size of that moment, which would still hold what earlier cells left: so
before the reset the previous cell's objects are collected, the framework's caches of compiled
code dropped (the peer's `between_cells`), and the heap's free memory handed back to the
system (malloc_trim, which the driver's trim threshold otherwise keeps for speed).
"""
import argparse
import ctypes
import gc
import json
import resource
import sys
import time


def parser(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--loss", default="cfm", choices=["cfm", "entropic", "fdm"])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--block-s", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    return ap


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def release_memory(between_cells):
    """What a finished cell left: its objects, the framework's caches, the heap's free pages."""
    gc.collect()
    if between_cells:
        between_cells()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(ap, cell, between_cells=None):
    """Parses the command line and runs cell(args) once, or once per stdin line (--serve);
    between_cells() drops the framework's caches before the next served cell."""
    ap.add_argument("--serve", action="store_true",
                    help="run one cell per JSON line on stdin (keys as the options')")
    a = ap.parse_args()
    if not a.serve:
        cell(a)
        return
    print("ready", flush=True)  # imports done: the driver starts timing only now
    for line in sys.stdin:
        if not line.strip():
            continue
        c = argparse.Namespace(**vars(a))
        for key, value in json.loads(line).items():
            setattr(c, key.replace("-", "_"), value)
        if c.threads != a.threads:
            raise SystemExit(f"a server for {a.threads} threads was sent a cell of {c.threads}")
        release_memory(between_cells)
        reset_peak_rss()
        cell(c)


def median_seconds_per_call(f, min_s, rounds):
    """One warm-up call of f, then `rounds` blocks of calls, each repeated until min_s seconds
    have passed: the median over blocks of the seconds per call (bench/timing.hpp's protocol)."""
    f()
    per_call = []
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while True:
            f()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_s:
                break
        per_call.append(elapsed / calls)
    return median(per_call)


def measure(run, args):
    """run(n) takes n steps and returns the last loss once it is computed."""
    run(max(args.warmup // 2, 1))
    n_warm = max(args.warmup - args.warmup // 2, 1)
    w0 = time.perf_counter()
    run(n_warm)
    per = (time.perf_counter() - w0) / n_warm
    steps = max(5, int(args.block_s / max(per, 1e-6)))
    rates, loss = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        loss = run(steps)
        rates.append(steps / (time.perf_counter() - t0))
    rates.sort()
    return steps, rates, loss


def median(values):
    """The median (of an even count, the mean of the middle two), as bench/timing.hpp's."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def emit(impl, args, steps, rates, loss, **extra):
    print(json.dumps({
        "impl": impl, "loss": args.loss, "width": args.width, "batch": args.batch,
        "threads": args.threads, **extra, "steps_used": steps,
        "steps_per_s_median": round(median(rates), 2),
        "steps_per_s_min": round(rates[0], 2), "steps_per_s_max": round(rates[-1], 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "loss_last": float(loss)}))
    sys.stdout.flush()
