#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The loop of bench/compare.sh: runs the grid of cells, each implementation once per round in
an order rotated every round, and appends every reply (one JSON line) to the results file.

flowtape runs as one flow_bench process per cell (it starts in milliseconds). Each peer runs
as one long-lived process per thread count (`--serve`, bench/peers/peer_common.py), started
under taskset on T cores with the thread variables set, and is sent one cell per line; all
thread counts' servers live through the run, and each round of a cell runs every thread
count back to back (compare_table.py pairs a round's several-thread and one-thread runs).
Timing starts once every server has said "ready" (its imports done), so no start-up runs
beside a timed cell. A peer that dies is reported and left out of the rest of the run.
"""
import argparse
import json
import os
import subprocess
import sys

TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"


def environment(threads, extra):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)  # would pin OpenBLAS to an older kernel
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["GLIBC_TUNABLES"] = TUNABLES
    env.update(extra)
    return env


class Peer:
    """One served peer process for one thread count."""

    def __init__(self, name, command, threads, extra_env):
        self.name = name
        self.proc = subprocess.Popen(
            ["taskset", "-c", f"0-{threads - 1}", *command, "--serve", "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=environment(threads, extra_env))

    def wait_ready(self):
        """Waits for the imports to finish, so no start-up runs beside a timed cell."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} exited at start-up (status {self.proc.wait()})")
            if line.strip() == "ready":
                return

    def run(self, cell):
        self.proc.stdin.write(json.dumps(cell) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} exited (status {self.proc.wait()})")
            if line.startswith("{"):
                return line.strip()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flow-bench", required=True)
    ap.add_argument("--peer", action="append", default=[],
                    help="NAME=PYTHON SCRIPT [ARGS...] [| VAR=VALUE ...], repeatable")
    ap.add_argument("--out", required=True)
    ap.add_argument("--losses", default="cfm entropic fdm")
    ap.add_argument("--widths", default="64 256")
    ap.add_argument("--batches", default="256 1024 4096")
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=6)
    ap.add_argument("--block-s", type=float, default=0.3)
    ap.add_argument("--flowtape-shards", action="store_true",
                    help="at T > 1 also run flowtape's sharded step (T shards on T threads)")
    a = ap.parse_args()
    peers = []
    for spec in a.peer:
        name, rest = spec.split("=", 1)
        command, _, env = rest.partition("|")
        peers.append((name, command.split(), dict(kv.split("=", 1) for kv in env.split())))
    thread_counts = list(map(int, a.threads.split()))
    # Every thread count's servers at once, so that a round runs a cell on one thread and on
    # several back to back: compare_table.py credits a several-thread run with its one-thread
    # run of the same round, which must have seen the same machine.
    served = {t: {} for t in thread_counts}
    with open(a.out, "a") as out:
        try:
            for t in thread_counts:
                served[t] = {name: Peer(name, cmd, t, env) for name, cmd, env in peers}
            for t in thread_counts:
                for p in served[t].values():
                    p.wait_ready()
            for loss in a.losses.split():
                for width in map(int, a.widths.split()):
                    for batch in sorted(map(int, a.batches.split())):
                        for r in range(a.rounds):
                            for threads in thread_counts:
                                cell = {"loss": loss, "width": width, "batch": batch,
                                        "threads": threads, "repeats": a.repeats,
                                        "block_s": a.block_s, "warmup": a.warmup}
                                impls = ["flowtape", *served[threads]]
                                if threads > 1 and a.flowtape_shards:
                                    impls.insert(1, "flowtape-shards")
                                for i in range(len(impls)):
                                    name = impls[(i + r) % len(impls)]
                                    line = run_one(name, cell, served[threads], a.flow_bench,
                                                   threads)
                                    if line:
                                        print(line, file=out, flush=True)
                                        print(line, flush=True)
        finally:
            for group in served.values():
                for p in group.values():
                    p.close()


def run_one(name, cell, served, flow_bench, threads):
    if name in ("flowtape", "flowtape-shards"):
        args = [flow_bench, "--loss", cell["loss"], "--width", str(cell["width"]),
                "--batch", str(cell["batch"]), "--threads", str(threads),
                "--repeats", str(cell["repeats"]), "--block-s", str(cell["block_s"]),
                "--warmup", str(cell["warmup"])]
        if name == "flowtape-shards":
            args += ["--shards", str(threads)]
        return subprocess.run(["taskset", "-c", f"0-{threads - 1}", *args], check=True,
                              capture_output=True, text=True,
                              env=environment(threads, {})).stdout.strip()
    peer = served.get(name)
    if peer is None:
        return None
    try:
        return peer.run(cell)
    except RuntimeError as e:
        print(f"warning: {e}; left out from here on", file=sys.stderr)
        del served[name]
        return None


if __name__ == "__main__":
    main()
