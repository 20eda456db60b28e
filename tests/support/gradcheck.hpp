// SPDX-License-Identifier: MIT
// Gradient checking for the autodiff tests, in double precision:
//  - forward mode:  J v from jvp() against central finite differences (f(x+hv) - f(x-hv)) / 2h;
//  - reverse mode:  J^T u from vjp() against the finite-difference gradient of <u, f(x)>,
//                   coordinate by coordinate;
//  - consistency:   the dot-product test <u, J v> == <J^T u, v>.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "flowtape/autodiff/autodiff.hpp"
#include "flowtape/autodiff/op.hpp"

namespace flowtape::test {

inline double dot(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double s = 0;
  for (std::size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

inline double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// ||a - b|| / max(||b||, 1e-8)
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return norm(d) / std::max(norm(b), 1e-8);
}

// x + s * v, as a fresh constant tensor.
inline Tensor shifted(const Tensor& x, const Tensor& v, double s) {
  NoGrad no_grad;
  return copy(stop_gradient(x) + stop_gradient(v) * s);
}

struct GradcheckOptions {
  double h = 1e-6;
  double fd_tol = 1e-6;    // relative error against finite differences
  double dot_tol = 1e-10;  // relative error of the dot-product test
  bool check_jvp = true;   // the JVP check (a jvp around f, nested if f runs its own)
  std::uint64_t seed = 1234;
};

// The primitives whose rules check_gradients has checked in this process (both rules, where
// check_jvp is on): tests/autodiff/test_op_gradients.cpp ends by asking that every primitive
// of the op list be among them.
inline std::set<std::string>& checked_primitives() {
  static std::set<std::string> names;
  return names;
}
// The primitives f records when its inputs are watched.
inline std::vector<std::string> primitives_of(const Function& f, const std::vector<Tensor>& xs) {
  Tape tape;
  tape.watch(xs);
  f(xs);
  std::vector<std::string> names;
  for (const OpDef* op : tape.ops()) names.emplace_back(op->name);
  return names;
}

inline void check_gradients(const std::string& name, const Function& f, const std::vector<Tensor>& xs,
                            const GradcheckOptions& opt = {}) {
  BOOST_TEST_CONTEXT("op " << name) {
    Generator gen(opt.seed);
    const Tensor y = f(xs);
    if (opt.check_jvp)
      for (const std::string& op : primitives_of(f, xs)) checked_primitives().insert(op);
    const Tensor u = randn(y.shape(), gen, DType::f64);
    std::vector<Tensor> vs;
    for (const Tensor& x : xs) vs.push_back(randn(x.shape(), gen, DType::f64));

    // Reverse mode against the coordinate-wise finite-difference gradient of <u, f>.
    const auto [y_rev, jtu] = vjp(f, xs, u);
    BOOST_TEST(rel_error(y_rev.to_vector(), y.to_vector()) < 1e-14);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      std::vector<double> fd(static_cast<std::size_t>(xs[i].numel()));
      for (std::int64_t j = 0; j < xs[i].numel(); ++j) {
        Tensor e = zeros_like(xs[i]);
        e.mutable_data<double>()[j] = 1.0;
        std::vector<Tensor> plus = xs, minus = xs;
        plus[i] = shifted(xs[i], e, opt.h);
        minus[i] = shifted(xs[i], e, -opt.h);
        fd[static_cast<std::size_t>(j)] = (dot(u, f(plus)) - dot(u, f(minus))) / (2 * opt.h);
      }
      BOOST_TEST(rel_error(jtu[i].to_vector(), fd) < opt.fd_tol, "VJP of input " << i);
    }

    // Directional finite difference along all inputs at once.
    std::vector<Tensor> plus, minus;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      plus.push_back(shifted(xs[i], vs[i], opt.h));
      minus.push_back(shifted(xs[i], vs[i], -opt.h));
    }
    const Tensor fd_jv = (f(plus) - f(minus)) * (1.0 / (2 * opt.h));
    double jtu_v = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) jtu_v += dot(jtu[i], vs[i]);

    if (opt.check_jvp) {
      const auto [y_fwd, jv] = jvp(f, xs, vs);
      BOOST_TEST(rel_error(y_fwd.to_vector(), y.to_vector()) < 1e-14);
      BOOST_TEST(rel_error(jv.to_vector(), fd_jv.to_vector()) < opt.fd_tol, "JVP");
      const double u_jv = dot(u, jv);
      BOOST_TEST(std::abs(u_jv - jtu_v) <= opt.dot_tol * std::max({std::abs(u_jv), std::abs(jtu_v), 1.0}),
                 "dot-product test: <u, Jv> = " << u_jv << ", <J^T u, v> = " << jtu_v);
    }
  }
}

}  // namespace flowtape::test
