// SPDX-License-Identifier: MIT
// SiLU's fused passes over flat buffers, each giving the bits of the separate maps it replaces
// (every value comes from the same functor, lane by lane, rounded where those maps round it):
// - silu_with_tangent: silu, its denominator and its tangent in one forward pass;
// - silu_with_tangent_vjp: the backward pass of silu and its tangent as one tape node.
// Reverse mode through a JVP of a SiLU network (the FDM loss) runs both at every
// layer, one in the forward pass and one in the backward pass. Names: x the input, tx its
// tangent, y = silu(x), ty = silu'(x) tx its tangent, g* the cotangent of *. All take silu's
// denominator d = 1 + e^-x (from the forward) instead of recomputing the exp.
#pragma once

#include <cstdint>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/math.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

namespace detail {
// Runs body(load, store) for each batch of [0, n): load(p) (or load(p, fill)) gives the batch
// of p at the current position and store(b, p) writes b there. The ragged tail goes through
// the same body with partial loads (padded with fill) and stores, so an element's result does
// not depend on its position.
template <class T, class Body>
inline void for_each_batch(std::int64_t n, Body body) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  std::int64_t i = 0;
  for (; i + W <= n; i += W)
    body([i](const T* p, T = T(0)) { return B::load_unaligned(p + i); },
         [i](const B& b, T* p) { b.store_unaligned(p + i); });
  if (i < n) {
    const std::int64_t m = n - i;
    body([i, m](const T* p, T fill = T(0)) { return load_partial(p + i, m, fill); },
         [i, m](const B& b, T* p) { store_partial(b, p + i, m); });
  }
}

template <class T>
void silu_with_tangent_row(const T* x, const T* tx, T* y, T* d, T* ty, std::int64_t n) {
  const fn::SiluAndDenominator value;
  const fn::SiluGradFromDenominator first;
  for_each_batch<T>(n, [&](auto load, auto store) {
    const Batch<T> xv = load(x);
    const auto [yv, dv] = value(xv);
    store(yv, y);
    store(dv, d);
    store(first(xv, load(tx), dv), ty);
  });
}

// The denominators are loaded with fill 1, so padding lanes divide by 1, not 0.
template <class T>
void silu_with_tangent_vjp_row(const T* x, const T* d, const T* tx, const T* gy, const T* gty,
                               T* gx, T* gtx, std::int64_t n) {
  const fn::SiluGradFromDenominator first;
  const fn::SiluGrad2FromDenominator second;
  for_each_batch<T>(n, [&](auto load, auto store) {
    const Batch<T> xv = load(x), dv = load(d, T(1)), gtyv = load(gty);
    const Batch<T> through_tangent = second(xv, gtyv * load(tx), dv);
    store(rounded(through_tangent) + rounded(first(xv, load(gy), dv)), gx);
    store(first(xv, gtyv, dv), gtx);
  });
}
}  // namespace detail

// y = silu(x), its denominator d and its tangent ty = silu'(x) tx in one pass over x and tx.
// Separately, silu with its denominator then silu_grad read x twice and d once more.
template <class T>
void silu_with_tangent(const T* x, const T* tx, T* y, T* d, T* ty, std::int64_t n) {
  for_chunks(n, [x, tx, y, d, ty](std::int64_t lo, std::int64_t hi) {
    detail::silu_with_tangent_row(x + lo, tx + lo, y + lo, d + lo, ty + lo, hi - lo);
  });
}

// The backward pass of silu and its tangent recorded as one node (reverse mode through a JVP):
// with the cotangents gy of y and gty of ty,
//   gx = (gty tx) silu''(x) + gy silu'(x),   gtx = gty silu'(x).
// As separate nodes this was silu_grad's VJP (two maps), silu's VJP (gy silu'(x), which reads x and
// d again) and the tape's sum of the two cotangents of x: three passes, and two more buffers
// written and read. The terms are rounded before the sum, as the tape's sum had them.
template <class T>
void silu_with_tangent_vjp(const T* x, const T* d, const T* tx, const T* gy, const T* gty, T* gx,
                           T* gtx, std::int64_t n) {
  for_chunks(n, [x, d, tx, gy, gty, gx, gtx](std::int64_t lo, std::int64_t hi) {
    detail::silu_with_tangent_vjp_row(x + lo, d + lo, tx + lo, gy + lo, gty + lo, gx + lo, gtx + lo,
                                      hi - lo);
  });
}

}  // namespace flowtape::kernels::cpu
