#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Independent oracle for tests/nn/test_optimizers.cpp: PyTorch's SGD / Adam / AdamW update
# rules (torch/optim/{sgd,adam,adamw}.py, single-tensor path) written out by hand in plain
# Python doubles, three steps on f(p) = 0.5 * sum(a * (p - c)^2), gradient a * (p - c).
# Run: python3 tests/nn/reference_optimizers.py
import math

P0 = [1.0, -2.0, 0.5]
A = [1.0, 3.0, 0.5]
C = [0.2, 0.1, -0.3]


def grad(p):
    return [a * (x - c) for x, a, c in zip(p, A, C)]


def sgd(lr, momentum=0.0, nesterov=False, weight_decay=0.0, steps=3):
    p, buf = list(P0), None
    for _ in range(steps):
        g = [gi + weight_decay * pi for gi, pi in zip(grad(p), p)]
        if momentum:
            buf = list(g) if buf is None else [momentum * b + gi for b, gi in zip(buf, g)]
            g = [gi + momentum * b for gi, b in zip(g, buf)] if nesterov else list(buf)
        p = [pi - lr * gi for pi, gi in zip(p, g)]
    return p


def adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, steps=3):
    p = list(P0)
    m = [0.0] * 3
    v = [0.0] * 3
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = grad(p)
        if decoupled:
            p = [pi * (1 - lr * weight_decay) for pi in p]
        elif weight_decay:
            g = [gi + weight_decay * pi for gi, pi in zip(g, p)]
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        step_size = lr / (1 - b1 ** t)
        bc2_sqrt = math.sqrt(1 - b2 ** t)
        p = [pi - step_size * mi / (math.sqrt(vi) / bc2_sqrt + eps) for pi, mi, vi in zip(p, m, v)]
    return p


cases = {
    "sgd_momentum": sgd(0.1, momentum=0.9, weight_decay=0.01),
    "sgd_nesterov": sgd(0.1, momentum=0.9, nesterov=True),
    "adam": adam(0.1),
    "adam_l2": adam(0.1, weight_decay=0.1),
    "adamw": adam(0.1, weight_decay=0.1, decoupled=True),
}
for name, p in cases.items():
    print(f"{name}: {{{', '.join(repr(x) for x in p)}}}")
