#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PyTorch peer of bench/gpu_train_bench.cpp: optimizer steps per second of CFM and FDM
(Hutchinson, one Rademacher probe, w_div = 0.1) on the same VelocityMLP (2-D data, raw time
concatenated to x, 3 hidden layers of 256, SiLU), f32, at batch 1024 and 65536, with data,
noise and times drawn on the device each step and a synchronise after each step.

Run on a machine with a GPU:  python3 bench/torch_gpu_train.py
"""
import os
import sys

import torch

# The peers' shared timing protocol (bench/peers/peer_common.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import peer_common  # noqa: E402


def model_fn(hidden=256, depth=3):
    layers, width = [], 3  # [x (2), t (1)]
    for _ in range(depth):
        layers += [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
        width = hidden
    layers.append(torch.nn.Linear(width, 2))
    return torch.nn.Sequential(*layers)


def fdm_total(net, x0, x1, t):
    # Rectified path: xt = t x1 + (1 - t) x0, ut = x1 - x0, sigma_t = 1 - t,
    # sigma'/sigma = -1 / (1 - t), score = -x0 / (1 - t) (flows/path.hpp).
    xt = t * x1 + (1 - t) * x0
    ut = x1 - x0
    sigma = 1 - t
    rate = -1 / sigma
    score = -x0 / sigma
    z = (torch.rand_like(xt) > 0.5).float() * 2 - 1
    f = lambda x: net(torch.cat([x, t], 1))
    v, jz = torch.func.jvp(f, (xt,), (z,))
    zs = (z * score).sum(1, keepdim=True)
    resid = sigma * ((z * jz).sum(1, keepdim=True) + zs * (z * v.detach()).sum(1, keepdim=True)
                     - zs * (z * ut).sum(1, keepdim=True) - rate * (z * z).sum(1, keepdim=True))
    cfm = ((v - ut) ** 2).sum(1).mean()
    return cfm + 0.1 * (resid ** 2).mean()


def cfm_total(net, x0, x1, t):
    xt = t * x1 + (1 - t) * x0
    return ((net(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).sum(1).mean()


def steps_per_second(fdm, batch, dev, min_seconds=0.5, rounds=5):
    torch.manual_seed(0)
    net = model_fn().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = fdm_total if fdm else cfm_total

    def step():
        z = torch.randn(batch, 2, device=dev)
        side = (torch.rand(batch, 1, device=dev) > 0.5).float()
        x1 = z * 0.5 + (side * 8 - 4)
        x0 = torch.randn(batch, 2, device=dev)
        t = torch.rand(batch, 1, device=dev)
        opt.zero_grad(set_to_none=True)
        loss_fn(net, x0, x1, t).backward()
        opt.step()
        torch.cuda.synchronize()

    return 1.0 / peer_common.median_seconds_per_call(step, min_seconds, rounds)


def main():
    if not torch.cuda.is_available():
        print("torch_gpu_train: no CUDA device found, skipping")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False  # flowtape's f32 GEMMs are full f32
    dev = torch.device("cuda")
    print("objective  batch   steps/s")
    for fdm in (False, True):
        for batch in (1024, 65536):
            print(f"{'fdm' if fdm else 'cfm':<9}  {batch:6d}  {steps_per_second(fdm, batch, dev):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
