#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""JAX (jit, XLA CPU) peer of bench/flow_bench.cpp: the same flow-matching training step.

One process = one configuration; prints ONE JSON line like flow_bench and flow_torch.py
(steps/s median over timed blocks, peak resident set size), so bench/compare.sh pairs them.

The whole step is one jitted function, donated buffers in and out, the random key carried in
the state (split inside the step, so no per-step host work picks a key): sampling (x0 ~ N(0, I),
x1 ~ 8 gaussians of radius 2 and std 0.1, t ~ U[0, 1), one Rademacher probe), the rectified
path, the MLP concat(x, t) -> W SiLU -> W SiLU -> W SiLU -> 2 (PyTorch's default uniform
initialisation), the loss, its gradient and Adam (lr 1e-3, written out: optax is not needed
for eight lines). Losses as in flow_torch.py: cfm; entropic (lambda 0.3, logsumexp); fdm with
z^T J z from jax.jvp (forward mode, XLA fuses the tangent pass into the forward), reverse mode
through it. Timing blocks end with block_until_ready, so asynchronous dispatch is counted.

Threads: XLA's CPU client sizes its pool from the CPU affinity mask; bench/compare.sh runs
every process under `taskset` with T cores (and bench/py/compare_table.py credits every
implementation at T = 2 with its one-thread run where that was faster).
"""
import os

import peer_common


def cell(a):
    import jax
    import jax.numpy as jnp

    B, W, lam = a.batch, a.width, 0.3
    sizes = [(3, W), (W, W), (W, W), (W, 2)]

    def init(key):
        params = []
        for fan_in, fan_out in sizes:
            key, kw, kb = jax.random.split(key, 3)
            bound = 1.0 / fan_in ** 0.5
            params.append((jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound),
                           jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)))
        return params

    def mlp(params, h):
        for w, b in params[:-1]:
            h = jax.nn.silu(h @ w + b)
        w, b = params[-1]
        return h @ w + b

    angles = jnp.arange(8, dtype=jnp.float32) * (2 * jnp.pi / 8)
    centres = 2.0 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)

    def loss_fn(params, key):
        k0, k1, kc, kt, kz = jax.random.split(key, 5)
        x0 = jax.random.normal(k0, (B, 2))
        x1 = centres[jax.random.randint(kc, (B,), 0, 8)] + 0.1 * jax.random.normal(k1, (B, 2))
        t = jax.random.uniform(kt, (B, 1))
        xt = (1 - t) * x0 + t * x1
        u = x1 - x0
        if a.loss == "fdm":
            z = jax.random.rademacher(kz, (B, 2), dtype=jnp.float32)
            sigma = 1 - t
            rate = -1 / sigma
            score = -x0 / sigma
            v, jz = jax.jvp(lambda y: mlp(params, jnp.concatenate([y, t], 1)), (xt,), (z,))
            zs = jnp.sum(z * score, 1, keepdims=True)
            rho = sigma * (jnp.sum(z * jz, 1, keepdims=True)
                           + zs * jnp.sum(z * (jax.lax.stop_gradient(v) - u), 1, keepdims=True)
                           - rate * jnp.sum(z * z, 1, keepdims=True))
            return jnp.mean(jnp.sum((v - u) ** 2, 1)) + 0.1 * jnp.mean(rho ** 2)
        v = mlp(params, jnp.concatenate([xt, t], 1))
        l = jnp.sum((v - u) ** 2, 1)
        if a.loss == "cfm":
            return jnp.mean(l)
        return (jax.scipy.special.logsumexp(lam * l) - jnp.log(B)) / lam

    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8

    def step(state):
        params, m, v, k, key = state
        key, sub = jax.random.split(key)
        loss, g = jax.value_and_grad(loss_fn)(params, sub)
        k = k + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        c1, c2 = 1 - b1 ** k, 1 - b2 ** k
        params = jax.tree_util.tree_map(
            lambda p, m_, v_: p - lr * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps), params, m, v)
        return (params, m, v, k, key), loss

    step = jax.jit(step, donate_argnums=0)
    params = init(jax.random.PRNGKey(0))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.float32(0),
             jax.random.PRNGKey(1))

    def run(n):
        nonlocal state
        loss = None
        for _ in range(n):
            state, loss = step(state)
        loss.block_until_ready()
        return loss

    steps, rates, loss = peer_common.measure(run, a)
    peer_common.emit("jax-jit", a, steps, rates, loss, jax=jax.__version__)

def main():
    ap = peer_common.parser(__doc__.splitlines()[0])
    # XLA reads its flags when jax is first imported: the thread count is the process's.
    # (XLA sizes its thread pool from the CPU affinity mask, which compare.sh sets by taskset;
    # there is no XLA flag for the intra-op thread count.)
    threads = ap.parse_known_args()[0].threads
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax  # (imported before serving, so no cell pays for it)
    # The RngBitGenerator-based keys: on this step's sizes 0-3% faster than the default
    # threefry on the Zen 5 (2026-12-07), never slower. Its streams differ from threefry's,
    # which a benchmark does not mind.
    jax.config.update("jax_default_prng_impl", "rbg")
    peer_common.main(ap, cell, between_cells=jax.clear_caches)


if __name__ == "__main__":
    main()
