#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The solver cross-check: flowtape's adaptive methods against scipy (solve_ivp), torchdiffeq and
# diffrax on the same problems and tolerances, f64, each at its defaults otherwise. For every
# run: NFE (evaluations of f), accepted / rejected steps where the library reports them, the
# error at t1 and the largest error of the dense output at 200 interior times. Prints markdown
# tables. `bash scripts/crosscheck.sh solvers` builds the venv and flowtape's side and runs this.
#   solver_crosscheck.py --flowtape build/bench/solver_crosscheck
# A peer that is not installed is skipped, saying so; flowtape's rows always print.
import argparse
import json
import math
import subprocess
import sys

import numpy as np

MU = 0.012277471
T_ARENSTORF = 17.0652165601579625588917206249
PROBLEMS = {
    "rotation": ([1.0, 0.0], 20.0),
    "arenstorf": ([0.994, 0.0, 0.0, -2.00158510637908252240537862224], T_ARENSTORF),
}
TOLS = [1e-3, 1e-6, 1e-9]
# flowtape's method and the peers' names for the same tableau.
FAMILIES = {
    "dopri5": [("scipy", "RK45"), ("torchdiffeq", "dopri5"), ("diffrax", "Dopri5")],
    "tsit5": [("diffrax", "Tsit5")],
    "dopri8": [("torchdiffeq", "dopri8"), ("diffrax", "Dopri8")],
    "dop853": [("scipy", "DOP853")],
}


def field(problem, xp):
    """The vector field written against an array module (numpy, torch or jax.numpy)."""
    if problem == "rotation":
        return lambda t, y: xp.stack([-y[1], y[0]])

    def arenstorf(t, y):
        mup = 1 - MU
        d1 = ((y[0] + MU) ** 2 + y[1] ** 2) ** 1.5
        d2 = ((y[0] - mup) ** 2 + y[1] ** 2) ** 1.5
        return xp.stack([y[2], y[3], y[0] + 2 * y[3] - mup * (y[0] + MU) / d1 - MU * (y[0] - mup) / d2,
                         y[1] - 2 * y[2] - mup * y[1] / d1 - MU * y[1] / d2])
    return arenstorf


def dense_times(t1):
    return np.array([t1 * (i + 0.5) / 200 for i in range(200)])


def exact(problem, ts):
    """The exact states at ts where known (the rotation), else None."""
    if problem == "rotation":
        return np.stack([np.cos(ts), np.sin(ts)], axis=1)
    return None


def run_scipy(problem, method, tol):
    from scipy.integrate import solve_ivp
    y0, t1 = PROBLEMS[problem]
    f = field(problem, np)
    s = solve_ivp(lambda t, y: f(t, y), (0.0, t1), y0, method=method, rtol=tol, atol=tol,
                  dense_output=True)
    return {"nfe": s.nfev, "accepted": len(s.t) - 1, "rejected": None, "y1": s.y[:, -1],
            "dense": s.sol(dense_times(t1)).T}


def run_torchdiffeq(problem, method, tol):
    import torch
    import torchdiffeq
    y0, t1 = PROBLEMS[problem]
    f = field(problem, torch)
    calls = [0]

    def counted(t, y):
        calls[0] += 1
        return f(t, y)
    y = torch.tensor(y0, dtype=torch.float64)
    end = torchdiffeq.odeint(counted, y, torch.tensor([0.0, t1], dtype=torch.float64),
                             method=method, rtol=tol, atol=tol)
    nfe = calls[0]
    ts = torch.tensor(np.concatenate([[0.0], dense_times(t1)]), dtype=torch.float64)
    dense = torchdiffeq.odeint(f, y, ts, method=method, rtol=tol, atol=tol)[1:]
    return {"nfe": nfe, "accepted": None, "rejected": None, "y1": end[-1].numpy(),
            "dense": dense.numpy()}


def run_diffrax(problem, method, tol):
    import jax
    jax.config.update("jax_enable_x64", True)
    import diffrax
    import jax.numpy as jnp
    y0, t1 = PROBLEMS[problem]
    f = field(problem, jnp)
    calls = [0]

    def count():
        calls[0] += 1
    # Evaluations are counted by a host callback, which runs once per evaluation at run time.

    def vf(t, y, args):
        jax.debug.callback(count)
        return f(t, y)
    sol = diffrax.diffeqsolve(diffrax.ODETerm(vf), getattr(diffrax, method)(), 0.0, t1, None,
                              jnp.array(y0), stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol),
                              saveat=diffrax.SaveAt(t1=True, dense=True), max_steps=10**6)
    jax.effects_barrier()
    dense = jax.vmap(sol.evaluate)(jnp.array(dense_times(t1)))
    return {"nfe": calls[0], "accepted": int(sol.stats["num_accepted_steps"]),
            "rejected": int(sol.stats["num_rejected_steps"]), "y1": np.asarray(sol.ys[-1]),
            "dense": np.asarray(dense)}


RUNNERS = {"scipy": run_scipy, "torchdiffeq": run_torchdiffeq, "diffrax": run_diffrax}


def reference_dense(problem):
    """Dense reference states: exact, or scipy's DOP853 at rtol 1e-13 (None without scipy)."""
    y0, t1 = PROBLEMS[problem]
    ts = dense_times(t1)
    e = exact(problem, ts)
    if e is not None:
        return e
    try:
        from scipy.integrate import solve_ivp
    except ImportError:
        return None
    f = field(problem, np)
    s = solve_ivp(lambda t, y: f(t, y), (0.0, t1), y0, method="DOP853", rtol=1e-13, atol=1e-16,
                  t_eval=ts)
    return s.y.T


def end_exact(problem):
    y0, t1 = PROBLEMS[problem]
    e = exact(problem, np.array([t1]))
    return e[0] if e is not None else np.array(y0)  # the Arenstorf orbit is periodic


def fmt_err(x):
    return "-" if x is None else f"{x:.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--flowtape", required=True, help="path to the solver_crosscheck program")
    args = ap.parse_args()
    ours = {}
    out = subprocess.run([args.flowtape], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        r = json.loads(line)
        ours[(r["problem"], r["method"], r["tol"], r["controller"])] = r
    available = {}
    for name in RUNNERS:
        try:
            __import__({"scipy": "scipy", "torchdiffeq": "torchdiffeq", "diffrax": "diffrax"}[name])
            available[name] = True
        except ImportError:
            print(f"note: {name} is not installed; its rows are skipped", file=sys.stderr)
            available[name] = False
    versions = []
    for mod in ("scipy", "torch", "torchdiffeq", "jax", "diffrax"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    print("Peers: " + ", ".join(versions) + "; numpy " + np.__version__ + "\n")
    for problem in PROBLEMS:
        ref = reference_dense(problem)
        end = end_exact(problem)
        print(f"### {problem}\n")
        print("| method | rtol = atol | implementation | NFE | accepted / rejected | error at t1 | "
              "dense error (200 times) |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
        for family, peers in FAMILIES.items():
            for tol in TOLS:
                rows = []
                for controller in ("PI", "I"):
                    r = ours[(problem, family, tol, controller)]
                    rows.append((f"flowtape {family} ({controller})",
                                 {"nfe": r["nfe"], "accepted": r["accepted"], "rejected": r["rejected"],
                                  "y1": np.array(r["y1"]), "dense": np.array(r["dense"])}))
                for lib, method in peers:
                    if available[lib]:
                        rows.append((f"{lib} {method}", RUNNERS[lib](problem, method, tol)))
                for name, res in rows:
                    e1 = float(np.max(np.abs(res["y1"] - end)))
                    ed = None if ref is None else float(np.max(np.abs(res["dense"] - ref)))
                    steps = "-" if res["accepted"] is None else (
                        f"{res['accepted']} / " + ("-" if res["rejected"] is None else str(res["rejected"])))
                    print(f"| {family} | {tol:.0e} | {name} | {res['nfe']} | {steps} | {fmt_err(e1)} | "
                          f"{fmt_err(ed)} |")
        print()


if __name__ == "__main__":
    main()
