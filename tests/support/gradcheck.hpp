// SPDX-License-Identifier: MIT
// Gradient checking for the autodiff tests, in double precision:
//  - forward mode:  J v from jvp() against central finite differences (f(x+hv) - f(x-hv)) / 2h;
//  - reverse mode:  J^T u from vjp() against the finite-difference gradient of <u, f(x)>,
//                   coordinate by coordinate;
//  - consistency:   the dot-product test <u, J v> == <J^T u, v>;
//  - f32:           the value, JVP and VJP in f32 against f64 on the same rounded inputs.
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
  // The same rules in f32 against f64 on the same (f32-rounded) inputs, to f32_tol: an
  // f32-only defect (a rule that rounds differently from its forward) fails there. Skipped,
  // saying so, where f itself makes f64 constants or works in a dtype of its own.
  bool check_f32 = true;
  double f32_tol = 2e-3;
};

// The f32 pass of check_gradients: f, its JVP and its VJP on xs rounded to f32, against the
// same in f64 on those rounded values (widened exactly), relative to the f64 results.
inline void check_f32_rules(const Function& f, const std::vector<Tensor>& xs,
                            const std::vector<Tensor>& vs, const Tensor& u,
                            const GradcheckOptions& opt) {
  std::vector<Tensor> x32, x64, v32, v64;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    x32.push_back(to_dtype(xs[i], DType::f32));
    x64.push_back(to_dtype(x32.back(), DType::f64));
    v32.push_back(to_dtype(vs[i], DType::f32));
    v64.push_back(to_dtype(v32.back(), DType::f64));
  }
  const Tensor u32 = to_dtype(u, DType::f32), u64 = to_dtype(u32, DType::f64);
  Tensor y32;
  try {
    y32 = f(x32);
  } catch (const std::invalid_argument& e) {
    BOOST_TEST_MESSAGE("f32 pass skipped: the function does not run on f32 inputs (" << e.what()
                                                                                     << ")");
    return;
  }
  if (y32.dtype() != DType::f32) {  // f works in a dtype of its own (a module's parameters')
    BOOST_TEST_MESSAGE("f32 pass skipped: the function gives " << dtype_name(y32.dtype())
                                                               << " for f32 inputs");
    return;
  }
  const auto close = [&](const Tensor& a, const Tensor& b, const char* what) {
    const auto va = a.to_vector(), vb = b.to_vector();
    bool finite = true;
    for (double v : vb) finite = finite && std::isfinite(v);
    if (!finite) return;  // (f64 itself overflows or divides by zero here: nothing to compare)
    BOOST_TEST(rel_error(va, vb) < opt.f32_tol, what << " in f32 against f64");
  };
  close(y32, f(x64), "the value");
  const auto [y_rev32, jtu32] = vjp(f, x32, u32);
  const auto [y_rev64, jtu64] = vjp(f, x64, u64);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    BOOST_TEST(jtu32[i].dtype() == DType::f32);
    close(jtu32[i], jtu64[i], "the VJP");
  }
  if (opt.check_jvp) {
    const auto [y_fwd32, jv32] = jvp(f, x32, v32);
    const auto [y_fwd64, jv64] = jvp(f, x64, v64);
    BOOST_TEST(jv32.dtype() == DType::f32);
    close(jv32, jv64, "the JVP");
  }
}

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
    if (opt.check_f32 && xs.front().dtype() == DType::f64) check_f32_rules(f, xs, vs, u, opt);
  }
}

}  // namespace flowtape::test
