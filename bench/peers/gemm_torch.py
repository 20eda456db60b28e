# SPDX-License-Identifier: MIT
"""The BLAS inside the PyTorch wheel (MKL in the x86 wheels), one thread, on the GEMMs
bench/gemm_bench.cpp times: a W x W layer's forward (addmm with the bias row), input
gradient and weight gradient at batch B, and the thin first- and last-layer GEMMs. Prints
the same markdown rows as gemm_bench (name, m, n, k, GFLOP/s) so that bench/gemm_peers.sh can
join the two. Timing as gemm_bench's: the median of 7 blocks of at least 0.06 s each.
    python bench/peers/gemm_torch.py
"""
import torch

import peer_common


def time_gemm(ta, tb, m, n, k, bias):
    g = torch.Generator().manual_seed(1)
    # op(A) is m x k, stored k x m when ta; op(B) k x n, stored n x k when tb (as gemm_bench).
    a = torch.rand((k, m) if ta else (m, k), generator=g) * 2 - 1
    b = torch.rand((n, k) if tb else (k, n), generator=g) * 2 - 1
    c = torch.empty(m, n)
    row = torch.rand(n, generator=g) * 2 - 1
    op_a, op_b = (a.t() if ta else a), (b.t() if tb else b)
    if bias:
        f = lambda: torch.addmm(row, op_a, op_b, out=c)
    else:
        f = lambda: torch.mm(op_a, op_b, out=c)
    return 2.0 * m * n * k / peer_common.median_seconds_per_call(f, 0.06, 7) * 1e-9


def main():
    torch.set_num_threads(1)
    blas = "mkl" if torch.backends.mkl.is_available() else "unknown"
    print(f"torch {torch.__version__}, BLAS {blas}, ATen CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, one thread")
    print("| dtype | GEMM | m | n | k | torch GFLOP/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    rows = []
    for w in (64, 256):
        for batch in (256, 1024, 4096):
            at = f" W={w} B={batch}"
            rows += [("x w^T + b" + at, False, True, batch, w, w, True),
                     ("g w" + at, False, False, batch, w, w, False),
                     ("g^T x" + at, True, False, w, w, batch, False)]
    for w in (64, 256):
        for batch in (256, 4096):
            at = f" W={w} B={batch}"
            rows += [("in: x w^T + b" + at, False, True, batch, w, 3, True),
                     ("in: g^T x" + at, True, False, w, 3, batch, False),
                     ("out: h w^T + b" + at, False, True, batch, 2, w, True),
                     ("out: g w" + at, False, False, batch, w, 2, False),
                     ("out: g^T h" + at, True, False, 2, w, batch, False)]
    for name, ta, tb, m, n, k, bias in rows:
        print(f"| f32 | {name:<27} | {m:5d} | {n:5d} | {k:5d} | {time_gemm(ta, tb, m, n, k, bias):7.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
