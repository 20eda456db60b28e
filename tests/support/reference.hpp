// SPDX-License-Identifier: MIT
// Helpers for kernel tests: seeded random buffers and a max-relative-error comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
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

// max_i |a_i - b_i| / max(1, |b_i|), and infinity where the two differ in size or where one
// element is NaN and the other is not: a NaN that a kernel left (or read from an unwritten C)
// must fail a tolerance check, and std::max would silently skip it. Two NaNs count as equal
// (a reference that gives NaN is matched by a kernel that gives NaN).
template <class T>
double max_rel_error(const std::vector<T>& a, const std::vector<T>& b) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (a.size() != b.size()) return kInf;
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return kInf;
      continue;
    }
    if (x == y) continue;  // equal infinities too, whose difference is NaN
    const double d = std::abs(x - y) / std::max(1.0, std::abs(y));
    if (!(d <= e)) e = d;  // an infinite difference is kept
  }
  return e;
}

template <class T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-12;
}

}  // namespace flowtape::test
