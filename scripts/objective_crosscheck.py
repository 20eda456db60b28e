#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The objectives cross-check: flowtape's probability paths, conditional velocities, CFM loss,
# minibatch-OT coupling and samplers against torchcfm and Meta's flow_matching on the same
# inputs (f32): a batch of 256 source and data points in 2-D with their times, the independent
# path's extra noise, and an affine velocity v(x, t) = x W + t b for the loss and the samplers.
# Prints a markdown table of the largest absolute and relative differences; a comparison is
# "equal to f32 rounding" when the relative difference is a few f32 ulps (< 1e-6).
# `bash scripts/crosscheck.sh objectives` builds the venv and flowtape's side and runs this.
#   objective_crosscheck.py --flowtape build/bench/objective_crosscheck
import argparse
import json
import math
import subprocess
import sys
import tempfile

import numpy as np


def inputs(seed=0, n=256, d=2):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((n, d)).astype(np.float32)
    x1 = (rng.standard_normal((n, d)) * 0.5 + rng.choice([-2.0, 2.0], size=(n, d))).astype(np.float32)
    return {"x0": x0, "x1": x1, "t": rng.uniform(0, 1, (n, 1)).astype(np.float32),
            "z": rng.standard_normal((n, d)).astype(np.float32),
            "W": (rng.standard_normal((d, d)) * 0.5).astype(np.float32),
            "b": rng.standard_normal(d).astype(np.float32)}


def compare(a, b):
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    diff = float(np.max(np.abs(a - b)))
    return diff, diff / max(float(np.max(np.abs(b))), 1e-30)


def torchcfm_rows(x, ours):
    import torch
    from torchcfm.conditional_flow_matching import (ConditionalFlowMatcher,
                                                    TargetConditionalFlowMatcher,
                                                    VariancePreservingConditionalFlowMatcher)
    from torchcfm.optimal_transport import OTPlanSampler
    T = {k: torch.from_numpy(v) for k, v in x.items()}
    t = T["t"][:, 0]
    rows = []
    # (our path, their matcher, the noise their x_t adds: x0 itself for the Gaussian-noise
    # path, z for the independent interpolant, none for the others)
    for ours_name, matcher, eps in (("rectified", ConditionalFlowMatcher(sigma=0.0), None),
                                    ("lipman", TargetConditionalFlowMatcher(sigma=0.01), T["x0"]),
                                    ("independent", ConditionalFlowMatcher(sigma=0.1), T["z"]),
                                    ("vp_cosine", VariancePreservingConditionalFlowMatcher(sigma=0.0), None)):
        e = torch.zeros_like(T["x0"]) if eps is None else eps
        xt = matcher.sample_xt(T["x0"], T["x1"], t, e)
        ut = matcher.compute_conditional_flow(T["x0"], T["x1"], t, xt)
        label = f"torchcfm {type(matcher).__name__}(sigma={matcher.sigma})"
        rows.append((f"path {ours_name}: x_t", label, compare(ours[ours_name + "_xt"], xt.numpy())))
        rows.append((f"path {ours_name}: u_t", label, compare(ours[ours_name + "_ut"], ut.numpy())))
    # The CFM loss of the affine field on the rectified path: torchcfm's examples average over
    # coordinates too, flowtape sums them (docs/objectives.md), hence the factor d.
    m = ConditionalFlowMatcher(sigma=0.0)
    xt = m.sample_xt(T["x0"], T["x1"], t, torch.zeros_like(T["x0"]))
    ut = m.compute_conditional_flow(T["x0"], T["x1"], t, xt)
    vt = xt @ T["W"] + T["t"] * T["b"]
    d = x["x0"].shape[1]
    rows.append(("CFM loss (x d)", "torchcfm example: mean((v - u)^2)",
                 compare(ours["cfm_loss"], d * torch.mean((vt - ut) ** 2).item())))
    # Minibatch OT: POT's exact plan is a permutation for equal uniform batches.
    plan = OTPlanSampler(method="exact").get_map(T["x0"], T["x1"])
    perm = np.argmax(plan, axis=1)
    rows.append(("OT assignment", "torchcfm OTPlanSampler(exact) (POT emd)",
                 (float(np.sum(perm != np.array(ours["ot_permutation"]))), 0.0)))
    cost = float(np.sum((x["x1"][perm].astype(np.float64) - x["x0"]) ** 2))
    rows.append(("OT total cost", "torchcfm OTPlanSampler(exact) (POT emd)", compare(ours["ot_cost"], cost)))
    return rows


def flow_matching_rows(x, ours):
    import torch
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler, CosineScheduler
    from flow_matching.solver import ODESolver
    from flow_matching.utils import ModelWrapper
    T = {k: torch.from_numpy(v) for k, v in x.items()}
    t = T["t"][:, 0]
    rows = []
    for ours_name, scheduler in (("rectified", CondOTScheduler()), ("vp_cosine", CosineScheduler())):
        s = AffineProbPath(scheduler=scheduler).sample(x_0=T["x0"], x_1=T["x1"], t=t)
        label = f"flow_matching AffineProbPath({type(scheduler).__name__})"
        rows.append((f"path {ours_name}: x_t", label, compare(ours[ours_name + "_xt"], s.x_t.numpy())))
        rows.append((f"path {ours_name}: u_t", label, compare(ours[ours_name + "_ut"], s.dx_t.numpy())))

    class Affine(ModelWrapper):
        def forward(self, x, t, **extras):
            return x @ T["W"] + t * T["b"]
    solver = ODESolver(velocity_model=Affine(torch.nn.Identity()))
    grid = torch.tensor([0.0, 1.0])
    for method in ("euler", "midpoint", "rk4"):
        y = solver.sample(x_init=T["x0"], step_size=0.1, method=method, time_grid=grid)
        rows.append((f"sample, {method}, 10 steps", "flow_matching ODESolver",
                     compare(ours["sample_" + method], y.numpy())))
    y = solver.sample(x_init=T["x0"], step_size=None, method="dopri5", atol=1e-5, rtol=1e-5,
                      time_grid=grid)
    rows.append(("sample, dopri5, tol 1e-5", "flow_matching ODESolver",
                 compare(ours["sample_dopri5"], y.numpy())))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--flowtape", required=True, help="path to the objective_crosscheck program")
    args = ap.parse_args()
    x = inputs()
    with tempfile.TemporaryDirectory() as tmp:
        for k, v in x.items():
            np.save(f"{tmp}/{k}.npy", v)
        ours = json.loads(subprocess.run([args.flowtape, tmp], check=True, capture_output=True,
                                         text=True).stdout)
    rows = []
    for name, fn in (("torchcfm", torchcfm_rows), ("flow_matching", flow_matching_rows)):
        try:
            __import__(name)
        except ImportError:
            print(f"note: {name} is not installed; its rows are skipped", file=sys.stderr)
            continue
        rows += fn(x, ours)
    versions = []
    for mod in ("torch", "torchcfm", "flow_matching", "ot"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except (ImportError, AttributeError):
            pass
    print("Peers: " + ", ".join(versions) + f"; numpy {np.__version__}\n")
    print("| quantity | peer | max abs difference | max relative difference |")
    print("| --- | --- | ---: | ---: |")
    for what, peer, (absd, reld) in rows:
        if what == "OT assignment":
            print(f"| {what} | {peer} | {int(absd)} of {len(x['x0'])} rows differ | - |")
        else:
            print(f"| {what} | {peer} | {absd:.1e} | {reld:.1e} |")


if __name__ == "__main__":
    main()
