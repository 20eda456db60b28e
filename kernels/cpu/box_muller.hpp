// SPDX-License-Identifier: MIT
// Box-Muller on SIMD lanes: pairs of uniforms in [0, 1) to pairs of standard normals, in double
// precision. The Generator's samplers call this instead of libm's scalar log/cos/sin, which
// made drawing a batch a tenth of a small training step (libm was about 4x slower a pair).
// Results differ from libm's by at most an ulp or two in double; in the f32 samples training
// uses that almost never shows (tests/autodiff/test_random.cpp checks 2^17 f32 samples equal
// libm's, bit for bit).
#pragma once

#include <cstdint>
#include <numbers>

#include "flowtape/kernels/cpu/simd.hpp"

namespace flowtape::kernels::cpu {

// z0[i] = r cos(a), z1[i] = r sin(a), r = sqrt(-2 log(1 - u1[i])), a = 2 pi u2[i], for i < n.
// 1 - u1 is in (0, 1], so r is finite. z1 may be null when only the cosine half is wanted.
// Tails go through the same vector code, so a pair's result does not depend on its position.
inline void box_muller(const double* u1, const double* u2, double* z0, double* z1, std::int64_t n) {
  using B = Batch<double>;
  constexpr std::int64_t W = kWidth<double>;
  const B one(1.0), minus_two(-2.0), two_pi(2.0 * std::numbers::pi);
  for (std::int64_t i = 0; i < n; i += W) {
    const std::int64_t m = n - i < W ? n - i : W;
    // The tail's padding lanes use u = 0: log(1) and cos(0), both harmless.
    const B a = m == W ? B::load_unaligned(u1 + i) : load_partial(u1 + i, m);
    const B b = m == W ? B::load_unaligned(u2 + i) : load_partial(u2 + i, m);
    const B r = xsimd::sqrt(minus_two * xsimd::log(one - a));
    if (z1 == nullptr) {
      const B c = r * xsimd::cos(two_pi * b);
      if (m == W)
        c.store_unaligned(z0 + i);
      else
        store_partial(c, z0 + i, m);
      continue;
    }
    const auto [s, c] = xsimd::sincos(two_pi * b);
    if (m == W) {
      (r * c).store_unaligned(z0 + i);
      (r * s).store_unaligned(z1 + i);
    } else {
      store_partial(B(r * c), z0 + i, m);
      store_partial(B(r * s), z1 + i, m);
    }
  }
}

}  // namespace flowtape::kernels::cpu
