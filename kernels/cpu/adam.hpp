// SPDX-License-Identifier: MIT
// The fused Adam / AdamW update on raw buffers: one pass over parameter, gradient and the two
// moment buffers, in SIMD batches (GCC does not vectorise the scalar loop, since std::sqrt
// may set errno), split over the thread pool for large tensors. The tail runs the same
// formula in scalar code.
#pragma once

#include <cmath>
#include <cstdint>

#include "flowtape/kernels/cpu/elementwise.hpp"
#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

template <class T>
struct AdamCoefficients {
  T b1, b2;     // beta1, beta2
  T c1, c2;     // 1 - beta1, 1 - beta2 (rounded from double by the caller)
  T l2;         // L2 weight decay added to the gradient (Adam), 0 for AdamW
  T shrink;     // decoupled decay factor 1 - lr wd (AdamW), 1 for Adam
  T step_size;  // lr / (1 - beta1^t)
  T root_bc2;   // sqrt(1 - beta2^t)
  T eps;
};

// m = b1 m + c1 g';  v = b2 v + c2 g'^2;  p = p shrink - step m / (sqrt(v) / root_bc2 + eps),
// with g' = g + l2 p. The coefficients are taken by value: read through a reference, each
// would be reloaded after every store (xsimd stores may alias anything).
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamCoefficients<T> k) {
  using B = Batch<T>;
  constexpr std::int64_t W = kWidth<T>;
  // Chunks start at multiples of 64 elements, so the same elements take the scalar tail
  // whatever the thread count, and the results do not depend on it.
  static_assert(64 % W == 0, "for_chunks' chunk starts must be whole batches");
  for_chunks(n, [p, g, m, v, k](std::int64_t lo, std::int64_t hi) {
    std::int64_t j = lo;
    for (; j + W <= hi; j += W) {
      const B pj = B::load_unaligned(p + j);
      const B gj = B::load_unaligned(g + j) + B(k.l2) * pj;
      const B mj = B(k.b1) * B::load_unaligned(m + j) + B(k.c1) * gj;
      const B vj = B(k.b2) * B::load_unaligned(v + j) + B(k.c2) * gj * gj;
      mj.store_unaligned(m + j);
      vj.store_unaligned(v + j);
      const B denom = xsimd::sqrt(vj) / B(k.root_bc2) + B(k.eps);
      (pj * B(k.shrink) - B(k.step_size) * mj / denom).store_unaligned(p + j);
    }
    for (; j < hi; ++j) {
      const T gj = g[j] + k.l2 * p[j];
      m[j] = k.b1 * m[j] + k.c1 * gj;
      v[j] = k.b2 * v[j] + k.c2 * gj * gj;
      p[j] = p[j] * k.shrink - k.step_size * m[j] / (std::sqrt(v[j]) / k.root_bc2 + k.eps);
    }
  });
}

}  // namespace flowtape::kernels::cpu
