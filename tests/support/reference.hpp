// SPDX-License-Identifier: MIT
// Helpers for kernel tests: seeded random buffers and a max-relative-error comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace flowtape::test {

// Odd sizes that are not multiples of any SIMD width, plus the trivial ones.
inline const std::vector<std::int64_t> kOddSizes = {1, 7, 33, 257};

template <class T>
std::vector<T> random_vector(std::size_t n, unsigned seed, double lo = -2.0, double hi = 2.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// max_i |a_i - b_i| / max(1, |b_i|)
template <class T>
double max_rel_error(const std::vector<T>& a, const std::vector<T>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    e = std::max(e, d / std::max(1.0, std::abs(static_cast<double>(b[i]))));
  }
  return e;
}

template <class T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-12;
}

}  // namespace flowtape::test
