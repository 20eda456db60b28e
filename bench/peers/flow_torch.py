#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""PyTorch CPU peer of bench/flow_bench.cpp: the same flow-matching training step, op for op.

One process = one configuration; prints ONE JSON line (steps/s median over timed blocks and
the peak resident set size), like flow_bench, so bench/compare.sh can pair them.

Step: x0 ~ N(0, I); x1 ~ 8 gaussians (radius 2, std 0.1); t ~ U[0, 1) [B, 1]; for fdm one
Rademacher probe z [B, 2]; rectified path
x_t = (1 - t) x0 + t x1, u = x1 - x0, sigma = 1 - t, sigma'/sigma = -1/sigma, score = -x0/sigma;
model MLP(concat(x, t) -> W SiLU -> W SiLU -> W SiLU -> 2), Adam(lr 1e-3), float32.
  cfm      : mean_i |v_i - u_i|^2
  entropic : (logsumexp(0.3 l) - log B) / 0.3 with l_i = |v_i - u_i|^2
  fdm      : cfm + 0.1 mean(rho^2), rho = sigma [z^T J z + (z.s)(z.sg[v]) - (z.s)(z.u)
             - (sigma'/sigma)|z|^2], one Rademacher z, J z by forward-mode AD through the
             model (--jvp-api: fwad = torch.autograd.forward_ad dual tensors, functorch =
             functorch.jvp, dbl = the double-backward trick), reverse mode through it; or
             (--jvp-api vjp) z^T J z as z . (J^T z) from one create_graph VJP of z . v, the
             fastest correct formulation in eager PyTorch 2.x.
--mode compile (PyTorch >= 2): the loss and its gradient through torch.compile (inductor,
default mode: "reduce-overhead" only adds CUDA graphs, and "max-autotune-no-cudagraphs" ran
at the default's speed on the Zen 5, 2026-12-07: 2474 against 2487 steps/s at cfm W 64
B 256, 110.6 against 111.4 at W 256 B 1024) and the Adam step through a compiled optimizer
step. (backward() inside the compiled function splits it in two graphs; AOTAutograd compiles
the backward graph either way.) Under compile, fdm's fastest formulation is functorch's jvp (torch.func.jvp):
the vjp formulation's create_graph backward recompiles every step (8 steps/s at W = 64).
Threads: torch.set_num_threads(T); run with OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T too
(Debian's torch calls OpenBLAS, which set_num_threads does not control); compare.sh does.
"""
import math

import peer_common
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
    if api == "vjp":
        raise ValueError("vjp gives z^T J z, not J z: use hutchinson()")
    if api == "dbl":
        x = x.requires_grad_(True)
        v = f(x)
        w = torch.zeros_like(v, requires_grad=True)
        g, = torch.autograd.grad(v, x, w, create_graph=True)
        jz, = torch.autograd.grad(g, w, z, create_graph=True)
        return v, jz
    raise ValueError(api)


def hutchinson(model, x, t, z, api):
    """(v, z^T J z) per row, [B, 1]."""
    if api == "vjp":
        x = x.detach().requires_grad_(True)
        v = model(torch.cat([x, t], 1))
        g, = torch.autograd.grad((v * z).sum(), x, create_graph=True)  # J^T z
        return v, (z * g).sum(1, keepdim=True)
    v, jz = jvp(model, x, t, z, api)
    return v, (z * jz).sum(1, keepdim=True)


def cell(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, lam = a.batch, 0.3
    model = make_mlp(a.width)
    # Eager: the fused CPU Adam (PyTorch >= 2.4; one kernel over all parameters, as flowtape's),
    # else the multi-tensor one; the default on CPU is a Python loop per parameter. Compiled:
    # the plain Adam, whose step torch.compile fuses itself.
    fused = a.mode == "eager" and tuple(map(int, torch.__version__.split(".")[:2])) >= (2, 4)
    opt = (torch.optim.Adam(model.parameters(), lr=1e-3, fused=True) if fused else
           torch.optim.Adam(model.parameters(), lr=1e-3, foreach=a.mode == "eager"))

    def loss_and_grad(x0, x1, t, z):
        xt = (1 - t) * x0 + t * x1
        u = x1 - x0
        if a.loss == "fdm":
            sigma = 1 - t
            rate = -1 / sigma
            score = -x0 / sigma
            v, ztjz = hutchinson(model, xt, t, z, a.jvp_api)
            zs = (z * score).sum(1, keepdim=True)
            rho = sigma * (ztjz + zs * (z * (v.detach() - u)).sum(1, keepdim=True)
                           - rate * (z * z).sum(1, keepdim=True))
            loss = ((v - u) ** 2).sum(1).mean() + 0.1 * (rho ** 2).mean()
        else:
            v = model(torch.cat([xt, t], 1))
            l = ((v - u) ** 2).sum(1)
            loss = l.mean() if a.loss == "cfm" else (torch.logsumexp(lam * l, 0) - math.log(B)) / lam
        loss.backward()
        return loss.detach()

    opt_step = opt.step
    if a.mode == "compile":
        if not hasattr(torch, "compile"):
            raise SystemExit(f"--mode compile needs PyTorch >= 2, this is {torch.__version__}")
        # A served process compiles every cell afresh: dynamo's per-function cache limit
        # would otherwise turn later cells back into eager runs without saying so.
        torch._dynamo.reset()
        loss_and_grad = torch.compile(loss_and_grad)
        opt_step = torch.compile(opt.step)

    def step():
        x0 = torch.randn(B, 2)
        x1 = eight_gaussians(B)
        t = torch.rand(B, 1)
        z = torch.randint(0, 2, (B, 2)).float().mul_(2).sub_(1) if a.loss == "fdm" else None
        opt.zero_grad(set_to_none=True)
        loss = loss_and_grad(x0, x1, t, z)
        opt_step()
        return loss

    def run(n):
        for _ in range(n):
            loss = step()
        return loss

    steps, rates, loss = peer_common.measure(run, a)
    peer_common.emit(f"torch{torch.__version__.split('.')[0]}-{a.mode}", a, steps, rates, loss,
                     torch_threads=torch.get_num_threads(),
                     jvp_api=a.jvp_api if a.loss == "fdm" else None, torch=torch.__version__)

def drop_compiled():
    if hasattr(torch, "_dynamo"):
        torch._dynamo.reset()


def main():
    ap = peer_common.parser(__doc__.splitlines()[0])
    ap.add_argument("--jvp-api", default="fwad", choices=["fwad", "functorch", "dbl", "vjp"])
    ap.add_argument("--mode", default="eager", choices=["eager", "compile"])
    peer_common.main(ap, cell, between_cells=drop_compiled)


if __name__ == "__main__":
    main()
