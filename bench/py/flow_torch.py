#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch CPU peer of bench/flow_bench.cpp: the same flow-matching training step, op for op.

One process = one configuration; prints ONE JSON line (steps/s median over timed blocks and
the peak resident set size), like flow_bench, so bench/compare.sh can pair them.

Step: x0 ~ N(0, I); x1 ~ 8 gaussians (radius 2, std 0.1); t ~ U[0, 1) [B, 1]; rectified path
x_t = (1 - t) x0 + t x1, u = x1 - x0, sigma = 1 - t, sigma'/sigma = -1/sigma, score = -x0/sigma;
model MLP(concat(x, t) -> W SiLU -> W SiLU -> W SiLU -> 2), Adam(lr 1e-3), float32.
  cfm      : mean_i |v_i - u_i|^2
  entropic : (logsumexp(0.3 l) - log B) / 0.3 with l_i = |v_i - u_i|^2
  fdm      : cfm + 0.1 mean(rho^2), rho = sigma [z^T J z + (z.s)(z.sg[v]) - (z.s)(z.u)
             - (sigma'/sigma)|z|^2], one Rademacher z, J z by forward-mode AD through the
             model (--jvp-api: fwad = torch.autograd.forward_ad dual tensors, functorch =
             functorch.jvp, dbl = the double-backward trick), reverse mode through it.
Threads: torch.set_num_threads(T); run with OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T too
(Debian's torch calls OpenBLAS, which set_num_threads does not control); compare.sh does.
"""
import argparse
import json
import math
import resource
import time

import torch


def make_mlp(width):
    return torch.nn.Sequential(
        torch.nn.Linear(3, width), torch.nn.SiLU(),
        torch.nn.Linear(width, width), torch.nn.SiLU(),
        torch.nn.Linear(width, width), torch.nn.SiLU(),
        torch.nn.Linear(width, 2))


_ANG = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
_CENTERS = 2.0 * torch.stack([torch.cos(_ANG), torch.sin(_ANG)], dim=1)


def eight_gaussians(n):
    return _CENTERS[torch.randint(0, 8, (n,))] + 0.1 * torch.randn(n, 2)


def jvp(model, x, t, z, api):
    """(v, J_x v z) at x, t held fixed."""
    f = lambda y: model(torch.cat([y, t], 1))  # noqa: E731
    if api == "fwad":
        import torch.autograd.forward_ad as fwAD
        with fwAD.dual_level():
            v, jz = fwAD.unpack_dual(f(fwAD.make_dual(x, z)))
        return v, jz
    if api == "functorch":
        import functorch
        return functorch.jvp(f, (x,), (z,))
    if api == "dbl":
        x = x.requires_grad_(True)
        v = f(x)
        w = torch.zeros_like(v, requires_grad=True)
        g, = torch.autograd.grad(v, x, w, create_graph=True)
        jz, = torch.autograd.grad(g, w, z, create_graph=True)
        return v, jz
    raise ValueError(api)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loss", default="cfm", choices=["cfm", "entropic", "fdm"])
    ap.add_argument("--jvp-api", default="fwad", choices=["fwad", "functorch", "dbl"])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--block-s", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, lam = a.batch, 0.3
    model = make_mlp(a.width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        x0 = torch.randn(B, 2)
        x1 = eight_gaussians(B)
        t = torch.rand(B, 1)
        xt = (1 - t) * x0 + t * x1
        u = x1 - x0
        opt.zero_grad(set_to_none=True)
        if a.loss == "fdm":
            sigma = 1 - t
            rate = -1 / sigma
            score = -x0 / sigma
            z = torch.randint(0, 2, (B, 2)).float().mul_(2).sub_(1)
            v, jz = jvp(model, xt, t, z, a.jvp_api)
            zs = (z * score).sum(1, keepdim=True)
            rho = sigma * ((z * jz).sum(1, keepdim=True)
                           + zs * (z * (v.detach() - u)).sum(1, keepdim=True)
                           - rate * (z * z).sum(1, keepdim=True))
            loss = ((v - u) ** 2).sum(1).mean() + 0.1 * (rho ** 2).mean()
        else:
            v = model(torch.cat([xt, t], 1))
            l = ((v - u) ** 2).sum(1)
            loss = l.mean() if a.loss == "cfm" else (torch.logsumexp(lam * l, 0) - math.log(B)) / lam
        loss.backward()
        opt.step()
        return loss

    # Block length from the second half of the warm-up (the first steps pay one-off costs:
    # functorch's first trace, page faults).
    for _ in range(a.warmup // 2):
        lo = step()
    w0 = time.perf_counter()
    for _ in range(a.warmup - a.warmup // 2):
        lo = step()
    per = (time.perf_counter() - w0) / max(a.warmup - a.warmup // 2, 1)
    steps = max(5, int(a.block_s / max(per, 1e-6)))
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            lo = step()
        rates.append(steps / (time.perf_counter() - t0))
    rates.sort()
    print(json.dumps({
        "impl": "torch", "loss": a.loss, "width": a.width, "batch": B, "threads": a.threads,
        "torch_threads": torch.get_num_threads(), "jvp_api": a.jvp_api if a.loss == "fdm" else None,
        "steps_used": steps, "steps_per_s_median": round(rates[len(rates) // 2], 2),
        "steps_per_s_min": round(rates[0], 2), "steps_per_s_max": round(rates[-1], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loss_last": float(lo), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
