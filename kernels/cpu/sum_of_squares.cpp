// SPDX-License-Identifier: MIT
// The sum of squares of a buffer in f64 (reduce.hpp). Its own file so that it can be compiled
// with -ffp-contract=off: a fused v * v + s in one build and a rounded one in another would
// give f64 inputs different bits on different machines.
#include <cstdint>

#include "flowtape/kernels/cpu/reduce.hpp"

namespace flowtape::kernels::cpu {

// Sixteen independent running sums: with one, each add waits on the last, and the trainer's
// per-step gradient check (every gradient element) becomes a visible part of a step. The
// compiler turns the lanes into vectors of any width without reordering a sum.
template <class T>
double sum_of_squares(const T* x, std::int64_t n) {
  constexpr int kSums = 16;
  double s[kSums] = {};
  std::int64_t i = 0;
  for (; i + kSums <= n; i += kSums)
    for (int l = 0; l < kSums; ++l) {
      const double v = static_cast<double>(x[i + l]);
      s[l] += v * v;
    }
  for (int l = 0; i + l < n; ++l) {
    const double v = static_cast<double>(x[i + l]);
    s[l] += v * v;
  }
  for (int width = kSums / 2; width >= 1; width /= 2)  // pairwise: s[l] += s[l + width]
    for (int l = 0; l < width; ++l) s[l] += s[l + width];
  return s[0];
}

template double sum_of_squares<float>(const float*, std::int64_t);
template double sum_of_squares<double>(const double*, std::int64_t);

}  // namespace flowtape::kernels::cpu
