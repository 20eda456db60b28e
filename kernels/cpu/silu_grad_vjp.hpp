// The VJP of silu_grad (y = t silu'(x)) in one pass: given the cotangent g of y, it writes
// dx = (g t) silu''(x) and dt = g silu'(x), from silu's denominator d = 1 + e^-x. A backward
// pass through a JVP of a SiLU network (the FDM loss) takes it at every layer; composed, it
// was three passes over [batch, width] (g t, then each derivative), which read x and d twice.
// The bits are those of the three passes: the product g t is rounded as mul rounds it, and
// each output comes from the same functor, lane by lane.
#pragma once

#include <cstdint>

#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/math.hpp"
#include "kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

namespace detail {
template <class T>
void silu_grad_vjp_row(const T* x, const T* d, const T* g, const T* t, T* dx, T* dt,
                       std::int64_t n) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  const fn::SiluGradFromDenominator first;
  const fn::SiluGrad2FromDenominator second;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const B xv = B::load_unaligned(x + i), dv = B::load_unaligned(d + i),
            gv = B::load_unaligned(g + i);
    second(xv, gv * B::load_unaligned(t + i), dv).store_unaligned(dx + i);
    first(xv, gv, dv).store_unaligned(dt + i);
  }
  if (i < n) {
    const std::int64_t m = n - i;
    const B xv = load_partial(x + i, m), dv = load_partial(d + i, m, T(1)),
            gv = load_partial(g + i, m);
    store_partial(second(xv, gv * load_partial(t + i, m), dv), dx + i, m);
    store_partial(first(xv, gv, dv), dt + i, m);
  }
}
}  // namespace detail

// dx[i] = (g[i] t[i]) silu''(x[i]) and dt[i] = g[i] silu'(x[i]) for i < n, with d = 1 + e^-x.
// Flat, contiguous buffers; chunks on the pool as the elementwise maps (for_chunks).
template <class T>
void silu_grad_vjp(const T* x, const T* d, const T* g, const T* t, T* dx, T* dt, std::int64_t n) {
  for_chunks(n, [x, d, g, t, dx, dt](std::int64_t lo, std::int64_t hi) {
    detail::silu_grad_vjp_row(x + lo, d + lo, g + lo, t + lo, dx + lo, dt + lo, hi - lo);
  });
}

}  // namespace flowtape::kernels::cpu
