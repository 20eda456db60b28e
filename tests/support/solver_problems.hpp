// SPDX-License-Identifier: MIT
// ODE test problems with known solutions, shared by the solver suites (f64 unless asked).
#pragma once

#include <cmath>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/solvers/solvers.hpp"
#include "support/gradcheck.hpp"

namespace flowtape::test {

// y' = -y, y(0) = 1: y(t) = exp(-t).
inline Tensor decay_field(double, const Tensor& y) {
  return -y;
}

// The rotation y' = (-y2, y1) on rows of a [n, 2] state: y(t) = y0 rotated by angle t.
inline Tensor rotation_field(double, const Tensor& y) {
  static const Tensor m = [] {
    const double v[] = {0.0, 1.0, -1.0, 0.0};
    return from_vector(std::span<const double>(v, 4), Shape({2, 2}), DType::f64);
  }();
  return matmul(y, m.dtype() == y.dtype() ? m : to_dtype(m, y.dtype()));
}

inline std::vector<double> rotated(const Tensor& y0, double t) {
  const auto v = y0.to_vector();
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    out[i] = std::cos(t) * v[i] - std::sin(t) * v[i + 1];
    out[i + 1] = std::sin(t) * v[i] + std::cos(t) * v[i + 1];
  }
  return out;
}

// y' = cos(t) y, y(0) = 1: y(t) = exp(sin t) (time-dependent, not monotone).
inline Tensor cos_field(double t, const Tensor& y) {
  return y * std::cos(t);
}

inline Tensor vec(std::initializer_list<double> v, DType dt = DType::f64) {
  std::vector<double> x(v);
  return from_vector(std::span<const double>(x), Shape({static_cast<std::int64_t>(x.size())}), dt);
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i]));
  return e;
}

}  // namespace flowtape::test
